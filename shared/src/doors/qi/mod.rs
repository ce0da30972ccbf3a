//! The QI Tech device 2FA front door: a device is approved with a token sent to the account's approver. Its paths,
//! bodies, status codes and error body (`{title, description, translation, code, extra_fields}`) are QI's.

mod operations;

pub use operations::{
    create_device, disable_device, get_device, resend_device_token, validate_device,
};

use lambda_http::{Body, Request, Response};
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, DeserializeOwned, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::str::FromStr;

use crate::domain::device::DeviceRefusal;
use crate::domain::{AccountKey, DeviceKey, DomainError, Principal};
use crate::doors::http::{
    body_bytes, json_error_message, json_response, path_param, serve_authenticated,
    with_retry_after,
};

/// Every way a QI operation can fail: the engine's and the store's errors, and QI's own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QiError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// Bad fields, each named as the client spelled it (`tfa_info.contact_type`).
    #[error("schema error in {0:?}")]
    Schema(BTreeMap<String, String>),
    #[error("bank account not found")]
    AccountNotFound,
    #[error("the account is blocked or closed")]
    AccountBlockedOrClosed,
    #[error("the account is a hub account")]
    HubAccount,
    #[error("device not found")]
    DeviceNotFound,
    #[error("the device already exists")]
    DeviceExists,
    #[error("the device is not pending 2FA approval")]
    DeviceNotPending,
    #[error("the document number is not an approver of the account")]
    NotAnApprover,
    #[error("contact_type liveness is not supported")]
    LivenessUnsupported,
}

impl From<DeviceRefusal> for QiError {
    fn from(refusal: DeviceRefusal) -> Self {
        match refusal {
            DeviceRefusal::BlockedOrClosed => QiError::AccountBlockedOrClosed,
            DeviceRefusal::Hub => QiError::HubAccount,
        }
    }
}

impl QiError {
    pub fn field(location: impl Into<String>, message: impl Into<String>) -> QiError {
        QiError::Schema(BTreeMap::from([(location.into(), message.into())]))
    }
}

/// QI's error body.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub title: &'static str,
    pub description: &'static str,
    pub translation: &'static str,
    pub code: &'static str,
    pub extra_fields: Map<String, Value>,
}

/// One stable error: status, QI code, and its wording in English and Brazilian Portuguese.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode {
    pub status: u16,
    pub code: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub translation: &'static str,
}

