//! Each front door's handlers on the in-memory adapters: the status codes and bodies a client of that vendor's API
//! relies on, in milliseconds. (What only DynamoDB's conditions prove stays in the emulator suite.)

use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use crate::adapters::memory::Delivered;
use crate::domain::device::{Account, AccountStatus, Approver};
use crate::domain::otp::{Widget, WidgetChannel};
use crate::domain::token::{Channel, Subject};
use crate::domain::{AccountKey, DeviceKey, User, UserId, UserStatus};
use crate::ports::{DeviceStore, SessionStore};
use crate::testing::{admin, body, event, memory_app, MemoryApp};

use super::{qi, sigma, velo};

fn no_path() -> Value {
    json!({})
}

fn velo_error_code(response: &lambda_http::Response<lambda_http::Body>) -> Value {
    body(response)["errors"][0]["errorCode"].clone()
}

/// The invited users, from the invitation tokens the store holds.
fn invited(app: &MemoryApp) -> Vec<UserId> {
    app.store
        .tokens()
        .iter()
        .filter_map(|token| match &token.subject {
            Subject::User(id) => Some(*id),
            _ => None,
        })
        .collect()
}

fn invitation(email: &str) -> Value {
    json!({
        "email": email,
        "mfaType": "SMS",
        "smsNumber": "+15555550123",
        "primaryContactNumber": "+15555550123",
        "roles": ["velo.payor.admin"],
        "firstName": "Pat",
        "lastName": "Payor",
        "entityId": "00000000-0000-4000-8000-00000000e001",
        "userType": "PAYOR"
    })
}

#[tokio::test]
async fn velo_invite_then_get_then_duplicate_then_resend_inside_the_cooldown() {
    let app = memory_app(|_| {});
    let caller = admin();
    let email = "pat@example.com";
    let invite = |body: Value| {
        event(
            "POST",
            "/v2/users/invite",
            no_path(),
            &[],
            Some(body),
            &caller,
            Map::new(),
        )
    };

    let created = velo::invite_user(&app.app, invite(invitation(email))).await;
    assert_eq!(created.status(), 204);
    assert!(created.body().as_ref().is_empty());
    let ids = invited(&app);
    assert_eq!(ids.len(), 1, "one invitation token");
    let id = ids[0];
    match app.messenger.outbox().as_slice() {
        [Delivered::Email { to, message }] => {
            assert_eq!(to.as_str(), email);
            assert_eq!(message.subject, "You have been invited");
            assert!(message
                .text
                .contains("https://app.example.com/invitation?token="));
        }
        other => panic!("one invitation email, not {other:?}"),
    }

    let path = format!("/v2/users/{id}");
    let fetched = velo::get_user(
        &app.app,
        event(
            "GET",
            &path,
            json!({"userId": id.to_string()}),
            &[],
            None,
            &caller,
            Map::new(),
        ),
    )
    .await;
    assert_eq!(fetched.status(), 200);
    let user = body(&fetched);
    assert_eq!(user["id"], id.to_string());
    assert_eq!(user["email"], email);
    assert_eq!(user["status"], "PENDING");
    assert_eq!(user["mfaType"], "SMS");
    assert_eq!(user["roles"], json!([{"name": "velo.payor.admin"}]));

    let duplicate = velo::invite_user(&app.app, invite(invitation(email))).await;
    assert_eq!(duplicate.status(), 409);
    assert_eq!(velo_error_code(&duplicate), "40910001");
    assert_eq!(body(&duplicate)["errors"][0]["location"], "email");
    assert_eq!(body(&duplicate)["httpStatusCode"], 409);

    let resent = velo::resend_token(
        &app.app,
        event(
            "POST",
            &format!("{path}/tokens"),
            json!({"userId": id.to_string()}),
            &[],
            Some(json!({"tokenType": "INVITE_MFA_USER"})),
            &caller,
            Map::new(),
        ),
    )
    .await;
    assert_eq!(resent.status(), 400);
    assert_eq!(velo_error_code(&resent), "40010007");
    let wait: u64 = resent.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(app.messenger.outbox().len(), 1, "nothing more was sent");
}

#[tokio::test]
async fn velo_invite_whose_email_cannot_go_out_leaves_no_user_behind() {
    let app = memory_app(|_| {});
    app.messenger.set_email_down(true);
    let caller = admin();
    let refused = velo::invite_user(
        &app.app,
        event(
            "POST",
            "/v2/users/invite",
            no_path(),
            &[],
            Some(invitation("lost@example.com")),
            &caller,
            Map::new(),
        ),
    )
    .await;
    assert_eq!(refused.status(), 503);
    assert_eq!(velo_error_code(&refused), "50310002");
    assert_eq!(app.store.user_count(), 0);
    assert!(app.store.tokens().is_empty());
}

#[tokio::test]
async fn velo_refuses_a_caller_without_the_role_in_its_own_format() {
    let app = memory_app(|_| {});
    let caller = User {
        roles: vec![crate::domain::Role::PayeeSupport],
        user_type: crate::domain::UserType::Payee,
        status: UserStatus::Enabled,
        ..admin()
    };
    let refused = velo::invite_user(
        &app.app,
        event(
            "POST",
            "/v2/users/invite",
            no_path(),
            &[],
            Some(invitation("nobody@example.com")),
            &caller,
            Map::new(),
        ),
    )
    .await;
    assert_eq!(refused.status(), 403);
    assert_eq!(body(&refused)["httpStatusCode"], 403);
    assert_eq!(app.store.user_count(), 0);
    assert!(app.messenger.outbox().is_empty());
}

