//! Every Velo operation over HTTP through the local gateway and the real function binaries, as a payor admin, a payee
//! and the seeded backoffice admin would call them.

use api_tests::{shared_stack, unique_email, unique_phone, user};
#[allow(unused_imports)]
use api_tests::{
    DeviceStore as _, SessionStore as _, StoreWidget as _, TokenStore as _, UserStore as _,
};
use local_stack::stack::SEED_ADMIN_ID;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use user_token_domain::domain::{password, Role, User, UserType};

const ENTITY: &str = "5d1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b";

struct Caller {
    token: String,
}

impl Caller {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let (status, body, _) = api_tests::call(method, path, Some(&self.token), body).await;
        (status, body)
    }
}

async fn stored(user: User) -> (User, Caller) {
    let stack = shared_stack();
    api_tests::app(&stack.table)
        .await
        .store
        .create_user(&user)
        .await
        .expect("stored");
    let token = stack.token_for(user.id);
    (user, Caller { token })
}

#[tokio::test]
async fn every_velo_operation_through_the_gateway_for_a_payor_admin_a_payee_and_the_admin() {
    let stack = shared_stack();
    let (_, payor_admin) = stored(user(
        &unique_email(),
        UserType::Payor,
        Some(ENTITY),
        &[Role::PayorAdmin],
    ))
    .await;
    let (support, support_caller) = stored(user(
        &unique_email(),
        UserType::Payor,
        Some(ENTITY),
        &[Role::PayorSupport],
    ))
    .await;
    let mut payee_user = user(
        &unique_email(),
        UserType::Payee,
        Some(ENTITY),
        &[Role::PayeeSupport],
    );
    payee_user.password_hash = Some(
        password::hash(
            &"tidal clocks hum in amber"
                .to_owned()
                .try_into()
                .expect("pw"),
        )
        .expect("hash"),
    );
    let (_, payee) = stored(payee_user).await;
    let admin = Caller {
        token: stack.token_for(SEED_ADMIN_ID.parse().expect("id")),
    };

    // Reads, scoped to the payor admin's entity.
    let (status, listed) = payor_admin
        .call(Method::GET, "/v2/users?pageSize=100&sort=email:desc", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let content = listed["content"].as_array().expect("content");
    assert!(content.iter().all(|u| u["entityId"] == ENTITY), "{listed}");
    assert!(content.iter().any(|u| u["id"] == support.id.to_string()));
    assert_eq!(
        payor_admin
            .call(Method::GET, &format!("/v2/users/{}", support.id), None)
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        payor_admin
            .call(Method::GET, &format!("/v2/users/{SEED_ADMIN_ID}"), None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    // Invite within the entity, find the new user by listing, resend (inside the cooldown), delete.
    let email = unique_email();
    let invite = json!({"email": email, "mfaType": "TOTP", "smsNumber": unique_phone(), "primaryContactNumber": "+4411223344556", "roles": ["velo.payor.support"], "entityId": ENTITY});
    assert_eq!(
        payor_admin
            .call(Method::POST, "/v2/users/invite", Some(invite))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let (_, listed) = payor_admin
        .call(Method::GET, "/v2/users?pageSize=100&status=PENDING", None)
        .await;
    let invited = listed["content"]
        .as_array()
        .expect("content")
        .iter()
        .find(|u| u["email"] == email.as_str())
        .expect("listed")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (status, body) = payor_admin
        .call(
            Method::POST,
            &format!("/v2/users/{invited}/tokens"),
            Some(json!({"tokenType": "INVITE_MFA_USER"})),
        )
        .await;
    assert_eq!(
        (status, body["errors"][0]["errorCode"].clone()),
        (StatusCode::BAD_REQUEST, json!("40010007"))
    );
    assert_eq!(
        payor_admin
            .call(Method::DELETE, &format!("/v2/users/{invited}"), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        payor_admin
            .call(Method::GET, &format!("/v2/users/{invited}"), None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    // Changes to the support user.
    let target = format!("/v2/users/{}", support.id);
    for (method, path, body) in [
        (
            Method::POST,
            format!("{target}/roleUpdate"),
            Some(json!({"roles": ["velo.payor.support"]})),
        ),
        (
            Method::POST,
            format!("{target}/userDetailsUpdate"),
            Some(json!({"firstName": "Renamed", "secondaryContactNumber": null})),
        ),
        (
            Method::POST,
            format!("{target}/mfa/unregister"),
            Some(json!({"mfaType": "TOTP"})),
        ),
        (Method::POST, format!("{target}/unlock"), None),
        (Method::POST, format!("{target}/enable"), None),
    ] {
        let (status, body) = payor_admin.call(method, &path, body).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{path}: {body}");
    }
    let (_, details) = admin.call(Method::GET, &target, None).await;
    assert_eq!(
        (details["firstName"].clone(), details["mfaStatus"].clone()),
        (json!("Renamed"), json!("UNREGISTERED"))
    );
    assert!(details.get("secondaryContactNumber").is_none());

    // Disabling revokes the support user's access at once, and re-enabling does not revive old tokens.
    assert_eq!(
        support_caller
            .call(Method::GET, "/v2/users/self", None)
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        payor_admin
            .call(Method::POST, &format!("{target}/disable"), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        support_caller
            .call(Method::GET, "/v2/users/self", None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        payor_admin
            .call(Method::POST, &format!("{target}/enable"), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        support_caller
            .call(Method::GET, "/v2/users/self", None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let fresh = Caller {
        token: stack.token_for(support.id),
    };
    assert_eq!(
        fresh.call(Method::GET, "/v2/users/self", None).await.0,
        StatusCode::OK
    );
    // A support role reads but does not change: 403.
    assert_eq!(
        fresh
            .call(Method::POST, &format!("{target}/unlock"), None)
            .await
            .0,
        StatusCode::FORBIDDEN
    );

    // Self operations of the payor admin.
    assert_eq!(
        payor_admin
            .call(Method::GET, "/v2/users/self", None)
            .await
            .0,
        StatusCode::OK
    );
    let (status, score) = payor_admin
        .call(
            Method::POST,
            "/v2/users/self/password/validate",
            Some(json!({"password": "quartz lemurs debate midnight tides"})),
        )
        .await;
    assert_eq!(
        (status, score["valid"].clone()),
        (StatusCode::OK, json!(true))
    );
    assert_eq!(
        payor_admin
            .call(
                Method::POST,
                "/v2/users/registration/sms",
                Some(json!({"smsNumber": unique_phone()}))
            )
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        payor_admin
            .call(
                Method::POST,
                "/v2/users/self/userDetailsUpdate",
                Some(json!({"lastName": "X"}))
            )
            .await
            .0,
        StatusCode::FORBIDDEN,
        "payees only"
    );

    // The payee's own operations.
    assert_eq!(
        payee.call(Method::GET, "/v2/users/self", None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        payee
            .call(
                Method::POST,
                "/v2/users/self/userDetailsUpdate",
                Some(json!({"lastName": "Payee-Renamed"}))
            )
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let (status, body) = payee.call(Method::POST, "/v2/users/self/password", Some(json!({"oldPassword": "tidal clocks hum in amber", "newPassword": "seven otters juggling wet pebbles"}))).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        payee
            .call(
                Method::POST,
                "/v2/users/self/mfa/unregister",
                Some(json!({"mfaType": "TOTP"}))
            )
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        payee
            .call(Method::GET, "/v2/users?pageSize=5", None)
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(payee.call(Method::POST, "/v2/users/invite", Some(json!({"email": unique_email(), "mfaType": "SMS", "smsNumber": "+4411223344556", "primaryContactNumber": "+4411223344556", "roles": ["velo.payee.support"], "entityId": ENTITY}))).await.0, StatusCode::FORBIDDEN);

    // The backoffice admin across entities, and a documented 400.
    let (status, body) = admin
        .call(
            Method::GET,
            &format!("/v2/users?type=PAYOR&entityId={ENTITY}&sort=lastName:asc"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["page"]["totalElements"]
        .as_u64()
        .is_some_and(|n| n >= 2));
    let (status, body) = admin
        .call(Method::GET, "/v2/users?pageSize=1000", None)
        .await;
    assert_eq!(
        (status, body["errors"][0]["location"].clone()),
        (StatusCode::BAD_REQUEST, json!("pageSize"))
    );
}

/// The links of a list answer point at the API's own address, whatever `Host` the client sent.
#[tokio::test]
async fn list_links_name_the_gateways_address_not_the_hosts_header() {
    let stack = shared_stack();
    let admin = stack.token_for(SEED_ADMIN_ID.parse().expect("seed id"));
    for host in ["evil.example", "127.0.0.1.evil.example", "localhost:1"] {
        let response = reqwest::Client::new()
            .get(format!(
                "{}/v2/users?pageSize=1&type=BACKOFFICE",
                stack.base_url
            ))
            .bearer_auth(&admin)
            .header("host", host)
            .send()
            .await
            .expect("the gateway answers");
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.expect("a JSON body");
        let links = body["links"].as_array().expect("links");
        assert!(!links.is_empty());
        for link in links {
            let href = link["href"].as_str().expect("href");
            assert!(
                href.starts_with(&format!("{}/v2/users?", stack.base_url)),
                "{host}: {href}"
            );
        }
    }
}
