//! The QI Tech device 2FA front door: every operation from event fixtures of both API versions, every code of the
//! reference's error table and every rule of the issue against the emulator, and the whole flow over HTTP.

use api_tests::{
    all_items, app_with, app_with_dead_messaging, fresh_table, shared_stack, unique_email,
    unique_phone,
};
#[allow(unused_imports)]
use api_tests::{
    DeviceStore as _, SessionStore as _, StoreWidget as _, TokenStore as _, UserStore as _,
};
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::{Body, Response};
use local_stack::emulator::outbox;
use local_stack::stack::{seed_admin, seed_qi_account, SEED_ADMIN_ID, SEED_QI_ACCOUNT_KEY};
use serde_json::{json, Value};
use std::collections::HashMap;
use user_token_domain::adapters::dynamodb::keys::device_pk;
use user_token_domain::domain::device::{Account, AccountStatus, Approver};
use user_token_domain::domain::token::Subject;
use user_token_domain::domain::token::TokenPurpose;
use user_token_domain::domain::{AccountKey, DeviceKey, EntityId, Role, UserId, UserType};
use user_token_domain::doors::qi;
use user_token_domain::lambda::config::Config;
use user_token_domain::App;

const DOCUMENT: &str = "12345678909";
/// A device_scan session, as QI's example spells one (upper case).
const SESSION: &str = "05894BAD-C94E-4A61-B2A8-57EDAE868A0F";

/// An account with one approver reachable at a phone number and an address no other test uses.
struct TestAccount {
    key: AccountKey,
    phone: String,
    email: String,
}

async fn qi_app(adjust: impl FnOnce(&mut Config)) -> App {
    app_with(&fresh_table().await, adjust).await
}

async fn account_in(app: &App, status: AccountStatus) -> TestAccount {
    let account = TestAccount {
        key: AccountKey::random(),
        phone: unique_phone(),
        email: unique_email(),
    };
    app.store
        .create_account(&Account {
            account_key: account.key,
            status,
            approvers: vec![Approver {
                document_number: DOCUMENT.parse().expect("document"),
                phone: account.phone.parse().expect("phone"),
                email: account.email.parse().expect("email"),
            }],
            created_at: time::OffsetDateTime::now_utc(),
        })
        .await
        .expect("account created");
    account
}

fn event(name: &str, adjust: impl FnOnce(&mut Value)) -> lambda_http::Request {
    let text =
        std::fs::read_to_string(api_tests::root().join("events").join(name)).expect("fixture");
    let mut event: Value = serde_json::from_str(&text).expect("json");
    adjust(&mut event);
    lambda_http::request::from_str(&event.to_string()).expect("event")
}

/// A fixture of `function` (`.json` or `.rest-v1.json`) aimed at an account and device, with `body` if given.
fn aimed(
    function: &str,
    version: &str,
    account: AccountKey,
    device: DeviceKey,
    body: Option<Value>,
) -> lambda_http::Request {
    aimed_with(function, version, account, device, body, |_| {})
}

/// `aimed`, then `adjust`ed (another caller, …).
fn aimed_with(
    function: &str,
    version: &str,
    account: AccountKey,
    device: DeviceKey,
    body: Option<Value>,
    adjust: impl FnOnce(&mut Value),
) -> lambda_http::Request {
    event(&format!("{function}{version}"), |event| {
        event["pathParameters"]["account_key"] = json!(account.to_string());
        if event["pathParameters"].get("device_key").is_some() {
            event["pathParameters"]["device_key"] = json!(device.to_string());
        }
        if let Some(body) = body {
            event["body"] = json!(body.to_string());
        }
        adjust(event);
    })
}

const V2: &str = ".json";
const V1: &str = ".rest-v1.json";

fn create_body(device: DeviceKey, contact: &str) -> Value {
    json!({"device_key": device.to_string(), "session_id": SESSION,
           "tfa_info": {"approver_document_number": DOCUMENT, "contact_type": contact}})
}

fn body(response: &Response<Body>) -> Value {
    serde_json::from_slice(response.body().as_ref()).expect("JSON body")
}

fn assert_error(response: &Response<Body>, status: u16, code: &str) -> Value {
    let error = body(response);
    assert_eq!(response.status(), status, "{error}");
    assert_eq!(error["code"], code, "{error}");
    let mut keys: Vec<&String> = error.as_object().expect("object").keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "code",
            "description",
            "extra_fields",
            "title",
            "translation"
        ]
    );
    error
}

/// The device-approval tokens sent to a phone number or address, oldest first.
async fn tokens_to(recipient: &str) -> Vec<String> {
    let sent = outbox(&api_tests::endpoint()).await.expect("outbox");
    let texts: Vec<String> = if recipient.starts_with('+') {
        sent.sms_to(recipient)
            .iter()
            .map(|sms| sms.message.clone())
            .collect()
    } else {
        sent.emails_to(recipient)
            .iter()
            .map(|mail| mail.body.clone())
            .collect()
    };
    texts
        .iter()
        .map(|text| {
            let start = ["<strong>", "dispositivo é "]
                .iter()
                .find_map(|marker| text.find(marker).map(|at| at + marker.len()))
                .unwrap_or_else(|| panic!("a token in {text}"));
            text[start..].chars().take(6).collect()
        })
        .collect()
}

fn wrong(token: &str) -> String {
    let first = if token.starts_with('A') { 'B' } else { 'A' };
    format!("{first}{}", &token[1..])
}

async fn create(app: &App, account: &TestAccount, contact: &str) -> DeviceKey {
    let device = DeviceKey::random();
    let response = qi::create_device(
        app,
        aimed(
            "device-create",
            V2,
            account.key,
            device,
            Some(create_body(device, contact)),
        ),
    )
    .await;
    assert_eq!(response.status(), 202, "{}", body(&response));
    device
}

async fn validate(
    app: &App,
    account: &TestAccount,
    device: DeviceKey,
    token: &str,
) -> Response<Body> {
    qi::validate_device(
        app,
        aimed(
            "device-validate",
            V2,
            account.key,
            device,
            Some(json!({ "token": token })),
        ),
    )
    .await
}

async fn resend(
    app: &App,
    account: &TestAccount,
    device: DeviceKey,
    body: Value,
) -> Response<Body> {
    qi::resend_device_token(
        app,
        aimed("device-resend-token", V2, account.key, device, Some(body)),
    )
    .await
}

fn item<'a>(
    items: &'a [HashMap<String, AttributeValue>],
    pk: &str,
    sk: &str,
) -> Option<&'a HashMap<String, AttributeValue>> {
    items.iter().find(|item| {
        item.get("pk") == Some(&AttributeValue::S(pk.to_owned()))
            && item.get("sk") == Some(&AttributeValue::S(sk.to_owned()))
    })
}

