//! What each function is asked, a thousand times: a realistic request that succeeds every time. State changes act on
//! a fresh subject each time (prepared beforehand, untimed); resends repeat on one subject (the bench sets no
//! cooldown); codes are read from what really went out through the emulator.

use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use aws_sdk_dynamodb::types::AttributeValue;
use user_token_domain::adapters::dynamodb::keys::{email_guard_pk, GUARD};
use user_token_domain::adapters::dynamodb::DynamoStore;
use user_token_domain::domain::password;
use user_token_domain::domain::{
    Email, MfaStatus, MfaType, Role, User, UserId, UserStatus, UserType,
};
#[allow(unused_imports)]
use user_token_domain::ports::{DeviceStore as _, SessionStore as _, UserStore as _};

use super::report::WarmReport;
use super::{handler_calls, measure_host, peak_rss, raw_time, summarise, Bench, Class, Sample};
use crate::emulator::{outbox, Outbox};
use crate::runtime_api::FunctionHost;
use crate::stack::{
    prepare_table, seed_admin, Stack, StackOptions, SEED_ADMIN_ID, SEED_QI_ACCOUNT_KEY,
    SEED_QI_APPROVER_DOCUMENT, SEED_QI_APPROVER_PHONE, SEED_WIDGET_ID,
};

const ENTITY: &str = "7fffa261-ac68-49e6-b605-d24a444d9206";

/// How a request authenticates.
#[derive(Clone)]
enum Auth {
    Bearer(Arc<str>),
    /// `Authorization: Basic base64(name:secret)`: an email and a password, or an API key and its secret.
    Basic(String, String),
    /// None: a public operation, or credentials in the request itself (a refresh token).
    None,
}

/// One HTTP request through the gateway, and the status it must get.
struct Call {
    method: Method,
    path: String,
    body: Option<Value>,
    auth: Auth,
    expect: u16,
    /// The argon2id operations it makes: deliberate work, timed in this run and kept apart from the overhead.
    key_stretches: u32,
}

fn call(method: Method, path: String, body: Option<Value>, token: &Arc<str>, expect: u16) -> Call {
    Call {
        method,
        path,
        body,
        auth: Auth::Bearer(token.clone()),
        expect,
        key_stretches: 0,
    }
}

/// A request with credentials other than a bearer token (or none).
fn call_with(method: Method, path: String, body: Option<Value>, auth: Auth, expect: u16) -> Call {
    Call {
        method,
        path,
        body,
        auth,
        expect,
        key_stretches: 0,
    }
}

/// An answer's body, and its `Location` header (a 201's only content).
struct Answer {
    body: Value,
    location: Option<String>,
}

impl std::ops::Index<&str> for Answer {
    type Output = Value;

    fn index(&self, field: &str) -> &Value {
        &self.body[field]
    }
}

/// The six-character code or token in a message (digits, or QI's upper-case letters and digits).
pub(super) fn code_in(message: &str) -> Option<String> {
    message
        .split(|c: char| !c.is_ascii_alphanumeric())
        .find(|word| {
            word.len() == 6
                && word
                    .chars()
                    .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        })
        .map(str::to_owned)
}

struct Warm<'a> {
    bench: &'a Bench,
    stack: Stack,
    client: reqwest::Client,
    store: DynamoStore,
    dynamodb: aws_sdk_dynamodb::Client,
    admin: Arc<str>,
    n: usize,
    results: Vec<Measured>,
}

/// One function's warm run: its binary, the scenario when it has several (the grant of `authenticate`), its class
/// and its figures.
pub(super) struct Measured {
    pub binary: String,
    pub scenario: Option<&'static str>,
    pub class: Class,
    pub warm: WarmReport,
}