const APPROVER_PHONE: &str = "+5511999990000";

async fn qi_account(app: &MemoryApp) -> AccountKey {
    let account_key = AccountKey::random();
    app.store
        .create_account(&Account {
            account_key,
            status: AccountStatus::Active,
            approvers: vec![Approver {
                document_number: "12345678909".parse().expect("document"),
                phone: APPROVER_PHONE.parse().expect("phone"),
                email: "approver@example.com".parse().expect("email"),
            }],
            created_at: OffsetDateTime::now_utc(),
        })
        .await
        .expect("account");
    account_key
}

fn qi_token(app: &MemoryApp) -> String {
    match app.messenger.outbox().last() {
        Some(Delivered::Sms { to, text }) => {
            assert_eq!(to.as_str(), APPROVER_PHONE);
            let marker = "dispositivo é ";
            let start = text.find(marker).expect("a token") + marker.len();
            text[start..].chars().take(6).collect()
        }
        other => panic!("an SMS to the approver, not {other:?}"),
    }
}

fn qi_error(response: &lambda_http::Response<lambda_http::Body>) -> Value {
    body(response)["code"].clone()
}

#[tokio::test]
async fn qi_device_is_created_pending_refuses_a_wrong_token_and_is_activated_by_the_right_one() {
    let app = memory_app(|_| {});
    let caller = admin();
    let account_key = qi_account(&app).await;
    let device_key = "b6804f32-101e-4702-8fbc-c2dbc4c2caec";
    let params = json!({"account_key": account_key.to_string(), "device_key": device_key});
    let device_path = format!("/account/{account_key}/device/{device_key}");

    let created = qi::create_device(
        &app.app,
        event(
            "POST",
            &format!("/account/{account_key}/device"),
            json!({"account_key": account_key.to_string()}),
            &[],
            Some(json!({
                "device_key": device_key,
                "session_id": "fae3cb6c-9012-4b1c-9d61-7e8b2a6a5ed2",
                "tfa_info": {"approver_document_number": "12345678909", "contact_type": "sms"}
            })),
            &caller,
            Map::new(),
        ),
    )
    .await;
    assert_eq!(created.status(), 202, "{:?}", body(&created));
    let created_at = body(&created)["created_at"].clone();
    assert_eq!(
        body(&created),
        json!({"device_key": device_key, "device_status": "pending_2fa_approval", "created_at": created_at})
    );
    assert_eq!(app.store.device_count(), 1);
    let token = qi_token(&app);
    let wrong = format!(
        "{}{}",
        if token.starts_with('A') { 'B' } else { 'A' },
        &token[1..]
    );

    let validate = |token: String| {
        event(
            "PUT",
            &format!("{device_path}/validate"),
            params.clone(),
            &[],
            Some(json!({ "token": token })),
            &caller,
            Map::new(),
        )
    };
    let refused = qi::validate_device(&app.app, validate(wrong)).await;
    assert_eq!(refused.status(), 400);
    assert_eq!(
        body(&refused),
        json!({"title": "Incorrect Token", "description": "Token sent does not match expected",
               "translation": "Token enviado não condiz com o esperado", "code": "OBD0000100",
               "extra_fields": {"remaining_attempts": 4}})
    );

    let approved = qi::validate_device(&app.app, validate(token.clone())).await;
    assert_eq!(approved.status(), 201);
    assert_eq!(
        body(&approved),
        json!({"device_key": device_key, "device_status": "created", "created_at": created_at})
    );

    let fetched = qi::get_device(
        &app.app,
        event(
            "GET",
            &device_path,
            params.clone(),
            &[],
            None,
            &caller,
            Map::new(),
        ),
    )
    .await;
    assert_eq!(fetched.status(), 200);
    let view = body(&fetched);
    let registered_at = view["registration_date"].clone();
    assert!(registered_at.is_string(), "{view}");
    let session = "fae3cb6c-9012-4b1c-9d61-7e8b2a6a5ed2";
    assert_eq!(
        view,
        json!({
            "device_key": device_key,
            "session_id": session,
            "analysis_status": "automatically_approved",
            "status": "registered",
            "device_registration_data": {
                "device_key": device_key, "session_id": session, "document_number": "123.456.789-09",
                "registration_date": created_at, "face_recognition_key": null
            },
            "analysis_status_events": [
                {"new_analisys_status": "pending", "reason": null, "reason_description": null,
                 "event_date": created_at},
                {"new_analisys_status": "automatically_approved", "reason": null, "reason_description": null,
                 "event_date": registered_at}
            ],
            "status_events": [
                {"new_status": "not_registered", "event_date": created_at},
                {"new_status": "registered", "event_date": registered_at}
            ],
            "registration_date": registered_at,
            "created_at": created_at
        })
    );

    let again = qi::validate_device(&app.app, validate(token)).await;
    assert_eq!(again.status(), 409);
    assert_eq!(qi_error(&again), "XQI000103");
    let tokens = app.store.tokens();
    assert_eq!(tokens.len(), 1);
    assert!(
        tokens[0].consumed,
        "the token was consumed with the activation"
    );
}

