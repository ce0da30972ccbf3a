//! Accepting an invitation and resetting a password, on the in-memory adapters.

use serde_json::{json, Map, Value};

use crate::adapters::memory::Delivered;
use crate::domain::token::{Subject, TokenPurpose};
use crate::domain::{password, MfaType, User, UserStatus};
use crate::ports::{SignInStore as _, TokenStore, UserStore};
use crate::testing::{admin, body, event, event_with, memory_app, MemoryApp};

const STRONG: &str = "quiet lanterns over the harbour 1906";
const STRONGER: &str = "a heron waits where the tide turns 77";

fn post(path: &str, body: Value) -> lambda_http::Request {
    event_with("POST", path, json!({}), &[], &[], Some(body), Map::new())
}

/// The token at the end of the last link that went out by email to `to`.
fn last_link(app: &MemoryApp, to: &str) -> String {
    app.messenger
        .outbox()
        .iter()
        .rev()
        .find_map(|delivered| match delivered {
            Delivered::Email {
                to: address,
                message,
            } if address.as_str() == to => message.text.split_whitespace().find_map(|word| {
                word.split_once("?token=")
                    .map(|(_, token)| token.to_owned())
            }),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no link went to {to}"))
}

fn error_of(response: &lambda_http::Response<lambda_http::Body>) -> (u16, Value, Value) {
    let body = body(response);
    (
        response.status().as_u16(),
        body["errors"][0]["errorCode"].clone(),
        body["errors"][0]["location"].clone(),
    )
}

/// An admin invites a payor user; its id and email.
async fn invited(app: &MemoryApp) -> (User, String) {
    let email = format!("invitee-{}@example.com", uuid::Uuid::new_v4());
    let invite = event(
        "POST",
        "/v2/users/invite",
        json!({}),
        &[],
        Some(json!({
            "email": email,
            "mfaType": "SMS",
            "smsNumber": "+15555550123",
            "primaryContactNumber": "+15555550123",
            "roles": ["velo.payor.admin"],
            "firstName": "Pat",
            "lastName": "Payor",
            "entityId": "00000000-0000-4000-8000-00000000e001",
        })),
        &admin(),
        Map::new(),
    );
    assert_eq!(
        super::super::invite_user(&app.app, invite).await.status(),
        204
    );
    let user = app
        .store
        .find_user_by_email_with_token(&email.parse().expect("email"), TokenPurpose::Invitation)
        .await
        .expect("read")
        .0
        .expect("the invited user");
    (user, email)
}

async fn accept(
    app: &MemoryApp,
    token: &str,
    password: &str,
) -> lambda_http::Response<lambda_http::Body> {
    super::accept_invitation(
        &app.app,
        post(
            "/v1/invitations/accept",
            json!({ "token": token, "password": password }),
        ),
    )
    .await
}

#[tokio::test]
async fn an_invitation_is_accepted_once_with_a_strong_password() {
    let app = memory_app(|_| {});
    let (user, email) = invited(&app).await;
    let link = last_link(&app, &email);
    assert!(link.starts_with(&format!("{}.", user.id)), "{link}");

    let weak = accept(&app, &link, &email).await;
    assert_eq!(
        error_of(&weak),
        (400, json!("40010001"), json!("password")),
        "{:?}",
        body(&weak)
    );
    let accepted = accept(&app, &link, STRONG).await;
    assert_eq!(accepted.status(), 204, "{:?}", body(&accepted));
    let enabled = app.store.get_user(&user.id).await.unwrap().unwrap();
    assert_eq!(enabled.status, UserStatus::Enabled);
    let hash = enabled.password_hash.as_deref().expect("a password");
    assert!(hash.starts_with("$argon2id$") && password::matches(STRONG, hash));
    let token = app
        .store
        .get_token(&Subject::User(user.id), TokenPurpose::Invitation)
        .await
        .unwrap()
        .expect("the token");
    assert!(token.consumed, "consumed in the same write");

    let again = accept(&app, &link, STRONGER).await;
    assert_eq!(error_of(&again), (400, json!("40010001"), json!("token")));
    let unchanged = app.store.get_user(&user.id).await.unwrap().unwrap();
    assert_eq!(unchanged.password_hash, enabled.password_hash);
}

#[tokio::test]
async fn unknown_replaced_and_malformed_links_get_one_answer() {
    let app = memory_app(|_| {});
    let (user, email) = invited(&app).await;
    let first = last_link(&app, &email);
    let resend = event(
        "POST",
        "/v2/users/{userId}/tokens",
        json!({ "userId": user.id.to_string() }),
        &[],
        Some(json!({ "tokenType": "INVITE_MFA_USER" })),
        &admin(),
        Map::new(),
    );
    let app = {
        // The cooldown would refuse the resend a moment after the invitation.
        let mut app = app;
        app.app.config.resend_cooldown = time::Duration::ZERO;
        app
    };
    assert_eq!(
        super::super::resend_token(&app.app, resend).await.status(),
        204
    );
    let second = last_link(&app, &email);
    assert_ne!(first, second);

    let replaced = accept(&app, &first, STRONG).await;
    let forged = accept(&app, &format!("{}.{}", user.id, "A".repeat(43)), STRONG).await;
    let stranger = accept(
        &app,
        &format!("{}.{}", uuid::Uuid::new_v4(), "A".repeat(43)),
        STRONG,
    )
    .await;
    let malformed = accept(&app, "not-a-link", STRONG).await;
    let answers: Vec<_> = [&replaced, &forged, &stranger, &malformed]
        .iter()
        .map(|response| {
            let mut body = body(response);
            body["correlationId"] = Value::Null;
            (response.status(), body)
        })
        .collect();
    assert_eq!(answers[0].0, 400);
    assert!(
        answers.iter().all(|answer| *answer == answers[0]),
        "{answers:?}"
    );
    assert_eq!(answers[0].1["errors"][0]["location"], "token");

    // Wrong links do not count against the live one: it still works.
    let token = app
        .store
        .get_token(&Subject::User(user.id), TokenPurpose::Invitation)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(token.failed_attempts, 0);
    assert_eq!(accept(&app, &second, STRONG).await.status(), 204);
}

#[tokio::test]
async fn a_pending_user_is_enabled_only_by_accepting() {
    let app = memory_app(|_| {});
    let (user, _) = invited(&app).await;
    let status = |path: &str| {
        event(
            "POST",
            path,
            json!({ "userId": user.id.to_string() }),
            &[],
            None,
            &admin(),
            Map::new(),
        )
    };
    let disabled = super::super::disable_user(&app.app, status("/v2/users/{userId}/disable")).await;
    assert_eq!(disabled.status(), 204);
    let enabled = super::super::enable_user(&app.app, status("/v2/users/{userId}/enable")).await;
    assert_eq!(enabled.status(), 204);
    let user = app.store.get_user(&user.id).await.unwrap().unwrap();
    assert_eq!(
        user.status,
        UserStatus::Pending,
        "still waiting for acceptance"
    );
}

async fn reset(app: &MemoryApp, email: &str) -> lambda_http::Response<lambda_http::Body> {
    super::reset_password(
        &app.app,
        post("/v1/password/reset", json!({ "email": email })),
    )
    .await
}

async fn confirm(
    app: &MemoryApp,
    token: &str,
    password: &str,
) -> lambda_http::Response<lambda_http::Body> {
    super::confirm_password_reset(
        &app.app,
        post(
            "/v1/password/reset/confirm",
            json!({ "token": token, "password": password }),
        ),
    )
    .await
}

#[tokio::test]
async fn a_reset_answers_alike_for_anyone_and_its_link_works_once() {
    let app = memory_app(|_| {});
    let hash = password::hash(&STRONG.to_owned().try_into().unwrap()).unwrap();
    let user = User {
        mfa_type: MfaType::Sms,
        password_hash: Some(hash),
        failed_password_attempts: 5,
        locked_out: true,
        ..admin()
    };
    app.store.create_user(&user).await.unwrap();

    let known = reset(&app, user.email.as_str()).await;
    let unknown = reset(&app, "nobody-here@example.com").await;
    assert_eq!(
        (known.status().as_u16(), unknown.status().as_u16()),
        (204, 204)
    );
    assert!(known.body().as_ref().is_empty() && unknown.body().as_ref().is_empty());
    assert_eq!(known.headers(), unknown.headers());
    assert_eq!(
        app.messenger.outbox().len(),
        1,
        "only the real user is sent a link"
    );
    let link = last_link(&app, user.email.as_str());

    let reused = confirm(&app, &link, STRONG).await;
    assert_eq!(
        error_of(&reused),
        (400, json!("40010001"), json!("password")),
        "the current password is history"
    );
    let confirmed = confirm(&app, &link, STRONGER).await;
    assert_eq!(confirmed.status(), 204, "{:?}", body(&confirmed));
    let after = app.store.get_user(&user.id).await.unwrap().unwrap();
    assert!(password::matches(
        STRONGER,
        after.password_hash.as_deref().unwrap()
    ));
    assert!(!after.locked_out && after.failed_password_attempts == 0);
    assert!(after.tokens_valid_after.is_some(), "every session ended");
    let again = confirm(&app, &link, "the third password in a row 42").await;
    assert_eq!(error_of(&again), (400, json!("40010001"), json!("token")));

    let disabled = User {
        status: UserStatus::Disabled,
        ..after.clone()
    };
    app.store.save_user(&after, &disabled).await.unwrap();
    assert_eq!(reset(&app, user.email.as_str()).await.status(), 204);
    assert_eq!(
        app.messenger.outbox().len(),
        1,
        "a disabled user is sent nothing"
    );
}