impl Warm<'_> {
    fn host(&self, binary: &str) -> Result<Arc<FunctionHost>, String> {
        self.stack
            .functions
            .values()
            .find(|host| host.name == binary)
            .cloned()
            .ok_or_else(|| format!("{binary} is not running"))
    }

    /// The id an email belongs to, from its guard item.
    async fn user_id_by_email(&self, email: &str) -> Result<String, String> {
        let email: Email = email.parse().map_err(|_| "email")?;
        let item = self
            .dynamodb
            .get_item()
            .table_name(self.store.table())
            .key("pk", AttributeValue::S(email_guard_pk(&email)))
            .key("sk", AttributeValue::S(GUARD.to_owned()))
            .send()
            .await
            .map_err(|e| e.to_string())?
            .item
            .unwrap_or_default();
        match item.get("userId") {
            Some(AttributeValue::S(id)) => Ok(id.clone()),
            _ => Err(format!("{email} is not in the table")),
        }
    }

    fn token(&self, user: &User) -> Result<Arc<str>, String> {
        crate::bearer_token(&self.bench.template, &self.bench.parameters, user.id, 3600)
            .map(Arc::from)
    }

    async fn send(&self, call: &Call) -> Result<(u16, Answer), String> {
        let mut request = self.client.request(
            call.method.clone(),
            format!("{}{}", self.stack.base_url(), call.path),
        );
        request = match &call.auth {
            Auth::Bearer(token) => request.bearer_auth(&**token),
            Auth::Basic(name, secret) => request.basic_auth(name, Some(secret)),
            Auth::None => request,
        };
        if let Some(body) = &call.body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let bytes = response.bytes().await.map_err(|e| e.to_string())?;
        Ok((
            status,
            Answer {
                body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
                location,
            },
        ))
    }

    /// Untimed preparation through the API; every answer must be the expected one.
    async fn prepare(&self, calls: &[Call]) -> Result<Vec<Value>, String> {
        let mut answers = Vec::new();
        for call in calls {
            let (status, answer) = self.send(call).await?;
            if status != call.expect {
                return Err(format!(
                    "preparing with {} {}: {status} {}",
                    call.method, call.path, answer.body
                ));
            }
            answers.push(answer.body);
        }
        Ok(answers)
    }

    /// The timed run of one function through the gateway; returns the answers.
    async fn measure(
        &mut self,
        binary: &str,
        class: Class,
        calls: Vec<Call>,
    ) -> Result<Vec<Answer>, String> {
        self.measure_scenario(binary, None, class, calls).await
    }

    /// `measure`, for one of several scenarios of a function, each reported on its own row.
    async fn measure_scenario(
        &mut self,
        binary: &str,
        scenario: Option<&'static str>,
        class: Class,
        calls: Vec<Call>,
    ) -> Result<Vec<Answer>, String> {
        match scenario {
            Some(scenario) => eprintln!("bench: {binary} ({scenario})"),
            None => eprintln!("bench: {binary}"),
        }
        let recorder = &self.bench.recorder;
        let mut samples = Vec::with_capacity(calls.len());
        let mut unexpected = Vec::new();
        let mut answers = Vec::with_capacity(calls.len());
        for call in &calls {
            let mark = recorder.mark();
            let started = Instant::now();
            let (status, answer) = self.send(call).await?;
            let latency = started.elapsed();
            let made = recorder.since(mark);
            if status != call.expect && unexpected.len() < 3 {
                unexpected.push(format!(
                    "{} {}: {status} {}",
                    call.method, call.path, answer.body
                ));
            }
            samples.push(Sample {
                latency,
                raw: raw_time(&made),
                work: self.bench.key_stretch.steady * call.key_stretches,
                calls: handler_calls(&made, binary),
            });
            answers.push(answer);
        }
        let rss = self.host(binary)?.pid().and_then(peak_rss);
        self.results.push(Measured {
            binary: binary.to_owned(),
            scenario,
            class,
            warm: summarise(&samples, unexpected, rss),
        });
        Ok(answers)
    }

    /// The timed run of a function that is not behind the gateway, with its events straight to its Runtime API.
    async fn measure_direct(
        &mut self,
        host: &FunctionHost,
        class: Class,
        events: Vec<Value>,
        accepted: impl Fn(&Value) -> bool,
    ) -> Result<(), String> {
        eprintln!("bench: {}", host.name);
        let (samples, answers) =
            measure_host(host, &host.name, &self.bench.recorder, events.into_iter()).await?;
        let unexpected = answers
            .iter()
            .filter(|answer| !accepted(answer))
            .take(3)
            .map(Value::to_string)
            .collect();
        let rss = host.pid().and_then(peak_rss);
        self.results.push(Measured {
            binary: host.name.clone(),
            scenario: None,
            class,
            warm: summarise(&samples, unexpected, rss),
        });
        Ok(())
    }

    /// `count` users stored directly, each a copy of `base` with its own id, email and phone.
    async fn users(&self, prefix: &str, base: &User, count: usize) -> Result<Vec<User>, String> {
        self.users_on(prefix, base, count, "+1555").await
    }

    /// `users`, their numbers `<phones>` and seven digits: a range of their own, to find what was sent to each.
    async fn users_on(
        &self,
        prefix: &str,
        base: &User,
        count: usize,
        phones: &str,
    ) -> Result<Vec<User>, String> {
        let mut users = Vec::with_capacity(count);
        for i in 0..count {
            let user = User {
                id: UserId::random(),
                email: format!("bench-{prefix}-{i}@example.com")
                    .parse()
                    .map_err(|_| "email")?,
                sms_number: format!("{phones}{i:07}").parse().map_err(|_| "phone")?,
                ..base.clone()
            };
            self.store
                .create_user(&user)
                .await
                .map_err(|e| format!("storing {prefix} users: {e}"))?;
            users.push(user);
        }
        Ok(users)
    }
}

fn payor(template: &User) -> Result<User, String> {
    Ok(User {
        roles: vec![Role::PayorAdmin],
        user_type: UserType::Payor,
        entity_id: Some(ENTITY.parse().map_err(|_| "entity")?),
        locked_out: true,
        locked_out_timestamp: Some(time::OffsetDateTime::now_utc()),
        mfa_type: MfaType::Totp,
        mfa_status: MfaStatus::Registered,
        status: UserStatus::Enabled,
        password_hash: None,
        ..template.clone()
    })
}

fn payee(template: &User) -> Result<User, String> {
    Ok(User {
        roles: vec![Role::PayeeAdmin],
        user_type: UserType::Payee,
        entity_id: Some(ENTITY.parse().map_err(|_| "entity")?),
        locked_out: false,
        locked_out_timestamp: None,
        ..payor(template)?
    })
}

