//! The one-time token engine: issue, resend and verify, for every front door. Rules are judged on values
//! (`domain::token`); every write is conditioned on the state they were judged on (the `TokenStore` port).

mod app;
pub mod config;
pub mod issuer;
pub mod messages;
#[cfg(test)]
mod tests;

pub use app::App;

use time::OffsetDateTime;

use crate::domain::sending::Requester;
use crate::domain::token::CodeSpec;
use crate::domain::token::{
    Channel, CodeHasher, LiveToken, SendMode, Subject, TokenPolicy, TokenPurpose, Verdict,
};
use crate::domain::{DomainError, Email, PhoneNumber};
use crate::ports::{
    Companion, EmailMessage, Messenger, QuotaScope, QuotaSlot, ReserveError, SendFailure, Store,
};
use config::Config;
use messages::{render, Locale, Outgoing};

/// Where a code can go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    Phone(PhoneNumber),
    Email(Email),
}

impl Recipient {
    pub fn channel(&self) -> Channel {
        match self {
            Recipient::Phone(_) => Channel::Sms,
            Recipient::Email(_) => Channel::Email,
        }
    }

    /// The recipient as a code is bound to it: the number, or the address in any case.
    pub fn identity(&self) -> String {
        match self {
            Recipient::Phone(phone) => phone.as_str().to_owned(),
            Recipient::Email(email) => email.key(),
        }
    }

    /// The recipient as quotas and start limits count it: look-alike spellings of one mailbox are one
    /// (`Email::quota_key`).
    pub fn quota_identity(&self) -> String {
        match self {
            Recipient::Phone(phone) => phone.as_str().to_owned(),
            Recipient::Email(email) => email.quota_key(),
        }
    }

    pub fn masked(&self) -> String {
        match self {
            Recipient::Phone(phone) => phone.masked(),
            Recipient::Email(email) => email.masked(),
        }
    }
}

pub struct SendRequest {
    pub subject: Subject,
    /// Who asked: what the SMS budgets count.
    pub requester: Requester,
    pub purpose: TokenPurpose,
    pub mode: SendMode,
    /// The token as the front door read it (with its aggregate, in one read).
    pub current: Option<LiveToken>,
    /// In order of preference.
    pub candidates: Vec<Recipient>,
    /// May a recipient that cannot be served give way to the next (Sigma's cascade)?
    pub cascade: bool,
    pub policy: TokenPolicy,
    /// Wrong codes the subject has already spent, as its aggregate counts them: a new code starts from at least
    /// this many, so a code item removed (by TTL) takes no attempts with it.
    pub spent_attempts: u32,
    pub locale: Locale,
    pub link_base: String,
    /// Writes that must happen with the first code or not at all (for example, creating the aggregate)…
    pub companions: Vec<Companion>,
    /// …and the writes that undo them if the code cannot be delivered.
    pub undo: Vec<Companion>,
}

impl SendRequest {
    /// A send of one code for `subject` to `recipient`, asked for by `requester`, in English, with no link and no
    /// companion writes.
    pub fn new(
        requester: Requester,
        subject: Subject,
        purpose: TokenPurpose,
        mode: SendMode,
        current: Option<LiveToken>,
        recipient: Recipient,
        policy: TokenPolicy,
    ) -> SendRequest {
        SendRequest {
            subject,
            requester,
            purpose,
            mode,
            current,
            candidates: vec![recipient],
            cascade: false,
            policy,
            spent_attempts: 0,
            locale: Locale::En,
            link_base: String::new(),
            companions: Vec::new(),
            undo: Vec::new(),
        }
    }

    /// The invitation of a new (PENDING) user: its link by email, and the user created with the first code (and
    /// removed again if the email cannot be sent).
    pub fn invitation(
        requester: Requester,
        user: &crate::domain::User,
        config: &Config,
    ) -> SendRequest {
        SendRequest::new(
            requester,
            Subject::User(user.id),
            TokenPurpose::Invitation,
            SendMode::Issue,
            None,
            Recipient::Email(user.email.clone()),
            config.invitation_policy(),
        )
        .with_link(config.invite_link_base.clone())
        .with_companions(
            vec![Companion::CreateUser(user.clone())],
            vec![Companion::RemoveUser(user.clone())],
        )
    }

