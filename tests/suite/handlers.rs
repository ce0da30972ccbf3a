//! Handlers fed API Gateway events from `events/`: the HTTP API (v2) and the REST API (v1) shape alike.

use api_tests::{app, fresh_table};
#[allow(unused_imports)]
use api_tests::{
    DeviceStore as _, SessionStore as _, StoreWidget as _, TokenStore as _, UserStore as _,
};
use lambda_http::{Body, Response};
use local_stack::stack::{seed_admin, SEED_ADMIN_ID};
use serde_json::{json, Value};
use user_token_domain::{doors::authorizer, doors::velo, App};

fn fixture(name: &str) -> lambda_http::Request {
    let text = std::fs::read_to_string(api_tests::root().join("events").join(name))
        .expect("fixture exists");
    lambda_http::request::from_str(&text).expect("fixture is an API Gateway event")
}

fn body(response: &Response<Body>) -> Value {
    serde_json::from_slice(response.body().as_ref()).expect("JSON body")
}

async fn seeded_app() -> App {
    let app = app(&fresh_table().await).await;
    app.store
        .create_user(&seed_admin().expect("seed"))
        .await
        .expect("seeded");
    app
}

#[tokio::test]
async fn get_user_answers_both_event_versions_with_velo_user_response() {
    let app = seeded_app().await;
    for name in ["get-user.json", "get-user.rest-v1.json"] {
        let response = velo::get_user(&app, fixture(name)).await;
        assert_eq!(response.status(), 200, "{name}");
        assert_eq!(
            body(&response),
            json!({
                "id": SEED_ADMIN_ID,
                "status": "ENABLED",
                "email": "admin@example.com",
                "smsNumber": "+15555550100",
                "primaryContactNumber": "+15555550100",
                "firstName": "Ada",
                "lastName": "Admin",
                "roles": [{"name": "velo.backoffice.admin"}],
                "userType": "BACKOFFICE",
                "mfaType": "SMS",
                "mfaStatus": "REGISTERED",
                "lockedOut": false,
                "lockedOutTimestamp": null
            }),
            "{name}"
        );
    }
}

#[tokio::test]
async fn get_self_answers_both_event_versions() {
    let app = seeded_app().await;
    for name in ["get-self.json", "get-self.rest-v1.json"] {
        let response = velo::get_self(&app, fixture(name)).await;
        assert_eq!(response.status(), 200, "{name}");
        assert_eq!(body(&response)["id"], SEED_ADMIN_ID, "{name}");
    }
}

#[tokio::test]
async fn invite_user_answers_both_event_versions() {
    let app = seeded_app().await;
    let first = velo::invite_user(&app, fixture("invite-user.json")).await;
    assert_eq!(first.status(), 204);
    assert!(first.body().as_ref().is_empty());
    // The v1 fixture invites the same email: the duplicate is refused with the v1 request id as correlation id.
    let second = velo::invite_user(&app, fixture("invite-user.rest-v1.json")).await;
    assert_eq!(second.status(), 409);
    let error = body(&second);
    assert_eq!(
        error["correlationId"],
        "d1b2c3d4-7b61-11e6-9a41-93e8deadbeef"
    );
    assert_eq!(error["httpStatusCode"], 409);
    assert_eq!(error["errors"][0]["errorCode"], "40910001");
    assert_eq!(error["errors"][0]["location"], "email");
}

#[tokio::test]
async fn a_request_without_an_authorizer_verdict_is_401_in_velo_format() {
    let app = seeded_app().await;
    let mut event: Value = serde_json::from_str(
        &std::fs::read_to_string(api_tests::root().join("events/get-self.json")).expect("fixture"),
    )
    .expect("json");
    event["requestContext"]["authorizer"]["lambda"] =
        json!({"authStatus": "rejected", "authError": "expired"});
    let request = lambda_http::request::from_str(&event.to_string()).expect("event");
    let response = velo::get_self(&app, request).await;
    assert_eq!(response.status(), 401);
    let error = body(&response);
    assert_eq!(error["httpStatusCode"], 401);
    assert_eq!(error["errors"][0]["errorCode"], "40110001");
    assert_eq!(error["errors"][0]["locationType"], "header");
}