/// Every function, measured through the gateway (or, for the authorizer and the pipeline functions, straight
/// through its Runtime API), in an order where each run prepares what a later one needs.
pub(super) async fn run_all(bench: &Bench) -> Result<Vec<Measured>, String> {
    let table = format!("bench-warm-{}", uuid::Uuid::new_v4().simple());
    prepare_table(
        &bench.template,
        &bench.endpoint,
        &table,
        &bench.parameters,
        true,
    )
    .await
    .map_err(|e| e.to_string())?;
    let mut endpoints = BTreeMap::new();
    for function in bench.template.functions.values() {
        let proxy = super::proxy::start(&function.binary, &bench.endpoint, &bench.recorder)
            .await
            .map_err(|e| e.to_string())?;
        endpoints.insert(function.logical_id.clone(), proxy);
    }
    let stack = Stack::start(StackOptions {
        root: bench.options.root.clone(),
        bin_dir: bench.options.bin_dir.clone(),
        endpoint: bench.endpoint.clone(),
        table_name: table.clone(),
        parameters: bench.parameters.clone(),
        listen: "127.0.0.1:0".parse().map_err(|_| "address")?,
        log_dir: Some(bench.log_dir()),
        seed: false,
        pipelines: false,
        endpoints,
    })
    .await
    .map_err(|e| e.to_string())?;
    let sdk = crate::emulator::sdk_config(&bench.endpoint).await;
    let mut warm = Warm {
        bench,
        stack,
        client: reqwest::Client::new(),
        store: DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table.clone()),
        dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
        admin: Arc::from(bench.admin_token.as_str()),
        n: bench.options.requests,
        results: Vec::new(),
    };
    velo(&mut warm).await?;
    login(&mut warm).await?;
    redeem(&mut warm).await?;
    api_keys(&mut warm).await?;
    qi(&mut warm).await?;
    sigma(&mut warm).await?;
    direct(&mut warm, &table).await?;
    Ok(warm.results)
}

