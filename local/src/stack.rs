//! The whole local stack: the table, the SES sender, the seed, one process per function, the gateway, and (with
//! `pipelines`) the topics, the queues and the event sources of the functions that do not serve HTTP.

use axum::Router;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

use user_token_domain::adapters::dynamodb::DynamoStore;
use user_token_domain::domain::device::{Account, AccountStatus, Approver};
use user_token_domain::domain::otp::{Widget, WidgetChannel};
use user_token_domain::domain::password;
use user_token_domain::domain::token::Channel;
use user_token_domain::domain::{
    Email, MfaStatus, MfaType, PhoneNumber, Role, User, UserId, UserStatus, UserType,
};
#[allow(unused_imports)]
use user_token_domain::ports::{DeviceStore as _, SessionStore as _, UserStore as _};

use crate::emulator::{
    create_table, ensure_kms_keys, sdk_config, sdk_env, verify_sender, EmulatorError,
};
use crate::gateway::{segments, Gateway, RouteTarget};
use crate::pipelines::{create_resources, stream_arn, QueuePoller, Resources, StreamPoller};
use crate::runtime_api::{FunctionHost, InvokeError, Launch, Logs};
use crate::template::{EventSource, Template, TemplateError};

/// The seeded BACKOFFICE admin: a fixed id, so `make token` and the README's walk-through can name it.
pub const SEED_ADMIN_ID: &str = "00000000-0000-4000-8000-000000000001";
pub const SEED_ADMIN_EMAIL: &str = "admin@example.com";
/// The seeded admin's password, for trying the password operations locally. Local only.
pub const SEED_ADMIN_PASSWORD: &str = "harbour lights at dusk 1906";
/// The seeded Sigma OTP widget: SMS first, then email.
pub const SEED_WIDGET_ID: &str = "11111111-1111-4111-8111-111111111111";

/// The seeded QI Tech account and its one approver: fixed, so the README's device walk-through can name them.
pub const SEED_QI_ACCOUNT_KEY: &str = "00000000-0000-4000-8000-0000000000a1";
pub const SEED_QI_APPROVER_DOCUMENT: &str = "12345678909";
pub const SEED_QI_APPROVER_PHONE: &str = "+5511987654321";
pub const SEED_QI_APPROVER_EMAIL: &str = "aprovador@example.com";

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error(transparent)]
    Emulator(#[from] EmulatorError),
    #[error(transparent)]
    Function(#[from] InvokeError),
    #[error("{0}")]
    Setup(String),
}

pub struct StackOptions {
    pub root: PathBuf,
    pub bin_dir: PathBuf,
    pub endpoint: String,
    pub table_name: String,
    pub parameters: BTreeMap<String, String>,
    pub listen: SocketAddr,
    pub log_dir: Option<PathBuf>,
    pub seed: bool,
    /// Where some functions' AWS calls go instead of `endpoint`, by logical id (the bench's recording proxies).
    pub endpoints: BTreeMap<String, String>,
    /// Also the template's topics and queues, and its stream- and queue-driven functions, fed as Lambda feeds them.
    pub pipelines: bool,
}

pub struct Stack {
    pub address: SocketAddr,
    pub template: Template,
    pub table_name: String,
    pub parameters: BTreeMap<String, String>,
    /// The running functions, by logical id.
    pub functions: BTreeMap<String, Arc<FunctionHost>>,
    /// With `pipelines`: the topics and queues made for this stack.
    pub resources: Option<Resources>,
    server: tokio::task::JoinHandle<()>,
    pollers: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.server.abort();
        for poller in &self.pollers {
            poller.abort();
        }
    }
}

/// The project's local parameter values (`local/parameters.json`), as `sam deploy --parameter-overrides` would
/// give them; parameters it does not name take the template's defaults.
pub fn local_parameters(root: &Path) -> Result<BTreeMap<String, String>, StackError> {
    let path = root.join("local/parameters.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| StackError::Setup(format!("{}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| StackError::Setup(format!("{}: {e}", path.display())))
}