/// QI's codes, worded exactly as QI's device pages (and `qitech-device-resend-token.md`) word them.
pub const SCHEMA_ERROR: ErrorCode = ErrorCode {
    status: 400,
    code: "QIT000001",
    title: "Bad Request",
    description: "Schema Error",
    translation: "Erro de Schema",
};
pub const ACCOUNT_NOT_FOUND: ErrorCode = ErrorCode {
    status: 404,
    code: "OBD000002",
    title: "Not Found",
    description: "Bank account not found",
    translation: "Conta não encontrada",
};
pub const ACCOUNT_BLOCKED_OR_CLOSED: ErrorCode = ErrorCode {
    status: 400,
    code: "OBD000088",
    title: "Bad Request",
    description: "Account blocked or closed can not perform this action",
    translation: "A conta bloqueada ou fechada não pode executar esta ação",
};
pub const HUB_ACCOUNT: ErrorCode = ErrorCode {
    status: 400,
    code: "OBD000089",
    title: "Bad Request",
    description: "Hub account can not perform this action",
    translation: "A conta hub não pode executar esta ação",
};
pub const SEND_FAILED: ErrorCode = ErrorCode {
    status: 400,
    code: "OBD000097",
    title: "Error occurred while sending token",
    description: "An unexpected error occurred while sending token",
    translation: "Um erro inexperado ocorreu ao tentar enviar token",
};
pub const DESTINATION_NOT_ALLOWED: ErrorCode = ErrorCode {
    status: 400,
    code: "XQI000110",
    title: "Destination Not Allowed",
    description:
        "Tokens may not be sent by SMS to the country or range of the approver's phone number",
    translation:
        "Não é permitido enviar tokens por SMS para o país ou a faixa do telefone do aprovador",
};
pub const ATTEMPTS_EXCEEDED: ErrorCode = ErrorCode {
    status: 400,
    code: "OBD000099",
    title: "Number of token validation attempts exceeded",
    description: "The maximum number of failed token validation attempts has been reached",
    translation: "Número máximo de tentativas de validação de token atingida",
};
pub const DEVICE_NOT_FOUND: ErrorCode = ErrorCode {
    status: 404,
    code: "OBD000100",
    title: "Device not found",
    description: "No device is associated with the provided device_key.",
    translation: "Nenhum dispositivo está associado à device_key fornecida.",
};
/// The wrong-token code of QI's validate page (four zeros; OBD000100 is the unknown device). The page's Portuguese
/// reads "condiz com, o esperado": the stray comma is left out, as the issue words it.
pub const INCORRECT_TOKEN: ErrorCode = ErrorCode {
    status: 400,
    code: "OBD0000100",
    title: "Incorrect Token",
    description: "Token sent does not match expected",
    translation: "Token enviado não condiz com o esperado",
};
/// QI's create page: the document number is not one of the account's approvers. The page's excerpt the search tool
/// holds breaks off after "for this account"; the Portuguese is ours (see docs/qi.md).
pub const NOT_AN_APPROVER: ErrorCode = ErrorCode {
    status: 403,
    code: "OBD000090",
    title: "No approver permission",
    description: "Given document number does not belong to an approver for this account",
    translation: "O número de documento informado não pertence a um aprovador desta conta",
};

/// This service's own codes, for what QI's pages do not cover. `XQI` is a prefix none of QI's pages use (theirs are
/// `QIT`, `OBD`), so no code of QI's can ever mean one of these.
pub const UNAUTHENTICATED: ErrorCode = ErrorCode {
    status: 401,
    code: "XQI000101",
    title: "Unauthorized",
    description: "The access token is missing, invalid or expired",
    translation: "O token de acesso está ausente, é inválido ou expirou",
};
pub const DEVICE_EXISTS: ErrorCode = ErrorCode {
    status: 409,
    code: "XQI000102",
    title: "Conflict",
    description: "A device with this device_key already exists",
    translation: "Já existe um dispositivo com esta device_key",
};
pub const DEVICE_NOT_PENDING: ErrorCode = ErrorCode {
    status: 409,
    code: "XQI000103",
    title: "Conflict",
    description: "The device is not pending 2FA approval",
    translation: "O dispositivo não está pendente de aprovação 2FA",
};
pub const CONTENTION: ErrorCode = ErrorCode {
    status: 409,
    code: "XQI000107",
    title: "Conflict",
    description: "The device or its token was changed by a concurrent request; retry",
    translation:
        "O dispositivo ou o seu token foi alterado por uma requisição simultânea; tente novamente",
};
pub const TOKEN_EXPIRED: ErrorCode = ErrorCode {
    status: 400,
    code: "XQI000104",
    title: "Expired Token",
    description: "The token has expired; request a new one",
    translation: "O token expirou; solicite um novo",
};
pub const TOO_MANY_REQUESTS: ErrorCode = ErrorCode {
    status: 429,
    code: "XQI000105",
    title: "Too Many Requests",
    description: "A token was sent too recently or too often; retry after the Retry-After seconds",
    translation: "Um token foi enviado há pouco ou vezes demais; tente novamente após os segundos de Retry-After",
};
pub const UNAVAILABLE: ErrorCode = ErrorCode {
    status: 503,
    code: "XQI000106",
    title: "Service Unavailable",
    description: "The service is temporarily unavailable; retry after the Retry-After seconds",
    translation: "O serviço está temporariamente indisponível; tente novamente após os segundos de Retry-After",
};

