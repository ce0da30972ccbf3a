//! The Login API on the in-memory adapters, with the authorizer judging the tokens it issues.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{json, Map, Value};
use std::sync::Arc;

use crate::adapters::memory::{Delivered, MemorySigner};
use crate::domain::{password, MfaType, User};
use crate::doors::authorizer::{decide, jwt::TokenVerifier};
use crate::doors::authz::{pre_auth_context, SESSION_ID};
use crate::ports::{TokenSigner, UserStore};
use crate::testing::{admin, body, event, event_with, memory_app, MemoryApp};

const PASSWORD: &str = "harbour lights at dusk 1906";

struct SignIn {
    app: MemoryApp,
    user: User,
    verifier: TokenVerifier,
}

fn signer(seed: u8) -> Arc<MemorySigner> {
    match MemorySigner::from_seed("test-key", [seed; 32]) {
        Ok(signer) => Arc::new(signer),
        Err(error) => panic!("{error}"),
    }
}

/// An app that signs with an in-memory key, an SMS admin with `PASSWORD`, and the authorizer's verifier.
async fn sign_in_app() -> SignIn {
    let mut app = memory_app(|_| {});
    let key = signer(7);
    app.app = app.app.with_signer(key.clone());
    let hash = password::hash(&PASSWORD.to_owned().try_into().expect("a password")).expect("hash");
    let user = User {
        mfa_type: MfaType::Sms,
        password_hash: Some(hash),
        ..admin()
    };
    app.store.create_user(&user).await.expect("seeded");
    let keys = key.public_keys().await.expect("public keys");
    let verifier = TokenVerifier::new(&app.app.config.jwt, &keys).expect("a verifier");
    SignIn {
        app,
        user,
        verifier,
    }
}

fn basic(name: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{name}:{secret}")))
}

fn authenticate_event(query: &[(&str, &str)], authorization: Option<&str>) -> lambda_http::Request {
    let headers: Vec<(&str, &str)> = authorization
        .map(|value| ("authorization", value))
        .into_iter()
        .collect();
    event_with(
        "POST",
        "/v1/authenticate",
        json!({}),
        query,
        &headers,
        None,
        Map::new(),
    )
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON")
}

fn last_code(app: &MemoryApp) -> String {
    let outbox = app.messenger.outbox();
    let Some(Delivered::Sms { text, .. }) = outbox.last() else {
        panic!("no SMS went out: {outbox:?}")
    };
    text.split_whitespace()
        .map(|word| word.trim_end_matches('.'))
        .find(|word| word.len() == 6 && word.chars().all(|c| c.is_ascii_digit()))
        .expect("a six-digit code")
        .to_owned()
}

impl SignIn {
    async fn password(&self, secret: &str) -> lambda_http::Response<lambda_http::Body> {
        let email = self.user.email.as_str().to_owned();
        super::authenticate(
            &self.app.app,
            authenticate_event(&[("grant_type", "password")], Some(&basic(&email, secret))),
        )
        .await
    }

    async fn validate(&self, otp: &str) -> lambda_http::Response<lambda_http::Body> {
        super::validate_access_token(
            &self.app.app,
            event_with(
                "POST",
                "/v1/validate",
                json!({}),
                &[],
                &[],
                Some(json!({ "otp": otp })),
                pre_auth_context(&self.user),
            ),
        )
        .await
    }

    async fn refresh(&self, refresh_token: &str) -> lambda_http::Response<lambda_http::Body> {
        super::authenticate(
            &self.app.app,
            authenticate_event(
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh_token),
                ],
                None,
            ),
        )
        .await
    }

    /// The authorizer's verdict on a bearer token.
    async fn verdict(&self, token: &str) -> Map<String, Value> {
        let bearer = format!("Bearer {token}");
        decide(&self.verifier, self.app.app.store.as_ref(), Some(&bearer))
            .await
            .1
    }

    /// Signs in with the password and the SMS code: the validate answer.
    async fn signed_in(&self) -> Value {
        assert_eq!(self.password(PASSWORD).await.status(), 200);
        let response = self.validate(&last_code(&self.app)).await;
        assert_eq!(response.status(), 200, "{:?}", body(&response));
        body(&response)
    }
}