#[tokio::test]
async fn bad_input_names_the_field_in_velo_format() {
    let app = seeded_app().await;
    let cases = [
        ("{not json", "body"),
        ("", "body"),
        (
            r#"{"mfaType":"SMS","smsNumber":"+4411223344556","primaryContactNumber":"+4411223344556","roles":["velo.backoffice.admin"]}"#,
            "email",
        ),
        (
            r#"{"email":"x@example.com","mfaType":"SMTP","smsNumber":"+4411223344556","primaryContactNumber":"+4411223344556","roles":["velo.backoffice.admin"]}"#,
            "mfaType",
        ),
        (
            r#"{"email":"x@example.com","mfaType":"SMS","smsNumber":"07700900123","primaryContactNumber":"+4411223344556","roles":["velo.backoffice.admin"]}"#,
            "smsNumber",
        ),
        (
            r#"{"email":"x@example.com","mfaType":"SMS","smsNumber":"+4411223344556","primaryContactNumber":"+4411223344556","roles":["velo.root"]}"#,
            "roles[0]",
        ),
        (
            r#"{"email":"x@example.com","mfaType":"SMS","smsNumber":"+4411223344556","primaryContactNumber":"+4411223344556","roles":["velo.payor.admin"],"entityId":"nope"}"#,
            "entityId",
        ),
        (
            r#"{"email":"x@example.com","mfaType":"SMS","smsNumber":"+4411223344556","primaryContactNumber":"+4411223344556","roles":"velo.backoffice.admin"}"#,
            "roles",
        ),
        (
            r#"{"email":"x@example.com","mfaType":"SMS","smsNumber":"+4411223344556","primaryContactNumber":"+4411223344556","roles":["velo.backoffice.admin"],"firstName":""}"#,
            "firstName",
        ),
        (
            r#"{"email":"x@example.com","mfaType":"SMS","smsNumber":"+4411223344556","primaryContactNumber":"+4411223344556","roles":["velo.backoffice.admin"],"verificationCode":"12"}"#,
            "verificationCode",
        ),
        (
            r#"{"email":"x@example.com","mfaType":"SMS","smsNumber":"+4411223344556","primaryContactNumber":"+4411223344556","roles":["velo.payor.admin"],"userType":"PAYOR"}"#,
            "entityId",
        ),
        (
            r#"{"email":"x@example.com","mfaType":"SMS","smsNumber":"+4411223344556","primaryContactNumber":"+4411223344556","roles":["velo.payor.admin"]}"#,
            "roles[0]",
        ),
    ];
    for (text, location) in cases {
        let mut event: Value = serde_json::from_str(
            &std::fs::read_to_string(api_tests::root().join("events/invite-user.json"))
                .expect("fixture"),
        )
        .expect("json");
        event["body"] = Value::String(text.to_owned());
        let response = velo::invite_user(
            &app,
            lambda_http::request::from_str(&event.to_string()).expect("event"),
        )
        .await;
        assert_eq!(response.status(), 400, "{text}");
        let error = body(&response);
        assert_eq!(error["errors"][0]["location"], location, "{text}: {error}");
        assert_eq!(error["errors"][0]["locationType"], "requestBody", "{text}");
        assert_eq!(error["httpStatusCode"], 400);
    }
    let mut event: Value = serde_json::from_str(
        &std::fs::read_to_string(api_tests::root().join("events/get-user.json")).expect("fixture"),
    )
    .expect("json");
    event["pathParameters"]["userId"] = json!("not-a-uuid");
    let response = velo::get_user(
        &app,
        lambda_http::request::from_str(&event.to_string()).expect("event"),
    )
    .await;
    assert_eq!(response.status(), 400);
    assert_eq!(body(&response)["errors"][0]["location"], "userId");
    assert_eq!(body(&response)["errors"][0]["locationType"], "pathParam");
}

