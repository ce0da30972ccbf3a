//! Redeeming what the service sends, through the local gateway and the real function binaries: an invitation link
//! accepted and then a first sign-in, a link that works once under fifty concurrent tries, a resend that revokes the
//! old link, and a password reset that works once and ends every session.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

use api_tests::{call, shared_stack, unique_email};
#[allow(unused_imports)]
use api_tests::{
    DeviceStore as _, SessionStore as _, StoreWidget as _, TokenStore as _, UserStore as _,
};
use local_stack::emulator::outbox;
use local_stack::stack::SEED_ADMIN_ID;
use time::OffsetDateTime;
use user_token_domain::domain::token::{Subject, TokenPurpose};
use user_token_domain::domain::totp::TotpSecret;
use user_token_domain::domain::{
    password, MfaType, Principal, Role, User, UserId, UserStatus, UserType,
};
use user_token_domain::doors::velo;

const FIRST: &str = "quiet lanterns over the harbour 1906";
const SECOND: &str = "a heron waits where the tide turns 77";
const ENTITY: &str = "7fffa261-ac68-49e6-b605-d24a444d9206";

/// A number no other test sends to, so that its codes are this test's.
fn unique_number() -> String {
    format!("+4420{:08}", uuid::Uuid::new_v4().as_u128() % 100_000_000)
}

fn admin_token() -> String {
    shared_stack().token_for(SEED_ADMIN_ID.parse().expect("seed id"))
}

/// Invites an SMS payor admin through the gateway: its id.
async fn invite(email: &str, number: &str) -> UserId {
    invite_with(email, number, "SMS").await
}

