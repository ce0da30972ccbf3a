//! Request bodies at every front door: a value of the wrong type is reported by its field and expected type, never
//! echoed into an answer or a log line; a body over `MAX_BODY_BYTES` is refused with 413 in the door's own format
//! before anything parses it; QI reads its bodies straight into its request types.

use lambda_http::{Body, Request, Response};
use serde_json::{json, Map, Value};

use crate::domain::UserId;
use crate::doors::authz::pre_auth_context;
use crate::doors::http::MAX_BODY_BYTES;
use crate::doors::{qi, sigma, velo};
use crate::testing::{
    admin, body, capture_logs, event, event_with, memory_app, velo_error, with_raw_body,
};

fn qi_schema_error(fields: Value) -> Value {
    json!({"title": "Bad Request", "description": "Schema Error", "translation": "Erro de Schema",
           "code": "QIT000001", "extra_fields": fields})
}

const WRONG_TYPE: &str = "invalid type: integer, expected a string";

/// The answer and the log lines hold not one run of the value's digits; and the refusal was logged, naming the
/// field, so that the absence means something.
fn assert_value_nowhere(
    what: &str,
    response: &Response<Body>,
    logs: &str,
    value: &str,
    operation: &str,
) {
    let answer = String::from_utf8_lossy(response.body().as_ref()).into_owned();
    assert!(
        !answer.contains(value),
        "{what}: the value is in the answer {answer}"
    );
    assert!(
        !logs.contains(value),
        "{what}: the value is in a log line: {logs}"
    );
    let line = logs
        .lines()
        .find(|line| line.contains(&format!("\"operation\":\"{operation}\"")))
        .unwrap_or_else(|| panic!("{what}: no log line of {operation} in {logs}"));
    assert!(line.contains("request refused"), "{what}: {line}");
}

/// The Velo operation `operation` (its log name).
async fn velo_operation(app: &crate::App, operation: &str, request: Request) -> Response<Body> {
    match operation {
        "inviteUser" => velo::invite_user(app, request).await,
        "roleUpdate" => velo::role_update(app, request).await,
        "userDetailsUpdate" => velo::user_details_update(app, request).await,
        "unregisterMFA" => velo::unregister_mfa(app, request).await,
        "resendToken" => velo::resend_token(app, request).await,
        "updatePasswordSelf" => velo::update_password_self(app, request).await,
        "validateAccessToken" => velo::validate_access_token(app, request).await,
        "confirmMfa" => velo::confirm_mfa(app, request).await,
        other => panic!("no such operation in this test: {other}"),
    }
}

#[tokio::test]
async fn a_code_or_password_of_the_wrong_type_is_named_by_field_and_type_never_by_value() {
    let app = memory_app(|_| {});
    let caller = admin();
    let target = UserId::random().to_string();
    let target_path = json!({ "userId": target });
    let request = |method: &str, path: &str, params: Value, body: Value| {
        event(method, path, params, &[], Some(body), &caller, Map::new())
    };
    let code = "827364";
    let cases: Vec<(&str, &str, Request, &str, &str)> = vec![
        (
            "invite",
            "inviteUser",
            request(
                "POST",
                "/v2/users/invite",
                json!({}),
                json!({"email": "pat@example.com", "mfaType": "SMS", "smsNumber": "+15555550123",
                       "primaryContactNumber": "+15555550123", "roles": ["velo.backoffice.admin"],
                       "verificationCode": 827364}),
            ),
            "verificationCode",
            code,
        ),
        (
            "roleUpdate",
            "roleUpdate",
            request(
                "POST",
                "/v2/users/x/roleUpdate",
                target_path.clone(),
                json!({"roles": ["velo.backoffice.admin"], "verificationCode": 827364}),
            ),
            "verificationCode",
            code,
        ),
        (
            "userDetailsUpdate",
            "userDetailsUpdate",
            request(
                "POST",
                "/v2/users/x/userDetailsUpdate",
                target_path.clone(),
                json!({"verificationCode": 827364}),
            ),
            "verificationCode",
            code,
        ),
        (
            "unregisterMfa",
            "unregisterMFA",
            request(
                "POST",
                "/v2/users/x/mfa/unregister",
                target_path.clone(),
                json!({"mfaType": "TOTP", "verificationCode": 827364}),
            ),
            "verificationCode",
            code,
        ),
        (
            "resendToken",
            "resendToken",
            request(
                "POST",
                "/v2/users/x/tokens",
                target_path.clone(),
                json!({"tokenType": "INVITE_MFA_USER", "verificationCode": 827364}),
            ),
            "verificationCode",
            code,
        ),
        (
            "updatePasswordSelf",
            "updatePasswordSelf",
            request(
                "POST",
                "/v2/users/self/password",
                json!({}),
                json!({"oldPassword": 19061906190619u64, "newPassword": "a brand new passphrase 2027"}),
            ),
            "oldPassword",
            "19061906190619",
        ),
        (
            "validate (Login API)",
            "validateAccessToken",
            event_with(
                "POST",
                "/v1/validate",
                json!({}),
                &[],
                &[],
                Some(json!({"otp": 918273})),
                pre_auth_context(&caller),
            ),
            "otp",
            "918273",
        ),
        (
            "confirm MFA (Login API)",
            "confirmMfa",
            event_with(
                "POST",
                "/v1/mfa/register/confirm",
                json!({}),
                &[],
                &[],
                Some(json!({"otp": 918273})),
                pre_auth_context(&caller),
            ),
            "otp",
            "918273",
        ),
    ];
    for (what, operation, request, field, value) in cases {
        let logs = capture_logs();
        let response = velo_operation(&app.app, operation, request).await;
        assert_eq!(response.status(), 400, "{what}: {:?}", body(&response));
        assert_eq!(
            body(&response),
            velo_error(400, "40010001", WRONG_TYPE, Some(field)),
            "{what}"
        );
        assert_value_nowhere(what, &response, &logs.text(), value, operation);
    }
    assert!(app.messenger.outbox().is_empty(), "nothing was sent");
    assert_eq!(app.store.user_count(), 0, "nothing was stored");
}