pub const PAYLOAD_TOO_LARGE: ErrorCode = ErrorCode {
    status: 413,
    code: "XQI000108",
    title: "Payload Too Large",
    description: "The request body is too large",
    translation: "O corpo da requisição é grande demais",
};

pub const LIVENESS_UNSUPPORTED: ErrorCode = ErrorCode {
    status: 400,
    code: "XQI000109",
    title: "Bad Request",
    description: "contact_type liveness (approval with an image_key) is not supported by this service; use sms or email",
    translation: "contact_type liveness (aprovação com image_key) não é suportado por este serviço; use sms ou email",
};

/// An error as it goes out: its code, the `extra_fields`, and a `Retry-After` where one applies.
pub struct Rendered {
    pub code: ErrorCode,
    pub extra_fields: Map<String, Value>,
    pub retry_after_secs: Option<u64>,
}

pub fn render(error: &QiError) -> Rendered {
    let plain = |code| Rendered {
        code,
        extra_fields: Map::new(),
        retry_after_secs: None,
    };
    let waiting = |code, secs: u64| Rendered {
        code,
        extra_fields: Map::from_iter([("retry_after_seconds".to_owned(), Value::from(secs))]),
        retry_after_secs: Some(secs),
    };
    match error {
        QiError::Schema(fields) => Rendered {
            extra_fields: fields
                .iter()
                .map(|(field, message)| (field.clone(), Value::from(message.clone())))
                .collect(),
            ..plain(SCHEMA_ERROR)
        },
        QiError::AccountNotFound => plain(ACCOUNT_NOT_FOUND),
        QiError::AccountBlockedOrClosed => plain(ACCOUNT_BLOCKED_OR_CLOSED),
        QiError::HubAccount => plain(HUB_ACCOUNT),
        QiError::DeviceNotFound => plain(DEVICE_NOT_FOUND),
        QiError::DeviceExists => plain(DEVICE_EXISTS),
        QiError::DeviceNotPending => plain(DEVICE_NOT_PENDING),
        QiError::NotAnApprover => plain(NOT_AN_APPROVER),
        QiError::LivenessUnsupported => plain(LIVENESS_UNSUPPORTED),
        QiError::Domain(domain) => match domain {
            DomainError::Invalid(field, _) => render(&QiError::field(
                field.location.clone(),
                field.message.clone(),
            )),
            DomainError::Unauthenticated(_) => plain(UNAUTHENTICATED),
            // A caller not allowed on an account learns nothing about it.
            DomainError::Forbidden(_) => plain(ACCOUNT_NOT_FOUND),
            DomainError::NotFound(_) => plain(DEVICE_NOT_FOUND),
            DomainError::Conflict(_) => plain(DEVICE_EXISTS),
            DomainError::PreconditionFailed(_) => plain(DEVICE_NOT_PENDING),
            DomainError::IncorrectCode { remaining_attempts } => Rendered {
                extra_fields: Map::from_iter([(
                    "remaining_attempts".to_owned(),
                    Value::from(*remaining_attempts),
                )]),
                ..plain(INCORRECT_TOKEN)
            },
            DomainError::AttemptsExhausted => plain(ATTEMPTS_EXCEEDED),
            DomainError::CodeExpired => plain(TOKEN_EXPIRED),
            DomainError::PayloadTooLarge { limit_bytes } => Rendered {
                extra_fields: Map::from_iter([(
                    "max_body_bytes".to_owned(),
                    Value::from(*limit_bytes),
                )]),
                ..plain(PAYLOAD_TOO_LARGE)
            },
            DomainError::DeliveryFailed => plain(SEND_FAILED),
            DomainError::DestinationNotAllowed => plain(DESTINATION_NOT_ALLOWED),
            DomainError::Contention => plain(CONTENTION),
            DomainError::CooldownActive { retry_after_secs }
            | DomainError::SendQuotaExceeded { retry_after_secs }
            | DomainError::SendBudgetExhausted { retry_after_secs }
            | DomainError::TooManyRequests { retry_after_secs } => {
                waiting(TOO_MANY_REQUESTS, *retry_after_secs)
            }
            DomainError::Unavailable {
                retry_after_secs, ..
            } => Rendered {
                retry_after_secs: Some(*retry_after_secs),
                ..plain(UNAVAILABLE)
            },
        },
    }
}