fn text_of(item: &HashMap<String, AttributeValue>, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(value)) => value.clone(),
        other => panic!("{name}: {other:?}"),
    }
}

#[tokio::test]
async fn create_answers_both_event_versions_stores_the_device_and_sends_a_portuguese_token() {
    let app = qi_app(|_| {}).await;
    let account = account_in(&app, AccountStatus::Active).await;
    let device = DeviceKey::random();
    let first = qi::create_device(
        &app,
        aimed(
            "device-create",
            V2,
            account.key,
            device,
            Some(create_body(device, "sms")),
        ),
    )
    .await;
    assert_eq!(first.status(), 202);
    let accepted = body(&first);
    assert_eq!(accepted["device_key"], device.to_string());
    assert_eq!(accepted["device_status"], "pending_2fa_approval");
    let created_at = accepted["created_at"].as_str().expect("created_at");
    assert!(
        created_at.len() == 24 && created_at.ends_with('Z') && created_at.as_bytes()[19] == b'.',
        "{created_at}"
    );
    assert_eq!(accepted.as_object().expect("object").len(), 3);

    let sent = outbox(&api_tests::endpoint()).await.expect("outbox");
    let messages = sent.sms_to(&account.phone);
    assert_eq!(messages.len(), 1);
    assert!(
        messages[0]
            .message
            .starts_with("Seu código para aprovar o novo dispositivo é "),
        "{}",
        messages[0].message
    );
    let token = tokens_to(&account.phone).await.remove(0);
    assert_eq!(token.len(), 6);
    assert!(token
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));

    let items = all_items(app.config.table_name.as_str()).await;
    let pk = device_pk(&account.key, &device);
    let stored = item(&items, &pk, "PROFILE").expect("the device item");
    assert_eq!(text_of(stored, "deviceStatus"), "pending_2fa_approval");
    assert_eq!(text_of(stored, "contactType"), "sms");
    assert_eq!(text_of(stored, "approverDocumentNumber"), DOCUMENT);
    assert_eq!(text_of(stored, "sessionId"), SESSION);
    let token_item = item(&items, &pk, "TOKEN#DEVICE_APPROVAL").expect("the token item");
    assert_eq!(text_of(token_item, "channel"), "sms");
    assert!(
        !format!("{items:?}").contains(&token),
        "the token appears nowhere in the table"
    );

    // The same device_key again, as a REST API event: 409 in QI's format, and no second message.
    let second = qi::create_device(
        &app,
        aimed(
            "device-create",
            V1,
            account.key,
            device,
            Some(create_body(device, "email")),
        ),
    )
    .await;
    assert_eq!(
        assert_error(&second, 409, "XQI000102"),
        json!({"title": "Conflict", "description": "A device with this device_key already exists",
               "translation": "Já existe um dispositivo com esta device_key", "code": "XQI000102",
               "extra_fields": {}})
    );
    assert_eq!(tokens_to(&account.email).await.len(), 0);
    assert_eq!(tokens_to(&account.phone).await.len(), 1);
}

#[tokio::test]
async fn every_operation_answers_both_event_versions() {
    let app = qi_app(|config| config.resend_cooldown = time::Duration::ZERO).await;
    let account = account_in(&app, AccountStatus::Active).await;
    let device = create(&app, &account, "sms").await;
    for version in [V2, V1] {
        let resent = qi::resend_device_token(
            &app,
            aimed(
                "device-resend-token",
                version,
                account.key,
                device,
                Some(json!({"contact_type": "email"})),
            ),
        )
        .await;
        assert_eq!(resent.status(), 202, "{version}: {}", body(&resent));
        assert_eq!(body(&resent)["device_status"], "pending_2fa_approval");
    }
    let tokens = tokens_to(&account.email).await;
    assert_eq!(tokens.len(), 2, "both resends went by email");
    let newest = tokens[1].clone();
    let refused = qi::validate_device(
        &app,
        aimed(
            "device-validate",
            V2,
            account.key,
            device,
            Some(json!({"token": wrong(&newest)})),
        ),
    )
    .await;
    assert_error(&refused, 400, "OBD0000100");
    let approved = qi::validate_device(
        &app,
        aimed(
            "device-validate",
            V1,
            account.key,
            device,
            Some(json!({"token": newest.to_ascii_lowercase()})),
        ),
    )
    .await;
    assert_eq!(approved.status(), 201);
    let created_at = body(&approved)["created_at"].clone();
    assert_eq!(
        body(&approved),
        json!({"device_key": device.to_string(), "device_status": "created", "created_at": created_at})
    );
    for version in [V2, V1] {
        let got = qi::get_device(
            &app,
            aimed("device-get", version, account.key, device, None),
        )
        .await;
        assert_eq!(got.status(), 200, "{version}");
        let view = body(&got);
        assert_eq!(view["status"], "registered");
        assert_eq!(view["analysis_status"], "automatically_approved");
        assert_eq!(view["device_key"], device.to_string());
        assert_eq!(view["session_id"], SESSION);
        assert_eq!(view["created_at"], created_at);
    }
    for version in [V2, V1] {
        let disabled = qi::disable_device(
            &app,
            aimed("device-disable", version, account.key, device, None),
        )
        .await;
        assert_eq!(disabled.status(), 200, "{version}: disabling is idempotent");
        assert_eq!(
            body(&disabled),
            json!({"device_key": device.to_string(), "device_status": "disabled", "created_at": created_at})
        );
    }
    let got = qi::get_device(&app, aimed("device-get", V2, account.key, device, None)).await;
    assert_eq!(body(&got)["status"], "deactivated");
}