async fn invite_with(email: &str, number: &str, mfa_type: &str) -> UserId {
    let (status, body, _) = call(
        Method::POST,
        "/v2/users/invite",
        Some(&admin_token()),
        Some(json!({
            "email": email,
            "mfaType": mfa_type,
            "smsNumber": number,
            "primaryContactNumber": number,
            "roles": ["velo.payor.admin"],
            "firstName": "Grace",
            "lastName": "Hopper",
            "entityId": ENTITY
        })),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    store()
        .await
        .store
        .find_user_by_email_with_token(&email.parse().expect("email"), TokenPurpose::Invitation)
        .await
        .expect("read")
        .0
        .expect("the invited user")
        .id
}

async fn store() -> user_token_domain::engine::App {
    api_tests::app(&shared_stack().table).await
}

/// The tokens of the links that went to `email` (`?token=…`), oldest first.
async fn links(email: &str) -> Vec<String> {
    outbox(&api_tests::endpoint())
        .await
        .expect("outbox")
        .link_tokens_to(email)
}

/// The sign-in codes that went to `number`, oldest first.
async fn sign_in_codes(number: &str) -> Vec<String> {
    let sent = outbox(&api_tests::endpoint()).await.expect("outbox");
    sent.sms_to(number)
        .iter()
        .filter_map(|sms| sms.message.strip_prefix("Your sign-in code is "))
        .map(|rest| rest.chars().take(6).collect())
        .collect()
}

async fn post(path: &str, body: Value) -> (StatusCode, Value) {
    let (status, body, _) = call(Method::POST, path, None, Some(body)).await;
    (status, body)
}

fn location(body: &Value) -> &Value {
    &body["errors"][0]["location"]
}

async fn authenticate(query: &str, email: &str, secret: &str) -> (StatusCode, Value) {
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{email}:{secret}"));
    let response = reqwest::Client::new()
        .post(format!(
            "{}/v1/authenticate?{query}",
            shared_stack().base_url
        ))
        .header("authorization", format!("Basic {basic}"))
        .send()
        .await
        .expect("the gateway answers");
    let status = response.status();
    let text = response.text().await.expect("a body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Password, then the SMS code that went to `number`: the `AccessTokenResponse`.
async fn sign_in(email: &str, secret: &str, number: &str) -> Value {
    let before = sign_in_codes(number).await.len();
    let (status, pre_auth) = authenticate("grant_type=password", email, secret).await;
    assert_eq!(status, StatusCode::OK, "{pre_auth}");
    let codes = sign_in_codes(number).await;
    assert_eq!(codes.len(), before + 1, "one sign-in code went out");
    let (status, signed_in, _) = call(
        Method::POST,
        "/v1/validate",
        pre_auth["access_token"].as_str(),
        Some(json!({ "otp": codes[before] })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{signed_in}");
    signed_in
}

#[tokio::test]
async fn an_invited_user_accepts_the_emailed_link_then_its_password_signs_in() {
    let (email, number) = (unique_email(), unique_number());
    let id = invite(&email, &number).await;
    let sent = links(&email).await;
    assert_eq!(sent.len(), 1, "one invitation email");

    let (status, weak) = post(
        "/v1/invitations/accept",
        json!({"token": sent[0], "password": email}),
    )
    .await;
    assert_eq!(
        (status, location(&weak)),
        (StatusCode::BAD_REQUEST, &json!("password")),
        "{weak}"
    );
    let (status, body) = post(
        "/v1/invitations/accept",
        json!({"token": sent[0], "password": FIRST}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    let app = store().await;
    let (user, token) = app
        .store
        .get_user_with_token(&id, TokenPurpose::Invitation)
        .await
        .expect("read");
    let user = user.expect("the user");
    assert_eq!(user.status, UserStatus::Enabled);
    assert!(password::matches(
        FIRST,
        user.password_hash.as_deref().expect("a hash")
    ));
    assert!(
        token.expect("the token").consumed,
        "consumed with the change"
    );

    // The password now signs in, to the first step: a PRE_AUTH token to register a factor with (see `lifecycle`).
    let (status, pre_auth) = authenticate("grant_type=password", &email, FIRST).await;
    assert_eq!(status, StatusCode::OK, "{pre_auth}");
    let claims = pre_auth["access_token"]
        .as_str()
        .and_then(|token| token.split('.').nth(1))
        .and_then(|payload| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .ok()
        })
        .and_then(|json| serde_json::from_slice::<Value>(&json).ok())
        .expect("a JWT");
    assert_eq!(
        (claims["sub"].as_str(), claims["auth"].as_str()),
        (Some(id.to_string().as_str()), Some("PRE_AUTH"))
    );
    assert!(
        sign_in_codes(&number).await.is_empty(),
        "no factor registered: no sign-in code"
    );

    let (status, again) = post(
        "/v1/invitations/accept",
        json!({"token": sent[0], "password": SECOND}),
    )
    .await;
    assert_eq!(
        (status, location(&again)),
        (StatusCode::BAD_REQUEST, &json!("token")),
        "{again}"
    );
}

#[tokio::test]
async fn fifty_concurrent_accepts_of_one_link_enable_the_user_once() {
    let (email, number) = (unique_email(), unique_number());
    let id = invite(&email, &number).await;
    let link = links(&email).await.remove(0);
    let tries = (0..50).map(|i| {
        let link = link.clone();
        tokio::spawn(async move {
            post(
                "/v1/invitations/accept",
                json!({"token": link, "password": format!("{FIRST} {i}")}),
            )
            .await
        })
    });
    let mut accepted = Vec::new();
    for answer in futures_util::future::join_all(tries).await {
        let (status, body) = answer.expect("a try");
        match status {
            StatusCode::NO_CONTENT => accepted.push(()),
            StatusCode::BAD_REQUEST => assert_eq!(location(&body), &json!("token"), "{body}"),
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(accepted.len(), 1, "exactly one accept");
    let user = store()
        .await
        .store
        .get_user(&id)
        .await
        .expect("read")
        .expect("user");
    assert_eq!(user.status, UserStatus::Enabled);
    assert_eq!(user.version, 2, "one write to the user");
    assert!(user.password_history.is_empty());
}

#[tokio::test]
async fn a_resent_invitation_revokes_the_old_link() {
    let (email, number) = (unique_email(), unique_number());
    let id = invite(&email, &number).await;
    let app = api_tests::app_with(&shared_stack().table, |config| {
        config.resend_cooldown = time::Duration::ZERO
    })
    .await;
    let seeded_admin = app
        .store
        .get_user(&SEED_ADMIN_ID.parse().expect("seed id"))
        .await
        .expect("read")
        .expect("the seeded admin");
    velo::resend(
        &app,
        &Principal {
            user_id: seeded_admin.id,
            roles: seeded_admin.roles.clone(),
            entity_id: seeded_admin.entity_id,
            user_type: seeded_admin.user_type,
            account_keys: Vec::new(),
        },
        id,
        serde_json::from_value(json!({"tokenType": "INVITE_MFA_USER"})).expect("a resend"),
    )
    .await
    .expect("resent");
    let sent = links(&email).await;
    assert_eq!(sent.len(), 2);
    let (status, old) = post(
        "/v1/invitations/accept",
        json!({"token": sent[0], "password": FIRST}),
    )
    .await;
    assert_eq!(
        (status, location(&old)),
        (StatusCode::BAD_REQUEST, &json!("token")),
        "{old}"
    );
    let (status, body) = post(
        "/v1/invitations/accept",
        json!({"token": sent[1], "password": FIRST}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}

/// An ENABLED SMS user with the password `FIRST`, stored directly.
async fn enabled_user(number: &str) -> User {
    let user = User {
        mfa_type: MfaType::Sms,
        sms_number: number.parse().expect("number"),
        primary_contact_number: number.parse().expect("number"),
        password_hash: Some(
            password::hash(&FIRST.to_owned().try_into().expect("a password")).expect("hash"),
        ),
        ..api_tests::user(
            &unique_email(),
            UserType::Payor,
            Some(ENTITY),
            &[Role::PayorAdmin],
        )
    };
    store()
        .await
        .store
        .create_user(&user)
        .await
        .expect("stored");
    user
}

#[tokio::test]
async fn a_reset_link_works_once_clears_the_lock_out_and_ends_every_session() {
    let number = unique_number();
    let user = enabled_user(&number).await;
    let email = user.email.as_str().to_owned();
    let session = sign_in(&email, FIRST, &number).await;
    for _ in 0..password::LOCK_AFTER_FAILURES {
        let (status, _) =
            authenticate("grant_type=password", &email, "not the password at all").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let locked = store()
        .await
        .store
        .get_user(&user.id)
        .await
        .expect("read")
        .expect("user");
    assert!(locked.locked_out);

    let (status, body) = post("/v1/password/reset", json!({ "email": email })).await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    let sent = links(&email).await;
    assert_eq!(sent.len(), 1, "one reset email");
    let (status, reused) = post(
        "/v1/password/reset/confirm",
        json!({"token": sent[0], "password": FIRST}),
    )
    .await;
    assert_eq!(
        (status, location(&reused)),
        (StatusCode::BAD_REQUEST, &json!("password")),
        "the current password is history: {reused}"
    );
    let (status, body) = post(
        "/v1/password/reset/confirm",
        json!({"token": sent[0], "password": SECOND}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    let (status, _, _) = call(
        Method::GET,
        "/v2/users/self",
        session["access_token"].as_str(),
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the old session's access token is refused"
    );
    let refresh = session["refresh_token"].as_str().expect("a refresh token");
    let response = reqwest::Client::new()
        .post(format!(
            "{}/v1/authenticate?grant_type=refresh_token&refresh_token={refresh}",
            shared_stack().base_url
        ))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "and its refresh token"
    );
    let (status, again) = post(
        "/v1/password/reset/confirm",
        json!({"token": sent[0], "password": "the third password in a row 42"}),
    )
    .await;
    assert_eq!(
        (status, location(&again)),
        (StatusCode::BAD_REQUEST, &json!("token")),
        "{again}"
    );

    let (status, _) = authenticate("grant_type=password", &email, FIRST).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the old password is gone");
    let fresh = sign_in(&email, SECOND, &number).await;
    let (status, me, _) = call(
        Method::GET,
        "/v2/users/self",
        fresh["access_token"].as_str(),
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a session opened after the reset works at once: {me}"
    );
    let after = store()
        .await
        .store
        .get_user(&user.id)
        .await
        .expect("read")
        .expect("user");
    assert!(!after.locked_out, "the lock-out is cleared");
}

/// Status, headers (but the request's own id and date) and body bytes of one reset request.
async fn raw_reset(email: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/password/reset", shared_stack().base_url))
        .json(&json!({ "email": email }))
        .send()
        .await
        .expect("the gateway answers");
    let status = response.status().as_u16();
    let mut headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter(|(name, _)| {
            !["date", "apigw-requestid", "x-amzn-requestid"].contains(&name.as_str())
        })
        .map(|(name, value)| {
            (
                name.to_string(),
                value.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    headers.sort();
    let body = response.bytes().await.expect("a body").to_vec();
    (status, headers, body)
}

#[tokio::test]
async fn a_reset_for_an_unknown_email_answers_byte_for_byte_as_for_a_real_one() {
    let user = enabled_user(&unique_number()).await;
    let real = raw_reset(user.email.as_str()).await;
    let unknown = raw_reset(&unique_email()).await;
    assert_eq!(real.0, 204);
    assert_eq!(real, unknown);
    // The real one was sent its link; asking again inside the cooldown sends nothing more, and answers the same.
    assert_eq!(links(user.email.as_str()).await.len(), 1);
    assert_eq!(raw_reset(user.email.as_str()).await, unknown);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(links(user.email.as_str()).await.len(), 1);
    let token = store()
        .await
        .store
        .get_token(&Subject::User(user.id), TokenPurpose::PasswordReset)
        .await
        .expect("read")
        .expect("the reset token");
    assert!(!token.consumed && token.version == 1);
}

/// The codes that went to `number` to register it, oldest first.
async fn enrolment_codes(number: &str) -> Vec<String> {
    let sent = outbox(&api_tests::endpoint()).await.expect("outbox");
    sent.sms_to(number)
        .iter()
        .filter_map(|sms| {
            sms.message
                .strip_prefix("Your code to register this number for sign-in is ")
        })
        .map(|rest| rest.chars().take(6).collect())
        .collect()
}

/// Invite, accept, first sign-in, register the factor, confirm: the confirmation's `AccessTokenResponse` reads
/// the user as ENABLED and REGISTERED; then sign out, and sign in again with the factor.
async fn lifecycle(mfa_type: &str) {
    let (email, number) = (unique_email(), unique_number());
    let id = invite_with(&email, &number, mfa_type).await;
    let link = links(&email).await.remove(0);
    let (status, body) = post(
        "/v1/invitations/accept",
        json!({"token": link, "password": FIRST}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    let (status, pre_auth) = authenticate("grant_type=password", &email, FIRST).await;
    assert_eq!(status, StatusCode::OK, "{pre_auth}");
    assert!(
        sign_in_codes(&number).await.is_empty(),
        "no factor yet: no sign-in code"
    );
    let pre_auth = pre_auth["access_token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let (status, registration, _) = call(
        Method::POST,
        "/v1/mfa/register",
        Some(&pre_auth),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{registration}");
    assert_eq!(registration["mfaType"], mfa_type);
    let totp = registration["secret"]
        .as_str()
        .map(|base32| TotpSecret::from_base32(base32).expect("base32"));
    let code = match &totp {
        Some(secret) => {
            let uri = registration["otpauthUri"].as_str().expect("a URI");
            assert!(uri.contains(&email.replace('@', "%40")), "{uri}");
            secret.code_at(OffsetDateTime::now_utc())
        }
        None => {
            let codes = enrolment_codes(&number).await;
            assert_eq!(codes.len(), 1, "one code went to the number");
            codes[0].clone()
        }
    };
    let (status, signed_in, _) = call(
        Method::POST,
        "/v1/mfa/register/confirm",
        Some(&pre_auth),
        Some(json!({ "otp": code })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{signed_in}");
    assert_eq!(
        signed_in["user_info"]["mfa_details"],
        json!({"mfa_type": mfa_type, "verified": true})
    );
    let access = signed_in["access_token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let (status, me, _) = call(Method::GET, "/v2/users/self", Some(&access), None).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(
        (
            me["id"].as_str(),
            me["status"].as_str(),
            me["mfaStatus"].as_str()
        ),
        (
            Some(id.to_string().as_str()),
            Some("ENABLED"),
            Some("REGISTERED")
        )
    );
    let stored = store()
        .await
        .store
        .get_user(&id)
        .await
        .expect("read")
        .expect("user");
    if let Some(secret) = &totp {
        let sealed = stored.totp.secret.clone().expect("the sealed secret");
        assert!(!sealed.contains(&secret.base32()), "never in clear");
    }

    let (status, _, _) = call(Method::POST, "/v1/logout", Some(&access), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = call(Method::GET, "/v2/users/self", Some(&access), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "signed out");

    let again = match &totp {
        Some(secret) => {
            let (status, pre_auth) = authenticate("grant_type=password", &email, FIRST).await;
            assert_eq!(status, StatusCode::OK, "{pre_auth}");
            // The step just used is spent: the next one's code, inside the one step of drift allowed.
            let next = secret.code_at(OffsetDateTime::now_utc() + time::Duration::seconds(30));
            let (status, answer, _) = call(
                Method::POST,
                "/v1/validate",
                pre_auth["access_token"].as_str(),
                Some(json!({ "otp": next })),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{answer}");
            answer
        }
        None => sign_in(&email, FIRST, &number).await,
    };
    let (status, me, _) = call(
        Method::GET,
        "/v2/users/self",
        again["access_token"].as_str(),
        None,
    )
    .await;
    assert_eq!(
        (status, me["mfaStatus"].as_str()),
        (StatusCode::OK, Some("REGISTERED")),
        "{me}"
    );
}

#[tokio::test]
async fn invite_accept_sign_in_register_sms_then_sign_in_again_with_the_sms_code() {
    lifecycle("SMS").await;
}

#[tokio::test]
async fn invite_accept_sign_in_register_totp_then_sign_in_again_with_a_totp_code() {
    lifecycle("TOTP").await;
}