#[tokio::test]
async fn qi_refuses_an_account_the_caller_may_not_see_as_not_found() {
    let app = memory_app(|_| {});
    let account_key = qi_account(&app).await;
    let outsider = User {
        roles: vec![crate::domain::Role::PayeeSupport],
        user_type: crate::domain::UserType::Payee,
        ..admin()
    };
    let device_key = "b6804f32-101e-4702-8fbc-c2dbc4c2caec";
    let refused = qi::get_device(
        &app.app,
        event(
            "GET",
            &format!("/account/{account_key}/device/{device_key}"),
            json!({"account_key": account_key.to_string(), "device_key": device_key}),
            &[],
            None,
            &outsider,
            Map::new(),
        ),
    )
    .await;
    assert_eq!(refused.status(), 404);
    assert!(body(&refused)["code"].is_string());
}

const WIDGET: &str = "memory-widget";

async fn sigma_widget(app: &MemoryApp) {
    let widget = Widget::new(
        WIDGET,
        "Memory widget",
        vec![WidgetChannel {
            channel: Channel::Sms,
            label: "SMS".into(),
        }],
    )
    .expect("widget");
    app.store
        .create_widget(&widget, OffsetDateTime::now_utc())
        .await
        .expect("widget stored");
}

fn sigma_code(app: &MemoryApp) -> String {
    match app.messenger.outbox().last() {
        Some(Delivered::Sms { text, .. }) => {
            let start = text.find(|c: char| c.is_ascii_digit()).expect("a code");
            text[start..start + 6].to_owned()
        }
        other => panic!("an SMS, not {other:?}"),
    }
}

#[tokio::test]
async fn sigma_session_starts_refuses_a_wrong_code_confirms_the_right_one_and_reports_success() {
    let app = memory_app(|_| {});
    sigma_widget(&app).await;
    let caller = admin();
    let phone = "+15555550123";

    let started = sigma::start(
        &app.app,
        event(
            "POST",
            "/api/n/otp-handler/",
            no_path(),
            &[],
            Some(json!({"widgetId": WIDGET, "recipient": phone})),
            &caller,
            Map::new(),
        ),
    )
    .await;
    assert_eq!(started.status(), 201, "{:?}", body(&started));
    let request_id = body(&started)["requestId"]
        .as_str()
        .expect("requestId")
        .to_owned();
    assert_eq!(app.store.session_count(), 1);
    match app.messenger.outbox().as_slice() {
        [Delivered::Sms { to, text }] => {
            assert_eq!(to.as_str(), phone);
            assert!(text.starts_with("Ваш код подтверждения: "), "{text}");
        }
        other => panic!("one SMS, not {other:?}"),
    }
    let code = sigma_code(&app);
    let wrong: String = code
        .chars()
        .map(|c| {
            if c == '9' {
                '0'
            } else {
                char::from(c as u8 + 1)
            }
        })
        .collect();

    let session = json!({ "requestId": request_id });
    let check = |code: String| {
        event(
            "POST",
            &format!("/api/n/otp-handler/{request_id}/checkCode"),
            session.clone(),
            &[],
            Some(json!({ "code": code })),
            &caller,
            Map::new(),
        )
    };
    let status = || {
        event(
            "GET",
            &format!("/api/n/otp-handler/{request_id}/status"),
            session.clone(),
            &[("recipient", phone)],
            None,
            &caller,
            Map::new(),
        )
    };

    let refused = sigma::check_code(&app.app, check(wrong)).await;
    assert_eq!(
        body(&refused),
        json!({"type": "InvalidCodeException", "message": "Код, введенный пользователем, неправильный", "httpStatus": 400})
    );
    assert_eq!(refused.status(), 400);
    let pending = sigma::status(&app.app, status()).await;
    assert_eq!(pending.status(), 200);
    assert_eq!(body(&pending), json!({"success": false}));

    let confirmed = sigma::check_code(&app.app, check(code.clone())).await;
    assert_eq!(confirmed.status(), 201, "{:?}", body(&confirmed));
    let done = sigma::status(&app.app, status()).await;
    assert_eq!(done.status(), 200);
    assert_eq!(body(&done), json!({"success": true}));

    let again = sigma::check_code(&app.app, check(code)).await;
    assert_eq!(body(&again)["type"], "SessionAlreadyConfirmedException");
    assert_eq!(again.status(), 409);
}

#[tokio::test]
async fn sigma_status_for_another_recipient_is_a_mismatch() {
    let app = memory_app(|_| {});
    sigma_widget(&app).await;
    let caller = admin();
    let started = sigma::start(
        &app.app,
        event(
            "POST",
            "/api/n/otp-handler/",
            no_path(),
            &[],
            Some(json!({"widgetId": WIDGET, "recipient": "+15555550123"})),
            &caller,
            Map::new(),
        ),
    )
    .await;
    let request_id = body(&started)["requestId"]
        .as_str()
        .expect("requestId")
        .to_owned();
    let mismatch = sigma::status(
        &app.app,
        event(
            "GET",
            &format!("/api/n/otp-handler/{request_id}/status"),
            json!({ "requestId": request_id }),
            &[("recipient", "+15555550999")],
            None,
            &caller,
            Map::new(),
        ),
    )
    .await;
    assert_eq!(mismatch.status(), 409);
    assert_eq!(body(&mismatch)["type"], "PhoneNumberMismatchException");
}

/// One Sigma request on the memory app: `method` on `path` (under `/api/n/otp-handler`) with its path parameters.
fn sigma_event(
    method: &str,
    path: &str,
    parameters: Value,
    query: &[(&str, &str)],
    body: Option<Value>,
    caller: &User,
) -> lambda_http::Request {
    event(
        method,
        &format!("/api/n/otp-handler{path}"),
        parameters,
        query,
        body,
        caller,
        Map::new(),
    )
}