async fn velo(warm: &mut Warm<'_>) -> Result<(), String> {
    let n = warm.n;
    let admin = warm.admin.clone();
    let admin_id = SEED_ADMIN_ID;
    let get = |path: String| call(Method::GET, path, None, &admin, 200);
    warm.measure(
        "get-user",
        Class::Read,
        (0..n)
            .map(|_| get(format!("/v2/users/{admin_id}")))
            .collect(),
    )
    .await?;
    warm.measure(
        "get-self",
        Class::Read,
        (0..n).map(|_| get("/v2/users/self".into())).collect(),
    )
    .await?;
    warm.measure(
        "list-users",
        Class::Listing,
        (0..n)
            .map(|_| get("/v2/users?type=BACKOFFICE".into()))
            .collect(),
    )
    .await?;
    // Each check runs argon2id once (the admin has one password hash to compare the candidate with): CPU-bound, so
    // measured over a tenth of the requests, as `update-password-self` is.
    warm.measure(
        "validate-password-self",
        Class::Read,
        (0..(n / 10).max(1))
            .map(|_| Call {
                key_stretches: 1,
                ..call(
                    Method::POST,
                    "/v2/users/self/password/validate".into(),
                    Some(json!({"password": "a lantern swinging over cold water"})),
                    &admin,
                    200,
                )
            })
            .collect(),
    )
    .await?;

    let invitation = |email: String| {
        json!({"email": email, "mfaType": "SMS", "smsNumber": "+4411223344556",
               "primaryContactNumber": "+4411223344556", "roles": ["velo.payor.admin"],
               "firstName": "Grace", "lastName": "Hopper", "entityId": ENTITY})
    };
    let invite = |email: String| {
        call(
            Method::POST,
            "/v2/users/invite".into(),
            Some(invitation(email)),
            &admin,
            204,
        )
    };
    warm.measure(
        "invite-user",
        Class::Change,
        (0..n)
            .map(|i| invite(format!("bench-invite-{i}@example.com")))
            .collect(),
    )
    .await?;
    let pending_email = "bench-pending@example.com";
    warm.prepare(&[invite(pending_email.into())]).await?;
    let pending = warm.user_id_by_email(pending_email).await?;
    warm.measure(
        "resend-token",
        Class::Resend,
        (0..n)
            .map(|_| {
                call(
                    Method::POST,
                    format!("/v2/users/{pending}/tokens"),
                    Some(json!({"tokenType": "INVITE_MFA_USER"})),
                    &admin,
                    204,
                )
            })
            .collect(),
    )
    .await?;
    warm.measure(
        "register-sms",
        Class::Resend,
        (0..n)
            .map(|_| {
                call(
                    Method::POST,
                    "/v2/users/registration/sms".into(),
                    Some(json!({"smsNumber": "+15555550100"})),
                    &admin,
                    204,
                )
            })
            .collect(),
    )
    .await?;

    // One pool of locked, MFA-registered payor admins, taken through disable, enable, unlock, MFA unregister and
    // delete: each request changes a user.
    let base = seed_admin().map_err(|e| e.to_string())?;
    let pool = warm.users("pool", &payor(&base)?, n).await?;
    for (binary, suffix, body) in [
        ("disable-user", "/disable", None),
        ("enable-user", "/enable", None),
        ("unlock-user", "/unlock", None),
        (
            "unregister-mfa",
            "/mfa/unregister",
            Some(json!({"mfaType": "TOTP"})),
        ),
    ] {
        let calls = pool
            .iter()
            .map(|user| {
                call(
                    Method::POST,
                    format!("/v2/users/{}{suffix}", user.id),
                    body.clone(),
                    &admin,
                    204,
                )
            })
            .collect();
        warm.measure(binary, Class::Change, calls).await?;
    }
    let calls = pool
        .iter()
        .map(|user| {
            call(
                Method::DELETE,
                format!("/v2/users/{}", user.id),
                None,
                &admin,
                204,
            )
        })
        .collect();
    warm.measure("delete-user", Class::Change, calls).await?;

    let target = &warm.users("target", &payor(&base)?, 1).await?[0];
    warm.measure(
        "role-update",
        Class::Change,
        (0..n)
            .map(|i| {
                let role = if i % 2 == 0 {
                    "velo.payor.support"
                } else {
                    "velo.payor.admin"
                };
                call(
                    Method::POST,
                    format!("/v2/users/{}/roleUpdate", target.id),
                    Some(json!({"roles": [role]})),
                    &admin,
                    204,
                )
            })
            .collect(),
    )
    .await?;
    warm.measure(
        "user-details-update",
        Class::Change,
        (0..n)
            .map(|i| {
                call(
                    Method::POST,
                    format!("/v2/users/{}/userDetailsUpdate", target.id),
                    Some(json!({"firstName": format!("Grace {i}")})),
                    &admin,
                    204,
                )
            })
            .collect(),
    )
    .await?;

    let payees = warm.users("payee", &payee(&base)?, n).await?;
    let first_payee = warm.token(&payees[0])?;
    warm.measure(
        "user-details-update-self",
        Class::Change,
        (0..n)
            .map(|i| {
                call(
                    Method::POST,
                    "/v2/users/self/userDetailsUpdate".into(),
                    Some(json!({"firstName": format!("Payee {i}")})),
                    &first_payee,
                    204,
                )
            })
            .collect(),
    )
    .await?;
    let mut calls = Vec::with_capacity(n);
    for user in &payees {
        calls.push(call(
            Method::POST,
            "/v2/users/self/mfa/unregister".into(),
            Some(json!({"mfaType": "TOTP"})),
            &warm.token(user)?,
            204,
        ));
    }
    warm.measure("unregister-mfa-self", Class::Change, calls)
        .await?;

    // Password changes in a chain, each new password strong and never used before.
    let passphrase = |i: usize| format!("copper lantern {i} swinging over cold water");
    let first = passphrase(0)
        .try_into()
        .map_err(|_| "password".to_owned())?;
    let writer = User {
        password_hash: Some(password::hash(&first).map_err(|e| e.to_string())?),
        ..payee(&base)?
    };
    let writer = warm.users("writer", &writer, 1).await?.remove(0);
    let writer_token = warm.token(&writer)?;
    // A change runs argon2id up to six times (the old password, the new one against each of the four before the
    // current, then its hash): over 100 ms of one core. A tenth of the requests keeps the bench within its time;
    // CPU-bound as it is, its percentiles are as steady over a hundred.
    let earlier = |i: usize| u32::try_from(i.min(password::HISTORY - 1)).unwrap_or(u32::MAX);
    warm.measure(
        "update-password-self",
        Class::Change,
        (0..(n / 10).max(1))
            .map(|i| Call {
                key_stretches: 2 + earlier(i),
                ..call(
                    Method::POST,
                    "/v2/users/self/password".into(),
                    Some(json!({"oldPassword": passphrase(i), "newPassword": passphrase(i + 1)})),
                    &writer_token,
                    204,
                )
            })
            .collect(),
    )
    .await?;
    Ok(())
}

