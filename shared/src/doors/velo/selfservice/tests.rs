//! The self-service password operations on the in-memory adapters.

use serde_json::{json, Map, Value};

use crate::domain::{password, User};
use crate::ports::UserStore;
use crate::testing::{admin, body, event, memory_app, MemoryApp};

const CURRENT: &str = "quartz lemurs debate midnight tides";
const PREVIOUS: &str = "seven otters juggling wet pebbles";

fn hashed(clear: &str) -> String {
    password::hash(&clear.to_owned().try_into().expect("a password")).expect("hash")
}

async fn stored(user: User) -> MemoryApp {
    let app = memory_app(|_| {});
    app.store.create_user(&user).await.expect("stored");
    app
}

async fn validate(app: &MemoryApp, caller: &User, candidate: &str) -> (u16, Value) {
    let request = event(
        "POST",
        "/v2/users/self/password/validate",
        json!({}),
        &[],
        Some(json!({ "password": candidate })),
        caller,
        Map::new(),
    );
    let response = super::validate_password_self(&app.app, request).await;
    (response.status().as_u16(), body(&response))
}

#[tokio::test]
async fn validate_never_tells_a_match_with_the_current_password() {
    let user = User {
        password_hash: Some(hashed(CURRENT)),
        password_history: vec![hashed(PREVIOUS)],
        ..admin()
    };
    let app = stored(user.clone()).await;
    // The same user with no password at all: what any candidate that is not a previous password gets.
    let unset = User {
        password_hash: None,
        password_history: Vec::new(),
        ..user.clone()
    };
    let baseline = stored(unset.clone()).await;
    let (status, as_if_new) = validate(&baseline, &unset, CURRENT).await;
    assert_eq!(status, 200);
    assert_eq!(as_if_new["valid"], true, "{as_if_new}");

    for _ in 0..25 {
        assert_eq!(
            validate(&app, &user, CURRENT).await,
            (200, as_if_new.clone()),
            "the current password is scored like any new one"
        );
    }
    assert_eq!(
        validate(&app, &user, PREVIOUS).await,
        (
            200,
            json!({"score": 0, "valid": false, "warning": "Historic Password",
                   "suggestions": ["[password has been used before]"]})
        ),
        "a previous password is historic"
    );
    assert_eq!(
        app.store.get_user(&user.id).await.expect("read"),
        Some(user.clone()),
        "validate writes nothing"
    );

    // Reusing the current password is refused where it is proven.
    let reuse = event(
        "POST",
        "/v2/users/self/password",
        json!({}),
        &[],
        Some(json!({ "oldPassword": CURRENT, "newPassword": CURRENT })),
        &user,
        Map::new(),
    );
    let refused = super::update_password_self(&app.app, reuse).await;
    let refused_body = body(&refused);
    assert_eq!(
        (
            refused.status().as_u16(),
            &refused_body["errors"][0]["location"],
            &refused_body["errors"][0]["errorMessage"]
        ),
        (
            400,
            &json!("newPassword"),
            &json!("must score at least 3 (scored 0): Historic Password")
        )
    );
}
