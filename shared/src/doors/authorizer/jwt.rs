//! Bearer JWTs: ES256 from the service's own issuer (its KMS key's public keys, by `kid`), and as development or
//! migration options HS256 with a shared secret or RS256 with a public key. The issuer, audience, expiry and the
//! time claims are checked: a token is refused before its `nbf`, and one whose `iat` is in the future (beyond
//! `LEEWAY_SECS` of clock skew) is refused outright, or it would outlive every `tokensValidAfter` set before that
//! instant (disable, reset, lock-out).

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};

use crate::domain::UserId;
use crate::engine::config::JwtConfig;
use crate::ports::PublicJwk;

pub use crate::domain::signin::Claims;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("no bearer token")]
    Missing,
    #[error("the bearer token is malformed")]
    Malformed,
    #[error("the bearer token signature is invalid")]
    BadSignature,
    #[error("the bearer token has expired")]
    Expired,
    #[error("the bearer token is not valid yet, or claims to be issued in the future")]
    NotYetValid,
    #[error("the bearer token is for another issuer or audience")]
    WrongAudience,
    #[error("the user is disabled or deleted")]
    Revoked,
}

/// The clock skew allowed on `exp`, `nbf` and `iat`, in seconds.
pub const LEEWAY_SECS: u64 = 5;

#[derive(Debug, thiserror::Error)]
#[error("JWT configuration: {0}")]
pub struct KeyError(String);

/// Verifies bearer tokens against every configured key.
pub struct TokenVerifier {
    /// A key with a `kid` verifies only the tokens that name it.
    keys: Vec<(Option<String>, DecodingKey, Validation)>,
}

impl TokenVerifier {
    /// Accepts tokens signed by any of `public_keys` (the issuer's), and by the development keys `config` names.
    pub fn new(config: &JwtConfig, public_keys: &[PublicJwk]) -> Result<TokenVerifier, KeyError> {
        let validation = |algorithm| {
            let mut validation = Validation::new(algorithm);
            validation.set_issuer(&[&config.issuer]);
            validation.set_audience(&[&config.audience]);
            validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
            validation.validate_nbf = true;
            validation.leeway = LEEWAY_SECS;
            validation
        };
        let mut keys = Vec::new();
        if let Some(secret) = &config.hs256_secret {
            keys.push((
                None,
                DecodingKey::from_secret(secret.as_bytes()),
                validation(Algorithm::HS256),
            ));
        }
        if let Some(pem) = &config.rs256_public_key_pem {
            let key =
                DecodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| KeyError(e.to_string()))?;
            keys.push((None, key, validation(Algorithm::RS256)));
        }
        for jwk in public_keys {
            let key = DecodingKey::from_ec_components(&jwk.x, &jwk.y)
                .map_err(|e| KeyError(e.to_string()))?;
            keys.push((Some(jwk.kid.clone()), key, validation(Algorithm::ES256)));
        }
        if keys.is_empty() {
            return Err(KeyError(
                "set SIGNING_KEY_ID (or, for development, JWT_SECRET or JWT_PUBLIC_KEY)".into(),
            ));
        }
        Ok(TokenVerifier { keys })
    }

    /// Takes the raw `Authorization` header value.
    pub fn verify(&self, authorization: Option<&str>) -> Result<(UserId, Claims), AuthError> {
        let header = authorization
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .ok_or(AuthError::Missing)?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .ok_or(AuthError::Malformed)?;
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Malformed)?;
        let mut last = AuthError::BadSignature;
        for (kid, key, validation) in &self.keys {
            let names_another_key = kid.is_some() && header.kid != *kid;
            if !validation.algorithms.contains(&header.alg) || names_another_key {
                continue;
            }
            match decode::<Claims>(token, key, validation) {
                Ok(data) => {
                    let user_id = data.claims.sub.parse().map_err(|_| AuthError::Malformed)?;
                    let now = time::OffsetDateTime::now_utc().unix_timestamp();
                    if data.claims.iat > now.saturating_add(LEEWAY_SECS as i64) {
                        return Err(AuthError::NotYetValid);
                    }
                    return Ok((user_id, data.claims));
                }
                Err(error) => {
                    use jsonwebtoken::errors::ErrorKind;
                    last = match error.kind() {
                        ErrorKind::ExpiredSignature => AuthError::Expired,
                        ErrorKind::ImmatureSignature => AuthError::NotYetValid,
                        ErrorKind::InvalidAudience | ErrorKind::InvalidIssuer => {
                            AuthError::WrongAudience
                        }
                        ErrorKind::InvalidSignature => AuthError::BadSignature,
                        _ => AuthError::Malformed,
                    }
                }
            }
        }
        Err(last)
    }
}

