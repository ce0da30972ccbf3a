//! `make bench`: size, cold start, memory, warm latency and AWS calls per request of every function, next to a
//! floor (a hello function built with the same profile), with the budgets the README states.
//!
//! Every AWS call of every function goes through a recording proxy in front of the emulator, so the calls per
//! request are counted and the emulator's own time ("raw") is measured in the same run as the latency it is part
//! of.

pub mod proxy;
mod report;
mod scenarios;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::emulator::{outbox, Emulator};
use crate::runtime_api::{FunctionHost, Launch, Logs};
use crate::stack::{
    launch_function, local_parameters, prepare_table, FunctionSetup, SEED_ADMIN_ID,
};
use crate::template::{Function, Template};
use proxy::{Call, CallKind, Recorder};
pub use report::Budgets;
use report::{FunctionReport, Spread, WarmReport};
use user_token_domain::adapters::dynamodb::DynamoStore;
use user_token_domain::domain::apikey::{ApiKey, Application, KeyDetails};
use user_token_domain::domain::password;
use user_token_domain::domain::token::CodeHasher;
use user_token_domain::ports::ApiKeyStore as _;

/// What the sample events in `events/` hold where a bearer token goes.
const TOKEN_PLACEHOLDER: &str = "<run make token>";

/// The seeded admin's number (`stack::seed_admin`): where its sign-in codes go.
const SEED_ADMIN_PHONE: &str = "+15555550100";

/// The benchmark's own parameter values, over the local ones: no resend cooldown, and a send quota and SMS budgets
/// that never bind, so that a thousand resends in a row are a thousand accepted resends.
const BENCH_PARAMETERS: [(&str, &str); 5] = [
    ("ResendCooldownSeconds", "0"),
    ("SendQuota", "1000000"),
    ("SmsCallerBudget", "1000000"),
    ("SmsTenantBudget", "1000000"),
    ("SmsHourlyCeiling", "8000000"),
];

pub struct Options {
    pub root: PathBuf,
    /// The x86_64 release binaries (`target/release`), run here.
    pub bin_dir: PathBuf,
    /// The arm64 release build of cargo-lambda (`<dir>/<binary>/bootstrap`), measured for size only.
    pub arm64_dir: Option<PathBuf>,
    pub out_dir: PathBuf,
    /// The functions' logs (`<bin-dir>/bench-logs` unless `--logs` names another): build output, not results.
    pub log_dir: PathBuf,
    pub requests: usize,
    pub cold_runs: usize,
    pub moto_port: u16,
}

/// How one function is judged against the budgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    Read,
    Listing,
    Change,
    Resend,
    /// Answers a signed access token (KMS `Sign`): a sign-in, a second factor, a refresh.
    SignIn,
    Authorizer,
    Pipeline,
    /// Run once per deployment (`bootstrap-admin`): a warm run would be refused, so it is measured cold, on the empty
    /// table it is meant for, with its calls and memory from those runs.
    Once,
    Floor,
}

/// The class of a function measured only cold, if it is one.
fn cold_only(binary: &str) -> Option<Class> {
    (binary == "bootstrap-admin").then_some(Class::Once)
}

/// The calls of one request, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CallCounts {
    pub reads: u32,
    pub queries: u32,
    pub scans: u32,
    pub writes: u32,
    pub transactions: u32,
    pub sends: u32,
    pub signs: u32,
    pub other: u32,
}

impl CallCounts {
    fn of<'a>(calls: impl Iterator<Item = &'a Call>) -> CallCounts {
        let mut counts = CallCounts::default();
        for call in calls {
            let slot = match call.kind() {
                CallKind::Read => &mut counts.reads,
                CallKind::Query => &mut counts.queries,
                CallKind::Scan => &mut counts.scans,
                CallKind::Write => &mut counts.writes,
                CallKind::Transaction => &mut counts.transactions,
                CallKind::Send => &mut counts.sends,
                CallKind::Sign => &mut counts.signs,
                CallKind::Other => &mut counts.other,
            };
            *slot += 1;
        }
        counts
    }

    /// The most of each kind over several requests.
    fn most(self, other: CallCounts) -> CallCounts {
        CallCounts {
            reads: self.reads.max(other.reads),
            queries: self.queries.max(other.queries),
            scans: self.scans.max(other.scans),
            writes: self.writes.max(other.writes),
            transactions: self.transactions.max(other.transactions),
            sends: self.sends.max(other.sends),
            signs: self.signs.max(other.signs),
            other: self.other.max(other.other),
        }
    }
}

