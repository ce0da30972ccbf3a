//! Velo's Login API through the local gateway and the real function binaries, on the emulator's KMS key: sign in
//! with a password and the SMS code that went out, use the token, refresh it, sign out.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use api_tests::{shared_stack, unique_email, user};
#[allow(unused_imports)]
use api_tests::{
    DeviceStore as _, SessionStore as _, StoreWidget as _, TokenStore as _, UserStore as _,
};
use local_stack::emulator::outbox;
use user_token_domain::domain::{password, MfaType, Role, User, UserType};

const PASSWORD: &str = "four quiet lanterns by the weir";

/// An ENABLED payor admin with `PASSWORD` and SMS as its second factor, on its own number.
async fn sms_user() -> User {
    let user = User {
        mfa_type: MfaType::Sms,
        password_hash: Some(
            password::hash(&PASSWORD.to_owned().try_into().expect("a password")).expect("hash"),
        ),
        ..user(
            &unique_email(),
            UserType::Payor,
            Some("0d5f3a3c-7a42-4c1e-9b1e-3f7f4c2a9e10"),
            &[Role::PayorAdmin],
        )
    };
    stored(user).await
}

async fn stored(user: User) -> User {
    api_tests::app(&shared_stack().table)
        .await
        .store
        .create_user(&user)
        .await
        .expect("stored");
    user
}

async fn authenticate(query: &str, basic: Option<(&str, &str)>) -> (StatusCode, String) {
    let mut request = reqwest::Client::new().post(format!(
        "{}/v1/authenticate?{query}",
        shared_stack().base_url
    ));
    if let Some((name, secret)) = basic {
        request = request.header(
            "authorization",
            format!("Basic {}", STANDARD.encode(format!("{name}:{secret}"))),
        );
    }
    let response = request.send().await.expect("the gateway answers");
    let status = response.status();
    (status, response.text().await.expect("a body"))
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| panic!("JSON: {text}"))
}

/// The sign-in codes that went out to `user`'s number, oldest first.
async fn codes(user: &User) -> Vec<String> {
    let sent = outbox(&api_tests::endpoint()).await.expect("outbox");
    sent.sms_to(user.sms_number.as_str())
        .iter()
        .filter_map(|sms| sms.message.strip_prefix("Your sign-in code is "))
        .map(|rest| rest.chars().take(6).collect())
        .collect()
}

