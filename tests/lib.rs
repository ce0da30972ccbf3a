//! Test harness: the emulator started by `make test` (`local-stack with-emulator`), fresh tables, an `App` wired to
//! them, and one local stack shared by the end-to-end tests.

use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::OnceLock;

use local_stack::emulator::{create_table, sdk_config, verify_sender};
use local_stack::stack::{local_parameters, Stack, StackOptions};
use local_stack::template::Template;
use user_token_domain::adapters::messaging::SnsSesMessenger;
use user_token_domain::domain::otp::Widget;
use user_token_domain::domain::DomainError;
use user_token_domain::lambda::config::{Config, JwtConfig};
use user_token_domain::ports::Store;
pub use user_token_domain::ports::{DeviceStore, SessionStore, TokenStore, UserStore};
use user_token_domain::App;

/// A widget stored through any store, as the tests seed them.
#[allow(async_fn_in_trait)]
pub trait StoreWidget {
    async fn create(&self, store: &std::sync::Arc<dyn Store>) -> Result<(), DomainError>;
}

impl StoreWidget for Widget {
    async fn create(&self, store: &std::sync::Arc<dyn Store>) -> Result<(), DomainError> {
        store
            .create_widget(self, time::OffsetDateTime::now_utc())
            .await
    }
}

/// SNS and SES clients of `sdk` as the app's messenger.
pub fn messenger_on(
    sdk: &aws_types::SdkConfig,
    sender: Option<user_token_domain::domain::Email>,
) -> std::sync::Arc<SnsSesMessenger> {
    std::sync::Arc::new(SnsSesMessenger::new(
        aws_sdk_sns::Client::new(sdk),
        aws_sdk_sesv2::Client::new(sdk),
        sender,
    ))
}

/// A DynamoDB store on `client`'s table.
pub fn dynamo_store(
    client: aws_sdk_dynamodb::Client,
    table: impl Into<String>,
) -> std::sync::Arc<user_token_domain::adapters::dynamodb::DynamoStore> {
    std::sync::Arc::new(user_token_domain::adapters::dynamodb::DynamoStore::new(
        client, table,
    ))
}

pub const SENDER: &str = "no-reply@example.com";