/// One timed request: its latency, the emulator's time for the AWS calls it made, its deliberate work (argon2id key
/// stretching), and the handler's calls.
struct Sample {
    latency: Duration,
    raw: Duration,
    work: Duration,
    calls: CallCounts,
}

/// argon2id operations that a function's sample event (`events/`) makes on the seeded admin, who has one password
/// hash and no history: checking the old password and hashing the new one, or checking a candidate (or a sign-in's
/// password) against the one hash.
fn sample_key_stretches(binary: &str) -> u32 {
    match binary {
        "update-password-self" => 2,
        "validate-password-self" | "authenticate" => 1,
        _ => 0,
    }
}

/// One argon2id operation with the service's parameters: the unit of a password operation's deliberate work. It is
/// CPU-bound and the same in a function, whose argon2 is built with the same optimisation.
struct KeyStretch {
    /// The median of the checks after a first, in this process.
    steady: Duration,
    /// A fresh process's first, which also faults in argon2id's 19 MiB, as a function's first request does (a
    /// memory-hard hash's memory is part of its cost): the median of `FRESH_PROCESS_RUNS` processes'.
    first: Duration,
    /// This program, which times a fresh process's operations (`fresh_key_stretch`).
    program: PathBuf,
    /// A hash of `KEY_STRETCH_PASSWORD` to check.
    stored: String,
}

const KEY_STRETCH_PASSWORD: &str = "harbour lights at dusk 1906";
const FRESH_PROCESS_RUNS: usize = 5;

impl KeyStretch {
    fn time() -> Result<KeyStretch, String> {
        let password: password::Password = KEY_STRETCH_PASSWORD
            .to_owned()
            .try_into()
            .map_err(|_| "password")?;
        let stored = password::hash(&password).map_err(|e| e.to_string())?;
        let checks: Option<Vec<Duration>> = (0..9).map(|_| timed_checks(&stored, 1)).collect();
        let mut key_stretch = KeyStretch {
            steady: median(checks.ok_or("argon2id did not verify its own hash")?)?,
            first: Duration::ZERO,
            program: std::env::current_exe()
                .map_err(|e| format!("the bench's own program: {e}"))?,
            stored,
        };
        let firsts = (0..FRESH_PROCESS_RUNS)
            .map(|_| key_stretch.fresh(1))
            .collect::<Result<Vec<_>, String>>()?;
        key_stretch.first = median(firsts)?;
        Ok(key_stretch)
    }

    /// The work of a fresh process's first `operations`, timed now in a fresh process: a cold start's work is timed
    /// next to it, as argon2id's speed (memory-bound) drifts with what else the machine does.
    fn fresh(&self, operations: u32) -> Result<Duration, String> {
        if operations == 0 {
            return Ok(Duration::ZERO);
        }
        let output = std::process::Command::new(&self.program)
            .args(["fresh-key-stretch", &self.stored, &operations.to_string()])
            .output()
            .map_err(|e| format!("fresh-key-stretch: {e}"))?;
        let micros: u64 = String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .map_err(|_| "fresh-key-stretch: argon2id did not verify its own hash")?;
        Ok(Duration::from_micros(micros))
    }
}

/// `local-stack fresh-key-stretch <hash> <n>`: `n` checks of the bench's password against `<hash>`, first thing in
/// a fresh process, as a function's first request makes them. Prints their total time in microseconds.
pub fn fresh_key_stretch(stored: &str, operations: u32) -> Result<(), String> {
    let took = timed_checks(stored, operations).ok_or("argon2id did not verify the hash")?;
    println!("{}", took.as_micros());
    Ok(())
}

/// How long `operations` checks of the bench's password against `stored` take, if each matched.
fn timed_checks(stored: &str, operations: u32) -> Option<Duration> {
    let started = Instant::now();
    (0..operations)
        .all(|_| password::matches(KEY_STRETCH_PASSWORD, stored))
        .then(|| started.elapsed())
}

fn median(mut times: Vec<Duration>) -> Result<Duration, String> {
    times.sort();
    times
        .get(times.len() / 2)
        .copied()
        .ok_or_else(|| "no argon2id timing".to_owned())
}

