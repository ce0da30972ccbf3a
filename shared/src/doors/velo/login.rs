//! Velo's Login API: `POST /v1/authenticate` (password and refresh-token grants), `POST /v1/validate` (the second
//! factor), `POST /v1/logout`, and the issuer's public keys at `GET /.well-known/jwks.json`.

use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::error_response;
use crate::domain::apikey::ApiKeyId;
use crate::domain::password;
use crate::domain::sending::Requester;
use crate::domain::signin::{
    basic_credentials, sign_in_refused, Authority, Refresh, RefreshToken, SessionId, SignInSession,
};
use crate::domain::token::{LiveToken, SendMode, Subject, TokenPurpose};
use crate::domain::totp::TotpVerdict;
use crate::domain::{DomainError, Email, MfaStatus, MfaType, User, UserId, UserStatus};
use crate::doors::authz::{
    pre_auth_user_from_request, principal_from_request, session_from_request,
};
use crate::doors::http::{empty_response, header, json_body, json_response, query_param, serve_as};
use crate::engine::issuer::{issue, AccessToken};
use crate::engine::{App, Recipient, SendRequest};
use crate::ports::{Companion, SaveError};

/// How often a write that lost a race is judged again; then the answer is `DomainError::Contention` (409).
const RETRIES: usize = 3;

/// Velo's `AuthResponse`.
#[derive(Debug, Serialize)]
pub struct AuthResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub scope: &'static str,
    #[serde(rename = "entityIds")]
    pub entity_ids: Vec<String>,
}

impl AuthResponse {
    fn new(token: AccessToken, refresh_token: Option<String>, entity_ids: Vec<String>) -> Self {
        AuthResponse {
            access_token: token.token,
            token_type: "bearer",
            expires_in: token.expires_in,
            refresh_token,
            scope: SCOPE,
            entity_ids,
        }
    }
}

/// Velo's `AccessTokenResponse`.
#[derive(Debug, Serialize)]
pub struct AccessTokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub refresh_token: String,
    pub expires_in: i64,
    pub scope: &'static str,
    pub user_info: UserInfo,
    #[serde(rename = "entityIds")]
    pub entity_ids: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct UserInfo {
    pub user_id: String,
    #[serde(rename = "userType")]
    pub user_type: &'static str,
    pub mfa_details: MfaDetails,
}

#[derive(Debug, Serialize)]
pub struct MfaDetails {
    pub mfa_type: MfaType,
    pub verified: bool,
}

/// Velo's `AccessTokenValidationRequest`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ValidationRequest {
    otp: String,
}

const SCOPE: &str = "https://api.velopayments.com/scopes/auth/users";

fn entity_ids(user: &User) -> Vec<String> {
    user.entity_id.iter().map(ToString::to_string).collect()
}

/// Velo asks that no sign-in answer be cached.
fn uncached(mut response: Response<Body>) -> Response<Body> {
    let headers = response.headers_mut();
    headers.insert(
        "cache-control",
        lambda_http::http::HeaderValue::from_static("no-store"),
    );
    headers.insert(
        "pragma",
        lambda_http::http::HeaderValue::from_static("no-cache"),
    );
    response
}

/// `POST /v1/authenticate?grant_type=password|refresh_token|client_credentials`.
pub async fn authenticate(app: &App, request: Request) -> Response<Body> {
    serve_as(
        "veloAuth",
        request,
        |_| Ok(()),
        |request, ()| async move {
            let grant = query_param(&request, "grant_type")
                .unwrap_or_else(|| "client_credentials".to_owned());
            let answer = match grant.as_str() {
                "password" => password_grant(app, &request).await?,
                "refresh_token" => refresh_grant(app, &request).await?,
                "client_credentials" => client_credentials_grant(app, &request).await?,
                _ => {
                    return Err(DomainError::invalid_query(
                        "grant_type",
                        "must be one of client_credentials, password, refresh_token",
                    ))
                }
            };
            Ok(uncached(json_response(200, &answer)))
        },
        error_response,
    )
    .await
}

