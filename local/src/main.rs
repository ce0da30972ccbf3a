//! `local-stack`: the Docker-free local stack. `run` serves the API on the template's routes through the real
//! function binaries, against the moto emulator; `token`, `account`, `outbox`, `events` and `command` work on a
//! running `run`; `with-emulator` runs a command (`make test`) next to a fresh emulator; `invoke` is the Docker-free
//! `sam local invoke -e`; `bench` is `make bench`. `local-stack --help` and `local-stack COMMAND --help` tell the rest.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use local_stack::emulator::{self, Emulator};
use local_stack::pipelines::{resource_name, tap_name, Tap};
use local_stack::runtime_api::Logs;
use local_stack::stack::{
    launch_function, local_parameters, prepare_table, FunctionSetup, Stack, StackOptions,
    SEED_ADMIN_EMAIL, SEED_ADMIN_ID, SEED_QI_ACCOUNT_KEY, SEED_QI_APPROVER_DOCUMENT,
    SEED_QI_APPROVER_EMAIL, SEED_QI_APPROVER_PHONE, SEED_WIDGET_ID,
};
use local_stack::template::{EventSource, Template};
use user_token_domain::adapters::dynamodb::DynamoStore;
use user_token_domain::domain::device::{Account, AccountStatus, Approver, DocumentNumber};
use user_token_domain::domain::{AccountKey, Email, PhoneNumber};
#[allow(unused_imports)]
use user_token_domain::ports::{DeviceStore as _, SessionStore as _, UserStore as _};

/// What the sample events in `events/` hold where a bearer token goes.
const TOKEN_PLACEHOLDER: &str = "<run make token>";

/// The table of `run`.
const LOCAL_TABLE: &str = "users-tokens-local";

/// The emulator's port of `run`, and so where the commands that work on a running `run` look for it.
const RUN_MOTO_PORT: u16 = 5005;

/// The Docker-free local stack: the moto emulator, the table of template.yaml, and an API Gateway stand-in that runs
/// the real function binaries over the Lambda Runtime API.
#[derive(Debug, Parser)]
#[command(name = "local-stack")]
struct Cli {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Serves the API locally until Ctrl-C.
    ///
    /// The emulator, the table, the seed, the API on the template's routes through the real function binaries, and
    /// the event-driven functions fed from the table's stream and the command queue. Ctrl-C stops everything.
    Run(RunArgs),
    /// Prints a bearer token, the seeded admin's by default.
    Token(TokenArgs),
    /// Creates a QI Tech account in the table of a running `run`, and prints its key.
    Account(AccountArgs),
    /// The SMS and emails that went out through the emulator of a running `run`.
    Outbox(RunningEmulator),
    /// The domain events published by a running `run` since the last `events`.
    Events(RunningEmulator),
    /// Sends a command (JSON) to the command queue of a running `run`.
    Command(CommandArgs),
    /// Runs COMMAND with a fresh emulator, its endpoint in `LOCAL_STACK_ENDPOINT`; exits with COMMAND's status.
    WithEmulator(WithEmulatorArgs),
    /// Runs one function's binary with one event: the Docker-free `sam local invoke -e`.
    ///
    /// A fresh emulator, the table and the seed; runs that one function's binary with the event through the Runtime
    /// API, and prints its answer on stdout (the function's logs go to stderr).
    Invoke(InvokeArgs),
    /// `make bench`'s measurements (see `local_stack::bench`); fails when a budget is missed.
    Bench(BenchArgs),
    /// The bench's own probe: OPERATIONS checks of the bench's password against HASH, first thing in a fresh
    /// process; prints their total time in microseconds.
    #[command(hide = true)]
    FreshKeyStretch {
        /// An argon2id hash of the bench's password.
        hash: String,
        operations: u32,
    },
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The API's port on 127.0.0.1.
    #[arg(long, default_value_t = 3000)]
    port: u16,
    /// The emulator's port on 127.0.0.1.
    #[arg(long, value_name = "PORT", default_value_t = RUN_MOTO_PORT)]
    moto_port: u16,
    #[command(flatten)]
    binaries: FunctionBinaries,
}

