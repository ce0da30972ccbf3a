//! The Velo Payments Users API v2 front door: its wire types, its error body, and its operations.

mod applications;
mod common;
mod login;
mod manage;
mod mfa;
mod redeem;
mod selfservice;
mod tokens;
mod users;
pub mod wire;

pub use applications::{create_api_key, create_application, delete_api_key};
pub use common::check_verification_code;
pub use login::{authenticate, jwks, logout, validate_access_token};
pub use manage::{
    delete_user, disable_user, enable_user, list_users, role_update, set_user_status, unlock_user,
    unregister_mfa, user_details_update,
};
pub use mfa::{confirm_mfa, register_mfa};
pub use redeem::{accept_invitation, confirm_password_reset, reset_password};
pub use selfservice::{
    unregister_mfa_self, update_password_self, user_details_update_self, validate_password_self,
};
pub use tokens::{register_sms, resend, resend_token, ResendTokenRequest, TokenType};
pub use users::{get_self, get_user, invite, invite_user};

use lambda_http::{Body, Request, Response};
use serde::Serialize;
use std::collections::BTreeMap;
use std::future::Future;

use crate::domain::{DomainError, InputSource, Principal};
use crate::doors::http::{json_response, serve_authenticated, with_retry_after};

/// Velo's `ErrorResponse`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    pub correlation_id: String,
    pub http_status_code: u16,
    pub errors: Vec<ErrorEntry>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorEntry {
    pub error_code: &'static str,
    pub error_message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_type: Option<&'static str>,
    pub localisation_details: LocalisationDetails,
}

#[derive(Debug, Serialize)]
pub struct LocalisationDetails {
    pub template: String,
    pub parameters: BTreeMap<String, String>,
}

/// The stable error codes of this front door (documented in the README).
pub struct Rendered {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub location: Option<(String, &'static str)>,
    pub retry_after_secs: Option<u64>,
}

pub fn render(error: &DomainError) -> Rendered {
    let plain = |status, code, message: String| Rendered {
        status,
        code,
        message,
        location: None,
        retry_after_secs: None,
    };
    match error {
        DomainError::Invalid(field, source) => {
            let (code, location_type) = match source {
                InputSource::Body => ("40010001", "requestBody"),
                InputSource::Path => ("40010002", "pathParam"),
                InputSource::Query => ("40010003", "queryParam"),
            };
            Rendered {
                location: Some((field.location.clone(), location_type)),
                ..plain(400, code, field.message.clone())
            }
        }
        DomainError::IncorrectCode { .. } => Rendered {
            location: Some(("verificationCode".into(), "requestBody")),
            ..plain(400, "40010004", "the verification code is not valid".into())
        },
        DomainError::AttemptsExhausted => plain(
            400,
            "40010005",
            "the maximum number of verification attempts has been reached".into(),
        ),
        DomainError::CodeExpired => {
            plain(400, "40010006", "the verification code has expired".into())
        }
        DomainError::CooldownActive { retry_after_secs } => Rendered {
            retry_after_secs: Some(*retry_after_secs),
            ..plain(
                400,
                "40010007",
                format!("a token was sent recently; retry in {retry_after_secs} seconds"),
            )
        },
        DomainError::SendQuotaExceeded { retry_after_secs }
        | DomainError::TooManyRequests { retry_after_secs } => Rendered {
            retry_after_secs: Some(*retry_after_secs),
            ..plain(
                400,
                "40010008",
                "too many messages were sent to this recipient; retry later".into(),
            )
        },
        DomainError::SendBudgetExhausted { retry_after_secs } => Rendered {
            retry_after_secs: Some(*retry_after_secs),
            ..plain(
                400,
                "40010009",
                "too many text messages were sent for this caller, its organisation or the service; retry later"
                    .into(),
            )
        },
        DomainError::DestinationNotAllowed => plain(
            400,
            "40010010",
            "text messages may not be sent to this number's country or range".into(),
        ),
        DomainError::Unauthenticated(reason) => Rendered {
            location: Some(("Authorization".into(), "header")),
            ..plain(401, "40110001", format!("invalid access token: {reason}"))
        },
        DomainError::Forbidden(reason) => plain(403, "40310001", reason.clone()),
        DomainError::NotFound(what) => plain(404, "40410001", format!("the {what} was not found")),
        DomainError::Conflict(field) => Rendered {
            location: Some((field.location.clone(), "requestBody")),
            ..plain(409, "40910001", field.message.clone())
        },
        DomainError::Contention => plain(
            409,
            "40910002",
            "the resource was changed by a concurrent request; read it again and retry".into(),
        ),
        DomainError::PreconditionFailed(reason) => plain(412, "41210001", reason.clone()),
        DomainError::PayloadTooLarge { limit_bytes } => Rendered {
            location: Some(("body".into(), "requestBody")),
            ..plain(
                413,
                "41310001",
                format!("the request body must be at most {limit_bytes} bytes"),
            )
        },
        DomainError::DeliveryFailed => Rendered {
            retry_after_secs: Some(30),
            ..plain(
                503,
                "50310002",
                "the message could not be delivered; nothing was changed".into(),
            )
        },
        DomainError::Unavailable {
            retry_after_secs, ..
        } => Rendered {
            retry_after_secs: Some(*retry_after_secs),
            ..plain(
                503,
                "50310001",
                "the service is temporarily unavailable".into(),
            )
        },
    }
}

pub fn error_response(correlation_id: &str, error: &DomainError) -> Response<Body> {
    let rendered = render(error);
    let (location, location_type) = match rendered.location {
        Some((location, kind)) => (Some(location), Some(kind)),
        None => (None, None),
    };
    let body = ErrorBody {
        correlation_id: correlation_id.to_owned(),
        http_status_code: rendered.status,
        errors: vec![ErrorEntry {
            error_code: rendered.code,
            localisation_details: LocalisationDetails {
                template: rendered.message.clone(),
                parameters: BTreeMap::new(),
            },
            error_message: rendered.message,
            location,
            location_type,
        }],
    };
    with_retry_after(
        json_response(rendered.status, &body),
        rendered.retry_after_secs,
    )
}

/// Runs one authenticated Velo operation: 401 without a principal, the error body on failure, one log line.
pub async fn serve<F, Fut>(operation: &'static str, request: Request, op: F) -> Response<Body>
where
    F: FnOnce(Request, Principal) -> Fut,
    Fut: Future<Output = Result<Response<Body>, DomainError>>,
{
    serve_authenticated(operation, request, op, error_response).await
}