async fn sigma_start(app: &MemoryApp, widget: &str, recipient: &str, caller: &User) -> Value {
    let started = sigma::start(
        &app.app,
        sigma_event(
            "POST",
            "/",
            no_path(),
            &[],
            Some(json!({"widgetId": widget, "recipient": recipient})),
            caller,
        ),
    )
    .await;
    json!({"status": started.status().as_u16(), "body": body(&started)})
}

fn sigma_session(request_id: &str) -> Value {
    json!({ "requestId": request_id })
}

async fn sigma_channel_long_poll(app: &MemoryApp, request_id: &str, caller: &User) -> (u16, Value) {
    let answer = sigma::channel_long_polling(
        &app.app,
        sigma_event(
            "GET",
            &format!("/longPolling/{request_id}/channel"),
            sigma_session(request_id),
            &[],
            None,
            caller,
        ),
    )
    .await;
    (answer.status().as_u16(), body(&answer))
}

const SIGMA_TIMEOUT: &str =
    "Истек timeout long-polling запроса. Запустие long-polling запрос заново";

/// The channel's long poll answers what is new at once and holds what the client has already seen (the memory app's
/// bound is zero: one read, then the 408). A resend is news; so is the end of the code.
#[tokio::test]
async fn sigma_channel_long_poll_answers_news_at_once_and_times_out_on_nothing_new() {
    let app = memory_app(|config| config.resend_cooldown = time::Duration::ZERO);
    sigma_widget(&app).await;
    let caller = admin();
    let started = sigma_start(&app, WIDGET, "+15555550123", &caller).await;
    let request_id = started["body"]["requestId"]
        .as_str()
        .expect("id")
        .to_owned();
    let sent = json!({"type": "sms", "status": "sent", "label": "SMS", "codeType": "code",
                      "payload": {}, "settings": {}, "remainingCodeAttempts": 5});
    assert_eq!(
        sigma_channel_long_poll(&app, &request_id, &caller).await,
        (200, sent.clone())
    );
    let timeout =
        json!({"type": "LongPollingTimeoutException", "message": SIGMA_TIMEOUT, "httpStatus": 408});
    assert_eq!(
        sigma_channel_long_poll(&app, &request_id, &caller).await,
        (408, timeout.clone())
    );
    // The plain channel answers the same body whenever asked.
    let plain = sigma::channel(
        &app.app,
        sigma_event(
            "GET",
            &format!("/{request_id}/channel"),
            sigma_session(&request_id),
            &[],
            None,
            &caller,
        ),
    )
    .await;
    assert_eq!((plain.status().as_u16(), body(&plain)), (200, sent.clone()));

    let resent = sigma::resend(
        &app.app,
        sigma_event(
            "POST",
            &format!("/{request_id}/resend"),
            sigma_session(&request_id),
            &[],
            None,
            &caller,
        ),
    )
    .await;
    assert_eq!(resent.status(), 201);
    assert_eq!(
        sigma_channel_long_poll(&app, &request_id, &caller).await,
        (200, sent),
        "a new code went out"
    );
    assert_eq!(
        sigma_channel_long_poll(&app, &request_id, &caller).await,
        (408, timeout)
    );
}

#[tokio::test]
async fn sigma_expired_code_is_resend_channel_for_channel_check_and_status() {
    let app = memory_app(|config| config.otp_ttl = time::Duration::ZERO);
    sigma_widget(&app).await;
    let caller = admin();
    let phone = "+15555550123";
    let started = sigma_start(&app, WIDGET, phone, &caller).await;
    let request_id = started["body"]["requestId"]
        .as_str()
        .expect("id")
        .to_owned();
    let code = sigma_code(&app);
    let resend_channel = json!({"type": "ResendChannelException", "message": "Перезапустите канал",
                                "httpStatus": 400});
    assert_eq!(
        sigma_channel_long_poll(&app, &request_id, &caller).await,
        (400, resend_channel.clone())
    );
    let checked = sigma::check_code(
        &app.app,
        sigma_event(
            "POST",
            &format!("/{request_id}/checkCode"),
            sigma_session(&request_id),
            &[],
            Some(json!({ "code": code })),
            &caller,
        ),
    )
    .await;
    assert_eq!(
        (checked.status().as_u16(), body(&checked)),
        (400, resend_channel.clone())
    );
    let status = sigma::status_long_polling(
        &app.app,
        sigma_event(
            "GET",
            &format!("/longPolling/{request_id}/status"),
            sigma_session(&request_id),
            &[("recipient", phone)],
            None,
            &caller,
        ),
    )
    .await;
    assert_eq!(
        (status.status().as_u16(), body(&status)),
        (400, resend_channel)
    );
}

