//! A user's TOTP factor (RFC 6238: HMAC-SHA-1, six digits, 30-second steps), its secret sealed at rest, and the rules
//! of a check: one step of clock drift either way, each step's code usable once, and a cap on wrong codes.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::fmt;
use subtle::ConstantTimeEq;
use time::{Duration, OffsetDateTime};
use totp_rs::{Algorithm, TOTP};

use super::UserId;

const STEP_SECONDS: u64 = 30;
const DIGITS: usize = 6;
/// 160 bits, the length RFC 4226 recommends for HMAC-SHA-1.
const SECRET_BYTES: usize = 20;
const NONCE_BYTES: usize = 12;

/// The stored state of a user's TOTP factor. Secrets are sealed (`SecretEnvelope`), never in clear.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TotpFactor {
    /// The registered secret, sealed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// A secret handed out by a registration that is not confirmed yet, sealed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<String>,
    /// The last step whose code was accepted: it and every earlier step are refused from then on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_step: Option<u64>,
    /// Wrong codes since the last right one, within `failure_window` of the first.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failures: u32,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub failed_since: Option<OffsetDateTime>,
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

/// A TOTP secret in clear: between its generation and the answer that shows it once, and while a code is checked.
pub struct TotpSecret(Vec<u8>);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

impl TotpSecret {
    pub fn generate() -> TotpSecret {
        let bytes: [u8; SECRET_BYTES] = rand::rng().random();
        TotpSecret(bytes.to_vec())
    }

    fn totp(&self, issuer: &str, account: &str) -> Option<TOTP> {
        TOTP::new(
            Algorithm::SHA1,
            DIGITS,
            1,
            STEP_SECONDS,
            self.0.clone(),
            Some(issuer.to_owned()),
            account.to_owned(),
        )
        .ok()
    }

    /// The secret in base32, as authenticator apps take it by hand.
    pub fn base32(&self) -> String {
        totp_rs::Secret::Raw(self.0.clone())
            .to_encoded()
            .to_string()
    }

    /// `otpauth://totp/<issuer>:<email>?secret=…&issuer=…` (SHA1, 6 digits, 30 s), for a QR code.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> Option<String> {
        Some(self.totp(issuer, account)?.get_url())
    }

    /// The secret an authenticator app was given (`base32`), as it computes codes from it.
    pub fn from_base32(encoded: &str) -> Option<TotpSecret> {
        totp_rs::Secret::Encoded(encoded.to_owned())
            .to_bytes()
            .ok()
            .map(TotpSecret)
    }

    /// The code at `at`, as an authenticator app shows it.
    pub fn code_at(&self, at: OffsetDateTime) -> String {
        self.code_at_step(at.unix_timestamp().max(0) as u64 / STEP_SECONDS)
    }

    /// The code of one step.
    pub fn code_at_step(&self, step: u64) -> String {
        self.totp("-", "-")
            .map(|totp| totp.generate(step * STEP_SECONDS))
            .unwrap_or_default()
    }
}

/// What a TOTP check decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotpVerdict {
    /// The code of this step (now, or one step either side) and not used before.
    Accept {
        step: u64,
    },
    Reject,
    /// Too many wrong codes lately: refused whatever the code, until the window passes.
    Exhausted,
}

impl TotpFactor {
    /// Judges `candidate` against `secret` at `now`, with this factor's history.
    pub fn judge(
        &self,
        secret: &TotpSecret,
        candidate: &str,
        now: OffsetDateTime,
        max_failures: u32,
        failure_window: Duration,
    ) -> TotpVerdict {
        let failing = self
            .failed_since
            .is_some_and(|since| now < since + failure_window);
        if failing && self.failures >= max_failures {
            return TotpVerdict::Exhausted;
        }
        let current = now.unix_timestamp().max(0) as u64 / STEP_SECONDS;
        let mut matched = None;
        // Every candidate step is computed and compared, so that the time taken does not depend on which matched.
        for step in [current.saturating_sub(1), current, current + 1] {
            let code = secret.code_at_step(step);
            let equal: bool = code.as_bytes().ct_eq(candidate.as_bytes()).into();
            if equal && self.last_step.is_none_or(|last| step > last) {
                matched = Some(step);
            }
        }
        match matched {
            Some(step) => TotpVerdict::Accept { step },
            None => TotpVerdict::Reject,
        }
    }

    /// The factor after `verdict` (the state to save; `Exhausted` changes nothing).
    pub fn after(
        &self,
        verdict: TotpVerdict,
        now: OffsetDateTime,
        failure_window: Duration,
    ) -> TotpFactor {
        let mut next = self.clone();
        match verdict {
            TotpVerdict::Accept { step } => {
                next.last_step = Some(step);
                next.failures = 0;
                next.failed_since = None;
            }
            TotpVerdict::Reject => {
                let window_open = self
                    .failed_since
                    .is_some_and(|since| now < since + failure_window);
                if window_open {
                    next.failures += 1;
                } else {
                    next.failures = 1;
                    next.failed_since = Some(now);
                }
            }
            TotpVerdict::Exhausted => {}
        }
        next
    }
}