#[tokio::test]
async fn schema_errors_are_qit000001_and_name_every_bad_field() {
    let app = qi_app(|_| {}).await;
    let account = account_in(&app, AccountStatus::Active).await;
    let device = DeviceKey::random();
    let create_with = |body: Value| aimed("device-create", V2, account.key, device, Some(body));
    let bad = qi::create_device(
        &app,
        create_with(json!({"device_key": "not-a-uuid", "session_id": 7,
            "tfa_info": {"approver_document_number": "123.456.789-09", "contact_type": "fax"}})),
    )
    .await;
    assert_eq!(
        assert_error(&bad, 400, "QIT000001"),
        json!({"title": "Bad Request", "description": "Schema Error", "translation": "Erro de Schema",
               "code": "QIT000001", "extra_fields": {
                   "device_key": "must be a UUID v4 (36 characters)",
                   "session_id": "must be a string",
                   "tfa_info.approver_document_number": "must be 11 digits",
                   "tfa_info.contact_type": "must be one of sms, email"}})
    );
    let missing = qi::create_device(&app, create_with(json!({}))).await;
    assert_eq!(
        assert_error(&missing, 400, "QIT000001")["extra_fields"],
        json!({"device_key": "is required", "session_id": "is required", "tfa_info": "is required"})
    );
    let missing_inner = qi::create_device(
        &app,
        create_with(
            json!({"device_key": device.to_string(), "session_id": SESSION, "tfa_info": {}}),
        ),
    )
    .await;
    assert_eq!(
        assert_error(&missing_inner, 400, "QIT000001")["extra_fields"],
        json!({"tfa_info.approver_document_number": "is required", "tfa_info.contact_type": "is required"})
    );
    let not_json = qi::create_device(
        &app,
        event("device-create.json", |e| {
            e["pathParameters"]["account_key"] = json!(account.key.to_string());
            e["body"] = json!("{not json");
        }),
    )
    .await;
    assert_eq!(
        assert_error(&not_json, 400, "QIT000001")["extra_fields"],
        json!({"body": "the request body is not valid JSON"})
    );
    let not_an_approver = qi::create_device(
        &app,
        create_with(
            json!({"device_key": device.to_string(), "session_id": SESSION,
            "tfa_info": {"approver_document_number": "98765432100", "contact_type": "sms"}}),
        ),
    )
    .await;
    assert_eq!(
        assert_error(&not_an_approver, 403, "OBD000090"),
        json!({"title": "No approver permission",
               "description": "Given document number does not belong to an approver for this account",
               "translation": "O número de documento informado não pertence a um aprovador desta conta",
               "code": "OBD000090", "extra_fields": {}})
    );
    let bad_paths = qi::resend_device_token(
        &app,
        event("device-resend-token.rest-v1.json", |e| {
            e["pathParameters"] = json!({"account_key": "x", "device_key": "y"});
        }),
    )
    .await;
    assert_eq!(
        assert_error(&bad_paths, 400, "QIT000001")["extra_fields"],
        json!({"account_key": "must be a UUID v4 (36 characters)",
               "device_key": "must be a UUID v4 (36 characters)"})
    );
    let bad_contact = resend(&app, &account, device, json!({"contact_type": "pigeon"})).await;
    assert_eq!(
        assert_error(&bad_contact, 400, "QIT000001")["extra_fields"],
        json!({"contact_type": "must be one of sms, email"})
    );
    for token in [json!(null), json!(123456), json!("12345"), json!("1234567")] {
        let refused = validate_raw(&app, &account, device, json!({ "token": token })).await;
        assert_eq!(
            assert_error(&refused, 400, "QIT000001")["extra_fields"]
                .as_object()
                .expect("object")
                .keys()
                .collect::<Vec<_>>(),
            ["token"]
        );
    }
    assert_eq!(tokens_to(&account.phone).await.len(), 0, "nothing was sent");
}

async fn validate_raw(
    app: &App,
    account: &TestAccount,
    device: DeviceKey,
    body: Value,
) -> Response<Body> {
    qi::validate_device(
        app,
        aimed("device-validate", V2, account.key, device, Some(body)),
    )
    .await
}

#[tokio::test]
async fn account_and_device_codes_follow_the_reference_table() {
    let app = qi_app(|_| {}).await;
    let unknown = TestAccount {
        key: AccountKey::random(),
        phone: unique_phone(),
        email: unique_email(),
    };
    let device = DeviceKey::random();
    let not_found = json!({"title": "Not Found", "description": "Bank account not found",
        "translation": "Conta não encontrada", "code": "OBD000002", "extra_fields": {}});
    let blocked = json!({"title": "Bad Request",
        "description": "Account blocked or closed can not perform this action",
        "translation": "A conta bloqueada ou fechada não pode executar esta ação",
        "code": "OBD000088", "extra_fields": {}});
    let hub = json!({"title": "Bad Request", "description": "Hub account can not perform this action",
        "translation": "A conta hub não pode executar esta ação", "code": "OBD000089", "extra_fields": {}});
    let no_device = json!({"title": "Device not found",
        "description": "No device is associated with the provided device_key.",
        "translation": "Nenhum dispositivo está associado à device_key fornecida.",
        "code": "OBD000100", "extra_fields": {}});

    let answers = |app: &'static App, account: AccountKey| async move {
        vec![
            (
                "create",
                qi::create_device(
                    app,
                    aimed(
                        "device-create",
                        V2,
                        account,
                        device,
                        Some(create_body(device, "sms")),
                    ),
                )
                .await,
            ),
            (
                "validate",
                qi::validate_device(
                    app,
                    aimed(
                        "device-validate",
                        V1,
                        account,
                        device,
                        Some(json!({"token": "ABC123"})),
                    ),
                )
                .await,
            ),
            (
                "resend",
                qi::resend_device_token(
                    app,
                    aimed("device-resend-token", V2, account, device, Some(json!({}))),
                )
                .await,
            ),
            (
                "get",
                qi::get_device(app, aimed("device-get", V1, account, device, None)).await,
            ),
            (
                "disable",
                qi::disable_device(app, aimed("device-disable", V2, account, device, None)).await,
            ),
        ]
    };
    let app: &'static App = Box::leak(Box::new(app));
    for (operation, response) in answers(app, unknown.key).await {
        assert_eq!(body(&response), not_found, "{operation}");
        assert_eq!(response.status(), 404, "{operation}");
    }
    for (status, expected) in [
        (AccountStatus::Blocked, &blocked),
        (AccountStatus::Closed, &blocked),
        (AccountStatus::Hub, &hub),
    ] {
        let account = account_in(app, status).await;
        for (operation, response) in answers(app, account.key).await {
            match operation {
                // Reading a device is allowed whatever the account's status; disabling is refused as QI's page
                // lists it (OBD000088, OBD000089).
                "get" => assert_eq!(body(&response), no_device, "{operation}"),
                _ => {
                    assert_eq!(body(&response), *expected, "{status:?} {operation}");
                    assert_eq!(response.status(), 400);
                }
            }
        }
        assert_eq!(tokens_to(&account.phone).await.len(), 0);
    }
    let active = account_in(app, AccountStatus::Active).await;
    let other = DeviceKey::random();
    for response in [
        validate(app, &active, other, "ABC123").await,
        resend(app, &active, other, json!({})).await,
        qi::get_device(app, aimed("device-get", V2, active.key, other, None)).await,
        qi::disable_device(app, aimed("device-disable", V1, active.key, other, None)).await,
    ] {
        assert_eq!(response.status(), 404);
        assert_eq!(body(&response), no_device);
    }
}

