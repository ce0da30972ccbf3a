//! `local-stack`: the Docker-free local stack.
//!
//! - `run [--port 3000] [--moto-port 5005] [--bin-dir target/debug]`: the emulator, the table, the seed, the API on
//!   the template's routes through the real function binaries, and the event-driven functions fed from the table's
//!   stream and the command queue. Ctrl-C stops everything.
//! - `token [--user UUID] [--account UUID] [--ttl SECONDS]`: a bearer token (the seeded admin's by default), whose
//!   `accountKeys` claim names the QI account given.
//! - `account [--moto-port 5005] [--key UUID] [--status active|blocked|closed|hub] [--document 11 DIGITS] [--phone
//!   E.164] [--email ADDRESS]`: creates a QI Tech account in the table of a running `run`, and prints its key.
//! - `outbox [--moto-port 5005]`: the SMS and emails that went out through the emulator.
//! - `events [--moto-port 5005]`: the domain events published by a running `run` since the last `events`.
//! - `command [--moto-port 5005] (--body JSON | --file PATH)`: sends a command to the command queue of a running
//!   `run`.
//! - `with-emulator -- COMMAND...`: runs COMMAND with a fresh emulator, its endpoint in `LOCAL_STACK_ENDPOINT`.
//! - `invoke FUNCTION EVENT [--bin-dir target/debug]`: the Docker-free `sam local invoke -e`. A fresh emulator, the
//!   table and the seed; runs that one function's binary (by crate or logical id) with the event file through the
//!   Runtime API, and prints its answer on stdout (the function's logs go to stderr). `<run make token>` in the event
//!   becomes a fresh token of the seeded admin.
//! - `bench [--bin-dir target/release] [--arm64-dir DIR] [--out bench] [--logs DIR] [--requests 1000]
//!   [--cold-runs 5]`: `make bench`'s measurements (see `local_stack::bench`); the functions' logs go to
//!   `<bin-dir>/bench-logs`; fails when a budget is missed.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::ExitCode;

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
use user_token_domain::domain::device::{Account, Approver};
#[allow(unused_imports)]
use user_token_domain::ports::{DeviceStore as _, SessionStore as _, UserStore as _};

const USAGE: &str =
    "usage: local-stack run|token|account|outbox|events|command|with-emulator|invoke|bench [options]";

/// What the sample events in `events/` hold where a bearer token goes.
const TOKEN_PLACEHOLDER: &str = "<run make token>";

/// The table of `run`.
const LOCAL_TABLE: &str = "users-tokens-local";