/// Velo's Login API as its clients use it, on `n` fresh SMS users (payor admins, each on its own number): each signs
/// in with its password (a PRE_AUTH token, and a code by SMS), then with the code that went out (a session), then
/// refreshes once with the refresh token that answered (each is single-use), then signs out with the access token the
/// refresh answered. Each step is measured over all `n`, on what the step before it answered.
async fn login(warm: &mut Warm<'_>) -> Result<(), String> {
    let n = warm.n;
    let passphrase = "a heron standing in the reeds at noon";
    let hash = password::hash(
        &passphrase
            .to_owned()
            .try_into()
            .map_err(|_| "password".to_owned())?,
    )
    .map_err(|e| e.to_string())?;
    let base = seed_admin().map_err(|e| e.to_string())?;
    let signer = User {
        locked_out: false,
        locked_out_timestamp: None,
        mfa_type: MfaType::Sms,
        password_hash: Some(hash),
        ..payor(&base)?
    };
    let signers = warm.users_on("signin", &signer, n, "+1556").await?;

    // One argon2id verification each (the user's one hash), as validate-password-self. All `n` are measured: each
    // sign-in is the start of the chain the later steps run on, so a tenth would mean preparing the rest with the
    // same work, untimed.
    let pre_auth = warm
        .measure_scenario(
            "authenticate",
            Some("password"),
            Class::SignIn,
            signers
                .iter()
                .map(|user| Call {
                    key_stretches: 1,
                    ..call_with(
                        Method::POST,
                        "/v1/authenticate?grant_type=password".into(),
                        None,
                        Auth::Basic(user.email.as_str().to_owned(), passphrase.to_owned()),
                        200,
                    )
                })
                .collect(),
        )
        .await?;
    let sent = outbox(&warm.bench.endpoint)
        .await
        .map_err(|e| e.to_string())?;
    let codes: Vec<Option<String>> = signers
        .iter()
        .map(|user| {
            sent.sms_to(user.sms_number.as_str())
                .last()
                .and_then(|sms| code_in(&sms.message))
        })
        .collect();
    let missing = codes.iter().filter(|code| code.is_none()).count();
    if missing > 0 {
        return Err(format!("{missing} of {n} sign-in codes did not go out"));
    }
    let signed_in = warm
        .measure(
            "validate-access-token",
            Class::SignIn,
            pre_auth
                .iter()
                .zip(&codes)
                .map(|(answer, code)| {
                    call(
                        Method::POST,
                        "/v1/validate".into(),
                        Some(json!({"otp": code})),
                        &Arc::from(answer["access_token"].as_str().unwrap_or_default()),
                        200,
                    )
                })
                .collect(),
        )
        .await?;
    let refreshed = warm
        .measure_scenario(
            "authenticate",
            Some("refresh_token"),
            Class::SignIn,
            signed_in
                .iter()
                .map(|answer| {
                    call_with(
                        Method::POST,
                        format!(
                            "/v1/authenticate?grant_type=refresh_token&refresh_token={}",
                            answer["refresh_token"].as_str().unwrap_or_default()
                        ),
                        None,
                        Auth::None,
                        200,
                    )
                })
                .collect(),
        )
        .await?;
    warm.measure(
        "logout",
        Class::Change,
        refreshed
            .iter()
            .map(|answer| {
                call(
                    Method::POST,
                    "/v1/logout".into(),
                    None,
                    &Arc::from(answer["access_token"].as_str().unwrap_or_default()),
                    204,
                )
            })
            .collect(),
    )
    .await?;
    warm.measure(
        "jwks",
        Class::Read,
        (0..n)
            .map(|_| {
                call_with(
                    Method::GET,
                    "/.well-known/jwks.json".into(),
                    None,
                    Auth::None,
                    200,
                )
            })
            .collect(),
    )
    .await?;
    Ok(())
}