/// The user whose email and password the `Authorization: Basic` header carries, if the password is right and the
/// user may sign in, with its pending sign-in code (read with it, for the code to send). Every refusal is the same,
/// and costs one argon2id verification whatever it was.
async fn signed_in_user(
    app: &App,
    request: &Request,
) -> Result<(User, Option<LiveToken>), DomainError> {
    let (name, secret) = header(request, "authorization")
        .and_then(|value| basic_credentials(&value))
        .unwrap_or_default();
    let (user, mut current) = match name.parse::<Email>() {
        Ok(email) => {
            app.store
                .find_user_by_email_with_token(&email, TokenPurpose::SignIn)
                .await?
        }
        Err(_) => (None, None),
    };
    let Some(mut user) = user else {
        password::matches(&secret, password::DECOY_HASH);
        return Err(sign_in_refused());
    };
    for _ in 0..RETRIES {
        let stored = user
            .password_hash
            .as_deref()
            .unwrap_or(password::DECOY_HASH);
        let right = password::matches(&secret, stored) && user.password_hash.is_some();
        let may_sign_in = user.status == UserStatus::Enabled && !user.locked_out;
        let after = match (right, may_sign_in) {
            (true, true) => user.unlocked(),
            (false, true) => Some(user.after_failed_password(OffsetDateTime::now_utc())),
            (_, false) => None,
        };
        let Some(after) = after else {
            return if right && may_sign_in {
                Ok((user, current))
            } else {
                Err(sign_in_refused())
            };
        };
        match app.store.save_user(&user, &after).await {
            Ok(()) if right => return Ok((after, current)),
            Ok(()) => return Err(sign_in_refused()),
            Err(SaveError::Stale) => {
                let (fresh, token) = app
                    .store
                    .get_user_with_token(&user.id, TokenPurpose::SignIn)
                    .await?;
                user = fresh.ok_or_else(sign_in_refused)?;
                current = token;
            }
            Err(SaveError::Failed(error)) => return Err(error),
        }
    }
    // Concurrent sign-ins kept changing the user: answered as every refused sign-in is, since any other answer
    // would tell that the email belongs to a user. The same request, sent again, reads afresh.
    Err(sign_in_refused())
}

/// An API key's `Basic base64(apiKey:apiSecret)`: a token with the key's role on its payor, for 1800 s.
async fn client_credentials_grant(
    app: &App,
    request: &Request,
) -> Result<AuthResponse, DomainError> {
    let (name, secret) = header(request, "authorization")
        .and_then(|value| basic_credentials(&value))
        .unwrap_or_default();
    let key = match name.parse::<ApiKeyId>() {
        Ok(id) => app.store.get_api_key(&id).await?,
        Err(_) => None,
    };
    let hasher = app.engine()?.hasher;
    let key = key
        .filter(|key| key.accepts(&secret, hasher))
        .ok_or_else(sign_in_refused)?;
    let token = signed(app, *key.key_id.as_uuid(), Authority::ApiKey, None).await?;
    Ok(AuthResponse::new(
        token,
        None,
        vec![key.payor_id.to_string()],
    ))
}

async fn password_grant(app: &App, request: &Request) -> Result<AuthResponse, DomainError> {
    let (user, current) = signed_in_user(app, request).await?;
    // A user with no factor registered yet registers one next (`POST /v1/mfa/register`), with this token.
    if user.mfa_type == MfaType::Sms && user.mfa_status != MfaStatus::Unregistered {
        send_sign_in_code(app, &user, current).await?;
    }
    let token = signed(app, *user.id.as_uuid(), Authority::PreAuth, None).await?;
    Ok(AuthResponse::new(token, None, entity_ids(&user)))
}

/// Sends the sign-in code to the user's number, replacing `current` (read with the user). Inside the cooldown the
/// code already sent stands: the sign-in goes on, and nothing more is sent.
async fn send_sign_in_code(
    app: &App,
    user: &User,
    current: Option<LiveToken>,
) -> Result<(), DomainError> {
    let subject = Subject::User(user.id);
    let send = SendRequest::new(
        Requester::user(user),
        subject,
        TokenPurpose::SignIn,
        SendMode::Issue,
        current,
        Recipient::Phone(user.sms_number.clone()),
        app.config.otp_policy(),
    );
    match app.engine()?.send(send).await {
        Ok(_) | Err(DomainError::CooldownActive { .. }) => Ok(()),
        Err(error) => Err(error),
    }
}