pub fn error_response(error: &QiError) -> Response<Body> {
    let Rendered {
        code,
        extra_fields,
        retry_after_secs,
    } = render(error);
    let body = ErrorBody {
        title: code.title,
        description: code.description,
        translation: code.translation,
        code: code.code,
        extra_fields,
    };
    with_retry_after(json_response(code.status, &body), retry_after_secs)
}

/// Runs one authenticated QI operation: 401 without a principal, QI's error body on failure, one log line.
pub async fn serve<F, Fut>(operation: &'static str, request: Request, op: F) -> Response<Body>
where
    F: FnOnce(Request, Principal) -> Fut,
    Fut: Future<Output = Result<Response<Body>, QiError>>,
{
    serve_authenticated(operation, request, op, |_, error| error_response(error)).await
}

/// Only a backoffice caller, or one whose token names the account, may act on it.
pub fn authorize(caller: &Principal, account: &AccountKey) -> Result<(), QiError> {
    if caller.is_backoffice_admin() || caller.account_keys.contains(account) {
        Ok(())
    } else {
        Err(QiError::AccountNotFound)
    }
}

/// Collects every bad field of a request, so one answer names them all.
#[derive(Debug, Default)]
struct SchemaErrors(BTreeMap<String, String>);

impl SchemaErrors {
    fn note(&mut self, location: &str, message: &str) {
        self.0.insert(location.to_owned(), message.to_owned());
    }

    fn finish(self) -> Result<(), QiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(QiError::Schema(self.0))
        }
    }

    /// A path parameter.
    fn path<T: FromStr<Err = &'static str>>(&mut self, request: &Request, name: &str) -> Option<T> {
        let raw = path_param(request, name).unwrap_or_default();
        match raw.parse() {
            Ok(value) => Some(value),
            Err(reason) => {
                self.note(name, reason);
                None
            }
        }
    }

    /// A required string field, parsed into `T`.
    fn required<T: FromStr<Err = &'static str>>(&mut self, raw: &Raw, location: &str) -> Option<T> {
        match raw {
            Raw::Absent => {
                self.note(location, "is required");
                None
            }
            present => self.parse(present, location),
        }
    }

    /// An optional string field, parsed into `T` when present.
    fn optional<T: FromStr<Err = &'static str>>(&mut self, raw: &Raw, location: &str) -> Option<T> {
        match raw {
            Raw::Absent => None,
            present => self.parse(present, location),
        }
    }

    fn parse<T: FromStr<Err = &'static str>>(&mut self, raw: &Raw, location: &str) -> Option<T> {
        let Raw::Text(text) = raw else {
            self.note(location, "must be a string");
            return None;
        };
        match text.parse() {
            Ok(parsed) => Some(parsed),
            Err(reason) => {
                self.note(location, reason);
                None
            }
        }
    }
}

/// `/account/{account_key}`.
fn account_param(request: &Request) -> Result<AccountKey, QiError> {
    let mut errors = SchemaErrors::default();
    let account = errors.path(request, "account_key");
    errors.finish()?;
    account.ok_or_else(|| QiError::field("account_key", "must be a UUID"))
}

/// `/account/{account_key}/device/{device_key}`: both named at once when both are bad.
fn device_params(request: &Request) -> Result<(AccountKey, DeviceKey), QiError> {
    let mut errors = SchemaErrors::default();
    let account = errors.path(request, "account_key");
    let device = errors.path(request, "device_key");
    errors.finish()?;
    account
        .zip(device)
        .ok_or_else(|| QiError::field("device_key", "must be a UUID"))
}