#[derive(Debug, Args)]
struct FunctionBinaries {
    /// Where the function binaries are [default: $LOCAL_STACK_BIN_DIR, else $CARGO_TARGET_DIR/debug, else
    /// $PROJECT_ROOT/target/debug]
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
}

impl FunctionBinaries {
    fn dir(self) -> PathBuf {
        self.bin_dir.unwrap_or_else(local_stack::bin_dir)
    }
}

#[derive(Debug, Args)]
struct TokenArgs {
    /// The token's user [default: the seeded admin]
    // An empty value, or none (`make token USER=` passes `--user` alone), means the default too.
    #[arg(long, value_name = "UUID", num_args = 0..=1, default_missing_value = "")]
    user: Option<String>,
    /// A QI account the token's `accountKeys` claim names [default: none]
    #[arg(long, value_name = "UUID")]
    account: Option<String>,
    /// How long the token lasts (a negative one is already expired).
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 3600,
        allow_negative_numbers = true
    )]
    ttl: i64,
}

/// The emulator of a running `run`.
#[derive(Debug, Args)]
struct RunningEmulator {
    /// The port of the emulator of the running `run`.
    #[arg(long, value_name = "PORT", default_value_t = RUN_MOTO_PORT)]
    moto_port: u16,
}

impl RunningEmulator {
    fn endpoint(&self) -> String {
        emulator::endpoint(self.moto_port)
    }
}

#[derive(Debug, Args)]
struct AccountArgs {
    #[command(flatten)]
    running: RunningEmulator,
    /// The account's key [default: a random one]
    #[arg(long, value_name = "UUID")]
    key: Option<AccountKey>,
    /// active, blocked, closed or hub.
    #[arg(long, default_value = "active")]
    status: AccountStatus,
    /// The approver's document number (CPF).
    #[arg(long, value_name = "11 DIGITS", default_value = SEED_QI_APPROVER_DOCUMENT)]
    document: DocumentNumber,
    /// The approver's phone.
    #[arg(long, value_name = "E.164", default_value = SEED_QI_APPROVER_PHONE)]
    phone: PhoneNumber,
    /// The approver's email.
    #[arg(long, value_name = "ADDRESS", default_value = SEED_QI_APPROVER_EMAIL)]
    email: Email,
}

#[derive(Debug, Args)]
struct CommandArgs {
    #[command(flatten)]
    running: RunningEmulator,
    /// The command.
    #[arg(long, value_name = "JSON")]
    body: Option<String>,
    /// A file holding the command, read when there is no --body.
    #[arg(long, value_name = "PATH")]
    file: Option<String>,
}

#[derive(Debug, Args)]
struct WithEmulatorArgs {
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<String>,
}

#[derive(Debug, Args)]
struct InvokeArgs {
    /// The function: its crate (binary) or its logical id in template.yaml.
    function: String,
    /// The event file (JSON); `<run make token>` in it becomes a fresh token of the seeded admin.
    event: PathBuf,
    #[command(flatten)]
    binaries: FunctionBinaries,
}

#[derive(Debug, Args)]
struct BenchArgs {
    /// The x86_64 release binaries, run and measured [default: $PROJECT_ROOT/target/release]
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
    /// The arm64 release build of cargo-lambda (`DIR/<binary>/bootstrap`), measured for size only.
    #[arg(long, value_name = "DIR")]
    arm64_dir: Option<PathBuf>,
    /// Where results.md and results.json go [default: $PROJECT_ROOT/bench]
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// The functions' logs [default: BIN_DIR/bench-logs]
    #[arg(long, value_name = "DIR")]
    logs: Option<PathBuf>,
    /// Warm requests per function.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    requests: usize,
    /// Cold starts per function.
    #[arg(long, value_name = "N", default_value_t = 5)]
    cold_runs: usize,
    /// The emulator's port on 127.0.0.1; 0 picks a free one.
    #[arg(long, value_name = "PORT", default_value_t = 0)]
    moto_port: u16,
}