/// Signs HS256 tokens: for local tooling and tests (production tokens come from the identity provider).
pub fn sign_hs256(
    config: &JwtConfig,
    secret: &str,
    user_id: UserId,
    iat: i64,
    ttl_secs: i64,
) -> Result<String, KeyError> {
    sign_hs256_for_accounts(config, secret, user_id, &[], iat, ttl_secs)
}

/// `sign_hs256`, with an `accountKeys` claim naming the bank accounts the bearer may act on.
pub fn sign_hs256_for_accounts(
    config: &JwtConfig,
    secret: &str,
    user_id: UserId,
    account_keys: &[String],
    iat: i64,
    ttl_secs: i64,
) -> Result<String, KeyError> {
    let claims = Claims {
        sub: user_id.to_string(),
        iss: config.issuer.clone(),
        aud: config.audience.clone(),
        iat,
        exp: iat + ttl_secs,
        account_keys: account_keys.to_vec(),
        ..Claims::default()
    };
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .map_err(|e| KeyError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> JwtConfig {
        JwtConfig {
            issuer: "iss".into(),
            audience: "aud".into(),
            hs256_secret: Some("a-secret-of-reasonable-length-000".into()),
            rs256_public_key_pem: None,
        }
    }

    fn now() -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp()
    }

    #[test]
    fn accepts_a_good_token_and_names_each_failure() {
        let config = config();
        let verifier = TokenVerifier::new(&config, &[]).unwrap();
        let user = UserId::random();
        let secret = config.hs256_secret.clone().unwrap();
        let good = sign_hs256(&config, &secret, user, now(), 600).unwrap();
        assert_eq!(
            verifier.verify(Some(&format!("Bearer {good}"))).unwrap().0,
            user
        );
        assert_eq!(verifier.verify(None), Err(AuthError::Missing));
        let account = "9d6f0a58-3f5e-4f0e-9a53-1f4a4c0b7e21".to_owned();
        let with_account = sign_hs256_for_accounts(
            &config,
            &secret,
            user,
            std::slice::from_ref(&account),
            now(),
            600,
        )
        .unwrap();
        let (_, claims) = verifier
            .verify(Some(&format!("Bearer {with_account}")))
            .unwrap();
        assert_eq!(claims.account_keys, vec![account]);
        assert_eq!(verifier.verify(Some(&good)), Err(AuthError::Malformed));
        assert_eq!(
            verifier.verify(Some("Bearer abc.def")),
            Err(AuthError::Malformed)
        );
        let expired = sign_hs256(&config, &secret, user, now() - 3600, 60).unwrap();
        assert_eq!(
            verifier.verify(Some(&format!("Bearer {expired}"))),
            Err(AuthError::Expired)
        );
        let forged = sign_hs256(
            &config,
            "another-secret-of-reasonable-len",
            user,
            now(),
            600,
        )
        .unwrap();
        assert_eq!(
            verifier.verify(Some(&format!("Bearer {forged}"))),
            Err(AuthError::BadSignature)
        );
        let other = JwtConfig {
            audience: "other".into(),
            ..config.clone()
        };
        let wrong_audience = sign_hs256(&other, &secret, user, now(), 600).unwrap();
        assert_eq!(
            verifier.verify(Some(&format!("Bearer {wrong_audience}"))),
            Err(AuthError::WrongAudience)
        );
    }

    /// An HS256 token of `config` for `user` with `extra` claims (`iat`, `nbf`, ...) over the usual ones.
    fn signed_with(config: &JwtConfig, user: UserId, extra: serde_json::Value) -> String {
        let mut claims = serde_json::json!({
            "sub": user.to_string(), "iss": config.issuer, "aud": config.audience,
            "iat": now(), "exp": now() + 600,
        });
        if let (Some(claims), Some(extra)) = (claims.as_object_mut(), extra.as_object()) {
            claims.extend(extra.clone());
        }
        let secret = config.hs256_secret.clone().unwrap();
        encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    #[test]
    fn a_token_is_refused_before_its_nbf_and_when_its_iat_is_in_the_future() {
        let config = config();
        let verifier = TokenVerifier::new(&config, &[]).unwrap();
        let user = UserId::random();
        let verdict = |extra| {
            verifier
                .verify(Some(&format!(
                    "Bearer {}",
                    signed_with(&config, user, extra)
                )))
                .map(|(id, _)| id)
        };
        let hour = 3600;
        let year = 365 * 24 * hour;
        assert_eq!(
            verdict(serde_json::json!({"nbf": now() + hour})),
            Err(AuthError::NotYetValid),
            "nbf an hour ahead"
        );
        assert_eq!(
            verdict(serde_json::json!({"iat": now() + year, "exp": now() + year + 600})),
            Err(AuthError::NotYetValid),
            "iat a year ahead"
        );
        assert_eq!(
            verdict(serde_json::json!({"iat": now() + 60})),
            Err(AuthError::NotYetValid),
            "iat a minute ahead"
        );
        assert_eq!(verdict(serde_json::json!({"nbf": now() - hour})), Ok(user));
        assert_eq!(
            verdict(serde_json::json!({"nbf": now() + 2, "iat": now() + 2})),
            Ok(user),
            "within the leeway of clock skew"
        );
        assert_eq!(verdict(serde_json::json!({})), Ok(user));
    }

    /// A key pair made for this test only; it signs nothing else.
    const TEST_RSA_PRIVATE_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCZwOKhTpy1wbfE
v+lGCwnvB/1oQwG/cGXL4cOaxUt3nv0qoAsHCE+YRipwOEGq+snF1xDFxw+u6PEI
nRsltXScTMUBEl/TAryV19oIqEkLE2k0fv6o7tXjMrn9nD4a19zz6iLcGaViZu39
FVuMmGTQ+67HoEyuXRFoJhhljl1aHIZHKwfJe8pWXmKsI7DDofO8xEB3DdO1bqen
EbdzbOvec9RPtqPZpBqzP+s5P5tavnM32DHLYBK6MrkEZsy37zema6qPFjuC0qeT
0FNYpEMu1YD/7y/SrYFqqFELdFeESkGG5K+GIgQevcXyAO9dA3wxZzngHorYipQg
hFMZOK8zAgMBAAECggEAIcMYQOGZSdQi/WJC4C2WXdW8UIO+Q4Jz6ARIRpkiTD8u
SojgQwgRKlfmA8Rmrxvo6LekKDng+MCQBRsyleI1nAjDjcuyHQzRynmemB4UBAmc
JXnpg8EGWKCP9N+1R4G1NB5qzzgWd/gwNE3XT5U7NiS+KXnKvNMU+nC7FLnhR+L6
ejZQMleAeth9oHPydS6r33Y3gu5wLC89Gvp9GfgIpN6pwQiOe4ssyDarHvlznkjG
t648+4sckruiTHGgti9KjxhDIPS9zixEEHth0/wPeKpwpevgFr8aEyZtCwqlyK55
8Cw2VdwXcL9lqYI6AVzJpVUf2WkFzxL5gAztRCQ22QKBgQDI0v4sif4QkOuKFZaP
UtPhk4ZlcRDtACr4OLaQLT2Sq5YFEJpa2H2DWciOsVwqB2lWSTU2sHGt4r681jYS
D32eytoyxMIQ+QEiPdgCb2IXJLbKzN0XJ4AkQBCNAJ0nD32HUw6QxokCUtB8Aqmg
RXteqV1ZaFh6p3jyKUnKqC2SjQKBgQDD/yng4BzHhBMvztxYnpdefaqHRUgcXbfJ
ylT2IhIzBoNlMcyCtbtfKkzE1V3fg78wK/AemRITjJNvbuzqQ6/4MwWJWBc+UjWG
mnMEsm9iH2Wl86lolUaS8A73OwApA78ktfov3C1FqgGhy8PmqR6lFKVm45guia3h
T8GiTi+4vwKBgGO1dqNwhCd/fKLboxxYGIEoeRMGt0ukyLDjn6kn/SlEbkDnhGvU
j0TXIB/Q6Zyof2FrCbO0mUynhuJFTSVccZeUyg9o5537s9dnc0eKO96XyPYaDy++
2f2lnVIU2vIY28+DqnixSjdQHNlljQjZVq6iUongqAWF/yPk4hFvvOjFAoGAfwJK
PBxe6fevi0qMxay3wJbEu/Xsfd1JbS19kyaPDpvI5/m2Ynmr20aJCwCNXXt9mJTQ
fLOK4Do3jH2gb0q/rKI7kz4PieYyI3DQ2hlbToW0FC9q94fMfQmtWQ7V0r5Hzl1S
rFMMz1kUx6lI4J91aVqQuLUB+B5mHFzXyPrLt/cCgYEAuauGzsQjFBnvd0EWsYBh
07jgCVzSkQy01DL1utvTGL78rWqbh4Jbykt00lJ+xDBqsCREy9ciWNWQO6x/Ng6r
Bo28d6OHeJw47PAJy8nQL04Dp8xjB5ElQ1FM9o50rUjSr5oi4/rPHlYi1TctKFPI
Ehnzes8vtFHOnqyvwr7blpQ=
-----END PRIVATE KEY-----";
    const TEST_RSA_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAmcDioU6ctcG3xL/pRgsJ
7wf9aEMBv3Bly+HDmsVLd579KqALBwhPmEYqcDhBqvrJxdcQxccPrujxCJ0bJbV0
nEzFARJf0wK8ldfaCKhJCxNpNH7+qO7V4zK5/Zw+Gtfc8+oi3BmlYmbt/RVbjJhk
0Puux6BMrl0RaCYYZY5dWhyGRysHyXvKVl5irCOww6HzvMRAdw3TtW6npxG3c2zr
3nPUT7aj2aQasz/rOT+bWr5zN9gxy2ASujK5BGbMt+83pmuqjxY7gtKnk9BTWKRD
LtWA/+8v0q2BaqhRC3RXhEpBhuSvhiIEHr3F8gDvXQN8MWc54B6K2IqUIIRTGTiv
MwIDAQAB
-----END PUBLIC KEY-----";

    #[test]
    fn accepts_rs256_with_the_configured_public_key_alongside_hs256() {
        let config = JwtConfig {
            rs256_public_key_pem: Some(TEST_RSA_PUBLIC_KEY.into()),
            ..config()
        };
        let verifier = TokenVerifier::new(&config, &[]).unwrap();
        let user = UserId::random();
        let claims = Claims {
            sub: user.to_string(),
            iss: config.issuer.clone(),
            aud: config.audience.clone(),
            iat: now(),
            exp: now() + 600,
            ..Claims::default()
        };
        let key = EncodingKey::from_rsa_pem(TEST_RSA_PRIVATE_KEY.as_bytes()).unwrap();
        let rs256 = encode(&Header::new(Algorithm::RS256), &claims, &key).unwrap();
        assert_eq!(
            verifier.verify(Some(&format!("Bearer {rs256}"))).unwrap().0,
            user
        );
        let secret = config.hs256_secret.clone().unwrap();
        let hs256 = sign_hs256(&config, &secret, user, now(), 600).unwrap();
        assert!(verifier.verify(Some(&format!("Bearer {hs256}"))).is_ok());
        let rs_only = TokenVerifier::new(
            &JwtConfig {
                hs256_secret: None,
                ..config.clone()
            },
            &[],
        )
        .unwrap();
        assert_eq!(
            rs_only.verify(Some(&format!("Bearer {hs256}"))).err(),
            Some(AuthError::BadSignature),
            "an HS256 token is refused where only RS256 is configured"
        );
    }
}