#[tokio::test]
async fn a_password_earns_a_pre_auth_token_and_an_sms_code_and_the_code_a_session() {
    let sign_in = sign_in_app().await;
    let response = sign_in.password(PASSWORD).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["pragma"], "no-cache");
    let answer = body(&response);
    assert_eq!(answer["token_type"], "bearer");
    assert_eq!(answer["expires_in"], 300);
    assert_eq!(answer["entityIds"], json!([]));
    assert!(answer.get("refresh_token").is_none(), "{answer}");
    let pre_auth = answer["access_token"].as_str().expect("a token").to_owned();
    assert_eq!(claims(&pre_auth)["auth"], "PRE_AUTH");
    assert_eq!(claims(&pre_auth)["sub"], sign_in.user.id.to_string());
    assert_eq!(sign_in.verdict(&pre_auth).await["authStatus"], "pre_auth");

    match sign_in.app.messenger.outbox().as_slice() {
        [Delivered::Sms { to, text }] => {
            assert_eq!(to, &sign_in.user.sms_number);
            assert!(text.starts_with("Your sign-in code is "), "{text}");
        }
        other => panic!("one SMS: {other:?}"),
    }
    let wrong = sign_in.validate("000000").await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(body(&wrong)["errors"][0]["errorCode"], "40110001");

    let response = sign_in.validate(&last_code(&sign_in.app)).await;
    assert_eq!(response.status(), 200);
    let answer = body(&response);
    assert_eq!(answer["token_type"], "bearer");
    assert_eq!(answer["expires_in"], 1800);
    assert_eq!(answer["user_info"]["user_id"], sign_in.user.id.to_string());
    assert_eq!(answer["user_info"]["userType"], "BACKOFFICE");
    assert_eq!(
        answer["user_info"]["mfa_details"],
        json!({"mfa_type": "SMS", "verified": true})
    );
    let access = answer["access_token"].as_str().expect("a token");
    let session = claims(access)["sid"].clone();
    assert!(session.is_string(), "{}", claims(access));
    assert!(claims(access).get("auth").is_none());
    let verdict = sign_in.verdict(access).await;
    assert_eq!(verdict["authStatus"], "authenticated");
    assert_eq!(verdict[SESSION_ID], session);

    let again = sign_in.validate(&last_code(&sign_in.app)).await;
    assert_eq!(again.status(), 401, "a code opens one session only");
}