impl BenchArgs {
    /// The options, with the defaults that depend on the project's root.
    fn options(self, root: PathBuf) -> local_stack::bench::Options {
        let bin_dir = self.bin_dir.unwrap_or_else(|| root.join("target/release"));
        local_stack::bench::Options {
            log_dir: self.logs.unwrap_or_else(|| bin_dir.join("bench-logs")),
            bin_dir,
            arm64_dir: self.arm64_dir,
            out_dir: self.out.unwrap_or_else(|| root.join("bench")),
            requests: self.requests,
            cold_runs: self.cold_runs,
            moto_port: self.moto_port,
            root,
        }
    }
}

fn root() -> PathBuf {
    std::env::var_os("PROJECT_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

async fn start_emulator(port: u16) -> Result<Emulator, String> {
    let root = root();
    Emulator::start(
        &root.join(".venv/bin/python"),
        &root.join("local/moto_serial.py"),
        port,
    )
    .await
    .map_err(|e| e.to_string())
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

async fn run(args: RunArgs) -> Result<(), String> {
    let emulator = start_emulator(args.moto_port).await?;
    let parameters = local_parameters(&root()).map_err(|e| e.to_string())?;
    let stack = Stack::start(StackOptions {
        root: root(),
        bin_dir: args.binaries.dir(),
        endpoint: emulator.endpoint.clone(),
        table_name: LOCAL_TABLE.into(),
        parameters: parameters.clone(),
        listen: SocketAddr::from(([127, 0, 0, 1], args.port)),
        log_dir: None,
        seed: true,
        endpoints: Default::default(),
        pipelines: true,
    })
    .await
    .map_err(|e| e.to_string())?;
    let admin = SEED_ADMIN_ID
        .parse()
        .map_err(|_| "bad seed id".to_owned())?;
    let token = local_stack::bearer_token(&stack.template, &parameters, admin, 12 * 3600)?;
    println!("Local API:      {}", stack.base_url());
    println!(
        "Emulator:       {} (DynamoDB table {} and its stream, SNS, SQS, SES)",
        emulator.endpoint, stack.table_name
    );
    if let Some(resources) = &stack.resources {
        for (id, reference) in &resources.refs {
            println!("  {id:<24} {reference}");
        }
        println!(
            "  {:<24} {} (`make events`)",
            "events tap", resources.tap_url
        );
    }
    println!("Seeded admin:   {SEED_ADMIN_ID} <{SEED_ADMIN_EMAIL}> velo.backoffice.admin");
    println!("Seeded widget:  {SEED_WIDGET_ID} (Sigma OTP: sms, then email)");
    println!(
        "QI account:     {SEED_QI_ACCOUNT_KEY} (active), approver {SEED_QI_APPROVER_DOCUMENT} \
         {SEED_QI_APPROVER_PHONE} <{SEED_QI_APPROVER_EMAIL}>"
    );
    println!("Routes:");
    for route in &stack.template.routes {
        println!(
            "  {:<6} {}  -> {}",
            route.method, route.path, route.function
        );
    }
    println!("Admin token (12 h; `make token` prints a fresh one):\n{token}");
    println!("Ctrl-C stops the stack.");
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| e.to_string())?;
    tokio::select! {
        stopped = tokio::signal::ctrl_c() => stopped.map_err(|e| e.to_string())?,
        _ = terminate.recv() => {}
    }
    println!("stopping");
    drop(stack);
    emulator.stop().await;
    Ok(())
}

fn token(args: TokenArgs) -> Result<(), String> {
    let template = Template::load(&root().join("template.yaml")).map_err(|e| e.to_string())?;
    let parameters = local_parameters(&root()).map_err(|e| e.to_string())?;
    let user = args
        .user
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| SEED_ADMIN_ID.to_owned());
    let user = user.parse().map_err(|_| format!("{user} is not a UUID"))?;
    let accounts: Vec<String> = args.account.filter(|a| !a.is_empty()).into_iter().collect();
    println!(
        "{}",
        local_stack::bearer_token_for_accounts(&template, &parameters, user, &accounts, args.ttl)?
    );
    Ok(())
}

async fn account(args: AccountArgs) -> Result<(), String> {
    let endpoint = args.running.endpoint();
    let key = args.key.unwrap_or_else(AccountKey::random);
    let account = Account {
        account_key: key,
        status: args.status,
        approvers: vec![Approver {
            document_number: args.document,
            phone: args.phone,
            email: args.email,
        }],
        created_at: time::OffsetDateTime::now_utc(),
    };
    let sdk = emulator::sdk_config(&endpoint).await;
    DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), LOCAL_TABLE)
        .create_account(&account)
        .await
        .map_err(|e| format!("{e} (is `make run` running?)"))?;
    println!("{key}");
    Ok(())
}