#[tokio::test]
async fn sigma_check_code_names_a_code_of_the_wrong_type_without_its_value() {
    let app = memory_app(|_| {});
    let caller = admin();
    let request_id = uuid::Uuid::new_v4().to_string();
    let check = |language: &str| {
        event_with(
            "POST",
            &format!("/api/n/otp-handler/{request_id}/checkCode"),
            json!({ "requestId": request_id }),
            &[],
            &[("accept-language", language)],
            Some(json!({"code": 918273})),
            crate::doors::authz::authenticated_context(&caller),
        )
    };
    for (language, message) in [
        ("ru", "Ошибка валидации: code".to_owned()),
        ("en", format!("code: {WRONG_TYPE}")),
    ] {
        let logs = capture_logs();
        let response = sigma::check_code(&app.app, check(language)).await;
        assert_eq!(response.status(), 400);
        assert_eq!(
            body(&response),
            json!({"type": "ValidateError", "message": message, "httpStatus": 400})
        );
        assert_value_nowhere(
            "checkCode",
            &response,
            &logs.text(),
            "918273",
            "otpCheckCode",
        );
    }
}

#[tokio::test]
async fn qi_names_a_token_of_the_wrong_type_without_its_value() {
    let app = memory_app(|_| {});
    let caller = admin();
    let (account, device) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    for (sent, fields) in [
        (
            json!({"token": 918273}),
            json!({"token": "must be a string of 6 characters"}),
        ),
        (json!({"code": 918273}), json!({"token": "is required"})),
        (
            json!({"token": "918273", "verificationCode": 827364}),
            Value::Null,
        ),
    ] {
        let logs = capture_logs();
        let response = qi::validate_device(
            &app.app,
            event(
                "PUT",
                &format!("/account/{account}/device/{device}/validate"),
                json!({"account_key": account.to_string(), "device_key": device.to_string()}),
                &[],
                Some(sent.clone()),
                &caller,
                Map::new(),
            ),
        )
        .await;
        if fields.is_null() {
            // A well-formed token for an account that does not exist: the body was read, and nothing echoed.
            assert_eq!(response.status(), 404, "{sent}");
            assert_eq!(body(&response)["code"], "OBD000002");
            assert_value_nowhere(
                "validate",
                &response,
                &logs.text(),
                "827364",
                "validateDevice",
            );
            continue;
        }
        assert_eq!(response.status(), 400, "{sent}");
        assert_eq!(body(&response), qi_schema_error(fields), "{sent}");
        assert_value_nowhere(
            "validate",
            &response,
            &logs.text(),
            "918273",
            "validateDevice",
        );
    }
}

