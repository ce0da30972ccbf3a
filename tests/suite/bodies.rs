//! Request bodies through the local gateway and the real function binaries: a body over 64 KiB is refused by each
//! front door with 413 in its own format (the gateway itself passes bodies up to API Gateway's 10 MB), and a value of
//! the wrong type is named by its field and type, never echoed into an answer or a function's log line.

use api_tests::{shared_stack, unique_email, unique_phone};
#[allow(unused_imports)]
use api_tests::{
    DeviceStore as _, SessionStore as _, StoreWidget as _, TokenStore as _, UserStore as _,
};
use local_stack::emulator::outbox;
use local_stack::stack::{SEED_ADMIN_ID, SEED_QI_ACCOUNT_KEY, SEED_WIDGET_ID};
use reqwest::StatusCode;
use serde_json::{json, Value};
use user_token_domain::domain::token::TokenPurpose;
use user_token_domain::domain::{AccountKey, DeviceKey, Email};

const LIMIT: usize = 64 * 1024;

/// One POST of `raw` through the gateway: the status, the JSON answer and the gateway's request id (the correlation
/// id of the function's answer and log lines).
async fn post_raw(path: &str, token: Option<&str>, raw: String) -> (StatusCode, Value, String) {
    let stack = shared_stack();
    let mut request = reqwest::Client::new()
        .post(format!("{}{path}", stack.base_url))
        .header("content-type", "application/json")
        .body(raw);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("the gateway answers");
    let status = response.status();
    let request_id = response
        .headers()
        .get("apigw-requestid")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().await.expect("a body");
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("a JSON body: {text}"));
    (status, body, request_id)
}

/// `value` with a `padding` field that makes its text `length` bytes long.
fn padded(value: &Value, length: usize) -> String {
    let mut padded = value.clone();
    padded["padding"] = json!("");
    let bare = padded.to_string().len();
    assert!(bare <= length);
    padded["padding"] = json!("x".repeat(length - bare));
    let text = padded.to_string();
    assert_eq!(text.len(), length);
    text
}

#[tokio::test]
async fn a_body_over_64_kib_is_refused_by_each_front_door_with_413_in_its_own_format() {
    let stack = shared_stack();
    let token = stack.token_for(SEED_ADMIN_ID.parse().expect("id"));
    let store = api_tests::app(&stack.table).await.store;
    for size in [LIMIT + 1, 5_200_000] {
        // Each body would succeed if it were read: an invitation, a device, an OTP session.
        let email = unique_email();
        let invitation = json!({"email": email, "mfaType": "SMS", "smsNumber": "+4411223344556",
            "primaryContactNumber": "+4411223344556", "roles": ["velo.backoffice.admin"]});
        let (status, body, request_id) =
            post_raw("/v2/users/invite", Some(&token), padded(&invitation, size)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{size}: {body}");
        let message = "the request body must be at most 65536 bytes";
        assert_eq!(
            body,
            json!({"correlationId": request_id, "httpStatusCode": 413, "errors": [{
                "errorCode": "41310001", "errorMessage": message, "location": "body",
                "locationType": "requestBody",
                "localisationDetails": {"template": message, "parameters": {}}}]})
        );
        let (invited, _) = store
            .find_user_by_email_with_token(
                &email.parse::<Email>().expect("email"),
                TokenPurpose::Invitation,
            )
            .await
            .expect("read");
        assert!(invited.is_none(), "{size}: nobody was invited");

        let (status, body, _) = post_raw(
            "/v1/authenticate?grant_type=password",
            None,
            "x".repeat(size),
        )
        .await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{size}: {body}");
        assert_eq!(body["errors"][0]["errorCode"], "41310001");

        let device = DeviceKey::random();
        let create = json!({"device_key": device.to_string(),
            "session_id": uuid::Uuid::new_v4().to_string(),
            "tfa_info": {"approver_document_number": "12345678909", "contact_type": "email"}});
        let (status, body, _) = post_raw(
            &format!("/account/{SEED_QI_ACCOUNT_KEY}/device"),
            Some(&token),
            padded(&create, size),
        )
        .await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{size}: {body}");
        assert_eq!(
            body,
            json!({"title": "Payload Too Large", "description": "The request body is too large",
                   "translation": "O corpo da requisição é grande demais", "code": "XQI000108",
                   "extra_fields": {"max_body_bytes": 65536}})
        );
        let account: AccountKey = SEED_QI_ACCOUNT_KEY.parse().expect("account");
        let created = store.get_device(&account, &device).await.expect("read");
        assert!(created.is_none(), "{size}: no device was created");

        let phone = unique_phone();
        let start = json!({"widgetId": SEED_WIDGET_ID, "recipient": phone});
        let (status, body, _) =
            post_raw("/api/n/otp-handler/", Some(&token), padded(&start, size)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{size}: {body}");
        assert_eq!(
            body,
            json!({"type": "BadRequestException",
                   "message": "Тело запроса слишком велико: не более 65536 байт", "httpStatus": 413})
        );
        let sent = outbox(&api_tests::endpoint()).await.expect("outbox");
        assert!(sent.sms_to(&phone).is_empty(), "{size}: no OTP was sent");
    }
}

/// Whether `value` stands in `haystack` as a whole run of digits (not inside a longer run, such as a timestamp's).
fn contains_run(haystack: &str, value: &str) -> bool {
    haystack.match_indices(value).any(|(at, _)| {
        let before = haystack[..at].chars().next_back();
        let after = haystack[at + value.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_alphanumeric())
            && !after.is_some_and(|c| c.is_ascii_alphanumeric())
    })
}

/// Every function's log lines so far.
fn logs() -> String {
    std::fs::read_dir(&shared_stack().log_dir)
        .expect("function logs")
        .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path()).ok())
        .collect()
}

