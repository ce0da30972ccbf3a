//! Over HTTP through the local gateway: the authorizer and the real function binaries, as `make run` serves them.

use api_tests::{all_items, call, shared_stack, unique_email};
use aws_sdk_dynamodb::types::AttributeValue;
use local_stack::emulator::outbox;
use local_stack::stack::SEED_ADMIN_ID;
use reqwest::StatusCode;
use serde_json::{json, Value};
use user_token_domain::domain::UserId;

fn admin() -> UserId {
    SEED_ADMIN_ID.parse().expect("seed id")
}

fn invitation(email: &str, roles: Value, entity: Option<&str>) -> Value {
    let mut body = json!({
        "email": email,
        "mfaType": "SMS",
        "smsNumber": "+4411223344556",
        "primaryContactNumber": "+4411223344556",
        "roles": roles,
        "firstName": "Grace",
        "lastName": "Hopper"
    });
    if let Some(entity) = entity {
        body["entityId"] = json!(entity);
    }
    body
}

async fn user_id_by_email(email: &str) -> String {
    let items = all_items(&shared_stack().table).await;
    let item = items
        .iter()
        .find(|item| item.get("email") == Some(&AttributeValue::S(email.to_owned())))
        .expect("the invited user is in the table");
    match item.get("id") {
        Some(AttributeValue::S(id)) => id.clone(),
        other => panic!("id: {other:?}"),
    }
}