#[tokio::test]
async fn sigma_status_long_poll_holds_until_confirmed() {
    let app = memory_app(|_| {});
    sigma_widget(&app).await;
    let caller = admin();
    let phone = "+15555550123";
    let started = sigma_start(&app, WIDGET, phone, &caller).await;
    let request_id = started["body"]["requestId"]
        .as_str()
        .expect("id")
        .to_owned();
    let poll = || {
        sigma::status_long_polling(
            &app.app,
            sigma_event(
                "GET",
                &format!("/longPolling/{request_id}/status"),
                sigma_session(&request_id),
                &[("recipient", phone)],
                None,
                &caller,
            ),
        )
    };
    let waiting = poll().await;
    assert_eq!(
        (waiting.status().as_u16(), body(&waiting)),
        (
            408,
            json!({"type": "LongPollingTimeoutException", "message": SIGMA_TIMEOUT, "httpStatus": 408})
        )
    );
    let checked = sigma::check_code(
        &app.app,
        sigma_event(
            "POST",
            &format!("/{request_id}/checkCode"),
            sigma_session(&request_id),
            &[],
            Some(json!({ "code": sigma_code(&app) })),
            &caller,
        ),
    )
    .await;
    assert_eq!(checked.status(), 201);
    let done = poll().await;
    assert_eq!(
        (done.status().as_u16(), body(&done)),
        (200, json!({"success": true}))
    );
}

/// A widget's state as the reference shows it; a blocked or inactive widget, or one whose owner is disabled, starts
/// no session; an owner's widget is theirs (and backoffice admins') alone.
#[tokio::test]
async fn sigma_widgets_show_their_state_and_blocked_ones_start_nothing() {
    let app = memory_app(|_| {});
    let caller = admin();
    let mut owner = admin();
    owner.roles = vec![crate::domain::Role::PayorAdmin];
    owner.user_type = crate::domain::UserType::Payor;
    owner.entity_id = Some(
        "7fffa261-ac68-49e6-b605-d24a444d9206"
            .parse()
            .expect("entity"),
    );
    let mut stranger = owner.clone();
    stranger.id = UserId::random();
    crate::ports::UserStore::create_user(&*app.store, &owner)
        .await
        .expect("owner");
    let channels = vec![WidgetChannel {
        channel: Channel::Sms,
        label: "SMS".into(),
    }];
    let widget = |id: &str, adjust: &dyn Fn(&mut Widget)| {
        let mut widget = Widget::new(id, format!("Widget {id}"), channels.clone()).expect("widget");
        adjust(&mut widget);
        widget
    };
    for widget in [
        widget("open", &|_| {}),
        widget("blocked", &|w| w.blocked = true),
        widget("inactive", &|w| w.active = false),
        widget("owned", &|w| w.owner_id = Some(owner.id)),
    ] {
        app.store
            .create_widget(&widget, OffsetDateTime::now_utc())
            .await
            .expect("widget stored");
    }
    let get = |id: &str, who: &User| {
        sigma::widget(
            &app.app,
            sigma_event(
                "GET",
                &format!("/widget/{id}"),
                json!({ "widgetId": id }),
                &[],
                None,
                who,
            ),
        )
    };
    let shown = |blocked: bool, active: bool, name: &str| {
        (
            200u16,
            json!({"isBlocked": blocked, "isActive": active, "name": name}),
        )
    };
    let answer = |response: lambda_http::Response<lambda_http::Body>| {
        (response.status().as_u16(), body(&response))
    };
    assert_eq!(
        answer(get("open", &caller).await),
        shown(false, true, "Widget open")
    );
    assert_eq!(
        answer(get("blocked", &caller).await),
        shown(true, true, "Widget blocked")
    );
    assert_eq!(
        answer(get("inactive", &caller).await),
        shown(false, false, "Widget inactive")
    );
    assert_eq!(
        answer(get("owned", &owner).await),
        shown(false, true, "Widget owned")
    );
    let forbidden =
        json!({"type": "ForbiddenException", "message": "Запрещено", "httpStatus": 403});
    assert_eq!(
        answer(get("owned", &stranger).await),
        (403, forbidden.clone())
    );
    let missing = json!({"type": "WidgetNotFoundException", "message": "Форма не существует", "httpStatus": 404});
    assert_eq!(
        answer(get("nothing", &caller).await),
        (404, missing.clone())
    );

    let blocked = json!({"type": "WidgetIsBlockedException",
                         "message": "Форма или пользователь заблокированы - обратитесь в поддержку",
                         "httpStatus": 403});
    for id in ["blocked", "inactive"] {
        assert_eq!(
            sigma_start(&app, id, "+15555550123", &caller).await,
            json!({"status": 403, "body": blocked}),
            "{id}"
        );
    }
    assert_eq!(
        sigma_start(&app, "owned", "+15555550123", &stranger).await,
        json!({"status": 403, "body": forbidden})
    );
    assert_eq!(
        sigma_start(&app, "nothing", "+15555550123", &caller).await,
        json!({"status": 404, "body": missing})
    );
    assert!(app.messenger.outbox().is_empty(), "nothing was sent");
    assert_eq!(app.store.session_count(), 0);

    // The owner disabled: their widget is blocked, for the backoffice admin who may still use it.
    let mut disabled = owner.clone();
    disabled.status = UserStatus::Disabled;
    disabled.version += 1;
    crate::ports::UserStore::save_user(&*app.store, &owner, &disabled)
        .await
        .expect("disabled");
    assert_eq!(
        answer(get("owned", &caller).await),
        shown(true, true, "Widget owned")
    );
    assert_eq!(
        sigma_start(&app, "owned", "+15555550123", &caller).await,
        json!({"status": 403, "body": blocked})
    );
    assert_eq!(
        sigma_start(&app, "open", "+15555550123", &caller).await["status"],
        201
    );
}

