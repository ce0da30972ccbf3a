//! Passwords: argon2id hashes only, zxcvbn strength, history, and lock-out after repeated failures.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use std::fmt;

use super::DomainError;

pub const MIN_LENGTH: usize = 10;
pub const MAX_LENGTH: usize = 64;
pub const MIN_SCORE: u8 = 3;
/// How many previous passwords a new one must differ from (the current one included).
pub const HISTORY: usize = 5;
/// Wrong current-password checks before the user is locked out.
pub const LOCK_AFTER_FAILURES: u32 = 5;

/// A password in clear, only for as long as it takes to hash or check it. `Debug` hides it.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct Password(String);

impl Password {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Password {
    type Error = &'static str;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        let length = value.chars().count();
        if (MIN_LENGTH..=MAX_LENGTH).contains(&length) {
            Ok(Password(value))
        } else {
            Err("size must be between 10 and 64")
        }
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// The argon2id PHC string of `password`.
pub fn hash(password: &Password) -> Result<String, DomainError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|_| DomainError::Unavailable {
            retry_after_secs: 1,
        })
}

/// Does `password` match the stored PHC string? (The comparison inside argon2 is constant-time.)
pub fn matches(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// What zxcvbn thinks of a password, with what it knows of the user to look for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Strength {
    pub score: u8,
    pub warning: Option<String>,
    pub suggestions: Vec<String>,
}

impl Strength {
    pub fn acceptable(&self) -> bool {
        self.score >= MIN_SCORE
    }
}

pub fn assess(password: &str, user_inputs: &[&str]) -> Strength {
    let entropy = zxcvbn::zxcvbn(password, user_inputs);
    let feedback = entropy.feedback();
    Strength {
        score: u8::from(entropy.score()),
        warning: feedback.and_then(|f| f.warning()).map(|w| w.to_string()),
        suggestions: feedback
            .map(|f| f.suggestions().iter().map(ToString::to_string).collect())
            .unwrap_or_default(),
    }
}

/// The strength of a proposed password, counting a reuse of the current or a recent one as worthless.
pub fn assess_new(password: &str, user_inputs: &[&str], history: &[String]) -> Strength {
    if history.iter().any(|previous| matches(password, previous)) {
        return Strength {
            score: 0,
            warning: Some("Historic Password".into()),
            suggestions: vec!["[password has been used before]".into()],
        };
    }
    assess(password, user_inputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_check_only_the_right_password() {
        let password = Password::try_from("a quiet harbour at dusk".to_owned()).unwrap();
        let stored = hash(&password).unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(!stored.contains(password.expose()));
        assert!(matches(password.expose(), &stored));
        assert!(!matches("a quiet harbour at dawn", &stored));
        assert!(!matches(password.expose(), "not a hash"));
        assert_eq!(format!("{password:?}"), "Password(<redacted>)");
    }

    #[test]
    fn lengths_scores_and_history_are_enforced() {
        assert!(Password::try_from("short".to_owned()).is_err());
        assert!(Password::try_from("x".repeat(65)).is_err());
        assert!(!assess("password123", &[]).acceptable());
        assert!(assess("correct horse battery staple 9!", &[]).acceptable());
        let own_address = "grace.hopper@example.com";
        assert!(assess(own_address, &[]).score > assess(own_address, &[own_address]).score);
        assert!(!assess(own_address, &[own_address]).acceptable());
        let previous =
            hash(&Password::try_from("correct horse battery staple 9!".to_owned()).unwrap())
                .unwrap();
        let reused = assess_new("correct horse battery staple 9!", &[], &[previous]);
        assert_eq!(
            (reused.score, reused.warning.as_deref()),
            (0, Some("Historic Password"))
        );
    }
}