pub fn endpoint() -> String {
    std::env::var("LOCAL_STACK_ENDPOINT").unwrap_or_else(|_| {
        panic!("LOCAL_STACK_ENDPOINT is not set: run the suite with `make test`")
    })
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn template() -> Template {
    Template::load(&root().join("template.yaml")).expect("template.yaml parses")
}

pub fn parameters() -> BTreeMap<String, String> {
    local_parameters(&root()).expect("local/parameters.json parses")
}

/// What a test's own stack starts with: the dev binaries against the test emulator, a fresh seeded `table`, any free
/// port, the functions' logs in `log_dir`, and no event pipelines.
pub fn stack_options(table: &str, log_dir: PathBuf) -> StackOptions {
    StackOptions {
        root: root(),
        bin_dir: local_stack::bin_dir(),
        endpoint: endpoint(),
        table_name: table.to_owned(),
        parameters: parameters(),
        listen: "127.0.0.1:0".parse().expect("address"),
        log_dir: Some(log_dir),
        seed: true,
        pipelines: false,
        endpoints: BTreeMap::new(),
    }
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// A unique address, so parallel tests never read each other's mail.
pub fn unique_email() -> String {
    format!("{}@example.com", unique("user"))
}

/// A new table, defined exactly as template.yaml defines it.
pub async fn fresh_table() -> String {
    let sdk = sdk_config(&endpoint()).await;
    let name = unique("t");
    create_table(&aws_sdk_dynamodb::Client::new(&sdk), &template(), &name)
        .await
        .expect("table created");
    verify_sender(&aws_sdk_sesv2::Client::new(&sdk), SENDER)
        .await
        .expect("sender verified");
    name
}

pub fn config(table: &str) -> Config {
    user_token_domain::lambda::telemetry::init_with_default(
        user_token_domain::lambda::telemetry::LevelFilter::WARN,
    );
    let parameters = parameters();
    Config {
        table_name: table.to_owned(),
        jwt: JwtConfig {
            issuer: "user-token-service".into(),
            audience: "user-token-api".into(),
            hs256_secret: parameters.get("JwtSecret").cloned(),
            rs256_public_key_pem: None,
        },
        token_hash_secret: parameters.get("TokenHashSecret").cloned(),
        ses_sender: SENDER.parse().ok(),
        invite_link_base: "https://app.example.com/invitation?token=".into(),
        mfa_link_base: "https://app.example.com/mfa-registration?token=".into(),
        password_reset_link_base: "https://app.example.com/password-reset?token=".into(),
        public_base_url: None,
        otp_ttl: time::Duration::minutes(5),
        invite_ttl: time::Duration::days(7),
        password_reset_ttl: time::Duration::hours(1),
        max_attempts: 5,
        resend_cooldown: time::Duration::seconds(60),
        send_quota: 5,
        send_quota_window: time::Duration::minutes(10),
        sms: user_token_domain::domain::sending::SmsLimits::default(),
        signing_key_id: None,
        previous_signing_key_id: None,
        long_poll_wait: time::Duration::seconds(1),
    }
}

pub async fn app(table: &str) -> App {
    App::on_aws(config(table), &sdk_config(&endpoint()).await)
}

/// An app whose configuration a test adjusts (shorter lifetimes, no cooldown, …).
pub async fn app_with(table: &str, adjust: impl FnOnce(&mut Config)) -> App {
    let mut config = config(table);
    adjust(&mut config);
    App::on_aws(config, &sdk_config(&endpoint()).await)
}

/// An app whose SNS and SES point at a closed port: every send fails.
pub async fn app_with_dead_messaging(table: &str) -> App {
    let healthy = app(table).await;
    let dead = sdk_config("http://127.0.0.1:9").await;
    App {
        messenger: messenger_on(&dead, healthy.config.ses_sender.clone()),
        ..healthy
    }
}

/// A random E.164 number, so parallel tests never read each other's SMS.
pub fn unique_phone() -> String {
    let digits: String = uuid::Uuid::new_v4()
        .as_u128()
        .to_string()
        .chars()
        .take(11)
        .collect();
    format!("+1{digits}")
}

pub async fn dynamodb() -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&sdk_config(&endpoint()).await)
}

/// Every item in a test table (a test may Scan; no request path does).
pub async fn all_items(table: &str) -> Vec<HashMap<String, AttributeValue>> {
    dynamodb()
        .await
        .scan()
        .table_name(table)
        .send()
        .await
        .expect("scan")
        .items
        .unwrap_or_default()
}

/// The items of one partition of a test table, in `sk` order.
pub async fn partition(table: &str, pk: &str) -> Vec<HashMap<String, AttributeValue>> {
    dynamodb()
        .await
        .query()
        .table_name(table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()))
        .send()
        .await
        .expect("query")
        .items
        .unwrap_or_default()
}

pub struct SharedStack {
    pub base_url: String,
    pub table: String,
    pub log_dir: PathBuf,
    pub template: Template,
    pub parameters: BTreeMap<String, String>,
}

impl SharedStack {
    pub fn token_for(&self, user: user_token_domain::domain::UserId) -> String {
        local_stack::bearer_token(&self.template, &self.parameters, user, 600).expect("token")
    }
}

/// One local stack (gateway + every function binary) for the whole test binary, on its own runtime thread so that
/// it outlives each test's runtime.
pub fn shared_stack() -> &'static SharedStack {
    static STACK: OnceLock<SharedStack> = OnceLock::new();
    STACK.get_or_init(|| {
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().expect("runtime");
            runtime.block_on(async move {
                let table = unique("e2e");
                let log_dir = local_stack::bin_dir().join("../test-logs").join(&table);
                let stack = Stack::start(stack_options(&table, log_dir.clone()))
                    .await
                    .expect("local stack starts (run `make bins` first)");
                let shared = SharedStack {
                    base_url: stack.base_url(),
                    table,
                    log_dir,
                    template: stack.template.clone(),
                    parameters: stack.parameters.clone(),
                };
                sender.send(shared).expect("handing over the stack");
                std::future::pending::<()>().await;
                drop(stack);
            });
        });
        receiver.recv().expect("the local stack started")
    })
}