/// A completed session is closed for every operation that would change it: 400 `SessionClosedException`, also for
/// a resend after the right code. A number without its `+` is the same number.
#[tokio::test]
async fn sigma_a_completed_session_is_closed_and_a_number_may_come_without_its_plus() {
    let app = memory_app(|config| config.resend_cooldown = time::Duration::ZERO);
    sigma_widget(&app).await;
    let caller = admin();
    let started = sigma_start(&app, WIDGET, "15555550123", &caller).await;
    assert_eq!(started["status"], 201, "{started}");
    let request_id = started["body"]["requestId"]
        .as_str()
        .expect("id")
        .to_owned();
    match app.messenger.outbox().as_slice() {
        [Delivered::Sms { to, .. }] => assert_eq!(to.as_str(), "+15555550123"),
        other => panic!("one SMS, not {other:?}"),
    }
    let post = |operation: &str, body: Option<Value>, query: &[(&str, &str)]| {
        sigma_event(
            "POST",
            &format!("/{request_id}/{operation}"),
            sigma_session(&request_id),
            query,
            body,
            &caller,
        )
    };
    let checked = sigma::check_code(
        &app.app,
        post("checkCode", Some(json!({"code": sigma_code(&app)})), &[]),
    )
    .await;
    assert_eq!(checked.status(), 201);
    let done = sigma::check_status_and_complete(
        &app.app,
        post(
            "checkStatusAndComplete",
            None,
            &[("recipient", "15555550123")],
        ),
    )
    .await;
    assert_eq!(
        (done.status().as_u16(), body(&done)),
        (201, json!({"success": true}))
    );
    let closed =
        json!({"type": "SessionClosedException", "message": "Сессия закрыта", "httpStatus": 400});
    let resent = sigma::resend(&app.app, post("resend", None, &[])).await;
    assert_eq!(
        (resent.status().as_u16(), body(&resent)),
        (400, closed.clone())
    );
    let again = sigma::complete(&app.app, post("complete", None, &[])).await;
    assert_eq!(
        (again.status().as_u16(), body(&again)),
        (400, closed.clone())
    );
    assert_eq!(
        sigma_channel_long_poll(&app, &request_id, &caller).await,
        (400, closed)
    );
}

/// A QI device request on `path` (`account_key`, `device_key` as path parameters) with `body`.
fn qi_event(
    method: &str,
    account: AccountKey,
    device: &str,
    suffix: &str,
    body: Option<Value>,
) -> lambda_http::Request {
    let path = if device.is_empty() {
        format!("/account/{account}/device")
    } else {
        format!("/account/{account}/device/{device}{suffix}")
    };
    event(
        method,
        &path,
        json!({"account_key": account.to_string(), "device_key": device}),
        &[],
        body,
        &admin(),
        Map::new(),
    )
}

async fn qi_create(app: &MemoryApp, account: AccountKey, device: &str) -> Value {
    let created = qi::create_device(
        &app.app,
        qi_event(
            "POST",
            account,
            "",
            "",
            Some(json!({"device_key": device, "session_id": uuid::Uuid::new_v4().to_string(),
                        "tfa_info": {"approver_document_number": "12345678909", "contact_type": "sms"}})),
        ),
    )
    .await;
    assert_eq!(created.status(), 202, "{}", body(&created));
    body(&created)
}

fn qi_wrong(token: &str) -> String {
    format!(
        "{}{}",
        if token.starts_with('A') { 'B' } else { 'A' },
        &token[1..]
    )
}

/// The token item removed by TTL: resend issues a new one (QI: resend is for a token lost, not received or expired),
/// and the attempts spent before the removal still count, so the removal never grants fresh ones.
#[tokio::test]
async fn qi_resend_after_the_token_was_removed_by_ttl_issues_a_new_one_within_the_attempt_cap() {
    let app = memory_app(|config| config.resend_cooldown = time::Duration::ZERO);
    let account = qi_account(&app).await;
    let device = DeviceKey::random().to_string();
    let created = qi_create(&app, account, &device).await;
    let validate = |token: String| {
        qi_event(
            "PUT",
            account,
            &device,
            "/validate",
            Some(json!({ "token": token })),
        )
    };
    for remaining in [4, 3, 2, 1] {
        let refused = qi::validate_device(&app.app, validate(qi_wrong(&qi_token(&app)))).await;
        assert_eq!(
            body(&refused)["extra_fields"],
            json!({"remaining_attempts": remaining})
        );
    }
    let subject = Subject::Device(account, device.parse().expect("device key"));
    app.store.expire_tokens_by_ttl(&subject);
    assert!(app.store.tokens().is_empty());
    // Without a token item a validation is an expired token.
    let expired = qi::validate_device(&app.app, validate("ABCDEF".into())).await;
    assert_eq!(expired.status(), 400);
    assert_eq!(qi_error(&expired), "XQI000104");

    let sent_before = app.messenger.outbox().len();
    let resent = qi::resend_device_token(
        &app.app,
        qi_event("PATCH", account, &device, "/resend_token", None),
    )
    .await;
    assert_eq!(resent.status(), 202, "{}", body(&resent));
    assert_eq!(body(&resent), created);
    assert_eq!(app.messenger.outbox().len(), sent_before + 1);
    let tokens = app.store.tokens();
    assert_eq!(tokens.len(), 1);
    assert_eq!(
        tokens[0].failed_attempts, 4,
        "the cap survives the TTL removal"
    );

    // One attempt is left: a wrong token uses it up, and then neither validate nor resend is allowed.
    let last = qi::validate_device(&app.app, validate(qi_wrong(&qi_token(&app)))).await;
    assert_eq!(
        body(&last)["extra_fields"],
        json!({"remaining_attempts": 0})
    );
    let right = qi::validate_device(&app.app, validate(qi_token(&app))).await;
    assert_eq!(qi_error(&right), "OBD000099");
    app.store.expire_tokens_by_ttl(&subject);
    let refused = qi::resend_device_token(
        &app.app,
        qi_event("PATCH", account, &device, "/resend_token", None),
    )
    .await;
    assert_eq!(refused.status(), 400);
    assert_eq!(
        body(&refused),
        json!({"title": "Number of token validation attempts exceeded",
               "description": "The maximum number of failed token validation attempts has been reached",
               "translation": "Número máximo de tentativas de validação de token atingida",
               "code": "OBD000099", "extra_fields": {}})
    );
    assert!(app.store.tokens().is_empty(), "no token was issued");
}

