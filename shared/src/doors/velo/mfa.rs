//! Registering a second factor: `POST /v1/mfa/register` and `POST /v1/mfa/register/confirm`, by SMS or TOTP (the
//! user's `mfaType`). Authorized by the PRE_AUTH token of a user with no factor yet (its first sign-in), or by the
//! MFA-registration link that `unregister-mfa` and `resend-token` send (`{token}` in the body).

use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::error_response;
use super::login::signed_in_answer;
use crate::domain::sending::Requester;
use crate::domain::signin::SignInSession;
use crate::domain::token::{LiveToken, Secret, SendMode, Subject, TokenPurpose, Verdict};
use crate::domain::totp::{TotpSecret, TotpVerdict};
use crate::domain::{DomainError, MfaStatus, MfaType, User, UserId, UserStatus};
use crate::doors::authz::pre_auth_user_from_request;
use crate::doors::http::{empty_response, json_body, json_response, serve_as};
use crate::engine::{App, Recipient, SendRequest};
use crate::ports::{Companion, SaveError};

const RETRIES: usize = 3;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterRequest {
    /// The MFA-registration link's token, where there is no PRE_AUTH bearer.
    #[serde(default)]
    token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfirmRequest {
    otp: String,
    #[serde(default)]
    token: Option<String>,
}

/// What `register` answers: for TOTP, the secret, shown this once.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RegisterResponse {
    mfa_type: MfaType,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    otpauth_uri: Option<String>,
}

/// How the registrant proved who it is.
enum Proof {
    /// A PRE_AUTH token: confirming completes the sign-in. With it, the user's pending enrolment code, read in the
    /// same read as the user.
    SigningIn { enrolment: Option<LiveToken> },
    /// A live MFA-registration link, consumed with the confirmation.
    Link(LiveToken),
}

/// Neither proof: a 401, before anything in the body is judged.
fn no_credentials() -> DomainError {
    DomainError::Unauthenticated(
        "a PRE_AUTH access token or an MFA-registration link is required".into(),
    )
}

fn link_refused() -> DomainError {
    DomainError::invalid_body(
        "token",
        "is not a valid link: it may have been used, replaced by a newer one, or have expired",
    )
}

/// The user registering, and its proof. Either proof needs an ENABLED user that is not locked out and has no factor
/// registered.
async fn registrant(
    app: &App,
    pre_auth: Option<UserId>,
    link: Option<&str>,
) -> Result<(User, Proof), DomainError> {
    let (user, proof) = match (link, pre_auth) {
        (Some(link), _) => {
            let id = Secret::link_subject(link).ok_or_else(link_refused)?;
            let (user, token) = app
                .store
                .get_user_with_token(&id, TokenPurpose::MfaRegistration)
                .await?;
            let (Some(user), Some(token)) = (user, token) else {
                return Err(link_refused());
            };
            let now = OffsetDateTime::now_utc();
            if token.judge(app.engine()?.hasher, link, now) != Ok(Verdict::Accept) {
                return Err(link_refused());
            }
            (user, Proof::Link(token))
        }
        (None, Some(id)) => {
            let (user, enrolment) = app
                .store
                .get_user_with_token(&id, TokenPurpose::MfaEnrolment)
                .await?;
            let user = user
                .ok_or_else(|| DomainError::Unauthenticated("the user no longer exists".into()))?;
            (user, Proof::SigningIn { enrolment })
        }
        (None, None) => return Err(no_credentials()),
    };
    if user.status != UserStatus::Enabled || user.locked_out {
        return Err(DomainError::Forbidden(
            "the user may not sign in, so it may not register a factor".into(),
        ));
    }
    if user.mfa_status != MfaStatus::Unregistered {
        return Err(DomainError::Forbidden(
            "a factor is already registered; unregister it first".into(),
        ));
    }
    Ok((user, proof))
}