#[tokio::test]
async fn invite_then_get_then_get_self_then_the_invitation_is_in_the_outbox() {
    let stack = shared_stack();
    let token = stack.token_for(admin());
    let email = unique_email();
    let entity = "7fffa261-ac68-49e6-b605-d24a444d9206";
    let (status, body, _) = call(
        reqwest::Method::POST,
        "/v2/users/invite",
        Some(&token),
        Some(invitation(
            &email,
            json!(["velo.payor.admin"]),
            Some(entity),
        )),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(body, Value::Null);

    let id = user_id_by_email(&email).await;
    let (status, user, _) = call(
        reqwest::Method::GET,
        &format!("/v2/users/{id}"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        user,
        json!({
            "id": id,
            "status": "PENDING",
            "email": email,
            "smsNumber": "+4411223344556",
            "primaryContactNumber": "+4411223344556",
            "firstName": "Grace",
            "lastName": "Hopper",
            "entityId": entity,
            "roles": [{"name": "velo.payor.admin"}],
            "userType": "PAYOR",
            "mfaType": "SMS",
            "mfaStatus": "UNREGISTERED",
            "lockedOut": false,
            "lockedOutTimestamp": null
        })
    );

    // `self` is a literal route and wins over `{userId}`.
    let (status, me, _) = call(reqwest::Method::GET, "/v2/users/self", Some(&token), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["id"], SEED_ADMIN_ID);
    assert_eq!(me["roles"], json!([{"name": "velo.backoffice.admin"}]));

    // The invited user's own token reaches get-self too.
    let invited_token = stack.token_for(id.parse().expect("uuid"));
    let (status, me, _) = call(
        reqwest::Method::GET,
        "/v2/users/self",
        Some(&invited_token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["id"], id.as_str());

    let sent = outbox(&api_tests::endpoint()).await.expect("outbox");
    let mails = sent.emails_to(&email);
    assert_eq!(mails.len(), 1);
    assert!(mails[0]
        .body
        .contains("https://app.example.com/invitation?token="));
}

#[tokio::test]
async fn every_bad_token_is_a_401_in_velo_format() {
    let stack = shared_stack();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let jwt = |issuer: &str, audience: &str, secret: &str, iat: i64, ttl: i64| {
        let config = user_token_domain::lambda::config::JwtConfig {
            issuer: issuer.into(),
            audience: audience.into(),
            hs256_secret: None,
            rs256_public_key_pem: None,
        };
        user_token_domain::doors::authorizer::jwt::sign_hs256(&config, secret, admin(), iat, ttl)
            .expect("jwt")
    };
    let secret = stack.parameters["JwtSecret"].clone();
    let deleted_user = stack.token_for(UserId::random());
    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing", None),
        ("malformed", Some("not-a-jwt".into())),
        (
            "forged",
            Some(jwt(
                "user-token-service",
                "user-token-api",
                "another-secret-entirely-of-length-40",
                now,
                600,
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
            )),
        ),
        (
            "wrong audience",
            Some(jwt("user-token-service", "someone-else", &secret, now, 600)),
        ),
        (
            "wrong issuer",
            Some(jwt("evil", "user-token-api", &secret, now, 600)),
        ),
        ("unknown user", Some(deleted_user)),
    ];
    for (what, token) in cases {
        for path in ["/v2/users/self", &format!("/v2/users/{SEED_ADMIN_ID}")] {
            let (status, body, _) = call(reqwest::Method::GET, path, token.as_deref(), None).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{what} {path}");
            assert_eq!(body["httpStatusCode"], 401, "{what}");
            assert_eq!(body["errors"][0]["errorCode"], "40110001", "{what}");
            assert!(body["correlationId"]
                .as_str()
                .is_some_and(|id| !id.is_empty()));
        }
    }
    let (status, _, _) = call(
        reqwest::Method::POST,
        "/v2/users/invite",
        None,
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_disabled_users_token_is_refused_at_once() {
    let stack = shared_stack();
    let admin_token = stack.token_for(admin());
    let email = unique_email();
    let (status, _, _) = call(
        reqwest::Method::POST,
        "/v2/users/invite",
        Some(&admin_token),
        Some(invitation(&email, json!(["velo.backoffice.admin"]), None)),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let id = user_id_by_email(&email).await;
    let token = stack.token_for(id.parse().expect("uuid"));
    assert_eq!(
        call(reqwest::Method::GET, "/v2/users/self", Some(&token), None)
            .await
            .0,
        StatusCode::OK
    );
    api_tests::dynamodb()
        .await
        .update_item()
        .table_name(&stack.table)
        .key("pk", AttributeValue::S(format!("USER#{id}")))
        .key("sk", AttributeValue::S("PROFILE".into()))
        .update_expression("SET #status = :disabled")
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":disabled", AttributeValue::S("DISABLED".into()))
        .send()
        .await
        .expect("disable");
    assert_eq!(
        call(reqwest::Method::GET, "/v2/users/self", Some(&token), None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn roles_and_tenants_are_enforced() {
    let stack = shared_stack();
    let admin_token = stack.token_for(admin());
    let entity = "0b3d7c36-3c7c-4d5e-8c43-3f1f6c1d2e10";
    let other_entity = "4a0c1a52-9d0a-4b56-9a3e-2f3c2b1a0e99";
    let support_email = unique_email();
    let (status, _, _) = call(
        reqwest::Method::POST,
        "/v2/users/invite",
        Some(&admin_token),
        Some(invitation(
            &support_email,
            json!(["velo.payor.support"]),
            Some(entity),
        )),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let support_token = stack.token_for(
        user_id_by_email(&support_email)
            .await
            .parse()
            .expect("uuid"),
    );
    let payor_admin_email = unique_email();
    call(
        reqwest::Method::POST,
        "/v2/users/invite",
        Some(&admin_token),
        Some(invitation(
            &payor_admin_email,
            json!(["velo.payor.admin"]),
            Some(entity),
        )),
    )
    .await;
    let payor_admin_token = stack.token_for(
        user_id_by_email(&payor_admin_email)
            .await
            .parse()
            .expect("uuid"),
    );

    // Support roles read but do not invite: 403.
    let (status, body, _) = call(
        reqwest::Method::POST,
        "/v2/users/invite",
        Some(&support_token),
        Some(invitation(
            &unique_email(),
            json!(["velo.payor.support"]),
            Some(entity),
        )),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["errors"][0]["errorCode"], "40310001");

    // A payor admin may not grant a higher role, nor invite into another entity.
    for (roles, target) in [
        (json!(["velo.payor.master_admin"]), entity),
        (json!(["velo.payor.support"]), other_entity),
    ] {
        let (status, _, _) = call(
            reqwest::Method::POST,
            "/v2/users/invite",
            Some(&payor_admin_token),
            Some(invitation(&unique_email(), roles, Some(target))),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    // But may invite within its own entity, up to its own rank.
    let (status, _, _) = call(
        reqwest::Method::POST,
        "/v2/users/invite",
        Some(&payor_admin_token),
        Some(invitation(
            &unique_email(),
            json!(["velo.payor.support"]),
            Some(entity),
        )),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // Users of another entity are not found, so their existence is not revealed.
    let (status, _, _) = call(
        reqwest::Method::GET,
        &format!("/v2/users/{SEED_ADMIN_ID}"),
        Some(&support_token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let payor_admin_id = user_id_by_email(&payor_admin_email).await;
    let (status, body, _) = call(
        reqwest::Method::GET,
        &format!("/v2/users/{payor_admin_id}"),
        Some(&support_token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["email"], payor_admin_email.as_str());
    let (status, body, _) = call(
        reqwest::Method::GET,
        &format!("/v2/users/{}", UserId::random()),
        Some(&admin_token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["errors"][0]["errorCode"], "40410001");
}

#[tokio::test]
async fn the_gateway_answers_unknown_routes_as_api_gateway_does() {
    let (status, body, _) = call(reqwest::Method::GET, "/v2/nothing-here", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({"message": "Not Found"}));
    // No route has PUT: API Gateway answers 404 before any authorizer or function runs.
    let (status, body, _) = call(reqwest::Method::PUT, "/v2/users/invite", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({"message": "Not Found"}));
}

#[tokio::test]
async fn logs_are_json_with_the_request_id_and_never_carry_a_clear_token_or_address() {
    let stack = shared_stack();
    let token = stack.token_for(admin());
    let email = unique_email();
    let (status, _, headers) = call(
        reqwest::Method::POST,
        "/v2/users/invite",
        Some(&token),
        Some(invitation(&email, json!(["velo.backoffice.admin"]), None)),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let correlation_id = headers["apigw-requestid"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let sent = outbox(&api_tests::endpoint()).await.expect("outbox");
    let body = &sent.emails_to(&email)[0].body;
    let start = body.find("token=").expect("link") + "token=".len();
    // `<userId>.<secret>`: the secret half is what must appear nowhere.
    let token: String = body[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_' || *c == '.')
        .collect();
    let secret = token.split_once('.').expect("a link token").1.to_owned();
    assert_eq!(secret.len(), 43);

    let log = std::fs::read_to_string(stack.log_dir.join("invite-user.log")).expect("function log");
    let lines: Vec<Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).expect("every log line is JSON"))
        .collect();
    let served = lines
        .iter()
        .find(|line| line["fields"]["correlation_id"] == correlation_id.as_str())
        .expect("a line for this request");
    assert_eq!(served["fields"]["status"], 204);
    assert!(served["span"]["requestId"].as_str().is_some());
    let all_logs: String = std::fs::read_dir(&stack.log_dir)
        .expect("logs")
        .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path()).ok())
        .collect();
    assert!(
        !all_logs.contains(&secret),
        "the invitation token is never logged"
    );
    assert!(!all_logs.contains(&email), "emails are masked in logs");
    assert!(
        !all_logs.contains("4411223344556"),
        "phone numbers are masked in logs"
    );
}