/// A new user's way in, on `m` invitees (a tenth of the requests: each costs two argon2id operations, one to accept
/// and one to sign in, and every step runs on what the step before it answered): each accepts its invitation with
/// the token its email carried, signs in with its new password (untimed), registers SMS as its second factor with
/// that PRE_AUTH token and confirms it with the code that went out (a session). Then each asks for a password reset
/// and confirms it with the link its email carried.
async fn redeem(warm: &mut Warm<'_>) -> Result<(), String> {
    let m = (warm.n / 10).max(1);
    let admin = warm.admin.clone();
    let email = |i: usize| format!("bench-redeem-{i}@example.com");
    let phone = |i: usize| format!("+1557{i:07}");
    let invites: Vec<Call> = (0..m)
        .map(|i| {
            call(
                Method::POST,
                "/v2/users/invite".into(),
                Some(
                    json!({"email": email(i), "mfaType": "SMS", "smsNumber": phone(i),
                            "primaryContactNumber": phone(i), "roles": ["velo.payor.admin"],
                            "firstName": "Ada", "lastName": "Lovelace", "entityId": ENTITY}),
                ),
                &admin,
                204,
            )
        })
        .collect();
    warm.prepare(&invites).await?;
    let links = |sent: &Outbox, what: &str| -> Result<Vec<String>, String> {
        (0..m)
            .map(|i| {
                sent.link_tokens_to(&email(i))
                    .pop()
                    .ok_or_else(|| format!("no {what} link went to {}", email(i)))
            })
            .collect()
    };
    let sent = outbox(&warm.bench.endpoint)
        .await
        .map_err(|e| e.to_string())?;
    let invitations = links(&sent, "invitation")?;
    let first = |i: usize| format!("a kestrel hovering over field {i} at dawn");
    let second = |i: usize| format!("the tide turns slowly at harbour {i} tonight");
    let redemption = |token: &str, password: String| Call {
        key_stretches: 1,
        ..call_with(
            Method::POST,
            String::new(),
            Some(json!({"token": token, "password": password})),
            Auth::None,
            204,
        )
    };
    warm.measure(
        "accept-invitation",
        Class::Change,
        invitations
            .iter()
            .enumerate()
            .map(|(i, token)| Call {
                path: "/v1/invitations/accept".into(),
                ..redemption(token, first(i))
            })
            .collect(),
    )
    .await?;
    let sign_ins: Vec<Call> = (0..m)
        .map(|i| {
            call_with(
                Method::POST,
                "/v1/authenticate?grant_type=password".into(),
                None,
                Auth::Basic(email(i), first(i)),
                200,
            )
        })
        .collect();
    let pre_auth: Vec<Arc<str>> = warm
        .prepare(&sign_ins)
        .await?
        .iter()
        .map(|answer| Arc::from(answer["access_token"].as_str().unwrap_or_default()))
        .collect();
    warm.measure(
        "register-mfa",
        Class::Change,
        pre_auth
            .iter()
            .map(|token| {
                call(
                    Method::POST,
                    "/v1/mfa/register".into(),
                    Some(json!({})),
                    token,
                    200,
                )
            })
            .collect(),
    )
    .await?;
    let sent = outbox(&warm.bench.endpoint)
        .await
        .map_err(|e| e.to_string())?;
    let codes: Vec<String> = (0..m)
        .map(|i| {
            sent.sms_to(&phone(i))
                .last()
                .and_then(|sms| code_in(&sms.message))
                .ok_or_else(|| format!("no registration code went to {}", phone(i)))
        })
        .collect::<Result<_, _>>()?;
    warm.measure(
        "confirm-mfa",
        Class::SignIn,
        pre_auth
            .iter()
            .zip(&codes)
            .map(|(token, code)| {
                call(
                    Method::POST,
                    "/v1/mfa/register/confirm".into(),
                    Some(json!({"otp": code})),
                    token,
                    200,
                )
            })
            .collect(),
    )
    .await?;
    warm.measure(
        "reset-password",
        Class::Change,
        (0..m)
            .map(|i| {
                call_with(
                    Method::POST,
                    "/v1/password/reset".into(),
                    Some(json!({"email": email(i)})),
                    Auth::None,
                    204,
                )
            })
            .collect(),
    )
    .await?;
    let sent = outbox(&warm.bench.endpoint)
        .await
        .map_err(|e| e.to_string())?;
    let resets = links(&sent, "password-reset")?;
    if let Some(i) = (0..m).find(|&i| resets[i] == invitations[i]) {
        return Err(format!("no password-reset link went to {}", email(i)));
    }
    warm.measure(
        "confirm-password-reset",
        Class::Change,
        resets
            .iter()
            .enumerate()
            .map(|(i, token)| Call {
                path: "/v1/password/reset/confirm".into(),
                // The new password is checked against the current one (not to be reused), then hashed.
                key_stretches: 2,
                ..redemption(token, second(i))
            })
            .collect(),
    )
    .await?;
    Ok(())
}

/// Velo's applications and API keys, by the seeded admin on one payor: `n` applications (each name new), a key for
/// each, a client_credentials sign-in with each key, then each key deleted.
async fn api_keys(warm: &mut Warm<'_>) -> Result<(), String> {
    let n = warm.n;
    let admin = warm.admin.clone();
    let applications = format!("/v1/payors/{ENTITY}/applications");
    let created = warm
        .measure(
            "create-application",
            Class::Change,
            (0..n)
                .map(|i| {
                    call(
                        Method::POST,
                        applications.clone(),
                        Some(json!({"name": format!("Bench application {i}"),
                                    "description": "An application of the bench"})),
                        &admin,
                        201,
                    )
                })
                .collect(),
        )
        .await?;
    // Each answer's Location names its application.
    let application_paths: Vec<String> = created
        .iter()
        .map(|answer| answer.location.clone().unwrap_or_default())
        .collect();
    if let Some(i) = application_paths
        .iter()
        .position(|path| !path.starts_with(&applications))
    {
        return Err(format!(
            "create-application answer {i} has no Location: {:?}",
            application_paths[i]
        ));
    }
    let keys = warm
        .measure(
            "create-api-key",
            Class::Change,
            application_paths
                .iter()
                .enumerate()
                .map(|(i, path)| {
                    call(
                        Method::POST,
                        format!("{path}/keys"),
                        Some(json!({"name": format!("Bench key {i}"),
                                    "description": "A key of the bench", "roles": ["payor.admin"]})),
                        &admin,
                        200,
                    )
                })
                .collect(),
        )
        .await?;
    let field = |answer: &Answer, name: &str| answer[name].as_str().unwrap_or_default().to_owned();
    // The secret is checked as a keyed hash (HMAC-SHA256), not argon2id: no key stretching.
    warm.measure_scenario(
        "authenticate",
        Some("client_credentials"),
        Class::SignIn,
        keys.iter()
            .map(|answer| {
                call_with(
                    Method::POST,
                    "/v1/authenticate?grant_type=client_credentials".into(),
                    None,
                    Auth::Basic(field(answer, "apiKey"), field(answer, "apiSecret")),
                    200,
                )
            })
            .collect(),
    )
    .await?;
    warm.measure(
        "delete-api-key",
        Class::Change,
        application_paths
            .iter()
            .zip(&keys)
            .map(|(path, answer)| {
                call(
                    Method::DELETE,
                    format!("{path}/keys/{}", field(answer, "apiKey")),
                    None,
                    &admin,
                    204,
                )
            })
            .collect(),
    )
    .await?;
    Ok(())
}

