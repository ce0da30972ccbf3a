//! Every sample event in `events/` through its function's real binary, over the Runtime API, against the emulator:
//! what `make invoke` (and `sam local invoke -e`) does with it. Each answer's status must also be one openapi.yaml
//! documents for that operation.

#[allow(unused_imports)]
use api_tests::{
    DeviceStore as _, SessionStore as _, StoreWidget as _, TokenStore as _, UserStore as _,
};
use futures_util::StreamExt as _;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use api_tests::{endpoint, parameters, root, template, unique};
use local_stack::runtime_api::{FunctionHost, Logs};
use local_stack::stack::{launch_function, prepare_table, FunctionSetup, SEED_ADMIN_ID};
use local_stack::template::Template;
use user_token_domain::domain::{Role, UserType};

/// What a fixture's answer must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Status(u16),
    /// A refusal: the status and the front door's error code (Velo `errorCode`, QI `code`, Sigma `type`).
    Refused(u16, &'static str),
    /// The authorizer's verdict: allowed (HTTP API simple response, or a REST API Allow policy).
    Authorized,
    /// A stream or queue batch, not an HTTP answer: run through its binary, with the topic and queue it needs, by the
    /// named test in `pipelines.rs`.
    Batch(&'static str),
}

/// What a function's table holds before its fixtures run, beyond the seed (admin, widget, QI account).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arrange {
    Seed,
    /// The user the Velo fixtures name, `8bbf301c-…`: a payor admin of entity `7fffa261-…`.
    VeloUser,
    /// The device the QI fixtures name, created by `device-create.json` (so its first token went out just now).
    QiDevice,
}

/// The user the Velo user-management fixtures act on.
const FIXTURE_USER_ID: &str = "8bbf301c-948f-4445-b411-357eec53e441";
const FIXTURE_ENTITY_ID: &str = "7fffa261-ac68-49e6-b605-d24a444d9206";

