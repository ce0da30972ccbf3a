//! The Velo operations that live on the token engine: register an SMS number, and resend a token.

use lambda_http::{Body, Request, Response};
use serde::Deserialize;

use super::common::{check_step_up_code, user_id_param};
use super::serve;
use super::wire::VerificationCode;
use crate::domain::sending::Requester;
use crate::domain::token::{SendMode, Subject, TokenPurpose};
use crate::domain::{DomainError, MfaType, Operation, PhoneNumber, Principal, UserId};
use crate::doors::http::{empty_response, json_body};
use crate::engine::{App, Recipient, SendRequest};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegisterSmsRequest {
    sms_number: PhoneNumber,
}

/// Velo's `tokenType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TokenType {
    InviteMfaUser,
    MfaRegistration,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResendTokenRequest {
    pub token_type: TokenType,
    #[serde(default)]
    pub verification_code: Option<VerificationCode>,
}

/// `POST /v2/users/registration/sms`: sends the caller a one-time code by SMS, later accepted once as
/// `verificationCode`.
pub async fn register_sms(app: &App, request: Request) -> Response<Body> {
    serve("registerSms", request, |request, caller| async move {
        caller.may(Operation::RegisterSms)?;
        let body: RegisterSmsRequest = json_body(&request)?;
        let subject = Subject::User(caller.user_id);
        let engine = app.engine()?;
        let current = app
            .store
            .get_token(&subject, TokenPurpose::SmsVerification)
            .await?;
        engine
            .send(SendRequest::new(
                Requester::of(&caller),
                subject,
                TokenPurpose::SmsVerification,
                SendMode::Issue,
                current,
                Recipient::Phone(body.sms_number),
                app.config.otp_policy(),
            ))
            .await?;
        Ok(empty_response(204))
    })
    .await
}

/// resendToken: revokes the user's token of that type and sends a new one; the token must already exist. Shared by
/// the HTTP operation and the `resendToken` command.
pub async fn resend(
    app: &App,
    caller: &Principal,
    id: UserId,
    body: ResendTokenRequest,
) -> Result<(), DomainError> {
    caller.may(Operation::ResendToken)?;
    let purpose = match body.token_type {
        TokenType::InviteMfaUser => TokenPurpose::Invitation,
        TokenType::MfaRegistration => TokenPurpose::MfaRegistration,
    };
    let (user, current) = app.store.get_user_with_token(&id, purpose).await?;
    let user = user.ok_or(DomainError::NotFound("user"))?;
    caller.may_reach(Operation::ResendToken, &user)?;
    if let Some(code) = &body.verification_code {
        check_step_up_code(app, caller, code).await?;
    }
    let recipient = match (purpose, user.mfa_type) {
        (TokenPurpose::MfaRegistration, MfaType::Sms) => Recipient::Phone(user.sms_number.clone()),
        _ => Recipient::Email(user.email.clone()),
    };
    let (policy, link_base) = match purpose {
        TokenPurpose::MfaRegistration => (
            app.config.invitation_policy(),
            app.config.mfa_link_base.clone(),
        ),
        _ => (
            app.config.invitation_policy(),
            app.config.invite_link_base.clone(),
        ),
    };
    app.engine()?
        .send(
            SendRequest::new(
                Requester::of(caller),
                Subject::User(id),
                purpose,
                SendMode::Resend,
                current,
                recipient,
                policy,
            )
            .with_link(link_base),
        )
        .await?;
    Ok(())
}

/// `POST /v2/users/{userId}/tokens`.
pub async fn resend_token(app: &App, request: Request) -> Response<Body> {
    serve("resendToken", request, |request, caller| async move {
        let id = user_id_param(&request)?;
        caller.may(Operation::ResendToken)?;
        let body: ResendTokenRequest = json_body(&request)?;
        resend(app, &caller, id, body).await?;
        Ok(empty_response(204))
    })
    .await
}

#[cfg(test)]
mod tests;