pub fn seed_admin() -> Result<User, StackError> {
    let parse = |what: &str| StackError::Setup(format!("seed: bad {what}"));
    Ok(User {
        id: SEED_ADMIN_ID.parse::<UserId>().map_err(|_| parse("id"))?,
        email: SEED_ADMIN_EMAIL
            .parse::<Email>()
            .map_err(|_| parse("email"))?,
        sms_number: "+15555550100"
            .parse::<PhoneNumber>()
            .map_err(|_| parse("phone"))?,
        primary_contact_number: "+15555550100"
            .parse::<PhoneNumber>()
            .map_err(|_| parse("phone"))?,
        secondary_contact_number: None,
        first_name: Some("Ada".to_owned().try_into().map_err(|_| parse("name"))?),
        last_name: Some("Admin".to_owned().try_into().map_err(|_| parse("name"))?),
        entity_id: None,
        company_name: None,
        roles: vec![Role::BackofficeAdmin],
        user_type: UserType::Backoffice,
        status: UserStatus::Enabled,
        // SMS to the number above, registered: `make outbox` shows the sign-in code (see the README).
        mfa_type: MfaType::Sms,
        mfa_status: MfaStatus::Registered,
        locked_out: false,
        locked_out_timestamp: None,
        created_at: time::OffsetDateTime::now_utc(),
        tokens_valid_after: None,
        password_hash: Some(
            password::hash(
                &SEED_ADMIN_PASSWORD
                    .to_owned()
                    .try_into()
                    .map_err(|_| parse("password"))?,
            )
            .map_err(|_| parse("password hash"))?,
        ),
        password_history: Vec::new(),
        failed_password_attempts: 0,
        totp: user_token_domain::domain::totp::TotpFactor::default(),
        version: 1,
    })
}

pub fn seed_widget() -> Result<Widget, StackError> {
    Widget::new(
        SEED_WIDGET_ID,
        "Sign-in (SMS, then email)",
        vec![
            WidgetChannel {
                channel: Channel::Sms,
                label: "SMS".into(),
            },
            WidgetChannel {
                channel: Channel::Email,
                label: "Email".into(),
            },
        ],
    )
    .map_err(|error| StackError::Setup(format!("seed: bad widget: {error}")))
}

/// An active QI account with one approver.
pub fn seed_qi_account() -> Result<Account, StackError> {
    let parse = |what: &str| StackError::Setup(format!("seed: bad {what}"));
    Ok(Account {
        account_key: SEED_QI_ACCOUNT_KEY
            .parse()
            .map_err(|_| parse("account key"))?,
        status: AccountStatus::Active,
        approvers: vec![Approver {
            document_number: SEED_QI_APPROVER_DOCUMENT
                .parse()
                .map_err(|_| parse("document number"))?,
            phone: SEED_QI_APPROVER_PHONE.parse().map_err(|_| parse("phone"))?,
            email: SEED_QI_APPROVER_EMAIL.parse().map_err(|_| parse("email"))?,
        }],
        created_at: time::OffsetDateTime::now_utc(),
    })
}

/// The table of a stack, as the template defines it, with the SES sender verified and, with `seed`, the seeded
/// admin, widget and QI account (each kept if it already exists).
pub async fn prepare_table(
    template: &Template,
    endpoint: &str,
    table_name: &str,
    parameters: &BTreeMap<String, String>,
    seed: bool,
) -> Result<(), StackError> {
    let sdk = sdk_config(endpoint).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    create_table(&dynamodb, template, table_name).await?;
    ensure_kms_keys(&aws_sdk_kms::Client::new(&sdk), template).await?;
    let sender = parameters
        .get("SesSender")
        .or_else(|| template.parameter_defaults.get("SesSender"));
    if let Some(sender) = sender {
        verify_sender(&aws_sdk_sesv2::Client::new(&sdk), sender).await?;
    }
    if seed {
        let store = DynamoStore::new(dynamodb, table_name.to_owned());
        match store.create_user(&seed_admin()?).await {
            Ok(()) | Err(user_token_domain::domain::DomainError::Conflict(_)) => {}
            Err(error) => return Err(StackError::Setup(format!("seeding the admin: {error}"))),
        }
        match store
            .create_widget(&seed_widget()?, time::OffsetDateTime::now_utc())
            .await
        {
            Ok(()) | Err(user_token_domain::domain::DomainError::Conflict(_)) => {}
            Err(error) => return Err(StackError::Setup(format!("seeding the widget: {error}"))),
        }
        match store.create_account(&seed_qi_account()?).await {
            Ok(()) | Err(user_token_domain::domain::DomainError::Conflict(_)) => {}
            Err(error) => {
                return Err(StackError::Setup(format!(
                    "seeding the QI account: {error}"
                )))
            }
        }
    }
    Ok(())
}