#[tokio::test]
async fn logins_inside_the_cooldown_send_no_second_code_and_the_first_code_stands() {
    let sign_in = sign_in_app().await;
    for _ in 0..3 {
        assert_eq!(sign_in.password(PASSWORD).await.status(), 200);
    }
    assert_eq!(sign_in.app.messenger.outbox().len(), 1);
    let response = sign_in.validate(&last_code(&sign_in.app)).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_refresh_token_rotates_once_and_a_replay_ends_the_whole_session() {
    let sign_in = sign_in_app().await;
    let first = sign_in.signed_in().await;
    let first_refresh = first["refresh_token"].as_str().expect("a refresh token");

    let response = sign_in.refresh(first_refresh).await;
    assert_eq!(response.status(), 200);
    let second = body(&response);
    let second_refresh = second["refresh_token"].as_str().expect("rotated");
    assert_ne!(second_refresh, first_refresh);
    let second_access = second["access_token"].as_str().expect("a token");
    assert_eq!(
        claims(second_access)["sid"],
        claims(first["access_token"].as_str().expect("a token"))["sid"]
    );
    assert_eq!(
        sign_in.verdict(second_access).await["authStatus"],
        "authenticated"
    );

    let replay = sign_in.refresh(first_refresh).await;
    assert_eq!(replay.status(), 401);
    assert_eq!(sign_in.refresh(second_refresh).await.status(), 401);
    assert_eq!(
        sign_in.verdict(second_access).await["authStatus"],
        "rejected"
    );
    assert_eq!(
        sign_in.refresh("not-a-refresh-token").await.status(),
        401,
        "garbage is refused like a used token"
    );
}

#[tokio::test]
async fn logout_ends_the_session_of_the_token_and_its_refresh_token() {
    let sign_in = sign_in_app().await;
    let answer = sign_in.signed_in().await;
    let access = answer["access_token"].as_str().expect("a token");
    let context = sign_in.verdict(access).await;
    let request = event_with("POST", "/v1/logout", json!({}), &[], &[], None, context);
    let response = super::logout(&sign_in.app.app, request).await;
    assert_eq!(response.status(), 204);
    assert_eq!(sign_in.verdict(access).await["authStatus"], "rejected");
    let refresh = answer["refresh_token"].as_str().expect("a refresh token");
    assert_eq!(sign_in.refresh(refresh).await.status(), 401);
}

#[tokio::test]
async fn five_wrong_passwords_lock_the_user_and_unlock_restores_sign_in() {
    let sign_in = sign_in_app().await;
    let signed_in = sign_in.signed_in().await;
    let access = signed_in["access_token"]
        .as_str()
        .expect("a token")
        .to_owned();
    for attempt in 1..=5 {
        let response = sign_in.password("a wrong password, surely").await;
        assert_eq!(response.status(), 401, "attempt {attempt}");
    }
    let user = sign_in
        .app
        .store
        .get_user(&sign_in.user.id)
        .await
        .expect("read")
        .expect("the user");
    assert!(user.locked_out);
    assert!(user.locked_out_timestamp.is_some());
    assert_eq!(sign_in.password(PASSWORD).await.status(), 401, "locked");
    assert_eq!(
        sign_in.verdict(&access).await["authStatus"],
        "rejected",
        "a locked user's sessions end"
    );

    let backoffice = admin();
    let unlock = event(
        "POST",
        &format!("/v2/users/{}/unlock", sign_in.user.id),
        json!({ "userId": sign_in.user.id.to_string() }),
        &[],
        None,
        &backoffice,
        Map::new(),
    );
    assert_eq!(
        crate::doors::velo::unlock_user(&sign_in.app.app, unlock)
            .await
            .status(),
        204
    );
    assert_eq!(sign_in.password(PASSWORD).await.status(), 200);
}

/// An admin's `POST /v2/users/{id}/unlock` of the signed-in user.
async fn unlocked_by_an_admin(sign_in: &SignIn) {
    let unlock = event(
        "POST",
        &format!("/v2/users/{}/unlock", sign_in.user.id),
        json!({ "userId": sign_in.user.id.to_string() }),
        &[],
        None,
        &admin(),
        Map::new(),
    );
    let response = crate::doors::velo::unlock_user(&sign_in.app.app, unlock).await;
    assert_eq!(response.status(), 204);
}

#[tokio::test]
async fn a_lock_out_by_sign_in_ends_the_users_sessions_for_good_not_only_while_locked() {
    let sign_in = sign_in_app().await;
    let signed_in = sign_in.signed_in().await;
    let access = signed_in["access_token"].as_str().expect("a token");
    let refresh = signed_in["refresh_token"]
        .as_str()
        .expect("a refresh token");
    for attempt in 1..=5 {
        let response = sign_in.password("a wrong password, surely").await;
        assert_eq!(response.status(), 401, "attempt {attempt}");
    }
    let locked = sign_in
        .app
        .store
        .get_user(&sign_in.user.id)
        .await
        .expect("read")
        .expect("the user");
    assert!(locked.locked_out);
    assert!(locked.locked_out_timestamp.is_some());
    assert_eq!(
        locked.tokens_valid_after, locked.locked_out_timestamp,
        "the write that locks ends the sessions"
    );

    unlocked_by_an_admin(&sign_in).await;
    assert_eq!(
        sign_in.verdict(access).await["authStatus"],
        "rejected",
        "the session the lock-out ended stays ended after the unlock"
    );
    assert_eq!(sign_in.refresh(refresh).await.status(), 401);
    let again = sign_in.password(PASSWORD).await;
    assert_eq!(again.status(), 200, "the user signs in again");
    let pre_auth = body(&again)["access_token"]
        .as_str()
        .expect("a token")
        .to_owned();
    assert_eq!(sign_in.verdict(&pre_auth).await["authStatus"], "pre_auth");
}

#[tokio::test]
async fn a_lock_out_by_wrong_current_passwords_ends_the_callers_own_sessions() {
    let sign_in = sign_in_app().await;
    let signed_in = sign_in.signed_in().await;
    let access = signed_in["access_token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let context = sign_in.verdict(&access).await;
    assert_eq!(context["authStatus"], "authenticated");
    for attempt in 1..=5 {
        let request = event_with(
            "POST",
            "/v2/users/self/password",
            json!({}),
            &[],
            &[],
            Some(
                json!({"oldPassword": "not the password at all", "newPassword": "a brand new passphrase 2027"}),
            ),
            context.clone(),
        );
        let response = crate::doors::velo::update_password_self(&sign_in.app.app, request).await;
        assert_eq!(
            response.status(),
            400,
            "attempt {attempt}: {:?}",
            body(&response)
        );
        assert_eq!(body(&response)["errors"][0]["location"], "oldPassword");
    }
    assert_eq!(sign_in.verdict(&access).await["authStatus"], "rejected");
    unlocked_by_an_admin(&sign_in).await;
    assert_eq!(
        sign_in.verdict(&access).await["authStatus"],
        "rejected",
        "the session the lock-out ended stays ended after the unlock"
    );
}

#[tokio::test]
async fn an_unknown_email_and_a_wrong_password_get_byte_identical_answers() {
    let sign_in = sign_in_app().await;
    let wrong_password = sign_in.password("not the password at all").await;
    let unknown = super::authenticate(
        &sign_in.app.app,
        authenticate_event(
            &[("grant_type", "password")],
            Some(&basic("nobody@example.com", "not the password at all")),
        ),
    )
    .await;
    let no_credentials = super::authenticate(
        &sign_in.app.app,
        authenticate_event(&[("grant_type", "password")], None),
    )
    .await;
    assert_eq!(wrong_password.status(), 401);
    for other in [&unknown, &no_credentials] {
        assert_eq!(other.status(), wrong_password.status());
        assert_eq!(other.headers(), wrong_password.headers());
        assert_eq!(other.body().as_ref(), wrong_password.body().as_ref());
    }
}

#[tokio::test]
async fn the_jwks_verifies_our_tokens_and_a_token_signed_by_another_key_is_refused() {
    let sign_in = sign_in_app().await;
    let response = super::jwks(
        &sign_in.app.app,
        event_with(
            "GET",
            "/.well-known/jwks.json",
            json!({}),
            &[],
            &[],
            None,
            Map::new(),
        ),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "public, max-age=300");
    let keys = body(&response)["keys"].clone();
    assert_eq!(keys.as_array().map(Vec::len), Some(1));
    assert_eq!(keys[0]["kty"], "EC");
    assert_eq!(keys[0]["crv"], "P-256");
    assert_eq!(keys[0]["alg"], "ES256");
    assert_eq!(keys[0]["kid"], "test-key");

    let answer = sign_in.signed_in().await;
    let access = answer["access_token"].as_str().expect("a token");
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(access.split('.').next().expect("a header"))
            .expect("base64url"),
    )
    .expect("JSON");
    assert_eq!(
        header,
        json!({"alg": "ES256", "typ": "JWT", "kid": "test-key"})
    );

    // The same claims and `kid`, signed by a key that is not ours.
    let forger = signer(9);
    let (signing_input, _) = access.rsplit_once('.').expect("a signing input");
    let signature = forger.sign(signing_input.as_bytes()).await.expect("signed");
    let forged = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature));
    let verdict = sign_in.verdict(&forged).await;
    assert_eq!(verdict["authStatus"], "rejected");
    assert_eq!(
        verdict["authError"],
        "the bearer token signature is invalid"
    );
}

