//! The Lambda authorizer: verifies the bearer JWT and looks the user up, then hands the verdict to the handlers
//! (see [`crate::doors::authz`] for why a refusal is a verdict and not a denial).
//!
//! It answers an HTTP API (payload 2.0, simple response) and a REST API (TOKEN or REQUEST, IAM policy) alike.

use serde_json::{json, Map, Value};

pub mod jwt;

use crate::domain::apikey::ApiKeyId;
use crate::domain::signin::{Authority, SessionId};
use crate::domain::{causes, DomainError, User, UserId, UserStatus};
use crate::doors::authz::{
    api_key_context, authenticated_context_in, pre_auth_context, rejected_context,
    unavailable_context,
};
use crate::ports::Store;
use jwt::{AuthError, TokenVerifier};

fn header<'a>(event: &'a Value, name: &str) -> Option<&'a str> {
    event
        .get("headers")?
        .as_object()?
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .and_then(|(_, value)| value.as_str())
}

fn bearer(event: &Value) -> Option<&str> {
    event
        .get("authorizationToken")
        .and_then(Value::as_str)
        .or_else(|| header(event, "authorization"))
}

/// A token stays good only while its user exists, is neither disabled nor locked out, and was not signed out,
/// disabled or reset after the token was issued. `session_began` is when the token's session opened, exact; a token
/// from no session has only its `iat`, to the second.
pub fn admits(user: &User, issued_at: i64, session_began: Option<time::OffsetDateTime>) -> bool {
    let revoked_after_issue = user.tokens_valid_after.is_some_and(|valid_after| {
        issued_at < valid_after.unix_timestamp()
            || session_began.is_some_and(|began| began < valid_after)
    });
    user.status != UserStatus::Disabled && !user.locked_out && !revoked_after_issue
}

/// The user the token names, and when its session (if it names one, and it is still live) began: one read either
/// way. A session that has ended is no user.
async fn lookup(
    store: &dyn Store,
    user_id: &UserId,
    session: Option<&SessionId>,
) -> Result<Option<(User, Option<time::OffsetDateTime>)>, DomainError> {
    let Some(session_id) = session else {
        return Ok(store.get_user(user_id).await?.map(|user| (user, None)));
    };
    let (user, session) = store.get_user_with_sign_in(user_id, session_id).await?;
    let now = time::OffsetDateTime::now_utc();
    Ok(match (user, session) {
        (Some(user), Some(session)) if session.is_live(now) => {
            Some((user, Some(session.created_at)))
        }
        _ => None,
    })
}

pub async fn decide(
    verifier: &TokenVerifier,
    store: &dyn Store,
    authorization: Option<&str>,
) -> (Option<String>, Map<String, Value>) {
    let (user_id, claims) = match verifier.verify(authorization) {
        Ok(verified) => verified,
        Err(error) => return (None, rejected_context(&error)),
    };
    let session = claims.session_id();
    if claims.sid.is_some() && session.is_none() {
        return (None, rejected_context(&AuthError::Malformed));
    }
    if claims.authority() == Authority::ApiKey {
        return match store.get_api_key(&ApiKeyId::from(user_id)).await {
            Ok(Some(key)) => (Some(key.key_id.to_string()), api_key_context(&key)),
            Ok(None) => (None, rejected_context(&AuthError::Revoked)),
            Err(error) => {
                tracing::error!(error = %error, cause = causes(&error), "the API key lookup failed");
                (None, unavailable_context())
            }
        };
    }
    match lookup(store, &user_id, session.as_ref()).await {
        Ok(Some((user, began))) if admits(&user, claims.iat, began) => match claims.authority() {
            Authority::PreAuth => (Some(user.id.to_string()), pre_auth_context(&user)),
            // An API key's token is judged above; a user's token never claims it.
            Authority::Full | Authority::ApiKey => (
                Some(user.id.to_string()),
                authenticated_context_in(&user, &claims.account_keys, session.as_ref()),
            ),
        },
        Ok(_) => (None, rejected_context(&AuthError::Revoked)),
        Err(error) => {
            tracing::error!(error = %error, cause = causes(&error), "the user lookup failed");
            (None, unavailable_context())
        }
    }
}