#[tokio::test]
async fn the_authorizer_answers_http_api_and_rest_api_events() {
    let app = seeded_app().await;
    let verifier = app.verifier().await.expect("verifier");
    let token = local_stack::bearer_token(
        &api_tests::template(),
        &api_tests::parameters(),
        SEED_ADMIN_ID.parse().expect("id"),
        600,
    )
    .expect("token");
    let load = |name: &str| -> Value {
        let text =
            std::fs::read_to_string(api_tests::root().join("events").join(name)).expect("fixture");
        serde_json::from_str(&text.replace("<run make token>", &token)).expect("json")
    };
    let http_api =
        authorizer::authorize(&verifier, app.store.as_ref(), load("authorizer.json")).await;
    assert_eq!(http_api["isAuthorized"], true);
    assert_eq!(
        http_api["context"],
        json!({"authStatus": "authenticated", "userId": SEED_ADMIN_ID, "roles": "velo.backoffice.admin", "entityId": "", "userType": "BACKOFFICE"})
    );
    let rest_api = authorizer::authorize(
        &verifier,
        app.store.as_ref(),
        load("authorizer.rest-v1.json"),
    )
    .await;
    assert_eq!(rest_api["principalId"], SEED_ADMIN_ID);
    assert_eq!(
        rest_api["policyDocument"]["Statement"][0]["Effect"],
        "Allow"
    );
    assert_eq!(
        rest_api["policyDocument"]["Statement"][0]["Resource"],
        "arn:aws:execute-api:us-east-1:123456789012:abc123/Prod/GET/v2/users/self"
    );
    assert_eq!(rest_api["context"]["userId"], SEED_ADMIN_ID);

    let forged_token = user_token_domain::doors::authorizer::jwt::sign_hs256(
        &app.config.jwt,
        "a-different-secret-of-the-same-length-000",
        SEED_ADMIN_ID.parse().expect("id"),
        time::OffsetDateTime::now_utc().unix_timestamp(),
        600,
    )
    .expect("token");
    let mut forged = load("authorizer.json");
    forged["headers"]["authorization"] = json!(format!("Bearer {forged_token}"));
    let verdict = authorizer::authorize(&verifier, app.store.as_ref(), forged).await;
    assert_eq!(
        verdict["context"],
        json!({"authStatus": "rejected", "authError": "the bearer token signature is invalid"})
    );
}

/// Issue 19, item 14: the tenant is judged on the stored item before it is parsed. Another tenant's user is
/// answered as a missing one even when its item would not parse (so parsing never runs for it), while the same
/// unparseable item in the caller's own tenant is a 503: the 404 can only come from the check on the raw item.
#[tokio::test]
async fn another_tenants_user_is_judged_missing_before_its_item_is_parsed() {
    let table = fresh_table().await;
    let app = app(&table).await;
    let (own_entity, other_entity) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let client = aws_sdk_dynamodb::Client::new(
        &local_stack::emulator::sdk_config(&api_tests::endpoint()).await,
    );
    let unparseable = |entity: uuid::Uuid| {
        let id = uuid::Uuid::new_v4();
        let s = aws_sdk_dynamodb::types::AttributeValue::S;
        let item = std::collections::HashMap::from([
            ("pk".to_owned(), s(format!("USER#{id}"))),
            ("sk".to_owned(), s("PROFILE".into())),
            ("id".to_owned(), s(id.to_string())),
            ("tenant".to_owned(), s(format!("ENTITY#{entity}"))),
            ("userType".to_owned(), s("PAYOR".into())),
            // Not an email, not a string: this item does not parse.
            (
                "email".to_owned(),
                aws_sdk_dynamodb::types::AttributeValue::N("7".into()),
            ),
        ]);
        (id, item)
    };
    let (other_id, other_item) = unparseable(other_entity);
    let (own_id, own_item) = unparseable(own_entity);
    for item in [other_item, own_item] {
        client
            .put_item()
            .table_name(&table)
            .set_item(Some(item))
            .send()
            .await
            .expect("put");
    }
    let get = |id: uuid::Uuid| {
        let mut event: Value = serde_json::from_str(
            &std::fs::read_to_string(api_tests::root().join("events/get-user.json"))
                .expect("fixture"),
        )
        .expect("json");
        event["pathParameters"]["userId"] = json!(id.to_string());
        event["requestContext"]["authorizer"]["lambda"] = json!({
            "authStatus": "authenticated",
            "userId": uuid::Uuid::new_v4().to_string(),
            "roles": "velo.payor.admin",
            "entityId": own_entity.to_string(),
            "userType": "PAYOR",
        });
        lambda_http::request::from_str(&event.to_string()).expect("event")
    };
    let answer = |response: Response<Body>| {
        let mut answer = body(&response);
        answer
            .as_object_mut()
            .expect("object")
            .remove("correlationId");
        (response.status().as_u16(), answer)
    };
    let missing = answer(velo::get_user(&app, get(uuid::Uuid::new_v4())).await);
    assert_eq!(missing.0, 404, "{missing:?}");
    assert_eq!(
        answer(velo::get_user(&app, get(other_id)).await),
        missing,
        "another tenant's user is a missing one"
    );
    assert_eq!(
        answer(velo::get_user(&app, get(own_id)).await).0,
        503,
        "the item does not parse: only the raw check kept it from being parsed"
    );
}
