//! The Sigma SMS OTP handler front door (`/api/n/otp-handler`): its error body, its language, and its operations.
//!
//! A session sends one code for a recipient through the first channel of a widget that can serve it; codes,
//! cooldowns, attempts, expiry and send quotas all come from the token engine.

mod language;
mod otp;

pub use language::Language;
pub use otp::{
    channel, channel_long_polling, check_code, check_status_and_complete, complete, resend, start,
    status, status_long_polling, widget, START_LIMIT_PER_MINUTE,
};

use lambda_http::{Body, Request, Response};
use serde::Serialize;
use std::future::Future;

use crate::domain::{Cause, DomainError, Principal};
use crate::doors::http::{json_response, serve_authenticated, with_retry_after};

/// Every error this front door answers with, by Sigma's exception type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigmaError {
    #[error("invalid {location}: {message}")]
    Validation { location: String, message: String },
    #[error("not authenticated")]
    Unauthorized,
    #[error("the caller does not own the session")]
    Forbidden,
    #[error("widget not found")]
    WidgetNotFound,
    #[error("the widget or its owner is blocked, or the widget is not active")]
    WidgetIsBlocked,
    #[error("session not found")]
    SessionNotFound,
    #[error("no channel can serve the recipient")]
    NoAvailableChannels { retry_after_secs: Option<u64> },
    #[error("the current channel has no code to resend")]
    ResendChannel,
    #[error("attempts used up")]
    AttemptsExpired,
    #[error("wrong code")]
    InvalidCode,
    #[error("resend inside the cooldown")]
    RestartCooldownActive { retry_after_secs: u64 },
    #[error("session already confirmed")]
    SessionAlreadyConfirmed,
    #[error("session closed")]
    SessionClosed,
    #[error("the recipient does not match the session")]
    PhoneNumberMismatch,
    #[error("nothing changed within the long-polling bound")]
    LongPollingTimeout,
    #[error("concurrent requests changed the session")]
    Contention,
    #[error("the request body is over {limit_bytes} bytes")]
    PayloadTooLarge { limit_bytes: usize },
    #[error("too many starts for the recipient")]
    RateLimit { retry_after_secs: u64 },
    #[error("a dependency is unavailable")]
    ServiceUnavailable {
        retry_after_secs: u64,
        #[source]
        cause: Option<Cause>,
    },
}

/// The general meaning of an engine or adapter error; each operation maps the ones it gives another meaning first.
impl From<DomainError> for SigmaError {
    fn from(error: DomainError) -> Self {
        match error {
            DomainError::Invalid(field, _) => SigmaError::Validation {
                location: field.location,
                message: field.message,
            },
            DomainError::Conflict(field) => SigmaError::Validation {
                location: field.location,
                message: field.message,
            },
            DomainError::Unauthenticated(_) => SigmaError::Unauthorized,
            DomainError::Forbidden(_) => SigmaError::Forbidden,
            DomainError::NotFound(_) => SigmaError::SessionNotFound,
            DomainError::PreconditionFailed(_) => SigmaError::ResendChannel,
            DomainError::CooldownActive { retry_after_secs } => {
                SigmaError::RestartCooldownActive { retry_after_secs }
            }
            DomainError::SendQuotaExceeded { retry_after_secs } => {
                SigmaError::NoAvailableChannels {
                    retry_after_secs: Some(retry_after_secs),
                }
            }
            DomainError::TooManyRequests { retry_after_secs }
            | DomainError::SendBudgetExhausted { retry_after_secs } => {
                SigmaError::RateLimit { retry_after_secs }
            }
            DomainError::DestinationNotAllowed => SigmaError::NoAvailableChannels {
                retry_after_secs: None,
            },
            DomainError::DeliveryFailed => SigmaError::NoAvailableChannels {
                retry_after_secs: None,
            },
            DomainError::Contention => SigmaError::Contention,
            DomainError::IncorrectCode { .. } => SigmaError::InvalidCode,
            DomainError::AttemptsExhausted => SigmaError::AttemptsExpired,
            // The guide's answer to an expired code is `resend`.
            DomainError::CodeExpired => SigmaError::ResendChannel,
            DomainError::PayloadTooLarge { limit_bytes } => {
                SigmaError::PayloadTooLarge { limit_bytes }
            }
            DomainError::Unavailable {
                retry_after_secs,
                cause,
            } => SigmaError::ServiceUnavailable {
                retry_after_secs,
                cause,
            },
        }
    }
}

/// Sigma's error body.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub message: String,
    pub http_status: u16,
}

