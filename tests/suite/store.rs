//! The adapters against the emulator: the items a write leaves, the uniqueness guard, and delivery failure.

use api_tests::{all_items, app, fresh_table, unique_email};
#[allow(unused_imports)]
use api_tests::{
    DeviceStore as _, SessionStore as _, StoreWidget as _, TokenStore as _, UserStore as _,
};
use aws_sdk_dynamodb::types::AttributeValue;
use local_stack::emulator::{outbox, sdk_config};
use local_stack::stack::seed_admin;
use std::collections::HashMap;
use user_token_domain::domain::token::Subject;
use user_token_domain::domain::DomainError;
use user_token_domain::{doors::velo, App};

fn text(item: &HashMap<String, AttributeValue>, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(value)) => value.clone(),
        Some(AttributeValue::N(value)) => value.clone(),
        Some(AttributeValue::Bool(value)) => value.to_string(),
        other => panic!("{name}: {other:?}"),
    }
}

fn invite_request(email: &str) -> lambda_http::Request {
    let mut event: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(api_tests::root().join("events/invite-user.json"))
            .expect("fixture"),
    )
    .expect("json");
    let body = serde_json::json!({
        "email": email,
        "mfaType": "TOTP",
        "smsNumber": "+4411223344556",
        "primaryContactNumber": "+4411223344557",
        "roles": ["payor.admin"],
        "entityId": "7fffa261-ac68-49e6-b605-d24a444d9206"
    });
    event["body"] = serde_json::Value::String(body.to_string());
    lambda_http::request::from_str(&event.to_string()).expect("event")
}

fn invitation_token(body: &str) -> String {
    let start = body.find("token=").expect("a link in the email") + "token=".len();
    body[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_' || *c == '.')
        .collect()
}

#[tokio::test]
async fn an_invitation_writes_the_user_the_guard_and_a_hashed_token_then_emails_the_link() {
    let table = fresh_table().await;
    let app = app(&table).await;
    app.store
        .create_user(&seed_admin().expect("seed"))
        .await
        .expect("seed");
    let email = unique_email();
    let response = velo::invite_user(&app, invite_request(&email)).await;
    assert_eq!(response.status(), 204);

    let items = all_items(&table).await;
    let user = items
        .iter()
        .find(|item| text(item, "sk") == "PROFILE" && text(item, "email") == email)
        .expect("the user item");
    let user_id = text(user, "id");
    assert_eq!(text(user, "status"), "PENDING");
    assert_eq!(text(user, "userType"), "PAYOR");
    assert_eq!(text(user, "mfaStatus"), "UNREGISTERED");
    assert_eq!(text(user, "version"), "1");
    assert_eq!(
        text(user, "tenant"),
        "ENTITY#7fffa261-ac68-49e6-b605-d24a444d9206"
    );
    assert_eq!(text(user, "everyone"), "USER");
    assert_eq!(text(user, "emailSort"), format!("{email}#{user_id}"));
    assert_eq!(text(user, "lastNameSort"), format!("#{email}#{user_id}"));
    match user.get("roles") {
        Some(AttributeValue::L(roles)) => {
            assert_eq!(roles, &vec![AttributeValue::S("velo.payor.admin".into())])
        }
        other => panic!("roles: {other:?}"),
    }
    let guard = items
        .iter()
        .find(|item| text(item, "pk") == format!("EMAIL#{email}"))
        .expect("the email guard");
    assert_eq!(text(guard, "userId"), user_id);
    let token = items
        .iter()
        .find(|item| {
            text(item, "pk") == format!("USER#{user_id}") && text(item, "sk") == "TOKEN#INVITATION"
        })
        .expect("the invitation token item");
    assert_eq!(text(token, "failedAttempts"), "0");
    assert_eq!(text(token, "consumed"), "false");
    let issued: i64 = text(token, "issuedAt").parse().expect("number");
    let expires: i64 = text(token, "expiresAt").parse().expect("number");
    assert_eq!(expires - issued, 7 * 24 * 3600);
    assert!(text(token, "ttl").parse::<i64>().expect("number") > expires);

    let sent = outbox(&api_tests::endpoint()).await.expect("outbox");
    let mails = sent.emails_to(&email);
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].subject, "You have been invited");
    assert_eq!(mails[0].source, api_tests::SENDER);
    let secret = invitation_token(&mails[0].body);
    assert!(secret.len() >= 43, "at least 256 bits, URL-safe: {secret}");
    assert!(mails[0].body.contains("expires at"));
    // The token is stored only as a keyed hash: it appears nowhere in the table.
    let dump = format!("{items:?}");
    assert!(!dump.contains(&secret));
    let hasher = app.hasher.as_ref().expect("hasher");
    assert!(hasher.matches(
        user_token_domain::domain::token::TokenPurpose::Invitation,
        &Subject::User(user_id.parse().expect("user id")).to_string(),
        &secret,
        &text(token, "digest")
    ));
}

