//! The contract between the authorizer and the handlers: the context the authorizer attaches to each request.
//!
//! HTTP APIs cannot answer an authorizer's refusal with a body of our choosing, and every front door must answer
//! 401 in its own format. So the authorizer verifies the token, looks the user up, and always lets the request
//! through with a verdict: `authStatus` is `authenticated` (with the caller's identity) or `rejected` (with the
//! reason). Every handler reads the verdict through [`principal_from_request`] before it touches anything else.
//! Context values are strings so that REST (v1) authorizers, which allow only scalars, carry the same contract.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde_json::{Map, Value};
use std::collections::HashMap;

use crate::domain::apikey::ApiKey;
use crate::domain::signin::SessionId;
use crate::domain::{AccountKey, DomainError, Principal, Role, User, UserId};
use crate::doors::authorizer::jwt::AuthError;

pub const AUTH_STATUS: &str = "authStatus";
pub const AUTHENTICATED: &str = "authenticated";
pub const REJECTED: &str = "rejected";
pub const UNAVAILABLE: &str = "unavailable";
/// A PRE_AUTH bearer: the password was right, the second factor is still to come. Only the sign-in operations
/// that complete it accept this verdict; every other operation sees no principal and answers 401.
pub const PRE_AUTH: &str = "pre_auth";
pub const SESSION_ID: &str = "sessionId";
pub const AUTH_ERROR: &str = "authError";
pub const ACCOUNT_KEYS: &str = "accountKeys";

/// The context for an authenticated caller.
pub fn authenticated_context(user: &User) -> Map<String, Value> {
    let roles: Vec<&str> = user.roles.iter().map(|role| role.name()).collect();
    let mut context = Map::new();
    context.insert(AUTH_STATUS.into(), AUTHENTICATED.into());
    context.insert("userId".into(), user.id.to_string().into());
    context.insert("roles".into(), roles.join(",").into());
    context.insert(
        "entityId".into(),
        user.entity_id
            .map(|id| id.to_string())
            .unwrap_or_default()
            .into(),
    );
    context.insert("userType".into(), user.user_type.as_str().into());
    context
}

/// The context for an authenticated caller, with the bank accounts its token names as `accountKeys`, comma-joined
/// (a string, as REST authorizers require), when it names any. Keys that are not UUIDs are left out.
pub fn authenticated_context_for(user: &User, account_keys: &[String]) -> Map<String, Value> {
    let mut context = authenticated_context(user);
    let keys: Vec<String> = account_keys
        .iter()
        .filter_map(|key| key.parse::<AccountKey>().ok())
        .map(|key| key.to_string())
        .collect();
    if !keys.is_empty() {
        context.insert(ACCOUNT_KEYS.into(), keys.join(",").into());
    }
    context
}

/// `authenticated_context_for`, with the session the token belongs to, when it names one.
pub fn authenticated_context_in(
    user: &User,
    account_keys: &[String],
    session: Option<&SessionId>,
) -> Map<String, Value> {
    let mut context = authenticated_context_for(user, account_keys);
    if let Some(session) = session {
        context.insert(SESSION_ID.into(), session.to_string().into());
    }
    context
}

/// The context for an API key: the key's id as the caller, its one role, its payor.
pub fn api_key_context(key: &ApiKey) -> Map<String, Value> {
    let mut context = Map::new();
    context.insert(AUTH_STATUS.into(), AUTHENTICATED.into());
    context.insert("userId".into(), key.key_id.to_string().into());
    context.insert("roles".into(), key.role.name().into());
    context.insert("entityId".into(), key.payor_id.to_string().into());
    context.insert("userType".into(), "PAYOR".into());
    context
}

/// The context for a PRE_AUTH bearer: its user only.
pub fn pre_auth_context(user: &User) -> Map<String, Value> {
    let mut context = Map::new();
    context.insert(AUTH_STATUS.into(), PRE_AUTH.into());
    context.insert("userId".into(), user.id.to_string().into());
    context
}

/// The context for a refused caller.
pub fn rejected_context(error: &AuthError) -> Map<String, Value> {
    let mut context = Map::new();
    context.insert(AUTH_STATUS.into(), REJECTED.into());
    context.insert(AUTH_ERROR.into(), error.to_string().into());
    context
}

/// The context when the user could not be looked up: the handler answers 503, not 401.
pub fn unavailable_context() -> Map<String, Value> {
    let mut context = Map::new();
    context.insert(AUTH_STATUS.into(), UNAVAILABLE.into());
    context
}

fn text<'a>(fields: &'a HashMap<String, Value>, key: &str) -> Option<&'a str> {
    fields.get(key).and_then(Value::as_str)
}

fn principal_from_fields(fields: &HashMap<String, Value>) -> Result<Principal, DomainError> {
    let unauthenticated =
        || DomainError::Unauthenticated("the bearer token is missing, invalid or expired".into());
    match text(fields, AUTH_STATUS) {
        Some(AUTHENTICATED) => {}
        Some(UNAVAILABLE) => return Err(DomainError::unavailable()),
        _ => return Err(unauthenticated()),
    }
    parse_principal(fields).ok_or_else(unauthenticated)
}

fn parse_principal(fields: &HashMap<String, Value>) -> Option<Principal> {
    let roles = text(fields, "roles")?
        .split(',')
        .filter(|name| !name.is_empty())
        .map(str::parse::<Role>)
        .collect::<Result<Vec<_>, _>>()
        .ok()?;
    let entity_id = match text(fields, "entityId")? {
        "" => None,
        raw => Some(raw.parse().ok()?),
    };
    Some(Principal {
        user_id: text(fields, "userId")?.parse().ok()?,
        roles,
        entity_id,
        user_type: text(fields, "userType")?.parse().ok()?,
        account_keys: text(fields, ACCOUNT_KEYS)
            .unwrap_or_default()
            .split(',')
            .filter_map(|key| key.parse().ok())
            .collect(),
    })
}

/// The caller, from an HTTP API (v2) or REST API (v1) event: 401 without a verdict, 503 if it could not be made.
pub fn principal_from_request(request: &Request) -> Result<Principal, DomainError> {
    principal_from_fields(authorizer_fields(request))
}

/// The authorizer's context of an HTTP API (v2) or REST API (v1) request; empty when there is none.
fn authorizer_fields(request: &Request) -> &HashMap<String, Value> {
    static EMPTY: std::sync::OnceLock<HashMap<String, Value>> = std::sync::OnceLock::new();
    let empty = || EMPTY.get_or_init(HashMap::new);
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context
            .authorizer
            .as_ref()
            .map_or_else(empty, |a| &a.fields),
        Some(RequestContext::ApiGatewayV1(context)) => &context.authorizer.fields,
        _ => empty(),
    }
}

/// The user of a PRE_AUTH bearer; any other verdict is a 401 (503 if it could not be made).
pub fn pre_auth_user_from_request(request: &Request) -> Result<UserId, DomainError> {
    let fields = authorizer_fields(request);
    match text(fields, AUTH_STATUS) {
        Some(PRE_AUTH) => text(fields, "userId")
            .and_then(|id| id.parse().ok())
            .ok_or_else(|| DomainError::Unauthenticated("the bearer token is malformed".into())),
        Some(UNAVAILABLE) => Err(DomainError::unavailable()),
        _ => Err(DomainError::Unauthenticated(
            "a PRE_AUTH access token is required".into(),
        )),
    }
}

/// The session the bearer's token belongs to, if it names one.
pub fn session_from_request(request: &Request) -> Option<SessionId> {
    text(authorizer_fields(request), SESSION_ID).and_then(|id| id.parse().ok())
}