async fn refresh_grant(app: &App, request: &Request) -> Result<AuthResponse, DomainError> {
    let presented = query_param(request, "refresh_token")
        .or_else(|| form_field(request, "refresh_token"))
        .ok_or_else(|| DomainError::invalid_query("refresh_token", "must not be null"))?;
    let presented = RefreshToken::parse(&presented).ok_or_else(sign_in_refused)?;
    let hasher = app.engine()?.hasher;
    for _ in 0..RETRIES {
        let (user, session) = app
            .store
            .get_user_with_sign_in(&presented.user_id, &presented.session_id)
            .await?;
        let (Some(user), Some(session)) = (user, session) else {
            return Err(sign_in_refused());
        };
        let now = OffsetDateTime::now_utc();
        let next_token = RefreshToken::issue(user.id, session.session_id);
        let next = match session.refresh(&presented, &next_token, hasher, now) {
            Refresh::Rotate(next) if may_keep_session(&user, &session) => next,
            Refresh::Rotate(_) | Refresh::Refused => return Err(sign_in_refused()),
            Refresh::Replayed(ended) => {
                if app.store.save_sign_in(&session, &ended).await? {
                    tracing::warn!(user_id = %user.id, session_id = %session.session_id, "a used refresh token was presented again: the session is ended");
                    return Err(sign_in_refused());
                }
                continue;
            }
        };
        if !app.store.save_sign_in(&session, &next).await? {
            continue;
        }
        let token = signed(
            app,
            *user.id.as_uuid(),
            Authority::Full,
            Some(session.session_id),
        )
        .await?;
        return Ok(AuthResponse::new(
            token,
            Some(next_token.expose()),
            entity_ids(&user),
        ));
    }
    Err(DomainError::Contention)
}

/// A session lasts while its user may sign in and was not signed out everywhere after it began.
fn may_keep_session(user: &User, session: &SignInSession) -> bool {
    let ended_after_start = user
        .tokens_valid_after
        .is_some_and(|after| session.created_at < after);
    user.status == UserStatus::Enabled && !user.locked_out && !ended_after_start
}

/// An access token for `subject` (a user or an API key), signed now.
async fn signed(
    app: &App,
    subject: uuid::Uuid,
    authority: Authority,
    session: Option<SessionId>,
) -> Result<AccessToken, DomainError> {
    issue(
        app.signer()?,
        &app.config.jwt,
        subject,
        authority,
        session,
        OffsetDateTime::now_utc(),
    )
    .await
}

/// One field of an `application/x-www-form-urlencoded` body, as OAuth clients send it.
fn form_field(request: &Request, name: &str) -> Option<String> {
    let body = std::str::from_utf8(request.body().as_ref()).ok()?;
    body.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| value.replace("%2E", ".").replace("%2e", "."))
    })
}

/// `POST /v1/validate` `{otp}` with a PRE_AUTH token: the sign-in code. A right one opens a session (in the same
/// write that consumes the code) and answers a full access token and its refresh token.
pub async fn validate_access_token(app: &App, request: Request) -> Response<Body> {
    serve_as(
        "validateAccessToken",
        request,
        pre_auth_user_from_request,
        |request, user_id: UserId| async move {
            let body: ValidationRequest = json_body(&request)?;
            if !(6..=64).contains(&body.otp.chars().count()) {
                return Err(DomainError::invalid_body(
                    "otp",
                    "size must be between 6 and 64",
                ));
            }
            let (user, current) = app
                .store
                .get_user_with_token(&user_id, TokenPurpose::SignIn)
                .await?;
            let user = user
                .filter(|user| user.status == UserStatus::Enabled && !user.locked_out)
                .ok_or_else(sign_in_refused)?;
            if user.mfa_type == MfaType::Totp && user.mfa_status != MfaStatus::Unregistered {
                let (session, refresh) = totp_sign_in(app, user.clone(), &body.otp).await?;
                return signed_in_answer(app, &user, &session, &refresh).await;
            }
            let engine = app.engine()?;
            let (session, refresh) =
                SignInSession::open(user.id, engine.hasher, OffsetDateTime::now_utc());
            let verified = engine
                .verify_with(
                    current,
                    &Subject::User(user.id),
                    TokenPurpose::SignIn,
                    &body.otp,
                    vec![Companion::OpenSignIn(session.clone())],
                )
                .await;
            match verified {
                Ok(()) => {}
                Err(
                    DomainError::IncorrectCode { .. }
                    | DomainError::AttemptsExhausted
                    | DomainError::CodeExpired
                    | DomainError::NotFound(_),
                ) => return Err(code_refused()),
                Err(error) => return Err(error),
            }
            signed_in_answer(app, &user, &session, &refresh).await
        },
        error_response,
    )
    .await
}

/// The refusal of a second factor that was not accepted, whatever the reason.
fn code_refused() -> DomainError {
    DomainError::Unauthenticated("the one-time code was not accepted".into())
}