/// One field of a QI request as it came: absent (or `null`), a string, or anything else (what it was is not kept).
/// QI names every bad field of a request at once, so its request types take each field in this form and judge it
/// afterwards; the body is still read straight into them, never into a `serde_json::Value` tree.
#[derive(Debug, Default, PartialEq, Eq)]
enum Raw {
    #[default]
    Absent,
    Text(String),
    Other,
}

/// A field that must be a JSON object of `T`'s fields, as it came.
#[derive(Debug, Default, PartialEq, Eq)]
enum Nested<T> {
    #[default]
    Absent,
    Object(T),
    Other,
}

/// The JSON scalars and arrays that are neither a string nor an object: each is `$other`, and is skipped.
macro_rules! other_shapes {
    ($de:lifetime, $other:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_seq<A: SeqAccess<$de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            IgnoredAny.visit_seq(seq).map(|_| $other)
        }
    };
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Shape;
        impl<'de> Visitor<'de> for Shape {
            type Value = Raw;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Raw, E> {
                Ok(Raw::Absent)
            }
            fn visit_none<E: de::Error>(self) -> Result<Raw, E> {
                Ok(Raw::Absent)
            }
            fn visit_some<I: Deserializer<'de>>(self, inner: I) -> Result<Raw, I::Error> {
                Raw::deserialize(inner)
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Raw, E> {
                Ok(Raw::Text(text.to_owned()))
            }
            fn visit_string<E: de::Error>(self, text: String) -> Result<Raw, E> {
                Ok(Raw::Text(text))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Raw, A::Error> {
                IgnoredAny.visit_map(map).map(|_| Raw::Other)
            }
            other_shapes!('de, Raw::Other);
        }
        deserializer.deserialize_any(Shape)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Nested<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Shape<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Shape<T> {
            type Value = Nested<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Nested<T>, E> {
                Ok(Nested::Absent)
            }
            fn visit_none<E: de::Error>(self) -> Result<Nested<T>, E> {
                Ok(Nested::Absent)
            }
            fn visit_some<I: Deserializer<'de>>(self, inner: I) -> Result<Nested<T>, I::Error> {
                Nested::deserialize(inner)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Nested<T>, E> {
                Ok(Nested::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Nested<T>, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(Nested::Object)
            }
            other_shapes!('de, Nested::Other);
        }
        deserializer.deserialize_any(Shape(PhantomData))
    }
}

/// A request body (at most `MAX_BODY_BYTES`) read straight into `T`, which must be a JSON object; an empty body is
/// `T::default()` where the operation allows it.
fn typed_body<T: DeserializeOwned + Default>(
    request: &Request,
    empty_allowed: bool,
) -> Result<T, QiError> {
    let bytes = body_bytes(request)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return if empty_allowed {
            Ok(T::default())
        } else {
            Err(QiError::field("body", "a JSON request body is required"))
        };
    }
    let not_json = || QiError::field("body", "the request body is not valid JSON");
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed: Nested<T> =
        serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
            let path = error.path().to_string();
            let inner = error.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                return not_json();
            }
            // Every field takes any value; what is left is a field given twice.
            let message = json_error_message(&inner);
            match message
                .strip_prefix("duplicate field `")
                .and_then(|rest| rest.split('`').next())
            {
                Some(field) if path == "." || path == field => {
                    QiError::field(field, "must be given once")
                }
                Some(field) if path.ends_with(&format!(".{field}")) => {
                    QiError::field(path, "must be given once")
                }
                Some(field) => QiError::field(format!("{path}.{field}"), "must be given once"),
                None if path == "." => QiError::field("body", "must be a JSON object"),
                None => QiError::field(path, message),
            }
        })?;
    deserializer.end().map_err(|_| not_json())?;
    match parsed {
        Nested::Object(body) => Ok(body),
        Nested::Absent | Nested::Other => Err(QiError::field("body", "must be a JSON object")),
    }
}