/// Every event file, with what its function's table holds first and the answer it must get. The files of one
/// function run in this order on one fresh table.
const FIXTURES: &[(&str, Arrange, Expect)] = &[
    (
        "publish-events.json",
        Arrange::Seed,
        Expect::Batch(
            "the_stream_fixture_becomes_domain_events_on_the_topic_with_the_type_as_an_attribute",
        ),
    ),
    (
        "command-handler.json",
        Arrange::Seed,
        Expect::Batch("the_command_fixture_runs_each_message_and_reports_only_the_bad_ones"),
    ),
    (
        "bootstrap-admin.json",
        Arrange::Seed,
        Expect::Batch("the_first_admin_is_invited_once_then_accepts_and_is_enabled"),
    ),
    // A fresh token for the seeded admin replaces `<run make token>`.
    ("authorizer.json", Arrange::Seed, Expect::Authorized),
    ("authorizer.rest-v1.json", Arrange::Seed, Expect::Authorized),
    ("get-self.json", Arrange::Seed, Expect::Status(200)),
    ("get-self.rest-v1.json", Arrange::Seed, Expect::Status(200)),
    // The seeded admin's email and password, then a wrong password: the one refusal every failed sign-in gets.
    ("authenticate.json", Arrange::Seed, Expect::Status(200)),
    (
        "authenticate.rest-v1.json",
        Arrange::Seed,
        Expect::Refused(401, "40110001"),
    ),
    // A PRE_AUTH caller with no sign-in code pending, then an otp too short to be one.
    (
        "validate-access-token.json",
        Arrange::Seed,
        Expect::Refused(401, "40110001"),
    ),
    (
        "validate-access-token.rest-v1.json",
        Arrange::Seed,
        Expect::Refused(400, "40010001"),
    ),
    // A token of no session (the local tool's): signing out ends every session of the user, and is idempotent.
    ("logout.json", Arrange::Seed, Expect::Status(204)),
    ("logout.rest-v1.json", Arrange::Seed, Expect::Status(204)),
    ("jwks.json", Arrange::Seed, Expect::Status(200)),
    ("jwks.rest-v1.json", Arrange::Seed, Expect::Status(200)),
    // A link token no invitation holds, then a password too short: one 400 each, nothing changed.
    (
        "accept-invitation.json",
        Arrange::Seed,
        Expect::Refused(400, "40010001"),
    ),
    (
        "accept-invitation.rest-v1.json",
        Arrange::Seed,
        Expect::Refused(400, "40010001"),
    ),
    // No PRE_AUTH token and no link, then a link no user holds.
    (
        "register-mfa.json",
        Arrange::Seed,
        Expect::Refused(401, "40110001"),
    ),
    (
        "register-mfa.rest-v1.json",
        Arrange::Seed,
        Expect::Refused(400, "40010001"),
    ),
    // A link no user holds, then (with a link) a code too short to be one.
    (
        "confirm-mfa.json",
        Arrange::Seed,
        Expect::Refused(400, "40010001"),
    ),
    (
        "confirm-mfa.rest-v1.json",
        Arrange::Seed,
        Expect::Refused(400, "40010001"),
    ),
    // The seeded admin's email (a link goes out), then an address nobody has: the same 204.
    ("reset-password.json", Arrange::Seed, Expect::Status(204)),
    (
        "reset-password.rest-v1.json",
        Arrange::Seed,
        Expect::Status(204),
    ),
    // A reset link no user holds, then a body without a password.
    (
        "confirm-password-reset.json",
        Arrange::Seed,
        Expect::Refused(400, "40010001"),
    ),
    (
        "confirm-password-reset.rest-v1.json",
        Arrange::Seed,
        Expect::Refused(400, "40010001"),
    ),
    // The admin makes an application; the same name in another case is a duplicate.
    (
        "create-application.json",
        Arrange::Seed,
        Expect::Status(201),
    ),
    (
        "create-application.rest-v1.json",
        Arrange::Seed,
        Expect::Refused(409, "40910001"),
    ),
    // No application on a fresh table; then a key without a role.
    (
        "create-api-key.json",
        Arrange::Seed,
        Expect::Refused(404, "40410001"),
    ),
    (
        "create-api-key.rest-v1.json",
        Arrange::Seed,
        Expect::Refused(400, "40010001"),
    ),
    // No such key; then a key id that is not a UUID.
    (
        "delete-api-key.json",
        Arrange::Seed,
        Expect::Refused(404, "40410001"),
    ),
    (
        "delete-api-key.rest-v1.json",
        Arrange::Seed,
        Expect::Refused(400, "40010002"),
    ),
    // Both name the seeded admin.
    ("get-user.json", Arrange::Seed, Expect::Status(200)),
    ("get-user.rest-v1.json", Arrange::Seed, Expect::Status(200)),
    ("list-users.json", Arrange::Seed, Expect::Status(200)),
    (
        "list-users.rest-v1.json",
        Arrange::Seed,
        Expect::Status(200),
    ),
    // Both invite the same email: the second is a duplicate.
    ("invite-user.json", Arrange::Seed, Expect::Status(204)),
    (
        "invite-user.rest-v1.json",
        Arrange::Seed,
        Expect::Refused(409, "40910001"),
    ),
    // The second send to the same caller falls inside the 60 s resend cooldown.
    ("register-sms.json", Arrange::Seed, Expect::Status(204)),
    (
        "register-sms.rest-v1.json",
        Arrange::Seed,
        Expect::Refused(400, "40010007"),
    ),
    // The seeded admin was never invited: there is no invitation token to resend.
    (
        "resend-token.json",
        Arrange::Seed,
        Expect::Refused(404, "40410001"),
    ),
    (
        "resend-token.rest-v1.json",
        Arrange::Seed,
        Expect::Refused(404, "40410001"),
    ),
    // The first deletes the user; the second finds nothing.
    ("delete-user.json", Arrange::VeloUser, Expect::Status(204)),
    (
        "delete-user.rest-v1.json",
        Arrange::VeloUser,
        Expect::Refused(404, "40410001"),
    ),
    // Enable, disable and unlock are idempotent; the role and details updates set the same values twice.
    ("enable-user.json", Arrange::VeloUser, Expect::Status(204)),
    (
        "enable-user.rest-v1.json",
        Arrange::VeloUser,
        Expect::Status(204),
    ),
    ("disable-user.json", Arrange::VeloUser, Expect::Status(204)),
    (
        "disable-user.rest-v1.json",
        Arrange::VeloUser,
        Expect::Status(204),
    ),
    ("unlock-user.json", Arrange::VeloUser, Expect::Status(204)),
    (
        "unlock-user.rest-v1.json",
        Arrange::VeloUser,
        Expect::Status(204),
    ),
    ("role-update.json", Arrange::VeloUser, Expect::Status(204)),
    (
        "role-update.rest-v1.json",
        Arrange::VeloUser,
        Expect::Status(204),
    ),
    (
        "user-details-update.json",
        Arrange::VeloUser,
        Expect::Status(204),
    ),
    (
        "user-details-update.rest-v1.json",
        Arrange::VeloUser,
        Expect::Status(204),
    ),
    // The first unregisters the TOTP device and sends a registration link; the second link would be inside the
    // resend cooldown.
    (
        "unregister-mfa.json",
        Arrange::VeloUser,
        Expect::Status(204),
    ),
    (
        "unregister-mfa.rest-v1.json",
        Arrange::VeloUser,
        Expect::Refused(400, "40010007"),
    ),
    (
        "unregister-mfa-self.json",
        Arrange::Seed,
        Expect::Status(204),
    ),
    (
        "unregister-mfa-self.rest-v1.json",
        Arrange::Seed,
        Expect::Refused(400, "40010007"),
    ),
    // The seeded admin is a BACKOFFICE user: only PAYEE users may update their own details.
    (
        "user-details-update-self.json",
        Arrange::Seed,
        Expect::Refused(403, "40310001"),
    ),
    (
        "user-details-update-self.rest-v1.json",
        Arrange::Seed,
        Expect::Refused(403, "40310001"),
    ),
    // The first changes the password; the second's old password is no longer the current one.
    (
        "update-password-self.json",
        Arrange::Seed,
        Expect::Status(204),
    ),
    (
        "update-password-self.rest-v1.json",
        Arrange::Seed,
        Expect::Refused(400, "40010001"),
    ),
    (
        "validate-password-self.json",
        Arrange::Seed,
        Expect::Status(200),
    ),
    (
        "validate-password-self.rest-v1.json",
        Arrange::Seed,
        Expect::Status(200),
    ),
    // The seeded widget; two starts for one recipient are within the limit of 3 a minute.
    ("otp-start.json", Arrange::Seed, Expect::Status(201)),
    ("otp-start.rest-v1.json", Arrange::Seed, Expect::Status(201)),
    // Session ids are random, so the session the fixtures name (`3f2b8c1e-…`) never exists.
    ("otp-channel.json", Arrange::Seed, NO_SESSION),
    ("otp-channel.rest-v1.json", Arrange::Seed, NO_SESSION),
    ("otp-channel-long-polling.json", Arrange::Seed, NO_SESSION),
    (
        "otp-channel-long-polling.rest-v1.json",
        Arrange::Seed,
        NO_SESSION,
    ),
    ("otp-status-long-polling.json", Arrange::Seed, NO_SESSION),
    (
        "otp-status-long-polling.rest-v1.json",
        Arrange::Seed,
        NO_SESSION,
    ),
    // The seeded widget.
    ("otp-widget.json", Arrange::Seed, Expect::Status(200)),
    (
        "otp-widget.rest-v1.json",
        Arrange::Seed,
        Expect::Status(200),
    ),
    ("otp-status.json", Arrange::Seed, NO_SESSION),
    ("otp-status.rest-v1.json", Arrange::Seed, NO_SESSION),
    ("otp-check-code.json", Arrange::Seed, NO_SESSION),
    ("otp-check-code.rest-v1.json", Arrange::Seed, NO_SESSION),
    (
        "otp-check-status-and-complete.json",
        Arrange::Seed,
        NO_SESSION,
    ),
    (
        "otp-check-status-and-complete.rest-v1.json",
        Arrange::Seed,
        NO_SESSION,
    ),
    ("otp-complete.json", Arrange::Seed, NO_SESSION),
    ("otp-complete.rest-v1.json", Arrange::Seed, NO_SESSION),
    ("otp-resend.json", Arrange::Seed, NO_SESSION),
    ("otp-resend.rest-v1.json", Arrange::Seed, NO_SESSION),
    // The seeded account; both create the same device_key.
    ("device-create.json", Arrange::Seed, Expect::Status(202)),
    (
        "device-create.rest-v1.json",
        Arrange::Seed,
        Expect::Refused(409, "XQI000102"),
    ),
    ("device-get.json", Arrange::QiDevice, Expect::Status(200)),
    (
        "device-get.rest-v1.json",
        Arrange::QiDevice,
        Expect::Status(200),
    ),
    // A wrong token both times.
    (
        "device-validate.json",
        Arrange::QiDevice,
        Expect::Refused(400, "OBD0000100"),
    ),
    (
        "device-validate.rest-v1.json",
        Arrange::QiDevice,
        Expect::Refused(400, "OBD0000100"),
    ),
    // The first token went out a moment ago: inside the resend cooldown.
    (
        "device-resend-token.json",
        Arrange::QiDevice,
        Expect::Refused(429, "XQI000105"),
    ),
    (
        "device-resend-token.rest-v1.json",
        Arrange::QiDevice,
        Expect::Refused(429, "XQI000105"),
    ),
    // Disabling is idempotent.
    (
        "device-disable.json",
        Arrange::QiDevice,
        Expect::Status(200),
    ),
    (
        "device-disable.rest-v1.json",
        Arrange::QiDevice,
        Expect::Status(200),
    ),
];