#[tokio::test]
async fn five_wrong_tokens_exhaust_the_device_and_a_resend_is_refused() {
    let app = qi_app(|config| config.resend_cooldown = time::Duration::ZERO).await;
    let account = account_in(&app, AccountStatus::Active).await;
    let device = create(&app, &account, "sms").await;
    let token = tokens_to(&account.phone).await.remove(0);
    for remaining in (0..5).rev() {
        let refused = validate(&app, &account, device, &wrong(&token)).await;
        assert_eq!(
            assert_error(&refused, 400, "OBD0000100"),
            json!({"title": "Incorrect Token", "description": "Token sent does not match expected",
                   "translation": "Token enviado não condiz com o esperado", "code": "OBD0000100",
                   "extra_fields": {"remaining_attempts": remaining}})
        );
    }
    let exhausted = json!({"title": "Number of token validation attempts exceeded",
        "description": "The maximum number of failed token validation attempts has been reached",
        "translation": "Número máximo de tentativas de validação de token atingida",
        "code": "OBD000099", "extra_fields": {}});
    let right = validate(&app, &account, device, &token).await;
    assert_eq!(right.status(), 400);
    assert_eq!(body(&right), exhausted, "dead, even for the right token");
    let resent = resend(&app, &account, device, json!({"contact_type": "email"})).await;
    assert_eq!(resent.status(), 400);
    assert_eq!(body(&resent), exhausted);
    assert_eq!(tokens_to(&account.phone).await.len(), 1);
    assert_eq!(
        tokens_to(&account.email).await.len(),
        0,
        "nothing more was sent"
    );
    let got = qi::get_device(&app, aimed("device-get", V2, account.key, device, None)).await;
    assert_eq!(body(&got)["status"], "not_registered");
}

#[tokio::test]
async fn a_resend_revokes_the_old_token_keeps_attempts_restarts_the_lifetime_and_defaults_to_the_first_channel(
) {
    let app = qi_app(|config| config.resend_cooldown = time::Duration::ZERO).await;
    let account = account_in(&app, AccountStatus::Active).await;
    let device = create(&app, &account, "email").await;
    let first = tokens_to(&account.email).await.remove(0);
    let subject = Subject::Device(account.key, device);
    let read = || async {
        app.store
            .get_token(&subject, TokenPurpose::DeviceApproval)
            .await
            .expect("read")
            .expect("token")
    };
    let issued = read().await;
    assert_eq!(
        issued.expires_at - issued.issued_at,
        time::Duration::minutes(5)
    );
    for _ in 0..2 {
        assert_error(
            &validate(&app, &account, device, &wrong(&first)).await,
            400,
            "OBD0000100",
        );
    }
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let by_sms = resend(&app, &account, device, json!({"contact_type": "sms"})).await;
    assert_eq!(by_sms.status(), 202);
    let resent = read().await;
    assert_eq!(
        resent.failed_attempts, 2,
        "a resend does not reset attempts"
    );
    assert!(
        resent.expires_at > issued.expires_at,
        "the lifetime restarts"
    );
    assert_eq!(
        resent.expires_at - resent.issued_at,
        time::Duration::minutes(5)
    );
    assert_eq!(resent.version, 2);
    assert_eq!(
        tokens_to(&account.phone).await.len(),
        1,
        "the resend went by SMS"
    );

    // Without contact_type, the token goes the way it was first requested: by email.
    let by_default = resend(&app, &account, device, json!({})).await;
    assert_eq!(by_default.status(), 202);
    let empty_body = qi::resend_device_token(
        &app,
        event("device-resend-token.json", |e| {
            e["pathParameters"]["account_key"] = json!(account.key.to_string());
            e["pathParameters"]["device_key"] = json!(device.to_string());
            e.as_object_mut().expect("object").remove("body");
        }),
    )
    .await;
    assert_eq!(empty_body.status(), 202, "{}", body(&empty_body));
    let emailed = tokens_to(&account.email).await;
    assert_eq!(emailed.len(), 3);
    assert_eq!(tokens_to(&account.phone).await.len(), 1);
    let newest = emailed[2].clone();
    // Two more wrong tries (four in all) leave one for the newest token.
    for old in [&first, &emailed[1]] {
        if *old != newest {
            assert_error(
                &validate(&app, &account, device, old).await,
                400,
                "OBD0000100",
            );
        }
    }
    let approved = validate(&app, &account, device, &newest).await;
    assert_eq!(approved.status(), 201);
    let items = all_items(app.config.table_name.as_str()).await;
    let stored = item(&items, &device_pk(&account.key, &device), "PROFILE").expect("device");
    assert_eq!(text_of(stored, "deviceStatus"), "active");
}

#[tokio::test]
async fn a_resend_inside_the_cooldown_is_202_unsent_to_the_same_recipient_and_429_to_another() {
    let app = qi_app(|_| {}).await;
    let account = account_in(&app, AccountStatus::Active).await;
    let device = create(&app, &account, "sms").await;
    let same = resend(&app, &account, device, json!({})).await;
    assert_eq!(same.status(), 202, "{}", body(&same));
    assert_eq!(body(&same)["device_status"], "pending_2fa_approval");
    assert_eq!(tokens_to(&account.phone).await.len(), 1, "not sent again");
    let early = resend(&app, &account, device, json!({"contact_type": "email"})).await;
    let error = assert_error(&early, 429, "XQI000105");
    let wait: u64 = early.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(error["extra_fields"]["retry_after_seconds"], wait);
    assert_eq!(tokens_to(&account.phone).await.len(), 1);
    assert!(tokens_to(&account.email).await.is_empty());
}

#[tokio::test]
async fn an_expired_token_is_refused_with_qit000104() {
    let app = qi_app(|config| config.otp_ttl = time::Duration::seconds(1)).await;
    let account = account_in(&app, AccountStatus::Active).await;
    let device = create(&app, &account, "sms").await;
    let token = tokens_to(&account.phone).await.remove(0);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let late = validate(&app, &account, device, &token).await;
    assert_eq!(
        assert_error(&late, 400, "XQI000104"),
        json!({"title": "Expired Token", "description": "The token has expired; request a new one",
               "translation": "O token expirou; solicite um novo", "code": "XQI000104", "extra_fields": {}})
    );
}

