//! The Velo user operations of issue 4, from event fixtures of both API versions against the emulator.

use api_tests::{
    all_items, app, app_with, as_caller, event, fresh_table, json_of, unique_email, unique_phone,
    user,
};
#[allow(unused_imports)]
use api_tests::{
    DeviceStore as _, SessionStore as _, StoreWidget as _, TokenStore as _, UserStore as _,
};
use local_stack::emulator::outbox;
use local_stack::stack::{seed_admin, SEED_ADMIN_PASSWORD};
use serde_json::{json, Value};
use user_token_domain::domain::password;
use user_token_domain::domain::{MfaStatus, MfaType, Role, User, UserStatus, UserType};
use user_token_domain::{doors::velo, App};

const ENTITY: &str = "0b3d7c36-3c7c-4d5e-8c43-3f1f6c1d2e10";
const OTHER_ENTITY: &str = "4a0c1a52-9d0a-4b56-9a3e-2f3c2b1a0e99";

async fn seeded() -> (App, User) {
    let app = app(&fresh_table().await).await;
    let admin = seed_admin().expect("seed");
    app.store.create_user(&admin).await.expect("seeded");
    (app, admin)
}

async fn store(app: &App, user: User) -> User {
    app.store.create_user(&user).await.expect("stored");
    user
}

async fn reload(app: &App, user: &User) -> Option<User> {
    app.store.get_user(&user.id).await.expect("read")
}

/// A fixture aimed at `target` and sent by `caller`, with an optional new body.
fn aimed(
    name: &str,
    caller: &User,
    target: Option<&User>,
    body: Option<Value>,
) -> lambda_http::Request {
    event(name, |e| {
        as_caller(e, caller);
        if let Some(target) = target {
            e["pathParameters"]["userId"] = json!(target.id.to_string());
        }
        if let Some(body) = body {
            e["body"] = json!(body.to_string());
        }
    })
}

fn code_of(response: &lambda_http::Response<lambda_http::Body>) -> Value {
    json_of(response)["errors"][0]["errorCode"].clone()
}