/// A function's cold starts: process start to first answer, the emulator's part, the deliberate work's (timed in a
/// fresh process after each run) and the rest, the function's own.
struct ColdStart {
    total: Spread,
    emulator: Spread,
    own: Spread,
    work: Option<Spread>,
    /// The first answer's HTTP status (none for the authorizer and the pipelines): a run's that was not a 2xx if
    /// one was not, else the first run's.
    status: Option<u16>,
    /// The most calls of each kind one run's request made.
    calls: CallCounts,
    /// The highest peak RSS of a run.
    rss: Option<u64>,
}

fn raw_time(calls: &[Call]) -> Duration {
    calls.iter().map(|call| call.upstream).sum()
}

fn handler_calls(calls: &[Call], function: &str) -> CallCounts {
    CallCounts::of(calls.iter().filter(|call| &*call.caller == function))
}

/// Peak resident memory of a process so far (`VmHWM`), in bytes.
fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn file_size(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.len())
}

/// The size of `bootstrap` zipped as Lambda takes it (deflate, as `sam build` and cargo-lambda zip it).
fn zip_size(python: &Path, bootstrap: &Path) -> Option<u64> {
    let archive = std::env::temp_dir().join(format!("bench-{}.zip", uuid::Uuid::new_v4()));
    let script = "import sys, zipfile\n\
                  with zipfile.ZipFile(sys.argv[2], 'w', zipfile.ZIP_DEFLATED) as z:\n    \
                  z.write(sys.argv[1], 'bootstrap')";
    let status = std::process::Command::new(python)
        .args(["-c", script])
        .arg(bootstrap)
        .arg(&archive)
        .status()
        .ok()?;
    let size = status.success().then(|| file_size(&archive)).flatten();
    let _ = std::fs::remove_file(&archive);
    size
}

/// A sample event of `events/`, with a fresh token of the seeded admin where it needs one.
fn sample_event(root: &Path, binary: &str, admin_token: &str) -> Result<Value, String> {
    let path = root.join("events").join(format!("{binary}.json"));
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text.replace(TOKEN_PLACEHOLDER, admin_token))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Everything the measurements share.
pub struct Bench {
    options: Options,
    template: Template,
    parameters: BTreeMap<String, String>,
    endpoint: String,
    recorder: Recorder,
    dynamodb: aws_sdk_dynamodb::Client,
    admin_token: String,
    /// One argon2id operation (`KeyStretch::time`).
    key_stretch: KeyStretch,
}

impl Bench {
    fn log_dir(&self) -> PathBuf {
        self.options.log_dir.clone()
    }

    fn logs(&self, name: &str) -> Logs {
        Logs::File(self.log_dir().join(format!("{name}.log")))
    }

    /// Starts a function whose AWS calls go through a proxy of its own, named after it.
    async fn launch(
        &self,
        function: &Function,
        table: &str,
        proxy_name: &str,
    ) -> Result<FunctionHost, String> {
        let proxy = proxy::start(proxy_name, &self.endpoint, &self.recorder)
            .await
            .map_err(|e| e.to_string())?;
        let setup = FunctionSetup {
            bin_dir: &self.options.bin_dir,
            endpoint: &proxy,
            table_name: table,
            parameters: &self.parameters,
        };
        launch_function(
            &self.template,
            function,
            &setup,
            self.logs(&function.binary),
        )
        .await
        .map_err(|e| e.to_string())
    }

    async fn launch_floor(&self) -> Result<FunctionHost, String> {
        FunctionHost::start(Launch {
            name: "floor",
            binary: &self.options.bin_dir.join("floor"),
            environment: Vec::new(),
            timeout: Duration::from_secs(10),
            logs: self.logs("floor"),
        })
        .await
        .map_err(|e| e.to_string())
    }

