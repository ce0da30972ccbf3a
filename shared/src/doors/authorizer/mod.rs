//! The Lambda authorizer: verifies the bearer JWT and looks the user up, then hands the verdict to the handlers
//! (see [`crate::doors::authz`] for why a refusal is a verdict and not a denial).
//!
//! It answers an HTTP API (payload 2.0, simple response) and a REST API (TOKEN or REQUEST, IAM policy) alike.

use serde_json::{json, Map, Value};

pub mod jwt;

use crate::domain::{causes, User, UserStatus};
use crate::doors::authz::{authenticated_context_for, rejected_context, unavailable_context};
use crate::ports::UserStore;
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

/// A token stays good only while its user exists, is not disabled, and was not disabled after the token was issued.
pub fn admits(user: &User, issued_at: i64) -> bool {
    let revoked_after_issue = user
        .tokens_valid_after
        .is_some_and(|valid_after| issued_at < valid_after.unix_timestamp());
    user.status != UserStatus::Disabled && !revoked_after_issue
}

pub async fn decide(
    verifier: &TokenVerifier,
    store: &dyn UserStore,
    authorization: Option<&str>,
) -> (Option<String>, Map<String, Value>) {
    let (user_id, claims) = match verifier.verify(authorization) {
        Ok(verified) => verified,
        Err(error) => return (None, rejected_context(&error)),
    };
    match store.get_user(&user_id).await {
        Ok(Some(user)) if admits(&user, claims.iat) => (
            Some(user.id.to_string()),
            authenticated_context_for(&user, &claims.account_keys),
        ),
        Ok(_) => (None, rejected_context(&AuthError::Revoked)),
        Err(error) => {
            tracing::error!(error = %error, cause = causes(&error), "the user lookup failed");
            (None, unavailable_context())
        }
    }
}

/// Answers one authorizer event in the shape its API type expects.
pub async fn authorize(verifier: &TokenVerifier, store: &dyn UserStore, event: Value) -> Value {
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
