//! The Sigma OTP handler front door: every operation from fixtures of both API versions, every error type against
//! the emulator, the cascade, and a full session over HTTP through the local gateway.

use api_tests::{
    all_items, app, app_with, app_with_dead_messaging, call, fresh_table, shared_stack,
    unique_email, unique_phone,
};
#[allow(unused_imports)]
use api_tests::{
    DeviceStore as _, SessionStore as _, StoreWidget as _, TokenStore as _, UserStore as _,
};
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::{Body, Response};
use local_stack::emulator::outbox;
use local_stack::stack::{seed_widget, SEED_ADMIN_ID, SEED_WIDGET_ID};
use local_stack::template::Template;
use serde_json::{json, Value};
use std::collections::HashMap;
use user_token_domain::domain::otp::{Widget, WidgetChannel};
use user_token_domain::domain::token::Channel;
use user_token_domain::domain::{DomainError, UserId};
use user_token_domain::doors::sigma;
use user_token_domain::lambda::config::Config;
use user_token_domain::App;

const SMS_ONLY_WIDGET: &str = "sms-only";

type Item = HashMap<String, AttributeValue>;

fn fixture(name: &str) -> Value {
    let text =
        std::fs::read_to_string(api_tests::root().join("events").join(name)).expect("fixture");
    serde_json::from_str(&text).expect("json")
}

fn request(event: &Value) -> lambda_http::Request {
    lambda_http::request::from_str(&event.to_string()).expect("an API Gateway event")
}

fn is_v2(event: &Value) -> bool {
    event["version"] == "2.0"
}

/// The authorizer's verdict, in the place each API version carries it.
fn set_authorizer(event: &mut Value, verdict: Value) {
    if is_v2(event) {
        event["requestContext"]["authorizer"]["lambda"] = verdict;
    } else {
        event["requestContext"]["authorizer"] = verdict;
    }
}

fn as_payor(event: &mut Value, user: &UserId) {
    set_authorizer(
        event,
        json!({"authStatus": "authenticated", "userId": user.to_string(), "roles": "velo.payor.admin",
               "entityId": "7fffa261-ac68-49e6-b605-d24a444d9206", "userType": "PAYOR"}),
    );
}

fn with_header(event: &mut Value, name: &str, value: &str) {
    for (field, given) in [
        ("headers", json!(value)),
        ("multiValueHeaders", json!([value])),
    ] {
        if let Some(headers) = event.get_mut(field).and_then(Value::as_object_mut) {
            headers.retain(|key, _| !key.eq_ignore_ascii_case(name));
            headers.insert(name.to_owned(), given);
        }
    }
}

fn on_session(event: &mut Value, request_id: &str) {
    event["pathParameters"]["requestId"] = json!(request_id);
}

/// `?recipient=`, as each API version carries it (HTTP APIs: the raw query string is what handlers read).
fn with_recipient_query(event: &mut Value, recipient: &str) {
    event["queryStringParameters"] = json!({ "recipient": recipient });
    if is_v2(event) {
        event["rawQueryString"] = json!(format!(
            "recipient={}",
            recipient.replace('+', "%2B").replace('@', "%40")
        ));
    } else {
        event["multiValueQueryStringParameters"] = json!({ "recipient": [recipient] });
    }
}

fn without_query(event: &mut Value) {
    event["queryStringParameters"] = Value::Null;
    if is_v2(event) {
        event["rawQueryString"] = json!("");
    } else {
        event["multiValueQueryStringParameters"] = Value::Null;
    }
}

fn body(response: &Response<Body>) -> Value {
    serde_json::from_slice(response.body().as_ref()).expect("a JSON body")
}

fn kind(response: &Response<Body>) -> String {
    body(response)["type"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn retry_after(response: &Response<Body>) -> u64 {
    response.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds")
}

/// A fresh table holding the seeded widget (SMS, then email) and an SMS-only widget.
async fn app_on_fresh_table(adjust: impl FnOnce(&mut Config)) -> App {
    let app = app_with(&fresh_table().await, adjust).await;
    seed_widgets(&app).await;
    app
}

async fn seed_widgets(app: &App) {
    seed_widget()
        .expect("seed widget")
        .create(&app.store)
        .await
        .expect("seeded widget");
    Widget::new(
        SMS_ONLY_WIDGET,
        "SMS only",
        vec![WidgetChannel {
            channel: Channel::Sms,
            label: "SMS".into(),
        }],
    )
    .expect("widget")
    .create(&app.store)
    .await
    .expect("sms-only widget");
}

fn start_event(fixture_name: &str, widget: &str, recipient: &str) -> Value {
    let mut event = fixture(fixture_name);
    event["body"] = json!(json!({"widgetId": widget, "recipient": recipient}).to_string());
    event
}

/// Starts a session as the fixture's caller (the seeded admin); returns its request id.
async fn start(app: &App, widget: &str, recipient: &str) -> String {
    let response = sigma::start(
        app,
        request(&start_event("otp-start.json", widget, recipient)),
    )
    .await;
    assert_eq!(response.status(), 201, "{:?}", body(&response));
    body(&response)["requestId"]
        .as_str()
        .expect("requestId")
        .to_owned()
}

fn session_event(name: &str, request_id: &str) -> Value {
    let mut event = fixture(name);
    on_session(&mut event, request_id);
    event
}

async fn check_code(app: &App, request_id: &str, code: &str) -> Response<Body> {
    let mut event = session_event("otp-check-code.json", request_id);
    event["body"] = json!(json!({ "code": code }).to_string());
    sigma::check_code(app, request(&event)).await
}

async fn resend(app: &App, request_id: &str) -> Response<Body> {
    sigma::resend(app, request(&session_event("otp-resend.json", request_id))).await
}

async fn channel(app: &App, request_id: &str) -> Response<Body> {
    sigma::channel(app, request(&session_event("otp-channel.json", request_id))).await
}

fn first_code(text: &str) -> Option<String> {
    let digits: Vec<char> = text.chars().collect();
    digits
        .windows(6)
        .position(|w| w.iter().all(char::is_ascii_digit))
        .map(|at| digits[at..at + 6].iter().collect())
}

/// The codes sent to a phone number or an address, oldest first.
async fn codes_to(recipient: &str) -> Vec<String> {
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
        .map(|text| first_code(text).expect("a code"))
        .collect()
}

fn wrong(code: &str) -> String {
    code.chars()
        .map(|c| {
            if c == '9' {
                '0'
            } else {
                char::from(c as u8 + 1)
            }
        })
        .collect()
}

async fn items_of(table: &str, pk: &str) -> Vec<Item> {
    all_items(table)
        .await
        .into_iter()
        .filter(|item| item.get("pk") == Some(&AttributeValue::S(pk.to_owned())))
        .collect()
}

fn text(item: &Item, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(value)) => value.clone(),
        other => panic!("{name}: {other:?}"),
    }
}

