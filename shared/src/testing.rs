//! Fixtures for the in-memory unit tests: an `App` on the memory adapters, users, and API Gateway events.

use serde_json::{json, Map, Value};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

use crate::adapters::memory::{MemoryMessenger, MemoryStore};
use crate::domain::sending::SmsLimits;
use crate::domain::{MfaStatus, MfaType, Role, User, UserId, UserStatus, UserType};
use crate::doors::authz::authenticated_context;
use crate::engine::config::{Config, JwtConfig};
use crate::engine::App;

pub struct MemoryApp {
    pub app: App,
    pub store: Arc<MemoryStore>,
    pub messenger: Arc<MemoryMessenger>,
}

pub fn config() -> Config {
    Config {
        table_name: "memory".into(),
        jwt: JwtConfig {
            issuer: "user-token-service".into(),
            audience: "user-token-api".into(),
            hs256_secret: None,
            rs256_public_key_pem: None,
        },
        token_hash_secret: Some("an in-memory test hashing key, long enough".into()),
        ses_sender: "no-reply@example.com".parse().ok(),
        invite_link_base: "https://app.example.com/invitation?token=".into(),
        mfa_link_base: "https://app.example.com/mfa-registration?token=".into(),
        password_reset_link_base: "https://app.example.com/password-reset?token=".into(),
        public_base_url: None,
        otp_ttl: Duration::minutes(5),
        invite_ttl: Duration::days(7),
        password_reset_ttl: time::Duration::hours(1),
        max_attempts: 5,
        resend_cooldown: Duration::seconds(60),
        send_quota: 5,
        send_quota_window: Duration::minutes(10),
        sms: SmsLimits::default(),
        signing_key_id: None,
        previous_signing_key_id: None,
        long_poll_wait: Duration::ZERO,
    }
}

pub fn memory_app(adjust: impl FnOnce(&mut Config)) -> MemoryApp {
    let mut config = config();
    adjust(&mut config);
    let store = Arc::new(MemoryStore::new());
    let messenger = Arc::new(MemoryMessenger::new());
    MemoryApp {
        app: App::new(config, store.clone(), messenger.clone()),
        store,
        messenger,
    }
}

/// An ENABLED backoffice admin with a registered TOTP factor and its own number.
pub fn admin() -> User {
    let id = UserId::random();
    User {
        id,
        email: format!("admin-{id}@example.com").parse().expect("email"),
        sms_number: "+15555550100".parse().expect("phone"),
        primary_contact_number: "+15555550100".parse().expect("phone"),
        secondary_contact_number: None,
        first_name: Some("Ada".to_owned().try_into().expect("name")),
        last_name: Some("Admin".to_owned().try_into().expect("name")),
        entity_id: None,
        company_name: None,
        roles: vec![Role::BackofficeAdmin],
        user_type: UserType::Backoffice,
        status: UserStatus::Enabled,
        mfa_type: MfaType::Totp,
        mfa_status: MfaStatus::Registered,
        locked_out: false,
        locked_out_timestamp: None,
        created_at: OffsetDateTime::now_utc(),
        tokens_valid_after: None,
        password_hash: None,
        password_history: Vec::new(),
        failed_password_attempts: 0,
        totp: crate::domain::totp::TotpFactor::default(),
        version: 1,
    }
}

/// An HTTP API (payload 2.0) event as API Gateway hands it over, authorized for `caller` with `context` added.
pub fn event(
    method: &str,
    path: &str,
    path_parameters: Value,
    query: &[(&str, &str)],
    body: Option<Value>,
    caller: &User,
    context: Map<String, Value>,
) -> lambda_http::Request {
    let mut authorizer = authenticated_context(caller);
    authorizer.extend(context);
    event_with(method, path, path_parameters, query, &[], body, authorizer)
}

