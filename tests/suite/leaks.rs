//! No secret leaks: every kind of code, token, link and TOTP secret issued through the gateway is absent, in clear, from every function
//! log line and every table item.

use api_tests::{all_items, shared_stack, unique_email, unique_phone};
#[allow(unused_imports)]
use api_tests::{
    DeviceStore as _, SessionStore as _, StoreWidget as _, TokenStore as _, UserStore as _,
};
use local_stack::emulator::outbox;
use local_stack::stack::{SEED_ADMIN_ID, SEED_WIDGET_ID};
use serde_json::json;

/// The first run of `length` characters of `alphabet` after `marker` in `text`.
fn after(text: &str, marker: &str, length: usize, alphabet: fn(char) -> bool) -> String {
    let start = text
        .find(marker)
        .unwrap_or_else(|| panic!("{marker:?} in {text:?}"))
        + marker.len();
    let code: String = text[start..].chars().take_while(|c| alphabet(*c)).collect();
    assert!(code.len() >= length, "{marker:?} then a code in {text:?}");
    code
}

/// Whether `code` stands in `haystack` as a whole word (six-character codes would otherwise match inside longer runs
/// of digits, such as timestamps).
fn contains_word(haystack: &str, code: &str) -> bool {
    haystack.match_indices(code).any(|(at, _)| {
        let before = haystack[..at].chars().next_back();
        let after = haystack[at + code.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_alphanumeric())
            && !after.is_some_and(|c| c.is_ascii_alphanumeric())
    })
}

