//! `TokenSigner` on AWS KMS: an ECC_NIST_P256 key with `SIGN_VERIFY` usage signs every access token (ES256); the
//! private key never leaves KMS. KMS answers signatures and public keys in DER; JWS wants them raw.

use async_trait::async_trait;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};
use aws_sdk_kms::Client;
use aws_smithy_types::error::display::DisplayErrorContext;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::pkcs8::DecodePublicKey;

use crate::domain::{Cause, DomainError};
use crate::ports::{PublicJwk, TokenSigner};

/// A KMS call that failed, the SDK's whole error chain in its message.
#[derive(Debug, thiserror::Error)]
#[error("KMS {operation} failed: {detail}")]
struct CallFailed {
    operation: &'static str,
    detail: String,
}

fn failed(operation: &'static str, error: impl std::error::Error) -> DomainError {
    DomainError::unavailable_because(Cause::new(CallFailed {
        operation,
        detail: DisplayErrorContext(error).to_string(),
    }))
}

#[derive(Debug)]
pub struct KmsSigner {
    client: Client,
    key_id: String,
    previous_key_id: Option<String>,
    /// Read once per instance: a key's public half never changes, and a rotation is a new deployment.
    public_keys: tokio::sync::OnceCell<Vec<PublicJwk>>,
}

impl KmsSigner {
    /// `key_id` signs; `previous_key_id` (during a rotation) is only published.
    pub fn new(client: Client, key_id: String, previous_key_id: Option<String>) -> KmsSigner {
        KmsSigner {
            client,
            key_id,
            previous_key_id,
            public_keys: tokio::sync::OnceCell::new(),
        }
    }

    async fn public_key(&self, key_id: &str) -> Result<PublicJwk, DomainError> {
        let output = self
            .client
            .get_public_key()
            .key_id(key_id)
            .send()
            .await
            .map_err(|error| failed("GetPublicKey", error))?;
        let der = output.public_key.ok_or_else(|| {
            DomainError::unavailable_because(Cause::described("KMS returned no public key"))
        })?;
        es256_jwk(key_id, der.as_ref())
    }
}

/// The JWK of a P-256 public key in DER (SubjectPublicKeyInfo), as KMS's `GetPublicKey` returns it.
pub fn es256_jwk(kid: &str, spki_der: &[u8]) -> Result<PublicJwk, DomainError> {
    let key = p256::PublicKey::from_public_key_der(spki_der).map_err(|error| {
        DomainError::unavailable_because(Cause::described(format!(
            "the signing key is not a P-256 key: {error}"
        )))
    })?;
    let point = p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&key, false);
    match (point.x(), point.y()) {
        (Some(x), Some(y)) => Ok(PublicJwk::es256(
            kid,
            URL_SAFE_NO_PAD.encode(x),
            URL_SAFE_NO_PAD.encode(y),
        )),
        _ => Err(DomainError::unavailable_because(Cause::described(
            "the signing key is the point at infinity",
        ))),
    }
}

#[async_trait]
impl TokenSigner for KmsSigner {
    fn key_id(&self) -> &str {
        &self.key_id
    }

    async fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, DomainError> {
        let output = self
            .client
            .sign()
            .key_id(&self.key_id)
            .message(Blob::new(signing_input))
            .message_type(MessageType::Raw)
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await
            .map_err(|error| failed("Sign", error))?;
        let der = output.signature.ok_or_else(|| {
            DomainError::unavailable_because(Cause::described("KMS returned no signature"))
        })?;
        let signature = p256::ecdsa::Signature::from_der(der.as_ref()).map_err(|error| {
            DomainError::unavailable_because(Cause::described(format!(
                "KMS's signature is not ECDSA P-256: {error}"
            )))
        })?;
        Ok(signature.to_bytes().to_vec())
    }

    async fn public_keys(&self) -> Result<Vec<PublicJwk>, DomainError> {
        self.public_keys
            .get_or_try_init(|| async {
                let mut keys = vec![self.public_key(&self.key_id).await?];
                if let Some(previous) = &self.previous_key_id {
                    keys.push(self.public_key(previous).await?);
                }
                Ok(keys)
            })
            .await
            .cloned()
    }
}