#[tokio::test]
async fn a_failed_send_is_obd000097_and_leaves_nothing_half_done() {
    let table = fresh_table().await;
    let dead = App {
        messenger: app_with_dead_messaging(&table).await.messenger,
        ..app_with(&table, |config| {
            config.resend_cooldown = time::Duration::ZERO
        })
        .await
    };
    let account = account_in(&dead, AccountStatus::Active).await;
    let device = DeviceKey::random();
    let failed = qi::create_device(
        &dead,
        aimed(
            "device-create",
            V2,
            account.key,
            device,
            Some(create_body(device, "sms")),
        ),
    )
    .await;
    assert_eq!(
        assert_error(&failed, 400, "OBD000097"),
        json!({"title": "Error occurred while sending token",
               "description": "An unexpected error occurred while sending token",
               "translation": "Um erro inexperado ocorreu ao tentar enviar token",
               "code": "OBD000097", "extra_fields": {}})
    );
    let items = all_items(&table).await;
    let pk = device_pk(&account.key, &device);
    assert!(item(&items, &pk, "PROFILE").is_none(), "no device");
    assert!(
        item(&items, &pk, "TOKEN#DEVICE_APPROVAL").is_none(),
        "no token"
    );
    assert!(
        items
            .iter()
            .filter(|item| text_of(item, "pk").starts_with("QUOTA#"))
            .all(|item| item.get("sends") == Some(&AttributeValue::N("0".into()))),
        "the quota slot was given back"
    );

    // A failed resend keeps the old token live and unchanged.
    let healthy = app_with(&table, |config| {
        config.resend_cooldown = time::Duration::ZERO
    })
    .await;
    let device = create(&healthy, &account, "sms").await;
    let token = tokens_to(&account.phone).await.remove(0);
    let subject = Subject::Device(account.key, device);
    let before = healthy
        .store
        .get_token(&subject, TokenPurpose::DeviceApproval)
        .await
        .expect("read")
        .expect("token");
    let failed = resend(&dead, &account, device, json!({"contact_type": "email"})).await;
    assert_error(&failed, 400, "OBD000097");
    let after = healthy
        .store
        .get_token(&subject, TokenPurpose::DeviceApproval)
        .await
        .expect("read")
        .expect("token");
    assert_eq!(after.digest, before.digest);
    assert_eq!(after.expires_at, before.expires_at);
    assert_eq!(
        validate(&healthy, &account, device, &token).await.status(),
        201
    );
}