#[tokio::test]
async fn list_users_pages_sorts_filters_and_links() {
    let (app, admin) = seeded().await;
    let mut payors = Vec::new();
    for i in 0..5 {
        let mut payor = user(
            &format!("p{i}-{}", unique_email()),
            UserType::Payor,
            Some(ENTITY),
            &[Role::PayorAdmin],
        );
        payor.last_name = Some(format!("Zed{}", 9 - i).try_into().expect("name"));
        if i == 4 {
            payor.status = UserStatus::Disabled;
        }
        payors.push(store(&app, payor).await);
    }
    store(
        &app,
        user(
            &unique_email(),
            UserType::Payee,
            Some(OTHER_ENTITY),
            &[Role::PayeeAdmin],
        ),
    )
    .await;

    for name in ["list-users.json", "list-users.rest-v1.json"] {
        let response = velo::list_users(&app, event(name, |e| as_caller(e, &admin))).await;
        assert_eq!(response.status(), 200, "{name}");
        let body = json_of(&response);
        assert_eq!(
            body["page"],
            json!({"numberOfElements": 5, "totalElements": 5, "totalPages": 1, "page": 1, "pageSize": 10})
        );
        let emails: Vec<&str> = body["content"]
            .as_array()
            .expect("content")
            .iter()
            .map(|u| u["email"].as_str().expect("email"))
            .collect();
        let mut sorted = emails.clone();
        sorted.sort();
        assert_eq!(emails, sorted, "email:asc by default");
        assert_eq!(
            body["content"][0]["roles"],
            json!([{"name": "velo.payor.admin"}])
        );
        let rels: Vec<&str> = body["links"]
            .as_array()
            .expect("links")
            .iter()
            .map(|l| l["rel"].as_str().expect("rel"))
            .collect();
        assert_eq!(rels, ["first", "self", "last"]);
    }

    let query = |params: &[(&str, &str)]| {
        let params: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let admin = admin.clone();
        event("list-users.json", move |e| {
            as_caller(e, &admin);
            let map: serde_json::Map<String, Value> =
                params.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
            e["queryStringParameters"] = Value::Object(map);
            e["rawQueryString"] = json!(params
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&"));
        })
    };
    let page2 = json_of(
        &velo::list_users(
            &app,
            query(&[
                ("entityId", ENTITY),
                ("pageSize", "2"),
                ("page", "2"),
                ("sort", "lastName:desc"),
            ]),
        )
        .await,
    );
    assert_eq!(
        page2["page"],
        json!({"numberOfElements": 2, "totalElements": 5, "totalPages": 3, "page": 2, "pageSize": 2})
    );
    let last_names: Vec<&str> = page2["content"]
        .as_array()
        .expect("content")
        .iter()
        .map(|u| u["lastName"].as_str().expect("name"))
        .collect();
    assert_eq!(last_names, ["Zed7", "Zed6"]);
    let rels: Vec<&str> = page2["links"]
        .as_array()
        .expect("links")
        .iter()
        .map(|l| l["rel"].as_str().expect("rel"))
        .collect();
    assert_eq!(rels, ["first", "self", "next", "prev", "last"]);
    let next = page2["links"][2]["href"].as_str().expect("href");
    assert!(
        next.contains("entityId=")
            && next.contains("page=3")
            && next.contains("pageSize=2")
            && next.contains("sort=lastName:desc"),
        "{next}"
    );

    let disabled =
        json_of(&velo::list_users(&app, query(&[("status", "DISABLED"), ("type", "PAYOR")])).await);
    assert_eq!(disabled["page"]["totalElements"], 1);
    assert_eq!(disabled["content"][0]["id"], payors[4].id.to_string());
    let beyond = json_of(&velo::list_users(&app, query(&[("page", "9")])).await);
    assert_eq!(beyond["content"], json!([]));
    assert_eq!(beyond["page"]["totalElements"], 7);
    let payees = json_of(&velo::list_users(&app, query(&[("payeeType", "COMPANY")])).await);
    assert_eq!(
        payees["page"]["totalElements"], 0,
        "no user here belongs to a payee entity of a known type"
    );

    for (name, value) in [
        ("pageSize", "0"),
        ("pageSize", "101"),
        ("page", "0"),
        ("page", "x"),
        ("sort", "name:asc"),
        ("type", "ROBOT"),
        ("status", "GONE"),
        ("entityId", "nope"),
        ("payeeType", "ROBOT"),
    ] {
        let response = velo::list_users(&app, query(&[(name, value)])).await;
        assert_eq!(response.status(), 400, "{name}={value}");
        let body = json_of(&response);
        assert_eq!(body["errors"][0]["location"], name);
        assert_eq!(body["errors"][0]["locationType"], "queryParam");
        assert_eq!(body["errors"][0]["errorCode"], "40010003");
    }

    // A payor admin sees only its own entity, and may not ask for another.
    let own = velo::list_users(
        &app,
        event("list-users.json", |e| {
            as_caller(e, &payors[0]);
            e["queryStringParameters"] = json!({});
            e["rawQueryString"] = json!("");
        }),
    )
    .await;
    assert_eq!(json_of(&own)["page"]["totalElements"], 5);
    let other = velo::list_users(
        &app,
        event("list-users.json", |e| {
            as_caller(e, &payors[0]);
            e["queryStringParameters"] = json!({"entityId": OTHER_ENTITY});
            e["rawQueryString"] = json!(format!("entityId={OTHER_ENTITY}"));
        }),
    )
    .await;
    assert_eq!(other.status(), 403);
}

#[tokio::test]
async fn delete_user_frees_the_email_revokes_tokens_and_then_is_404() {
    let (app, admin) = seeded().await;
    let email = unique_email();
    let invite = velo::invite_user(&app, event("invite-user.json", |e| {
        as_caller(e, &admin);
        e["body"] = json!(json!({"email": email, "mfaType": "TOTP", "smsNumber": "+4411223344556", "primaryContactNumber": "+4411223344556", "roles": ["velo.backoffice.admin"]}).to_string());
    })).await;
    assert_eq!(invite.status(), 204);
    let items = all_items(app.config.table_name.as_str()).await;
    let id = items
        .iter()
        .find_map(|i| {
            (i.get("email").and_then(|v| v.as_s().ok()) == Some(&email))
                .then(|| i["id"].as_s().expect("id").clone())
        })
        .expect("invited");
    let target = app
        .store
        .get_user(&id.parse().expect("id"))
        .await
        .expect("read")
        .expect("user");
    for name in ["delete-user.json", "delete-user.rest-v1.json"] {
        let expected = if name == "delete-user.json" { 204 } else { 404 };
        let response = velo::delete_user(&app, aimed(name, &admin, Some(&target), None)).await;
        assert_eq!(response.status(), expected, "{name}");
    }
    let left = all_items(app.config.table_name.as_str()).await;
    assert!(
        !format!("{left:?}").contains(&id),
        "no user, guard or token item remains: {left:?}"
    );
    let again = velo::invite_user(&app, event("invite-user.json", |e| {
        as_caller(e, &admin);
        e["body"] = json!(json!({"email": email, "mfaType": "TOTP", "smsNumber": "+4411223344556", "primaryContactNumber": "+4411223344556", "roles": ["velo.backoffice.admin"]}).to_string());
    })).await;
    assert_eq!(again.status(), 204, "the email is free again");
    let myself =
        velo::delete_user(&app, aimed("delete-user.json", &admin, Some(&admin), None)).await;
    assert_eq!(myself.status(), 400);
}

#[tokio::test]
async fn enable_disable_and_unlock_are_idempotent_and_not_for_oneself() {
    let (app, admin) = seeded().await;
    // A user that accepted its invitation, so it has a password (one that never went back to PENDING).
    let accepted = User {
        password_hash: Some(user_token_domain::domain::password::DECOY_HASH.to_owned()),
        ..user(
            &unique_email(),
            UserType::Payor,
            Some(ENTITY),
            &[Role::PayorSupport],
        )
    };
    let target = store(&app, accepted).await;
    for name in ["disable-user.json", "disable-user.rest-v1.json"] {
        assert_eq!(
            velo::disable_user(&app, aimed(name, &admin, Some(&target), None))
                .await
                .status(),
            204,
            "{name}"
        );
    }
    let disabled = reload(&app, &target).await.expect("user");
    assert_eq!(disabled.status, UserStatus::Disabled);
    assert!(
        disabled.tokens_valid_after.is_some(),
        "tokens issued so far are refused"
    );
    assert_eq!(disabled.version, 2, "the second disable changed nothing");
    for name in ["enable-user.json", "enable-user.rest-v1.json"] {
        assert_eq!(
            velo::enable_user(&app, aimed(name, &admin, Some(&target), None))
                .await
                .status(),
            204,
            "{name}"
        );
    }
    assert_eq!(
        reload(&app, &target).await.expect("user").status,
        UserStatus::Enabled
    );
    for response in [
        velo::disable_user(&app, aimed("disable-user.json", &admin, Some(&admin), None)).await,
        velo::enable_user(&app, aimed("enable-user.json", &admin, Some(&admin), None)).await,
    ] {
        assert_eq!(response.status(), 400);
        assert_eq!(json_of(&response)["errors"][0]["location"], "userId");
    }
    let mut pending = user(
        &unique_email(),
        UserType::Payor,
        Some(ENTITY),
        &[Role::PayorSupport],
    );
    pending.status = UserStatus::Pending;
    let pending = store(&app, pending).await;
    assert_eq!(
        velo::enable_user(
            &app,
            aimed("enable-user.json", &admin, Some(&pending), None)
        )
        .await
        .status(),
        400
    );

    let mut locked = user(
        &unique_email(),
        UserType::Payor,
        Some(ENTITY),
        &[Role::PayorSupport],
    );
    locked.locked_out = true;
    locked.locked_out_timestamp = Some(time::OffsetDateTime::now_utc());
    locked.failed_password_attempts = 5;
    let locked = store(&app, locked).await;
    let before = velo::get_user(&app, aimed("get-user.json", &admin, Some(&locked), None)).await;
    assert_eq!(json_of(&before)["lockedOut"], true);
    assert!(json_of(&before)["lockedOutTimestamp"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    for name in ["unlock-user.json", "unlock-user.rest-v1.json"] {
        assert_eq!(
            velo::unlock_user(&app, aimed(name, &admin, Some(&locked), None))
                .await
                .status(),
            204,
            "{name}"
        );
    }
    let after =
        json_of(&velo::get_user(&app, aimed("get-user.json", &admin, Some(&locked), None)).await);
    assert_eq!(
        (
            after["lockedOut"].clone(),
            after["lockedOutTimestamp"].clone()
        ),
        (json!(false), Value::Null)
    );
    let missing =
        velo::unlock_user(&app, event("unlock-user.json", |e| as_caller(e, &admin))).await;
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn role_update_checks_existence_rank_and_the_master_admin_code() {
    let table = fresh_table().await;
    let app = app_with(&table, |c| c.resend_cooldown = time::Duration::ZERO).await;
    let own_number = unique_phone();
    let admin = store(
        &app,
        User {
            sms_number: own_number.parse().expect("phone"),
            ..seed_admin().expect("seed")
        },
    )
    .await;
    let payor_admin = store(
        &app,
        user(
            &unique_email(),
            UserType::Payor,
            Some(ENTITY),
            &[Role::PayorAdmin],
        ),
    )
    .await;
    let support = store(
        &app,
        user(
            &unique_email(),
            UserType::Payor,
            Some(ENTITY),
            &[Role::PayorSupport],
        ),
    )
    .await;
    let master = store(
        &app,
        user(
            &unique_email(),
            UserType::Payor,
            Some(ENTITY),
            &[Role::PayorMasterAdmin],
        ),
    )
    .await;

    for name in ["role-update.json", "role-update.rest-v1.json"] {
        let response = velo::role_update(
            &app,
            aimed(
                name,
                &payor_admin,
                Some(&support),
                Some(json!({"roles": ["payor.admin"]})),
            ),
        )
        .await;
        assert_eq!(response.status(), 204, "{name}");
    }
    assert_eq!(
        reload(&app, &support).await.expect("user").roles,
        vec![Role::PayorAdmin]
    );
    let cases = [
        (json!({"roles": ["velo.unknown"]}), 400, "roles[0]"),
        (json!({"roles": ["velo.payee.admin"]}), 400, "roles[0]"),
        (json!({"roles": []}), 400, "roles"),
        (json!({"roles": ["velo.payor.master_admin"]}), 403, ""),
    ];
    for (body, status, location) in cases {
        let response = velo::role_update(
            &app,
            aimed(
                "role-update.json",
                &payor_admin,
                Some(&support),
                Some(body.clone()),
            ),
        )
        .await;
        assert_eq!(response.status(), status, "{body}");
        if !location.is_empty() {
            assert_eq!(json_of(&response)["errors"][0]["location"], location);
        }
    }
    // Changing a payor master admin needs the caller's one-time code.
    let no_code = velo::role_update(
        &app,
        aimed(
            "role-update.json",
            &admin,
            Some(&master),
            Some(json!({"roles": ["velo.payor.admin"]})),
        ),
    )
    .await;
    assert_eq!(no_code.status(), 400);
    assert_eq!(
        json_of(&no_code)["errors"][0]["location"],
        "verificationCode"
    );
    // The code must prove the caller's own registered number: one sent to any other number is refused.
    let code_to = |number: String| {
        let app = &app;
        let admin = &admin;
        async move {
            let registered = velo::register_sms(
                app,
                event("register-sms.json", |e| {
                    as_caller(e, admin);
                    e["body"] = json!(json!({"smsNumber": number}).to_string());
                }),
            )
            .await;
            assert_eq!(registered.status(), 204);
            let sms = outbox(&api_tests::endpoint()).await.expect("outbox");
            let message = &sms.sms_to(&number)[0].message;
            let start = message.find(|c: char| c.is_ascii_digit()).expect("code");
            message[start..start + 6].to_owned()
        }
    };
    let elsewhere = code_to(unique_phone()).await;
    let refused = velo::role_update(
        &app,
        aimed(
            "role-update.json",
            &admin,
            Some(&master),
            Some(json!({"roles": ["velo.payor.admin"], "verificationCode": elsewhere})),
        ),
    )
    .await;
    assert_eq!(
        (refused.status().as_u16(), code_of(&refused)),
        (400, json!("40010004")),
        "a code sent to a number the caller chose proves nothing"
    );
    assert_eq!(
        reload(&app, &master).await.expect("user").roles,
        vec![Role::PayorMasterAdmin]
    );
    let code = &code_to(own_number.clone()).await;
    let with_code = velo::role_update(
        &app,
        aimed(
            "role-update.json",
            &admin,
            Some(&master),
            Some(json!({"roles": ["velo.payor.admin"], "verificationCode": code})),
        ),
    )
    .await;
    assert_eq!(with_code.status(), 204);
    assert_eq!(
        reload(&app, &master).await.expect("user").roles,
        vec![Role::PayorAdmin]
    );
}

#[tokio::test]
async fn user_details_update_is_a_patch_that_moves_the_email_guard() {
    let (app, admin) = seeded().await;
    let target = store(
        &app,
        user(
            &unique_email(),
            UserType::Payor,
            Some(ENTITY),
            &[Role::PayorSupport],
        ),
    )
    .await;
    let taken = store(
        &app,
        user(
            &unique_email(),
            UserType::Payor,
            Some(ENTITY),
            &[Role::PayorSupport],
        ),
    )
    .await;
    let new_email = unique_email();
    for name in [
        "user-details-update.json",
        "user-details-update.rest-v1.json",
    ] {
        let response = velo::user_details_update(&app, aimed(name, &admin, Some(&target), Some(json!({"firstName": "Johnny", "secondaryContactNumber": null, "email": new_email})))).await;
        assert_eq!(response.status(), 204, "{name}");
    }
    let changed = reload(&app, &target).await.expect("user");
    assert_eq!(
        changed.first_name.as_ref().map(|n| n.as_str()),
        Some("Johnny")
    );
    assert_eq!(changed.secondary_contact_number, None, "null clears");
    assert_eq!(changed.last_name, target.last_name, "absent leaves alone");
    assert_eq!(changed.sms_number, target.sms_number);
    assert_eq!(changed.email.as_str(), new_email);
    // The old address is free, the new one taken.
    let old_free = store(
        &app,
        user(
            target.email.as_str(),
            UserType::Payor,
            Some(ENTITY),
            &[Role::PayorSupport],
        ),
    )
    .await;
    assert_eq!(old_free.email, target.email);
    let duplicate = velo::user_details_update(
        &app,
        aimed(
            "user-details-update.json",
            &admin,
            Some(&target),
            Some(json!({"email": taken.email.as_str().to_uppercase()})),
        ),
    )
    .await;
    assert_eq!(duplicate.status(), 409);
    assert_eq!(json_of(&duplicate)["errors"][0]["location"], "email");
    for (body, location) in [
        (json!({"email": null}), "email"),
        (json!({"smsNumber": "123"}), "smsNumber"),
        (json!({"mfaType": "FAX"}), "mfaType"),
        (json!({"firstName": ""}), "firstName"),
    ] {
        let response = velo::user_details_update(
            &app,
            aimed(
                "user-details-update.json",
                &admin,
                Some(&target),
                Some(body.clone()),
            ),
        )
        .await;
        assert_eq!(response.status(), 400, "{body}");
        assert_eq!(json_of(&response)["errors"][0]["location"], location);
    }
    let master = store(
        &app,
        user(
            &unique_email(),
            UserType::Payor,
            Some(ENTITY),
            &[Role::PayorMasterAdmin],
        ),
    )
    .await;
    let needs_code = velo::user_details_update(
        &app,
        aimed(
            "user-details-update.json",
            &admin,
            Some(&master),
            Some(json!({"firstName": "M"})),
        ),
    )
    .await;
    assert_eq!(needs_code.status(), 400);
    assert_eq!(
        json_of(&needs_code)["errors"][0]["location"],
        "verificationCode"
    );
}

#[tokio::test]
async fn user_details_update_self_is_for_payees_only() {
    let (app, admin) = seeded().await;
    let payee = store(
        &app,
        user(
            &unique_email(),
            UserType::Payee,
            Some(OTHER_ENTITY),
            &[Role::PayeeSupport],
        ),
    )
    .await;
    for name in [
        "user-details-update-self.json",
        "user-details-update-self.rest-v1.json",
    ] {
        let response = velo::user_details_update_self(
            &app,
            aimed(
                name,
                &payee,
                None,
                Some(json!({"lastName": "Doe-Smith", "secondaryContactNumber": null})),
            ),
        )
        .await;
        assert_eq!(response.status(), 204, "{name}");
    }
    let changed = reload(&app, &payee).await.expect("user");
    assert_eq!(
        changed.last_name.as_ref().map(|n| n.as_str()),
        Some("Doe-Smith")
    );
    assert_eq!(changed.secondary_contact_number, None);
    let not_payee = velo::user_details_update_self(
        &app,
        aimed("user-details-update-self.json", &admin, None, None),
    )
    .await;
    assert_eq!(not_payee.status(), 403);
    assert_eq!(code_of(&not_payee), "40310001");
}

#[tokio::test]
async fn unregister_mfa_clears_the_registration_and_emails_a_registration_link() {
    let (app, admin) = seeded().await;
    let target = store(
        &app,
        user(
            &unique_email(),
            UserType::Payor,
            Some(ENTITY),
            &[Role::PayorSupport],
        ),
    )
    .await;
    let response = velo::unregister_mfa(
        &app,
        aimed("unregister-mfa.json", &admin, Some(&target), None),
    )
    .await;
    assert_eq!(response.status(), 204);
    let changed = reload(&app, &target).await.expect("user");
    assert_eq!(changed.mfa_status, MfaStatus::Unregistered);
    let sent = outbox(&api_tests::endpoint()).await.expect("outbox");
    let mails = sent.emails_to(target.email.as_str());
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].subject, "Register your MFA device");
    assert!(mails[0]
        .body
        .contains("https://app.example.com/mfa-registration?token="));
    // Within the cooldown a second unregistration is refused, and the user stays as it is.
    let again = velo::unregister_mfa(
        &app,
        aimed("unregister-mfa.rest-v1.json", &admin, Some(&target), None),
    )
    .await;
    assert_eq!(again.status(), 400);
    assert_eq!(code_of(&again), "40010007");
    let wrong_type = velo::unregister_mfa(
        &app,
        aimed(
            "unregister-mfa.json",
            &admin,
            Some(&target),
            Some(json!({"mfaType": "YUBIKEY"})),
        ),
    )
    .await;
    assert_eq!(wrong_type.status(), 400);
    let sms_not_allowed = velo::unregister_mfa(
        &app,
        aimed(
            "unregister-mfa.json",
            &admin,
            Some(&target),
            Some(json!({"mfaType": "SMS"})),
        ),
    )
    .await;
    assert_eq!(sms_not_allowed.status(), 400);
    assert_eq!(
        json_of(&sms_not_allowed)["errors"][0]["location"],
        "mfaType"
    );

    let mut sms_user = user(
        &unique_email(),
        UserType::Payee,
        Some(OTHER_ENTITY),
        &[Role::PayeeSupport],
    );
    sms_user.mfa_type = MfaType::Sms;
    let sms_user = store(&app, sms_user).await;
    for name in [
        "unregister-mfa-self.json",
        "unregister-mfa-self.rest-v1.json",
    ] {
        let expected = if name == "unregister-mfa-self.json" {
            204
        } else {
            400
        };
        let response = velo::unregister_mfa_self(
            &app,
            aimed(name, &sms_user, None, Some(json!({"mfaType": "SMS"}))),
        )
        .await;
        assert_eq!(
            response.status(),
            expected,
            "{name}: the second is inside the cooldown"
        );
    }
    assert_eq!(
        reload(&app, &sms_user).await.expect("user").mfa_status,
        MfaStatus::Unregistered
    );
}

#[tokio::test]
async fn passwords_are_checked_scored_kept_as_argon2id_and_lock_out_after_five_failures() {
    let (app, admin) = seeded().await;
    let body = |old: &str, new: &str| Some(json!({"oldPassword": old, "newPassword": new}));
    let weak = velo::update_password_self(
        &app,
        aimed(
            "update-password-self.json",
            &admin,
            None,
            body(SEED_ADMIN_PASSWORD, "password1234"),
        ),
    )
    .await;
    assert_eq!(weak.status(), 400);
    assert_eq!(json_of(&weak)["errors"][0]["location"], "newPassword");
    let reuse = velo::update_password_self(
        &app,
        aimed(
            "update-password-self.json",
            &admin,
            None,
            body(SEED_ADMIN_PASSWORD, SEED_ADMIN_PASSWORD),
        ),
    )
    .await;
    assert_eq!(reuse.status(), 400);
    let short = velo::update_password_self(
        &app,
        aimed(
            "update-password-self.json",
            &admin,
            None,
            body("short", "a lantern swinging over cold water"),
        ),
    )
    .await;
    assert_eq!(json_of(&short)["errors"][0]["location"], "oldPassword");
    for name in [
        "update-password-self.json",
        "update-password-self.rest-v1.json",
    ] {
        let old = if name.contains("rest") {
            "a lantern swinging over cold water"
        } else {
            SEED_ADMIN_PASSWORD
        };
        let new = if name.contains("rest") {
            "seven otters juggling wet pebbles"
        } else {
            "a lantern swinging over cold water"
        };
        let response =
            velo::update_password_self(&app, aimed(name, &admin, None, body(old, new))).await;
        assert_eq!(response.status(), 204, "{name}");
    }
    let stored = reload(&app, &admin).await.expect("user");
    let hash = stored.password_hash.clone().expect("hash");
    assert!(hash.starts_with("$argon2id$"));
    assert!(password::matches(
        "seven otters juggling wet pebbles",
        &hash
    ));
    assert_eq!(stored.password_history.len(), 2);
    assert!(
        !format!("{:?}", all_items(app.config.table_name.as_str()).await).contains("otters"),
        "no password in clear"
    );

    let validate = |candidate: &str| {
        aimed(
            "validate-password-self.json",
            &admin,
            None,
            Some(json!({"password": candidate})),
        )
    };
    let strong = json_of(
        &velo::validate_password_self(&app, validate("quartz lemurs debate midnight tides")).await,
    );
    assert_eq!(strong["valid"], true);
    assert!(strong["score"].as_u64().is_some_and(|s| s >= 3));
    assert!(strong["suggestions"].is_array());
    let historic =
        json_of(&velo::validate_password_self(&app, validate(SEED_ADMIN_PASSWORD)).await);
    assert_eq!(
        historic,
        json!({"score": 0, "valid": false, "warning": "Historic Password", "suggestions": ["[password has been used before]"]})
    );
    let weak = json_of(&velo::validate_password_self(&app, validate("password1234")).await);
    assert_eq!(weak["valid"], false);
    let rest = velo::validate_password_self(
        &app,
        aimed("validate-password-self.rest-v1.json", &admin, None, None),
    )
    .await;
    assert_eq!(rest.status(), 200);

    for attempt in 1..=5 {
        let response = velo::update_password_self(
            &app,
            aimed(
                "update-password-self.json",
                &admin,
                None,
                body(
                    "not the password at all",
                    "quartz lemurs debate midnight tides",
                ),
            ),
        )
        .await;
        assert_eq!(response.status(), 400, "attempt {attempt}");
    }
    let locked = reload(&app, &admin).await.expect("user");
    assert!(locked.locked_out && locked.locked_out_timestamp.is_some());
    let refused = velo::update_password_self(
        &app,
        aimed(
            "update-password-self.json",
            &admin,
            None,
            body(
                "seven otters juggling wet pebbles",
                "quartz lemurs debate midnight tides",
            ),
        ),
    )
    .await;
    assert_eq!(
        refused.status(),
        403,
        "locked out, even with the right password"
    );
}
