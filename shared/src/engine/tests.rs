//! The engine's rules on the in-memory adapters: single use, attempt caps carried over a resend, cooldown, quota,
//! compensation after a failed send, and the cascade. (Races and faults are the emulator suite's.)

use time::Duration;

use super::{Recipient, SendRequest};
use crate::adapters::memory::Delivered;
use crate::domain::sending::{Requester, SmsDestinations};
use crate::domain::token::{Channel, SendMode, Subject, TokenPurpose};
use crate::domain::{DomainError, UserId};
use crate::ports::{Companion, TokenStore, UserStore};
use crate::testing::{admin, memory_app, MemoryApp};

const PURPOSE: TokenPurpose = TokenPurpose::OtpSession;

fn phone() -> Recipient {
    Recipient::Phone("+15555550123".parse().expect("phone"))
}

fn caller() -> Requester {
    Requester::new("user:caller", "entity:tenant")
}

fn request(app: &MemoryApp, subject: &Subject, mode: SendMode) -> SendRequest {
    SendRequest::new(
        caller(),
        subject.clone(),
        PURPOSE,
        mode,
        None,
        phone(),
        app.app.config.otp_policy(),
    )
}

async fn send(app: &MemoryApp, subject: &Subject, mode: SendMode) -> Result<(), DomainError> {
    let current = app.store.get_token(subject, PURPOSE).await?;
    let send = SendRequest {
        current,
        ..request(app, subject, mode)
    };
    app.app.engine()?.send(send).await.map(|_| ())
}

async fn verify(app: &MemoryApp, subject: &Subject, code: &str) -> Result<(), DomainError> {
    let current = app.store.get_token(subject, PURPOSE).await?;
    app.app
        .engine()?
        .verify(current, subject, PURPOSE, code)
        .await
}

