//! The token engine's rules, each proven against the emulator: storage, lifetime, verification, resend, quota,
//! channels, delivery failure and concurrency.

use api_tests::{
    all_items, app, app_with, app_with_dead_messaging, fresh_table, unique_email, unique_phone,
};
#[allow(unused_imports)]
use api_tests::{
    DeviceStore as _, SessionStore as _, StoreWidget as _, TokenStore as _, UserStore as _,
};
use aws_sdk_dynamodb::types::AttributeValue;
use local_stack::emulator::outbox;
use std::collections::HashMap;
use time::Duration;
use user_token_domain::domain::sending::Requester;
use user_token_domain::domain::token::{LiveToken, SendMode, Subject, TokenPurpose};
use user_token_domain::domain::{DomainError, UserId};
use user_token_domain::engine::messages::Locale;
use user_token_domain::engine::{Recipient, SendRequest, Sent};
use user_token_domain::App;

/// A quota slot that never binds.
fn quota_slot(key: &str) -> user_token_domain::ports::QuotaSlot {
    user_token_domain::ports::QuotaSlot::at(
        user_token_domain::ports::QuotaScope::Recipient,
        key.into(),
        100,
        600,
        0,
    )
}

fn new_subject() -> Subject {
    Subject::User(UserId::random())
}

fn request(
    app: &App,
    subject: &Subject,
    mode: SendMode,
    current: Option<LiveToken>,
    candidates: Vec<Recipient>,
    cascade: bool,
) -> SendRequest {
    SendRequest {
        subject: subject.clone(),
        requester: Requester::new("user:engine-tests", "entity:engine-tests"),
        purpose: TokenPurpose::OtpSession,
        mode,
        current,
        candidates,
        cascade,
        policy: app.config.otp_policy(),
        spent_attempts: 0,
        locale: Locale::Ru,
        link_base: String::new(),
        companions: Vec::new(),
        undo: Vec::new(),
    }
}

async fn send(
    app: &App,
    subject: &Subject,
    mode: SendMode,
    to: Recipient,
) -> Result<Sent, DomainError> {
    let current = app
        .store
        .get_token(subject, TokenPurpose::OtpSession)
        .await
        .expect("read");
    app.engine()
        .expect("engine")
        .send(request(app, subject, mode, current, vec![to], false))
        .await
}

async fn verify(app: &App, subject: &Subject, code: &str) -> Result<(), DomainError> {
    let current = app
        .store
        .get_token(subject, TokenPurpose::OtpSession)
        .await
        .expect("read");
    app.engine()
        .expect("engine")
        .verify(current, subject, TokenPurpose::OtpSession, code)
        .await
}

fn phone(number: &str) -> Recipient {
    Recipient::Phone(number.parse().expect("phone"))
}

/// The six-digit codes sent by SMS to `number`, oldest first.
async fn sms_codes(number: &str) -> Vec<String> {
    outbox(&api_tests::endpoint())
        .await
        .expect("outbox")
        .sms_to(number)
        .iter()
        .map(|sms| {
            let start = sms
                .message
                .find(|c: char| c.is_ascii_digit())
                .expect("a code");
            sms.message[start..start + 6].to_owned()
        })
        .collect()
}

fn numeric(item: &HashMap<String, AttributeValue>, name: &str) -> i64 {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse().expect("number"),
        other => panic!("{name}: {other:?}"),
    }
}

fn wrong(code: &str) -> String {
    code.chars()
        .map(|c| {
            if c == '9' {
                '0'
            } else {
                char::from(c as u8 + 1)
            }
        })
        .collect()
}