/// One request through the shared stack's gateway: its status, its JSON body (null when empty) and its headers.
pub async fn call(
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> (
    reqwest::StatusCode,
    serde_json::Value,
    reqwest::header::HeaderMap,
) {
    let stack = shared_stack();
    let mut request = reqwest::Client::new().request(method, format!("{}{path}", stack.base_url));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the gateway answers");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let body = if text.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("a JSON body: {text}"))
    };
    (status, body, headers)
}

/// A fixture from `events/`, adjusted, as the `lambda_http` request a function would receive.
pub fn event(name: &str, adjust: impl FnOnce(&mut serde_json::Value)) -> lambda_http::Request {
    let text = std::fs::read_to_string(root().join("events").join(name)).expect("fixture exists");
    let mut event: serde_json::Value = serde_json::from_str(&text).expect("fixture is JSON");
    adjust(&mut event);
    lambda_http::request::from_str(&event.to_string()).expect("an API Gateway event")
}

/// Makes a fixture's caller `user`, in the shape of its API version (v2 `authorizer.lambda`, v1 `authorizer`).
pub fn as_caller(event: &mut serde_json::Value, user: &user_token_domain::domain::User) {
    as_caller_for_accounts(event, user, &[]);
}

/// `as_caller`, with the QI accounts the caller's token names in its `accountKeys` claim.
pub fn as_caller_for_accounts(
    event: &mut serde_json::Value,
    user: &user_token_domain::domain::User,
    account_keys: &[String],
) {
    let context = serde_json::Value::Object(
        user_token_domain::doors::authz::authenticated_context_for(user, account_keys),
    );
    if event.get("version").and_then(|v| v.as_str()) == Some("2.0") {
        event["requestContext"]["authorizer"]["lambda"] = context;
    } else {
        event["requestContext"]["authorizer"] = context;
    }
}

pub fn json_of(response: &lambda_http::Response<lambda_http::Body>) -> serde_json::Value {
    let bytes: &[u8] = response.body().as_ref();
    if bytes.is_empty() {
        return serde_json::Value::Null;
    }
    serde_json::from_slice(bytes).expect("a JSON body")
}

/// A user stored directly (no invitation): for tests that need users in given states.
pub fn user(
    email: &str,
    user_type: user_token_domain::domain::UserType,
    entity: Option<&str>,
    roles: &[user_token_domain::domain::Role],
) -> user_token_domain::domain::User {
    use user_token_domain::domain::{MfaStatus, MfaType, User, UserId, UserStatus};
    User {
        id: UserId::random(),
        email: email.parse().expect("email"),
        sms_number: unique_phone().parse().expect("phone"),
        primary_contact_number: "+4411223344556".parse().expect("phone"),
        secondary_contact_number: Some("+4411223344557".parse().expect("phone")),
        first_name: Some("Test".to_owned().try_into().expect("name")),
        last_name: Some(unique("last").try_into().expect("name")),
        entity_id: entity.map(|e| e.parse().expect("entity")),
        company_name: None,
        roles: roles.to_vec(),
        user_type,
        status: UserStatus::Enabled,
        mfa_type: MfaType::Totp,
        mfa_status: MfaStatus::Registered,
        locked_out: false,
        locked_out_timestamp: None,
        created_at: time::OffsetDateTime::now_utc(),
        tokens_valid_after: None,
        password_hash: None,
        password_history: Vec::new(),
        failed_password_attempts: 0,
        totp: user_token_domain::domain::totp::TotpFactor::default(),
        version: 1,
    }
}