fn sk_is(item: &Item, sk: &str) -> bool {
    item.get("sk") == Some(&AttributeValue::S(sk.to_owned()))
}

/// Waits, if needed, so that the next few calls fall in one calendar minute.
async fn early_in_a_minute() {
    let second = time::OffsetDateTime::now_utc()
        .unix_timestamp()
        .rem_euclid(60);
    if second > 50 {
        tokio::time::sleep(std::time::Duration::from_secs((61 - second) as u64)).await;
    }
}

#[tokio::test]
async fn every_operation_answers_both_event_versions() {
    let app = app_on_fresh_table(|_| {}).await;
    for version in ["json", "rest-v1.json"] {
        let name = |function: &str| format!("{function}.{version}");
        let phone = unique_phone();
        let started = sigma::start(
            &app,
            request(&start_event(&name("otp-start"), SEED_WIDGET_ID, &phone)),
        )
        .await;
        assert_eq!(started.status(), 201, "{version}");
        let request_id = body(&started)["requestId"]
            .as_str()
            .expect("requestId")
            .to_owned();
        assert_eq!(body(&started), json!({ "requestId": request_id }));
        let code = codes_to(&phone).await.remove(0);

        let current = sigma::channel(
            &app,
            request(&session_event(&name("otp-channel"), &request_id)),
        )
        .await;
        assert_eq!(current.status(), 200, "{version}");
        assert_eq!(
            body(&current),
            json!({"type": "sms", "status": "sent", "label": "SMS", "codeType": "code",
                   "payload": {}, "settings": {}, "remainingCodeAttempts": 5})
        );

        let mut status = session_event(&name("otp-status"), &request_id);
        with_recipient_query(&mut status, &phone);
        let unconfirmed = sigma::status(&app, request(&status)).await;
        assert_eq!(unconfirmed.status(), 200, "{version}");
        assert_eq!(body(&unconfirmed), json!({"success": false}));

        let mut check = session_event(&name("otp-check-code"), &request_id);
        check["body"] = json!(json!({ "code": code }).to_string());
        let checked = sigma::check_code(&app, request(&check)).await;
        assert_eq!(checked.status(), 201, "{version}");
        assert_eq!(body(&checked), json!({"success": true}));
        assert_eq!(
            body(&sigma::status(&app, request(&status)).await),
            json!({"success": true})
        );

        let resent = sigma::resend(
            &app,
            request(&session_event(&name("otp-resend"), &request_id)),
        )
        .await;
        assert_eq!(resent.status(), 409, "{version}");
        assert_eq!(kind(&resent), "SessionAlreadyConfirmedException");

        let mut final_check = session_event(&name("otp-check-status-and-complete"), &request_id);
        with_recipient_query(&mut final_check, &phone);
        let closed = sigma::check_status_and_complete(&app, request(&final_check)).await;
        assert_eq!(closed.status(), 201, "{version}");
        assert_eq!(body(&closed), json!({"success": true}));

        let again = sigma::complete(
            &app,
            request(&session_event(&name("otp-complete"), &request_id)),
        )
        .await;
        assert_eq!(again.status(), 400, "{version}");
        assert_eq!(
            body(&again),
            json!({"type": "SessionClosedException", "message": "Сессия закрыта", "httpStatus": 400})
        );
    }
}

#[tokio::test]
async fn start_stores_the_session_next_to_its_code_and_sends_in_russian() {
    let app = app_on_fresh_table(|_| {}).await;
    let phone = unique_phone();
    let request_id = start(&app, SEED_WIDGET_ID, &phone).await;
    let items = items_of(app.config.table_name.as_str(), &format!("OTP#{request_id}")).await;
    assert_eq!(items.len(), 2, "the session and its code");
    let session = items
        .iter()
        .find(|item| sk_is(item, "SESSION"))
        .expect("session");
    assert_eq!(text(session, "recipient"), phone);
    assert_eq!(text(session, "ownerId"), SEED_ADMIN_ID);
    assert_eq!(text(session, "widgetId"), SEED_WIDGET_ID);
    assert_eq!(text(session, "locale"), "ru");
    assert!(session.contains_key("ttl"));
    assert_eq!(
        session.get("channels"),
        Some(&AttributeValue::L(vec![AttributeValue::M(HashMap::from(
            [
                ("type".to_owned(), AttributeValue::S("sms".into())),
                ("label".to_owned(), AttributeValue::S("SMS".into())),
            ]
        ))])),
        "a phone can only be served by SMS"
    );
    let token = items
        .iter()
        .find(|item| sk_is(item, "TOKEN#OTP_SESSION"))
        .expect("token");
    assert_eq!(text(token, "channel"), "sms");
    let code = codes_to(&phone).await.remove(0);
    assert!(!format!("{token:?}").contains(&code), "only a keyed hash");
    let sent = outbox(&api_tests::endpoint()).await.expect("outbox");
    assert!(sent.sms_to(&phone)[0]
        .message
        .starts_with("Ваш код подтверждения"));

    // English for a caller who asks for it, in the message and in errors.
    let english = unique_email();
    let mut event = start_event("otp-start.json", SEED_WIDGET_ID, &english);
    with_header(&mut event, "accept-language", "en-GB,en;q=0.9");
    assert_eq!(sigma::start(&app, request(&event)).await.status(), 201);
    let mails = outbox(&api_tests::endpoint()).await.expect("outbox");
    assert_eq!(mails.emails_to(&english)[0].subject, "Verification code");
    let mut missing = session_event("otp-channel.json", &uuid::Uuid::new_v4().to_string());
    with_header(&mut missing, "accept-language", "en");
    let response = sigma::channel(&app, request(&missing)).await;
    assert_eq!(
        body(&response),
        json!({"type": "SessionNotFoundException", "message": "Session not found", "httpStatus": 404})
    );
}