impl SigmaError {
    /// (type, HTTP status, Russian message, English message). Types and Russian messages are the reference's,
    /// verbatim (its spelling included): `errortypes.md` and each operation's page.
    pub fn describe(&self) -> (&'static str, u16, String, String) {
        let fixed = |kind, status, ru: &str, en: &str| (kind, status, ru.to_owned(), en.to_owned());
        match self {
            SigmaError::Validation { location, message } => (
                "ValidateError",
                400,
                format!("Ошибка валидации: {location}"),
                format!("{location}: {message}"),
            ),
            // The reference documents a bare 401 "Unauthorized" and no type for it.
            SigmaError::Unauthorized => fixed(
                "UnauthorizedException",
                401,
                "Unauthorized",
                "Unauthorized",
            ),
            SigmaError::Forbidden => fixed("ForbiddenException", 403, "Запрещено", "Forbidden"),
            SigmaError::WidgetIsBlocked => fixed(
                "WidgetIsBlockedException",
                403,
                "Форма или пользователь заблокированы - обратитесь в поддержку",
                "The form or the user is blocked - contact support",
            ),
            SigmaError::WidgetNotFound => fixed(
                "WidgetNotFoundException",
                404,
                "Форма не существует",
                "The form does not exist",
            ),
            SigmaError::SessionNotFound => fixed(
                "SessionNotFoundException",
                404,
                "Сессия не найдена",
                "Session not found",
            ),
            SigmaError::NoAvailableChannels { .. } => fixed(
                "NoAvailableChannelsException",
                400,
                "Нет подходящих каналов для отправки сообщения, запустите попытку авторизации заново",
                "No channel is available to send the message; start the authorization again",
            ),
            SigmaError::ResendChannel => fixed(
                "ResendChannelException",
                400,
                "Перезапустите канал",
                "Restart the channel",
            ),
            SigmaError::AttemptsExpired => fixed(
                "AttemptsExpiredException",
                400,
                "Количество попыток ввода кода исчерпано, запустите попытку авторизации заново",
                "The code entry attempts are used up; start the authorization again",
            ),
            SigmaError::InvalidCode => fixed(
                "InvalidCodeException",
                400,
                "Код, введенный пользователем, неправильный",
                "The code the user entered is wrong",
            ),
            SigmaError::SessionClosed => fixed(
                "SessionClosedException",
                400,
                "Сессия закрыта",
                "The session is closed",
            ),
            SigmaError::LongPollingTimeout => fixed(
                "LongPollingTimeoutException",
                408,
                "Истек timeout long-polling запроса. Запустие long-polling запрос заново",
                "The long-polling request timed out. Start the long-polling request again",
            ),
            SigmaError::RestartCooldownActive { .. } => fixed(
                "RestartCooldownActiveException",
                409,
                "Перезапуск недоступен: требуется подождать.",
                "Restart is not available yet: please wait.",
            ),
            SigmaError::SessionAlreadyConfirmed => fixed(
                "SessionAlreadyConfirmedException",
                409,
                "Сессия уже подтверждена",
                "The session is already confirmed",
            ),
            SigmaError::PhoneNumberMismatch => fixed(
                "PhoneNumberMismatchException",
                409,
                "Номер телефона не совпадает с привязанным к текущей сессии.",
                "The phone number does not match the one bound to the current session.",
            ),
            // The reference's generic `BadRequestException`, with the status of what it is.
            SigmaError::PayloadTooLarge { limit_bytes } => (
                "BadRequestException",
                413,
                format!("Тело запроса слишком велико: не более {limit_bytes} байт"),
                format!("The request body is too large: at most {limit_bytes} bytes"),
            ),
            SigmaError::RateLimit { .. } => fixed(
                "RateLimitException",
                429,
                "Ошибка RateLimit",
                "Rate limit exceeded",
            ),
            // Concurrent requests kept changing the session: the same answer as a rate limit (wait `Retry-After`,
            // send again), the reference having no type of its own for it.
            SigmaError::Contention => fixed(
                "RateLimitException",
                429,
                "Ошибка RateLimit",
                "Rate limit exceeded",
            ),
            SigmaError::ServiceUnavailable { .. } => fixed(
                "InternalServerErrorException",
                503,
                "Внутрення ошибка сервера",
                "Internal server error",
            ),
        }
    }

    fn retry_after_secs(&self) -> Option<u64> {
        match self {
            SigmaError::RestartCooldownActive { retry_after_secs }
            | SigmaError::RateLimit { retry_after_secs }
            | SigmaError::ServiceUnavailable {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            SigmaError::NoAvailableChannels { retry_after_secs } => *retry_after_secs,
            SigmaError::Contention => Some(1),
            _ => None,
        }
    }
}

pub fn error_response(error: &SigmaError, language: Language) -> Response<Body> {
    let (kind, status, ru, en) = error.describe();
    let body = ErrorBody {
        kind,
        message: match language {
            Language::Ru => ru,
            Language::En => en,
        },
        http_status: status,
    };
    with_retry_after(json_response(status, &body), error.retry_after_secs())
}

/// Runs one authenticated Sigma operation: 401 without a principal, the error body (in the caller's language) on
/// failure, one log line.
pub async fn serve<F, Fut>(operation: &'static str, request: Request, op: F) -> Response<Body>
where
    F: FnOnce(Request, Principal, Language) -> Fut,
    Fut: Future<Output = Result<Response<Body>, SigmaError>>,
{
    let language = Language::of(&request);
    serve_authenticated(
        operation,
        request,
        |request, principal| op(request, principal, language),
        |_, error| error_response(error, language),
    )
    .await
}