#[tokio::test]
async fn an_sms_code_is_six_digits_stored_only_as_a_keyed_hash_and_sent_in_russian() {
    let table = fresh_table().await;
    let app = app(&table).await;
    let (subject, number) = (new_subject(), unique_phone());
    let sent = send(&app, &subject, SendMode::Issue, phone(&number))
        .await
        .expect("sent");
    assert_eq!(
        sent.token.expires_at - sent.token.issued_at,
        Duration::minutes(5)
    );
    let codes = sms_codes(&number).await;
    assert_eq!(codes.len(), 1);
    assert!(codes[0].bytes().all(|b| b.is_ascii_digit()));
    let message = &outbox(&api_tests::endpoint())
        .await
        .expect("outbox")
        .sms_to(&number)[0]
        .message
        .clone();
    assert!(
        message.starts_with("Ваш код подтверждения") && message.contains("UTC"),
        "{message}"
    );
    let items = format!("{:?}", all_items(&table).await);
    assert!(
        !items.contains(&codes[0]),
        "the code appears nowhere in the table"
    );
    assert!(
        !items.contains(&number),
        "the recipient appears nowhere in the table"
    );
    assert_eq!(verify(&app, &subject, &codes[0]).await, Ok(()));
}

#[tokio::test]
async fn a_code_is_single_use_and_dies_at_expiry() {
    let table = fresh_table().await;
    // Stored times are whole seconds, so a 1 s lifetime can end at once: 2 s leaves at least one.
    let app = app_with(&table, |config| config.otp_ttl = Duration::seconds(2)).await;
    let (subject, number) = (new_subject(), unique_phone());
    send(&app, &subject, SendMode::Issue, phone(&number))
        .await
        .expect("sent");
    let code = sms_codes(&number).await.remove(0);
    assert_eq!(verify(&app, &subject, &code).await, Ok(()));
    assert_eq!(
        verify(&app, &subject, &code).await,
        Err(DomainError::NotFound("code")),
        "single use"
    );

    let (late, late_number) = (new_subject(), unique_phone());
    send(&app, &late, SendMode::Issue, phone(&late_number))
        .await
        .expect("sent");
    let late_code = sms_codes(&late_number).await.remove(0);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(
        verify(&app, &late, &late_code).await,
        Err(DomainError::CodeExpired)
    );
}

#[tokio::test]
async fn five_wrong_attempts_kill_the_code_and_it_cannot_be_resent() {
    let table = fresh_table().await;
    let app = app_with(&table, |config| config.resend_cooldown = Duration::ZERO).await;
    let (subject, number) = (new_subject(), unique_phone());
    send(&app, &subject, SendMode::Issue, phone(&number))
        .await
        .expect("sent");
    let code = sms_codes(&number).await.remove(0);
    for remaining in (0..5).rev() {
        assert_eq!(
            verify(&app, &subject, &wrong(&code)).await,
            Err(DomainError::IncorrectCode {
                remaining_attempts: remaining
            })
        );
    }
    assert_eq!(
        verify(&app, &subject, &code).await,
        Err(DomainError::AttemptsExhausted),
        "dead, even for the right code"
    );
    assert_eq!(
        send(&app, &subject, SendMode::Resend, phone(&number))
            .await
            .err(),
        Some(DomainError::AttemptsExhausted)
    );
    assert_eq!(sms_codes(&number).await.len(), 1, "nothing more was sent");
}

#[tokio::test]
async fn a_resend_revokes_the_old_code_keeps_the_attempt_count_and_restarts_the_lifetime() {
    let table = fresh_table().await;
    let app = app_with(&table, |config| config.resend_cooldown = Duration::ZERO).await;
    let (subject, number) = (new_subject(), unique_phone());
    let first = send(&app, &subject, SendMode::Issue, phone(&number))
        .await
        .expect("sent");
    let old = sms_codes(&number).await.remove(0);
    assert!(verify(&app, &subject, &wrong(&old)).await.is_err());
    assert!(verify(&app, &subject, &wrong(&old)).await.is_err());
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    let second = send(&app, &subject, SendMode::Resend, phone(&number))
        .await
        .expect("resent");
    assert!(
        second.token.expires_at > first.token.expires_at,
        "the lifetime restarts"
    );
    let stored = app
        .store
        .get_token(&subject, TokenPurpose::OtpSession)
        .await
        .expect("read")
        .expect("token");
    assert_eq!(
        stored.failed_attempts, 2,
        "a resend does not reset attempts"
    );
    let codes = sms_codes(&number).await;
    assert_eq!(codes.len(), 2);
    if codes[1] != old {
        assert_eq!(
            verify(&app, &subject, &old).await,
            Err(DomainError::IncorrectCode {
                remaining_attempts: 2
            }),
            "the old code is revoked"
        );
    }
    assert_eq!(verify(&app, &subject, &codes[1]).await, Ok(()));
}

