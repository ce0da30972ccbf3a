use std::fmt;

/// A value a client sent that does not parse. `location` names the field as the client spelled it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub location: String,
    pub message: String,
}

impl FieldError {
    pub fn new(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            location: location.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// Where a bad value came from; each front door renders it in its own words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputSource {
    Body,
    Path,
    Query,
}

/// Every way a request can fail, independent of the HTTP dialect that carried it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("invalid input: {0}")]
    Invalid(FieldError, InputSource),
    #[error("not authenticated: {0}")]
    Unauthenticated(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("conflict: {0}")]
    Conflict(FieldError),
    #[error("precondition failed: {0}")]
    PreconditionFailed(String),
    #[error("cooldown active, retry after {retry_after_secs}s")]
    CooldownActive { retry_after_secs: u64 },
    #[error("send quota for the recipient is used up, retry after {retry_after_secs}s")]
    SendQuotaExceeded { retry_after_secs: u64 },
    #[error("too many requests for the recipient, retry after {retry_after_secs}s")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("the code was not accepted")]
    IncorrectCode { remaining_attempts: u32 },
    #[error("no attempts left for this code")]
    AttemptsExhausted,
    #[error("the code has expired")]
    CodeExpired,
    #[error("the message could not be delivered")]
    DeliveryFailed,
    #[error("a dependency is unavailable")]
    Unavailable { retry_after_secs: u64 },
}

impl DomainError {
    /// A dependency failed or the state moved on too often: the client may retry in a second.
    pub fn unavailable() -> Self {
        Self::Unavailable {
            retry_after_secs: 1,
        }
    }

    pub fn invalid_body(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid(FieldError::new(location, message), InputSource::Body)
    }

    pub fn invalid_path(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid(FieldError::new(location, message), InputSource::Path)
    }

    pub fn invalid_query(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid(FieldError::new(location, message), InputSource::Query)
    }
}