async fn qi(warm: &mut Warm<'_>) -> Result<(), String> {
    let n = warm.n;
    let admin = warm.admin.clone();
    let account = SEED_QI_ACCOUNT_KEY;
    let devices: Vec<String> = (0..n).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let create = |device: &str| {
        call(
            Method::POST,
            format!("/account/{account}/device"),
            Some(
                json!({"device_key": device, "session_id": uuid::Uuid::new_v4().to_string(), "tfa_info": {
                "approver_document_number": SEED_QI_APPROVER_DOCUMENT, "contact_type": "sms"}}),
            ),
            &admin,
            202,
        )
    };
    let sent_before = outbox(&warm.bench.endpoint)
        .await
        .map_err(|e| e.to_string())?
        .sms_to(SEED_QI_APPROVER_PHONE)
        .len();
    warm.measure(
        "device-create",
        Class::Change,
        devices.iter().map(|d| create(d)).collect(),
    )
    .await?;
    // Every device's token went to the one approver, in order.
    let sent = outbox(&warm.bench.endpoint)
        .await
        .map_err(|e| e.to_string())?;
    let tokens: Vec<String> = sent
        .sms_to(SEED_QI_APPROVER_PHONE)
        .iter()
        .skip(sent_before)
        .filter_map(|sms| code_in(&sms.message))
        .collect();
    if tokens.len() != n {
        let messages: Vec<&str> = sent
            .sms_to(SEED_QI_APPROVER_PHONE)
            .iter()
            .skip(sent_before)
            .map(|sms| sms.message.as_str())
            .collect();
        return Err(format!(
            "{} device tokens went out for {n} devices: {messages:?}",
            tokens.len()
        ));
    }
    let device_path = |device: &str| format!("/account/{account}/device/{device}");
    warm.measure(
        "device-get",
        Class::Read,
        (0..n)
            .map(|_| call(Method::GET, device_path(&devices[0]), None, &admin, 200))
            .collect(),
    )
    .await?;
    warm.measure(
        "device-validate",
        Class::Change,
        devices
            .iter()
            .zip(&tokens)
            .map(|(device, token)| {
                call(
                    Method::PUT,
                    format!("{}/validate", device_path(device)),
                    Some(json!({"token": token})),
                    &admin,
                    201,
                )
            })
            .collect(),
    )
    .await?;
    warm.measure(
        "device-disable",
        Class::Change,
        devices
            .iter()
            .map(|device| {
                call(
                    Method::DELETE,
                    format!("{}/disable", device_path(device)),
                    None,
                    &admin,
                    200,
                )
            })
            .collect(),
    )
    .await?;
    let pending = uuid::Uuid::new_v4().to_string();
    warm.prepare(&[create(&pending)]).await?;
    warm.measure(
        "device-resend-token",
        Class::Resend,
        (0..n)
            .map(|_| {
                call(
                    Method::PATCH,
                    format!("{}/resend_token", device_path(&pending)),
                    Some(json!({})),
                    &admin,
                    202,
                )
            })
            .collect(),
    )
    .await?;
    Ok(())
}