/// A payor admin of a fresh payor, stored.
async fn payor_admin(app: &MemoryApp) -> User {
    let user = User {
        user_type: crate::domain::UserType::Payor,
        entity_id: Some(crate::domain::EntityId::random()),
        roles: vec![crate::domain::Role::PayorAdmin],
        ..admin()
    };
    app.store.create_user(&user).await.expect("stored");
    user
}

/// `POST /v1/payors/{payor}/applications` `{name}` as `caller`.
async fn make_application(
    app: &crate::engine::App,
    payor: &str,
    name: &str,
    caller: &User,
) -> lambda_http::Response<lambda_http::Body> {
    crate::doors::velo::create_application(
        app,
        as_caller(
            "POST",
            &format!("/v1/payors/{payor}/applications"),
            json!({ "payorId": payor }),
            Some(json!({ "name": name })),
            caller,
        ),
    )
    .await
}

fn as_caller(
    method: &str,
    path: &str,
    params: Value,
    body: Option<Value>,
    caller: &User,
) -> lambda_http::Request {
    event(method, path, params, &[], body, caller, Map::new())
}

#[tokio::test]
async fn an_api_key_signs_in_with_client_credentials_acts_on_its_payor_only_and_dies_with_its_deletion(
) {
    let sign_in = sign_in_app().await;
    let app = &sign_in.app.app;
    let owner = payor_admin(&sign_in.app).await;
    let payor = owner.entity_id.expect("a payor").to_string();
    let other_payor_user = payor_admin(&sign_in.app).await;
    let applications = format!("/v1/payors/{payor}/applications");

    let created = make_application(app, &payor, "SAP", &owner).await;
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"]
        .to_str()
        .expect("text")
        .to_owned();
    let application_id = location.rsplit('/').next().expect("an id").to_owned();
    assert_eq!(location, format!("{applications}/{application_id}"));
    let duplicate = make_application(app, &payor, "sap", &owner).await;
    assert_eq!(duplicate.status(), 409);
    let foreign = make_application(app, &payor, "Other", &other_payor_user).await;
    assert_eq!(
        foreign.status(),
        404,
        "another payor's admin learns nothing"
    );

    let keys_path = format!("{applications}/{application_id}/keys");
    let params = json!({"payorId": payor, "applicationId": application_id});
    let key = crate::doors::velo::create_api_key(
        app,
        as_caller(
            "POST",
            &keys_path,
            params.clone(),
            Some(json!({"name": "SAP Key 01", "roles": ["payor.admin"]})),
            &owner,
        ),
    )
    .await;
    assert_eq!(key.status(), 200);
    let key = body(&key);
    let (api_key, api_secret) = (
        key["apiKey"].as_str().expect("apiKey").to_owned(),
        key["apiSecret"].as_str().expect("apiSecret").to_owned(),
    );

    let wrong = super::authenticate(
        app,
        authenticate_event(
            &[("grant_type", "client_credentials")],
            Some(&basic(&api_key, "not-the-secret")),
        ),
    )
    .await;
    assert_eq!(wrong.status(), 401);
    let response = super::authenticate(
        app,
        authenticate_event(&[], Some(&basic(&api_key, &api_secret))),
    )
    .await;
    assert_eq!(
        response.status(),
        200,
        "client_credentials is the default grant"
    );
    let answer = body(&response);
    assert_eq!(answer["entityIds"], json!([payor]));
    assert!(answer.get("refresh_token").is_none());
    let token = answer["access_token"].as_str().expect("a token").to_owned();
    assert_eq!(claims(&token)["auth"], "API_KEY");
    let verdict = sign_in.verdict(&token).await;
    assert_eq!(verdict["authStatus"], "authenticated");
    assert_eq!(verdict["roles"], "velo.payor.admin");
    assert_eq!(verdict["entityId"], payor);

    let listing = crate::doors::velo::list_users(
        app,
        event_with("GET", "/v2/users", json!({}), &[], &[], None, verdict),
    )
    .await;
    assert_eq!(listing.status(), 200);
    let listed: Vec<Value> = body(&listing)["content"]
        .as_array()
        .expect("content")
        .clone();
    assert_eq!(listed.len(), 1, "the payor's one user: {listed:?}");
    assert_eq!(listed[0]["id"], owner.id.to_string());

    let deleted = crate::doors::velo::delete_api_key(
        app,
        as_caller(
            "DELETE",
            &format!("{keys_path}/{api_key}"),
            json!({"payorId": payor, "applicationId": application_id, "apiKey": api_key}),
            None,
            &owner,
        ),
    )
    .await;
    assert_eq!(deleted.status(), 204);
    assert_eq!(
        sign_in.verdict(&token).await["authStatus"],
        "rejected",
        "revoked at once"
    );
    let again = super::authenticate(
        app,
        authenticate_event(&[], Some(&basic(&api_key, &api_secret))),
    )
    .await;
    assert_eq!(again.status(), 401);
}