/// The six-digit codes that went out, oldest first.
fn codes(app: &MemoryApp) -> Vec<String> {
    app.messenger
        .outbox()
        .iter()
        .map(|message| {
            let text = message.text();
            let start = text.find(|c: char| c.is_ascii_digit()).expect("a code");
            text[start..start + 6].to_owned()
        })
        .collect()
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

fn subject() -> Subject {
    Subject::User(UserId::random())
}

#[tokio::test]
async fn a_code_is_accepted_once() {
    let app = memory_app(|_| {});
    let subject = subject();
    send(&app, &subject, SendMode::Issue).await.expect("sent");
    let code = codes(&app).remove(0);
    assert_eq!(verify(&app, &subject, &code).await, Ok(()));
    assert_eq!(
        verify(&app, &subject, &code).await,
        Err(DomainError::NotFound("code"))
    );
    let stored = app.store.tokens();
    assert_eq!(stored.len(), 1);
    assert!(stored[0].consumed);
    assert!(
        !stored[0].digest.contains(&code),
        "only a keyed hash is stored"
    );
}

#[tokio::test]
async fn attempts_are_capped_and_carried_over_a_resend() {
    let app = memory_app(|config| config.resend_cooldown = Duration::ZERO);
    let subject = subject();
    send(&app, &subject, SendMode::Issue).await.expect("sent");
    let first = codes(&app).remove(0);
    for remaining_attempts in [4, 3] {
        assert_eq!(
            verify(&app, &subject, &wrong(&first)).await,
            Err(DomainError::IncorrectCode { remaining_attempts })
        );
    }
    send(&app, &subject, SendMode::Resend)
        .await
        .expect("resent");
    let second = codes(&app).remove(1);
    assert_eq!(
        verify(&app, &subject, &first).await,
        Err(DomainError::IncorrectCode {
            remaining_attempts: 2
        }),
        "the resend revoked the first code and kept the count"
    );
    for remaining_attempts in [1, 0] {
        assert_eq!(
            verify(&app, &subject, &wrong(&second)).await,
            Err(DomainError::IncorrectCode { remaining_attempts })
        );
    }
    assert_eq!(
        verify(&app, &subject, &second).await,
        Err(DomainError::AttemptsExhausted),
        "not even the right code once the attempts are used up"
    );
    assert_eq!(
        send(&app, &subject, SendMode::Resend).await,
        Err(DomainError::AttemptsExhausted),
        "a resend gives no fresh budget"
    );
    assert_eq!(app.messenger.outbox().len(), 2);
}

#[tokio::test]
async fn a_resend_inside_the_cooldown_is_refused_and_sends_nothing() {
    let app = memory_app(|_| {});
    let subject = subject();
    send(&app, &subject, SendMode::Issue).await.expect("sent");
    let refused = send(&app, &subject, SendMode::Resend).await;
    assert!(
        matches!(
            refused,
            Err(DomainError::CooldownActive {
                retry_after_secs: 59 | 60
            })
        ),
        "{refused:?}"
    );
    assert_eq!(app.messenger.outbox().len(), 1);
    assert_eq!(
        app.store.tokens()[0].version,
        1,
        "the live code is untouched"
    );
}

#[tokio::test]
async fn a_recipient_gets_at_most_its_quota_per_window() {
    let app = memory_app(|config| {
        config.resend_cooldown = Duration::ZERO;
        config.send_quota = 3;
    });
    // Different subjects, one recipient: the quota is the recipient's.
    for _ in 0..3 {
        send(&app, &subject(), SendMode::Issue).await.expect("sent");
    }
    assert!(matches!(
        send(&app, &subject(), SendMode::Issue).await,
        Err(DomainError::SendQuotaExceeded { retry_after_secs }) if retry_after_secs >= 1
    ));
    assert_eq!(app.messenger.outbox().len(), 3);
    assert_eq!(
        app.store.tokens().len(),
        3,
        "the refused send stored no code"
    );
}

#[tokio::test]
async fn a_failed_send_undoes_its_code_its_quota_slot_and_its_companions() {
    let app = memory_app(|_| {});
    let invitee = admin();
    let subject = Subject::User(invitee.id);
    let invitation = || {
        SendRequest::new(
            caller(),
            subject.clone(),
            TokenPurpose::Invitation,
            SendMode::Issue,
            None,
            Recipient::Email(invitee.email.clone()),
            app.app.config.invitation_policy(),
        )
        .with_link(app.app.config.invite_link_base.clone())
        .with_companions(
            vec![Companion::CreateUser(invitee.clone())],
            vec![Companion::RemoveUser(invitee.clone())],
        )
    };
    app.messenger.set_email_down(true);
    let engine = app.app.engine().expect("engine");
    assert_eq!(
        engine.send(invitation()).await.err(),
        Some(DomainError::DeliveryFailed)
    );
    assert_eq!(app.store.get_user(&invitee.id).await, Ok(None));
    assert!(app.store.tokens().is_empty());
    assert_eq!(app.store.user_count(), 0);
    let recipient_key = engine.hasher.recipient_key(&invitee.email.key());
    let window = time::OffsetDateTime::now_utc().unix_timestamp() / 600;
    assert_eq!(app.store.quota_sends(&recipient_key, window), 0);

    app.messenger.set_email_down(false);
    let sent = engine.send(invitation()).await.expect("sent");
    assert_eq!(sent.token.channel, Channel::Email);
    assert_eq!(
        app.store.get_user(&invitee.id).await,
        Ok(Some(invitee.clone()))
    );
    assert_eq!(app.store.quota_sends(&recipient_key, window), 1);
    let outbox = app.messenger.outbox();
    assert_eq!(outbox.len(), 1);
    assert!(outbox[0]
        .text()
        .contains("https://app.example.com/invitation?token="));
}

#[tokio::test]
async fn a_recipient_that_cannot_be_served_gives_way_only_in_a_cascade() {
    let app = memory_app(|_| {});
    app.messenger.set_sms_down(true);
    let email = Recipient::Email("someone@example.com".parse().expect("email"));
    let engine = app.app.engine().expect("engine");
    let strict = engine
        .send(request(&app, &subject(), SendMode::Issue))
        .await;
    assert_eq!(strict.err(), Some(DomainError::DeliveryFailed));
    let cascading = engine
        .send(request(&app, &subject(), SendMode::Issue).cascading(vec![phone(), email.clone()]))
        .await
        .expect("sent by email");
    assert_eq!(cascading.recipient, email);
    assert_eq!(cascading.token.channel, Channel::Email);
    assert!(matches!(
        app.messenger.outbox().as_slice(),
        [Delivered::Email { .. }]
    ));
}

/// One SMS to a number of its own for each of `requesters`, a new subject each time; the answers in order.
async fn texts_from(app: &MemoryApp, requesters: &[Requester]) -> Vec<Result<(), DomainError>> {
    let engine = app.app.engine().expect("engine");
    let mut answers = Vec::new();
    for (n, requester) in requesters.iter().enumerate() {
        let to = Recipient::Phone(format!("+1555555{n:04}").parse().expect("phone"));
        let send = SendRequest::new(
            requester.clone(),
            subject(),
            PURPOSE,
            SendMode::Issue,
            None,
            to,
            app.app.config.otp_policy(),
        );
        answers.push(engine.send(send).await.map(|_| ()));
    }
    answers
}

fn budget_refused(answer: &Result<(), DomainError>) -> bool {
    matches!(answer, Err(DomainError::SendBudgetExhausted { retry_after_secs }) if *retry_after_secs >= 1)
}

#[tokio::test]
async fn a_caller_a_tenant_and_the_service_each_get_at_most_their_sms_budget() {
    let app = memory_app(|config| {
        config.sms.per_caller = 2;
        config.sms.per_tenant = 3;
        config.sms.ceiling = 4;
        config.sms.ceiling_shards = 1;
    });
    let one = Requester::new("user:one", "entity:a");
    let two = Requester::new("user:two", "entity:a");
    let three = Requester::new("user:three", "entity:b");
    // Every number is new: no recipient quota binds, only the budgets.
    let answers = texts_from(&app, &[one.clone(), one.clone(), one.clone()]).await;
    assert!(answers[..2].iter().all(Result::is_ok), "{answers:?}");
    assert!(
        budget_refused(&answers[2]),
        "the caller's third: {answers:?}"
    );
    let answers = texts_from(&app, &[two.clone(), two.clone()]).await;
    assert!(answers[0].is_ok(), "{answers:?}");
    assert!(
        budget_refused(&answers[1]),
        "the tenant's fourth: {answers:?}"
    );
    let answers = texts_from(&app, &[three.clone(), three.clone()]).await;
    assert!(answers[0].is_ok(), "{answers:?}");
    assert!(
        budget_refused(&answers[1]),
        "the service's fifth: {answers:?}"
    );
    assert_eq!(
        app.messenger.outbox().len(),
        4,
        "every refusal sent nothing"
    );
    assert_eq!(app.store.tokens().len(), 4, "and stored no code");
}

#[tokio::test]
async fn sms_budgets_do_not_count_email_and_a_failed_text_gives_its_counts_back() {
    let app = memory_app(|config| config.sms.per_caller = 1);
    app.messenger.set_sms_down(true);
    let failed = texts_from(&app, &[caller()]).await;
    assert_eq!(failed, vec![Err(DomainError::DeliveryFailed)]);
    app.messenger.set_sms_down(false);
    let engine = app.app.engine().expect("engine");
    for n in 0..3 {
        let to = Recipient::Email(format!("someone{n}@example.com").parse().expect("email"));
        let mut email = request(&app, &subject(), SendMode::Issue);
        email.candidates = vec![to];
        engine.send(email).await.expect("emails are not SMS");
    }
    let answers = texts_from(&app, &[caller(), caller()]).await;
    assert!(
        answers[0].is_ok(),
        "the failed text was given back: {answers:?}"
    );
    assert!(budget_refused(&answers[1]), "{answers:?}");
}

#[tokio::test]
async fn a_destination_outside_the_allow_list_is_refused_and_gives_way_in_a_cascade() {
    let app = memory_app(|_| {});
    let satellite = Recipient::Phone("+881612345678".parse().expect("phone"));
    let engine = app.app.engine().expect("engine");
    let mut to_satellite = request(&app, &subject(), SendMode::Issue);
    to_satellite.candidates = vec![satellite.clone()];
    assert_eq!(
        engine.send(to_satellite).await.err(),
        Some(DomainError::DestinationNotAllowed),
        "satellite ranges are never allowed by default"
    );
    let email = Recipient::Email("someone@example.com".parse().expect("email"));
    let cascading = engine
        .send(request(&app, &subject(), SendMode::Issue).cascading(vec![satellite, email.clone()]))
        .await
        .expect("sent by email");
    assert_eq!(cascading.recipient, email);

    let uk_only = memory_app(|config| {
        config.sms.destinations = "44".parse::<SmsDestinations>().expect("allow-list")
    });
    let engine = uk_only.app.engine().expect("engine");
    assert_eq!(
        engine
            .send(request(&uk_only, &subject(), SendMode::Issue))
            .await
            .err(),
        Some(DomainError::DestinationNotAllowed)
    );
    let mut to_uk = request(&uk_only, &subject(), SendMode::Issue);
    to_uk.candidates = vec![Recipient::Phone("+447700900123".parse().expect("phone"))];
    engine.send(to_uk).await.expect("an allowed country");
    assert_eq!(uk_only.messenger.outbox().len(), 1);
    assert_eq!(app.messenger.outbox().len(), 1);
}

#[tokio::test]
async fn look_alike_spellings_of_one_mailbox_share_its_quota() {
    let app = memory_app(|config| config.send_quota = 2);
    let engine = app.app.engine().expect("engine");
    // A Unicode domain, its punycode form, and a sub-address: one mailbox.
    let spellings = [
        "someone@ex\u{0430}mple.com",
        "Someone+promo@xn--exmple-4nf.com",
        "someone+other@EX\u{0430}MPLE.com",
    ];
    let mut answers = Vec::new();
    for spelling in spellings {
        let mut email = request(&app, &subject(), SendMode::Issue);
        email.candidates = vec![Recipient::Email(spelling.parse().expect("email"))];
        answers.push(engine.send(email).await.map(|_| ()));
    }
    assert!(answers[..2].iter().all(Result::is_ok), "{answers:?}");
    assert!(
        matches!(answers[2], Err(DomainError::SendQuotaExceeded { .. })),
        "{answers:?}"
    );
    assert_eq!(app.messenger.outbox().len(), 2);
}

// Ambiguous outcomes: a write that committed with its answer lost, and a send that may have gone out.

#[tokio::test]
async fn a_reservation_whose_answer_was_lost_is_found_and_its_code_sent_once() {
    let app = memory_app(|_| {});
    let subject = subject();
    app.store.lose_answers(1);
    assert_eq!(send(&app, &subject, SendMode::Issue).await, Ok(()));
    assert_eq!(codes(&app).len(), 1, "one message for the one code");
    let stored = app.store.tokens();
    assert_eq!(stored.len(), 1);
    let code = codes(&app).remove(0);
    assert_eq!(verify(&app, &subject, &code).await, Ok(()));
}

#[tokio::test]
async fn a_send_whose_answer_was_lost_stands_as_sent_and_is_never_sent_again() {
    let app = memory_app(|_| {});
    let subject = subject();
    app.messenger.set_answers_lost(true);
    assert_eq!(send(&app, &subject, SendMode::Issue).await, Ok(()));
    app.messenger.set_answers_lost(false);
    assert_eq!(codes(&app).len(), 1);
    let stored = app.store.tokens();
    assert_eq!(stored.len(), 1, "the reservation stands");
    assert!(matches!(
        send(&app, &subject, SendMode::Resend).await,
        Err(DomainError::CooldownActive { .. })
    ));
    assert_eq!(codes(&app).len(), 1, "not sent a second time");
    let code = codes(&app).remove(0);
    assert_eq!(verify(&app, &subject, &code).await, Ok(()));
}

#[tokio::test]
async fn a_release_whose_answer_was_lost_is_a_failed_delivery_with_nothing_left() {
    let app = memory_app(|_| {});
    let subject = subject();
    app.messenger.set_sms_down(true);
    // The reservation is answered; the release, after the failed send, is not.
    app.store.lose_answers_after(1, 1);
    assert_eq!(
        send(&app, &subject, SendMode::Issue).await,
        Err(DomainError::DeliveryFailed)
    );
    assert_eq!(app.store.tokens(), Vec::new(), "released");
}

#[tokio::test]
async fn a_check_whose_answer_was_lost_is_found_by_its_mark() {
    let app = memory_app(|_| {});
    let subject = subject();
    send(&app, &subject, SendMode::Issue).await.expect("sent");
    let code = codes(&app).remove(0);
    app.store.lose_answers(1);
    assert_eq!(
        verify(&app, &subject, &wrong(&code)).await,
        Err(DomainError::IncorrectCode {
            remaining_attempts: 4
        })
    );
    assert_eq!(app.store.tokens()[0].failed_attempts, 1, "counted once");
    app.store.lose_answers(1);
    assert_eq!(verify(&app, &subject, &code).await, Ok(()));
    assert_eq!(
        verify(&app, &subject, &code).await,
        Err(DomainError::NotFound("code")),
        "still single use"
    );
}