/// The last token of a pending device was removed by TTL and a new one is issued and validated.
#[tokio::test]
async fn qi_a_device_whose_token_was_removed_by_ttl_is_validated_with_the_new_one() {
    let app = memory_app(|_| {});
    let account = qi_account(&app).await;
    let device = DeviceKey::random().to_string();
    let created = qi_create(&app, account, &device).await;
    let first = qi_token(&app);
    app.store
        .expire_tokens_by_ttl(&Subject::Device(account, device.parse().expect("key")));
    let resent = qi::resend_device_token(
        &app.app,
        qi_event("PATCH", account, &device, "/resend_token", Some(json!({}))),
    )
    .await;
    assert_eq!(resent.status(), 202, "{}", body(&resent));
    let second = qi_token(&app);
    assert_eq!(app.messenger.outbox().len(), 2);
    let old = qi::validate_device(
        &app.app,
        qi_event(
            "PUT",
            account,
            &device,
            "/validate",
            Some(json!({"token": first})),
        ),
    )
    .await;
    if first != second {
        assert_eq!(qi_error(&old), "OBD0000100");
    }
    let approved = qi::validate_device(
        &app.app,
        qi_event(
            "PUT",
            account,
            &device,
            "/validate",
            Some(json!({"token": second})),
        ),
    )
    .await;
    assert_eq!(approved.status(), 201, "{}", body(&approved));
    assert_eq!(
        body(&approved),
        json!({"device_key": device, "device_status": "created", "created_at": created["created_at"]})
    );
}

/// Inside the cooldown, a resend to the same recipient is QI's 202, and nothing is sent again; to another one, the
/// cooldown is ours to state (429 XQI000105).
#[tokio::test]
async fn qi_resend_inside_the_cooldown_is_202_without_a_send_to_the_same_recipient() {
    let app = memory_app(|_| {});
    let account = qi_account(&app).await;
    let device = DeviceKey::random().to_string();
    let created = qi_create(&app, account, &device).await;
    let resend = |body: Value| qi_event("PATCH", account, &device, "/resend_token", Some(body));
    let same = qi::resend_device_token(&app.app, resend(json!({"contact_type": "sms"}))).await;
    assert_eq!(same.status(), 202);
    assert_eq!(body(&same), created);
    assert_eq!(app.messenger.outbox().len(), 1, "not sent again");
    let other = qi::resend_device_token(&app.app, resend(json!({"contact_type": "email"}))).await;
    assert_eq!(other.status(), 429);
    assert_eq!(qi_error(&other), "XQI000105");
    assert_eq!(app.messenger.outbox().len(), 1);
    // The token that went out still approves the device.
    let approved = qi::validate_device(
        &app.app,
        qi_event(
            "PUT",
            account,
            &device,
            "/validate",
            Some(json!({"token": qi_token(&app)})),
        ),
    )
    .await;
    assert_eq!(approved.status(), 201);
}

/// Create as QI documents it: `session_id` required (a UUID v4), keys UUID v4; `liveness` answered clearly; an
/// unknown approver is QI's OBD000090.
#[tokio::test]
async fn qi_create_takes_the_documented_body_and_refuses_liveness_clearly() {
    let app = memory_app(|_| {});
    let account = qi_account(&app).await;
    let create = |body: Value| qi_event("POST", account, "", "", Some(body));
    let device = DeviceKey::random().to_string();
    let tfa = json!({"approver_document_number": "12345678909", "contact_type": "sms"});
    let cases = [
        (
            json!({"device_key": device, "tfa_info": tfa}),
            json!({"session_id": "is required"}),
        ),
        (
            json!({"device_key": device, "session_id": "session-1", "tfa_info": tfa}),
            json!({"session_id": "must be a UUID v4 (36 characters)"}),
        ),
        (
            json!({"device_key": "b6804f32-101e-1702-8fbc-c2dbc4c2caec",
                   "session_id": "fae3cb6c-9012-4b1c-9d61-7e8b2a6a5ed2", "tfa_info": tfa}),
            json!({"device_key": "must be a UUID v4 (36 characters)"}),
        ),
    ];
    for (request, fields) in cases {
        let refused = qi::create_device(&app.app, create(request.clone())).await;
        assert_eq!(refused.status(), 400, "{request}");
        assert_eq!(body(&refused), qi_schema_error(fields), "{request}");
    }
    let liveness = qi::create_device(
        &app.app,
        create(json!({"device_key": device, "session_id": "fae3cb6c-9012-4b1c-9d61-7e8b2a6a5ed2",
                      "tfa_info": {"approver_document_number": "12345678909", "contact_type": "liveness",
                                   "image_key": "367195fc-de24-46b0-9ddb-79231dc7eeff"}})),
    )
    .await;
    assert_eq!(liveness.status(), 400);
    assert_eq!(
        body(&liveness),
        json!({"title": "Bad Request",
               "description": "contact_type liveness (approval with an image_key) is not supported by this service; use sms or email",
               "translation": "contact_type liveness (aprovação com image_key) não é suportado por este serviço; use sms ou email",
               "code": "XQI000109", "extra_fields": {}})
    );
    let stranger = qi::create_device(
        &app.app,
        create(json!({"device_key": device, "session_id": "fae3cb6c-9012-4b1c-9d61-7e8b2a6a5ed2",
                      "tfa_info": {"approver_document_number": "98765432100", "contact_type": "sms"}})),
    )
    .await;
    assert_eq!(stranger.status(), 403);
    assert_eq!(qi_error(&stranger), "OBD000090");
    assert_eq!(app.store.device_count(), 0);
    assert!(app.messenger.outbox().is_empty());
}

