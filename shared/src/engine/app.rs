//! What every handler is given: the settings, the ports and the code hasher, built once per function instance.

use std::sync::Arc;

use super::config::Config;
use super::TokenEngine;
use crate::domain::token::CodeHasher;
use crate::domain::totp::SecretEnvelope;
use crate::domain::{Cause, DomainError};
use crate::ports::{Messenger, Store, TokenSigner};

#[derive(Clone)]
pub struct App {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub messenger: Arc<dyn Messenger>,
    pub hasher: Option<CodeHasher>,
    /// Seals TOTP secrets at rest, under a key derived from the same secret as the hasher's.
    pub envelope: Option<SecretEnvelope>,
    /// The access-token signing key, where the function issues tokens or publishes the keys.
    pub signer: Option<Arc<dyn TokenSigner>>,
}

impl App {
    /// The hasher comes from `config.token_hash_secret`; without one, every token operation answers 503.
    pub fn new(config: Config, store: Arc<dyn Store>, messenger: Arc<dyn Messenger>) -> App {
        App {
            hasher: config
                .token_hash_secret
                .as_deref()
                .and_then(|secret| CodeHasher::new(secret.as_bytes()).ok()),
            envelope: config
                .token_hash_secret
                .as_deref()
                .filter(|secret| secret.len() >= CodeHasher::MIN_KEY_BYTES)
                .map(|secret| SecretEnvelope::new(secret.as_bytes())),
            config,
            store,
            messenger,
            signer: None,
        }
    }

    pub fn with_signer(mut self, signer: Arc<dyn TokenSigner>) -> App {
        self.signer = Some(signer);
        self
    }

    /// The signing key; answers 503 where the function has none configured.
    pub fn signer(&self) -> Result<&dyn TokenSigner, DomainError> {
        self.signer
            .as_deref()
            .ok_or_else(|| DomainError::Unavailable {
                retry_after_secs: 60,
                cause: Some(Cause::described(
                    "SIGNING_KEY_ID is not configured for this function",
                )),
            })
    }

    /// The envelope of TOTP secrets; answers 503 where the function has no hashing secret configured.
    pub fn envelope(&self) -> Result<&SecretEnvelope, DomainError> {
        self.envelope
            .as_ref()
            .ok_or_else(|| DomainError::Unavailable {
                retry_after_secs: 60,
                cause: Some(Cause::described(
                    "TOKEN_HASH_SECRET is not configured for this function",
                )),
            })
    }

    /// The token engine; answers 503 (and logs) where the function has no hashing secret configured.
    pub fn engine(&self) -> Result<TokenEngine<'_>, DomainError> {
        let hasher = self
            .hasher
            .as_ref()
            .ok_or_else(|| DomainError::Unavailable {
                retry_after_secs: 60,
                cause: Some(Cause::described(
                    "TOKEN_HASH_SECRET is not configured for this function",
                )),
            })?;
        Ok(TokenEngine {
            store: self.store.as_ref(),
            messenger: self.messenger.as_ref(),
            hasher,
            config: &self.config,
        })
    }
}