#[tokio::test]
async fn no_code_or_token_issued_through_the_gateway_is_in_any_log_or_table_item() {
    let stack = shared_stack();
    let client = reqwest::Client::new();
    let token = stack.token_for(SEED_ADMIN_ID.parse().expect("id"));
    let post = |path: String, body: serde_json::Value| {
        client
            .post(format!("{}{path}", stack.base_url))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let (email, phone, sigma_phone) = (unique_email(), unique_phone(), unique_phone());
    // A caller of its own for register-sms: the code's cooldown is per caller, and other tests use the admin's.
    let registrant = api_tests::user(
        &unique_email(),
        user_token_domain::domain::UserType::Backoffice,
        None,
        &[user_token_domain::domain::Role::BackofficeAdmin],
    );
    let store = api_tests::app(&stack.table).await.store;
    store.create_user(&registrant).await.expect("stored");
    // An approver of its own: other tests (schemathesis among them) send tokens to the seeded account's approver.
    let (account, approver) = (
        user_token_domain::domain::AccountKey::random(),
        unique_email(),
    );
    store
        .create_account(&user_token_domain::domain::device::Account {
            account_key: account,
            status: user_token_domain::domain::device::AccountStatus::Active,
            approvers: vec![user_token_domain::domain::device::Approver {
                document_number: "12345678909".parse().expect("document"),
                phone: unique_phone().parse().expect("phone"),
                email: approver.parse().expect("email"),
            }],
            created_at: time::OffsetDateTime::now_utc(),
        })
        .await
        .expect("account created");
    let registrant_token = stack.token_for(registrant.id);
    let invited = post(
        "/v2/users/invite".into(),
        json!({"email": email, "mfaType": "SMS", "smsNumber": "+4411223344556",
        "primaryContactNumber": "+4411223344556", "roles": ["velo.backoffice.admin"]}),
    );
    assert_eq!(invited.await.expect("invite").status(), 204);
    let registered = client
        .post(format!("{}/v2/users/registration/sms", stack.base_url))
        .bearer_auth(&registrant_token)
        .json(&json!({"smsNumber": phone}))
        .send();
    assert_eq!(registered.await.expect("sms").status(), 204);
    let device = uuid::Uuid::new_v4();
    let created = post(
        format!("/account/{account}/device"),
        json!({"device_key": device, "session_id": uuid::Uuid::new_v4().to_string(),
               "tfa_info": {"approver_document_number": "12345678909", "contact_type": "email"}}),
    );
    assert_eq!(created.await.expect("device").status(), 202);
    let started = post(
        "/api/n/otp-handler/".into(),
        json!({"widgetId": SEED_WIDGET_ID, "recipient": sigma_phone}),
    );
    assert_eq!(started.await.expect("otp").status(), 201);

    // Registering factors: a TOTP user's secret and its code, an SMS user's enrolment code; and a reset link.
    let password = "quiet lanterns over the harbour 1906";
    let hash = user_token_domain::domain::password::hash(
        &password.to_owned().try_into().expect("password"),
    )
    .expect("hash");
    let factor_user = |mfa_type| user_token_domain::domain::User {
        mfa_type,
        mfa_status: user_token_domain::domain::MfaStatus::Unregistered,
        password_hash: Some(hash.clone()),
        ..api_tests::user(
            &unique_email(),
            user_token_domain::domain::UserType::Backoffice,
            None,
            &[user_token_domain::domain::Role::BackofficeAdmin],
        )
    };
    let (totp_user, sms_user) = (
        factor_user(user_token_domain::domain::MfaType::Totp),
        factor_user(user_token_domain::domain::MfaType::Sms),
    );
    store.create_user(&totp_user).await.expect("stored");
    store.create_user(&sms_user).await.expect("stored");
    let pre_auth = |user: &user_token_domain::domain::User| {
        let request = client
            .post(format!(
                "{}/v1/authenticate?grant_type=password",
                stack.base_url
            ))
            .basic_auth(user.email.as_str(), Some(password))
            .send();
        async move {
            let answer: serde_json::Value =
                request.await.expect("sign-in").json().await.expect("JSON");
            answer["access_token"]
                .as_str()
                .expect("a PRE_AUTH token")
                .to_owned()
        }
    };
    let register = |bearer: String| {
        client
            .post(format!("{}/v1/mfa/register", stack.base_url))
            .bearer_auth(bearer)
            .json(&json!({}))
            .send()
    };
    let totp_bearer = pre_auth(&totp_user).await;
    let registration: serde_json::Value = register(totp_bearer.clone())
        .await
        .expect("register")
        .json()
        .await
        .expect("JSON");
    let totp_secret = registration["secret"]
        .as_str()
        .expect("a secret")
        .to_owned();
    let totp_code = user_token_domain::domain::totp::TotpSecret::from_base32(&totp_secret)
        .expect("base32")
        .code_at(time::OffsetDateTime::now_utc());
    let confirmed = client
        .post(format!("{}/v1/mfa/register/confirm", stack.base_url))
        .bearer_auth(&totp_bearer)
        .json(&json!({"otp": totp_code}))
        .send();
    assert_eq!(confirmed.await.expect("confirm").status(), 200);
    let sms_bearer = pre_auth(&sms_user).await;
    assert_eq!(register(sms_bearer).await.expect("register").status(), 200);
    let reset = client
        .post(format!("{}/v1/password/reset", stack.base_url))
        .json(&json!({"email": registrant.email.as_str()}))
        .send();
    assert_eq!(reset.await.expect("reset").status(), 204);

    let sent = outbox(&api_tests::endpoint()).await.expect("outbox");
    // A link's token is `<userId>.<secret>`: the user's id is no secret, the rest is.
    let link = after(&sent.emails_to(&email)[0].body, "token=", 80, |c| {
        c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'
    })
    .split_once('.')
    .map(|(_, secret)| secret.to_owned())
    .expect("a link token");
    assert_eq!(link.len(), 43);
    let reset_link = after(
        &sent.emails_to(registrant.email.as_str())[0].body,
        "token=",
        80,
        |c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.',
    )
    .split_once('.')
    .map(|(_, secret)| secret.to_owned())
    .expect("a reset link");
    let enrolment_code = after(
        &sent.sms_to(sms_user.sms_number.as_str())[0].message,
        "sign-in is ",
        6,
        |c| c.is_ascii_digit(),
    );
    let sms_code = after(&sent.sms_to(&phone)[0].message, "is ", 6, |c| {
        c.is_ascii_digit()
    });
    let otp_code = after(&sent.sms_to(&sigma_phone)[0].message, ": ", 6, |c| {
        c.is_ascii_digit()
    });
    let device_token = after(&sent.emails_to(&approver)[0].body, "<strong>", 6, |c| {
        c.is_ascii_alphanumeric()
    });

    let logs: String = std::fs::read_dir(&stack.log_dir)
        .expect("function logs")
        .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path()).ok())
        .collect();
    let items = format!("{:?}", all_items(&stack.table).await);
    for (what, secret) in [
        ("invitation link", &link),
        ("SMS code", &sms_code),
        ("OTP", &otp_code),
        ("device token", &device_token),
        ("password-reset link", &reset_link),
        ("MFA enrolment code", &enrolment_code),
        ("TOTP secret", &totp_secret),
        ("TOTP code", &totp_code),
    ] {
        assert!(!contains_word(&logs, secret), "the {what} is in a log line");
        assert!(
            !contains_word(&items, secret),
            "the {what} is in a table item"
        );
    }
    for (what, address) in [
        ("email", email.as_str()),
        ("phone", phone.as_str()),
        ("phone", sigma_phone.as_str()),
    ] {
        assert!(!logs.contains(address), "a {what} in clear in the logs");
    }
}
