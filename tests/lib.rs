//! Test harness: the emulator started by `make test` (`local-stack with-emulator`), fresh tables, an `App` wired to
//! them, and one local stack shared by the end-to-end tests.

use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::OnceLock;

use local_stack::emulator::{create_table, sdk_config, verify_sender};
use local_stack::stack::{local_parameters, Stack, StackOptions};
use local_stack::template::Template;
use user_token_domain::config::{Config, JwtConfig};
use user_token_domain::App;

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
    user_token_domain::telemetry::init_with_default("warn");
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
        otp_ttl: time::Duration::minutes(5),
        invite_ttl: time::Duration::days(7),
        max_attempts: 5,
        resend_cooldown: time::Duration::seconds(60),
        send_quota: 5,
        send_quota_window: time::Duration::minutes(10),
    }
}

pub async fn app(table: &str) -> App {
    App::new(config(table), &sdk_config(&endpoint()).await)
}

/// An app whose configuration a test adjusts (shorter lifetimes, no cooldown, …).
pub async fn app_with(table: &str, adjust: impl FnOnce(&mut Config)) -> App {
    let mut config = config(table);
    adjust(&mut config);
    App::new(config, &sdk_config(&endpoint()).await)
}

/// An app whose SNS and SES point at a closed port: every send fails.
pub async fn app_with_dead_messaging(table: &str) -> App {
    let healthy = app(table).await;
    let dead = sdk_config("http://127.0.0.1:9").await;
    App {
        messenger: user_token_domain::notify::Messenger::new(
            aws_sdk_sns::Client::new(&dead),
            aws_sdk_sesv2::Client::new(&dead),
            healthy.config.ses_sender.clone(),
        ),
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
                let stack = Stack::start(StackOptions {
                    root: root(),
                    bin_dir: local_stack::bin_dir(),
                    endpoint: endpoint(),
                    table_name: table.clone(),
                    parameters: parameters(),
                    listen: "127.0.0.1:0".parse().expect("address"),
                    log_dir: Some(log_dir.clone()),
                    seed: true,
                })
                .await
                .expect("local stack starts (run `make build` first)");
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