/// Answers one authorizer event in the shape its API type expects.
pub async fn authorize(verifier: &TokenVerifier, store: &dyn Store, event: Value) -> Value {
    let (principal, context) = decide(verifier, store, bearer(&event)).await;
    let field = |key: &str| {
        context
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("-")
            .to_owned()
    };
    let (verdict, reason) = (
        field(crate::doors::authz::AUTH_STATUS),
        field(crate::doors::authz::AUTH_ERROR),
    );
    tracing::info!(
        user_id = principal.as_deref().unwrap_or("-"),
        verdict,
        reason,
        "authorizer verdict"
    );
    if event.get("version").and_then(Value::as_str) == Some("2.0") {
        return json!({ "isAuthorized": true, "context": context });
    }
    let resource = event
        .get("methodArn")
        .and_then(Value::as_str)
        .unwrap_or("*");
    json!({
        "principalId": principal.unwrap_or_else(|| "anonymous".to_owned()),
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{ "Action": "execute-api:Invoke", "Effect": "Allow", "Resource": resource }]
        },
        "context": context
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::UserStore;
    use crate::testing::{admin, memory_app};
    use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
    use serde_json::json;

    const SECRET: &str = "an in-memory HS256 secret, long enough";

    #[tokio::test]
    async fn a_token_issued_in_the_future_is_refused_even_after_a_disable_and_an_enable() {
        let app = memory_app(|config| config.jwt.hs256_secret = Some(SECRET.into()));
        let verifier = TokenVerifier::new(&app.app.config.jwt, &[]).expect("a verifier");
        // With a password, so that enabling it again makes it ENABLED (not PENDING).
        let user = User {
            password_hash: Some(crate::domain::password::DECOY_HASH.into()),
            ..admin()
        };
        app.store.create_user(&user).await.expect("stored");
        let now = time::OffsetDateTime::now_utc();
        let year = 365 * 24 * 3600;
        let token = |iat: i64| {
            let claims = json!({
                "sub": user.id.to_string(), "iss": app.app.config.jwt.issuer,
                "aud": app.app.config.jwt.audience, "iat": iat, "exp": iat + 600,
            });
            let signed = encode(
                &Header::new(Algorithm::HS256),
                &claims,
                &EncodingKey::from_secret(SECRET.as_bytes()),
            )
            .expect("signed");
            format!("Bearer {signed}")
        };
        let from_the_future = token(now.unix_timestamp() + year);
        let present = token(now.unix_timestamp());
        let status =
            |context: &Map<String, Value>| context[crate::doors::authz::AUTH_STATUS].clone();
        assert_eq!(
            status(
                &decide(&verifier, app.store.as_ref(), Some(&present))
                    .await
                    .1
            ),
            "authenticated"
        );
        assert_eq!(
            status(
                &decide(&verifier, app.store.as_ref(), Some(&from_the_future))
                    .await
                    .1
            ),
            "rejected"
        );

        let disabled = user
            .with_status(UserStatus::Disabled, now)
            .expect("a change")
            .expect("disabled");
        app.store.save_user(&user, &disabled).await.expect("saved");
        let disabled = app
            .store
            .get_user(&user.id)
            .await
            .expect("read")
            .expect("the user");
        let enabled = disabled
            .with_status(UserStatus::Enabled, now)
            .expect("a change")
            .expect("enabled");
        assert_eq!(enabled.status, UserStatus::Enabled);
        app.store
            .save_user(&disabled, &enabled)
            .await
            .expect("saved");

        let (principal, context) =
            decide(&verifier, app.store.as_ref(), Some(&from_the_future)).await;
        assert_eq!(principal, None);
        assert_eq!(status(&context), "rejected");
        assert_eq!(
            context[crate::doors::authz::AUTH_ERROR],
            AuthError::NotYetValid.to_string()
        );
        assert_eq!(
            status(
                &decide(&verifier, app.store.as_ref(), Some(&present))
                    .await
                    .1
            ),
            "rejected",
            "a token issued before the disable stays refused"
        );
    }
}
