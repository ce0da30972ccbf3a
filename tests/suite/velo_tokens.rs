//! register-sms and resend-token: the Velo operations on the token engine, from event fixtures of both API
//! versions and over HTTP.

use api_tests::{all_items, app_with, fresh_table, shared_stack, unique_email, unique_phone};
#[allow(unused_imports)]
use api_tests::{
    DeviceStore as _, SessionStore as _, StoreWidget as _, TokenStore as _, UserStore as _,
};
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::{Body, Response};
use local_stack::emulator::outbox;
use local_stack::stack::{seed_admin, SEED_ADMIN_ID};
use serde_json::{json, Value};
use user_token_domain::domain::token::Subject;
use user_token_domain::domain::token::TokenPurpose;
use user_token_domain::{doors::velo, App};

fn event(name: &str, adjust: impl FnOnce(&mut Value)) -> lambda_http::Request {
    let text =
        std::fs::read_to_string(api_tests::root().join("events").join(name)).expect("fixture");
    let mut event: Value = serde_json::from_str(&text).expect("json");
    adjust(&mut event);
    lambda_http::request::from_str(&event.to_string()).expect("event")
}

fn error_code(response: &Response<Body>) -> String {
    let body: Value = serde_json::from_slice(response.body().as_ref()).expect("json");
    body["errors"][0]["errorCode"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn seeded(adjust: impl FnOnce(&mut user_token_domain::lambda::config::Config)) -> App {
    let app = app_with(&fresh_table().await, adjust).await;
    app.store
        .create_user(&seed_admin().expect("seed"))
        .await
        .expect("seeded");
    app
}

/// `seeded`, the admin (the fixtures' caller) with a number of its own, so that the outbox tells its SMS apart.
async fn seeded_with_number(
    adjust: impl FnOnce(&mut user_token_domain::lambda::config::Config),
) -> (App, String) {
    let app = app_with(&fresh_table().await, adjust).await;
    let number = unique_phone();
    let admin = user_token_domain::domain::User {
        sms_number: number.parse().expect("phone"),
        ..seed_admin().expect("seed")
    };
    app.store.create_user(&admin).await.expect("seeded");
    (app, number)
}

async fn last_sms_code(number: &str) -> String {
    let sent = outbox(&api_tests::endpoint()).await.expect("outbox");
    let message = &sent.sms_to(number).last().expect("an SMS").message;
    let start = message.find(|c: char| c.is_ascii_digit()).expect("a code");
    message[start..start + 6].to_owned()
}

fn links(email: &str, sent: &local_stack::emulator::Outbox) -> Vec<String> {
    sent.emails_to(email)
        .iter()
        .map(|mail| {
            let start = mail.body.find("token=").expect("link") + "token=".len();
            mail.body[start..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_' || *c == '.')
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn register_sms_sends_a_code_and_refuses_a_second_inside_the_cooldown() {
    let app = seeded(|_| {}).await;
    let number = unique_phone();
    let with_number =
        |event: &mut Value| event["body"] = json!(json!({"smsNumber": number}).to_string());
    let first = velo::register_sms(&app, event("register-sms.json", with_number)).await;
    assert_eq!(first.status(), 204);
    let code = last_sms_code(&number).await;
    assert_eq!(code.len(), 6);
    let second = velo::register_sms(&app, event("register-sms.rest-v1.json", with_number)).await;
    assert_eq!(second.status(), 400);
    assert_eq!(error_code(&second), "40010007");
    let wait: u64 = second.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&wait));
    assert_eq!(
        outbox(&api_tests::endpoint())
            .await
            .expect("outbox")
            .sms_to(&number)
            .len(),
        1
    );

    let bad = velo::register_sms(
        &app,
        event("register-sms.json", |e| {
            e["body"] = json!(r#"{"smsNumber":"5550100"}"#)
        }),
    )
    .await;
    assert_eq!(bad.status(), 400);
    assert_eq!(error_code(&bad), "40010001");
}

#[tokio::test]
async fn resend_token_revokes_the_invitation_and_sends_a_new_link() {
    let app = seeded(|config| config.resend_cooldown = time::Duration::ZERO).await;
    let email = unique_email();
    let invite = velo::invite_user(
        &app,
        event("invite-user.json", |e| {
            e["body"] = json!(
                json!({"email": email, "mfaType": "TOTP", "smsNumber": "+4411223344556",
                "primaryContactNumber": "+4411223344556", "roles": ["velo.backoffice.admin"]})
                .to_string()
            )
        }),
    )
    .await;
    assert_eq!(invite.status(), 204);
    let items = all_items(app.config.table_name.as_str()).await;
    let user_id = items
        .iter()
        .find(|item| item.get("email") == Some(&AttributeValue::S(email.clone())))
        .and_then(|item| item.get("id"))
        .and_then(|id| id.as_s().ok())
        .expect("invited")
        .clone();
    for name in ["resend-token.json", "resend-token.rest-v1.json"] {
        let response = velo::resend_token(
            &app,
            event(name, |e| e["pathParameters"]["userId"] = json!(user_id)),
        )
        .await;
        assert_eq!(response.status(), 204, "{name}");
    }
    let sent = outbox(&api_tests::endpoint()).await.expect("outbox");
    let tokens = links(&email, &sent);
    assert_eq!(tokens.len(), 3, "the invitation and two resends");
    let subject = Subject::User(user_id.parse().expect("user id"));
    let stored = app
        .store
        .get_token(&subject, TokenPurpose::Invitation)
        .await
        .expect("read")
        .expect("token");
    let hasher = app.hasher.as_ref().expect("hasher");
    assert!(
        hasher.matches(
            TokenPurpose::Invitation,
            &subject.to_string(),
            &tokens[2],
            &stored.digest
        ),
        "the newest link is live"
    );
    for old in &tokens[..2] {
        assert!(
            !hasher.matches(
                TokenPurpose::Invitation,
                &subject.to_string(),
                old,
                &stored.digest
            ),
            "older links are revoked"
        );
    }
    assert_eq!(stored.version, 3);
}

#[tokio::test]
async fn resend_token_needs_an_existing_token_of_that_type() {
    let app = seeded(|_| {}).await;
    // The seeded admin was never invited: there is nothing to resend.
    let response = velo::resend_token(&app, event("resend-token.json", |_| {})).await;
    assert_eq!(response.status(), 404);
    assert_eq!(error_code(&response), "40410001");
    let response = velo::resend_token(
        &app,
        event("resend-token.json", |e| {
            e["body"] = json!(r#"{"tokenType":"MFA_REGISTRATION"}"#)
        }),
    )
    .await;
    assert_eq!(response.status(), 404);
    let response = velo::resend_token(
        &app,
        event("resend-token.json", |e| {
            e["body"] = json!(r#"{"tokenType":"PASSWORD_RESET"}"#)
        }),
    )
    .await;
    assert_eq!(response.status(), 400);
    let body: Value = serde_json::from_slice(response.body().as_ref()).expect("json");
    assert_eq!(body["errors"][0]["location"], "tokenType");
}

#[tokio::test]
async fn a_verification_code_from_register_sms_is_accepted_once_and_only_the_newest() {
    // A step-up: the codes go to the caller's own registered number.
    let (app, number) =
        seeded_with_number(|config| config.resend_cooldown = time::Duration::ZERO).await;
    let with_number =
        |event: &mut Value| event["body"] = json!(json!({"smsNumber": number}).to_string());
    assert_eq!(
        velo::register_sms(&app, event("register-sms.json", with_number))
            .await
            .status(),
        204
    );
    let old = last_sms_code(&number).await;
    assert_eq!(
        velo::register_sms(&app, event("register-sms.json", with_number))
            .await
            .status(),
        204
    );
    let new = last_sms_code(&number).await;

    let email = unique_email();
    velo::invite_user(
        &app,
        event("invite-user.json", |e| {
            e["body"] = json!(
                json!({"email": email, "mfaType": "TOTP", "smsNumber": "+4411223344556",
                "primaryContactNumber": "+4411223344556", "roles": ["velo.backoffice.admin"]})
                .to_string()
            )
        }),
    )
    .await;
    let items = all_items(app.config.table_name.as_str()).await;
    let user_id = items
        .iter()
        .find(|item| item.get("email") == Some(&AttributeValue::S(email.clone())))
        .and_then(|item| item.get("id"))
        .and_then(|id| id.as_s().ok())
        .expect("invited")
        .clone();
    let resend = |code: &str| {
        let body = json!({"tokenType": "INVITE_MFA_USER", "verificationCode": code}).to_string();
        let user_id = user_id.clone();
        event("resend-token.json", move |e| {
            e["pathParameters"]["userId"] = json!(user_id);
            e["body"] = json!(body);
        })
    };
    if old != new {
        let refused = velo::resend_token(&app, resend(&old)).await;
        assert_eq!(
            refused.status(),
            400,
            "the older code was revoked by the newer"
        );
        assert_eq!(error_code(&refused), "40010004");
    }
    assert_eq!(velo::resend_token(&app, resend(&new)).await.status(), 204);
    let reused = velo::resend_token(&app, resend(&new)).await;
    assert_eq!(reused.status(), 400, "single use");
    assert_eq!(error_code(&reused), "40010004");
    let short = velo::resend_token(&app, resend("123")).await;
    assert_eq!(short.status(), 400);
}

#[tokio::test]
async fn over_http_a_resend_inside_the_cooldown_gets_retry_after() {
    let stack = shared_stack();
    let token = stack.token_for(SEED_ADMIN_ID.parse().expect("id"));
    let client = reqwest::Client::new();
    let email = unique_email();
    let invited = client
        .post(format!("{}/v2/users/invite", stack.base_url))
        .bearer_auth(&token)
        .json(
            &json!({"email": email, "mfaType": "SMS", "smsNumber": "+4411223344556",
            "primaryContactNumber": "+4411223344556", "roles": ["velo.backoffice.admin"]}),
        )
        .send()
        .await
        .expect("invite");
    assert_eq!(invited.status(), 204);
    let items = all_items(&stack.table).await;
    let user_id = items
        .iter()
        .find(|item| item.get("email") == Some(&AttributeValue::S(email.clone())))
        .and_then(|item| item.get("id"))
        .and_then(|id| id.as_s().ok())
        .expect("invited")
        .clone();
    let resent = client
        .post(format!("{}/v2/users/{user_id}/tokens", stack.base_url))
        .bearer_auth(&token)
        .json(&json!({"tokenType": "INVITE_MFA_USER"}))
        .send()
        .await
        .expect("resend");
    assert_eq!(resent.status(), 400);
    assert!(resent.headers().contains_key("retry-after"));
    let body: Value = resent.json().await.expect("json");
    assert_eq!(body["errors"][0]["errorCode"], "40010007");

    let number = unique_phone();
    let registered = client
        .post(format!("{}/v2/users/registration/sms", stack.base_url))
        .bearer_auth(&token)
        .json(&json!({"smsNumber": number}))
        .send()
        .await
        .expect("register");
    assert_eq!(registered.status(), 204);
    assert_eq!(
        outbox(&api_tests::endpoint())
            .await
            .expect("outbox")
            .sms_to(&number)
            .len(),
        1
    );
}

#[tokio::test]
async fn a_verification_code_sent_with_an_invitation_is_checked() {
    let app = seeded(|config| config.resend_cooldown = time::Duration::ZERO).await;
    // The code proves the invitee's number: it goes to the number the invitation names.
    let number = unique_phone();
    let invite = |email: String, code: &str| {
        let body = json!({"email": email, "mfaType": "TOTP", "smsNumber": number,
            "primaryContactNumber": "+4411223344556", "roles": ["velo.backoffice.admin"], "verificationCode": code});
        event("invite-user.json", move |e| {
            e["body"] = json!(body.to_string())
        })
    };
    let refused = velo::invite_user(&app, invite(unique_email(), "000000")).await;
    assert_eq!(refused.status(), 400);
    assert_eq!(error_code(&refused), "40010004");
    assert!(
        all_items(app.config.table_name.as_str())
            .await
            .iter()
            .all(
                |item| item.get("sk") != Some(&AttributeValue::S("GUARD".into()))
                    || item.get("pk") == Some(&AttributeValue::S("EMAIL#admin@example.com".into()))
            ),
        "no user was created"
    );
    let register = velo::register_sms(
        &app,
        event("register-sms.json", |e| {
            e["body"] = json!(json!({"smsNumber": number}).to_string())
        }),
    )
    .await;
    assert_eq!(register.status(), 204);
    let code = last_sms_code(&number).await;
    assert_eq!(
        velo::invite_user(&app, invite(unique_email(), &code))
            .await
            .status(),
        204
    );
    assert_eq!(
        velo::invite_user(&app, invite(unique_email(), &code))
            .await
            .status(),
        400,
        "used once"
    );
}