fn option(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
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

fn port(args: &[String], name: &str, default: u16) -> Result<u16, String> {
    option(args, name).map_or(Ok(default), |p| {
        p.parse().map_err(|_| format!("{name} takes a port number"))
    })
}

async fn run(args: &[String]) -> Result<(), String> {
    let http_port = port(args, "--port", 3000)?;
    let moto_port = port(args, "--moto-port", 5005)?;
    let bin_dir = option(args, "--bin-dir")
        .map(PathBuf::from)
        .unwrap_or_else(local_stack::bin_dir);
    let emulator = start_emulator(moto_port).await?;
    let parameters = local_parameters(&root()).map_err(|e| e.to_string())?;
    let stack = Stack::start(StackOptions {
        root: root(),
        bin_dir,
        endpoint: emulator.endpoint.clone(),
        table_name: LOCAL_TABLE.into(),
        parameters: parameters.clone(),
        listen: SocketAddr::from(([127, 0, 0, 1], http_port)),
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

fn token(args: &[String]) -> Result<(), String> {
    let template = Template::load(&root().join("template.yaml")).map_err(|e| e.to_string())?;
    let parameters = local_parameters(&root()).map_err(|e| e.to_string())?;
    let user = option(args, "--user")
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| SEED_ADMIN_ID.to_owned());
    let user = user.parse().map_err(|_| format!("{user} is not a UUID"))?;
    let ttl = option(args, "--ttl").map_or(Ok(3600), |t| {
        t.parse().map_err(|_| "--ttl takes seconds".to_owned())
    })?;
    let accounts: Vec<String> = option(args, "--account")
        .filter(|a| !a.is_empty())
        .into_iter()
        .collect();
    println!(
        "{}",
        local_stack::bearer_token_for_accounts(&template, &parameters, user, &accounts, ttl)?
    );
    Ok(())
}

async fn account(args: &[String]) -> Result<(), String> {
    let endpoint = emulator::endpoint(port(args, "--moto-port", 5005)?);
    let value =
        |name: &str, default: &str| option(args, name).unwrap_or_else(|| default.to_owned());
    let bad = |name: &str, reason: &str| format!("{name}: {reason}");
    let key = match option(args, "--key") {
        Some(key) => key.parse().map_err(|reason| bad("--key", reason))?,
        None => user_token_domain::domain::AccountKey::random(),
    };
    let account = Account {
        account_key: key,
        status: value("--status", "active")
            .parse()
            .map_err(|reason| bad("--status", reason))?,
        approvers: vec![Approver {
            document_number: value("--document", SEED_QI_APPROVER_DOCUMENT)
                .parse()
                .map_err(|reason| bad("--document", reason))?,
            phone: value("--phone", SEED_QI_APPROVER_PHONE)
                .parse()
                .map_err(|reason| bad("--phone", reason))?,
            email: value("--email", SEED_QI_APPROVER_EMAIL)
                .parse()
                .map_err(|reason| bad("--email", reason))?,
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

async fn outbox(args: &[String]) -> Result<(), String> {
    let endpoint = emulator::endpoint(port(args, "--moto-port", 5005)?);
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

async fn events(args: &[String]) -> Result<(), String> {
    let endpoint = emulator::endpoint(port(args, "--moto-port", 5005)?);
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

async fn command(args: &[String]) -> Result<(), String> {
    let endpoint = emulator::endpoint(port(args, "--moto-port", 5005)?);
    let body = match (option(args, "--body"), option(args, "--file")) {
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

async fn with_emulator(args: &[String]) -> Result<ExitCode, String> {
    let command: Vec<&String> = args.iter().skip_while(|a| *a != "--").skip(1).collect();
    let (program, rest) = command.split_first().ok_or("with-emulator -- COMMAND...")?;
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

async fn invoke(args: &[String]) -> Result<ExitCode, String> {
    let usage = "invoke FUNCTION EVENT [--bin-dir DIR]";
    let positional: Vec<&String> = args
        .iter()
        .skip(1)
        .scan(false, |after_flag, arg| {
            let value = (!*after_flag && !arg.starts_with("--")).then_some(arg);
            *after_flag = arg.starts_with("--");
            Some(value)
        })
        .flatten()
        .collect();
    let [name, event_path] = positional[..] else {
        return Err(usage.to_owned());
    };
    let bin_dir = option(args, "--bin-dir")
        .map(PathBuf::from)
        .unwrap_or_else(local_stack::bin_dir);
    let template = Template::load(&root().join("template.yaml")).map_err(|e| e.to_string())?;
    let function = template
        .functions
        .values()
        .find(|f| &f.binary == name || &f.logical_id == name)
        .ok_or_else(|| format!("{name} is not a function of template.yaml"))?
        .clone();
    let parameters = local_parameters(&root()).map_err(|e| e.to_string())?;
    let event_text =
        std::fs::read_to_string(event_path).map_err(|e| format!("{event_path}: {e}"))?;
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
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some("run") => run(&args).await.map(|_| ExitCode::SUCCESS),
        Some("token") => token(&args).map(|_| ExitCode::SUCCESS),
        Some("account") => account(&args).await.map(|_| ExitCode::SUCCESS),
        Some("outbox") => outbox(&args).await.map(|_| ExitCode::SUCCESS),
        Some("events") => events(&args).await.map(|_| ExitCode::SUCCESS),
        Some("command") => command(&args).await.map(|_| ExitCode::SUCCESS),
        Some("with-emulator") => with_emulator(&args).await,
        Some("invoke") => invoke(&args).await,
        // The bench times a fresh process's first argon2id operations through this.
        Some("fresh-key-stretch") => {
            local_stack::bench::fresh_key_stretch(&args).map(|_| ExitCode::SUCCESS)
        }
        Some("bench") => local_stack::bench::main(&args, root()).await.map(|kept| {
            if kept {
                ExitCode::SUCCESS
            } else {
                eprintln!("local-stack: bench: a budget was missed (see the table)");
                ExitCode::FAILURE
            }
        }),
        _ => Err(USAGE.to_owned()),
    };
    outcome.unwrap_or_else(|error| {
        eprintln!("local-stack: {error}");
        ExitCode::FAILURE
    })
}