/// What a caller's token says about QI accounts, relative to the account acted on.
#[derive(Clone, Copy, Debug)]
enum Claim {
    Nothing,
    ThisAccount,
    AnotherAccount,
    ThisAmongOthers,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum DeviceOperation {
    Create,
    Validate,
    Resend,
    Get,
    Disable,
}

const DEVICE_OPERATIONS: [DeviceOperation; 5] = [
    DeviceOperation::Create,
    DeviceOperation::Validate,
    DeviceOperation::Resend,
    DeviceOperation::Get,
    DeviceOperation::Disable,
];

/// Each kind of caller, and whether it may act on the account: a backoffice admin, or a token naming the account,
/// whatever the bearer's role.
const QI_CALLERS: [(&str, Role, Claim, bool); 9] = [
    (
        "backoffice admin",
        Role::BackofficeAdmin,
        Claim::Nothing,
        true,
    ),
    (
        "backoffice admin naming another account",
        Role::BackofficeAdmin,
        Claim::AnotherAccount,
        true,
    ),
    (
        "payor master admin naming the account",
        Role::PayorMasterAdmin,
        Claim::ThisAccount,
        true,
    ),
    (
        "payor support naming the account",
        Role::PayorSupport,
        Claim::ThisAccount,
        true,
    ),
    (
        "payee support naming it among others",
        Role::PayeeSupport,
        Claim::ThisAmongOthers,
        true,
    ),
    (
        "payor admin naming another account",
        Role::PayorAdmin,
        Claim::AnotherAccount,
        false,
    ),
    (
        "payor master admin without accountKeys",
        Role::PayorMasterAdmin,
        Claim::Nothing,
        false,
    ),
    (
        "payor support without accountKeys",
        Role::PayorSupport,
        Claim::Nothing,
        false,
    ),
    (
        "payee admin without accountKeys",
        Role::PayeeAdmin,
        Claim::Nothing,
        false,
    ),
];

/// One device operation on `account`'s `device`, by `caller` (the fixture's backoffice admin when `None`).
/// `token` is the device's live token, for validate.
async fn device_operation(
    app: &App,
    operation: DeviceOperation,
    account: AccountKey,
    device: DeviceKey,
    token: &str,
    caller: Option<(&user_token_domain::domain::User, &[String])>,
) -> Response<Body> {
    let aim = |function: &str, body: Option<Value>| {
        aimed_with(function, V2, account, device, body, |event| {
            if let Some((user, keys)) = caller {
                api_tests::as_caller_for_accounts(event, user, keys);
            }
        })
    };
    match operation {
        DeviceOperation::Create => {
            qi::create_device(app, aim("device-create", Some(create_body(device, "sms")))).await
        }
        DeviceOperation::Validate => {
            let body = Some(json!({ "token": token }));
            qi::validate_device(app, aim("device-validate", body)).await
        }
        DeviceOperation::Resend => {
            qi::resend_device_token(app, aim("device-resend-token", Some(json!({})))).await
        }
        DeviceOperation::Get => qi::get_device(app, aim("device-get", None)).await,
        DeviceOperation::Disable => qi::disable_device(app, aim("device-disable", None)).await,
    }
}

#[tokio::test]
async fn every_cell_of_the_qi_permission_matrix() {
    let app = qi_app(|config| {
        config.resend_cooldown = time::Duration::ZERO;
        config.send_quota = 1_000;
    })
    .await;
    let account = account_in(&app, AccountStatus::Active).await;
    let (another, unknown) = (AccountKey::random(), AccountKey::random());
    for (name, role, claim, allowed) in QI_CALLERS {
        let entity = (role != Role::BackofficeAdmin).then(|| EntityId::random().to_string());
        let caller = api_tests::user(
            &unique_email(),
            role.family().user_type(),
            entity.as_deref(),
            &[role],
        );
        let keys: Vec<String> = match claim {
            Claim::Nothing => vec![],
            Claim::ThisAccount => vec![account.key.to_string()],
            Claim::AnotherAccount => vec![another.to_string()],
            Claim::ThisAmongOthers => vec![another.to_string(), account.key.to_string()],
        };
        for operation in DEVICE_OPERATIONS {
            let cell = format!("{name} × {operation:?}");
            let device = match operation {
                DeviceOperation::Create => DeviceKey::random(),
                _ => create(&app, &account, "sms").await,
            };
            let table = &app.config.table_name;
            let before = api_tests::partition(table, &device_pk(&account.key, &device)).await;
            let token = match (operation, allowed) {
                (DeviceOperation::Validate, true) => tokens_to(&account.phone).await.pop(),
                _ => None,
            }
            .unwrap_or_else(|| "AAAAAA".to_owned());
            let answer = device_operation(
                &app,
                operation,
                account.key,
                device,
                &token,
                Some((&caller, &keys)),
            )
            .await;
            let answered = body(&answer);
            if !allowed {
                // Refused exactly as an account that does not exist, and nothing changed.
                let as_unknown =
                    device_operation(&app, operation, unknown, device, &token, None).await;
                assert_eq!(
                    (answer.status(), &answered),
                    (as_unknown.status(), &body(&as_unknown)),
                    "{cell}"
                );
                assert_error(&answer, 404, "OBD000002");
                // Every send writes the token first: an untouched partition means nothing was sent either.
                let after = api_tests::partition(table, &device_pk(&account.key, &device)).await;
                assert_eq!(
                    after, before,
                    "{cell}: the device and its token are untouched"
                );
                continue;
            }
            let expected = match operation {
                DeviceOperation::Create | DeviceOperation::Resend => (202, "pending_2fa_approval"),
                DeviceOperation::Validate => (201, "created"),
                DeviceOperation::Get => (200, "not_registered"),
                DeviceOperation::Disable => (200, "disabled"),
            };
            // QI's get names the registration `status`; the other operations answer `device_status`.
            let field = match operation {
                DeviceOperation::Get => "status",
                _ => "device_status",
            };
            assert_eq!(
                (answer.status().as_u16(), answered[field].as_str()),
                (expected.0, Some(expected.1)),
                "{cell}: {answered}"
            );
            if matches!(
                operation,
                DeviceOperation::Create | DeviceOperation::Resend | DeviceOperation::Get
            ) {
                assert_eq!(answered["device_key"], device.to_string(), "{cell}");
            }
            let after = api_tests::partition(table, &device_pk(&account.key, &device)).await;
            let digest = |items: &[HashMap<String, AttributeValue>]| {
                item(
                    items,
                    &device_pk(&account.key, &device),
                    "TOKEN#DEVICE_APPROVAL",
                )
                .map(|token| text_of(token, "digest"))
            };
            match operation {
                DeviceOperation::Create => assert!(digest(&after).is_some(), "{cell}: a token"),
                DeviceOperation::Resend => assert_ne!(digest(&after), digest(&before), "{cell}"),
                _ => {}
            }
        }
    }
}

#[tokio::test]
async fn a_refused_caller_is_qit000101_in_qis_words() {
    let app = qi_app(|_| {}).await;
    let rejected = qi::get_device(
        &app,
        event("device-get.rest-v1.json", |e| {
            e["requestContext"]["authorizer"] =
                json!({"authStatus": "rejected", "authError": "expired"});
        }),
    )
    .await;
    assert_eq!(
        assert_error(&rejected, 401, "XQI000101"),
        json!({"title": "Unauthorized", "description": "The access token is missing, invalid or expired",
               "translation": "O token de acesso está ausente, é inválido ou expirou",
               "code": "XQI000101", "extra_fields": {}})
    );
}

#[tokio::test]
async fn an_approved_or_disabled_device_takes_no_more_tokens() {
    let app = qi_app(|config| config.resend_cooldown = time::Duration::ZERO).await;
    let account = account_in(&app, AccountStatus::Active).await;
    let device = create(&app, &account, "sms").await;
    let token = tokens_to(&account.phone).await.remove(0);
    assert_eq!(validate(&app, &account, device, &token).await.status(), 201);
    let not_pending = json!({"title": "Conflict", "description": "The device is not pending 2FA approval",
        "translation": "O dispositivo não está pendente de aprovação 2FA", "code": "XQI000103",
        "extra_fields": {}});
    let again = validate(&app, &account, device, &token).await;
    assert_eq!(again.status(), 409);
    assert_eq!(body(&again), not_pending);
    let resent = resend(&app, &account, device, json!({})).await;
    assert_eq!(body(&resent), not_pending);

    let pending = create(&app, &account, "sms").await;
    let pending_token = tokens_to(&account.phone).await.remove(1);
    let disabled = qi::disable_device(
        &app,
        aimed("device-disable", V2, account.key, pending, None),
    )
    .await;
    assert_eq!(disabled.status(), 200);
    let late = validate(&app, &account, pending, &pending_token).await;
    assert_eq!(
        body(&late),
        not_pending,
        "a disabled device cannot be approved"
    );
    assert_eq!(
        body(&resend(&app, &account, pending, json!({})).await),
        not_pending
    );
    assert_eq!(tokens_to(&account.phone).await.len(), 2);
}

/// Moves a token's last send back past the cooldown, as if a minute had gone by.
async fn rewind_cooldown(table: &str, subject: &str) {
    let past = time::OffsetDateTime::now_utc().unix_timestamp() - 120;
    api_tests::dynamodb()
        .await
        .update_item()
        .table_name(table)
        .key("pk", AttributeValue::S(subject.to_owned()))
        .key("sk", AttributeValue::S("TOKEN#DEVICE_APPROVAL".into()))
        .update_expression("SET #sent = :past")
        .expression_attribute_names("#sent", "lastSentAt")
        .expression_attribute_values(":past", AttributeValue::N(past.to_string()))
        .send()
        .await
        .expect("rewound");
}

/// `api_tests::call`, with the status as a number: the tables below compare tuples.
async fn call(
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let (status, body, headers) = api_tests::call(method, path, token, body).await;
    (status.as_u16(), body, headers)
}

#[tokio::test]
async fn over_http_create_wrong_token_resend_by_another_channel_validate_get_disable() {
    use reqwest::Method;
    let stack = shared_stack();
    let store = api_tests::dynamo_store(api_tests::dynamodb().await, stack.table.clone());
    let seeded = store
        .get_account(&SEED_QI_ACCOUNT_KEY.parse().expect("key"))
        .await
        .expect("read")
        .expect("make run's account is seeded");
    assert_eq!(
        seeded,
        Account {
            created_at: seeded.created_at,
            ..seed_qi_account().expect("seed")
        }
    );
    let app_for_seeding = App {
        store: store.clone(),
        ..api_tests::app(&stack.table).await
    };
    let account = account_in(&app_for_seeding, AccountStatus::Active).await;
    let admin = stack.token_for(SEED_ADMIN_ID.parse().expect("id"));
    let device = DeviceKey::random();
    let base = format!("/account/{}/device", account.key);
    let at = format!("{base}/{device}");

    let (status, created, _) = call(
        Method::POST,
        &base,
        Some(&admin),
        Some(create_body(device, "sms")),
    )
    .await;
    assert_eq!(status, 202, "{created}");
    assert_eq!(created["device_status"], "pending_2fa_approval");
    let first = tokens_to(&account.phone).await;
    assert_eq!(first.len(), 1, "the token is in the outbox");

    let (status, refused, _) = call(
        Method::PUT,
        &format!("{at}/validate"),
        Some(&admin),
        Some(json!({"token": wrong(&first[0])})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(refused["code"], "OBD0000100");
    assert_eq!(refused["extra_fields"]["remaining_attempts"], 4);

    let (status, early, headers) = call(
        Method::PATCH,
        &format!("{at}/resend_token"),
        Some(&admin),
        Some(json!({"contact_type": "email"})),
    )
    .await;
    assert_eq!(status, 429, "{early}");
    assert!(headers.contains_key("retry-after"));
    rewind_cooldown(&stack.table, &device_pk(&account.key, &device)).await;
    let (status, resent, _) = call(
        Method::PATCH,
        &format!("{at}/resend_token"),
        Some(&admin),
        Some(json!({"contact_type": "email"})),
    )
    .await;
    assert_eq!(status, 202, "{resent}");
    assert_eq!(resent["created_at"], created["created_at"]);
    let emailed = tokens_to(&account.email).await;
    assert_eq!(emailed.len(), 1, "the new token went by email");
    let sent = outbox(&api_tests::endpoint()).await.expect("outbox");
    assert_eq!(
        sent.emails_to(&account.email)[0].subject,
        "Aprovação de novo dispositivo"
    );

    if emailed[0] != first[0] {
        let (status, old, _) = call(
            Method::PUT,
            &format!("{at}/validate"),
            Some(&admin),
            Some(json!({"token": first[0]})),
        )
        .await;
        assert_eq!(
            (status, old["code"].as_str()),
            (400, Some("OBD0000100")),
            "revoked"
        );
    }
    let (status, approved, _) = call(
        Method::PUT,
        &format!("{at}/validate"),
        Some(&admin),
        Some(json!({"token": emailed[0]})),
    )
    .await;
    assert_eq!(
        (status, approved),
        (
            201,
            json!({"device_key": device.to_string(), "device_status": "created",
                   "created_at": created["created_at"]})
        )
    );

    let (status, got, _) = call(Method::GET, &at, Some(&admin), None).await;
    assert_eq!(status, 200);
    assert_eq!(got["status"], "registered");
    assert_eq!(got["device_key"], device.to_string());

    let (status, disabled, _) =
        call(Method::DELETE, &format!("{at}/disable"), Some(&admin), None).await;
    assert_eq!(
        (status, disabled),
        (
            200,
            json!({"device_key": device.to_string(), "device_status": "disabled",
                   "created_at": created["created_at"]})
        )
    );
    let (_, got, _) = call(Method::GET, &at, Some(&admin), None).await;
    assert_eq!(got["status"], "deactivated");
    let items = all_items(&stack.table).await;
    let stored = item(&items, &device_pk(&account.key, &device), "PROFILE").expect("device");
    assert_eq!(text_of(stored, "deviceStatus"), "disabled");

    let (status, unauthenticated, _) = call(Method::GET, &at, None, None).await;
    assert_eq!(status, 401);
    assert_eq!(unauthenticated["code"], "XQI000101");
    let (status, unknown, _) = call(
        Method::GET,
        &format!("{base}/{}", DeviceKey::random()),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!((status, unknown["code"].as_str()), (404, Some("OBD000100")));
}

#[tokio::test]
async fn over_http_a_token_whose_claims_name_the_account_may_use_it_and_no_other() {
    use reqwest::Method;
    let stack = shared_stack();
    let store = api_tests::dynamo_store(api_tests::dynamodb().await, stack.table.clone());
    let app_for_seeding = App {
        store: store.clone(),
        ..api_tests::app(&stack.table).await
    };
    let account = account_in(&app_for_seeding, AccountStatus::Active).await;
    let mut user = seed_admin().expect("user");
    user.id = UserId::random();
    user.email = unique_email().parse().expect("email");
    user.roles = vec![Role::PayorSupport];
    user.user_type = UserType::Payor;
    user.entity_id = Some(EntityId::random());
    store.create_user(&user).await.expect("user created");
    let token = local_stack::bearer_token_for_accounts(
        &stack.template,
        &stack.parameters,
        user.id,
        &[account.key.to_string()],
        600,
    )
    .expect("token");
    let device = DeviceKey::random();
    let (status, created, _) = call(
        Method::POST,
        &format!("/account/{}/device", account.key),
        Some(&token),
        Some(create_body(device, "email")),
    )
    .await;
    assert_eq!(status, 202, "{created}");
    assert_eq!(tokens_to(&account.email).await.len(), 1);
    let (status, other, _) = call(
        Method::GET,
        &format!("/account/{SEED_QI_ACCOUNT_KEY}/device/{device}"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!((status, other["code"].as_str()), (404, Some("OBD000002")));
    let plain = stack.token_for(user.id);
    let (status, refused, _) = call(
        Method::GET,
        &format!("/account/{}/device/{device}", account.key),
        Some(&plain),
        None,
    )
    .await;
    assert_eq!((status, refused["code"].as_str()), (404, Some("OBD000002")));
}

#[tokio::test]
async fn the_authorizer_passes_the_account_keys_claim_on_as_a_string() {
    let app = qi_app(|_| {}).await;
    app.store
        .create_user(&seed_admin().expect("seed"))
        .await
        .expect("seeded");
    let account = AccountKey::random().to_string();
    let token = local_stack::bearer_token_for_accounts(
        &api_tests::template(),
        &api_tests::parameters(),
        SEED_ADMIN_ID.parse().expect("id"),
        &[
            account.clone(),
            "not-a-uuid".into(),
            SEED_QI_ACCOUNT_KEY.into(),
        ],
        600,
    )
    .expect("token");
    let verifier = app.verifier().await.expect("verifier");
    for name in ["authorizer.json", "authorizer.rest-v1.json"] {
        let text = std::fs::read_to_string(api_tests::root().join("events").join(name))
            .expect("fixture")
            .replace("<run make token>", &token);
        let verdict = user_token_domain::doors::authorizer::authorize(
            &verifier,
            app.store.as_ref(),
            serde_json::from_str(&text).expect("json"),
        )
        .await;
        assert_eq!(
            verdict["context"]["accountKeys"],
            format!("{account},{SEED_QI_ACCOUNT_KEY}"),
            "{name}"
        );
    }
}

#[tokio::test]
async fn concurrent_creates_of_one_device_key_make_one_device_and_one_message() {
    let app = qi_app(|_| {}).await;
    let account = account_in(&app, AccountStatus::Active).await;
    let device = DeviceKey::random();
    let attempts = (0..5).map(|_| {
        qi::create_device(
            &app,
            aimed(
                "device-create",
                V2,
                account.key,
                device,
                Some(create_body(device, "sms")),
            ),
        )
    });
    let mut statuses: Vec<u16> = futures_util::future::join_all(attempts)
        .await
        .iter()
        .map(|response| {
            if response.status() != 202 {
                assert_eq!(body(response)["code"], "XQI000102", "{}", body(response));
            }
            response.status().as_u16()
        })
        .collect();
    statuses.sort();
    assert_eq!(statuses, [202, 409, 409, 409, 409]);
    assert_eq!(tokens_to(&account.phone).await.len(), 1);
}

/// Deletes the device's token item, as DynamoDB's TTL does some time after expiry (the emulator runs no TTL).
async fn remove_token_as_ttl_does(table: &str, account: &AccountKey, device: &DeviceKey) {
    api_tests::dynamodb()
        .await
        .delete_item()
        .table_name(table)
        .key("pk", AttributeValue::S(device_pk(account, device)))
        .key("sk", AttributeValue::S("TOKEN#DEVICE_APPROVAL".into()))
        .send()
        .await
        .expect("deleted");
}

/// The done-when: QI's whole flow as a client written from QI's pages drives it (create, resend by SMS and
/// by email, validate wrong then right, get, disable), every body field checked against the pages; and a device whose
/// token item TTL removed gets a new token from resend, by SMS, that approves it.
#[tokio::test]
async fn qi_flow_as_documented_every_body_field_and_a_token_removed_by_ttl() {
    let app = qi_app(|config| config.resend_cooldown = time::Duration::ZERO).await;
    let table = app.config.table_name.as_str().to_owned();
    let account = account_in(&app, AccountStatus::Active).await;
    let device = DeviceKey::random();
    let created = qi::create_device(
        &app,
        aimed(
            "device-create",
            V2,
            account.key,
            device,
            Some(create_body(device, "sms")),
        ),
    )
    .await;
    assert_eq!(created.status(), 202);
    let created = body(&created);
    let created_at = created["created_at"].clone();
    let pending = json!({"device_key": device.to_string(), "device_status": "pending_2fa_approval",
                         "created_at": created_at});
    assert_eq!(created, pending);

    let by_sms = resend(&app, &account, device, json!({"contact_type": "sms"})).await;
    assert_eq!(
        (by_sms.status().as_u16(), body(&by_sms)),
        (202, pending.clone())
    );
    assert_eq!(tokens_to(&account.phone).await.len(), 2, "resent by SMS");
    let by_email = resend(&app, &account, device, json!({"contact_type": "email"})).await;
    assert_eq!(
        (by_email.status().as_u16(), body(&by_email)),
        (202, pending.clone())
    );
    let emailed = tokens_to(&account.email).await;
    assert_eq!(emailed.len(), 1, "resent by email");

    let refused = validate(&app, &account, device, &wrong(&emailed[0])).await;
    assert_eq!(
        assert_error(&refused, 400, "OBD0000100"),
        json!({"title": "Incorrect Token", "description": "Token sent does not match expected",
               "translation": "Token enviado não condiz com o esperado", "code": "OBD0000100",
               "extra_fields": {"remaining_attempts": 4}})
    );
    let items = all_items(&table).await;
    let stored = item(&items, &device_pk(&account.key, &device), "PROFILE").expect("device");
    assert_eq!(
        stored.get("failedAttempts"),
        Some(&AttributeValue::N("1".into())),
        "the wrong token is counted on the device too"
    );
    let approved = validate(&app, &account, device, &emailed[0]).await;
    assert_eq!(approved.status(), 201);
    assert_eq!(
        body(&approved),
        json!({"device_key": device.to_string(), "device_status": "created", "created_at": created_at})
    );

    let got = qi::get_device(&app, aimed("device-get", V2, account.key, device, None)).await;
    assert_eq!(got.status(), 200);
    let view = body(&got);
    let registered = view["registration_date"].clone();
    assert!(registered.is_string(), "{view}");
    assert_eq!(
        view,
        json!({
            "device_key": device.to_string(),
            "session_id": SESSION,
            "analysis_status": "automatically_approved",
            "status": "registered",
            "device_registration_data": {
                "device_key": device.to_string(), "session_id": SESSION,
                "document_number": "123.456.789-09", "registration_date": created_at,
                "face_recognition_key": null
            },
            "analysis_status_events": [
                {"new_analisys_status": "pending", "reason": null, "reason_description": null,
                 "event_date": created_at},
                {"new_analisys_status": "automatically_approved", "reason": null,
                 "reason_description": null, "event_date": registered}
            ],
            "status_events": [
                {"new_status": "not_registered", "event_date": created_at},
                {"new_status": "registered", "event_date": registered}
            ],
            "registration_date": registered,
            "created_at": created_at
        })
    );

    let disabled =
        qi::disable_device(&app, aimed("device-disable", V2, account.key, device, None)).await;
    assert_eq!(disabled.status(), 200);
    assert_eq!(
        body(&disabled),
        json!({"device_key": device.to_string(), "device_status": "disabled", "created_at": created_at})
    );
    let got = body(&qi::get_device(&app, aimed("device-get", V2, account.key, device, None)).await);
    assert_eq!(
        (got["status"].as_str(), got["analysis_status"].as_str()),
        (Some("deactivated"), Some("automatically_approved"))
    );
    assert_eq!(got["status_events"][2]["new_status"], "deactivated");

    // A device whose token item TTL removed: resend issues a new one.
    let stuck = create(&app, &account, "sms").await;
    let before = tokens_to(&account.phone).await.len();
    remove_token_as_ttl_does(&table, &account.key, &stuck).await;
    let resent = resend(&app, &account, stuck, json!({})).await;
    assert_eq!(resent.status(), 202, "{}", body(&resent));
    assert_eq!(body(&resent)["device_key"], stuck.to_string());
    let sms = tokens_to(&account.phone).await;
    assert_eq!(sms.len(), before + 1, "a new token went by SMS");
    let items = all_items(&table).await;
    assert!(item(
        &items,
        &device_pk(&account.key, &stuck),
        "TOKEN#DEVICE_APPROVAL"
    )
    .is_some());
    let approved = validate(&app, &account, stuck, &sms[before]).await;
    assert_eq!(approved.status(), 201, "{}", body(&approved));
    assert_eq!(body(&approved)["device_status"], "created");
}

/// Deleting the token item never grants fresh attempts: the count lives on the device, written with each failure.
#[tokio::test]
async fn a_token_removed_by_ttl_takes_no_attempts_with_it() {
    let app = qi_app(|config| config.resend_cooldown = time::Duration::ZERO).await;
    let table = app.config.table_name.as_str().to_owned();
    let account = account_in(&app, AccountStatus::Active).await;
    let device = create(&app, &account, "sms").await;
    let token = tokens_to(&account.phone).await.remove(0);
    for _ in 0..5 {
        validate(&app, &account, device, &wrong(&token)).await;
    }
    remove_token_as_ttl_does(&table, &account.key, &device).await;
    let refused = resend(&app, &account, device, json!({})).await;
    assert_error(&refused, 400, "OBD000099");
    assert_eq!(tokens_to(&account.phone).await.len(), 1, "nothing was sent");
    let items = all_items(&table).await;
    assert!(item(
        &items,
        &device_pk(&account.key, &device),
        "TOKEN#DEVICE_APPROVAL"
    )
    .is_none());
}