async fn outbox(running_emulator: RunningEmulator) -> Result<(), String> {
    let endpoint = running_emulator.endpoint();
    let outbox = emulator::outbox(&endpoint)
        .await
        .map_err(|e| format!("{e} (is `make run` running?)"))?;
    println!("SMS ({}):", outbox.sms.len());
    for sms in &outbox.sms {
        println!("  to {}: {}", sms.phone_number, sms.message);
    }
    println!("Email ({}):", outbox.emails.len());
    for email in &outbox.emails {
        println!(
            "  to {} from {}: {}\n    {}",
            email.to.join(", "),
            email.source,
            email.subject,
            email.body
        );
    }
    Ok(())
}

async fn events(running_emulator: RunningEmulator) -> Result<(), String> {
    let endpoint = running_emulator.endpoint();
    let sqs = aws_sdk_sqs::Client::new(&emulator::sdk_config(&endpoint).await);
    let running = |e: emulator::EmulatorError| format!("{e} (is `make run` running?)");
    let tap = Tap::open(sqs, &tap_name(LOCAL_TABLE))
        .await
        .map_err(running)?;
    let published = tap.drain().await.map_err(running)?;
    for event in &published {
        let event_type = event.event["eventType"].as_str().unwrap_or("?");
        println!("{event_type:<20} {}", event.raw);
    }
    eprintln!("({} events since the last `make events`)", published.len());
    Ok(())
}

async fn send_command(args: CommandArgs) -> Result<(), String> {
    let endpoint = args.running.endpoint();
    let body = match (args.body, args.file) {
        (Some(body), _) if !body.is_empty() => body,
        (_, Some(path)) if !path.is_empty() => {
            std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?
        }
        _ => return Err("command (--body JSON | --file PATH)".to_owned()),
    };
    let template = Template::load(&root().join("template.yaml")).map_err(|e| e.to_string())?;
    let queue = template
        .functions
        .values()
        .flat_map(|f| &f.event_sources)
        .find_map(|source| match source {
            EventSource::Queue { queue, .. } => Some(queue.clone()),
            EventSource::Stream(_) => None,
        })
        .ok_or("no function of template.yaml reads a queue")?;
    let sqs = aws_sdk_sqs::Client::new(&emulator::sdk_config(&endpoint).await);
    let url = sqs
        .get_queue_url()
        .queue_name(resource_name(LOCAL_TABLE, &queue))
        .send()
        .await
        .map_err(|e| format!("{queue}: {e} (is `make run` running?)"))?
        .queue_url
        .unwrap_or_default();
    let sent = sqs
        .send_message()
        .queue_url(&url)
        .message_body(body)
        .send()
        .await
        .map_err(|e| format!("{queue}: {e}"))?;
    println!(
        "sent message {} to {url}",
        sent.message_id().unwrap_or_default()
    );
    Ok(())
}

async fn with_emulator(args: WithEmulatorArgs) -> Result<ExitCode, String> {
    let (program, rest) = args
        .command
        .split_first()
        .ok_or("with-emulator -- COMMAND...")?;
    let emulator = start_emulator(free_port()?).await?;
    let status = tokio::process::Command::new(program)
        .args(rest)
        .env("LOCAL_STACK_ENDPOINT", &emulator.endpoint)
        .status()
        .await
        .map_err(|e| format!("{program}: {e}"))?;
    emulator.stop().await;
    Ok(ExitCode::from(
        status.code().unwrap_or(1).clamp(0, 255) as u8
    ))
}

