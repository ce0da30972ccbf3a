//! One-time codes and tokens: generation, keyed hashing and the verification rules, on values only.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::fmt;
use subtle::ConstantTimeEq;
use time::{Duration, OffsetDateTime};

use super::{AccountKey, DeviceKey, DomainError, UserId};

/// Whom (or what) a code belongs to: each has at most one live code per purpose.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subject {
    User(UserId),
    /// A QI Tech device awaiting approval.
    Device(AccountKey, DeviceKey),
    /// A Sigma OTP session, by its request id.
    OtpSession(String),
}

/// The subject's canonical name: what a code's keyed hash is bound to, and what audit lines show.
impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::User(id) => write!(f, "user/{id}"),
            Subject::Device(account, device) => write!(f, "device/{account}/{device}"),
            Subject::OtpSession(request_id) => write!(f, "otp/{request_id}"),
        }
    }
}

/// What a code is for. Each purpose has at most one live code per subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TokenPurpose {
    /// Velo INVITE_MFA_USER: the link in an invitation email.
    Invitation,
    /// Velo MFA_REGISTRATION.
    MfaRegistration,
    /// Velo register-sms: the OTP later accepted as `verificationCode`.
    SmsVerification,
    /// QI Tech device approval.
    DeviceApproval,
    /// Sigma OTP session.
    OtpSession,
    /// The second factor of a password sign-in, by SMS.
    SignIn,
    /// The link in a password-reset email.
    PasswordReset,
    /// The code that proves a number while an SMS factor is registered.
    MfaEnrolment,
}