/// How many functions `every_event_file_gets_its_expected_answer_from_its_function_binary` runs at once.
const EVENT_RUNS_AT_ONCE: usize = 8;

const NO_SESSION: Expect = Expect::Refused(404, "SessionNotFoundException");

const TOKEN_PLACEHOLDER: &str = "<run make token>";

/// One function's arrangement and its event files, in order.
type FunctionRun = (Arrange, Vec<(&'static str, Expect)>);

/// The function an event file belongs to: `events/<function>.json` or `events/<function>.rest-v1.json`.
fn function_of(file: &str) -> &str {
    file.strip_suffix(".rest-v1.json")
        .or_else(|| file.strip_suffix(".json"))
        .unwrap_or(file)
}

fn read_event(name: &str, template: &Template) -> Value {
    let text = std::fs::read_to_string(root().join("events").join(name))
        .unwrap_or_else(|e| panic!("events/{name}: {e}"));
    let token = local_stack::bearer_token(
        template,
        &parameters(),
        SEED_ADMIN_ID.parse().expect("seed id"),
        600,
    )
    .expect("token");
    serde_json::from_str(&text.replace(TOKEN_PLACEHOLDER, &token))
        .unwrap_or_else(|e| panic!("events/{name} is not JSON: {e}"))
}

/// Whether a function's answer is what the table expects.
fn answers_as_expected(answer: &Value, expect: Expect) -> bool {
    let status = answer
        .get("statusCode")
        .and_then(Value::as_u64)
        .and_then(|status| u16::try_from(status).ok());
    let body: Value = answer
        .get("body")
        .and_then(Value::as_str)
        .and_then(|body| serde_json::from_str(body).ok())
        .unwrap_or(Value::Null);
    let error_code = [
        &body["errors"][0]["errorCode"],
        &body["code"],
        &body["type"],
    ]
    .into_iter()
    .find_map(Value::as_str);
    match expect {
        Expect::Status(expected) => status == Some(expected),
        Expect::Refused(expected, code) => status == Some(expected) && error_code == Some(code),
        Expect::Authorized => is_authorized(answer),
        Expect::Batch(_) => false,
    }
}

fn is_authorized(answer: &Value) -> bool {
    answer.get("isAuthorized").and_then(Value::as_bool) == Some(true)
        || answer["policyDocument"]["Statement"][0]["Effect"].as_str() == Some("Allow")
}

async fn launch(template: &Template, binary: &str, table: &str, log_dir: &Path) -> FunctionHost {
    let function = template
        .functions
        .values()
        .find(|f| f.binary == binary)
        .unwrap_or_else(|| panic!("{binary} is not a function of template.yaml"));
    let parameters = parameters();
    let endpoint = endpoint();
    let setup = FunctionSetup {
        bin_dir: &local_stack::bin_dir(),
        endpoint: &endpoint,
        table_name: table,
        parameters: &parameters,
    };
    launch_function(
        template,
        function,
        &setup,
        Logs::File(log_dir.join(format!("{binary}.log"))),
    )
    .await
    .unwrap_or_else(|e| panic!("{binary} starts (run `make build` first): {e}"))
}

/// The statuses openapi.yaml documents for the operation a function serves (none for the authorizer).
fn documented_statuses(template: &Template, function: &str) -> Option<BTreeSet<u16>> {
    let route = template
        .routes
        .iter()
        .find(|route| template.functions[&route.function].binary == function)?;
    let text = std::fs::read_to_string(root().join("openapi.yaml")).expect("openapi.yaml");
    let document: serde_yaml::Value = serde_yaml::from_str(&text).expect("openapi.yaml parses");
    let responses = document["paths"][route.path.as_str()]
        [route.method.to_ascii_lowercase().as_str()]["responses"]
        .as_mapping()
        .unwrap_or_else(|| panic!("openapi.yaml documents {} {}", route.method, route.path))
        .clone();
    Some(
        responses
            .keys()
            .filter_map(|status| status.as_str().and_then(|s| s.parse().ok()))
            .collect(),
    )
}

/// Runs one function's fixtures on a fresh table; the answers that differ from the table, or whose status
/// openapi.yaml does not document, as messages.
async fn run_fixtures(
    template: &Template,
    function: &str,
    arrange: Arrange,
    files: Vec<(&str, Expect)>,
    log_dir: &Path,
) -> Vec<String> {
    let table = unique("events");
    prepare_table(template, &endpoint(), &table, &parameters(), true)
        .await
        .expect("table prepared");
    match arrange {
        Arrange::Seed => {}
        Arrange::VeloUser => {
            let mut user = api_tests::user(
                &api_tests::unique_email(),
                UserType::Payor,
                Some(FIXTURE_ENTITY_ID),
                &[Role::PayorAdmin],
            );
            user.id = FIXTURE_USER_ID.parse().expect("fixture user id");
            api_tests::app(&table)
                .await
                .store
                .create_user(&user)
                .await
                .expect("fixture user stored");
        }
        Arrange::QiDevice => {
            let creator = launch(template, "device-create", &table, log_dir).await;
            let answer = creator
                .invoke(&read_event("device-create.json", template))
                .await
                .expect("device-create answers");
            assert_eq!(answer["statusCode"], 202, "arranging {function}: {answer}");
        }
    }
    let host = launch(template, function, &table, log_dir).await;
    let documented = documented_statuses(template, function);
    let mut failures = Vec::new();
    for (name, expect) in files {
        match host.invoke(&read_event(name, template)).await {
            Ok(answer) if answers_as_expected(&answer, expect) => {
                let status = answer["statusCode"]
                    .as_u64()
                    .and_then(|s| u16::try_from(s).ok());
                if let (Some(documented), Some(status)) = (&documented, status) {
                    if !documented.contains(&status) {
                        failures.push(format!(
                            "{name}: answered {status}, which openapi.yaml does not document"
                        ));
                    }
                }
            }
            Ok(answer) => failures.push(format!("{name}: expected {expect:?}, answered {answer}")),
            Err(error) => failures.push(format!("{name}: {error}")),
        }
    }
    failures
}

#[tokio::test]
async fn every_event_file_gets_its_expected_answer_from_its_function_binary() {
    let template = template();
    let log_dir = local_stack::bin_dir()
        .join("../test-logs")
        .join(unique("events"));
    std::fs::create_dir_all(&log_dir).expect("log dir");
    let mut functions: BTreeMap<&str, FunctionRun> = BTreeMap::new();
    for (file, arrange, expect) in FIXTURES {
        if matches!(expect, Expect::Batch(_)) {
            continue;
        }
        let (arranged, files) = functions
            .entry(function_of(file))
            .or_insert((*arrange, Vec::new()));
        assert_eq!(arranged, arrange, "{file}: one arrangement per function");
        files.push((file, *expect));
    }
    let runs = functions.into_iter().map(|(function, (arrange, files))| {
        run_fixtures(&template, function, arrange, files, &log_dir)
    });
    // A few functions at a time: every function at once (each a new process and its first connections) starves the
    // one emulator on a 2-core machine past the SDK's 3 s operation timeout.
    let failures: Vec<String> = futures_util::stream::iter(runs)
        .buffer_unordered(EVENT_RUNS_AT_ONCE)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .flatten()
        .collect();
    assert!(
        failures.is_empty(),
        "fixtures answered otherwise (function logs in {}):\n{}",
        log_dir.display(),
        failures.join("\n")
    );
}

#[test]
fn every_event_file_is_in_the_table_and_every_function_has_its_events() {
    let listed: BTreeSet<&str> = FIXTURES.iter().map(|(file, ..)| *file).collect();
    assert_eq!(listed.len(), FIXTURES.len(), "a file is listed twice");
    let present: BTreeSet<String> = std::fs::read_dir(root().join("events"))
        .expect("events/")
        .map(|entry| {
            entry
                .expect("a directory entry")
                .file_name()
                .into_string()
                .expect("a UTF-8 name")
        })
        .filter(|name| name.ends_with(".json"))
        .collect();
    let present: BTreeSet<&str> = present.iter().map(String::as_str).collect();
    let unlisted: Vec<_> = present.difference(&listed).collect();
    let missing: Vec<_> = listed.difference(&present).collect();
    assert!(
        unlisted.is_empty(),
        "event files with no expected answer in FIXTURES: {unlisted:?}"
    );
    assert!(missing.is_empty(), "fixture files missing: {missing:?}");
    let pipelines =
        std::fs::read_to_string(root().join("tests/suite/pipelines.rs")).expect("pipelines.rs");
    for (file, _, expect) in FIXTURES {
        if let Expect::Batch(test) = expect {
            assert!(
                pipelines.contains(&format!("async fn {test}(")),
                "{file}: pipelines::{test} runs it"
            );
        }
    }

    let crates: BTreeSet<String> = std::fs::read_dir(root().join("functions"))
        .expect("functions/")
        .map(|entry| entry.expect("a directory entry").file_name())
        .filter_map(|name| name.into_string().ok())
        .collect();
    let strangers: Vec<_> = present
        .iter()
        .filter(|file| !crates.contains(function_of(file)))
        .collect();
    assert!(
        strangers.is_empty(),
        "event files of no function crate: {strangers:?}"
    );
    let template = template();
    let http_functions: BTreeSet<&str> = template
        .routes
        .iter()
        .map(|route| template.functions[&route.function].binary.as_str())
        .chain(
            template
                .authorizer
                .iter()
                .map(|id| template.functions[id].binary.as_str()),
        )
        .collect();
    for function in &crates {
        let mut wanted = vec![format!("{function}.json")];
        if http_functions.contains(function.as_str()) {
            wanted.push(format!("{function}.rest-v1.json"));
        }
        for file in wanted {
            assert!(
                present.contains(file.as_str()),
                "functions/{function} has no events/{file}"
            );
        }
    }
}

/// `make invoke FN=authorizer EVENT=events/authorizer.json`, as the Makefile runs it: its own emulator and seed, the
/// token placeholder filled in, the answer alone on stdout.
#[tokio::test]
async fn local_stack_invoke_prints_the_functions_answer() {
    let output = tokio::process::Command::new(local_stack::bin_dir().join("local-stack"))
        .args(["invoke", "authorizer"])
        .arg(root().join("events/authorizer.json"))
        .env("PROJECT_ROOT", root())
        .output()
        .await
        .expect("local-stack runs (run `make build` first)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: Value =
        serde_json::from_slice(&output.stdout).expect("stdout is the answer's JSON");
    assert!(is_authorized(&answer), "{answer}");
    assert_eq!(answer["context"]["userId"], SEED_ADMIN_ID);
}