/// Disable answers QI's body, and on a blocked or hub account QI's OBD000088 / OBD000089.
#[tokio::test]
async fn qi_disable_answers_the_documented_body_and_refuses_blocked_and_hub_accounts() {
    let app = memory_app(|_| {});
    let account = qi_account(&app).await;
    let device = DeviceKey::random().to_string();
    let created = qi_create(&app, account, &device).await;
    let disable = |account| qi_event("DELETE", account, &device, "/disable", None);
    let disabled = qi::disable_device(&app.app, disable(account)).await;
    assert_eq!(disabled.status(), 200);
    assert_eq!(
        body(&disabled),
        json!({"device_key": device, "device_status": "disabled", "created_at": created["created_at"]})
    );
    for (status, code) in [
        (AccountStatus::Blocked, "OBD000088"),
        (AccountStatus::Closed, "OBD000088"),
        (AccountStatus::Hub, "OBD000089"),
    ] {
        let other = AccountKey::random();
        app.store
            .create_account(&Account {
                account_key: other,
                status,
                approvers: Vec::new(),
                created_at: OffsetDateTime::now_utc(),
            })
            .await
            .expect("account");
        let refused = qi::disable_device(&app.app, disable(other)).await;
        assert_eq!(refused.status(), 400);
        assert_eq!(qi_error(&refused), code);
    }
}

fn qi_schema_error(fields: Value) -> Value {
    json!({"title": "Bad Request", "description": "Schema Error", "translation": "Erro de Schema",
           "code": "QIT000001", "extra_fields": fields})
}

/// Issue 19, item 12: an address of another tenant's user is answered to a payor admin as a new invitation would be
/// (204, nothing created, nothing to find), and the address's owner is told, at most once a day; an address of its
/// own tenant's user is Velo's 409.
#[tokio::test]
async fn velo_invite_of_another_tenants_address_is_a_204_and_its_owner_is_told_once() {
    let app = memory_app(|_| {});
    let payor_user = |entity: &str, email: &str| {
        let mut user = admin();
        user.roles = vec![crate::domain::Role::PayorAdmin];
        user.user_type = crate::domain::UserType::Payor;
        user.entity_id = Some(entity.parse().expect("entity"));
        user.email = email.parse().expect("email");
        user
    };
    let ours = "00000000-0000-4000-8000-00000000e001";
    let theirs = "00000000-0000-4000-8000-00000000e002";
    let caller = payor_user(ours, "caller@example.com");
    let colleague = payor_user(ours, "colleague@example.com");
    let stranger = payor_user(theirs, "stranger@example.com");
    for user in [&caller, &colleague, &stranger] {
        crate::ports::UserStore::create_user(&*app.store, user)
            .await
            .expect("user");
    }
    let invite = |email: &str| {
        let mut invitation = invitation(email);
        invitation["roles"] = json!(["velo.payor.support"]);
        event(
            "POST",
            "/v2/users/invite",
            no_path(),
            &[],
            Some(invitation),
            &caller,
            Map::new(),
        )
    };
    let fresh = velo::invite_user(&app.app, invite("fresh@example.com")).await;
    assert_eq!(fresh.status(), 204, "{}", body(&fresh));
    let users = app.store.user_count();
    let sent = app.messenger.outbox().len();

    for _ in 0..3 {
        let answer = velo::invite_user(&app.app, invite("stranger@example.com")).await;
        assert_eq!(answer.status(), 204, "{}", body(&answer));
        assert!(answer.body().as_ref().is_empty(), "as a new invitation");
    }
    assert_eq!(app.store.user_count(), users, "nothing created");
    let outbox = app.messenger.outbox();
    match &outbox[sent..] {
        [Delivered::Email { to, message }] => {
            assert_eq!(to.as_str(), "stranger@example.com");
            assert_eq!(message.subject, "Someone tried to invite you");
            assert!(!message.text.contains("example.com"), "no address in it");
        }
        other => panic!("one notice to the owner, not {other:?}"),
    }

    let own_tenant = velo::invite_user(&app.app, invite("colleague@example.com")).await;
    assert_eq!(own_tenant.status(), 409);
    assert_eq!(velo_error_code(&own_tenant), "40910001");
    assert_eq!(
        app.messenger.outbox().len(),
        sent + 1,
        "no notice for a 409"
    );
}