    /// Recipients in order of preference, each giving way to the next when it cannot be served.
    pub fn cascading(mut self, candidates: Vec<Recipient>) -> SendRequest {
        self.candidates = candidates;
        self.cascade = true;
        self
    }

    /// See `spent_attempts`.
    pub fn with_spent_attempts(mut self, spent: u32) -> SendRequest {
        self.spent_attempts = spent;
        self
    }

    pub fn in_locale(mut self, locale: Locale) -> SendRequest {
        self.locale = locale;
        self
    }

    /// The message carries a link: this base, then the code.
    pub fn with_link(mut self, link_base: impl Into<String>) -> SendRequest {
        self.link_base = link_base.into();
        self
    }

    /// Writes made with the code, and the writes that undo them if it cannot be delivered.
    pub fn with_companions(
        mut self,
        companions: Vec<Companion>,
        undo: Vec<Companion>,
    ) -> SendRequest {
        self.companions = companions;
        self.undo = undo;
        self
    }
}

/// Writes a check makes with its verdict, in the same transaction as the token's own write.
#[derive(Debug, Clone, Default)]
pub struct Outcomes {
    pub on_accept: Vec<Companion>,
    pub on_reject: Vec<Companion>,
}

#[derive(Debug, Clone)]
pub struct Sent {
    pub token: LiveToken,
    pub recipient: Recipient,
}

pub struct TokenEngine<'a> {
    pub store: &'a dyn Store,
    pub messenger: &'a dyn Messenger,
    pub hasher: &'a CodeHasher,
    pub config: &'a Config,
}

/// Structured audit events: never the code, and recipients masked.
fn audit(
    event: &'static str,
    subject: &Subject,
    purpose: TokenPurpose,
    recipient: Option<&Recipient>,
    detail: &str,
) {
    tracing::info!(
        audit = true,
        event,
        subject = %subject,
        purpose = purpose.as_str(),
        channel = recipient.map(|r| match r.channel() {
            Channel::Sms => "sms",
            Channel::Email => "email",
        }),
        recipient = recipient.map(Recipient::masked),
        detail,
        "token event"
    );
}

const MAX_RACES: usize = 3;