impl TokenPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::Invitation => "INVITATION",
            TokenPurpose::MfaRegistration => "MFA_REGISTRATION",
            TokenPurpose::SmsVerification => "SMS_VERIFICATION",
            TokenPurpose::DeviceApproval => "DEVICE_APPROVAL",
            TokenPurpose::OtpSession => "OTP_SESSION",
            TokenPurpose::SignIn => "SIGN_IN",
            TokenPurpose::PasswordReset => "PASSWORD_RESET",
            TokenPurpose::MfaEnrolment => "MFA_ENROLMENT",
        }
    }

    pub fn format(self) -> CodeFormat {
        match self {
            TokenPurpose::Invitation
            | TokenPurpose::MfaRegistration
            | TokenPurpose::PasswordReset => CodeFormat::UrlSafe,
            TokenPurpose::SmsVerification
            | TokenPurpose::OtpSession
            | TokenPurpose::SignIn
            | TokenPurpose::MfaEnrolment => CodeFormat::Digits,
            TokenPurpose::DeviceApproval => CodeFormat::Alphanumeric,
        }
    }

    /// Does a wrong candidate count against the code's attempts? Not for a link: 256 random bits cannot be guessed
    /// in any number of tries, and counting would let anyone who knows a user's id kill its link with a few wrong
    /// ones.
    pub fn counts_failures(self) -> bool {
        self.format() != CodeFormat::UrlSafe
    }

    /// Does the cooldown hold after the code was used or expired? For every purpose but the sign-in code: a used
    /// sign-in code is a sign-in that completed, and the next one is gated by the password (counted, with a
    /// lock-out), not by the cooldown. Anywhere else, using a code (which may only take reading it, at a number the
    /// caller chose) must not buy a new send.
    pub fn cooldown_outlives_the_code(self) -> bool {
        self != TokenPurpose::SignIn
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeFormat {
    /// Six decimal digits.
    Digits,
    /// Six characters from an alphabet without look-alikes (QI Pix-style tokens).
    Alphanumeric,
    /// 256 random bits, base64url: for links.
    UrlSafe,
}

const OTP_LENGTH: usize = 6;
/// 32 random bytes, base64url without padding.
const LINK_SECRET_LENGTH: usize = 43;
const ALPHANUMERIC: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A code in clear. It exists only between generation and sending: no `Serialize`, and `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn generate(format: CodeFormat) -> Secret {
        let mut rng = rand::rng();
        let code = match format {
            CodeFormat::Digits => (0..OTP_LENGTH)
                .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
                .collect(),
            CodeFormat::Alphanumeric => (0..OTP_LENGTH)
                .map(|_| char::from(ALPHANUMERIC[rng.random_range(0..ALPHANUMERIC.len())]))
                .collect(),
            CodeFormat::UrlSafe => {
                let bytes: [u8; 32] = rng.random();
                URL_SAFE_NO_PAD.encode(bytes)
            }
        };
        Secret(code)
    }

    /// A code for `subject`. A link token for a user also names the user, `<userId>.<secret>`, so that the link
    /// alone finds its token in one read (as a refresh token finds its session).
    pub fn generate_for(format: CodeFormat, subject: &Subject) -> Secret {
        let secret = Secret::generate(format);
        match (format, subject) {
            (CodeFormat::UrlSafe, Subject::User(id)) => Secret(format!("{id}.{}", secret.0)),
            _ => secret,
        }
    }

    /// The user a link token names; `None` when it is not a well-formed link token of ours.
    pub fn link_subject(token: &str) -> Option<UserId> {
        let (id, secret) = token.split_once('.')?;
        let well_formed = secret.len() == LINK_SECRET_LENGTH
            && secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        well_formed.then(|| id.parse().ok()).flatten()
    }

    /// The clear code, for the message that carries it and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// HMAC-SHA256 under a server key, bound to the purpose and subject so a hash cannot be replayed elsewhere.
#[derive(Clone)]
pub struct CodeHasher {
    key: Vec<u8>,
}

impl fmt::Debug for CodeHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeHasher(<key redacted>)")
    }
}

impl CodeHasher {
    pub const MIN_KEY_BYTES: usize = 32;

    pub fn new(key: &[u8]) -> Result<CodeHasher, &'static str> {
        if key.len() < Self::MIN_KEY_BYTES {
            return Err("the token-hashing secret must be at least 32 bytes");
        }
        Ok(CodeHasher { key: key.to_vec() })
    }

    fn mac(&self, purpose: TokenPurpose, subject: &str, code: &str) -> [u8; 32] {
        self.mac_parts([purpose.as_str(), subject, code])
    }

    /// A stable, keyed pseudonym for a phone number or address: quota keys never hold the recipient in clear.
    pub fn recipient_key(&self, recipient: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.mac_parts(["RECIPIENT", recipient, ""]))
    }

    fn mac_parts(&self, parts: [&str; 3]) -> [u8; 32] {
        // `new_from_slice` accepts keys of any length for HMAC.
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.key) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac.finalize().into_bytes().into()
    }

    /// The keyed hash of a secret that is not a one-time code (a refresh token, an API key's secret), bound to
    /// what it is (`kind`) and whose it is (`owner`).
    pub fn keyed_digest(&self, kind: &str, owner: &str, secret: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.mac_parts([kind, owner, secret]))
    }

    /// What a code is bound to besides its subject: the recipient it was sent to (an E.164 number, an email's key),
    /// keyed and bound to the subject, so that the token item never holds the recipient in clear and two subjects'
    /// bindings of one number differ.
    pub fn sent_to(&self, subject: &Subject, recipient: &str) -> String {
        self.keyed_digest("SENT_TO", &subject.to_string(), recipient)
    }

    /// Constant-time comparison of `secret` with a stored `keyed_digest`.
    pub fn keyed_matches(&self, kind: &str, owner: &str, secret: &str, stored: &str) -> bool {
        let Ok(stored) = URL_SAFE_NO_PAD.decode(stored) else {
            return false;
        };
        self.mac_parts([kind, owner, secret])
            .ct_eq(stored.as_slice())
            .into()
    }

    pub fn digest(&self, purpose: TokenPurpose, subject: &str, secret: &Secret) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(purpose, subject, secret.expose()))
    }

    /// Constant-time comparison of a candidate code with a stored digest.
    pub fn matches(
        &self,
        purpose: TokenPurpose,
        subject: &str,
        candidate: &str,
        stored: &str,
    ) -> bool {
        let Ok(stored) = URL_SAFE_NO_PAD.decode(stored) else {
            return false;
        };
        let computed = self.mac(purpose, subject, candidate);
        computed.ct_eq(stored.as_slice()).into()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Sms,
    Email,
}

/// Lifetimes and caps for one purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenPolicy {
    pub ttl: Duration,
    pub max_attempts: u32,
    pub cooldown: Duration,
}

/// The stored state of the one live code for (subject, purpose). Holds the digest, never the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveToken {
    pub subject: Subject,
    pub purpose: TokenPurpose,
    pub digest: String,
    pub channel: Channel,
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// When a code was last sent for this subject and purpose: the cooldown runs from here.
    pub last_sent_at: OffsetDateTime,
    /// The cooldown this code was sent under: it replaces only a code last sent at least this long before, whatever
    /// became of that one (used, expired, out of attempts). The store's write is conditioned on it.
    pub cooldown: Duration,
    /// The keyed binding (`CodeHasher::sent_to`) of the recipient this code went to: a check that must prove
    /// possession of a number compares it. `None` for a code stored before bindings were kept: it proves none.
    pub sent_to: Option<String>,
    pub failed_attempts: u32,
    pub max_attempts: u32,
    pub consumed: bool,
    /// Bumped by every issue and resend; writes are conditioned on the version they read.
    pub version: u64,
    /// The id of the last check recorded on this code (`TokenStore::record_check`): a check whose answer was lost
    /// finds its own write by it.
    pub last_check: Option<String>,
}

/// What a new code is for and how it lives.
#[derive(Debug, Clone, Copy)]
pub struct CodeSpec<'a> {
    pub subject: &'a Subject,
    pub purpose: TokenPurpose,
    pub channel: Channel,
    pub policy: TokenPolicy,
    /// The recipient the code goes to, canonical (an E.164 number, an email's key): the code is bound to it.
    pub recipient: &'a str,
}

/// Why a send is being made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendMode {
    /// Start a code: replaces a live one (keeping its attempt count) or starts afresh.
    Issue,
    /// Resend an existing code: there must be one, and it must not be used or dead.
    Resend,
}

/// What a verification attempt decides, before it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    Reject { remaining_attempts: u32 },
}

impl LiveToken {
    /// Whether this stored token is `reserved`, as its reservation wrote it: the same version and the same code.
    pub fn is_the_reservation_of(&self, reserved: &LiveToken) -> bool {
        self.version == reserved.version && self.digest == reserved.digest
    }

    /// Issue a fresh code for `subject`; returns the stored state and the clear code to send.
    pub fn issue(
        hasher: &CodeHasher,
        subject: Subject,
        purpose: TokenPurpose,
        channel: Channel,
        policy: TokenPolicy,
        now: OffsetDateTime,
    ) -> (LiveToken, Secret) {
        let secret = Secret::generate_for(purpose.format(), &subject);
        let token = LiveToken {
            digest: hasher.digest(purpose, &subject.to_string(), &secret),
            subject,
            purpose,
            channel,
            issued_at: now,
            expires_at: now + policy.ttl,
            last_sent_at: now,
            cooldown: policy.cooldown,
            sent_to: None,
            failed_attempts: 0,
            max_attempts: policy.max_attempts,
            consumed: false,
            version: 1,
            last_check: None,
        };
        (token, secret)
    }

    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        !self.consumed && now < self.expires_at
    }

    /// The next state when a code is sent for (subject, purpose) where `current` may already exist. A new code
    /// revokes the old one (it is the same item); the attempt count carries over while the old code is live, so
    /// neither a resend nor a re-issue resets it; the lifetime restarts. The cooldown holds from the last send
    /// whatever became of that code: a used, expired or exhausted code does not shorten it.
    pub fn next(
        current: Option<&LiveToken>,
        mode: SendMode,
        hasher: &CodeHasher,
        code: CodeSpec<'_>,
        now: OffsetDateTime,
    ) -> Result<(LiveToken, Secret), DomainError> {
        let carried = match (current, mode) {
            (None, SendMode::Resend) => return Err(DomainError::NotFound("token")),
            (Some(token), SendMode::Resend) if token.consumed => {
                return Err(DomainError::NotFound("token"))
            }
            (Some(token), _)
                if token.consumed || (mode == SendMode::Issue && !token.is_live(now)) =>
            {
                None
            }
            (current, _) => current,
        };
        let CodeSpec {
            subject,
            purpose,
            channel,
            policy,
            recipient,
        } = code;
        let (mut next, secret) =
            LiveToken::issue(hasher, subject.clone(), purpose, channel, policy, now);
        next.sent_to = Some(hasher.sent_to(subject, recipient));
        if let Some(carried) = carried {
            if carried.is_exhausted() {
                return Err(DomainError::AttemptsExhausted);
            }
            next.failed_attempts = carried.failed_attempts;
        }
        if let Some(current) = current {
            next.version = current.version + 1;
            let ready_at = current.last_sent_at + policy.cooldown;
            let cooling = carried.is_some() || purpose.cooldown_outlives_the_code();
            if cooling && now < ready_at {
                let wait = (ready_at - now).whole_seconds().max(1) as u64;
                return Err(DomainError::CooldownActive {
                    retry_after_secs: wait,
                });
            }
        }
        Ok((next, secret))
    }

    /// The latest last send of a code this one may replace (a live one, or any for a purpose whose cooldown outlives
    /// the code): the condition of its write.
    pub fn replaces_codes_sent_by(&self) -> OffsetDateTime {
        self.last_sent_at - self.cooldown
    }

    /// Does this code bind `recipient` (canonical), as `CodeHasher::sent_to` made it? Constant time.
    pub fn was_sent_to(&self, hasher: &CodeHasher, recipient: &str) -> bool {
        self.sent_to.as_deref().is_some_and(|stored| {
            let expected = hasher.sent_to(&self.subject, recipient);
            bool::from(expected.as_bytes().ct_eq(stored.as_bytes()))
        })
    }

    pub fn is_exhausted(&self) -> bool {
        self.failed_attempts >= self.max_attempts
    }

    /// The rules of a check: a used, dead or expired code is refused whatever the candidate.
    pub fn judge(
        &self,
        hasher: &CodeHasher,
        candidate: &str,
        now: OffsetDateTime,
    ) -> Result<Verdict, DomainError> {
        if self.consumed {
            return Err(DomainError::NotFound("code"));
        }
        if self.is_exhausted() {
            return Err(DomainError::AttemptsExhausted);
        }
        if now >= self.expires_at {
            return Err(DomainError::CodeExpired);
        }
        if hasher.matches(
            self.purpose,
            &self.subject.to_string(),
            candidate,
            &self.digest,
        ) {
            Ok(Verdict::Accept)
        } else {
            Ok(Verdict::Reject {
                remaining_attempts: self.max_attempts - self.failed_attempts - 1,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher() -> CodeHasher {
        CodeHasher::new(&[7u8; 32]).unwrap()
    }

    const POLICY: TokenPolicy = TokenPolicy {
        ttl: Duration::minutes(5),
        max_attempts: 5,
        cooldown: Duration::seconds(60),
    };

    #[test]
    fn codes_have_the_shape_of_their_purpose() {
        let digits = Secret::generate(CodeFormat::Digits);
        assert_eq!(digits.expose().len(), 6);
        assert!(digits.expose().bytes().all(|b| b.is_ascii_digit()));
        let alnum = Secret::generate(CodeFormat::Alphanumeric);
        assert!(alnum.expose().bytes().all(|b| ALPHANUMERIC.contains(&b)));
        let link = Secret::generate(CodeFormat::UrlSafe);
        assert_eq!(URL_SAFE_NO_PAD.decode(link.expose()).unwrap().len(), 32);
        assert_eq!(format!("{link:?}"), "Secret(<redacted>)");
    }

    #[test]
    fn a_users_link_names_the_user_and_nothing_else_parses_as_one() {
        let user = UserId::random();
        let link = Secret::generate_for(CodeFormat::UrlSafe, &Subject::User(user));
        assert_eq!(Secret::link_subject(link.expose()), Some(user));
        let (id, secret) = link.expose().split_once('.').unwrap();
        assert_eq!((id, secret.len()), (user.to_string().as_str(), 43));
        let device = Subject::Device(AccountKey::random(), DeviceKey::random());
        assert_eq!(
            Secret::generate_for(CodeFormat::UrlSafe, &device)
                .expose()
                .len(),
            43
        );
        for bad in [
            "",
            "no-dot",
            &format!("{user}."),
            &format!("{user}.{}", "a".repeat(42)),
            &format!("{user}.{}!", "a".repeat(42)),
            &format!("not-a-uuid.{}", "a".repeat(43)),
        ] {
            assert_eq!(Secret::link_subject(bad), None, "{bad}");
        }
        assert!(!TokenPurpose::Invitation.counts_failures());
        assert!(TokenPurpose::SignIn.counts_failures());
    }

    #[test]
    fn short_hashing_keys_are_refused() {
        assert!(CodeHasher::new(b"short").is_err());
    }

    #[test]
    fn digests_are_bound_to_purpose_and_subject() {
        let hasher = hasher();
        let secret = Secret::generate(CodeFormat::Digits);
        let digest = hasher.digest(TokenPurpose::OtpSession, "s1", &secret);
        assert!(!digest.contains(secret.expose()));
        assert!(hasher.matches(TokenPurpose::OtpSession, "s1", secret.expose(), &digest));
        assert!(!hasher.matches(TokenPurpose::OtpSession, "s2", secret.expose(), &digest));
        assert!(!hasher.matches(TokenPurpose::DeviceApproval, "s1", secret.expose(), &digest));
        assert!(!hasher.matches(TokenPurpose::OtpSession, "s1", "000000x", &digest));
        assert!(!hasher.matches(TokenPurpose::OtpSession, "s1", secret.expose(), "%%%"));
    }

    #[test]
    fn a_new_code_keeps_attempts_respects_cooldown_and_refuses_dead_codes() {
        let hasher = hasher();
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(1);
        let subject = Subject::OtpSession("s".into());
        let next = |current: Option<&LiveToken>, mode, at| {
            LiveToken::next(
                current,
                mode,
                &hasher,
                CodeSpec {
                    subject: &subject,
                    purpose: TokenPurpose::OtpSession,
                    channel: Channel::Sms,
                    policy: POLICY,
                    recipient: "+4411223344556",
                },
                at,
            )
        };
        assert_eq!(
            next(None, SendMode::Resend, now).err(),
            Some(DomainError::NotFound("token"))
        );
        let (mut first, first_secret) = next(None, SendMode::Issue, now).unwrap();
        assert_eq!(first.version, 1);
        first.failed_attempts = 2;
        assert_eq!(
            next(Some(&first), SendMode::Resend, now + Duration::seconds(10)).err(),
            Some(DomainError::CooldownActive {
                retry_after_secs: 50
            })
        );
        let (second, second_secret) =
            next(Some(&first), SendMode::Resend, now + Duration::seconds(60)).unwrap();
        assert_eq!(
            second.failed_attempts, 2,
            "a resend does not reset attempts"
        );
        assert_eq!(second.version, 2);
        assert_eq!(
            second.expires_at,
            now + Duration::seconds(60) + POLICY.ttl,
            "the lifetime restarts"
        );
        assert_ne!(first_secret, second_secret);
        assert!(!hasher.matches(
            TokenPurpose::OtpSession,
            "otp/s",
            first_secret.expose(),
            &second.digest
        ));
        let mut dead = second.clone();
        dead.failed_attempts = 5;
        assert_eq!(
            next(Some(&dead), SendMode::Resend, now + Duration::seconds(200)).err(),
            Some(DomainError::AttemptsExhausted)
        );
        assert_eq!(
            next(Some(&dead), SendMode::Issue, now + Duration::seconds(200)).err(),
            Some(DomainError::AttemptsExhausted),
            "re-issuing does not revive a dead live code"
        );
        let (fresh, _) = next(Some(&dead), SendMode::Issue, now + Duration::minutes(30)).unwrap();
        assert_eq!(
            fresh.failed_attempts, 0,
            "once expired, a new issue starts afresh"
        );
        let mut used = second.clone();
        used.consumed = true;
        assert_eq!(
            next(Some(&used), SendMode::Resend, now + Duration::minutes(3)).err(),
            Some(DomainError::NotFound("token"))
        );
    }

    #[test]
    fn the_cooldown_holds_whatever_became_of_the_last_code() {
        let hasher = hasher();
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(1);
        let subject = Subject::User(UserId::random());
        let short_lived = TokenPolicy {
            ttl: Duration::seconds(30),
            ..POLICY
        };
        let next = |current: Option<&LiveToken>, policy, at| {
            LiveToken::next(
                current,
                SendMode::Issue,
                &hasher,
                CodeSpec {
                    subject: &subject,
                    purpose: TokenPurpose::SmsVerification,
                    channel: Channel::Sms,
                    policy,
                    recipient: "+4411223344556",
                },
                at,
            )
            .map(|(token, _)| token)
        };
        let first = next(None, POLICY, now).unwrap();
        assert_eq!(first.cooldown, POLICY.cooldown);
        let used = LiveToken {
            consumed: true,
            ..first.clone()
        };
        let exhausted = LiveToken {
            failed_attempts: POLICY.max_attempts,
            ..first.clone()
        };
        let cooling = Err(DomainError::CooldownActive {
            retry_after_secs: 59,
        });
        assert_eq!(
            next(Some(&used), POLICY, now + Duration::seconds(1)),
            cooling
        );
        assert_eq!(
            next(Some(&first), POLICY, now + Duration::seconds(1)),
            cooling
        );
        assert_eq!(
            next(Some(&exhausted), POLICY, now + Duration::seconds(1)),
            Err(DomainError::AttemptsExhausted)
        );
        let expired = next(None, short_lived, now).unwrap();
        assert_eq!(
            next(Some(&expired), short_lived, now + Duration::seconds(45)),
            Err(DomainError::CooldownActive {
                retry_after_secs: 15
            }),
            "expired before its cooldown ended"
        );
        let again = next(Some(&used), POLICY, now + Duration::seconds(60)).unwrap();
        assert_eq!((again.version, again.failed_attempts), (2, 0));
        assert_eq!(again.replaces_codes_sent_by(), used.last_sent_at);

        // A used sign-in code is a completed sign-in: the next one's code goes out at once; a live one stands.
        let sign_in = |current: Option<&LiveToken>, at| {
            LiveToken::next(
                current,
                SendMode::Issue,
                &hasher,
                CodeSpec {
                    subject: &subject,
                    purpose: TokenPurpose::SignIn,
                    channel: Channel::Sms,
                    policy: POLICY,
                    recipient: "+4411223344556",
                },
                at,
            )
            .map(|(token, _)| token)
        };
        let live = sign_in(None, now).unwrap();
        assert_eq!(sign_in(Some(&live), now + Duration::seconds(1)), cooling);
        let signed_in = LiveToken {
            consumed: true,
            ..live
        };
        assert!(sign_in(Some(&signed_in), now + Duration::seconds(1)).is_ok());
        assert!(!TokenPurpose::SignIn.cooldown_outlives_the_code());
        assert!(TokenPurpose::SmsVerification.cooldown_outlives_the_code());
    }

    #[test]
    fn a_code_is_bound_to_the_recipient_it_was_sent_to() {
        let hasher = hasher();
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(1);
        let subject = Subject::User(UserId::random());
        let (token, _) = LiveToken::next(
            None,
            SendMode::Issue,
            &hasher,
            CodeSpec {
                subject: &subject,
                purpose: TokenPurpose::SmsVerification,
                channel: Channel::Sms,
                policy: POLICY,
                recipient: "+4411223344556",
            },
            now,
        )
        .unwrap();
        assert!(token.was_sent_to(&hasher, "+4411223344556"));
        assert!(!token.was_sent_to(&hasher, "+4411223344557"));
        let stored = token.sent_to.clone().unwrap();
        assert!(!stored.contains("4411223344556"), "never in clear");
        let other_subject = LiveToken {
            subject: Subject::User(UserId::random()),
            ..token.clone()
        };
        assert!(
            !other_subject.was_sent_to(&hasher, "+4411223344556"),
            "bound to its subject too"
        );
        let unbound = LiveToken {
            sent_to: None,
            ..token
        };
        assert!(!unbound.was_sent_to(&hasher, "+4411223344556"));
    }

    #[test]
    fn judging_follows_expiry_attempts_and_single_use() {
        let hasher = hasher();
        let now = OffsetDateTime::UNIX_EPOCH;
        let (mut token, secret) = LiveToken::issue(
            &hasher,
            Subject::OtpSession("u1".into()),
            TokenPurpose::SmsVerification,
            Channel::Sms,
            POLICY,
            now,
        );
        assert_eq!(
            token.judge(&hasher, secret.expose(), now),
            Ok(Verdict::Accept)
        );
        assert_eq!(
            token.judge(&hasher, "nope", now),
            Ok(Verdict::Reject {
                remaining_attempts: 4
            })
        );
        assert_eq!(
            token.judge(&hasher, secret.expose(), now + Duration::minutes(5)),
            Err(DomainError::CodeExpired)
        );
        token.failed_attempts = 5;
        assert_eq!(
            token.judge(&hasher, secret.expose(), now),
            Err(DomainError::AttemptsExhausted)
        );
        token.failed_attempts = 0;
        token.consumed = true;
        assert_eq!(
            token.judge(&hasher, secret.expose(), now),
            Err(DomainError::NotFound("code"))
        );
    }
}