#[tokio::test]
async fn errors_of_the_reference_come_with_its_russian_messages() {
    let app = app_on_fresh_table(|_| {}).await;
    let phone = unique_phone();
    let request_id = start(&app, SEED_WIDGET_ID, &phone).await;
    let code = codes_to(&phone).await.remove(0);

    let cooling = resend(&app, &request_id).await;
    assert_eq!(cooling.status(), 409);
    assert_eq!(
        body(&cooling),
        json!({"type": "RestartCooldownActiveException",
               "message": "Перезапуск недоступен: требуется подождать.", "httpStatus": 409})
    );
    assert!((1..=60).contains(&retry_after(&cooling)));

    let missing = resend(&app, &uuid::Uuid::new_v4().to_string()).await;
    assert_eq!(
        body(&missing),
        json!({"type": "SessionNotFoundException", "message": "Сессия не найдена", "httpStatus": 404})
    );

    let mut stranger = session_event("otp-resend.json", &request_id);
    as_payor(&mut stranger, &UserId::random());
    let forbidden = sigma::resend(&app, request(&stranger)).await;
    assert_eq!(
        body(&forbidden),
        json!({"type": "ForbiddenException", "message": "Запрещено", "httpStatus": 403})
    );

    let email = unique_email();
    let no_channel = sigma::start(
        &app,
        request(&start_event("otp-start.json", SMS_ONLY_WIDGET, &email)),
    )
    .await;
    assert_eq!(
        body(&no_channel),
        json!({"type": "NoAvailableChannelsException",
               "message": "Нет подходящих каналов для отправки сообщения, запустите попытку авторизации заново",
               "httpStatus": 400})
    );
    assert!(codes_to(&email).await.is_empty());

    assert_eq!(check_code(&app, &request_id, &code).await.status(), 201);
    let confirmed = resend(&app, &request_id).await;
    assert_eq!(
        body(&confirmed),
        json!({"type": "SessionAlreadyConfirmedException", "message": "Сессия уже подтверждена",
               "httpStatus": 409})
    );
    assert_eq!(
        kind(&check_code(&app, &request_id, &code).await),
        "SessionAlreadyConfirmedException"
    );
}

#[tokio::test]
async fn used_up_attempts_are_attempts_expired_for_check_and_resend() {
    let app = app_on_fresh_table(|config| config.resend_cooldown = time::Duration::ZERO).await;
    let phone = unique_phone();
    let request_id = start(&app, SEED_WIDGET_ID, &phone).await;
    let code = codes_to(&phone).await.remove(0);
    let refused = check_code(&app, &request_id, &wrong(&code)).await;
    assert_eq!(
        body(&refused),
        json!({"type": "InvalidCodeException", "message": "Код, введенный пользователем, неправильный",
               "httpStatus": 400})
    );
    for _ in 0..4 {
        assert_eq!(
            kind(&check_code(&app, &request_id, &wrong(&code)).await),
            "InvalidCodeException"
        );
    }
    let dead = check_code(&app, &request_id, &code).await;
    assert_eq!(
        body(&dead),
        json!({"type": "AttemptsExpiredException",
               "message": "Количество попыток ввода кода исчерпано, запустите попытку авторизации заново",
               "httpStatus": 400})
    );
    let resent = resend(&app, &request_id).await;
    assert_eq!(resent.status(), 400);
    assert_eq!(kind(&resent), "AttemptsExpiredException");
    assert_eq!(codes_to(&phone).await.len(), 1, "nothing more was sent");
    let current = channel(&app, &request_id).await;
    assert_eq!(
        (current.status().as_u16(), body(&current)),
        (400, body(&dead)),
        "the channel says why it ended"
    );
}

#[tokio::test]
async fn a_session_without_its_code_must_be_restarted() {
    let app = app_on_fresh_table(|config| config.resend_cooldown = time::Duration::ZERO).await;
    let request_id = start(&app, SEED_WIDGET_ID, &unique_phone()).await;
    api_tests::dynamodb()
        .await
        .delete_item()
        .table_name(app.config.table_name.as_str())
        .key("pk", AttributeValue::S(format!("OTP#{request_id}")))
        .key("sk", AttributeValue::S("TOKEN#OTP_SESSION".into()))
        .send()
        .await
        .expect("deleted");
    let response = resend(&app, &request_id).await;
    assert_eq!(
        body(&response),
        json!({"type": "ResendChannelException", "message": "Перезапустите канал", "httpStatus": 400})
    );
    let current = channel(&app, &request_id).await;
    assert_eq!(
        (current.status().as_u16(), body(&current)),
        (400, body(&response))
    );
}

#[tokio::test]
async fn an_expired_code_is_resend_channel_for_check_and_channel() {
    let app = app_on_fresh_table(|config| config.otp_ttl = time::Duration::seconds(1)).await;
    let phone = unique_phone();
    let request_id = start(&app, SEED_WIDGET_ID, &phone).await;
    let code = codes_to(&phone).await.remove(0);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let resend_channel = json!({"type": "ResendChannelException", "message": "Перезапустите канал",
                                "httpStatus": 400});
    let response = check_code(&app, &request_id, &code).await;
    assert_eq!(
        (response.status().as_u16(), body(&response)),
        (400, resend_channel.clone())
    );
    let current = channel(&app, &request_id).await;
    assert_eq!(
        (current.status().as_u16(), body(&current)),
        (400, resend_channel)
    );
}

#[tokio::test]
async fn status_and_the_final_check_compare_the_recipient() {
    let app = app_on_fresh_table(|_| {}).await;
    let phone = unique_phone();
    let request_id = start(&app, SEED_WIDGET_ID, &phone).await;
    let mut other = session_event("otp-status.json", &request_id);
    with_recipient_query(&mut other, &unique_phone());
    let mismatch = sigma::status(&app, request(&other)).await;
    assert_eq!(
        (mismatch.status().as_u16(), body(&mismatch)),
        (
            409,
            json!({"type": "PhoneNumberMismatchException",
                   "message": "Номер телефона не совпадает с привязанным к текущей сессии.",
                   "httpStatus": 409})
        )
    );
    let mut final_check = session_event("otp-check-status-and-complete.json", &request_id);
    with_recipient_query(&mut final_check, "someone@example.com");
    let mismatch = sigma::check_status_and_complete(&app, request(&final_check)).await;
    assert_eq!(kind(&mismatch), "PhoneNumberMismatchException");

    // A `+` sent unencoded arrives as a space and is still the same number.
    let mut spaced = session_event("otp-status.json", &request_id);
    with_recipient_query(&mut spaced, &phone);
    spaced["rawQueryString"] = json!(format!("recipient={phone}"));
    assert_eq!(
        body(&sigma::status(&app, request(&spaced)).await),
        json!({"success": false})
    );

    // Closing an unconfirmed session answers false, once.
    let mut close = session_event("otp-check-status-and-complete.json", &request_id);
    with_recipient_query(&mut close, &phone);
    let closed = sigma::check_status_and_complete(&app, request(&close)).await;
    assert_eq!(
        (closed.status().as_u16(), body(&closed)),
        (201, json!({"success": false}))
    );
    let closed =
        json!({"type": "SessionClosedException", "message": "Сессия закрыта", "httpStatus": 400});
    let again = sigma::check_status_and_complete(&app, request(&close)).await;
    assert_eq!(
        (again.status().as_u16(), body(&again)),
        (400, closed.clone())
    );
    let current = channel(&app, &request_id).await;
    assert_eq!(
        (current.status().as_u16(), body(&current)),
        (400, closed.clone())
    );
    let code = codes_to(&phone).await.remove(0);
    let checked = check_code(&app, &request_id, &code).await;
    assert_eq!((checked.status().as_u16(), body(&checked)), (400, closed));
    let session = items_of(app.config.table_name.as_str(), &format!("OTP#{request_id}"))
        .await
        .into_iter()
        .find(|item| sk_is(item, "SESSION"))
        .expect("session");
    assert!(session.contains_key("closedAt"));
}

