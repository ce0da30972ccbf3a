//! register-sms and the `verificationCode` it sends, on the in-memory adapters: what a code proves, and its cooldown.

use serde_json::{json, Map, Value};

use crate::adapters::memory::Delivered;
use crate::domain::token::{Subject, TokenPurpose};
use crate::domain::{EntityId, Role, User, UserId, UserType};
use crate::ports::{TokenStore, UserStore};
use crate::testing::{admin, body, event, memory_app, velo_error, MemoryApp};

/// A number that is not the caller's (`admin()` has +15555550100).
const ELSEWHERE: &str = "+15555550177";

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

async fn stored(app: &MemoryApp, user: User) -> User {
    app.store.create_user(&user).await.expect("stored");
    user
}

async fn register_sms(
    app: &MemoryApp,
    caller: &User,
    number: &str,
) -> lambda_http::Response<lambda_http::Body> {
    let request = event(
        "POST",
        "/v2/users/registration/sms",
        json!({}),
        &[],
        Some(json!({ "smsNumber": number })),
        caller,
        Map::new(),
    );
    super::register_sms(&app.app, request).await
}

async fn role_update(
    app: &MemoryApp,
    caller: &User,
    target: &User,
    body: Value,
) -> lambda_http::Response<lambda_http::Body> {
    let request = event(
        "POST",
        &format!("/v2/users/{}/roleUpdate", target.id),
        json!({ "userId": target.id.to_string() }),
        &[],
        Some(body),
        caller,
        Map::new(),
    );
    crate::doors::velo::role_update(&app.app, request).await
}

async fn invite(
    app: &MemoryApp,
    caller: &User,
    number: &str,
    code: &str,
) -> lambda_http::Response<lambda_http::Body> {
    let request = event(
        "POST",
        "/v2/users/invite",
        json!({}),
        &[],
        Some(json!({
            "email": format!("invitee-{}@example.com", uuid::Uuid::new_v4()),
            "mfaType": "SMS",
            "smsNumber": number,
            "primaryContactNumber": number,
            "roles": ["velo.backoffice.admin"],
            "verificationCode": code,
        })),
        caller,
        Map::new(),
    );
    crate::doors::velo::invite_user(&app.app, request).await
}

