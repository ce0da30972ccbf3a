//! Redeeming the links the service sends: accept an invitation (`POST /v1/invitations/accept`), ask for a password
//! reset (`POST /v1/password/reset`, Velo's) and confirm it (`POST /v1/password/reset/confirm`). None takes a bearer
//! token: the link's token is the credential, and it is consumed in the same write that changes the user.

use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use time::OffsetDateTime;

use super::common::weak_password;
use super::error_response;
use crate::domain::password::{self, Password};
use crate::domain::sending::Requester;
use crate::domain::token::{Secret, SendMode, Subject, TokenPurpose, Verdict};
use crate::domain::{DomainError, Email, User, UserStatus};
use crate::doors::http::{empty_response, json_body, serve_as};
use crate::engine::{App, Recipient, SendRequest};
use crate::ports::Companion;

/// `{token, password}`: a link's token and the password to set.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkRedemption {
    token: String,
    password: Password,
}

/// Velo's `ResetPasswordRequest`.
#[derive(Debug, Deserialize)]
struct ResetPasswordRequest {
    email: Email,
}

/// One answer for every link that cannot be redeemed (unknown, used, replaced by a resend, expired, or for a user
/// that can no longer take it), so that the answer tells nothing about which.
fn link_refused() -> DomainError {
    DomainError::invalid_body(
        "token",
        "is not a valid link: it may have been used, replaced by a newer one, or have expired",
    )
}

/// Redeems the link `body.token` for `purpose`: the password must be strong enough for the user (its own details
/// and recent passwords counted), then `change` gives the user as it becomes, saved in the one conditional write
/// that consumes the token. A dead link is refused before any deliberate hashing.
async fn redeem<F>(
    app: &App,
    body: &LinkRedemption,
    purpose: TokenPurpose,
    change: F,
) -> Result<User, DomainError>
where
    F: Fn(&User, String, OffsetDateTime) -> Option<User>,
{
    let user_id = Secret::link_subject(&body.token).ok_or_else(link_refused)?;
    let engine = app.engine()?;
    let (user, current) = app.store.get_user_with_token(&user_id, purpose).await?;
    let (Some(user), Some(current)) = (user, current) else {
        return Err(link_refused());
    };
    let now = OffsetDateTime::now_utc();
    if current.judge(engine.hasher, &body.token, now) != Ok(Verdict::Accept) {
        return Err(link_refused());
    }
    let strength = user.password_strength(body.password.expose(), None);
    if !strength.acceptable() {
        return Err(weak_password("password", strength));
    }
    let after = change(&user, password::hash(&body.password)?, now).ok_or_else(link_refused)?;
    let consumed = engine
        .verify_with(
            Some(current),
            &Subject::User(user.id),
            purpose,
            &body.token,
            vec![Companion::UpdateUser {
                before: user,
                after: after.clone(),
            }],
        )
        .await;
    match consumed {
        Ok(()) => Ok(after),
        Err(
            DomainError::IncorrectCode { .. }
            | DomainError::AttemptsExhausted
            | DomainError::CodeExpired
            | DomainError::NotFound(_),
        ) => Err(link_refused()),
        Err(error) => Err(error),
    }
}

/// `POST /v1/invitations/accept` `{token, password}`: the invited (PENDING) user becomes ENABLED with that password.
pub async fn accept_invitation(app: &App, request: Request) -> Response<Body> {
    serve_as(
        "acceptInvitation",
        request,
        |_| Ok(()),
        |request, ()| async move {
            let body: LinkRedemption = json_body(&request)?;
            let user = redeem(app, &body, TokenPurpose::Invitation, |user, hash, _| {
                user.accepted_invitation(hash)
            })
            .await?;
            tracing::info!(user_id = %user.id, "invitation accepted");
            Ok(empty_response(204))
        },
        error_response,
    )
    .await
}

/// `POST /v1/password/reset` `{email}`: always 204. An ENABLED user with that email is sent a single-use reset link
/// (cooldown and quota as for every code); nothing else tells whether the address belongs to anyone.
pub async fn reset_password(app: &App, request: Request) -> Response<Body> {
    serve_as(
        "resetPassword",
        request,
        |_| Ok(()),
        |request, ()| async move {
            let body: ResetPasswordRequest = json_body(&request)?;
            let engine = app.engine()?;
            // The user and its live reset link, if any, in the read after the email's guard: the new link replaces it.
            let (user, current) = app
                .store
                .find_user_by_email_with_token(&body.email, TokenPurpose::PasswordReset)
                .await?;
            if let Some(user) = user.filter(|user| user.status == UserStatus::Enabled) {
                let send = SendRequest::new(
                    Requester::user(&user),
                    Subject::User(user.id),
                    TokenPurpose::PasswordReset,
                    SendMode::Issue,
                    current,
                    Recipient::Email(user.email.clone()),
                    app.config.password_reset_policy(),
                )
                .with_link(app.config.password_reset_link_base.clone());
                match engine.send(send).await {
                    Ok(_) => tracing::info!(user_id = %user.id, "password-reset link sent"),
                    Err(error) => {
                        tracing::warn!(user_id = %user.id, error = %error, "no password-reset link was sent")
                    }
                }
            }
            Ok(empty_response(204))
        },
        error_response,
    )
    .await
}

/// `POST /v1/password/reset/confirm` `{token, password}`: the new password (strength and history rules), no
/// lock-out, and every session and access token of the user ended.
pub async fn confirm_password_reset(app: &App, request: Request) -> Response<Body> {
    serve_as(
        "confirmPasswordReset",
        request,
        |_| Ok(()),
        |request, ()| async move {
            let body: LinkRedemption = json_body(&request)?;
            let user = redeem(
                app,
                &body,
                TokenPurpose::PasswordReset,
                |user, hash, now| {
                    (user.status == UserStatus::Enabled)
                        .then(|| user.after_password_reset(hash, now))
                },
            )
            .await?;
            tracing::info!(user_id = %user.id, "password reset; every session ended");
            Ok(empty_response(204))
        },
        error_response,
    )
    .await
}

#[cfg(test)]
mod tests;
