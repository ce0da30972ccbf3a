//! Passwords: argon2id hashes only, zxcvbn strength, history, and lock-out after repeated failures.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::cell::RefCell;
use std::fmt;
use subtle::ConstantTimeEq;

use super::{Cause, DomainError};

pub const MIN_LENGTH: usize = 10;
pub const MAX_LENGTH: usize = 64;
pub const MIN_SCORE: u8 = 3;
/// How many previous passwords a new one must differ from (the current one included).
pub const HISTORY: usize = 5;
/// Wrong current-password checks before the user is locked out.
pub const LOCK_AFTER_FAILURES: u32 = 5;

/// A hash no password is known to match, with the parameters of [`hash`]: a sign-in for an unknown email, or a
/// user without a password, is verified against it, so that it costs what a wrong password costs.
pub const DECOY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$yMPq7xYVtygDL9SqMAhcaQ$JnduG48OY56UqG1QVbxSktWLwmBERBxMDg00cTZ9HZA";

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

thread_local! {
    /// argon2id's working memory (19 MiB with the default parameters), kept from one hash to the next. Allocated
    /// afresh, it would be mapped and faulted in page by page each time: a quarter of the hash's time again, and a
    /// change hashes up to six times.
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// argon2id of `password` and `salt` into `out`, in the kept working memory.
fn stretch(
    argon2: &Argon2<'_>,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    let count = params.block_count();
    BLOCKS.with(|kept| match kept.try_borrow_mut() {
        Ok(mut blocks) => {
            if blocks.len() < count {
                blocks.resize(count, Block::default());
            }
            argon2.hash_password_into_with_memory(password, salt, out, &mut blocks[..count])
        }
        Err(_) => argon2.hash_password_into(password, salt, out),
    })
}

/// A hash that could not be made: never the caller's fault, worth a retry.
fn unavailable(error: impl std::fmt::Display) -> DomainError {
    DomainError::unavailable_because(Cause::described(format!("argon2id: {error}")))
}

/// The argon2id PHC string of `password` (argon2's defaults: 19 MiB, 2 passes, 1 lane, a 16-byte salt).
pub fn hash(password: &Password) -> Result<String, DomainError> {
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_raw = salt
        .as_salt()
        .decode_b64(&mut salt_bytes)
        .map_err(unavailable)?;
    let params = Params::default();
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    stretch(
        &argon2,
        &params,
        password.expose().as_bytes(),
        salt_raw,
        &mut out,
    )
    .map_err(unavailable)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(unavailable)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(unavailable)?),
    };
    Ok(phc.to_string())
}

/// Does `password` match the stored PHC string? Its own algorithm, version and parameters are used, and the outputs
/// are compared in constant time (`Output`'s equality).
pub fn matches(password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt_raw) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let argon2 = Argon2::new(algorithm, version, params.clone());
    let mut out = vec![0u8; expected.len()];
    stretch(&argon2, &params, password.as_bytes(), salt_raw, &mut out).is_ok()
        && Output::new(&out).is_ok_and(|computed| computed == expected)
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
    let estimate = crate::strength::estimate(password, user_inputs);
    Strength {
        score: estimate.score,
        warning: estimate.feedback.warning.map(str::to_owned),
        suggestions: estimate
            .feedback
            .suggestions
            .into_iter()
            .map(str::to_owned)
            .collect(),
    }
}

/// The strength of a proposed password, counting a reuse of the current or a recent one as worthless.
/// `proven_current` is the current password in clear, once the caller has proved it against its hash: comparing with
/// it spares one deliberately slow hash. `history` holds the hashes it must also differ from.
pub fn assess_new(
    password: &str,
    user_inputs: &[&str],
    proven_current: Option<&str>,
    history: &[String],
) -> Strength {
    let reuses_current = proven_current
        .is_some_and(|current| bool::from(password.as_bytes().ct_eq(current.as_bytes())));
    if reuses_current || history.iter().any(|previous| matches(password, previous)) {
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
        // The same PHC strings as argon2's own hasher and verifier, both ways.
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let theirs = Argon2::default()
            .hash_password(
                password.expose().as_bytes(),
                &SaltString::generate(&mut OsRng),
            )
            .unwrap()
            .to_string();
        assert!(matches(password.expose(), &theirs));
        assert!(!matches("a quiet harbour at dawn", &theirs));
        assert_eq!(
            stored.split('$').take(4).collect::<Vec<_>>(),
            theirs.split('$').take(4).collect::<Vec<_>>()
        );
        let ours = PasswordHash::new(&stored).unwrap();
        assert!(Argon2::default()
            .verify_password(password.expose().as_bytes(), &ours)
            .is_ok());
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
        let reused = assess_new("correct horse battery staple 9!", &[], None, &[previous]);
        assert_eq!(
            (reused.score, reused.warning.as_deref()),
            (0, Some("Historic Password"))
        );
        let proven = "correct horse battery staple 9!";
        let again = assess_new(proven, &[], Some(proven), &[]);
        assert_eq!(
            (again.score, again.warning.as_deref()),
            (0, Some("Historic Password"))
        );
        assert!(
            assess_new("a lantern swinging over cold water", &[], Some(proven), &[]).acceptable()
        );
    }
}
