//! Managing other users on the in-memory adapters: what contention on a user is answered.

use serde_json::{json, Map};

use crate::domain::{EntityId, Role, User, UserId, UserType};
use crate::ports::UserStore;
use crate::testing::{admin, body, event, memory_app, velo_error, MemoryApp};

fn payor(role: Role) -> User {
    let id = UserId::random();
    User {
        id,
        email: format!("payor-{id}@example.com").parse().expect("email"),
        entity_id: Some(EntityId::random()),
        user_type: UserType::Payor,
        roles: vec![role],
        ..admin()
    }
}

async fn role_update(
    app: &MemoryApp,
    caller: &User,
    target: &User,
    role: &str,
) -> lambda_http::Response<lambda_http::Body> {
    let request = event(
        "POST",
        &format!("/v2/users/{}/roleUpdate", target.id),
        json!({ "userId": target.id.to_string() }),
        &[],
        Some(json!({ "roles": [role] })),
        caller,
        Map::new(),
    );
    super::role_update(&app.app, request).await
}

async fn roles_of(app: &MemoryApp, user: &User) -> Vec<Role> {
    let stored = app.store.get_user(&user.id).await.expect("read");
    stored.expect("the user").roles
}

#[tokio::test]
async fn a_user_other_requests_keep_changing_is_a_409_and_a_passing_race_is_retried() {
    let app = memory_app(|_| {});
    let caller = admin();
    let target = payor(Role::PayorAdmin);
    for user in [&caller, &target] {
        app.store.create_user(user).await.expect("stored");
    }

    // Two of the three tries lose to another writer: the third saves.
    app.store.contend(super::SAVE_TRIES as u32 - 1);
    let retried = role_update(&app, &caller, &target, "velo.payor.support").await;
    assert_eq!(retried.status(), 204, "{:?}", body(&retried));
    assert_eq!(roles_of(&app, &target).await, vec![Role::PayorSupport]);

    // Every try loses: a conflict between clients, answered 409 in Velo's body, not a 503.
    app.store.contend(100);
    let contended = role_update(&app, &caller, &target, "velo.payor.admin").await;
    assert_eq!(
        (contended.status().as_u16(), body(&contended)),
        (
            409,
            velo_error(
                409,
                "40910002",
                "the resource was changed by a concurrent request; read it again and retry",
                None
            )
        )
    );
    assert!(contended.headers().get("retry-after").is_none());
    app.store.contend(0);
    assert_eq!(roles_of(&app, &target).await, vec![Role::PayorSupport]);
}