async fn invoke(args: InvokeArgs) -> Result<ExitCode, String> {
    let name = &args.function;
    let event_path = args.event.display();
    let bin_dir = args.binaries.dir();
    let template = Template::load(&root().join("template.yaml")).map_err(|e| e.to_string())?;
    let function = template
        .functions
        .values()
        .find(|f| &f.binary == name || &f.logical_id == name)
        .ok_or_else(|| format!("{name} is not a function of template.yaml"))?
        .clone();
    let parameters = local_parameters(&root()).map_err(|e| e.to_string())?;
    let event_text =
        std::fs::read_to_string(&args.event).map_err(|e| format!("{event_path}: {e}"))?;
    let event = if event_text.contains(TOKEN_PLACEHOLDER) {
        let admin = SEED_ADMIN_ID
            .parse()
            .map_err(|_| "bad seed id".to_owned())?;
        let token = local_stack::bearer_token(&template, &parameters, admin, 3600)?;
        event_text.replace(TOKEN_PLACEHOLDER, &token)
    } else {
        event_text
    };
    let event: serde_json::Value =
        serde_json::from_str(&event).map_err(|e| format!("{event_path}: not JSON: {e}"))?;

    let emulator = start_emulator(free_port()?).await?;
    let answer = async {
        prepare_table(
            &template,
            &emulator.endpoint,
            LOCAL_TABLE,
            &parameters,
            true,
        )
        .await
        .map_err(|e| e.to_string())?;
        let setup = FunctionSetup {
            bin_dir: &bin_dir,
            endpoint: &emulator.endpoint,
            table_name: LOCAL_TABLE,
            parameters: &parameters,
        };
        let host = launch_function(&template, &function, &setup, Logs::Stderr)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(host.invoke(&event).await)
    }
    .await;
    emulator.stop().await;
    match answer? {
        Ok(answer) => {
            let text = serde_json::to_string_pretty(&answer).map_err(|e| e.to_string())?;
            println!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("local-stack: {}: {error}", function.binary);
            Ok(ExitCode::FAILURE)
        }
    }
}

