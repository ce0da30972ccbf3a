//! The five device operations, each one Lambda function.

use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{
    account_param, authorize, device_params, serve, typed_body, Nested, QiError, Raw, SchemaErrors,
};
use crate::domain::device::{Approver, ContactType, Device, DeviceStatus, DocumentNumber};
use crate::domain::sending::Requester;
use crate::domain::token::{LiveToken, SendMode, TokenPurpose};
use crate::domain::Principal;
use crate::domain::{AccountKey, DeviceKey, DomainError};
use crate::doors::http::json_response;
use crate::doors::velo::wire::timestamp;
use crate::engine::messages::Locale;
use crate::engine::{App, Recipient, SendRequest};
use crate::ports::Companion;

const MAX_SESSION_ID_CHARS: usize = 128;
const TOKEN_CHARS: usize = 6;

/// `202` of create and resend.
#[derive(Debug, Serialize)]
struct DeviceAccepted {
    device_key: DeviceKey,
    device_status: DeviceStatus,
    created_at: String,
}

impl From<&Device> for DeviceAccepted {
    fn from(device: &Device) -> Self {
        DeviceAccepted {
            device_key: device.device_key,
            device_status: DeviceStatus::PendingApproval,
            created_at: timestamp(device.created_at),
        }
    }
}

#[derive(Debug, Serialize)]
struct DeviceStatusChanged {
    device_status: &'static str,
}

#[derive(Debug, Serialize)]
struct DeviceView {
    account_key: AccountKey,
    device_key: DeviceKey,
    device_status: DeviceStatus,
    session_id: Option<String>,
    contact_type: ContactType,
    created_at: String,
    updated_at: String,
}

struct CreateDevice {
    device_key: DeviceKey,
    session_id: Option<String>,
    approver_document_number: DocumentNumber,
    contact_type: ContactType,
}