async fn sigma(warm: &mut Warm<'_>) -> Result<(), String> {
    let n = warm.n;
    let admin = warm.admin.clone();
    let api = "/api/n/otp-handler";
    let start = |recipient: &str| {
        call(
            Method::POST,
            api.into(),
            Some(json!({"widgetId": SEED_WIDGET_ID, "recipient": recipient})),
            &admin,
            201,
        )
    };
    let recipients: Vec<String> = (0..n).map(|i| format!("+7999{:07}", i)).collect();
    let started = warm
        .measure(
            "otp-start",
            Class::Change,
            recipients.iter().map(|r| start(r)).collect(),
        )
        .await?;
    let sessions: Vec<String> = started
        .iter()
        .map(|answer| answer["requestId"].as_str().unwrap_or_default().to_owned())
        .collect();
    let sent = outbox(&warm.bench.endpoint)
        .await
        .map_err(|e| e.to_string())?;
    let codes: Vec<String> = recipients
        .iter()
        .filter_map(|r| sent.sms_to(r).last().and_then(|sms| code_in(&sms.message)))
        .collect();
    if codes.len() != n {
        let missing: Vec<String> = recipients
            .iter()
            .filter(|r| {
                sent.sms_to(r)
                    .last()
                    .and_then(|sms| code_in(&sms.message))
                    .is_none()
            })
            .map(|r| format!("{r}: {:?}", sent.sms_to(r)))
            .collect();
        return Err(format!(
            "{} codes went out for {n} sessions: {missing:?}",
            codes.len()
        ));
    }
    let first = &sessions[0];
    let status_query = format!("recipient=%2B{}", &recipients[0][1..]);
    warm.measure(
        "otp-channel",
        Class::Read,
        (0..n)
            .map(|_| {
                call(
                    Method::GET,
                    format!("{api}/{first}/channel"),
                    None,
                    &admin,
                    200,
                )
            })
            .collect(),
    )
    .await?;
    warm.measure(
        "otp-status",
        Class::Read,
        (0..n)
            .map(|_| {
                call(
                    Method::GET,
                    format!("{api}/{first}/status?{status_query}"),
                    None,
                    &admin,
                    200,
                )
            })
            .collect(),
    )
    .await?;
    // The first long poll of each session answers at once (nothing was seen yet); a second would hold.
    warm.measure(
        "otp-channel-long-polling",
        Class::Change,
        sessions
            .iter()
            .map(|session| {
                call(
                    Method::GET,
                    format!("{api}/longPolling/{session}/channel"),
                    None,
                    &admin,
                    200,
                )
            })
            .collect(),
    )
    .await?;
    warm.measure(
        "otp-widget",
        Class::Read,
        (0..n)
            .map(|_| {
                call(
                    Method::GET,
                    format!("{api}/widget/{SEED_WIDGET_ID}"),
                    None,
                    &admin,
                    200,
                )
            })
            .collect(),
    )
    .await?;
    warm.measure(
        "otp-check-code",
        Class::Change,
        sessions
            .iter()
            .zip(&codes)
            .map(|(session, code)| {
                call(
                    Method::POST,
                    format!("{api}/{session}/checkCode"),
                    Some(json!({"code": code})),
                    &admin,
                    201,
                )
            })
            .collect(),
    )
    .await?;
    // Confirmed sessions: the status long poll answers at once.
    warm.measure(
        "otp-status-long-polling",
        Class::Read,
        sessions
            .iter()
            .zip(&recipients)
            .map(|(session, recipient)| {
                call(
                    Method::GET,
                    format!(
                        "{api}/longPolling/{session}/status?recipient=%2B{}",
                        &recipient[1..]
                    ),
                    None,
                    &admin,
                    200,
                )
            })
            .collect(),
    )
    .await?;
    warm.measure(
        "otp-complete",
        Class::Change,
        sessions
            .iter()
            .map(|session| {
                call(
                    Method::POST,
                    format!("{api}/{session}/complete"),
                    None,
                    &admin,
                    201,
                )
            })
            .collect(),
    )
    .await?;

    let more: Vec<String> = (0..n).map(|i| format!("+7998{:07}", i)).collect();
    let opened = warm
        .prepare(&more.iter().map(|r| start(r)).collect::<Vec<_>>())
        .await?;
    warm.measure(
        "otp-check-status-and-complete",
        Class::Change,
        opened
            .iter()
            .zip(&more)
            .map(|(answer, recipient)| {
                call(
                    Method::POST,
                    format!(
                        "{api}/{}/checkStatusAndComplete?recipient=%2B{}",
                        answer["requestId"].as_str().unwrap_or_default(),
                        &recipient[1..]
                    ),
                    None,
                    &admin,
                    201,
                )
            })
            .collect(),
    )
    .await?;
    let resent = warm.prepare(&[start("+79970000000")]).await?;
    let session = resent[0]["requestId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    warm.measure(
        "otp-resend",
        Class::Resend,
        (0..n)
            .map(|_| {
                call(
                    Method::POST,
                    format!("{api}/{session}/resend"),
                    None,
                    &admin,
                    201,
                )
            })
            .collect(),
    )
    .await?;
    Ok(())
}

/// The authorizer with the seeded admin's token; publish-events with the sample stream batch; command-handler with
/// the sample invitation command, a new email each time; the floor with any event.
async fn direct(warm: &mut Warm<'_>, table: &str) -> Result<(), String> {
    let n = warm.n;
    let root = &warm.bench.options.root;
    let floor = warm.bench.launch_floor().await?;
    warm.measure_direct(
        &floor,
        Class::Floor,
        vec![json!({"hello": "world"}); n],
        |answer| answer["statusCode"] == 200,
    )
    .await?;
    let authorizer = warm.host("authorizer")?;
    let event = super::sample_event(root, "authorizer", &warm.admin)?;
    warm.measure_direct(&authorizer, Class::Authorizer, vec![event; n], |answer| {
        answer["isAuthorized"] == true && answer["context"]["authStatus"] == "authenticated"
    })
    .await?;

    for (binary, class) in [
        ("publish-events", Class::Pipeline),
        ("command-handler", Class::Pipeline),
    ] {
        let function = warm
            .bench
            .template
            .functions
            .values()
            .find(|f| f.binary == binary)
            .cloned()
            .ok_or_else(|| format!("{binary} is not in the template"))?;
        let host = warm.bench.launch(&function, table, binary).await?;
        let sample = super::sample_event(root, binary, &warm.admin)?;
        let events = (0..n)
            .map(|i| {
                let mut event = sample.clone();
                if binary == "command-handler" {
                    // The sample's first message (an invitation), alone: its others are bad on purpose.
                    let mut record = event["Records"][0].clone();
                    let mut command: Value =
                        serde_json::from_str(record["body"].as_str().unwrap_or("{}"))
                            .unwrap_or_default();
                    command["email"] = json!(format!("bench-command-{i}@example.com"));
                    record["body"] = json!(command.to_string());
                    event["Records"] = json!([record]);
                }
                event
            })
            .collect();
        warm.measure_direct(&host, class, events, |answer| {
            answer["batchItemFailures"]
                .as_array()
                .is_some_and(|failures| failures.is_empty())
        })
        .await?;
    }
    Ok(())
}
