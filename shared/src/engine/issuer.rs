//! Access tokens: JWTs signed ES256 by the service's own key in KMS, verifiable by anyone from the JWKS.
//!
//! The token is assembled here (header, claims, base64url, the signature KMS returns) rather than by
//! `jsonwebtoken::encode`, which signs only with a private key it holds; ours never leaves KMS.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::json;
use time::OffsetDateTime;

use super::config::JwtConfig;
use crate::domain::signin::{Authority, Claims, SessionId, ACCESS_TOKEN_TTL, PRE_AUTH_TTL};
use crate::domain::{Cause, DomainError};
use crate::ports::TokenSigner;

/// A signed access token and how long it lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub token: String,
    pub expires_in: i64,
}

/// Signs an access token for `subject` (a user, or an API key): PRE_AUTH (no session yet), full (in `session`), or
/// an API key's.
pub async fn issue(
    signer: &dyn TokenSigner,
    jwt: &JwtConfig,
    subject: uuid::Uuid,
    authority: Authority,
    session: Option<SessionId>,
    now: OffsetDateTime,
) -> Result<AccessToken, DomainError> {
    let ttl = match authority {
        Authority::PreAuth => PRE_AUTH_TTL,
        Authority::Full | Authority::ApiKey => ACCESS_TOKEN_TTL,
    };
    let iat = now.unix_timestamp();
    let claims = Claims {
        sub: subject.hyphenated().to_string(),
        iss: jwt.issuer.clone(),
        aud: jwt.audience.clone(),
        iat,
        exp: iat + ttl.whole_seconds(),
        sid: session.map(|id| id.to_string()),
        auth: (authority != Authority::Full).then(|| authority.as_str().to_owned()),
        account_keys: Vec::new(),
    };
    let header = json!({ "alg": "ES256", "typ": "JWT", "kid": signer.key_id() });
    let encode = |value: &serde_json::Value| {
        serde_json::to_vec(value)
            .map(|bytes| URL_SAFE_NO_PAD.encode(bytes))
            .map_err(|error| DomainError::unavailable_because(Cause::new(error)))
    };
    let claims = serde_json::to_value(&claims)
        .map_err(|error| DomainError::unavailable_because(Cause::new(error)))?;
    let signing_input = format!("{}.{}", encode(&header)?, encode(&claims)?);
    let signature = signer.sign(signing_input.as_bytes()).await?;
    Ok(AccessToken {
        token: format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature)),
        expires_in: ttl.whole_seconds(),
    })
}