#[tokio::test]
async fn email_uniqueness_is_case_insensitive_and_atomic() {
    let table = fresh_table().await;
    let app = app(&table).await;
    let email = unique_email();
    let requests = (0..8).map(|i| {
        let address = if i % 2 == 0 {
            email.clone()
        } else {
            email.to_uppercase()
        };
        let app = &app;
        async move {
            velo::invite_user(app, invite_request(&address))
                .await
                .status()
                .as_u16()
        }
    });
    let mut statuses = futures_util::future::join_all(requests).await;
    statuses.sort();
    assert_eq!(statuses, vec![204, 409, 409, 409, 409, 409, 409, 409]);
    let users = all_items(&table)
        .await
        .into_iter()
        .filter(|item| text(item, "sk") == "PROFILE")
        .count();
    assert_eq!(users, 1);
}

#[tokio::test]
async fn an_invitation_that_cannot_be_emailed_leaves_nothing_behind() {
    let table = fresh_table().await;
    let app = api_tests::app_with_dead_messaging(&table).await;
    let email = unique_email();
    let response = velo::invite_user(&app, invite_request(&email)).await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).expect("json");
    assert_eq!(body["errors"][0]["errorCode"], "50310002");
    let left = all_items(&table).await;
    assert!(
        left.iter()
            .all(|item| text(item, "pk").starts_with("QUOTA#")),
        "no user, guard or token remains: {left:?}"
    );
    assert!(
        left.iter().all(|item| text(item, "sends") == "0"),
        "the send quota is given back"
    );
    assert!(outbox(&api_tests::endpoint())
        .await
        .expect("outbox")
        .emails_to(&email)
        .is_empty());
    // The email is free again: a retry once SES is back succeeds.
    let retry = velo::invite_user(&api_tests::app(&table).await, invite_request(&email)).await;
    assert_eq!(retry.status(), 204);
}

#[tokio::test]
async fn a_dead_table_is_a_503_not_a_crash() {
    let dead = sdk_config("http://127.0.0.1:9").await;
    let app = App::on_aws(api_tests::config("missing"), &dead);
    let result = app
        .store
        .get_user(&user_token_domain::domain::UserId::random())
        .await;
    assert!(matches!(result, Err(DomainError::Unavailable { .. })));
}

/// Issue 19, item 12, against DynamoDB: a payor admin's invitations of another tenant's address answer 204, create
/// nothing, and send that address's owner one notice (the once-a-day counter is a conditional write).
#[tokio::test]
async fn invitations_of_another_tenants_address_answer_204_and_tell_its_owner_once() {
    use user_token_domain::domain::{Role, UserType};
    let table = api_tests::fresh_table().await;
    let app = api_tests::app(&table).await;
    let caller = api_tests::user(
        &api_tests::unique_email(),
        UserType::Payor,
        Some("00000000-0000-4000-8000-00000000e101"),
        &[Role::PayorAdmin],
    );
    let owner_email = api_tests::unique_email();
    let owner = api_tests::user(
        &owner_email,
        UserType::Payor,
        Some("00000000-0000-4000-8000-00000000e102"),
        &[Role::PayorAdmin],
    );
    for user in [&caller, &owner] {
        app.store.create_user(user).await.expect("user");
    }
    let before = api_tests::all_items(&table).await.len();
    let answers = futures_util::future::join_all((0..3).map(|_| {
        let request = api_tests::event("invite-user.json", |e| {
            e["body"] = serde_json::Value::String(
                serde_json::json!({"email": owner_email, "mfaType": "SMS",
                    "smsNumber": api_tests::unique_phone(), "primaryContactNumber": "+4411223344556",
                    "roles": ["velo.payor.support"], "userType": "PAYOR",
                    "entityId": "00000000-0000-4000-8000-00000000e101"})
                .to_string(),
            );
            api_tests::as_caller(e, &caller);
        });
        user_token_domain::doors::velo::invite_user(&app, request)
    }))
    .await;
    for answer in &answers {
        assert_eq!(answer.status(), 204, "{}", api_tests::json_of(answer));
    }
    let items = api_tests::all_items(&table).await;
    assert_eq!(
        items.len(),
        before + 1,
        "only the notice's counter: {items:?}"
    );
    let sent = outbox(&api_tests::endpoint()).await.expect("outbox");
    let notices = sent.emails_to(&owner_email);
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0].subject, "Someone tried to invite you");
}