#[tokio::test]
async fn a_resend_inside_the_cooldown_is_refused_with_the_wait() {
    let table = fresh_table().await;
    let app = app(&table).await;
    let (subject, number) = (new_subject(), unique_phone());
    send(&app, &subject, SendMode::Issue, phone(&number))
        .await
        .expect("sent");
    match send(&app, &subject, SendMode::Resend, phone(&number)).await {
        Err(DomainError::CooldownActive { retry_after_secs }) => {
            assert!((1..=60).contains(&retry_after_secs))
        }
        other => panic!("expected the cooldown, got {other:?}"),
    }
    assert_eq!(
        send(&app, &new_subject(), SendMode::Resend, phone(&number))
            .await
            .err(),
        Some(DomainError::NotFound("token"))
    );
}

#[tokio::test]
async fn the_table_refuses_a_new_code_inside_the_cooldown_of_a_used_one() {
    let table = fresh_table().await;
    let app = app(&table).await;
    let (subject, number) = (new_subject(), unique_phone());
    send(&app, &subject, SendMode::Issue, phone(&number))
        .await
        .expect("sent");
    let code = sms_codes(&number).await.remove(0);
    assert_eq!(verify(&app, &subject, &code).await, Ok(()));
    let used = app
        .store
        .get_token(&subject, TokenPurpose::OtpSession)
        .await
        .expect("read")
        .expect("the used code");
    assert!(used.consumed);

    // The engine's rule: used or not, the last code's cooldown holds.
    match send(&app, &subject, SendMode::Issue, phone(&number)).await {
        Err(DomainError::CooldownActive { retry_after_secs }) => {
            assert!((1..=60).contains(&retry_after_secs), "{retry_after_secs}")
        }
        other => panic!("expected the cooldown, got {other:?}"),
    }
    // And the table's condition, against a writer that judged nothing: the used item, as read, is not replaced.
    let (mut next, _) = LiveToken::issue(
        app.hasher.as_ref().expect("hasher"),
        subject.clone(),
        TokenPurpose::OtpSession,
        user_token_domain::domain::token::Channel::Sms,
        app.config.otp_policy(),
        time::OffsetDateTime::now_utc(),
    );
    next.version = used.version + 1;
    let slot = quota_slot("cooldown");
    assert_eq!(
        app.store
            .reserve_send(Some(&used), &next, &[slot], &[])
            .await,
        Err(user_token_domain::ports::ReserveError::Raced)
    );
    assert_eq!(
        app.store
            .get_token(&subject, TokenPurpose::OtpSession)
            .await
            .expect("read"),
        Some(used),
        "the used code stands"
    );
    assert_eq!(sms_codes(&number).await.len(), 1, "one SMS in the cooldown");
}