    /// Process start to the first answer, `cold_runs` times, each on a fresh seeded table so that every run makes
    /// the same calls. Returns the totals, the emulator's part of each, and what is left once the emulator's part and
    /// the request's deliberate work are taken out.
    async fn cold_start(&self, function: Option<&Function>) -> Result<ColdStart, String> {
        let mut totals = Vec::new();
        let mut raws = Vec::new();
        let mut owns = Vec::new();
        let mut works = Vec::new();
        let operations = function.map_or(0, |function| sample_key_stretches(&function.binary));
        let event = match function {
            Some(function) => {
                sample_event(&self.options.root, &function.binary, &self.admin_token)?
            }
            None => serde_json::json!({"hello": "world"}),
        };
        let mut status: Option<u16> = None;
        let mut calls = CallCounts::default();
        let mut rss: Option<u64> = None;
        // A function run once per deployment runs on the table it is meant for: an empty one.
        let seeded = function.is_none_or(|function| cold_only(&function.binary).is_none());
        for run in 0..self.options.cold_runs {
            let table = format!("bench-cold-{}", uuid::Uuid::new_v4().simple());
            prepare_table(
                &self.template,
                &self.endpoint,
                &table,
                &self.parameters,
                seeded,
            )
            .await
            .map_err(|e| e.to_string())?;
            let mut event = event.clone();
            if let Some(function) = function {
                self.arrange_cold(&function.binary, &table, &mut event)
                    .await?;
            }
            let body = axum::body::Bytes::from(event.to_string());
            let mark = self.recorder.mark();
            let started = Instant::now();
            let proxy_name = format!("cold {run}");
            let host = match function {
                Some(function) => self.launch(function, &table, &proxy_name).await?,
                None => self.launch_floor().await?,
            };
            let answer = host
                .invoke_raw(body)
                .await
                .map_err(|e| format!("{}: cold start: {e}", host.name))?;
            let total = started.elapsed();
            let answer = serde_json::from_slice::<Value>(&answer).unwrap_or(Value::Null);
            if function.is_some_and(|function| cold_only(&function.binary).is_some())
                && answer["outcome"] != "invited"
            {
                return Err(format!("{}: cold start answered {answer}", host.name));
            }
            let answered = answer["statusCode"]
                .as_u64()
                .and_then(|code| u16::try_from(code).ok());
            let success = |code: u16| (200..300).contains(&code);
            if status.is_none() || (status.is_some_and(success) && !answered.is_some_and(success)) {
                status = answered.or(status);
            }
            let made = self.recorder.since(mark);
            let raw = raw_time(&made);
            calls = calls.most(handler_calls(&made, &proxy_name));
            rss = rss.max(host.pid().and_then(peak_rss));
            totals.push(total);
            raws.push(raw);
            drop(host);
            let work = self.key_stretch.fresh(operations)?;
            works.push(work);
            owns.push(total.saturating_sub(raw).saturating_sub(work));
            self.dynamodb
                .delete_table()
                .table_name(&table)
                .send()
                .await
                .map_err(|e| format!("deleting {table}: {e}"))?;
        }
        Ok(ColdStart {
            total: Spread::of(&totals),
            emulator: Spread::of(&raws),
            own: Spread::of(&owns),
            work: (operations > 0).then(|| Spread::of(&works)),
            status,
            calls,
            rss,
        })
    }

    fn function(&self, binary: &str) -> Result<Function, String> {
        self.template
            .functions
            .values()
            .find(|f| f.binary == binary)
            .cloned()
            .ok_or_else(|| format!("{binary} is not in the template"))
    }