#[tokio::test]
async fn codes_and_passwords_of_the_wrong_type_are_in_no_answer_and_no_log_line() {
    let stack = shared_stack();
    let token = stack.token_for(SEED_ADMIN_ID.parse().expect("id"));
    let some_user = uuid::Uuid::new_v4();
    let (account, device) = (SEED_QI_ACCOUNT_KEY, uuid::Uuid::new_v4());
    let session = uuid::Uuid::new_v4();
    let wrong_type = "invalid type: integer, expected a string";
    let velo = |location: &str| (location.to_owned(), wrong_type.to_owned());
    let cases: Vec<(String, &str, &str, Value)> = vec![
        (
            "/v2/users/invite".into(),
            r#"{"email":"pat@example.com","mfaType":"SMS","smsNumber":"+4411223344556","primaryContactNumber":"+4411223344556","roles":["velo.backoffice.admin"],"verificationCode":827364}"#,
            "827364",
            json!(velo("verificationCode")),
        ),
        (
            format!("/v2/users/{some_user}/roleUpdate"),
            r#"{"roles":["velo.backoffice.admin"],"verificationCode":827364}"#,
            "827364",
            json!(velo("verificationCode")),
        ),
        (
            format!("/v2/users/{some_user}/userDetailsUpdate"),
            r#"{"verificationCode":827364}"#,
            "827364",
            json!(velo("verificationCode")),
        ),
        (
            format!("/v2/users/{some_user}/mfa/unregister"),
            r#"{"mfaType":"TOTP","verificationCode":827364}"#,
            "827364",
            json!(velo("verificationCode")),
        ),
        (
            format!("/v2/users/{some_user}/tokens"),
            r#"{"tokenType":"INVITE_MFA_USER","verificationCode":827364}"#,
            "827364",
            json!(velo("verificationCode")),
        ),
        (
            "/v2/users/self/password".into(),
            r#"{"oldPassword":19061906190619,"newPassword":"a brand new passphrase 2027"}"#,
            "19061906190619",
            json!(velo("oldPassword")),
        ),
        (
            format!("/api/n/otp-handler/{session}/checkCode"),
            r#"{"code":918273}"#,
            "918273",
            json!({"type": "ValidateError", "message": "Ошибка валидации: code", "httpStatus": 400}),
        ),
        (
            format!("/account/{account}/device/{device}/validate"),
            r#"{"token":918273}"#,
            "918273",
            json!({"title": "Bad Request", "description": "Schema Error", "translation": "Erro de Schema",
                   "code": "QIT000001", "extra_fields": {"token": "must be a string of 6 characters"}}),
        ),
        (
            format!("/account/{account}/device/{device}/validate"),
            r#"{"code":918273}"#,
            "918273",
            json!({"title": "Bad Request", "description": "Schema Error", "translation": "Erro de Schema",
                   "code": "QIT000001", "extra_fields": {"token": "is required"}}),
        ),
    ];
    let client = reqwest::Client::new();
    for (path, raw, value, expected) in cases {
        // QI's validate is a PUT; every other operation here is a POST.
        let method = if path.ends_with("/validate") {
            reqwest::Method::PUT
        } else {
            reqwest::Method::POST
        };
        let response = client
            .request(method, format!("{}{path}", stack.base_url))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .expect("the gateway answers");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
        let request_id = response
            .headers()
            .get("apigw-requestid")
            .and_then(|value| value.to_str().ok())
            .expect("a request id")
            .to_owned();
        let text = response.text().await.expect("a body");
        assert!(
            !contains_run(&text, value),
            "{path}: the value is in the answer {text}"
        );
        let answer: Value = serde_json::from_str(&text).expect("JSON");
        match expected.as_array() {
            // Velo's ErrorResponse: the field and what it must be.
            Some(field) => assert_eq!(
                answer,
                json!({"correlationId": request_id, "httpStatusCode": 400, "errors": [{
                    "errorCode": "40010001", "errorMessage": field[1], "location": field[0],
                    "locationType": "requestBody",
                    "localisationDetails": {"template": field[1], "parameters": {}}}]}),
                "{path}"
            ),
            None => assert_eq!(answer, expected, "{path}"),
        }
        let logged = logs();
        assert!(
            logged
                .lines()
                .any(|line| line.contains(&request_id) && line.contains("request refused")),
            "{path}: the refusal of {request_id} is logged"
        );
        assert!(
            !contains_run(&logged, value),
            "{path}: the value {value} is in a log line"
        );
    }
}