/// Where one function runs: its binary's directory, the emulator, the table and the parameter values.
pub struct FunctionSetup<'a> {
    pub bin_dir: &'a Path,
    pub endpoint: &'a str,
    pub table_name: &'a str,
    /// What `!Ref` gives: the parameter values, and the ARNs or URLs of the topics and queues made locally.
    pub parameters: &'a BTreeMap<String, String>,
}

/// A function's binary in `bin_dir`: `<binary>` as cargo builds it, else `<binary>/bootstrap` as cargo-lambda
/// builds it (`target/lambda`), else `<LogicalId>/bootstrap` as `sam build` leaves it (`.aws-sam/build`).
pub fn binary_path(bin_dir: &Path, function: &crate::template::Function) -> PathBuf {
    let candidates = [
        bin_dir.join(&function.binary),
        bin_dir.join(&function.binary).join("bootstrap"),
        bin_dir.join(&function.logical_id).join("bootstrap"),
    ];
    candidates
        .iter()
        .find(|path| path.is_file())
        .unwrap_or(&candidates[0])
        .clone()
}

/// Starts one function's binary on its own Runtime API, with the environment the template gives it (references to
/// the table and the parameters resolved locally) and the SDK pointed at the emulator.
pub async fn launch_function(
    template: &Template,
    function: &crate::template::Function,
    setup: &FunctionSetup<'_>,
    logs: Logs,
) -> Result<FunctionHost, StackError> {
    launch_function_with(template, function, setup, logs, &[]).await
}

/// `launch_function`, with some of the template's environment variables replaced (for example a shorter cooldown,
/// or the ARN of a topic the emulator made).
pub async fn launch_function_with(
    template: &Template,
    function: &crate::template::Function,
    setup: &FunctionSetup<'_>,
    logs: Logs,
    overrides: &[(&str, &str)],
) -> Result<FunctionHost, StackError> {
    let mut environment: Vec<(String, String)> = function
        .environment
        .iter()
        .filter_map(|(name, value)| {
            template
                .resolve(value, setup.table_name, setup.parameters)
                .map(|v| (name.clone(), v))
        })
        .collect();
    environment.extend(sdk_env(setup.endpoint));
    environment.push(("AWS_LAMBDA_LOG_FORMAT".into(), "JSON".into()));
    environment.push(("AWS_LAMBDA_LOG_LEVEL".into(), "INFO".into()));
    for (name, value) in overrides {
        environment.retain(|(existing, _)| existing != name);
        environment.push(((*name).to_owned(), (*value).to_owned()));
    }
    let binary = binary_path(setup.bin_dir, function);
    Ok(FunctionHost::start(Launch {
        name: &function.binary,
        binary: &binary,
        environment,
        timeout: Duration::from_secs(function.timeout_secs),
        logs,
    })
    .await?)
}

/// One poller task per event source of `function`, each handing its batches to `host`.
async fn start_event_sources(
    function: &crate::template::Function,
    host: Arc<FunctionHost>,
    resources: &Resources,
    options: &StackOptions,
) -> Result<Vec<tokio::task::JoinHandle<()>>, StackError> {
    let sdk = sdk_config(&options.endpoint).await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let missing = |queue: &str| {
        StackError::Setup(format!(
            "{}: the queue {queue} is not in the template",
            function.logical_id
        ))
    };
    let mut tasks = Vec::new();
    for source in &function.event_sources {
        let task = match source {
            EventSource::Stream(source) => {
                let on_failure_url = match &source.on_failure {
                    Some(queue) => Some(
                        resources
                            .refs
                            .get(queue)
                            .ok_or_else(|| missing(queue))?
                            .clone(),
                    ),
                    None => None,
                };
                let poller = StreamPoller {
                    streams: aws_sdk_dynamodbstreams::Client::new(&sdk),
                    sqs: sqs.clone(),
                    stream_arn: stream_arn(
                        &aws_sdk_dynamodb::Client::new(&sdk),
                        &options.table_name,
                    )
                    .await?,
                    source: source.clone(),
                    on_failure_url,
                    function: host.clone(),
                };
                tokio::spawn(poller.run())
            }
            EventSource::Queue { queue, batch_size } => {
                let poller = QueuePoller {
                    sqs: sqs.clone(),
                    queue_url: resources
                        .refs
                        .get(queue)
                        .ok_or_else(|| missing(queue))?
                        .clone(),
                    queue_arn: resources
                        .queue_arns
                        .get(queue)
                        .ok_or_else(|| missing(queue))?
                        .clone(),
                    batch_size: *batch_size,
                    function: host.clone(),
                };
                tokio::spawn(poller.run())
            }
        };
        tasks.push(task);
    }
    Ok(tasks)
}