#[tokio::test]
async fn fifty_simultaneous_resends_leave_one_accepted_and_one_live_code() {
    let table = fresh_table().await;
    let app = app(&table).await;
    let (subject, number) = (new_subject(), unique_phone());
    let engine = app.engine().expect("engine");
    // The first code went out long enough ago for one resend to be due.
    let (mut first, _) = LiveToken::issue(
        app.hasher.as_ref().expect("hasher"),
        subject.clone(),
        TokenPurpose::OtpSession,
        user_token_domain::domain::token::Channel::Sms,
        app.config.otp_policy(),
        time::OffsetDateTime::now_utc() - Duration::seconds(120),
    );
    first.expires_at = time::OffsetDateTime::now_utc() + Duration::minutes(3);
    app.store
        .reserve_send(None, &first, &[quota_slot("seed")], &[])
        .await
        .expect("seeded");

    let attempts = (0..50).map(|_| {
        let request = request(
            &app,
            &subject,
            SendMode::Resend,
            Some(first.clone()),
            vec![phone(&number)],
            false,
        );
        let engine = &engine;
        async move { engine.send(request).await }
    });
    let outcomes = futures_util::future::join_all(attempts).await;
    let accepted = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
    let cooled = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Err(DomainError::CooldownActive { .. })))
        .count();
    assert_eq!((accepted, cooled), (1, 49), "{outcomes:?}");
    let codes = sms_codes(&number).await;
    assert_eq!(codes.len(), 1, "exactly one new code went out");
    let tokens: Vec<_> = all_items(&table)
        .await
        .into_iter()
        .filter(|item| {
            item.get("pk")
                == Some(&AttributeValue::S(
                    user_token_domain::adapters::dynamodb::keys::subject_pk(&subject),
                ))
        })
        .collect();
    assert_eq!(tokens.len(), 1, "one live code");
    assert_eq!(verify(&app, &subject, &codes[0]).await, Ok(()));
}

#[tokio::test]
async fn fifty_simultaneous_wrong_checks_never_pass_the_cap() {
    let table = fresh_table().await;
    let app = app(&table).await;
    let (subject, number) = (new_subject(), unique_phone());
    send(&app, &subject, SendMode::Issue, phone(&number))
        .await
        .expect("sent");
    let code = sms_codes(&number).await.remove(0);
    let current = app
        .store
        .get_token(&subject, TokenPurpose::OtpSession)
        .await
        .expect("read");
    let engine = app.engine().expect("engine");
    let guess = wrong(&code);
    let checks = (0..50).map(|_| {
        let (engine, current, subject, guess) =
            (&engine, current.clone(), subject.clone(), guess.clone());
        async move {
            engine
                .verify(current, &subject, TokenPurpose::OtpSession, &guess)
                .await
        }
    });
    let outcomes = futures_util::future::join_all(checks).await;
    let counted = outcomes
        .iter()
        .filter(|o| matches!(o, Err(DomainError::IncorrectCode { .. })))
        .count();
    let refused = outcomes
        .iter()
        .filter(|o| matches!(o, Err(DomainError::AttemptsExhausted)))
        .count();
    assert_eq!((counted, refused), (5, 45), "{outcomes:?}");
    let item = all_items(&table)
        .await
        .into_iter()
        .find(|item| {
            item.get("pk")
                == Some(&AttributeValue::S(
                    user_token_domain::adapters::dynamodb::keys::subject_pk(&subject),
                ))
        })
        .expect("token");
    assert_eq!(numeric(&item, "failedAttempts"), 5);
    assert_eq!(
        verify(&app, &subject, &code).await,
        Err(DomainError::AttemptsExhausted)
    );
}

