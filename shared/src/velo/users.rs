//! The user operations of the Velo front door.

use lambda_http::{Body, Request, Response};
use time::OffsetDateTime;

use super::serve;
use super::wire::{InviteUserRequest, UserResponse};
use crate::app::App;
use crate::domain::token::{Channel, LiveToken, TokenPurpose};
use crate::domain::{DomainError, InviteUser, Operation, Principal, User, UserId};
use crate::http::{empty_response, json_body, json_response, path_param};
use crate::messages::invitation_email;
use crate::store::items::user_pk;

fn user_id_param(request: &Request) -> Result<UserId, DomainError> {
    let raw = path_param(request, "userId").unwrap_or_default();
    raw.parse()
        .map_err(|reason: &str| DomainError::invalid_path("userId", reason))
}

/// `POST /v2/users/invite`: a PENDING user, its email claimed atomically, and an invitation sent by email.
pub async fn invite_user(app: &App, request: Request) -> Response<Body> {
    serve("inviteUser", request, |request, caller| async move {
        caller.may(Operation::InviteUser)?;
        let body: InviteUserRequest = json_body(&request)?;
        let user = User::invite(
            InviteUser {
                email: body.email,
                sms_number: body.sms_number,
                primary_contact_number: body.primary_contact_number,
                secondary_contact_number: body.secondary_contact_number,
                first_name: body.first_name,
                last_name: body.last_name,
                entity_id: body.entity_id,
                user_type: body.user_type,
                roles: body.roles,
                mfa_type: body.mfa_type,
            },
            OffsetDateTime::now_utc(),
        )?;
        caller.may_grant(user.user_type, user.entity_id, &user.roles)?;
        let hasher = app.hasher().map_err(|error| {
            tracing::error!(%error, "token hashing is not configured");
            DomainError::Unavailable {
                retry_after_secs: 60,
            }
        })?;
        let (invitation, secret) = LiveToken::issue(
            &hasher,
            user_pk(&user.id),
            TokenPurpose::Invitation,
            Channel::Email,
            app.config.invitation_policy(),
            user.created_at,
        );
        app.store.create_user(&user, Some(&invitation)).await?;
        let link = format!("{}{}", app.config.invite_link_base, secret.expose());
        let message = invitation_email(&link, invitation.expires_at);
        if let Err(error) = app.messenger.send_email(&user.email, &message).await {
            app.store.remove_invited_user(&user, &invitation).await?;
            return Err(error);
        }
        tracing::info!(user_id = %user.id, email = %user.email.masked(), "user invited");
        Ok(empty_response(204))
    })
    .await
}

async fn respond_with_user(
    app: &App,
    caller: &Principal,
    id: UserId,
    operation: Operation,
) -> Result<Response<Body>, DomainError> {
    caller.may(operation)?;
    let user = app
        .store
        .get_user(&id)
        .await?
        .ok_or(DomainError::NotFound("user"))?;
    if operation != Operation::GetSelf {
        caller.may_reach(operation, &user)?;
    }
    Ok(json_response(200, &UserResponse::from(&user)))
}

/// `GET /v2/users/{userId}`.
pub async fn get_user(app: &App, request: Request) -> Response<Body> {
    serve("getUserByIdV2", request, |request, caller| async move {
        let id = user_id_param(&request)?;
        respond_with_user(app, &caller, id, Operation::GetUser).await
    })
    .await
}

/// `GET /v2/users/self`.
pub async fn get_self(app: &App, request: Request) -> Response<Body> {
    serve("getSelf", request, |_request, caller| async move {
        respond_with_user(app, &caller, caller.user_id, Operation::GetSelf).await
    })
    .await
}