impl Stack {
    pub async fn start(options: StackOptions) -> Result<Stack, StackError> {
        let template = Template::load(&options.root.join("template.yaml"))?;
        prepare_table(
            &template,
            &options.endpoint,
            &options.table_name,
            &options.parameters,
            options.seed,
        )
        .await?;
        if let Some(dir) = &options.log_dir {
            std::fs::create_dir_all(dir)
                .map_err(|e| StackError::Setup(format!("{}: {e}", dir.display())))?;
        }

        let resources = if options.pipelines {
            let sdk = sdk_config(&options.endpoint).await;
            Some(create_resources(&sdk, &template, &options.table_name).await?)
        } else {
            None
        };
        // `!Ref` names parameters and resources alike: the functions get the ARNs and URLs of this stack's own.
        let mut refs = options.parameters.clone();
        refs.extend(resources.iter().flat_map(|r| r.refs.clone()));
        let setup_for = |function: &crate::template::Function| FunctionSetup {
            bin_dir: &options.bin_dir,
            endpoint: options
                .endpoints
                .get(&function.logical_id)
                .unwrap_or(&options.endpoint),
            table_name: &options.table_name,
            parameters: &refs,
        };
        let log = |function: &crate::template::Function| match &options.log_dir {
            Some(dir) => Logs::File(dir.join(format!("{}.log", function.binary))),
            None => Logs::Inherit,
        };
        let mut pollers = Vec::new();
        if let Some(resources) = &resources {
            for function in template
                .functions
                .values()
                .filter(|function| !function.event_sources.is_empty())
            {
                let setup = setup_for(function);
                let host =
                    Arc::new(launch_function(&template, function, &setup, log(function)).await?);
                pollers.extend(start_event_sources(function, host, resources, &options).await?);
            }
        }
        let mut hosts = BTreeMap::new();
        let serves_http = |id: &String| {
            template.authorizer.as_ref() == Some(id)
                || template.routes.iter().any(|route| &route.function == id)
        };
        for function in template
            .functions
            .values()
            .filter(|function| serves_http(&function.logical_id))
        {
            let setup = setup_for(function);
            let host = launch_function(&template, function, &setup, log(function)).await?;
            hosts.insert(function.logical_id.clone(), Arc::new(host));
        }
        let targets = template
            .routes
            .iter()
            .filter_map(|route| {
                hosts.get(&route.function).map(|host| RouteTarget {
                    route: route.clone(),
                    segments: segments(&route.path),
                    function: host.clone(),
                })
            })
            .collect();
        let authorizer = template
            .authorizer
            .as_ref()
            .and_then(|id| hosts.get(id).cloned());
        let mut extra = Vec::new();
        if let Ok(document) = std::fs::read(options.root.join("openapi.yaml")) {
            extra.push((
                "GET".to_owned(),
                "/openapi.yaml".to_owned(),
                "application/yaml",
                document.into(),
            ));
        }
        let listener = TcpListener::bind(options.listen)
            .await
            .map_err(|e| StackError::Setup(format!("cannot listen on {}: {e}", options.listen)))?;
        let address = listener
            .local_addr()
            .map_err(|e| StackError::Setup(e.to_string()))?;
        let gateway = Arc::new(Gateway {
            targets,
            authorizer,
            extra,
            domain_name: address.to_string(),
        });
        let router = Router::new()
            .fallback(crate::gateway::handle)
            .with_state(gateway);
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Stack {
            address,
            template,
            table_name: options.table_name,
            parameters: options.parameters,
            functions: hosts,
            resources,
            server,
            pollers,
        })
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }
}