/// A TOTP user's second factor: a code of its registered secret (one step of drift, each step once, wrong codes
/// capped as for every code). A right one opens a session in the write that records the step.
async fn totp_sign_in(
    app: &App,
    mut user: User,
    otp: &str,
) -> Result<(SignInSession, RefreshToken), DomainError> {
    let engine = app.engine()?;
    let envelope = app.envelope()?;
    for _ in 0..RETRIES {
        let secret = user
            .totp
            .secret
            .as_deref()
            .and_then(|sealed| envelope.open(&user.id, sealed))
            .ok_or_else(code_refused)?;
        let now = OffsetDateTime::now_utc();
        let window = app.config.otp_ttl;
        let verdict = user
            .totp
            .judge(&secret, otp, now, app.config.max_attempts, window);
        let after = User {
            totp: user.totp.after(verdict, now, window),
            ..user.clone()
        };
        let saved = match verdict {
            TotpVerdict::Exhausted => return Err(code_refused()),
            TotpVerdict::Reject => app.store.save_user(&user, &after).await.map(|()| None),
            TotpVerdict::Accept { .. } => {
                let (session, refresh) = SignInSession::open(user.id, engine.hasher, now);
                app.store
                    .save_user_with(&user, &after, &[Companion::OpenSignIn(session.clone())])
                    .await
                    .map(|()| Some((session, refresh)))
            }
        };
        match saved {
            Ok(Some(signed_in)) => return Ok(signed_in),
            Ok(None) => return Err(code_refused()),
            Err(SaveError::Stale) => {
                user = app
                    .store
                    .get_user(&user.id)
                    .await?
                    .ok_or_else(sign_in_refused)?;
            }
            Err(SaveError::Failed(error)) => return Err(error),
        }
    }
    Err(DomainError::Contention)
}

/// Velo's `AccessTokenResponse` for a session just opened: a full access token of it, and its first refresh token.
pub(super) async fn signed_in_answer(
    app: &App,
    user: &User,
    session: &SignInSession,
    refresh: &RefreshToken,
) -> Result<Response<Body>, DomainError> {
    let token = signed(
        app,
        *user.id.as_uuid(),
        Authority::Full,
        Some(session.session_id),
    )
    .await?;
    tracing::info!(user_id = %user.id, session_id = %session.session_id, "signed in");
    Ok(uncached(json_response(
        200,
        &AccessTokenResponse {
            access_token: token.token,
            token_type: "bearer",
            refresh_token: refresh.expose(),
            expires_in: token.expires_in,
            scope: SCOPE,
            user_info: UserInfo {
                user_id: user.id.to_string(),
                user_type: user.user_type.as_str(),
                mfa_details: MfaDetails {
                    mfa_type: user.mfa_type,
                    verified: user.mfa_status != MfaStatus::Unregistered,
                },
            },
            entity_ids: entity_ids(user),
        },
    )))
}

/// `POST /v1/logout`: ends the session of the bearer's token, so the authorizer refuses its access tokens and its
/// refresh token from now on. A token from no session (the local tool's) ends every session of its user.
pub async fn logout(app: &App, request: Request) -> Response<Body> {
    serve_as(
        "logout",
        request,
        |request| {
            Ok((
                principal_from_request(request)?,
                session_from_request(request),
            ))
        },
        |_, (caller, session): (_, Option<SessionId>)| async move {
            for _ in 0..RETRIES {
                let ended = match session {
                    Some(session_id) => {
                        let (_, session) = app
                            .store
                            .get_user_with_sign_in(&caller.user_id, &session_id)
                            .await?;
                        match session {
                            Some(session) if !session.revoked => {
                                app.store.save_sign_in(&session, &session.ended()).await?
                            }
                            _ => true,
                        }
                    }
                    None => {
                        let user = app
                            .store
                            .get_user(&caller.user_id)
                            .await?
                            .ok_or_else(sign_in_refused)?;
                        let signed_out = User {
                            tokens_valid_after: Some(OffsetDateTime::now_utc()),
                            ..user.clone()
                        };
                        match app.store.save_user(&user, &signed_out).await {
                            Ok(()) => true,
                            Err(SaveError::Stale) => false,
                            Err(SaveError::Failed(error)) => return Err(error),
                        }
                    }
                };
                if ended {
                    return Ok(empty_response(204));
                }
            }
            Err(DomainError::Contention)
        },
        error_response,
    )
    .await
}

/// `GET /.well-known/jwks.json`: the public keys that verify our access tokens (RFC 7517). Public and cacheable.
pub async fn jwks(app: &App, request: Request) -> Response<Body> {
    serve_as(
        "jwks",
        request,
        |_| Ok(()),
        |_, ()| async move {
            let keys = app.signer()?.public_keys().await?;
            let mut response = json_response(200, &serde_json::json!({ "keys": keys }));
            response.headers_mut().insert(
                "cache-control",
                lambda_http::http::HeaderValue::from_static("public, max-age=300"),
            );
            Ok(response)
        },
        error_response,
    )
    .await
}

#[cfg(test)]
mod tests;