/// SMS pumping: one caller starting codes to twenty numbers at once gets its budget's worth out, and no more.
#[tokio::test]
async fn twenty_simultaneous_texts_from_one_caller_send_its_budget_and_no_more() {
    let table = fresh_table().await;
    let app = app_with(&table, |config| config.sms.per_caller = 3).await;
    let engine = app.engine().expect("engine");
    let numbers: Vec<String> = (0..20).map(|_| unique_phone()).collect();
    let sends = numbers.iter().map(|number| {
        let request = request(
            &app,
            &new_subject(),
            SendMode::Issue,
            None,
            vec![phone(number)],
            false,
        );
        let engine = &engine;
        async move { engine.send(request).await.map(|_| ()) }
    });
    let outcomes = futures_util::future::join_all(sends).await;
    let sent = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
    let over_budget = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Err(DomainError::SendBudgetExhausted { retry_after_secs }) if (1..=3600).contains(retry_after_secs)))
        .count();
    assert_eq!((sent, over_budget), (3, 17), "{outcomes:?}");
    let mut texts = 0;
    for number in &numbers {
        texts += sms_codes(number).await.len();
    }
    assert_eq!(texts, 3, "only the budget's texts went out");
    // The counters in the table: the refused sends took nothing.
    let counters: Vec<i64> = all_items(&table)
        .await
        .into_iter()
        .filter(|item| matches!(item.get("pk"), Some(AttributeValue::S(pk)) if pk.starts_with("QUOTA#")))
        .map(|item| numeric(&item, "sends"))
        .collect();
    assert_eq!(
        counters.iter().sum::<i64>(),
        3 * 4,
        "recipient, caller, tenant and service, each counted three times: {counters:?}"
    );
    assert_eq!(
        counters.iter().max(),
        Some(&3),
        "the caller's count is its budget"
    );
}

#[tokio::test]
async fn at_most_five_sends_reach_one_recipient_in_a_window() {
    let table = fresh_table().await;
    let app = app(&table).await;
    let number = unique_phone();
    for _ in 0..5 {
        send(&app, &new_subject(), SendMode::Issue, phone(&number))
            .await
            .expect("within the quota");
    }
    match send(&app, &new_subject(), SendMode::Issue, phone(&number)).await {
        Err(DomainError::SendQuotaExceeded { retry_after_secs }) => {
            assert!((1..=600).contains(&retry_after_secs))
        }
        other => panic!("expected the quota, got {other:?}"),
    }
    assert_eq!(sms_codes(&number).await.len(), 5);
    // The refused send left no live code behind.
    let tokens = all_items(&table).await.into_iter().filter(|item| matches!(item.get("sk"), Some(AttributeValue::S(sk)) if sk.starts_with("TOKEN#"))).count();
    assert_eq!(tokens, 5);
}

#[tokio::test]
async fn a_failed_delivery_leaves_no_live_code_no_cooldown_and_no_quota_spent() {
    let table = fresh_table().await;
    let dead = app_with_dead_messaging(&table).await;
    let (subject, number) = (new_subject(), unique_phone());
    assert_eq!(
        send(&dead, &subject, SendMode::Issue, phone(&number))
            .await
            .err(),
        Some(DomainError::DeliveryFailed)
    );
    let items = all_items(&table).await;
    assert!(items.iter().all(
        |item| matches!(item.get("pk"), Some(AttributeValue::S(pk)) if pk.starts_with("QUOTA#"))
    ));
    assert!(items.iter().all(|item| numeric(item, "sends") == 0));
    // Neither the cooldown nor the quota was consumed: a healthy retry goes through at once.
    let healthy = app(&table).await;
    send(&healthy, &subject, SendMode::Issue, phone(&number))
        .await
        .expect("retry goes out");
    let live = sms_codes(&number).await.remove(0);

    // A failed resend restores the previous code, which stays good.
    let resend = app_with(&table, |config| config.resend_cooldown = Duration::ZERO).await;
    let dead_resend = App {
        messenger: dead.messenger.clone(),
        ..resend
    };
    assert_eq!(
        send(&dead_resend, &subject, SendMode::Resend, phone(&number))
            .await
            .err(),
        Some(DomainError::DeliveryFailed)
    );
    assert_eq!(verify(&healthy, &subject, &live).await, Ok(()));
}