/// Runs one of `tests/python/`'s scripts with the suite's Python (`make venv`): its last line of output, as JSON.
async fn python(script: &str, args: &[&str]) -> Value {
    let output = tokio::process::Command::new(api_tests::root().join(".venv/bin/python"))
        .arg(api_tests::root().join("tests/python").join(script))
        .args(args)
        .output()
        .await
        .expect("the suite's Python runs (`make venv`)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{script}: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    json(stdout.lines().last().expect("a summary line"))
}

fn without_correlation_id(mut body: Value) -> Value {
    body["correlationId"] = Value::Null;
    body
}

#[tokio::test]
async fn sign_in_with_a_password_and_the_sms_code_then_refresh_then_sign_out() {
    let user = sms_user().await;
    let email = user.email.as_str().to_owned();

    let (status, text) = authenticate("grant_type=password", Some((&email, PASSWORD))).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let pre_auth = json(&text)["access_token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let (status, _, _) =
        api_tests::call(Method::GET, "/v2/users/self", Some(&pre_auth), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "PRE_AUTH reads nothing");
    let sent = codes(&user).await;
    assert_eq!(sent.len(), 1, "one SMS");

    let (status, wrong, _) = api_tests::call(
        Method::POST,
        "/v1/validate",
        Some(&pre_auth),
        Some(serde_json::json!({"otp": "000000"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{wrong}");
    assert_eq!(wrong["errors"][0]["errorCode"], "40110001");

    let (status, signed_in, _) = api_tests::call(
        Method::POST,
        "/v1/validate",
        Some(&pre_auth),
        Some(serde_json::json!({"otp": sent[0]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{signed_in}");
    assert_eq!(signed_in["expires_in"], 1800);
    assert_eq!(
        signed_in["entityIds"][0],
        "0d5f3a3c-7a42-4c1e-9b1e-3f7f4c2a9e10"
    );
    assert_eq!(signed_in["user_info"]["mfa_details"]["mfa_type"], "SMS");
    let access = signed_in["access_token"].as_str().expect("a token");
    let refresh = signed_in["refresh_token"]
        .as_str()
        .expect("a refresh token");
    let (status, me, _) = api_tests::call(Method::GET, "/v2/users/self", Some(access), None).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["id"], user.id.to_string());

    // The session's item is in the user's partition, with the refresh token's keyed hash only.
    let items = api_tests::partition(&shared_stack().table, &format!("USER#{}", user.id)).await;
    let session = items
        .iter()
        .find(|item| item["sk"].as_s().is_ok_and(|sk| sk.starts_with("SIGNIN#")))
        .expect("a session item");
    let secret = refresh.rsplit('.').next().expect("a secret");
    assert!(
        !format!("{session:?}").contains(secret),
        "the refresh token is stored only as a keyed hash"
    );
    assert!(session.contains_key("ttl"), "the session item expires");

    let (status, text) = authenticate(
        &format!("grant_type=refresh_token&refresh_token={refresh}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let refreshed = json(&text);
    let access = refreshed["access_token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let (status, _, _) = api_tests::call(Method::GET, "/v2/users/self", Some(&access), None).await;
    assert_eq!(status, StatusCode::OK);

    let (status, _, _) = api_tests::call(Method::POST, "/v1/logout", Some(&access), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, refused, _) =
        api_tests::call(Method::GET, "/v2/users/self", Some(&access), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{refused}");
    let next_refresh = refreshed["refresh_token"].as_str().expect("rotated");
    let (status, _) = authenticate(
        &format!("grant_type=refresh_token&refresh_token={next_refresh}"),
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the session's refresh token ends with it"
    );
}

#[tokio::test]
async fn the_jwks_verifies_the_tokens_and_a_tampered_token_is_refused() {
    let user = sms_user().await;
    let (status, text) =
        authenticate("grant_type=password", Some((user.email.as_str(), PASSWORD))).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let token = json(&text)["access_token"]
        .as_str()
        .expect("a token")
        .to_owned();

    let response = reqwest::get(format!("{}/.well-known/jwks.json", shared_stack().base_url))
        .await
        .expect("the gateway answers");
    assert_eq!(response.status(), StatusCode::OK);
    let jwks: Value = response.json().await.expect("JSON");
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').next().expect("a header"))
            .expect("base64url"),
    )
    .expect("JSON");
    let key = &jwks["keys"][0];
    assert_eq!(header["kid"], key["kid"]);
    let decoding = jsonwebtoken::DecodingKey::from_ec_components(
        key["x"].as_str().expect("x"),
        key["y"].as_str().expect("y"),
    )
    .expect("a P-256 key");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&["user-token-api"]);
    let verified = jsonwebtoken::decode::<Value>(&token, &decoding, &validation)
        .expect("the token verifies against the published key");
    assert_eq!(verified.claims["sub"], user.id.to_string());

    // One claim changed, the signature kept: the authorizer refuses it.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).expect("base64url"))
            .expect("JSON");
    claims["auth"] = Value::Null;
    parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).expect("JSON"));
    let tampered = parts.join(".");
    let (status, _, _) =
        api_tests::call(Method::GET, "/v2/users/self", Some(&tampered), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn every_failed_sign_in_gets_the_same_answer_and_five_wrong_passwords_lock() {
    let user = sms_user().await;
    let email = user.email.as_str().to_owned();
    let (wrong_status, wrong) =
        authenticate("grant_type=password", Some((&email, "not it at all, no"))).await;
    let (unknown_status, unknown) = authenticate(
        "grant_type=password",
        Some((&unique_email(), "not it at all, no")),
    )
    .await;
    assert_eq!(wrong_status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown_status, wrong_status);
    assert_eq!(
        without_correlation_id(json(&unknown)),
        without_correlation_id(json(&wrong)),
        "only the correlation id differs"
    );
    for _ in 0..4 {
        let (status, _) =
            authenticate("grant_type=password", Some((&email, "not it at all, no"))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, locked) = authenticate("grant_type=password", Some((&email, PASSWORD))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "locked: {locked}");
    assert_eq!(
        without_correlation_id(json(&locked)),
        without_correlation_id(json(&wrong))
    );
    let stored = api_tests::app(&shared_stack().table)
        .await
        .store
        .get_user(&user.id)
        .await
        .expect("read")
        .expect("the user");
    assert!(stored.locked_out);
    assert_eq!(stored.failed_password_attempts, 5);
}

#[tokio::test]
async fn fifty_concurrent_sign_ins_send_one_sms_inside_the_cooldown() {
    let user = sms_user().await;
    let email = user.email.as_str().to_owned();
    let attempts = (0..50).map(|_| authenticate("grant_type=password", Some((&email, PASSWORD))));
    let answers = futures_util::future::join_all(attempts).await;
    for (status, text) in &answers {
        assert_eq!(*status, StatusCode::OK, "{text}");
    }
    assert_eq!(codes(&user).await.len(), 1, "exactly one SMS");
}

/// Velo's own generated Python client (`velo-python`, in the suite's Python tools) drives the Login API as its
/// documentation does: `tests/python/velo_login.py` asserts each step and prints what it saw.
#[tokio::test]
async fn velos_own_python_client_signs_in_refreshes_and_signs_out() {
    let user = sms_user().await;
    let seen = python(
        "velo_login.py",
        &[
            shared_stack().base_url.as_str(),
            api_tests::endpoint().as_str(),
            user.email.as_str(),
            PASSWORD,
            user.sms_number.as_str(),
        ],
    )
    .await;
    assert_eq!(seen["user_id"], user.id.to_string());
    assert_eq!(seen["after_logout"], 401);
}

/// Velo's own client asks for a password reset (`LoginApi.reset_password`); the emailed link sets a new password,
/// and the client signs in with it, not with the old one (`tests/python/velo_reset.py`).
#[tokio::test]
async fn velos_own_python_client_resets_a_password_and_signs_in_with_the_new_one() {
    let user = sms_user().await;
    let seen = python(
        "velo_reset.py",
        &[
            shared_stack().base_url.as_str(),
            api_tests::endpoint().as_str(),
            user.email.as_str(),
            PASSWORD,
            "a heron waits where the tide turns 77",
        ],
    )
    .await;
    assert_eq!(
        seen,
        serde_json::json!({"confirmed": 204, "old_password": 401, "new_password": 200})
    );
}

/// Velo's own client makes an application and an API key as a payor admin, signs in with `client_credentials`, and
/// lists the payor's users, and only them, with the key's token (`tests/python/velo_api_keys.py`).
#[tokio::test]
async fn velos_own_python_client_signs_in_with_an_api_key_and_lists_its_payors_users_only() {
    let admin = sms_user().await;
    let payor = admin.entity_id.expect("a payor").to_string();
    let stranger = stored(user(
        &unique_email(),
        UserType::Payor,
        Some("6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"),
        &[Role::PayorAdmin],
    ))
    .await;
    let seen = python(
        "velo_api_keys.py",
        &[
            shared_stack().base_url.as_str(),
            shared_stack().token_for(admin.id).as_str(),
            payor.as_str(),
        ],
    )
    .await;
    assert_eq!(seen["entity_ids"], serde_json::json!([payor]));
    let listed: Vec<&str> = seen["listed"]
        .as_array()
        .expect("listed")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        listed.contains(&admin.id.to_string().as_str()),
        "{listed:?}"
    );
    assert!(!listed.contains(&stranger.id.to_string().as_str()));

    // The key's item holds the secret's keyed hash only; deleting the key refuses its token at once.
    let api_key = seen["api_key"].as_str().expect("a key");
    let items = api_tests::partition(&shared_stack().table, &format!("APIKEY#{api_key}")).await;
    assert_eq!(items.len(), 1);
    assert!(items[0].contains_key("secretDigest"));
    let application = seen["application_id"].as_str().expect("an application");
    let (status, body, _) = api_tests::call(
        Method::DELETE,
        &format!("/v1/payors/{payor}/applications/{application}/keys/{api_key}"),
        Some(&shared_stack().token_for(admin.id)),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(
        api_tests::partition(&shared_stack().table, &format!("APIKEY#{api_key}"))
            .await
            .is_empty()
    );
    let key_token = seen["access_token"].as_str().expect("the key's token");
    let (status, _, _) = api_tests::call(Method::GET, "/v2/users", Some(key_token), None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a deleted key's token is refused at once"
    );
}