/// The body of create, each field as it came (see `Raw`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CreateDeviceBody {
    device_key: Raw,
    session_id: Raw,
    tfa_info: Nested<TfaInfoBody>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TfaInfoBody {
    approver_document_number: Raw,
    contact_type: Raw,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ValidateBody {
    token: Raw,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ResendBody {
    contact_type: Raw,
}

impl CreateDevice {
    fn parse(request: &Request) -> Result<CreateDevice, QiError> {
        let body: CreateDeviceBody = typed_body(request, false)?;
        let mut errors = SchemaErrors::default();
        let device_key = errors.required(&body.device_key, "device_key");
        let session_id = match body.session_id {
            Raw::Absent => None,
            Raw::Text(id) if id.chars().count() <= MAX_SESSION_ID_CHARS => Some(id),
            Raw::Text(_) | Raw::Other => {
                errors.note("session_id", "must be a string of at most 128 characters");
                None
            }
        };
        let (document, contact) = match &body.tfa_info {
            Nested::Object(tfa) => (
                errors.required(
                    &tfa.approver_document_number,
                    "tfa_info.approver_document_number",
                ),
                errors.required(&tfa.contact_type, "tfa_info.contact_type"),
            ),
            Nested::Absent => {
                errors.note("tfa_info", "is required");
                (None, None)
            }
            Nested::Other => {
                errors.note("tfa_info", "must be an object");
                (None, None)
            }
        };
        errors.finish()?;
        match (device_key, document, contact) {
            (Some(device_key), Some(approver_document_number), Some(contact_type)) => {
                Ok(CreateDevice {
                    device_key,
                    session_id,
                    approver_document_number,
                    contact_type,
                })
            }
            _ => Err(QiError::field("body", "is invalid")),
        }
    }
}

/// The candidate token, trimmed and upper-cased (tokens are drawn from upper-case letters and digits).
fn parse_token(request: &Request) -> Result<String, QiError> {
    let body: ValidateBody = typed_body(request, false)?;
    match body.token {
        Raw::Absent => Err(QiError::field("token", "is required")),
        Raw::Text(token) if token.trim().chars().count() == TOKEN_CHARS => {
            Ok(token.trim().to_ascii_uppercase())
        }
        Raw::Text(_) | Raw::Other => {
            Err(QiError::field("token", "must be a string of 6 characters"))
        }
    }
}

fn parse_resend(request: &Request) -> Result<Option<ContactType>, QiError> {
    let body: ResendBody = typed_body(request, true)?;
    let mut errors = SchemaErrors::default();
    let contact = errors.optional(&body.contact_type, "contact_type");
    errors.finish()?;
    Ok(contact)
}

fn recipient(approver: &Approver, contact: ContactType) -> Recipient {
    match contact {
        ContactType::Sms => Recipient::Phone(approver.phone.clone()),
        ContactType::Email => Recipient::Email(approver.email.clone()),
    }
}

fn send_request(
    app: &App,
    caller: &Principal,
    device: &Device,
    mode: SendMode,
    current: Option<LiveToken>,
    to: Recipient,
) -> SendRequest {
    // The bank account is the tenant whose SMS budget a device's tokens count against.
    let requester = Requester::new(
        format!("user:{}", caller.user_id),
        format!("account:{}", device.account_key),
    );
    SendRequest::new(
        requester,
        device.subject(),
        TokenPurpose::DeviceApproval,
        mode,
        current,
        to,
        app.config.otp_policy(),
    )
    .in_locale(Locale::PtBr)
}

/// `POST /account/{account_key}/device`: a pending device and its first token, in one transaction; the token goes
/// to the approver, and if it cannot, the device is removed again.
pub async fn create_device(app: &App, request: Request) -> Response<Body> {
    serve("createDevice", request, |request, caller| async move {
        let account_key = account_param(&request)?;
        authorize(&caller, &account_key)?;
        let body = CreateDevice::parse(&request)?;
        let (account, existing, current) = app
            .store
            .get_account_device_token(&account_key, &body.device_key)
            .await?;
        let account = account.ok_or(QiError::AccountNotFound)?;
        account.admits_devices()?;
        let approver = account
            .approver(&body.approver_document_number)
            .ok_or_else(|| {
                QiError::field(
                    "tfa_info.approver_document_number",
                    "is not an approver of this account",
                )
            })?;
        if existing.is_some() {
            return Err(QiError::DeviceExists);
        }
        let now = OffsetDateTime::now_utc();
        let device = Device {
            account_key,
            device_key: body.device_key,
            session_id: body.session_id,
            status: DeviceStatus::PendingApproval,
            approver_document_number: body.approver_document_number,
            contact_type: body.contact_type,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        let to = recipient(approver, body.contact_type);
        let send = send_request(app, &caller, &device, SendMode::Issue, current, to.clone())
            .with_companions(
                vec![Companion::CreateDevice(device.clone())],
                vec![Companion::RemoveDevice(device.clone())],
            );
        if let Err(error) = app.engine()?.send(send).await {
            // A concurrent create of the same device_key took the token first: the engine then judges its live
            // token (cooldown, attempts) or gives up racing. The device item says what really happened.
            let maybe_raced = matches!(
                error,
                DomainError::CooldownActive { .. }
                    | DomainError::AttemptsExhausted
                    | DomainError::Contention
                    | DomainError::Unavailable { .. }
            );
            if maybe_raced
                && app
                    .store
                    .get_device(&account_key, &device.device_key)
                    .await?
                    .is_some()
            {
                return Err(QiError::DeviceExists);
            }
            return Err(error.into());
        }
        tracing::info!(%account_key, device_key = %device.device_key, recipient = %to.masked(), "device created");
        Ok(json_response(202, &DeviceAccepted::from(&device)))
    })
    .await
}

/// `PUT /account/{account_key}/device/{device_key}/validate`: the right token makes the device active.
pub async fn validate_device(app: &App, request: Request) -> Response<Body> {
    serve("validateDevice", request, |request, caller| async move {
        let (account_key, device_key) = device_params(&request)?;
        authorize(&caller, &account_key)?;
        let candidate = parse_token(&request)?;
        let (account, device, current) = app
            .store
            .get_account_device_token(&account_key, &device_key)
            .await?;
        account.ok_or(QiError::AccountNotFound)?.admits_devices()?;
        let device = device.ok_or(QiError::DeviceNotFound)?;
        if device.status != DeviceStatus::PendingApproval {
            return Err(QiError::DeviceNotPending);
        }
        // The token is consumed and the device activated in one transaction: never one without the other.
        let activation = Companion::ActivateDevice {
            account: account_key,
            device: device_key,
            at: OffsetDateTime::now_utc(),
        };
        app.engine()?
            .verify_with(
                current,
                &device.subject(),
                TokenPurpose::DeviceApproval,
                &candidate,
                vec![activation],
            )
            .await
            .map_err(|error| match error {
                // No live token for a pending device: it was cleaned up long after expiry.
                DomainError::NotFound(_) => QiError::Domain(DomainError::CodeExpired),
                DomainError::Conflict(_) => QiError::DeviceNotPending,
                other => QiError::Domain(other),
            })?;
        tracing::info!(%account_key, %device_key, "device approved");
        Ok(json_response(
            201,
            &DeviceStatusChanged {
                device_status: "created",
            },
        ))
    })
    .await
}

/// `PATCH /account/{account_key}/device/{device_key}/resend_token`: revokes the device's token and sends a new one,
/// by `contact_type` or the way the first was requested.
pub async fn resend_device_token(app: &App, request: Request) -> Response<Body> {
    serve("resendDeviceToken", request, |request, caller| async move {
        let (account_key, device_key) = device_params(&request)?;
        authorize(&caller, &account_key)?;
        let contact = parse_resend(&request)?;
        let (account, device, current) = app
            .store
            .get_account_device_token(&account_key, &device_key)
            .await?;
        let account = account.ok_or(QiError::AccountNotFound)?;
        account.admits_devices()?;
        let device = device.ok_or(QiError::DeviceNotFound)?;
        if device.status != DeviceStatus::PendingApproval {
            return Err(QiError::DeviceNotPending);
        }
        let approver = account
            .approver(&device.approver_document_number)
            .ok_or_else(|| {
                tracing::warn!(%account_key, %device_key, "the device's approver is no longer on the account");
                QiError::Domain(DomainError::DeliveryFailed)
            })?;
        let to = recipient(approver, contact.unwrap_or(device.contact_type));
        app.engine()?
            .send(send_request(app, &caller, &device, SendMode::Resend, current, to.clone()))
            .await
            .map_err(|error| match error {
                DomainError::NotFound(_) => QiError::Domain(DomainError::CodeExpired),
                other => QiError::Domain(other),
            })?;
        tracing::info!(%account_key, %device_key, recipient = %to.masked(), "device token resent");
        Ok(json_response(202, &DeviceAccepted::from(&device)))
    })
    .await
}

/// `GET /account/{account_key}/device/{device_key}`.
pub async fn get_device(app: &App, request: Request) -> Response<Body> {
    serve("getDevice", request, |request, caller| async move {
        let (account_key, device_key) = device_params(&request)?;
        authorize(&caller, &account_key)?;
        let (account, device, _) = app
            .store
            .get_account_device_token(&account_key, &device_key)
            .await?;
        account.ok_or(QiError::AccountNotFound)?;
        let device = device.ok_or(QiError::DeviceNotFound)?;
        Ok(json_response(
            200,
            &DeviceView {
                account_key: device.account_key,
                device_key: device.device_key,
                device_status: device.status,
                session_id: device.session_id,
                contact_type: device.contact_type,
                created_at: timestamp(device.created_at),
                updated_at: timestamp(device.updated_at),
            },
        ))
    })
    .await
}

/// `DELETE /account/{account_key}/device/{device_key}/disable`: whatever its state, the device is disabled (again).
pub async fn disable_device(app: &App, request: Request) -> Response<Body> {
    serve("disableDevice", request, |request, caller| async move {
        let (account_key, device_key) = device_params(&request)?;
        authorize(&caller, &account_key)?;
        app.store
            .get_account(&account_key)
            .await?
            .ok_or(QiError::AccountNotFound)?;
        let disabled = app
            .store
            .set_device_status(
                &account_key,
                &device_key,
                DeviceStatus::Disabled,
                None,
                OffsetDateTime::now_utc(),
            )
            .await?;
        if !disabled {
            return Err(QiError::DeviceNotFound);
        }
        tracing::info!(%account_key, %device_key, "device disabled");
        Ok(json_response(
            200,
            &DeviceStatusChanged {
                device_status: DeviceStatus::Disabled.as_str(),
            },
        ))
    })
    .await
}