/// `event`, with extra headers and exactly the authorizer context given (empty: a route with no authorizer).
pub fn event_with(
    method: &str,
    path: &str,
    path_parameters: Value,
    query: &[(&str, &str)],
    headers: &[(&str, &str)],
    body: Option<Value>,
    authorizer: Map<String, Value>,
) -> lambda_http::Request {
    let mut header_values = json!({"content-type": "application/json", "host": "api.example.com"});
    for (name, value) in headers {
        header_values[*name] = Value::String((*value).to_owned());
    }
    let query_parameters: Map<String, Value> = query
        .iter()
        .map(|(name, value)| ((*name).to_owned(), Value::String((*value).to_owned())))
        .collect();
    // HTTP API handlers read the raw query string; these fixtures only ever carry phone numbers and addresses.
    let raw_query = query
        .iter()
        .map(|(name, value)| format!("{name}={}", value.replace('+', "%2B").replace('@', "%40")))
        .collect::<Vec<_>>()
        .join("&");
    let event = json!({
        "version": "2.0",
        "routeKey": format!("{method} {path}"),
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": header_values,
        "queryStringParameters": query_parameters,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "memory",
            "authorizer": {"lambda": authorizer},
            "domainName": "api.example.com",
            "domainPrefix": "api",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "test"},
            "requestId": "memory-request",
            "routeKey": format!("{method} {path}"),
            "stage": "$default",
            "time": "06/Dec/2026:12:00:00 +0000",
            "timeEpoch": 1796558400000u64
        },
        "pathParameters": path_parameters,
        "body": body.map(|b| b.to_string()),
        "isBase64Encoded": false
    });
    lambda_http::request::from_str(&event.to_string()).expect("an API Gateway event")
}

/// A response body as JSON.
pub fn body(response: &lambda_http::Response<lambda_http::Body>) -> Value {
    serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null)
}

/// Velo's error body as a request of these fixtures (`memory-request`) gets it.
pub fn velo_error(status: u16, code: &str, message: &str, location: Option<&str>) -> Value {
    let mut entry = json!({
        "errorCode": code,
        "errorMessage": message,
        "localisationDetails": {"template": message, "parameters": {}},
    });
    if let Some(location) = location {
        entry["location"] = json!(location);
        entry["locationType"] = json!("requestBody");
    }
    json!({"correlationId": "memory-request", "httpStatusCode": status, "errors": [entry]})
}

/// The log lines written on this thread while it lives, in the functions' JSON format (see `lambda::telemetry`).
/// `#[tokio::test]` runs a test on one thread, so every handler's lines land here.
///
/// One global subscriber (installed by the first capture) writes every thread's lines to that thread's capture, if
/// it has one. A subscriber set per thread instead would race with other tests' threads: a log call site first
/// reached elsewhere while the capture's subscriber was being set can stay marked "nobody listens", and the
/// capture then misses its lines.
pub struct CapturedLogs {
    lines: Arc<std::sync::Mutex<Vec<u8>>>,
}

thread_local! {
    static CAPTURE: std::cell::RefCell<Option<Arc<std::sync::Mutex<Vec<u8>>>>> =
        const { std::cell::RefCell::new(None) };
}

impl CapturedLogs {
    pub fn text(&self) -> String {
        let lines = self
            .lines
            .lock()
            .map(|bytes| bytes.clone())
            .unwrap_or_default();
        String::from_utf8_lossy(&lines).into_owned()
    }
}

impl Drop for CapturedLogs {
    fn drop(&mut self) {
        CAPTURE.with(|capture| capture.borrow_mut().take());
    }
}

/// Writes to the current thread's capture; without one, the line goes nowhere.
struct ThreadCapture;

impl std::io::Write for ThreadCapture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        CAPTURE.with(|capture| {
            if let Some(lines) = capture.borrow().as_ref() {
                if let Ok(mut lines) = lines.lock() {
                    lines.extend_from_slice(bytes);
                }
            }
        });
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn capture_logs() -> CapturedLogs {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing_subscriber::filter::LevelFilter::TRACE)
            .with_current_span(true)
            .with_span_list(false)
            .with_target(false)
            .with_ansi(false)
            .with_writer(|| ThreadCapture)
            .finish();
        assert!(
            tracing::subscriber::set_global_default(subscriber).is_ok(),
            "no other global subscriber in the unit tests"
        );
    });
    // Call sites registered while the global subscriber was being installed are asked again.
    tracing::callsite::rebuild_interest_cache();
    let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
    CAPTURE.with(|capture| *capture.borrow_mut() = Some(lines.clone()));
    CapturedLogs { lines }
}

/// `request` with `raw` as its body, exactly as sent (not re-serialised).
pub fn with_raw_body(
    request: lambda_http::Request,
    raw: impl Into<String>,
) -> lambda_http::Request {
    request.map(|_| lambda_http::Body::Text(raw.into()))
}