/// The PRE_AUTH bearer's user, if the request carries one; any other verdict leaves the body's link to prove it.
fn pre_auth_of(request: &Request) -> Result<Option<UserId>, DomainError> {
    match pre_auth_user_from_request(request) {
        Ok(id) => Ok(Some(id)),
        Err(DomainError::Unavailable { .. }) => Err(DomainError::unavailable()),
        Err(_) => Ok(None),
    }
}

/// `POST /v1/mfa/register`: SMS sends a code to the user's number; TOTP answers a new secret and its `otpauth://`
/// URI, kept sealed until a code of it confirms it.
pub async fn register_mfa(app: &App, request: Request) -> Response<Body> {
    serve_as(
        "registerMfa",
        request,
        pre_auth_of,
        |request, pre_auth| async move {
            let body: Result<RegisterRequest, _> = json_body(&request);
            let linked = body.as_ref().is_ok_and(|body| body.token.is_some());
            if pre_auth.is_none() && !linked {
                return Err(no_credentials());
            }
            let body = body?;
            let (user, _) = registrant(app, pre_auth, body.token.as_deref()).await?;
            let answer = match user.mfa_type {
                MfaType::Sms => {
                    // No token read first: the send is conditioned on there being none (see reset_password).
                    app.engine()?
                        .send(SendRequest::new(
                            Requester::user(&user),
                            Subject::User(user.id),
                            TokenPurpose::MfaEnrolment,
                            SendMode::Issue,
                            None,
                            Recipient::Phone(user.sms_number.clone()),
                            app.config.otp_policy(),
                        ))
                        .await?;
                    RegisterResponse {
                        mfa_type: MfaType::Sms,
                        secret: None,
                        otpauth_uri: None,
                    }
                }
                MfaType::Totp => {
                    let secret = TotpSecret::generate();
                    let sealed = app
                        .envelope()?
                        .seal(&user.id, &secret)
                        .ok_or_else(DomainError::unavailable)?;
                    let pending = User {
                        totp: crate::domain::totp::TotpFactor {
                            pending: Some(sealed),
                            ..user.totp.clone()
                        },
                        ..user.clone()
                    };
                    match app.store.save_user(&user, &pending).await {
                        Ok(()) => {}
                        Err(SaveError::Stale) => return Err(DomainError::Contention),
                        Err(SaveError::Failed(error)) => return Err(error),
                    }
                    RegisterResponse {
                        mfa_type: MfaType::Totp,
                        otpauth_uri: secret.otpauth_uri(&app.config.jwt.issuer, user.email.as_str()),
                        secret: Some(secret.base32()),
                    }
                }
                MfaType::Yubikey => {
                    return Err(DomainError::invalid_body(
                        "mfaType",
                        "YUBIKEY cannot be registered here; SMS and TOTP can",
                    ))
                }
            };
            tracing::info!(user_id = %user.id, mfa_type = ?user.mfa_type, "MFA registration started");
            Ok(json_response(200, &answer))
        },
        error_response,
    )
    .await
}