impl TokenEngine<'_> {
    /// The counters one send to `recipient` takes: the recipient's quota, and for a text message the caller's,
    /// the tenant's and the service's SMS budgets.
    fn quota_slots(
        &self,
        recipient: &Recipient,
        requester: &Requester,
        now: OffsetDateTime,
    ) -> Vec<QuotaSlot> {
        let now = now.unix_timestamp();
        let recipient_key = self.hasher.recipient_key(&recipient.quota_identity());
        let mut slots = vec![QuotaSlot::at(
            QuotaScope::Recipient,
            recipient_key.clone(),
            self.config.send_quota,
            self.config.send_quota_window.whole_seconds(),
            now,
        )];
        if let Recipient::Phone(_) = recipient {
            let sms = &self.config.sms;
            let (shard, share) = sms.ceiling_shard(&recipient_key);
            let shard = shard.to_string();
            let budgets = [
                (QuotaScope::Caller, requester.caller(), sms.per_caller),
                (QuotaScope::Tenant, requester.tenant(), sms.per_tenant),
                (QuotaScope::Service, shard.as_str(), share),
            ];
            for (scope, counted, limit) in budgets {
                // The scope's name keeps a caller's key from ever being a tenant's or a recipient's.
                let key = self
                    .hasher
                    .recipient_key(&format!("sms-{}\u{0}{counted}", scope.as_str()));
                slots.push(QuotaSlot::at(scope, key, limit, sms.window_secs, now));
            }
        }
        slots
    }

    async fn deliver(&self, recipient: &Recipient, message: &Outgoing) -> Result<(), SendFailure> {
        match (recipient, message) {
            (Recipient::Phone(phone), Outgoing::Sms(text)) => {
                self.messenger.send_sms(phone, text).await
            }
            (Recipient::Email(email), Outgoing::Email(mail)) => {
                self.messenger.send_email(email, mail).await
            }
            _ => Err(SendFailure::NotSent),
        }
    }

    /// Issues or resends a code: judge, reserve (one transaction), send, and on a failed send release everything
    /// the reservation took. With `cascade`, a recipient that cannot be served gives way to the next.
    pub async fn send(&self, request: SendRequest) -> Result<Sent, DomainError> {
        let SendRequest {
            subject,
            requester,
            purpose,
            mode,
            mut current,
            candidates,
            cascade,
            policy,
            spent_attempts,
            locale,
            link_base,
            companions,
            undo,
        } = request;
        let event = match mode {
            SendMode::Issue => "token.issued",
            SendMode::Resend => "token.resent",
        };
        let mut last_error = DomainError::DeliveryFailed;
        for recipient in &candidates {
            if let Recipient::Phone(phone) = recipient {
                if !self.config.sms.destinations.allows(phone) {
                    audit(
                        "token.destination_refused",
                        &subject,
                        purpose,
                        Some(recipient),
                        "",
                    );
                    last_error = DomainError::DestinationNotAllowed;
                    if cascade {
                        continue;
                    }
                    return Err(last_error);
                }
            }
            let identity = recipient.identity();
            let mut races = 0;
            let reserved = loop {
                let now = OffsetDateTime::now_utc();
                let (mut next, secret) = LiveToken::next(
                    current.as_ref(),
                    mode,
                    self.hasher,
                    CodeSpec {
                        subject: &subject,
                        purpose,
                        channel: recipient.channel(),
                        policy,
                        recipient: &identity,
                    },
                    now,
                )?;
                if spent_attempts > next.failed_attempts {
                    next.failed_attempts = spent_attempts;
                    if next.is_exhausted() {
                        return Err(DomainError::AttemptsExhausted);
                    }
                }
                let slots = self.quota_slots(recipient, &requester, now);
                let reservation = self
                    .store
                    .reserve_send(current.as_ref(), &next, &slots, &companions)
                    .await;
                if matches!(
                    reservation,
                    Err(ReserveError::Raced | ReserveError::Failed(DomainError::Unavailable { .. }))
                ) {
                    // The write may have committed with its answer lost: a timeout, or an SDK retry of it that
                    // then failed its own condition. What the table holds decides, never the answer alone.
                    let stored = self.store.get_token(&subject, purpose).await;
                    if matches!(&stored, Ok(Some(stored)) if stored.is_the_reservation_of(&next)) {
                        audit(
                            "token.reservation_reconciled",
                            &subject,
                            purpose,
                            Some(recipient),
                            "",
                        );
                        break Some((next, secret, slots));
                    }
                    if reservation == Err(ReserveError::Raced) {
                        if races == MAX_RACES {
                            return Err(DomainError::Contention);
                        }
                        races += 1;
                        current = stored?;
                        continue;
                    }
                }
                match reservation {
                    Ok(()) => break Some((next, secret, slots)),
                    // Judged above: a race is read again or ends in `Contention`.
                    Err(ReserveError::Raced) => return Err(DomainError::Contention),
                    Err(ReserveError::QuotaExceeded(index)) => {
                        let Some(slot) = slots.get(index) else {
                            return Err(DomainError::unavailable());
                        };
                        audit(
                            "token.quota_exceeded",
                            &subject,
                            purpose,
                            Some(recipient),
                            slot.scope.as_str(),
                        );
                        let retry_after_secs = slot.retry_after_secs(now.unix_timestamp());
                        last_error = match slot.scope {
                            QuotaScope::Recipient => {
                                DomainError::SendQuotaExceeded { retry_after_secs }
                            }
                            QuotaScope::Caller | QuotaScope::Tenant | QuotaScope::Service => {
                                DomainError::SendBudgetExhausted { retry_after_secs }
                            }
                        };
                        break None;
                    }
                    Err(ReserveError::Failed(error)) => return Err(error),
                }
            };
            let Some((next, secret, slots)) = reserved else {
                if cascade {
                    continue;
                }
                return Err(last_error);
            };
            let message = render(
                purpose,
                locale,
                recipient.channel(),
                &secret,
                next.expires_at,
                &link_base,
            );
            drop(secret);
            match self.deliver(recipient, &message).await {
                Ok(()) => {
                    audit(event, &subject, purpose, Some(recipient), "");
                    return Ok(Sent {
                        token: next,
                        recipient: recipient.clone(),
                    });
                }
                Err(SendFailure::Unknown) => {
                    // The provider may have it: the code stands as sent and is never sent again (at most one
                    // message per code). If it did not arrive, a resend after the cooldown sends a new code.
                    audit(
                        event,
                        &subject,
                        purpose,
                        Some(recipient),
                        "delivery unknown",
                    );
                    return Ok(Sent {
                        token: next,
                        recipient: recipient.clone(),
                    });
                }
                Err(SendFailure::NotSent) => {
                    audit(
                        "token.delivery_failed",
                        &subject,
                        purpose,
                        Some(recipient),
                        "",
                    );
                    if let Err(error) = self
                        .store
                        .release_send(current.as_ref(), &next, &slots, &undo)
                        .await
                    {
                        // Released with its answer lost, unless the reservation is still there.
                        let stored = self.store.get_token(&subject, purpose).await?;
                        if stored.is_some_and(|stored| stored.is_the_reservation_of(&next)) {
                            return Err(error);
                        }
                    }
                    current = current.map(|previous| LiveToken {
                        version: next.version + 1,
                        ..previous
                    });
                    last_error = DomainError::DeliveryFailed;
                    if !cascade {
                        return Err(last_error);
                    }
                }
            }
        }
        Err(last_error)
    }

    /// Sends `message`, which carries no code, to `to` at most once per `window_secs` for `topic` (a counter in the
    /// table, taken before the send). A notice already sent in its window is not sent again, and is not an error; nor
    /// is one that cannot be delivered (it is logged): the caller's answer does not depend on it.
    pub async fn notify(
        &self,
        to: &Email,
        topic: &str,
        message: &EmailMessage,
        window_secs: i64,
    ) -> Result<(), DomainError> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let key = self
            .hasher
            .recipient_key(&format!("notice-{topic}\u{0}{}", to.quota_key()));
        let slot = QuotaSlot::at(QuotaScope::Recipient, key, 1, window_secs, now);
        match self.store.take_quota(std::slice::from_ref(&slot)).await {
            Ok(()) => {}
            Err(ReserveError::QuotaExceeded(_) | ReserveError::Raced) => {
                tracing::info!(audit = true, event = "notice.suppressed", topic, recipient = %to.masked(), "notice already sent in its window");
                return Ok(());
            }
            Err(ReserveError::Failed(error)) => return Err(error),
        }
        match self.messenger.send_email(to, message).await {
            Ok(()) | Err(SendFailure::Unknown) => {
                tracing::info!(audit = true, event = "notice.sent", topic, recipient = %to.masked(), "notice sent");
            }
            Err(SendFailure::NotSent) => {
                tracing::warn!(audit = true, event = "notice.delivery_failed", topic, recipient = %to.masked(), "notice not sent");
            }
        }
        Ok(())
    }

    /// Checks a candidate code against the live one: single use, at most `max_attempts` wrong tries, never after
    /// expiry. Concurrent checks never push the attempt count past the cap.
    pub async fn verify(
        &self,
        current: Option<LiveToken>,
        subject: &Subject,
        purpose: TokenPurpose,
        candidate: &str,
    ) -> Result<(), DomainError> {
        self.verify_with(current, subject, purpose, candidate, Vec::new())
            .await
    }

    /// `verify`, where the code must also have been sent to `recipient`: the check proves possession of that number
    /// or address. A code that went anywhere else is refused as a wrong code, without comparing the candidate and
    /// without counting an attempt.
    pub async fn verify_sent_to(
        &self,
        current: Option<LiveToken>,
        subject: &Subject,
        purpose: TokenPurpose,
        candidate: &str,
        recipient: &Recipient,
    ) -> Result<(), DomainError> {
        self.check(
            current,
            subject,
            purpose,
            candidate,
            Outcomes::default(),
            Some(recipient),
        )
        .await
    }

    /// `verify`, where an accepted code also makes `on_accept` writes, in the same transaction as its consumption.
    pub async fn verify_with(
        &self,
        current: Option<LiveToken>,
        subject: &Subject,
        purpose: TokenPurpose,
        candidate: &str,
        on_accept: Vec<Companion>,
    ) -> Result<(), DomainError> {
        self.check(
            current,
            subject,
            purpose,
            candidate,
            Outcomes {
                on_accept,
                on_reject: Vec::new(),
            },
            None,
        )
        .await
    }

    /// `verify_with`, where a counted wrong code also makes `on_reject` writes, in the same transaction as the count.
    pub async fn verify_with_outcomes(
        &self,
        current: Option<LiveToken>,
        subject: &Subject,
        purpose: TokenPurpose,
        candidate: &str,
        outcomes: Outcomes,
    ) -> Result<(), DomainError> {
        self.check(current, subject, purpose, candidate, outcomes, None)
            .await
    }

    async fn check(
        &self,
        current: Option<LiveToken>,
        subject: &Subject,
        purpose: TokenPurpose,
        candidate: &str,
        outcomes: Outcomes,
        sent_to: Option<&Recipient>,
    ) -> Result<(), DomainError> {
        let mut token = current.ok_or(DomainError::NotFound("token"))?;
        let sent_to = sent_to.map(Recipient::identity);
        for _ in 0..=MAX_RACES {
            if let Some(recipient) = &sent_to {
                if !token.was_sent_to(self.hasher, recipient) {
                    audit(
                        "token.verify_refused",
                        subject,
                        purpose,
                        None,
                        "the code was sent to another recipient",
                    );
                    return Err(DomainError::IncorrectCode {
                        remaining_attempts: token
                            .max_attempts
                            .saturating_sub(token.failed_attempts),
                    });
                }
            }
            let now = OffsetDateTime::now_utc();
            let verdict = match token.judge(self.hasher, candidate, now) {
                Ok(verdict) => verdict,
                Err(error) => {
                    audit(
                        "token.verify_refused",
                        subject,
                        purpose,
                        None,
                        &error.to_string(),
                    );
                    return Err(error);
                }
            };
            let accepted = verdict == Verdict::Accept;
            if !accepted && !purpose.counts_failures() {
                audit("token.verify_failed", subject, purpose, None, "not counted");
                return Err(DomainError::IncorrectCode {
                    remaining_attempts: token.max_attempts - token.failed_attempts,
                });
            }
            let companions: &[Companion] = if accepted {
                &outcomes.on_accept
            } else {
                &outcomes.on_reject
            };
            let check_id = uuid::Uuid::new_v4().to_string();
            let recorded = self
                .store
                .record_check(
                    &token,
                    accepted,
                    now.unix_timestamp(),
                    &check_id,
                    companions,
                )
                .await;
            match recorded {
                Ok(true) => {}
                // `false` after an SDK retry, or a timeout, may hide this very check's write, its answer lost:
                // the code's mark says.
                Ok(false) | Err(DomainError::Unavailable { .. }) => {
                    let stored = self.store.get_token(subject, purpose).await;
                    match (recorded, stored) {
                        (_, Ok(Some(stored)))
                            if stored.last_check.as_deref() == Some(check_id.as_str()) =>
                        {
                            audit("token.check_reconciled", subject, purpose, None, "");
                        }
                        (Err(error), _) | (Ok(_), Err(error)) => return Err(error),
                        (Ok(_), Ok(Some(stored))) => {
                            token = stored;
                            continue;
                        }
                        (Ok(_), Ok(None)) => return Err(DomainError::NotFound("token")),
                    }
                }
                Err(error) => return Err(error),
            }
            return match verdict {
                Verdict::Accept => {
                    audit("token.verified", subject, purpose, None, "");
                    Ok(())
                }
                Verdict::Reject { remaining_attempts } => {
                    audit(
                        "token.verify_failed",
                        subject,
                        purpose,
                        None,
                        &format!("{remaining_attempts} attempts left"),
                    );
                    Err(DomainError::IncorrectCode { remaining_attempts })
                }
            };
        }
        Err(DomainError::Contention)
    }
}