/// The code in the last SMS that went to `number`.
fn last_code_to(app: &MemoryApp, number: &str) -> String {
    app.messenger
        .outbox()
        .iter()
        .rev()
        .find_map(|delivered| match delivered {
            Delivered::Sms { to, text } if to.as_str() == number => {
                let start = text.find(|c: char| c.is_ascii_digit())?;
                text.get(start..start + 6).map(str::to_owned)
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no SMS went to {number}"))
}

fn sms_count(app: &MemoryApp) -> usize {
    app.messenger
        .outbox()
        .iter()
        .filter(|delivered| matches!(delivered, Delivered::Sms { .. }))
        .count()
}

fn not_valid() -> Value {
    velo_error(
        400,
        "40010004",
        "the verification code is not valid",
        Some("verificationCode"),
    )
}

async fn roles_of(app: &MemoryApp, user: &User) -> Vec<Role> {
    app.store
        .get_user(&user.id)
        .await
        .expect("read")
        .expect("the user")
        .roles
}

#[tokio::test]
async fn a_step_up_code_proves_the_callers_own_number_and_no_other() {
    let app = memory_app(|config| config.resend_cooldown = time::Duration::ZERO);
    let caller = stored(&app, admin()).await;
    let master = stored(&app, payor(Role::PayorMasterAdmin)).await;

    // A code the caller had sent to a number of its choosing proves nothing about the caller.
    assert_eq!(register_sms(&app, &caller, ELSEWHERE).await.status(), 204);
    let elsewhere = last_code_to(&app, ELSEWHERE);
    let refused = role_update(
        &app,
        &caller,
        &master,
        json!({"roles": ["velo.payor.admin"], "verificationCode": elsewhere}),
    )
    .await;
    assert_eq!(
        (refused.status().as_u16(), body(&refused)),
        (400, not_valid())
    );
    assert_eq!(roles_of(&app, &master).await, vec![Role::PayorMasterAdmin]);
    let token = app
        .store
        .get_token(&Subject::User(caller.id), TokenPurpose::SmsVerification)
        .await
        .expect("read")
        .expect("the code");
    assert_eq!(
        (token.consumed, token.failed_attempts),
        (false, 0),
        "refused without being compared or used"
    );

    // The caller's own registered number: its code is the step-up, once.
    let own = caller.sms_number.as_str();
    assert_eq!(register_sms(&app, &caller, own).await.status(), 204);
    let code = last_code_to(&app, own);
    let changed = role_update(
        &app,
        &caller,
        &master,
        json!({"roles": ["velo.payor.admin"], "verificationCode": code}),
    )
    .await;
    assert_eq!(changed.status(), 204, "{:?}", body(&changed));
    assert_eq!(roles_of(&app, &master).await, vec![Role::PayorAdmin]);
    let again = role_update(
        &app,
        &caller,
        &master,
        json!({"roles": ["velo.payor.master_admin"], "verificationCode": code}),
    )
    .await;
    assert_eq!((again.status().as_u16(), body(&again)), (400, not_valid()));
    assert_eq!(roles_of(&app, &master).await, vec![Role::PayorAdmin]);
}

#[tokio::test]
async fn an_invitation_code_proves_the_invitees_number_and_no_other() {
    let app = memory_app(|config| config.resend_cooldown = time::Duration::ZERO);
    let caller = stored(&app, admin()).await;
    assert_eq!(register_sms(&app, &caller, ELSEWHERE).await.status(), 204);
    let code = last_code_to(&app, ELSEWHERE);

    for number in ["+15555550188", caller.sms_number.as_str()] {
        let refused = invite(&app, &caller, number, &code).await;
        assert_eq!(
            (refused.status().as_u16(), body(&refused)),
            (400, not_valid()),
            "a code sent to {ELSEWHERE} does not prove {number}"
        );
    }
    assert_eq!(app.store.user_count(), 1, "no user was invited");

    let invited = invite(&app, &caller, ELSEWHERE, &code).await;
    assert_eq!(invited.status(), 204, "{:?}", body(&invited));
    assert_eq!(app.store.user_count(), 2);
}

#[tokio::test]
async fn register_sms_waits_out_the_cooldown_even_once_its_code_was_used() {
    let app = memory_app(|_| {});
    let caller = stored(&app, admin()).await;
    let master = stored(&app, payor(Role::PayorMasterAdmin)).await;
    let own = caller.sms_number.as_str();
    assert_eq!(register_sms(&app, &caller, own).await.status(), 204);
    let code = last_code_to(&app, own);
    let used = role_update(
        &app,
        &caller,
        &master,
        json!({"roles": ["velo.payor.admin"], "verificationCode": code}),
    )
    .await;
    assert_eq!(used.status(), 204, "{:?}", body(&used));

    for number in [own, ELSEWHERE] {
        let again = register_sms(&app, &caller, number).await;
        let retry_after: u64 = again
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse().ok())
            .expect("a Retry-After");
        assert!((55..=60).contains(&retry_after), "{retry_after}");
        assert_eq!(
            (again.status().as_u16(), body(&again)),
            (
                400,
                velo_error(
                    400,
                    "40010007",
                    &format!("a token was sent recently; retry in {retry_after} seconds"),
                    None,
                )
            ),
            "to {number}"
        );
    }
    assert_eq!(sms_count(&app), 1, "one SMS in the cooldown");
}

#[tokio::test]
async fn a_code_other_requests_keep_replacing_is_a_409_not_a_503() {
    let app = memory_app(|config| config.resend_cooldown = time::Duration::ZERO);
    let caller = stored(&app, admin()).await;
    let own = caller.sms_number.as_str();
    assert_eq!(register_sms(&app, &caller, own).await.status(), 204);
    // Every read of the code is followed by another request's new code: every reservation loses its race.
    app.store.contend(100);
    let contended = register_sms(&app, &caller, own).await;
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
    assert_eq!(sms_count(&app), 1, "nothing more was sent");
}

#[tokio::test]
async fn register_sms_refuses_a_satellite_number_and_a_caller_past_its_sms_budget() {
    let app = memory_app(|config| {
        config.resend_cooldown = time::Duration::ZERO;
        config.sms.per_caller = 2;
    });
    let caller = stored(&app, payor(Role::PayorAdmin)).await;
    let satellite = register_sms(&app, &caller, "+881612345678").await;
    assert_eq!(
        (satellite.status().as_u16(), body(&satellite)),
        (
            400,
            velo_error(
                400,
                "40010010",
                "text messages may not be sent to this number's country or range",
                None,
            )
        )
    );
    assert_eq!(sms_count(&app), 0);
    for number in ["+15555550171", "+15555550172"] {
        let sent = register_sms(&app, &caller, number).await;
        assert_eq!(sent.status(), 204, "{:?}", body(&sent));
    }
    let pumped = register_sms(&app, &caller, "+15555550173").await;
    assert!(pumped.headers().contains_key("retry-after"));
    assert_eq!(
        (pumped.status().as_u16(), body(&pumped)),
        (
            400,
            velo_error(
                400,
                "40010009",
                "too many text messages were sent for this caller, its organisation or the service; retry later",
                None,
            )
        )
    );
    assert_eq!(sms_count(&app), 2, "the third number got nothing");
}