// One thread: each hop between the gateway, a function's Runtime API and the bench's proxy is then a task switch, not
// a wake-up of another thread, which made each invocation's round trip several times longer.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.action {
        Action::Run(args) => run(args).await.map(|()| ExitCode::SUCCESS),
        Action::Token(args) => token(args).map(|()| ExitCode::SUCCESS),
        Action::Account(args) => account(args).await.map(|()| ExitCode::SUCCESS),
        Action::Outbox(running_emulator) => {
            outbox(running_emulator).await.map(|()| ExitCode::SUCCESS)
        }
        Action::Events(running_emulator) => {
            events(running_emulator).await.map(|()| ExitCode::SUCCESS)
        }
        Action::Command(args) => send_command(args).await.map(|()| ExitCode::SUCCESS),
        Action::WithEmulator(args) => with_emulator(args).await,
        Action::Invoke(args) => invoke(args).await,
        Action::FreshKeyStretch { hash, operations } => {
            local_stack::bench::fresh_key_stretch(&hash, operations).map(|()| ExitCode::SUCCESS)
        }
        Action::Bench(args) => local_stack::bench::main(args.options(root()))
            .await
            .map(|kept| {
                if kept {
                    ExitCode::SUCCESS
                } else {
                    eprintln!("local-stack: bench: a budget was missed (see the table)");
                    ExitCode::FAILURE
                }
            }),
    };
    outcome.unwrap_or_else(|error| {
        eprintln!("local-stack: {error}");
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("local-stack").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_misspelt_flag_is_an_error() {
        let kind = parse(&["run", "--prot", "3000"]).err().map(|e| e.kind());
        assert_eq!(kind, Some(ErrorKind::UnknownArgument));
    }

    #[test]
    fn a_bad_value_is_an_error() {
        for args in [
            &["run", "--port", "http"][..],
            &["run", "--moto-port", "70000"],
            &["token", "--ttl", "soon"],
            &["account", "--status", "open"],
            &["account", "--key", "not-a-uuid"],
            &["account", "--document", "123"],
            &["bench", "--requests", "many"],
        ] {
            let kind = parse(args).err().map(|e| e.kind());
            assert_eq!(kind, Some(ErrorKind::ValueValidation), "{args:?}");
        }
    }

    #[test]
    fn run_defaults_to_the_ports_3000_and_5005() {
        match parse(&["run"]) {
            Ok(Cli {
                action: Action::Run(run),
            }) => {
                assert_eq!((run.port, run.moto_port), (3000, 5005));
                assert_eq!(run.binaries.bin_dir, None);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn with_emulator_runs_everything_after_the_double_dash() {
        let command_of = |args: &[&str]| match parse(args) {
            Ok(Cli {
                action: Action::WithEmulator(with),
            }) => with.command,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            command_of(&["with-emulator", "--", "cargo", "test", "--workspace"]),
            ["cargo", "test", "--workspace"]
        );
        assert_eq!(
            command_of(&[
                "with-emulator",
                "--",
                "cargo",
                "test",
                "x::",
                "--",
                "--ignored"
            ]),
            ["cargo", "test", "x::", "--", "--ignored"]
        );
        assert!(parse(&["with-emulator"]).is_err());
        assert!(parse(&["with-emulator", "cargo", "test"]).is_err());
    }

    #[test]
    fn a_token_with_an_empty_user_is_the_seeded_admins() {
        match parse(&[
            "token",
            "--user",
            "--account",
            SEED_QI_ACCOUNT_KEY,
            "--ttl",
            "-60",
        ]) {
            Ok(Cli {
                action: Action::Token(token),
            }) => {
                assert_eq!(token.user.as_deref(), Some(""));
                assert_eq!(token.account.as_deref(), Some(SEED_QI_ACCOUNT_KEY));
                assert_eq!(token.ttl, -60);
            }
            other => panic!("{other:?}"),
        }
    }

    /// What the Makefile and the tests run.
    #[test]
    fn every_invocation_of_the_project_parses() {
        let uuid = SEED_ADMIN_ID;
        for args in [
            &["run", "--port", "3000", "--moto-port", "5005"][..],
            &["with-emulator", "--", "cargo", "test", "--workspace"],
            &[
                "with-emulator",
                "--",
                "cargo",
                "test",
                "-p",
                "api-tests",
                "--test",
                "suite",
            ],
            &["invoke", "get-user", "events/get-user.json"],
            &[
                "invoke",
                "get-user",
                "events/get-user.json",
                "--bin-dir",
                "target/lambda",
            ],
            &["invoke", "authorizer", "/project/events/authorizer.json"],
            &[
                "bench",
                "--bin-dir",
                "t/release",
                "--arm64-dir",
                "t/arm64",
                "--out",
                "bench",
            ],
            &[
                "bench",
                "--requests",
                "1000",
                "--cold-runs",
                "5",
                "--logs",
                "l",
            ],
            &["token"],
            &["token", "--user", uuid, "--account", uuid],
            &["token", "--user"],
            &["account"],
            &["account", "--status", "hub", "--document", "12345678909"],
            &[
                "account",
                "--phone",
                "+5511987654321",
                "--email",
                "a@example.com",
            ],
            &["outbox", "--moto-port", "5005"],
            &["events", "--moto-port", "5005"],
            &[
                "command",
                "--moto-port",
                "5005",
                "--body",
                r#"{"command":"enableUser"}"#,
            ],
            &["command", "--moto-port", "5005", "--file", "command.json"],
            &[
                "fresh-key-stretch",
                "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
                "1",
            ],
        ] {
            if let Err(error) = parse(args) {
                panic!("{args:?}: {error}");
            }
        }
    }
}