/// `POST /v1/mfa/register/confirm` `{otp}`: the code that went to the number (SMS) or one of the new secret (TOTP).
/// The factor is REGISTERED; with a PRE_AUTH token the sign-in completes (Velo's `AccessTokenResponse`), with a link
/// the link is consumed (204).
pub async fn confirm_mfa(app: &App, request: Request) -> Response<Body> {
    serve_as(
        "confirmMfa",
        request,
        pre_auth_of,
        |request, pre_auth| async move {
            let body: Result<ConfirmRequest, _> = json_body(&request);
            let linked = body.as_ref().is_ok_and(|body| body.token.is_some());
            if pre_auth.is_none() && !linked {
                return Err(no_credentials());
            }
            let body = body?;
            if !(6..=64).contains(&body.otp.chars().count()) {
                return Err(DomainError::invalid_body(
                    "otp",
                    "size must be between 6 and 64",
                ));
            }
            let engine = app.engine()?;
            let mut tries = 0;
            let (user, session) = loop {
                tries += 1;
                let (user, proof) = registrant(app, pre_auth, body.token.as_deref()).await?;
                let now = OffsetDateTime::now_utc();
                let mut after = User {
                    mfa_status: MfaStatus::Registered,
                    ..user.clone()
                };
                let mut with = Vec::new();
                let mut session = None;
                match &proof {
                    Proof::SigningIn { .. } => {
                        let opened = SignInSession::open(user.id, engine.hasher, now);
                        with.push(Companion::OpenSignIn(opened.0.clone()));
                        session = Some(opened);
                    }
                    Proof::Link(token) => with.push(Companion::ConsumeToken {
                        token: token.clone(),
                        at: now,
                    }),
                }
                let saved = match user.mfa_type {
                    MfaType::Sms => {
                        let current = match &proof {
                            Proof::SigningIn { enrolment } => enrolment.clone(),
                            Proof::Link(_) => {
                                app.store
                                    .get_token(&Subject::User(user.id), TokenPurpose::MfaEnrolment)
                                    .await?
                            }
                        };
                        let mut on_accept = vec![Companion::UpdateUser {
                            before: user.clone(),
                            after,
                        }];
                        on_accept.extend(with);
                        let verified = engine
                            .verify_with(
                                current,
                                &Subject::User(user.id),
                                TokenPurpose::MfaEnrolment,
                                &body.otp,
                                on_accept,
                            )
                            .await;
                        match verified {
                            Ok(()) => Ok(()),
                            Err(
                                DomainError::IncorrectCode { .. }
                                | DomainError::AttemptsExhausted
                                | DomainError::CodeExpired
                                | DomainError::NotFound("code" | "token"),
                            ) => return Err(code_refused()),
                            Err(error) => return Err(error),
                        }
                    }
                    MfaType::Totp => {
                        let secret = user
                            .totp
                            .pending
                            .as_deref()
                            .and_then(|sealed| app.envelope().ok()?.open(&user.id, sealed))
                            .ok_or_else(|| {
                                DomainError::invalid_body(
                                    "otp",
                                    "no TOTP secret awaits confirmation: register first",
                                )
                            })?;
                        let window = app.config.otp_ttl;
                        let verdict = user.totp.judge(
                            &secret,
                            &body.otp,
                            now,
                            app.config.max_attempts,
                            window,
                        );
                        after.totp = user.totp.after(verdict, now, window);
                        match verdict {
                            TotpVerdict::Exhausted => return Err(code_refused()),
                            TotpVerdict::Reject => match app.store.save_user(&user, &after).await {
                                Ok(()) => return Err(code_refused()),
                                Err(SaveError::Stale) => Err(SaveError::Stale),
                                Err(SaveError::Failed(error)) => return Err(error),
                            },
                            TotpVerdict::Accept { .. } => {
                                after.totp.secret = after.totp.pending.take();
                                app.store.save_user_with(&user, &after, &with).await
                            }
                        }
                    }
                    MfaType::Yubikey => {
                        return Err(DomainError::invalid_body(
                            "mfaType",
                            "YUBIKEY cannot be registered here; SMS and TOTP can",
                        ))
                    }
                };
                match saved {
                    Ok(()) => break (user, session),
                    Err(SaveError::Stale) if tries < RETRIES => continue,
                    Err(SaveError::Stale) => return Err(DomainError::Contention),
                    Err(SaveError::Failed(error)) => return Err(error),
                }
            };
            tracing::info!(user_id = %user.id, mfa_type = ?user.mfa_type, "MFA registered");
            match session {
                Some((session, refresh)) => {
                    let registered = User {
                        mfa_status: MfaStatus::Registered,
                        ..user
                    };
                    signed_in_answer(app, &registered, &session, &refresh).await
                }
                None => Ok(empty_response(204)),
            }
        },
        error_response,
    )
    .await
}

/// A code that was not accepted, whatever the reason: 400, at `otp`.
fn code_refused() -> DomainError {
    DomainError::invalid_body("otp", "the code was not accepted")
}

#[cfg(test)]
mod tests;
