use std::fmt;
use std::sync::Arc;

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

/// The infrastructure failure behind an [`DomainError::Unavailable`], kept as its source so that the front door's
/// boundary logs it once, with the request's correlation id. Any two causes compare equal: what failed is for the
/// log, not for the outcome.
#[derive(Clone)]
pub struct Cause(Arc<dyn std::error::Error + Send + Sync>);

impl Cause {
    pub fn new(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self(Arc::new(error))
    }

    /// A cause that is only a description (a missing setting, a stored item that does not parse).
    pub fn described(description: impl Into<String>) -> Self {
        Self::new(Described(description.into()))
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Described(String);

impl PartialEq for Cause {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Cause {}

impl fmt::Debug for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// The chain of sources under `error`, outermost first, or `None` for a refusal that has no cause (a client's
/// mistake, a rule that said no).
pub fn causes(error: &dyn std::error::Error) -> Option<String> {
    let mut chain = Vec::new();
    let mut next = error.source();
    while let Some(cause) = next {
        chain.push(cause.to_string());
        next = cause.source();
    }
    (!chain.is_empty()).then(|| chain.join(": "))
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
    /// A text-message budget (the caller's, its tenant's or the whole service's) is used up for its window.
    #[error("the SMS budget is used up, retry after {retry_after_secs}s")]
    SendBudgetExhausted { retry_after_secs: u64 },
    /// The number is in a country or range that text messages may not go to.
    #[error("text messages may not go to this destination")]
    DestinationNotAllowed,
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
    /// Concurrent requests changed what this one read, on every try of its conditional write: a conflict between
    /// clients, not a failure of the service (which is `Unavailable`). The same request, sent again, reads afresh.
    #[error("concurrent requests changed what this request read")]
    Contention,
    /// A request body over the front door's limit, refused before it is parsed.
    #[error("the request body is over {limit_bytes} bytes")]
    PayloadTooLarge { limit_bytes: usize },
    #[error("a dependency is unavailable")]
    Unavailable {
        retry_after_secs: u64,
        #[source]
        cause: Option<Cause>,
    },
}

impl DomainError {
    /// A dependency failed or the state moved on too often: the client may retry in a second.
    pub fn unavailable() -> Self {
        Self::Unavailable {
            retry_after_secs: 1,
            cause: None,
        }
    }

    /// `unavailable`, keeping what failed for the log line at the front door's boundary.
    pub fn unavailable_because(cause: Cause) -> Self {
        Self::Unavailable {
            retry_after_secs: 1,
            cause: Some(cause),
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

/// A serde error message (serde_json's, serde_dynamo's) as it may be logged or answered: the field's expected type and
/// the kind of what came instead, never the value itself. serde writes the value into its messages ("invalid type:
/// integer `918273`, expected a string", "unknown variant `X`, expected one of ..."); this keeps "invalid type:
/// integer, expected a string". The expected part is the type's own description and is kept; it is the last
/// ", expected " of the message, so a value that itself contains those words is still cut out. Any other message
/// (`missing field`, a newtype's own reason, which are ours and fixed) is kept as it is.
pub fn without_value(message: &str) -> String {
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix) {
            return match rest.rsplit_once(", expected ") {
                Some((unexpected, expected)) => {
                    format!("{prefix}{}, expected {expected}", kind(unexpected))
                }
                None => format!("{prefix}{}", kind(rest)),
            };
        }
    }
    for (prefix, none) in [
        ("unknown variant ", ", there are no variants"),
        ("unknown field ", ", there are no fields"),
    ] {
        if let Some(rest) = message.strip_prefix(prefix) {
            let what = prefix.trim_end();
            if rest.ends_with(none) {
                return format!("{what}{none}");
            }
            return match rest.rsplit_once(", expected ") {
                Some((_, expected)) => format!("{what}, expected {expected}"),
                None => what.to_owned(),
            };
        }
    }
    if let Some(rest) = message.strip_prefix("invalid length ") {
        return match rest.rsplit_once(", expected ") {
            Some((_, expected)) => format!("invalid length, expected {expected}"),
            None => "invalid length".to_owned(),
        };
    }
    message.to_owned()
}

/// What serde's `Unexpected` names before the value it quotes: "integer `5`" is an "integer", `string "x"` a
/// "string".
fn kind(unexpected: &str) -> &str {
    unexpected
        .split(['`', '"', '\''])
        .next()
        .unwrap_or_default()
        .trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_keep_the_expected_type_and_lose_the_value() {
        for (message, kept) in [
            (
                "invalid type: integer `918273`, expected a string",
                "invalid type: integer, expected a string",
            ),
            (
                "invalid type: string \"827364\", expected u32",
                "invalid type: string, expected u32",
            ),
            (
                "invalid type: string \"a, expected 19061906190619\", expected u32",
                "invalid type: string, expected u32",
            ),
            (
                "invalid type: floating point `1906.19`, expected a string",
                "invalid type: floating point, expected a string",
            ),
            (
                "invalid type: null, expected a string",
                "invalid type: null, expected a string",
            ),
            (
                "invalid value: integer `-918273`, expected u32",
                "invalid value: integer, expected u32",
            ),
            (
                "unknown variant `918273`, expected one of `SMS`, `YUBIKEY`, `TOTP`",
                "unknown variant, expected one of `SMS`, `YUBIKEY`, `TOTP`",
            ),
            (
                "unknown variant `918273, expected x`, there are no variants",
                "unknown variant, there are no variants",
            ),
            (
                "unknown field `827364`, expected `otp`",
                "unknown field, expected `otp`",
            ),
            (
                "invalid length 918273, expected a tuple of size 2",
                "invalid length, expected a tuple of size 2",
            ),
            ("missing field `code`", "missing field `code`"),
            (
                "size must be between 6 and 6",
                "size must be between 6 and 6",
            ),
        ] {
            assert_eq!(without_value(message), kept, "{message}");
        }
    }

    #[test]
    fn an_unavailable_keeps_its_cause_for_the_log_and_any_two_causes_compare_equal() {
        let failed = DomainError::unavailable_because(Cause::described("DynamoDB GetItem failed"));
        assert_eq!(causes(&failed).as_deref(), Some("DynamoDB GetItem failed"));
        assert_eq!(
            failed,
            DomainError::unavailable_because(Cause::described("another failure"))
        );
        assert_ne!(failed, DomainError::unavailable());
        assert_eq!(causes(&DomainError::unavailable()), None);
        assert_eq!(causes(&DomainError::CodeExpired), None);
    }
}
