//! Every authorized route of the template, through the gateway, refuses every kind of bad bearer token with 401 in
//! its own front door's error format.

use api_tests::{shared_stack, unique_email, user};
#[allow(unused_imports)]
use api_tests::{
    DeviceStore as _, SessionStore as _, StoreWidget as _, TokenStore as _, UserStore as _,
};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use user_token_domain::domain::{Role, UserId, UserStatus, UserType};
use user_token_domain::lambda::config::JwtConfig;

fn jwt(issuer: &str, audience: &str, secret: &str, iat: i64, ttl: i64, user: UserId) -> String {
    let config = JwtConfig {
        issuer: issuer.into(),
        audience: audience.into(),
        hs256_secret: None,
        rs256_public_key_pem: None,
    };
    user_token_domain::doors::authorizer::jwt::sign_hs256(&config, secret, user, iat, ttl)
        .expect("jwt")
}

/// An HS256 token of the stack's issuer and audience for `user`, with `claims` over the usual ones.
fn jwt_claiming(secret: &str, user: UserId, claims: Value) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut all = json!({"sub": user.to_string(), "iss": "user-token-service", "aud": "user-token-api",
        "iat": now, "exp": now + 600});
    if let (Some(all), Some(claims)) = (all.as_object_mut(), claims.as_object()) {
        all.extend(claims.clone());
    }
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &all,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("jwt")
}

fn assert_front_door_401(path: &str, body: &Value, case: &str) {
    let context = format!("{case}: {path}: {body}");
    // Velo's Users API v2 and its Login API.
    if path.starts_with("/v2/users") || path.starts_with("/v1/") {
        assert_eq!(body["httpStatusCode"], 401, "{context}");
        assert_eq!(body["errors"][0]["errorCode"], "40110001", "{context}");
        assert!(
            body["correlationId"]
                .as_str()
                .is_some_and(|id| !id.is_empty()),
            "{context}"
        );
    } else if path.starts_with("/account/") {
        assert_eq!(body["code"], "XQI000101", "{context}");
        for field in ["title", "description", "translation"] {
            assert!(
                body[field].as_str().is_some_and(|text| !text.is_empty()),
                "{context}"
            );
        }
        assert!(body["extra_fields"].is_object(), "{context}");
    } else if path.starts_with("/api/n/otp-handler") {
        assert_eq!(body["type"], "UnauthorizedException", "{context}");
        assert_eq!(body["httpStatus"], 401, "{context}");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|text| !text.is_empty()),
            "{context}"
        );
    } else {
        panic!("a route of no known front door: {path}");
    }
}

#[tokio::test]
async fn every_route_refuses_every_bad_token_with_its_front_doors_401() {
    let stack = shared_stack();
    let secret = stack.parameters["JwtSecret"].clone();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let admin: UserId = local_stack::stack::SEED_ADMIN_ID.parse().expect("id");
    let mut disabled = user(
        &unique_email(),
        UserType::Backoffice,
        None,
        &[Role::BackofficeAdmin],
    );
    disabled.status = UserStatus::Disabled;
    api_tests::app(&stack.table)
        .await
        .store
        .create_user(&disabled)
        .await
        .expect("stored");
    let cases: Vec<(&str, Option<String>)> = vec![
        ("no token", None),
        ("malformed", Some("not-a-jwt".into())),
        (
            "forged",
            Some(jwt(
                "user-token-service",
                "user-token-api",
                "a-different-secret-of-some-length-000",
                now,
                600,
                admin,
            )),
        ),
        (
            "expired",
            Some(jwt(
                "user-token-service",
                "user-token-api",
                &secret,
                now - 7200,
                600,
                admin,
            )),
        ),
        (
            "wrong audience",
            Some(jwt(
                "user-token-service",
                "another-api",
                &secret,
                now,
                600,
                admin,
            )),
        ),
        (
            "wrong issuer",
            Some(jwt(
                "someone-else",
                "user-token-api",
                &secret,
                now,
                600,
                admin,
            )),
        ),
        (
            "not valid for another hour (nbf)",
            Some(jwt_claiming(&secret, admin, json!({"nbf": now + 3600}))),
        ),
        (
            "issued a year from now (iat)",
            Some(jwt_claiming(
                &secret,
                admin,
                json!({"iat": now + 31_536_000, "exp": now + 31_536_600}),
            )),
        ),
        ("deleted user", Some(stack.token_for(UserId::random()))),
        ("disabled user", Some(stack.token_for(disabled.id))),
    ];
    let routes: Vec<_> = stack
        .template
        .routes
        .iter()
        .filter(|route| route.authorized)
        .cloned()
        .collect();
    assert!(
        routes.len() >= 29,
        "every front door's routes: {}",
        routes.len()
    );
    let client = reqwest::Client::new();
    for route in &routes {
        let path = route
            .path
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    uuid::Uuid::new_v4().to_string()
                } else {
                    segment.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let method = Method::from_bytes(route.method.as_bytes()).expect("method");
        for (case, token) in &cases {
            let mut request = client.request(method.clone(), format!("{}{path}", stack.base_url));
            if let Some(token) = token {
                request = request.header("authorization", format!("Bearer {token}"));
            }
            if matches!(route.method.as_str(), "POST" | "PUT" | "PATCH") {
                request = request.json(&json!({}));
            }
            let response = request.send().await.expect("the gateway answers");
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{case}: {} {path}",
                route.method
            );
            let body: Value = response.json().await.expect("a JSON body");
            assert_front_door_401(&path, &body, case);
        }
    }
}