/// A JSON body of exactly `length` bytes: `value`, padded with trailing spaces (which JSON allows).
fn padded(value: &Value, length: usize) -> String {
    let text = value.to_string();
    assert!(text.len() <= length);
    format!("{text}{}", " ".repeat(length - text.len()))
}

#[tokio::test]
async fn velo_refuses_a_body_over_the_limit_with_413_before_parsing_it_and_takes_one_at_the_limit()
{
    let app = memory_app(|_| {});
    let caller = admin();
    let invitation = json!({"email": "big@example.com", "mfaType": "SMS", "smsNumber": "+15555550123",
        "primaryContactNumber": "+15555550123", "roles": ["velo.backoffice.admin"]});
    let invite = |raw: String| {
        with_raw_body(
            event(
                "POST",
                "/v2/users/invite",
                json!({}),
                &[],
                None,
                &caller,
                Map::new(),
            ),
            raw,
        )
    };
    let refused =
        velo::invite_user(&app.app, invite(padded(&invitation, MAX_BODY_BYTES + 1))).await;
    assert_eq!(refused.status(), 413);
    assert_eq!(
        body(&refused),
        velo_error(
            413,
            "41310001",
            "the request body must be at most 65536 bytes",
            Some("body")
        )
    );
    // Not even JSON: refused for its size, not its syntax.
    let junk = velo::invite_user(&app.app, invite("[".repeat(5 * 1024 * 1024))).await;
    assert_eq!(junk.status(), 413);
    assert_eq!(body(&junk)["errors"][0]["errorCode"], "41310001");
    assert_eq!(app.store.user_count(), 0);
    assert!(app.messenger.outbox().is_empty());

    // The public sign-in takes no JSON, and is refused all the same.
    let sign_in = velo::authenticate(
        &app.app,
        with_raw_body(
            event_with(
                "POST",
                "/v1/authenticate",
                json!({}),
                &[("grant_type", "password")],
                &[],
                None,
                Map::new(),
            ),
            "a".repeat(MAX_BODY_BYTES + 1),
        ),
    )
    .await;
    assert_eq!(sign_in.status(), 413);
    assert_eq!(body(&sign_in)["errors"][0]["errorCode"], "41310001");

    let at_limit = velo::invite_user(&app.app, invite(padded(&invitation, MAX_BODY_BYTES))).await;
    assert_eq!(at_limit.status(), 204, "{:?}", body(&at_limit));
    assert_eq!(app.store.user_count(), 1);
}

#[tokio::test]
async fn qi_refuses_a_body_over_the_limit_with_413_in_its_own_body() {
    let app = memory_app(|_| {});
    let caller = admin();
    let account = uuid::Uuid::new_v4();
    let create = |raw: String| {
        with_raw_body(
            event(
                "POST",
                &format!("/account/{account}/device"),
                json!({"account_key": account.to_string()}),
                &[],
                None,
                &caller,
                Map::new(),
            ),
            raw,
        )
    };
    let big = json!({"device_key": uuid::Uuid::new_v4().to_string(),
        "session_id": "s".repeat(5 * 1024 * 1024),
        "tfa_info": {"approver_document_number": "12345678909", "contact_type": "sms"}});
    let refused = qi::create_device(&app.app, create(big.to_string())).await;
    assert_eq!(refused.status(), 413);
    assert_eq!(
        body(&refused),
        json!({"title": "Payload Too Large", "description": "The request body is too large",
               "translation": "O corpo da requisição é grande demais", "code": "XQI000108",
               "extra_fields": {"max_body_bytes": 65536}})
    );
    assert_eq!(app.store.device_count(), 0);
    // At the limit the body is read, and judged: here, an unknown account.
    let sized = json!({"device_key": uuid::Uuid::new_v4().to_string(),
        "session_id": uuid::Uuid::new_v4().to_string(),
        "tfa_info": {"approver_document_number": "12345678909", "contact_type": "sms"}});
    let at_limit = qi::create_device(&app.app, create(padded(&sized, MAX_BODY_BYTES))).await;
    assert_eq!(at_limit.status(), 404, "{:?}", body(&at_limit));
    assert_eq!(body(&at_limit)["code"], "OBD000002");
}

