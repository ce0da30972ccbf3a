//! The user operations of the Velo front door.

use lambda_http::{Body, Request, Response};
use time::OffsetDateTime;

use super::common::{check_verification_code, reachable_user, user_id_param};
use super::serve;
use super::wire::{InviteUserRequest, UserResponse};
use crate::domain::sending::Requester;
use crate::domain::token::TokenPurpose;
use crate::domain::{DomainError, InviteUser, Operation, Principal, User, UserId};
use crate::doors::http::{empty_response, json_body, json_response};
use crate::engine::messages::invitation_notice;
use crate::engine::{App, SendRequest};

/// How often the owner of an address is told that someone outside its reach tried to invite it: once a day.
const INVITATION_NOTICE_WINDOW_SECS: i64 = 24 * 3600;

/// inviteUser: a PENDING user, its email claimed, and its invitation token, in one transaction; the invitation
/// link goes out by email, and if it cannot, all three are removed again. Shared by the HTTP operation and the
/// `inviteUser` command. An address that is already a user's is answered by `taken_address`.
pub async fn invite(
    app: &App,
    caller: &Principal,
    body: InviteUserRequest,
) -> Result<UserId, DomainError> {
    caller.may(Operation::InviteUser)?;
    let verification_code = body.verification_code.clone();
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
    if let Some(code) = &verification_code {
        check_verification_code(app, caller, code, &user.sms_number).await?;
    }
    let invited = app
        .engine()?
        .send(SendRequest::invitation(
            Requester::of(caller),
            &user,
            &app.config,
        ))
        .await;
    match invited {
        Ok(_) => {}
        Err(DomainError::Conflict(field)) if field.location == "email" => {
            taken_address(app, caller, &user, DomainError::Conflict(field)).await?;
            return Ok(user.id);
        }
        Err(error) => return Err(error),
    }
    tracing::info!(user_id = %user.id, email = %user.email.masked(), "user invited");
    Ok(user.id)
}

/// The invitation of an address that already belongs to a user. A caller that may see that user (its own tenant's,
/// or a backoffice admin) gets Velo's 409, as it could find the user anyway. A caller that may not is answered as
/// for a new invitation, so that an address's belonging to another tenant is not told to it; nothing is written for
/// the invitation, and the address's owner is told by email instead, at most once a day. (What a caller can still
/// see: that no PENDING user appears in its own listing. docs/velo.md, "Inviting a taken address".)
async fn taken_address(
    app: &App,
    caller: &Principal,
    invited: &User,
    conflict: DomainError,
) -> Result<(), DomainError> {
    let (owner, _) = app
        .store
        .find_user_by_email_with_token(&invited.email, TokenPurpose::Invitation)
        .await?;
    let Some(owner) = owner.filter(|owner| !caller.reach().includes(owner)) else {
        return Err(conflict);
    };
    tracing::info!(
        audit = true,
        event = "user.invitation_of_a_taken_address",
        email = %invited.email.masked(),
        "an address outside the caller's reach was invited: its owner is told, the caller is not"
    );
    app.engine()?
        .notify(
            &owner.email,
            "invitation",
            &invitation_notice(),
            INVITATION_NOTICE_WINDOW_SECS,
        )
        .await
}

/// `POST /v2/users/invite`.
pub async fn invite_user(app: &App, request: Request) -> Response<Body> {
    serve("inviteUser", request, |request, caller| async move {
        caller.may(Operation::InviteUser)?;
        let body: InviteUserRequest = json_body(&request)?;
        invite(app, &caller, body).await?;
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
    let user = reachable_user(app, caller, id, operation).await?;
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