#[tokio::test]
async fn a_channel_that_cannot_serve_gives_way_to_the_next_only_where_the_front_door_allows_it() {
    let table = fresh_table().await;
    let healthy = app(&table).await;
    let dead_sms = App {
        messenger: std::sync::Arc::new(
            user_token_domain::adapters::messaging::SnsSesMessenger::new(
                aws_sdk_sns::Client::new(
                    &local_stack::emulator::sdk_config("http://127.0.0.1:9").await,
                ),
                aws_sdk_sesv2::Client::new(
                    &local_stack::emulator::sdk_config(&api_tests::endpoint()).await,
                ),
                healthy.config.ses_sender.clone(),
            ),
        ),
        ..healthy
    };
    let (subject, number, email) = (new_subject(), unique_phone(), unique_email());
    let candidates = vec![
        phone(&number),
        Recipient::Email(email.parse().expect("email")),
    ];
    let engine = dead_sms.engine().expect("engine");
    let sent = engine
        .send(request(
            &dead_sms,
            &subject,
            SendMode::Issue,
            None,
            candidates.clone(),
            true,
        ))
        .await
        .expect("the email channel served");
    assert_eq!(sent.recipient, candidates[1]);
    let mail = outbox(&api_tests::endpoint()).await.expect("outbox");
    let mails = mail.emails_to(&email);
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].subject, "Код подтверждения");
    assert!(
        mails[0].body.contains("<strong>"),
        "the HTML part carries the code"
    );

    let strict = engine
        .send(request(
            &dead_sms,
            &new_subject(),
            SendMode::Issue,
            None,
            candidates,
            false,
        ))
        .await;
    assert_eq!(strict.err(), Some(DomainError::DeliveryFailed));
}

#[tokio::test]
async fn an_accepted_code_and_its_companion_writes_commit_together_or_not_at_all() {
    use user_token_domain::ports::Companion;
    let table = fresh_table().await;
    let app = app(&table).await;
    let (subject, number) = (new_subject(), unique_phone());
    send(&app, &subject, SendMode::Issue, phone(&number))
        .await
        .expect("sent");
    let code = sms_codes(&number).await.remove(0);
    let mut user = local_stack::stack::seed_admin().expect("user");
    user.id = UserId::random();
    user.email = unique_email().parse().expect("email");
    app.store.create_user(&user).await.expect("stored");
    let renamed = user_token_domain::domain::User {
        first_name: Some("Renamed".to_owned().try_into().expect("name")),
        ..user.clone()
    };
    let stale = user_token_domain::domain::User {
        version: user.version + 7,
        ..user.clone()
    };
    let engine = app.engine().expect("engine");
    let current = app
        .store
        .get_token(&subject, TokenPurpose::OtpSession)
        .await
        .expect("read");
    // The companion's condition fails: the right code is refused with its error and stays unconsumed.
    let refused_update = Companion::UpdateUser {
        before: stale,
        after: renamed.clone(),
    };
    let refused = refused_update.conflict();
    let outcome = engine
        .verify_with(
            current,
            &subject,
            TokenPurpose::OtpSession,
            &code,
            vec![refused_update],
        )
        .await;
    assert_eq!(outcome, Err(refused));
    let stored = app
        .store
        .get_token(&subject, TokenPurpose::OtpSession)
        .await
        .expect("read")
        .expect("token");
    assert!(!stored.consumed && stored.failed_attempts == 0);
    assert_eq!(
        app.store.get_user(&user.id).await.expect("read"),
        Some(user.clone()),
        "the user is as it was"
    );
    // Its condition holds: both writes happen.
    let current = Some(stored);
    let outcome = engine
        .verify_with(
            current,
            &subject,
            TokenPurpose::OtpSession,
            &code,
            vec![Companion::UpdateUser {
                before: user.clone(),
                after: renamed.clone(),
            }],
        )
        .await;
    assert_eq!(outcome, Ok(()));
    assert_eq!(
        app.store.get_user(&user.id).await.expect("read"),
        Some(user_token_domain::domain::User {
            version: user.version + 1,
            ..renamed
        })
    );
    assert_eq!(
        verify(&app, &subject, &code).await,
        Err(DomainError::NotFound("code"))
    );
}
