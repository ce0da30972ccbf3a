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

use crate::domain::token::CodeSpec;
use crate::domain::token::{
    Channel, CodeHasher, LiveToken, SendMode, Subject, TokenPolicy, TokenPurpose, Verdict,
};
use crate::domain::{DomainError, Email, PhoneNumber};
use crate::ports::{Companion, Messenger, QuotaSlot, ReserveError, Store};
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

    /// The recipient in canonical form: what quotas count and what a code is bound to.
    pub fn identity(&self) -> String {
        match self {
            Recipient::Phone(phone) => phone.as_str().to_owned(),
            Recipient::Email(email) => email.key(),
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
    /// A send of one code for `subject` to `recipient`, in English, with no link and no companion writes.
    pub fn new(
        subject: Subject,
        purpose: TokenPurpose,
        mode: SendMode,
        current: Option<LiveToken>,
        recipient: Recipient,
        policy: TokenPolicy,
    ) -> SendRequest {
        SendRequest {
            subject,
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
    pub fn invitation(user: &crate::domain::User, config: &Config) -> SendRequest {
        SendRequest::new(
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
    fn quota_slot(&self, recipient: &Recipient, now: OffsetDateTime) -> QuotaSlot {
        let window_secs = self.config.send_quota_window.whole_seconds().max(1);
        let window = now.unix_timestamp().div_euclid(window_secs);
        QuotaSlot {
            recipient_key: self.hasher.recipient_key(&recipient.identity()),
            window,
            limit: self.config.send_quota,
            expires_at: (window + 2) * window_secs,
        }
    }

    fn quota_retry_after(&self, slot: &QuotaSlot, now: OffsetDateTime) -> u64 {
        let window_secs = self.config.send_quota_window.whole_seconds().max(1);
        ((slot.window + 1) * window_secs - now.unix_timestamp()).max(1) as u64
    }

    async fn deliver(&self, recipient: &Recipient, message: &Outgoing) -> Result<(), DomainError> {
        match (recipient, message) {
            (Recipient::Phone(phone), Outgoing::Sms(text)) => {
                self.messenger.send_sms(phone, text).await
            }
            (Recipient::Email(email), Outgoing::Email(mail)) => {
                self.messenger.send_email(email, mail).await
            }
            _ => Err(DomainError::DeliveryFailed),
        }
    }

    /// Issues or resends a code: judge, reserve (one transaction), send, and on a failed send release everything
    /// the reservation took. With `cascade`, a recipient that cannot be served gives way to the next.
    pub async fn send(&self, request: SendRequest) -> Result<Sent, DomainError> {
        let SendRequest {
            subject,
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
                let slot = self.quota_slot(recipient, now);
                match self
                    .store
                    .reserve_send(current.as_ref(), &next, &slot, &companions)
                    .await
                {
                    Ok(()) => break Some((next, secret, slot)),
                    Err(ReserveError::Raced) if races < MAX_RACES => {
                        races += 1;
                        current = self.store.get_token(&subject, purpose).await?;
                    }
                    Err(ReserveError::Raced) => return Err(DomainError::Contention),
                    Err(ReserveError::QuotaExceeded) => {
                        audit(
                            "token.quota_exceeded",
                            &subject,
                            purpose,
                            Some(recipient),
                            "",
                        );
                        last_error = DomainError::SendQuotaExceeded {
                            retry_after_secs: self.quota_retry_after(&slot, now),
                        };
                        break None;
                    }
                    Err(ReserveError::Failed(error)) => return Err(error),
                }
            };
            let Some((next, secret, slot)) = reserved else {
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
                Err(_) => {
                    audit(
                        "token.delivery_failed",
                        &subject,
                        purpose,
                        Some(recipient),
                        "",
                    );
                    self.store
                        .release_send(current.as_ref(), &next, &slot, &undo)
                        .await?;
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
            if self
                .store
                .record_check(&token, accepted, now.unix_timestamp(), companions)
                .await?
            {
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
            token = self
                .store
                .get_token(subject, purpose)
                .await?
                .ok_or(DomainError::NotFound("token"))?;
        }
        Err(DomainError::Contention)
    }
}