/// AES-256-GCM under a key derived from the service's secret (HKDF-SHA256), each secret bound to its user (the
/// associated data), so that a sealed secret copied to another user's item does not open.
#[derive(Clone)]
pub struct SecretEnvelope {
    cipher: Aes256Gcm,
}

impl fmt::Debug for SecretEnvelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretEnvelope(<key redacted>)")
    }
}

impl SecretEnvelope {
    pub fn new(service_secret: &[u8]) -> SecretEnvelope {
        let mut key = [0u8; 32];
        let derived = hkdf::Hkdf::<sha2::Sha256>::new(None, service_secret)
            .expand(b"user-token-service/totp-secret/v1", &mut key);
        debug_assert!(derived.is_ok(), "32 bytes is a valid HKDF-SHA256 length");
        SecretEnvelope {
            cipher: Aes256Gcm::new(&key.into()),
        }
    }

    /// `base64url(nonce || ciphertext)`; `None` only if encryption itself failed.
    pub fn seal(&self, owner: &UserId, secret: &TotpSecret) -> Option<String> {
        let nonce: [u8; NONCE_BYTES] = rand::rng().random();
        let owner = owner.to_string();
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &secret.0,
                    aad: owner.as_bytes(),
                },
            )
            .ok()?;
        Some(URL_SAFE_NO_PAD.encode([nonce.as_slice(), &sealed].concat()))
    }

    /// The secret `seal` sealed for `owner`; `None` when it was sealed for another user or under another key.
    pub fn open(&self, owner: &UserId, sealed: &str) -> Option<TotpSecret> {
        let raw = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        if raw.len() <= NONCE_BYTES {
            return None;
        }
        let (nonce, ciphertext) = raw.split_at(NONCE_BYTES);
        let owner = owner.to_string();
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: owner.as_bytes(),
                },
            )
            .ok()
            .map(TotpSecret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::minutes(5);

    #[test]
    fn codes_follow_rfc_6238() {
        // RFC 6238 appendix B, SHA-1, with the last six of its eight digits.
        let secret = TotpSecret(b"12345678901234567890".to_vec());
        assert_eq!(secret.code_at_step(59 / 30), "287082");
        assert_eq!(secret.code_at_step(1111111109 / 30), "081804");
        assert_eq!(secret.code_at_step(2000000000 / 30), "279037");
        let uri = secret
            .otpauth_uri("User Token Service", "grace@example.com")
            .unwrap();
        assert!(
            uri.starts_with("otpauth://totp/User%20Token%20Service:grace%40example.com?secret=")
        );
        assert!(uri.contains(&format!("secret={}", secret.base32())));
        assert!(uri.contains("issuer=User%20Token%20Service"));
    }

    #[test]
    fn one_step_of_drift_each_code_once_and_a_cap_on_wrong_codes() {
        let secret = TotpSecret::generate();
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_015).unwrap();
        let step = 1_800_000_015 / 30;
        let factor = TotpFactor::default();
        for drift in [step - 1, step, step + 1] {
            assert_eq!(
                factor.judge(&secret, &secret.code_at_step(drift), now, 5, WINDOW),
                TotpVerdict::Accept { step: drift }
            );
        }
        assert_eq!(
            factor.judge(&secret, &secret.code_at_step(step + 2), now, 5, WINDOW),
            TotpVerdict::Reject
        );
        let used = factor.after(TotpVerdict::Accept { step }, now, WINDOW);
        assert_eq!(
            used.judge(&secret, &secret.code_at_step(step), now, 5, WINDOW),
            TotpVerdict::Reject,
            "a code works once"
        );
        let mut failing = used.clone();
        for _ in 0..5 {
            failing = failing.after(TotpVerdict::Reject, now, WINDOW);
        }
        assert_eq!(
            failing.judge(&secret, &secret.code_at_step(step + 1), now, 5, WINDOW),
            TotpVerdict::Exhausted
        );
        let later = now + WINDOW;
        let next = (later.unix_timestamp() / 30) as u64;
        assert_eq!(
            failing.judge(&secret, &secret.code_at_step(next), later, 5, WINDOW),
            TotpVerdict::Accept { step: next },
            "the cap lasts one window"
        );
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_user_under_its_key() {
        let envelope = SecretEnvelope::new(&[7u8; 32]);
        let (grace, alan) = (UserId::random(), UserId::random());
        let secret = TotpSecret::generate();
        let sealed = envelope.seal(&grace, &secret).unwrap();
        assert!(!sealed.contains(&secret.base32()));
        let opened = envelope.open(&grace, &sealed).unwrap();
        assert_eq!(opened.base32(), secret.base32());
        assert!(envelope.open(&alan, &sealed).is_none());
        assert!(SecretEnvelope::new(&[8u8; 32])
            .open(&grace, &sealed)
            .is_none());
        assert!(envelope.open(&grace, "AAAA").is_none());
        assert_eq!(format!("{secret:?}"), "TotpSecret(<redacted>)");
    }
}
