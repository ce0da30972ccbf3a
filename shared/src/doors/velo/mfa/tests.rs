//! Registering SMS and TOTP factors on the in-memory adapters, then signing in with them.

use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use crate::adapters::memory::Delivered;
use crate::domain::token::{Subject, TokenPurpose};
use crate::domain::totp::TotpSecret;
use crate::domain::{MfaStatus, MfaType, User};
use crate::doors::authz::pre_auth_context;
use crate::ports::{TokenStore, UserStore};
use crate::testing::{admin, body, event, event_with, memory_app, MemoryApp};

fn unregistered(mfa_type: MfaType) -> User {
    User {
        mfa_type,
        mfa_status: MfaStatus::Unregistered,
        password_hash: Some(crate::domain::password::DECOY_HASH.to_owned()),
        ..admin()
    }
}

fn signing_app() -> MemoryApp {
    let mut app = memory_app(|_| {});
    app.app = app.app.with_signer(std::sync::Arc::new(
        crate::adapters::memory::MemorySigner::from_seed("k", [3; 32]).expect("a key"),
    ));
    app
}

fn pre_auth(path: &str, user: &User, body: Value) -> lambda_http::Request {
    event_with(
        "POST",
        path,
        json!({}),
        &[],
        &[],
        Some(body),
        pre_auth_context(user),
    )
}

fn anonymous(path: &str, body: Value) -> lambda_http::Request {
    event_with("POST", path, json!({}), &[], &[], Some(body), Map::new())
}

fn last_sms(app: &MemoryApp) -> String {
    match app.messenger.outbox().last() {
        Some(Delivered::Sms { text, .. }) => text
            .split(|c: char| !c.is_ascii_digit())
            .find(|word| word.len() == 6)
            .expect("a code")
            .to_owned(),
        other => panic!("no SMS: {other:?}"),
    }
}

async fn stored(app: &MemoryApp, user: &User) -> User {
    app.store
        .get_user(&user.id)
        .await
        .expect("read")
        .expect("user")
}

#[tokio::test]
async fn an_sms_factor_is_registered_with_the_code_sent_to_the_number_and_completes_the_sign_in() {
    let app = signing_app();
    let user = unregistered(MfaType::Sms);
    app.store.create_user(&user).await.unwrap();

    let registered =
        super::register_mfa(&app.app, pre_auth("/v1/mfa/register", &user, json!({}))).await;
    assert_eq!(registered.status(), 200, "{:?}", body(&registered));
    assert_eq!(body(&registered), json!({"mfaType": "SMS"}));
    match app.messenger.outbox().as_slice() {
        [Delivered::Sms { to, text }] => {
            assert_eq!(to, &user.sms_number);
            assert!(
                text.starts_with("Your code to register this number"),
                "{text}"
            );
        }
        other => panic!("{other:?}"),
    }
    let code = last_sms(&app);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let refused = super::confirm_mfa(
        &app.app,
        pre_auth("/v1/mfa/register/confirm", &user, json!({"otp": wrong})),
    )
    .await;
    assert_eq!(refused.status(), 400);
    assert_eq!(body(&refused)["errors"][0]["location"], "otp");
    assert_eq!(
        stored(&app, &user).await.mfa_status,
        MfaStatus::Unregistered
    );

    let confirmed = super::confirm_mfa(
        &app.app,
        pre_auth("/v1/mfa/register/confirm", &user, json!({"otp": code})),
    )
    .await;
    assert_eq!(confirmed.status(), 200, "{:?}", body(&confirmed));
    let answer = body(&confirmed);
    assert_eq!(
        answer["user_info"]["mfa_details"],
        json!({"mfa_type": "SMS", "verified": true})
    );
    assert!(answer["access_token"].is_string() && answer["refresh_token"].is_string());
    assert_eq!(stored(&app, &user).await.mfa_status, MfaStatus::Registered);

    let again = super::register_mfa(&app.app, pre_auth("/v1/mfa/register", &user, json!({}))).await;
    assert_eq!(
        again.status(),
        403,
        "a registered factor is not registered again"
    );
}