    /// What a cold run's table holds beyond the seed, so that the sample event succeeds as it does in use (a
    /// refusal is a shorter path, and would not measure the function's work). Untimed, before the function starts:
    /// for `validate-access-token`, the seeded admin's sign-in code, sent by `authenticate` for its own sample event
    /// (the admin's email and password) and read from the outbox into the event; for `create-api-key`, the
    /// application its event names; for `delete-api-key`, that application and the key its event names.
    async fn arrange_cold(
        &self,
        binary: &str,
        table: &str,
        event: &mut Value,
    ) -> Result<(), String> {
        match binary {
            "validate-access-token" => {
                let authenticate = self.function("authenticate")?;
                let host = self
                    .launch(&authenticate, table, "cold arrangement")
                    .await?;
                let sample = sample_event(&self.options.root, "authenticate", &self.admin_token)?;
                let answer = host
                    .invoke(&sample)
                    .await
                    .map_err(|e| format!("arranging {binary}: authenticate: {e}"))?;
                drop(host);
                if answer["statusCode"] != 200 {
                    return Err(format!(
                        "arranging {binary}: authenticate answered {answer}"
                    ));
                }
                let sent = outbox(&self.endpoint).await.map_err(|e| e.to_string())?;
                let code = sent
                    .sms_to(SEED_ADMIN_PHONE)
                    .last()
                    .and_then(|sms| scenarios::code_in(&sms.message))
                    .ok_or_else(|| format!("arranging {binary}: no sign-in code went out"))?;
                event["body"] = Value::String(serde_json::json!({ "otp": code }).to_string());
            }
            "create-api-key" | "delete-api-key" => {
                let named = |name: &str| {
                    event["pathParameters"][name]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned()
                };
                let bad = |name: &str| format!("events/{binary}.json: a bad {name}");
                let now = time::OffsetDateTime::now_utc();
                let application = Application {
                    payor_id: named("payorId").parse().map_err(|_| bad("payorId"))?,
                    application_id: named("applicationId")
                        .parse()
                        .map_err(|_| bad("applicationId"))?,
                    name: "SAP".into(),
                    description: None,
                    created_at: now,
                };
                let sdk = crate::emulator::sdk_config(&self.endpoint).await;
                let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table);
                store
                    .create_application(&application)
                    .await
                    .map_err(|e| format!("arranging {binary}: {e}"))?;
                if binary == "delete-api-key" {
                    let secret = self
                        .parameters
                        .get("TokenHashSecret")
                        .ok_or("TokenHashSecret is not set")?;
                    let hasher = CodeHasher::new(secret.as_bytes())?;
                    let details = KeyDetails::parse("SAP Key 01", None, &["payor.admin".into()])
                        .map_err(|e| e.to_string())?;
                    let (issued, _) = ApiKey::issue(&application, details, &hasher, now);
                    // The event's key id; its secret's digest is bound to the issued id, but a deletion never
                    // checks the secret.
                    let key = ApiKey {
                        key_id: named("apiKey").parse().map_err(|_| bad("apiKey"))?,
                        ..issued
                    };
                    store
                        .create_api_key(&key)
                        .await
                        .map_err(|e| format!("arranging {binary}: {e}"))?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// `local-stack bench`: the measurements, against an emulator of their own; `false` when a budget was missed.
pub async fn main(options: Options) -> Result<bool, String> {
    for dir in [&options.log_dir, &options.out_dir] {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let port = match options.moto_port {
        0 => std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| e.to_string())?,
        port => port,
    };
    let python = options.root.join(".venv/bin/python");
    let emulator = Emulator::start(&python, &options.root.join("local/moto_serial.py"), port)
        .await
        .map_err(|e| e.to_string())?;
    let outcome = run(options, &emulator.endpoint, &python).await;
    emulator.stop().await;
    outcome
}

async fn run(options: Options, endpoint: &str, python: &Path) -> Result<bool, String> {
    let mut template =
        Template::load(&options.root.join("template.yaml")).map_err(|e| e.to_string())?;
    // The bench's tables have no stream: moto keeps every stream record, and copies the whole table, records
    // included, for each item of every transaction, so a stream would make the emulator slower with every write.
    // (The bench measures the request path; the pipelines are measured from their sample events.)
    if let Some(table) = template.table_properties.as_mapping_mut() {
        table.remove("StreamSpecification");
    }
    let mut parameters = local_parameters(&options.root).map_err(|e| e.to_string())?;
    let sdk = crate::emulator::sdk_config(endpoint).await;
    let topic_arn = aws_sdk_sns::Client::new(&sdk)
        .create_topic()
        .name("bench-events")
        .send()
        .await
        .map_err(|e| format!("creating the events topic: {e}"))?
        .topic_arn
        .unwrap_or_default();
    // `!Ref EventsTopic` resolves like a parameter.
    parameters.insert("EventsTopic".into(), topic_arn);
    for (name, value) in BENCH_PARAMETERS {
        parameters.insert(name.into(), value.into());
    }
    let admin = SEED_ADMIN_ID.parse().map_err(|_| "bad seed id")?;
    let admin_token = crate::bearer_token(&template, &parameters, admin, 3600)?;
    let key_stretch = KeyStretch::time()?;
    let bench = Bench {
        options,
        template,
        parameters,
        endpoint: endpoint.to_owned(),
        recorder: Recorder::default(),
        dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
        admin_token,
        key_stretch,
    };

    eprintln!("bench: sizes");
    let mut reports: BTreeMap<String, FunctionReport> = BTreeMap::new();
    let functions: Vec<Function> = bench.template.functions.values().cloned().collect();
    let names: Vec<String> = functions
        .iter()
        .map(|f| f.binary.clone())
        .chain(std::iter::once("floor".to_owned()))
        .collect();
    for name in &names {
        let arm64 = bench
            .options
            .arm64_dir
            .as_ref()
            .map(|dir| dir.join(name).join("bootstrap"));
        reports.insert(
            name.clone(),
            FunctionReport {
                function: name.clone(),
                size_x86_64: file_size(&bench.options.bin_dir.join(name)),
                size_arm64: arm64.as_deref().and_then(file_size),
                zip_arm64: arm64.as_deref().and_then(|path| zip_size(python, path)),
                ..FunctionReport::default()
            },
        );
    }

    eprintln!("bench: cold starts ({} runs each)", bench.options.cold_runs);
    let floor_cold = bench.cold_start(None).await?.total;
    if let Some(report) = reports.get_mut("floor") {
        report.cold_ms = Some(floor_cold.clone());
        report.cold_own_ms = Some(floor_cold.clone());
    }
    for function in &functions {
        let cold = bench.cold_start(Some(function)).await?;
        if let Some(report) = reports.get_mut(&function.binary) {
            report.cold_own_ms = Some(cold.own);
            report.cold_ms = Some(cold.total);
            report.cold_emulator_ms = Some(cold.emulator);
            report.cold_work_ms = cold.work.map(|work| work.median);
            report.cold_status = cold.status;
            if let Some(class) = cold_only(&function.binary) {
                report.class = Some(class);
                report.cold_calls = Some(cold.calls);
                report.cold_rss_bytes = cold.rss;
            }
        }
    }

    eprintln!(
        "bench: {} warm requests per function",
        bench.options.requests
    );
    // A function's first scenario goes on its row (with its cold start: the first scenario is its sample event's);
    // any other (the other grants of `authenticate`) on a row of its own, with the function's sizes.
    let mut others: Vec<FunctionReport> = Vec::new();
    for measured in scenarios::run_all(&bench).await? {
        let Some(report) = reports.get_mut(&measured.binary) else {
            continue;
        };
        if report.warm.is_none() {
            report.scenario = measured.scenario.map(str::to_owned);
            report.class = Some(measured.class);
            report.warm = Some(measured.warm);
        } else {
            others.push(FunctionReport {
                function: report.function.clone(),
                scenario: measured.scenario.map(str::to_owned),
                class: Some(measured.class),
                size_x86_64: report.size_x86_64,
                size_arm64: report.size_arm64,
                zip_arm64: report.zip_arm64,
                warm: Some(measured.warm),
                ..FunctionReport::default()
            });
        }
    }

    let budgets = Budgets::default();
    let mut reports: Vec<FunctionReport> = reports
        .into_values()
        .flat_map(|report| {
            let more: Vec<FunctionReport> = others
                .iter()
                .filter(|other| other.function == report.function)
                .cloned()
                .collect();
            std::iter::once(report).chain(more)
        })
        .collect();
    for report in &mut reports {
        report.misses = budgets.misses(report, &floor_cold);
    }
    let (table, json) = report::render(
        &reports,
        &budgets,
        &bench.options,
        report::ms(bench.key_stretch.steady),
        report::ms(bench.key_stretch.first),
    );
    std::fs::write(bench.options.out_dir.join("results.md"), &table).map_err(|e| e.to_string())?;
    std::fs::write(bench.options.out_dir.join("results.json"), json).map_err(|e| e.to_string())?;
    println!("{table}");
    Ok(reports.iter().all(|report| report.misses.is_empty()))
}

/// Sends `events` to a function's Runtime API one after another and measures each; returns the answers too.
async fn measure_host(
    host: &FunctionHost,
    function: &str,
    recorder: &Recorder,
    events: impl Iterator<Item = Value>,
) -> Result<(Vec<Sample>, Vec<Value>), String> {
    let mut samples = Vec::new();
    let mut answers = Vec::new();
    for event in events {
        let body = axum::body::Bytes::from(event.to_string());
        let mark = recorder.mark();
        let started = Instant::now();
        let answer = host
            .invoke_raw(body)
            .await
            .map_err(|e| format!("{function}: {e}"))?;
        let latency = started.elapsed();
        answers.push(serde_json::from_slice(&answer).unwrap_or(Value::Null));
        let calls = recorder.since(mark);
        samples.push(Sample {
            latency,
            raw: raw_time(&calls),
            work: Duration::ZERO,
            calls: handler_calls(&calls, function),
        });
    }
    Ok((samples, answers))
}

fn summarise(samples: &[Sample], unexpected: Vec<String>, rss: Option<u64>) -> WarmReport {
    let latencies: Vec<Duration> = samples.iter().map(|s| s.latency).collect();
    let raws: Vec<Duration> = samples.iter().map(|s| s.raw).collect();
    let works: Vec<Duration> = samples.iter().map(|s| s.work).collect();
    WarmReport::new(
        &latencies,
        &raws,
        &works,
        samples
            .iter()
            .fold(CallCounts::default(), |most, s| most.most(s.calls)),
        unexpected,
        rss,
    )
}