#[tokio::test]
async fn only_a_payors_admins_manage_its_keys_and_a_key_has_one_payor_role() {
    let sign_in = sign_in_app().await;
    let app = &sign_in.app.app;
    let owner = payor_admin(&sign_in.app).await;
    let payor = owner.entity_id.expect("a payor").to_string();
    let support = User {
        roles: vec![crate::domain::Role::PayorSupport],
        ..payor_admin(&sign_in.app).await
    };
    let support = User {
        entity_id: owner.entity_id,
        email: format!("support-{}@example.com", support.id)
            .parse()
            .expect("email"),
        ..support
    };
    let applications = format!("/v1/payors/{payor}/applications");
    let refused = make_application(app, &payor, "SAP", &support).await;
    assert_eq!(refused.status(), 403);
    let created = make_application(app, &payor, "SAP", &owner).await;
    let location = created.headers()["location"]
        .to_str()
        .expect("text")
        .to_owned();
    let application_id = location.rsplit('/').next().expect("an id").to_owned();
    let params = json!({"payorId": payor, "applicationId": application_id});
    for roles in [
        json!([]),
        json!(["payor.admin", "payor.support"]),
        json!(["backoffice.admin"]),
    ] {
        let response = crate::doors::velo::create_api_key(
            app,
            as_caller(
                "POST",
                &format!("{applications}/{application_id}/keys"),
                params.clone(),
                Some(json!({"name": "key", "roles": roles})),
                &owner,
            ),
        )
        .await;
        assert_eq!(response.status(), 400, "{roles}");
    }
    let unknown_application = crate::doors::velo::create_api_key(
        app,
        as_caller(
            "POST",
            "/v1/payors/x/applications/y/keys",
            json!({"payorId": payor, "applicationId": crate::domain::UserId::random().to_string()}),
            Some(json!({"name": "key", "roles": ["payor.support"]})),
            &owner,
        ),
    )
    .await;
    assert_eq!(unknown_application.status(), 404);
}