#[tokio::test]
async fn bad_input_and_callers_are_answered_in_sigma_format() {
    let app = app_on_fresh_table(|_| {}).await;
    for (raw_body, location) in [
        ("{not json", "body"),
        (
            r#"{"widgetId":"11111111-1111-4111-8111-111111111111"}"#,
            "recipient",
        ),
        (
            r#"{"widgetId":"a b","recipient":"+15555550100"}"#,
            "widgetId",
        ),
        (r#"{"widgetId":"w","recipient":"555-0100"}"#, "recipient"),
        (
            r#"{"widgetId":"w","recipient":"someone@localhost"}"#,
            "recipient",
        ),
    ] {
        let mut event = fixture("otp-start.json");
        event["body"] = json!(raw_body);
        let response = sigma::start(&app, request(&event)).await;
        assert_eq!(response.status(), 400, "{raw_body}");
        assert_eq!(
            body(&response),
            json!({"type": "ValidateError",
                   "message": format!("Ошибка валидации: {location}"), "httpStatus": 400}),
            "{raw_body}"
        );
    }
    let bad_id = sigma::channel(&app, request(&session_event("otp-channel.json", "nope"))).await;
    assert_eq!(
        body(&bad_id),
        json!({"type": "ValidateError", "message": "Ошибка валидации: requestId", "httpStatus": 400})
    );
    let mut no_recipient = session_event("otp-status.json", &uuid::Uuid::new_v4().to_string());
    without_query(&mut no_recipient);
    let response = sigma::status(&app, request(&no_recipient)).await;
    assert_eq!(response.status(), 400);
    let mut english = no_recipient.clone();
    with_header(&mut english, "accept-language", "en");
    assert_eq!(
        body(&sigma::status(&app, request(&english)).await)["message"],
        "recipient: is required"
    );

    let unknown = sigma::start(
        &app,
        request(&start_event(
            "otp-start.json",
            "no-such-widget",
            &unique_phone(),
        )),
    )
    .await;
    assert_eq!(
        body(&unknown),
        json!({"type": "WidgetNotFoundException", "message": "Форма не существует", "httpStatus": 404})
    );

    for name in ["otp-channel.json", "otp-channel.rest-v1.json"] {
        let mut event = fixture(name);
        set_authorizer(
            &mut event,
            json!({"authStatus": "rejected", "authError": "expired"}),
        );
        let response = sigma::channel(&app, request(&event)).await;
        assert_eq!(
            body(&response),
            json!({"type": "UnauthorizedException", "message": "Unauthorized",
                   "httpStatus": 401}),
            "{name}"
        );
        set_authorizer(&mut event, json!({"authStatus": "unavailable"}));
        let response = sigma::channel(&app, request(&event)).await;
        assert_eq!(response.status(), 503, "{name}");
        assert_eq!(
            body(&response),
            json!({"type": "InternalServerErrorException", "message": "Внутрення ошибка сервера",
                   "httpStatus": 503}),
            "{name}"
        );
        assert!(retry_after(&response) >= 1);
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum SessionOperation {
    Start,
    Channel,
    Status,
    CheckCode,
    CheckStatusAndComplete,
    Complete,
    Resend,
    ChannelLongPolling,
    StatusLongPolling,
}

const SESSION_OPERATIONS: [SessionOperation; 9] = [
    SessionOperation::Start,
    SessionOperation::Channel,
    SessionOperation::Status,
    SessionOperation::CheckCode,
    SessionOperation::CheckStatusAndComplete,
    SessionOperation::Complete,
    SessionOperation::Resend,
    SessionOperation::ChannelLongPolling,
    SessionOperation::StatusLongPolling,
];

/// One operation by `caller` on session `request_id` (a new one for start, to `recipient`); `recipient` is the
/// one given to status and checkStatusAndComplete, `code` the one given to checkCode.
async fn session_operation(
    app: &App,
    operation: SessionOperation,
    request_id: &str,
    caller: &user_token_domain::domain::User,
    recipient: &str,
    code: &str,
) -> Response<Body> {
    let event = |name: &str| {
        let mut event = session_event(name, request_id);
        api_tests::as_caller(&mut event, caller);
        event
    };
    match operation {
        SessionOperation::Start => {
            let mut event = start_event("otp-start.json", SEED_WIDGET_ID, recipient);
            api_tests::as_caller(&mut event, caller);
            sigma::start(app, request(&event)).await
        }
        SessionOperation::Channel => sigma::channel(app, request(&event("otp-channel.json"))).await,
        SessionOperation::Status => {
            let mut event = event("otp-status.json");
            with_recipient_query(&mut event, recipient);
            sigma::status(app, request(&event)).await
        }
        SessionOperation::CheckCode => {
            let mut event = event("otp-check-code.json");
            event["body"] = json!(json!({ "code": code }).to_string());
            sigma::check_code(app, request(&event)).await
        }
        SessionOperation::CheckStatusAndComplete => {
            let mut event = event("otp-check-status-and-complete.json");
            with_recipient_query(&mut event, recipient);
            sigma::check_status_and_complete(app, request(&event)).await
        }
        SessionOperation::Complete => {
            sigma::complete(app, request(&event("otp-complete.json"))).await
        }
        SessionOperation::Resend => sigma::resend(app, request(&event("otp-resend.json"))).await,
        SessionOperation::ChannelLongPolling => {
            sigma::channel_long_polling(app, request(&event("otp-channel-long-polling.json"))).await
        }
        SessionOperation::StatusLongPolling => {
            let mut event = event("otp-status-long-polling.json");
            with_recipient_query(&mut event, recipient);
            sigma::status_long_polling(app, request(&event)).await
        }
    }
}

#[tokio::test]
async fn every_cell_of_the_sigma_permission_matrix() {
    use user_token_domain::domain::{Role, UserType};
    let app = app_on_fresh_table(|config| config.resend_cooldown = time::Duration::ZERO).await;
    let (own_entity, other_entity) = (
        "3c2b1a09-8f7e-4d6c-9b5a-4f3e2d1c0b9a",
        "8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d",
    );
    let someone = |user_type, entity: Option<&str>, role| {
        api_tests::user(&unique_email(), user_type, entity, &[role])
    };
    let starter = someone(UserType::Payor, Some(own_entity), Role::PayorAdmin);
    // Who may act on a session: its starter and backoffice admins. Anyone may start one.
    let callers = [
        ("the starter", starter.clone(), true),
        (
            "a backoffice admin",
            someone(UserType::Backoffice, None, Role::BackofficeAdmin),
            true,
        ),
        (
            "another payor admin of the entity",
            someone(UserType::Payor, Some(own_entity), Role::PayorAdmin),
            false,
        ),
        (
            "a payor master admin of the entity",
            someone(UserType::Payor, Some(own_entity), Role::PayorMasterAdmin),
            false,
        ),
        (
            "a payor support of the entity",
            someone(UserType::Payor, Some(own_entity), Role::PayorSupport),
            false,
        ),
        (
            "a payor admin of another entity",
            someone(UserType::Payor, Some(other_entity), Role::PayorAdmin),
            false,
        ),
        (
            "a payee admin",
            someone(UserType::Payee, Some(other_entity), Role::PayeeAdmin),
            false,
        ),
        (
            "a payee support",
            someone(UserType::Payee, Some(own_entity), Role::PayeeSupport),
            false,
        ),
    ];
    let forbidden =
        json!({"type": "ForbiddenException", "message": "Запрещено", "httpStatus": 403});
    for (name, caller, allowed) in &callers {
        for operation in SESSION_OPERATIONS {
            let cell = format!("{name} × {operation:?}");
            let phone = unique_phone();
            let started =
                session_operation(&app, SessionOperation::Start, "", &starter, &phone, "").await;
            assert_eq!(started.status(), 201, "{cell}: {}", body(&started));
            let request_id = body(&started)["requestId"].as_str().expect("id").to_owned();
            let table = &app.config.table_name;
            let partition = format!("OTP#{request_id}");
            let before = api_tests::partition(table, &partition).await;
            let (recipient, code) = match (operation, allowed) {
                (SessionOperation::Start, _) => (unique_phone(), String::new()),
                (SessionOperation::CheckCode, true) => (
                    phone.clone(),
                    codes_to(&phone).await.pop().expect("the code"),
                ),
                (_, true) => (phone.clone(), String::new()),
                // A refused caller learns nothing, not even whether its recipient was right.
                (_, false) => (unique_phone(), "000000".to_owned()),
            };
            let answer =
                session_operation(&app, operation, &request_id, caller, &recipient, &code).await;
            let answered = body(&answer);
            if operation == SessionOperation::Start {
                assert_eq!(answer.status(), 201, "{cell}: {answered}");
                let own = answered["requestId"].as_str().expect("id");
                let channel =
                    session_operation(&app, SessionOperation::Channel, own, caller, "", "").await;
                assert_eq!(channel.status(), 200, "{cell}: the starter's own session");
                continue;
            }
            if !allowed {
                assert_eq!(
                    (answer.status().as_u16(), &answered),
                    (403, &forbidden),
                    "{cell}"
                );
                // Every send writes the code first: an untouched partition means nothing was sent either.
                let after = api_tests::partition(table, &partition).await;
                assert_eq!(
                    after, before,
                    "{cell}: the session and its code are untouched"
                );
                continue;
            }
            let expected = match operation {
                SessionOperation::Channel | SessionOperation::ChannelLongPolling => (
                    200,
                    json!({"type": "sms", "status": "sent", "label": "SMS", "codeType": "code",
                           "payload": {}, "settings": {}, "remainingCodeAttempts": 5}),
                ),
                SessionOperation::Status => (200, json!({"success": false})),
                // Nothing changes while it holds (the suite's bound is 1 s).
                SessionOperation::StatusLongPolling => (408, long_polling_timeout()),
                SessionOperation::CheckCode | SessionOperation::Resend => {
                    (201, json!({"success": true}))
                }
                _ => (201, json!({"success": false})),
            };
            assert_eq!((answer.status().as_u16(), answered), expected, "{cell}");
            if operation == SessionOperation::Resend {
                let after = api_tests::partition(table, &partition).await;
                let digest = |items: &[Item]| {
                    items
                        .iter()
                        .find(|item| sk_is(item, "TOKEN#OTP_SESSION"))
                        .map(|code| text(code, "digest"))
                };
                assert_ne!(digest(&after), digest(&before), "{cell}: a new code");
            }
        }
    }

    // Nor does a refusal tell a confirmed or closed session from an open one.
    let phone = unique_phone();
    let started = session_operation(&app, SessionOperation::Start, "", &starter, &phone, "").await;
    let request_id = body(&started)["requestId"].as_str().expect("id").to_owned();
    let code = codes_to(&phone).await.pop().expect("code");
    for step in [SessionOperation::CheckCode, SessionOperation::Complete] {
        let done = session_operation(&app, step, &request_id, &starter, &phone, &code).await;
        assert_eq!(done.status(), 201, "{step:?}");
    }
    for (name, caller, _) in callers.iter().filter(|(_, _, allowed)| !allowed) {
        for operation in SESSION_OPERATIONS.into_iter().skip(1) {
            let answer =
                session_operation(&app, operation, &request_id, caller, &phone, &code).await;
            assert_eq!(
                (answer.status().as_u16(), body(&answer)),
                (403, forbidden.clone()),
                "{name} × {operation:?} on a closed session"
            );
        }
    }
}

#[tokio::test]
async fn at_most_three_starts_per_recipient_per_minute() {
    let app = app_on_fresh_table(|_| {}).await;
    let phone = unique_phone();
    early_in_a_minute().await;
    for _ in 0..sigma::START_LIMIT_PER_MINUTE {
        start(&app, SEED_WIDGET_ID, &phone).await;
    }
    let limited = sigma::start(
        &app,
        request(&start_event("otp-start.json", SEED_WIDGET_ID, &phone)),
    )
    .await;
    assert_eq!(limited.status(), 429);
    assert_eq!(
        body(&limited),
        json!({"type": "RateLimitException", "message": "Ошибка RateLimit", "httpStatus": 429})
    );
    assert!((1..=60).contains(&retry_after(&limited)));
    assert_eq!(codes_to(&phone).await.len(), 3);
    // Another recipient is not affected.
    start(&app, SEED_WIDGET_ID, &unique_phone()).await;
}

#[tokio::test]
async fn an_email_recipient_skips_the_sms_channel() {
    let app = app_on_fresh_table(|_| {}).await;
    let email = unique_email();
    let request_id = start(&app, SEED_WIDGET_ID, &email).await;
    let sent = outbox(&api_tests::endpoint()).await.expect("outbox");
    let mails = sent.emails_to(&email);
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].subject, "Код подтверждения");
    assert_eq!(
        body(&channel(&app, &request_id).await),
        json!({"type": "email", "status": "sent", "label": "Email", "codeType": "code",
               "payload": {}, "settings": {}, "remainingCodeAttempts": 5})
    );
    let code = codes_to(&email).await.remove(0);
    assert_eq!(check_code(&app, &request_id, &code).await.status(), 201);
}

#[tokio::test]
async fn an_sms_delivery_failure_ends_with_no_available_channels_and_leaves_nothing() {
    let table = fresh_table().await;
    let healthy = app(&table).await;
    seed_widgets(&healthy).await;
    let dead_sms = App {
        messenger: std::sync::Arc::new(
            user_token_domain::adapters::messaging::SnsSesMessenger::new(
                aws_sdk_sns::Client::new(
                    &local_stack::emulator::sdk_config("http://127.0.0.1:9").await,
                ),
                aws_sdk_sesv2::Client::new(
                    &local_stack::emulator::sdk_config(&api_tests::endpoint()).await,
                ),
                healthy.config.ses_sender.clone(),
            ),
        ),
        ..app(&table).await
    };
    let phone = unique_phone();
    let refused = sigma::start(
        &dead_sms,
        request(&start_event("otp-start.json", SEED_WIDGET_ID, &phone)),
    )
    .await;
    assert_eq!(refused.status(), 400);
    assert_eq!(kind(&refused), "NoAvailableChannelsException");
    let left: Vec<Item> = all_items(&table)
        .await
        .into_iter()
        .filter(
            |item| matches!(item.get("pk"), Some(AttributeValue::S(pk)) if pk.starts_with("OTP#")),
        )
        .collect();
    assert!(left.is_empty(), "no session and no code: {left:?}");
    // The email channel still serves an email recipient through the same widget.
    let email = unique_email();
    assert_eq!(
        sigma::start(
            &dead_sms,
            request(&start_event("otp-start.json", SEED_WIDGET_ID, &email)),
        )
        .await
        .status(),
        201
    );
    assert_eq!(codes_to(&email).await.len(), 1);
}

#[tokio::test]
async fn a_failed_resend_ends_with_no_available_channels_and_keeps_the_live_code() {
    let table = fresh_table().await;
    let healthy = app(&table).await;
    seed_widgets(&healthy).await;
    let phone = unique_phone();
    let request_id = start(&healthy, SEED_WIDGET_ID, &phone).await;
    let code = codes_to(&phone).await.remove(0);
    let dead = App {
        messenger: app_with_dead_messaging(&table).await.messenger,
        ..app_with(&table, |config| {
            config.resend_cooldown = time::Duration::ZERO
        })
        .await
    };
    let failed = resend(&dead, &request_id).await;
    assert_eq!(failed.status(), 400);
    assert_eq!(kind(&failed), "NoAvailableChannelsException");
    assert_eq!(codes_to(&phone).await.len(), 1);
    assert_eq!(check_code(&healthy, &request_id, &code).await.status(), 201);
}

#[tokio::test]
async fn widgets_are_created_once() {
    let app = app(&fresh_table().await).await;
    let widget = seed_widget().expect("widget");
    widget.create(&app.store).await.expect("created");
    assert!(matches!(
        widget.create(&app.store).await,
        Err(DomainError::Conflict(_))
    ));
    let items = items_of(
        app.config.table_name.as_str(),
        &format!("WIDGET#{SEED_WIDGET_ID}"),
    )
    .await;
    assert_eq!(items.len(), 1);
    assert_eq!(
        items[0].get("channels"),
        Some(&AttributeValue::L(vec![
            AttributeValue::M(HashMap::from([
                ("type".to_owned(), AttributeValue::S("sms".into())),
                ("label".to_owned(), AttributeValue::S("SMS".into())),
            ])),
            AttributeValue::M(HashMap::from([
                ("type".to_owned(), AttributeValue::S("email".into())),
                ("label".to_owned(), AttributeValue::S("Email".into())),
            ])),
        ]))
    );
}

#[test]
fn the_start_route_is_declared_without_its_trailing_slash_and_one_with_it_is_refused() {
    let template = api_tests::template();
    assert!(template
        .routes
        .iter()
        .any(|route| route.method == "POST" && route.path == "/api/n/otp-handler"));
    let with_slash = api_tests::root().join("template.yaml");
    let source = std::fs::read_to_string(with_slash)
        .expect("template")
        .replace("Path: /api/n/otp-handler\n", "Path: /api/n/otp-handler/\n");
    assert!(Template::parse(&source).is_err());
}

#[tokio::test]
async fn a_full_session_over_http() {
    let stack = shared_stack();
    let token = stack.token_for(SEED_ADMIN_ID.parse().expect("id"));
    let phone = unique_phone();
    let post = reqwest::Method::POST;

    // Sigma's start path ends with a slash; the route is declared without it, as API Gateway keeps it.
    let (status, started, _) = call(
        post.clone(),
        "/api/n/otp-handler/",
        Some(&token),
        Some(json!({"widgetId": SEED_WIDGET_ID, "recipient": phone})),
    )
    .await;
    assert_eq!(status, 201, "{started}");
    let request_id = started["requestId"].as_str().expect("requestId").to_owned();
    let base = format!("/api/n/otp-handler/{request_id}");
    let first = codes_to(&phone).await;
    assert_eq!(first.len(), 1);

    let (status, refused, _) = call(
        post.clone(),
        &format!("{base}/checkCode"),
        Some(&token),
        Some(json!({"code": wrong(&first[0])})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        refused,
        json!({"type": "InvalidCodeException", "message": "Код, введенный пользователем, неправильный",
               "httpStatus": 400})
    );

    let (status, cooling, headers) =
        call(post.clone(), &format!("{base}/resend"), Some(&token), None).await;
    assert_eq!(status, 409);
    assert_eq!(cooling["type"], "RestartCooldownActiveException");
    assert!(headers.contains_key("retry-after"));

    // After the cooldown (the stack's is 60 s): the same table, through the handler with no cooldown.
    let after = app_with(&stack.table, |config| {
        config.resend_cooldown = time::Duration::ZERO
    })
    .await;
    let resent = resend(&after, &request_id).await;
    assert_eq!(
        (resent.status().as_u16(), body(&resent)),
        (201, json!({"success": true}))
    );
    let codes = codes_to(&phone).await;
    assert_eq!(codes.len(), 2, "a new code went out");

    let (status, current, _) = call(
        reqwest::Method::GET,
        &format!("{base}/channel"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        current["remainingCodeAttempts"], 4,
        "a resend does not reset attempts"
    );

    let (status, checked, _) = call(
        post.clone(),
        &format!("{base}/checkCode"),
        Some(&token),
        Some(json!({"code": codes[1]})),
    )
    .await;
    assert_eq!((status.as_u16(), checked), (201, json!({"success": true})));

    let (status, confirmed, _) =
        call(post.clone(), &format!("{base}/resend"), Some(&token), None).await;
    assert_eq!(status, 409);
    assert_eq!(confirmed["type"], "SessionAlreadyConfirmedException");

    let encoded = phone.replace('+', "%2B");
    let (status, done, _) = call(
        reqwest::Method::GET,
        &format!("{base}/status?recipient={encoded}"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!((status.as_u16(), done), (200, json!({"success": true})));
    let (status, closed, _) = call(
        post.clone(),
        &format!("{base}/checkStatusAndComplete?recipient={encoded}"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!((status.as_u16(), closed), (201, json!({"success": true})));

    let items = items_of(&stack.table, &format!("OTP#{request_id}")).await;
    let token_item = items
        .iter()
        .find(|item| sk_is(item, "TOKEN#OTP_SESSION"))
        .expect("token");
    assert_eq!(
        token_item.get("consumed"),
        Some(&AttributeValue::Bool(true))
    );
    assert!(items
        .iter()
        .any(|item| sk_is(item, "SESSION") && item.contains_key("closedAt")));

    // Without the slash too, and without a token: 401 in Sigma's format.
    let (status, _, _) = call(
        post.clone(),
        "/api/n/otp-handler",
        Some(&token),
        Some(json!({"widgetId": SEED_WIDGET_ID, "recipient": unique_email()})),
    )
    .await;
    assert_eq!(status, 201);
    let (status, anonymous, _) = call(
        post,
        "/api/n/otp-handler/",
        None,
        Some(json!({"widgetId": SEED_WIDGET_ID, "recipient": unique_phone()})),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(anonymous["type"], "UnauthorizedException");
}

/// `complete` racing a right `checkCode`: whichever commits first, the session reads afterwards as `complete`
/// answered (a session closed unconfirmed is never confirmed later), and the code check agrees.
#[tokio::test]
async fn a_complete_racing_a_right_check_is_answered_as_the_session_then_stays() {
    let app = app_on_fresh_table(|_| {}).await;
    for round in 0..12 {
        let phone = unique_phone();
        let request_id = start(&app, SEED_WIDGET_ID, &phone).await;
        let code = codes_to(&phone).await.remove(0);
        let complete_event = session_event("otp-complete.json", &request_id);
        // Either one first: each reads the session, then writes, so each write lands after both reads.
        let (closed, checked) = if round % 2 == 0 {
            tokio::join!(
                sigma::complete(&app, request(&complete_event)),
                check_code(&app, &request_id, &code),
            )
        } else {
            let (checked, closed) = tokio::join!(
                check_code(&app, &request_id, &code),
                sigma::complete(&app, request(&complete_event)),
            );
            (closed, checked)
        };
        assert_eq!(closed.status(), 201, "{:?}", body(&closed));
        let confirmed = body(&closed)["success"]
            .as_bool()
            .expect("complete answers success");
        let mut status = session_event("otp-status.json", &request_id);
        with_recipient_query(&mut status, &phone);
        let later = sigma::status(&app, request(&status)).await;
        assert_eq!(
            (later.status().as_u16(), body(&later)),
            (200, json!({ "success": confirmed }))
        );
        if confirmed {
            assert_eq!(
                (checked.status().as_u16(), body(&checked)),
                (201, json!({"success": true}))
            );
        } else {
            assert_eq!(
                (checked.status().as_u16(), body(&checked)),
                (
                    400,
                    json!({"type": "SessionClosedException", "message": "Сессия закрыта",
                           "httpStatus": 400})
                )
            );
        }
    }
}

fn long_polling_timeout() -> Value {
    json!({"type": "LongPollingTimeoutException",
           "message": "Истек timeout long-polling запроса. Запустие long-polling запрос заново",
           "httpStatus": 408})
}

/// The client of `DEVELOPER_DOCS.md`, over HTTP through the local gateway, step by step as the guide numbers them:
/// getWidget; send; getChannel long polling until `sent` with `codeType: "code"` (and on, since the channel may
/// change); checkCode, wrong then right; getStatus long polling; the backend's checkStatusAndComplete. Every answer
/// is the documents' body, type and message.
#[tokio::test]
async fn the_developer_guides_client_flow_runs_over_http() {
    let stack = shared_stack();
    let token = stack.token_for(SEED_ADMIN_ID.parse().expect("id"));
    let phone = unique_phone();
    let (get, post) = (reqwest::Method::GET, reqwest::Method::POST);
    let api = "/api/n/otp-handler";

    // 2. The widget's data.
    let (status, widget, _) = call(
        get.clone(),
        &format!("{api}/widget/{SEED_WIDGET_ID}"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(
        (status.as_u16(), widget),
        (
            200,
            json!({"isBlocked": false, "isActive": true, "name": "Sign-in (SMS, then email)"})
        )
    );
    let (status, missing, _) = call(
        get.clone(),
        &format!("{api}/widget/no-such-widget"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(
        (status.as_u16(), missing),
        (
            404,
            json!({"type": "WidgetNotFoundException", "message": "Форма не существует", "httpStatus": 404})
        )
    );

    // 6. send.
    let (status, started, _) = call(
        post.clone(),
        &format!("{api}/"),
        Some(&token),
        Some(json!({"widgetId": SEED_WIDGET_ID, "recipient": phone})),
    )
    .await;
    assert_eq!(status, 201, "{started}");
    let request_id = started["requestId"].as_str().expect("requestId").to_owned();
    assert_eq!(started, json!({ "requestId": request_id }));
    assert!(uuid::Uuid::parse_str(&request_id).is_ok());

    // 8, 12. getChannel long polling: `sent`, `code`: the client shows the code field.
    let long_channel = format!("{api}/longPolling/{request_id}/channel");
    let sent = |remaining: u32| {
        json!({"type": "sms", "status": "sent", "label": "SMS", "codeType": "code",
               "payload": {}, "settings": {}, "remainingCodeAttempts": remaining})
    };
    let (status, channel, _) = call(get.clone(), &long_channel, Some(&token), None).await;
    assert_eq!((status.as_u16(), channel), (200, sent(5)));
    let code = codes_to(&phone).await.remove(0);

    // 16, 18. A wrong code: InvalidCodeException; the user tries again.
    let check = format!("{api}/{request_id}/checkCode");
    let (status, refused, _) = call(
        post.clone(),
        &check,
        Some(&token),
        Some(json!({"code": wrong(&code)})),
    )
    .await;
    assert_eq!(
        (status.as_u16(), refused),
        (
            400,
            json!({"type": "InvalidCodeException", "message": "Код, введенный пользователем, неправильный",
                   "httpStatus": 400})
        )
    );
    // 10. Polling goes on while the code field shows: what changed is answered at once.
    let (status, channel, _) = call(get.clone(), &long_channel, Some(&token), None).await;
    assert_eq!((status.as_u16(), channel), (200, sent(4)));

    // 17. The right code.
    let (status, checked, _) = call(
        post.clone(),
        &check,
        Some(&token),
        Some(json!({ "code": code })),
    )
    .await;
    assert_eq!((status.as_u16(), checked), (201, json!({"success": true})));
    let (status, channel, _) = call(get.clone(), &long_channel, Some(&token), None).await;
    assert_eq!(
        (status.as_u16(), channel),
        (
            200,
            json!({"type": "sms", "status": "confirmed", "label": "SMS", "codeType": "code",
                   "payload": {}, "settings": {}, "remainingCodeAttempts": 4})
        )
    );

    // 20, 24. getStatus long polling: confirmed, at once.
    let encoded = phone.replace('+', "%2B");
    let (status, confirmed, _) = call(
        get.clone(),
        &format!("{api}/longPolling/{request_id}/status?recipient={encoded}"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(
        (status.as_u16(), confirmed),
        (200, json!({"success": true}))
    );

    // 27. The backend's final check closes the session.
    let (status, done, _) = call(
        post.clone(),
        &format!("{api}/{request_id}/checkStatusAndComplete?recipient={encoded}"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!((status.as_u16(), done), (201, json!({"success": true})));
    let items = items_of(&stack.table, &format!("OTP#{request_id}")).await;
    assert!(items
        .iter()
        .any(|item| sk_is(item, "SESSION") && item.contains_key("closedAt")));

    // Afterwards the session is closed for the widget, as the documents say.
    let closed =
        json!({"type": "SessionClosedException", "message": "Сессия закрыта", "httpStatus": 400});
    let (status, channel, _) = call(get.clone(), &long_channel, Some(&token), None).await;
    assert_eq!((status.as_u16(), channel), (400, closed.clone()));
    let (status, resent, _) = call(
        post.clone(),
        &format!("{api}/{request_id}/resend"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!((status.as_u16(), resent), (400, closed));
    // Long polling needs a token like every other operation.
    let (status, anonymous, _) = call(get, &long_channel, None, None).await;
    assert_eq!(status, 401);
    assert_eq!(anonymous["type"], "UnauthorizedException");
}

/// Nothing new within the bound (the suite's is 1 s): 408 `LongPollingTimeoutException`, for both long polls, and
/// the session's last seen channel is kept on its item.
#[tokio::test]
async fn long_polls_with_nothing_new_answer_408_after_the_bound() {
    let app = app_on_fresh_table(|_| {}).await;
    let phone = unique_phone();
    let request_id = start(&app, SEED_WIDGET_ID, &phone).await;
    let poll = || {
        sigma::channel_long_polling(
            &app,
            request(&session_event("otp-channel-long-polling.json", &request_id)),
        )
    };
    let first = poll().await;
    assert_eq!(first.status(), 200, "{:?}", body(&first));
    assert_eq!(body(&first)["status"], "sent");
    let session = items_of(app.config.table_name.as_str(), &format!("OTP#{request_id}"))
        .await
        .into_iter()
        .find(|item| sk_is(item, "SESSION"))
        .expect("session");
    assert_eq!(text(&session, "channelSeen"), "Sms:Sent:code:5:1");
    let again = poll().await;
    assert_eq!(
        (again.status().as_u16(), body(&again)),
        (408, long_polling_timeout())
    );
    let mut status = session_event("otp-status-long-polling.json", &request_id);
    with_recipient_query(&mut status, &phone);
    let waiting = sigma::status_long_polling(&app, request(&status)).await;
    assert_eq!(
        (waiting.status().as_u16(), body(&waiting)),
        (408, long_polling_timeout())
    );
    let mut mismatch = session_event("otp-status-long-polling.json", &request_id);
    with_recipient_query(&mut mismatch, &unique_phone());
    let refused = sigma::status_long_polling(&app, request(&mismatch)).await;
    assert_eq!(refused.status(), 409, "answered at once");
    assert_eq!(kind(&refused), "PhoneNumberMismatchException");
}

/// Widgets stored before `isBlocked` and `isActive` were kept read as active and not blocked; a blocked one, stored
/// as such, starts no session and sends nothing.
#[tokio::test]
async fn widget_items_without_state_are_active_and_a_blocked_one_starts_nothing() {
    let app = app_on_fresh_table(|_| {}).await;
    let table = app.config.table_name.clone();
    let put = |id: &str, blocked: Option<bool>| {
        let mut item = HashMap::from([
            ("pk".to_owned(), AttributeValue::S(format!("WIDGET#{id}"))),
            ("sk".to_owned(), AttributeValue::S("PROFILE".into())),
            ("widgetId".to_owned(), AttributeValue::S(id.into())),
            ("name".to_owned(), AttributeValue::S(format!("Old {id}"))),
            ("createdAt".to_owned(), AttributeValue::N("0".into())),
            (
                "channels".to_owned(),
                AttributeValue::L(vec![AttributeValue::M(HashMap::from([
                    ("type".to_owned(), AttributeValue::S("sms".into())),
                    ("label".to_owned(), AttributeValue::S("SMS".into())),
                ]))]),
            ),
        ]);
        if let Some(blocked) = blocked {
            item.insert("isBlocked".to_owned(), AttributeValue::Bool(blocked));
        }
        item
    };
    for (id, blocked) in [("old", None), ("blocked", Some(true))] {
        api_tests::dynamodb()
            .await
            .put_item()
            .table_name(&table)
            .set_item(Some(put(id, blocked)))
            .send()
            .await
            .expect("put");
    }
    let get = |id: &str| {
        let mut event = fixture("otp-widget.json");
        event["pathParameters"]["widgetId"] = json!(id);
        sigma::widget(&app, request(&event))
    };
    let old = get("old").await;
    assert_eq!(
        (old.status().as_u16(), body(&old)),
        (
            200,
            json!({"isBlocked": false, "isActive": true, "name": "Old old"})
        )
    );
    let blocked = get("blocked").await;
    assert_eq!(
        body(&blocked),
        json!({"isBlocked": true, "isActive": true, "name": "Old blocked"})
    );
    let phone = unique_phone();
    let refused = sigma::start(
        &app,
        request(&start_event("otp-start.json", "blocked", &phone)),
    )
    .await;
    assert_eq!(
        (refused.status().as_u16(), body(&refused)),
        (
            403,
            json!({"type": "WidgetIsBlockedException",
                   "message": "Форма или пользователь заблокированы - обратитесь в поддержку",
                   "httpStatus": 403})
        )
    );
    assert!(codes_to(&phone).await.is_empty());
    assert_eq!(start(&app, "old", &phone).await.len(), 36);
}
