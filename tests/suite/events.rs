//! Every sample event in `events/` through its function's real binary, over the Runtime API, against the emulator:
//! what `make invoke` (and `sam local invoke -e`) does with it. Each answer's status must also be one openapi.yaml
//! documents for that operation.

use serde_json::Value;
use std::collections::BTreeSet;
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

/// Each function's fixtures, run in this order on one fresh table: the HTTP API event, then the REST API one.
const FIXTURES: &[(&str, Arrange, Expect, Expect)] = &[
    // A fresh token for the seeded admin replaces `<run make token>`.
    (
        "authorizer",
        Arrange::Seed,
        Expect::Authorized,
        Expect::Authorized,
    ),
    (
        "get-self",
        Arrange::Seed,
        Expect::Status(200),
        Expect::Status(200),
    ),
    // Both name the seeded admin.
    (
        "get-user",
        Arrange::Seed,
        Expect::Status(200),
        Expect::Status(200),
    ),
    (
        "list-users",
        Arrange::Seed,
        Expect::Status(200),
        Expect::Status(200),
    ),
    // Both invite the same email: the second is a duplicate.
    (
        "invite-user",
        Arrange::Seed,
        Expect::Status(204),
        Expect::Refused(409, "40910001"),
    ),
    // The second send to the same caller falls inside the 60 s resend cooldown.
    (
        "register-sms",
        Arrange::Seed,
        Expect::Status(204),
        Expect::Refused(400, "40010007"),
    ),
    // The seeded admin was never invited: there is no invitation token to resend.
    (
        "resend-token",
        Arrange::Seed,
        Expect::Refused(404, "40410001"),
        Expect::Refused(404, "40410001"),
    ),
    // The first deletes the user; the second finds nothing.
    (
        "delete-user",
        Arrange::VeloUser,
        Expect::Status(204),
        Expect::Refused(404, "40410001"),
    ),
    // Enable, disable and unlock are idempotent; the role and details updates set the same values twice.
    (
        "enable-user",
        Arrange::VeloUser,
        Expect::Status(204),
        Expect::Status(204),
    ),
    (
        "disable-user",
        Arrange::VeloUser,
        Expect::Status(204),
        Expect::Status(204),
    ),
    (
        "unlock-user",
        Arrange::VeloUser,
        Expect::Status(204),
        Expect::Status(204),
    ),
    (
        "role-update",
        Arrange::VeloUser,
        Expect::Status(204),
        Expect::Status(204),
    ),
    (
        "user-details-update",
        Arrange::VeloUser,
        Expect::Status(204),
        Expect::Status(204),
    ),
    // The first unregisters the TOTP device and sends a registration link; the second link would be inside the
    // resend cooldown.
    (
        "unregister-mfa",
        Arrange::VeloUser,
        Expect::Status(204),
        Expect::Refused(400, "40010007"),
    ),
    (
        "unregister-mfa-self",
        Arrange::Seed,
        Expect::Status(204),
        Expect::Refused(400, "40010007"),
    ),
    // The seeded admin is a BACKOFFICE user: only PAYEE users may update their own details.
    (
        "user-details-update-self",
        Arrange::Seed,
        Expect::Refused(403, "40310001"),
        Expect::Refused(403, "40310001"),
    ),
    // The first changes the password; the second's old password is no longer the current one.
    (
        "update-password-self",
        Arrange::Seed,
        Expect::Status(204),
        Expect::Refused(400, "40010001"),
    ),
    (
        "validate-password-self",
        Arrange::Seed,
        Expect::Status(200),
        Expect::Status(200),
    ),
    // The seeded widget; two starts for one recipient are within the limit of 3 a minute.
    (
        "otp-start",
        Arrange::Seed,
        Expect::Status(201),
        Expect::Status(201),
    ),
    // Session ids are random, so the session the fixtures name (`3f2b8c1e-…`) never exists.
    ("otp-channel", Arrange::Seed, NO_SESSION, NO_SESSION),
    ("otp-status", Arrange::Seed, NO_SESSION, NO_SESSION),
    ("otp-check-code", Arrange::Seed, NO_SESSION, NO_SESSION),
    (
        "otp-check-status-and-complete",
        Arrange::Seed,
        NO_SESSION,
        NO_SESSION,
    ),
    ("otp-complete", Arrange::Seed, NO_SESSION, NO_SESSION),
    ("otp-resend", Arrange::Seed, NO_SESSION, NO_SESSION),
    // The seeded account; both create the same device_key.
    (
        "device-create",
        Arrange::Seed,
        Expect::Status(202),
        Expect::Refused(409, "QIT000102"),
    ),
    (
        "device-get",
        Arrange::QiDevice,
        Expect::Status(200),
        Expect::Status(200),
    ),
    // A wrong token both times.
    (
        "device-validate",
        Arrange::QiDevice,
        Expect::Refused(400, "OBD0000100"),
        Expect::Refused(400, "OBD0000100"),
    ),
    // The first token went out a moment ago: inside the resend cooldown.
    (
        "device-resend-token",
        Arrange::QiDevice,
        Expect::Refused(429, "QIT000105"),
        Expect::Refused(429, "QIT000105"),
    ),
    // Disabling is idempotent.
    (
        "device-disable",
        Arrange::QiDevice,
        Expect::Status(200),
        Expect::Status(200),
    ),
];

const NO_SESSION: Expect = Expect::Refused(404, "SessionNotFoundException");

const TOKEN_PLACEHOLDER: &str = "<run make token>";

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

/// Runs one function's two fixtures on a fresh table; the answers that differ from the table, or whose status
/// openapi.yaml does not document, as messages.
async fn run_fixtures(
    template: &Template,
    function: &str,
    arrange: Arrange,
    expected: [Expect; 2],
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
    for (name, expect) in [
        format!("{function}.json"),
        format!("{function}.rest-v1.json"),
    ]
    .into_iter()
    .zip(expected)
    {
        match host.invoke(&read_event(&name, template)).await {
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
    let runs = FIXTURES.iter().map(|(function, arrange, v2, v1)| {
        run_fixtures(&template, function, *arrange, [*v2, *v1], &log_dir)
    });
    let failures: Vec<String> = futures_util::future::join_all(runs)
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
fn every_event_file_is_in_the_table_and_every_http_function_has_both_versions() {
    let listed: BTreeSet<String> = FIXTURES
        .iter()
        .flat_map(|(function, ..)| {
            [
                format!("{function}.json"),
                format!("{function}.rest-v1.json"),
            ]
        })
        .collect();
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
    let unlisted: Vec<_> = present.difference(&listed).collect();
    let missing: Vec<_> = listed.difference(&present).collect();
    assert!(
        unlisted.is_empty(),
        "event files with no expected answer in FIXTURES: {unlisted:?}"
    );
    assert!(missing.is_empty(), "fixture files missing: {missing:?}");

    let template = template();
    let http_functions: BTreeSet<String> = template
        .routes
        .iter()
        .map(|route| template.functions[&route.function].binary.clone())
        .chain(
            template
                .authorizer
                .iter()
                .map(|id| template.functions[id].binary.clone()),
        )
        .collect();
    let covered: BTreeSet<String> = FIXTURES
        .iter()
        .map(|(function, ..)| (*function).to_owned())
        .collect();
    let uncovered: Vec<_> = http_functions.difference(&covered).collect();
    assert!(
        uncovered.is_empty(),
        "HTTP functions without fixtures: {uncovered:?}"
    );
}