#[tokio::test]
async fn a_totp_factor_is_registered_sealed_then_signs_in_each_code_once() {
    let app = signing_app();
    let user = unregistered(MfaType::Totp);
    app.store.create_user(&user).await.unwrap();

    let registered =
        super::register_mfa(&app.app, pre_auth("/v1/mfa/register", &user, json!({}))).await;
    assert_eq!(registered.status(), 200, "{:?}", body(&registered));
    let answer = body(&registered);
    let base32 = answer["secret"].as_str().expect("a secret").to_owned();
    let uri = answer["otpauthUri"].as_str().expect("a URI");
    assert!(uri.starts_with("otpauth://totp/") && uri.contains(&format!("secret={base32}")));
    assert!(
        uri.contains(&user.email.as_str().replace('@', "%40")),
        "{uri}"
    );
    assert!(uri.contains("issuer="), "{uri}");
    let pending = stored(&app, &user).await;
    let sealed = pending.totp.pending.clone().expect("a pending secret");
    assert!(
        !format!("{pending:?}").contains(&base32),
        "never stored in clear"
    );
    assert!(!sealed.contains(&base32));

    let secret = TotpSecret::from_base32(&base32).expect("base32");
    let now = OffsetDateTime::now_utc();
    let code = secret.code_at(now);
    let confirmed = super::confirm_mfa(
        &app.app,
        pre_auth("/v1/mfa/register/confirm", &user, json!({"otp": code})),
    )
    .await;
    assert_eq!(confirmed.status(), 200, "{:?}", body(&confirmed));
    let registered = stored(&app, &user).await;
    assert_eq!(registered.mfa_status, MfaStatus::Registered);
    assert_eq!(registered.totp.secret.as_deref(), Some(sealed.as_str()));
    assert!(registered.totp.pending.is_none());

    let validate = |otp: String| {
        super::super::validate_access_token(
            &app.app,
            pre_auth("/v1/validate", &user, json!({"otp": otp})),
        )
    };
    assert_eq!(
        validate(code.clone()).await.status(),
        401,
        "a code works once"
    );
    let next = secret.code_at(now + time::Duration::seconds(30));
    let signed_in = validate(next).await;
    assert_eq!(signed_in.status(), 200, "{:?}", body(&signed_in));
    assert_eq!(
        body(&signed_in)["user_info"]["mfa_details"],
        json!({"mfa_type": "TOTP", "verified": true})
    );
    for _ in 0..5 {
        assert_eq!(validate("000000".into()).await.status(), 401);
    }
    let later = secret.code_at(now + time::Duration::seconds(60));
    assert_eq!(
        validate(later).await.status(),
        401,
        "five wrong codes: refused for a while"
    );
}

#[tokio::test]
async fn the_mfa_registration_link_registers_once_without_signing_in() {
    let app = memory_app(|config| config.resend_cooldown = time::Duration::ZERO);
    let caller = admin();
    let user = admin();
    app.store.create_user(&user).await.unwrap();
    let unregister = event(
        "POST",
        "/v2/users/{userId}/mfa/unregister",
        json!({"userId": user.id.to_string()}),
        &[],
        Some(json!({"mfaType": "TOTP"})),
        &caller,
        Map::new(),
    );
    let unregistered = super::super::unregister_mfa(&app.app, unregister).await;
    assert_eq!(unregistered.status(), 204, "{:?}", body(&unregistered));
    let link = app
        .messenger
        .outbox()
        .iter()
        .find_map(|sent| match sent {
            Delivered::Email { message, .. } => message
                .text
                .split_whitespace()
                .find_map(|word| word.split_once("?token=").map(|(_, t)| t.to_owned())),
            _ => None,
        })
        .expect("the MFA-registration link");

    let registered = super::register_mfa(
        &app.app,
        anonymous("/v1/mfa/register", json!({"token": link})),
    )
    .await;
    assert_eq!(registered.status(), 200, "{:?}", body(&registered));
    let secret = TotpSecret::from_base32(body(&registered)["secret"].as_str().expect("a secret"))
        .expect("base32");
    let code = secret.code_at(OffsetDateTime::now_utc());
    let confirmed = super::confirm_mfa(
        &app.app,
        anonymous(
            "/v1/mfa/register/confirm",
            json!({"otp": code, "token": link}),
        ),
    )
    .await;
    assert_eq!(confirmed.status(), 204, "{:?}", body(&confirmed));
    assert_eq!(stored(&app, &user).await.mfa_status, MfaStatus::Registered);
    let token = app
        .store
        .get_token(&Subject::User(user.id), TokenPurpose::MfaRegistration)
        .await
        .unwrap()
        .unwrap();
    assert!(token.consumed, "the link is consumed with the registration");
    let again = super::register_mfa(
        &app.app,
        anonymous("/v1/mfa/register", json!({"token": link})),
    )
    .await;
    assert_eq!(again.status(), 400);
    assert_eq!(body(&again)["errors"][0]["location"], "token");
    let nobody = super::register_mfa(&app.app, anonymous("/v1/mfa/register", json!({}))).await;
    assert_eq!(nobody.status(), 401);
}