#[tokio::test]
async fn sigma_refuses_a_body_over_the_limit_with_413_in_its_own_body_and_language() {
    let app = memory_app(|_| {});
    let caller = admin();
    let start = |language: &str, raw: String| {
        with_raw_body(
            event_with(
                "POST",
                "/api/n/otp-handler/",
                json!({}),
                &[],
                &[("accept-language", language)],
                None,
                crate::doors::authz::authenticated_context(&caller),
            ),
            raw,
        )
    };
    let big = json!({"widgetId": "w", "recipient": "+15555550123", "padding": "x".repeat(MAX_BODY_BYTES)});
    for (language, message) in [
        ("ru", "Тело запроса слишком велико: не более 65536 байт"),
        ("en", "The request body is too large: at most 65536 bytes"),
    ] {
        let refused = sigma::start(&app.app, start(language, big.to_string())).await;
        assert_eq!(refused.status(), 413);
        assert_eq!(
            body(&refused),
            json!({"type": "BadRequestException", "message": message, "httpStatus": 413})
        );
    }
    assert_eq!(app.store.session_count(), 0);
    assert!(app.messenger.outbox().is_empty());
}

/// QI's bodies, read straight into its request types: every shape a client can send is a schema error naming the
/// field, as before.
#[tokio::test]
async fn qi_bodies_of_every_shape_are_schema_errors_naming_the_field() {
    let app = memory_app(|_| {});
    let caller = admin();
    let account = uuid::Uuid::new_v4();
    let device = uuid::Uuid::new_v4().to_string();
    let create = |raw: &str| {
        with_raw_body(
            event(
                "POST",
                &format!("/account/{account}/device"),
                json!({"account_key": account.to_string()}),
                &[],
                None,
                &caller,
                Map::new(),
            ),
            raw.to_owned(),
        )
    };
    let cases: Vec<(String, Value)> = vec![
        ("[]".into(), json!({"body": "must be a JSON object"})),
        ("null".into(), json!({"body": "must be a JSON object"})),
        ("\"text\"".into(), json!({"body": "must be a JSON object"})),
        (
            format!(r#"["{device}", null, {{"approver_document_number": "12345678909", "contact_type": "sms"}}]"#),
            json!({"body": "must be a JSON object"}),
        ),
        ("{} {}".into(), json!({"body": "the request body is not valid JSON"})),
        (
            r#"{"device_key": 5, "session_id": ["s"], "tfa_info": []}"#.into(),
            json!({"device_key": "must be a string",
                   "session_id": "must be a string",
                   "tfa_info": "must be an object"}),
        ),
        (
            r#"{"tfa_info": {"approver_document_number": {"n": 1}, "contact_type": true}, "extra": [1, {"a": 2}]}"#
                .into(),
            json!({"device_key": "is required",
                   "session_id": "is required",
                   "tfa_info.approver_document_number": "must be a string",
                   "tfa_info.contact_type": "must be a string"}),
        ),
        (
            format!(r#"{{"device_key": "{device}", "device_key": "{device}"}}"#),
            json!({"device_key": "must be given once"}),
        ),
        (
            format!(
                r#"{{"device_key": "{device}", "tfa_info": {{"contact_type": "sms", "contact_type": "sms"}}}}"#
            ),
            json!({"tfa_info.contact_type": "must be given once"}),
        ),
    ];
    for (raw, fields) in cases {
        let raw = raw.as_str();
        let response = qi::create_device(&app.app, create(raw)).await;
        assert_eq!(response.status(), 400, "{raw}");
        assert_eq!(body(&response), qi_schema_error(fields), "{raw}");
    }
    let resend = |raw: &str| {
        with_raw_body(
            event(
                "PATCH",
                &format!("/account/{account}/device/{device}/resend_token"),
                json!({"account_key": account.to_string(), "device_key": device}),
                &[],
                None,
                &caller,
                Map::new(),
            ),
            raw.to_owned(),
        )
    };
    let shapeless = qi::resend_device_token(&app.app, resend(r#"{"contact_type": 1}"#)).await;
    assert_eq!(
        body(&shapeless),
        qi_schema_error(json!({"contact_type": "must be a string"}))
    );
    // An empty body is allowed here (the first contact type), and gets as far as the account.
    let empty = qi::resend_device_token(&app.app, resend("")).await;
    assert_eq!(empty.status(), 404, "{:?}", body(&empty));
    assert_eq!(body(&empty)["code"], "OBD000002");
}
