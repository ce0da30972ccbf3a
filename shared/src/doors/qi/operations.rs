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
use crate::domain::{DeviceKey, DomainError, ScanSessionId};
use crate::doors::http::json_response;
use crate::doors::velo::wire::timestamp;
use crate::engine::messages::Locale;
use crate::engine::{App, Outcomes, Recipient, SendRequest};
use crate::ports::Companion;

const TOKEN_CHARS: usize = 6;

/// What create (202), resend (202), validate (201) and disable (200) answer: QI's `{device_key, device_status,
/// created_at}`, each with the `device_status` its page shows.
#[derive(Debug, Serialize)]
struct DeviceAnswer {
    device_key: DeviceKey,
    device_status: &'static str,
    created_at: String,
}

impl DeviceAnswer {
    fn new(device: &Device, device_status: &'static str) -> DeviceAnswer {
        DeviceAnswer {
            device_key: device.device_key,
            device_status,
            created_at: timestamp(device.created_at),
        }
    }
}

/// QI's "Consultar dispositivo" body. QI's device has a fraud-engine analysis (`analysis_status`) and a registration
/// status (`status`); here a device is registered by its 2FA token, with no fraud engine, so the token decides both:
/// see docs/qi.md for the mapping.
#[derive(Debug, Serialize)]
struct DeviceView {
    device_key: DeviceKey,
    session_id: Option<String>,
    analysis_status: &'static str,
    status: &'static str,
    device_registration_data: RegistrationData,
    analysis_status_events: Vec<AnalysisEvent>,
    status_events: Vec<StatusEvent>,
    registration_date: Option<String>,
    created_at: String,
}

#[derive(Debug, Serialize)]
struct RegistrationData {
    device_key: DeviceKey,
    session_id: Option<String>,
    document_number: String,
    registration_date: String,
    face_recognition_key: Option<String>,
}

#[derive(Debug, Serialize)]
struct AnalysisEvent {
    /// QI's spelling.
    new_analisys_status: &'static str,
    reason: Option<String>,
    reason_description: Option<String>,
    event_date: String,
}

#[derive(Debug, Serialize)]
struct StatusEvent {
    new_status: &'static str,
    event_date: String,
}

const ANALYSIS_PENDING: &str = "pending";
const ANALYSIS_APPROVED: &str = "automatically_approved";

impl From<&Device> for DeviceView {
    fn from(device: &Device) -> Self {
        let status = match device.status {
            DeviceStatus::PendingApproval => "not_registered",
            DeviceStatus::Active => "registered",
            DeviceStatus::Disabled => "deactivated",
        };
        let mut analysis_status_events = vec![AnalysisEvent {
            new_analisys_status: ANALYSIS_PENDING,
            reason: None,
            reason_description: None,
            event_date: timestamp(device.created_at),
        }];
        let mut status_events = vec![StatusEvent {
            new_status: "not_registered",
            event_date: timestamp(device.created_at),
        }];
        if let Some(at) = device.activated_at {
            analysis_status_events.push(AnalysisEvent {
                new_analisys_status: ANALYSIS_APPROVED,
                reason: None,
                reason_description: None,
                event_date: timestamp(at),
            });
            status_events.push(StatusEvent {
                new_status: "registered",
                event_date: timestamp(at),
            });
        }
        if let Some(at) = device.disabled_at {
            status_events.push(StatusEvent {
                new_status: "deactivated",
                event_date: timestamp(at),
            });
        }
        let document = device.approver_document_number.as_str();
        DeviceView {
            device_key: device.device_key,
            session_id: device.session_id.clone(),
            analysis_status: if device.activated_at.is_some() {
                ANALYSIS_APPROVED
            } else {
                ANALYSIS_PENDING
            },
            status,
            device_registration_data: RegistrationData {
                device_key: device.device_key,
                session_id: device.session_id.clone(),
                // QI shows the CPF with its punctuation.
                document_number: format!(
                    "{}.{}.{}-{}",
                    &document[..3],
                    &document[3..6],
                    &document[6..9],
                    &document[9..]
                ),
                registration_date: timestamp(device.created_at),
                face_recognition_key: None,
            },
            analysis_status_events,
            status_events,
            registration_date: device.activated_at.map(timestamp),
            created_at: timestamp(device.created_at),
        }
    }
}

struct CreateDevice {
    device_key: DeviceKey,
    session_id: String,
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
    /// Documented with `contact_type: liveness`, which this service does not support; read so it is no schema error.
    #[allow(dead_code)]
    image_key: Raw,
}

/// QI's third `contact_type`, authentication by a liveness `image_key`: documented, and refused here.
const LIVENESS: &str = "liveness";

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
        let session_id = errors
            .required::<ScanSessionId>(&body.session_id, "session_id")
            .and(match &body.session_id {
                Raw::Text(id) => Some(id.clone()),
                _ => None,
            });
        let mut liveness = false;
        let (document, contact) = match &body.tfa_info {
            Nested::Object(tfa) => (
                errors.required(
                    &tfa.approver_document_number,
                    "tfa_info.approver_document_number",
                ),
                if tfa.contact_type == Raw::Text(LIVENESS.to_owned()) {
                    liveness = true;
                    None
                } else {
                    errors.required(&tfa.contact_type, "tfa_info.contact_type")
                },
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
        if liveness {
            return Err(QiError::LivenessUnsupported);
        }
        match (device_key, session_id, document, contact) {
            (
                Some(device_key),
                Some(session_id),
                Some(approver_document_number),
                Some(contact_type),
            ) => Ok(CreateDevice {
                device_key,
                session_id,
                approver_document_number,
                contact_type,
            }),
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
                QiError::NotAnApprover
            })?;
        if existing.is_some() {
            return Err(QiError::DeviceExists);
        }
        let now = OffsetDateTime::now_utc();
        let device = Device {
            account_key,
            device_key: body.device_key,
            session_id: Some(body.session_id),
            status: DeviceStatus::PendingApproval,
            approver_document_number: body.approver_document_number,
            contact_type: body.contact_type,
            created_at: now,
            updated_at: now,
            failed_attempts: 0,
            activated_at: None,
            disabled_at: None,
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
        Ok(json_response(202, &DeviceAnswer::new(&device, PENDING)))
    })
    .await
}

/// `device_status` of create and resend (QI's pages).
const PENDING: &str = "pending_2fa_approval";

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
        // A wrong token is counted on the device too, so a token item removed by TTL takes no attempts with it.
        let outcomes = Outcomes {
            on_accept: vec![activation],
            on_reject: vec![Companion::CountDeviceFailure {
                account: account_key,
                device: device_key,
            }],
        };
        app.engine()?
            .verify_with_outcomes(
                current,
                &device.subject(),
                TokenPurpose::DeviceApproval,
                &candidate,
                outcomes,
            )
            .await
            .map_err(|error| match error {
                // No live token for a pending device: it was cleaned up long after expiry.
                DomainError::NotFound(_) => QiError::Domain(DomainError::CodeExpired),
                DomainError::Conflict(_) => QiError::DeviceNotPending,
                other => QiError::Domain(other),
            })?;
        tracing::info!(%account_key, %device_key, "device approved");
        Ok(json_response(201, &DeviceAnswer::new(&device, "created")))
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
        let engine = app.engine()?;
        // A pending device whose token item is gone (TTL removes it some time after expiry) is issued a new one:
        // resend is for a token lost, not received or expired. The attempts spent live on the device.
        let mode = match &current {
            Some(token) if !token.consumed => SendMode::Resend,
            _ => SendMode::Issue,
        };
        let live = current.clone();
        let send = send_request(app, &caller, &device, mode, current, to.clone())
            .with_spent_attempts(device.failed_attempts);
        match engine.send(send).await {
            Ok(_) => {
                tracing::info!(%account_key, %device_key, recipient = %to.masked(), "device token resent");
            }
            // Inside the cooldown, the token that went out moments ago to this same recipient is live: the resend
            // QI documents is answered as QI answers it (202), and nothing is sent again.
            Err(DomainError::CooldownActive { .. })
                if live.as_ref().is_some_and(|token| {
                    token.is_live(OffsetDateTime::now_utc())
                        && !token.is_exhausted()
                        && token.was_sent_to(engine.hasher, &to.identity())
                }) =>
            {
                tracing::info!(%account_key, %device_key, "device token resend inside the cooldown: not sent again");
            }
            Err(error) => return Err(error.into()),
        }
        Ok(json_response(202, &DeviceAnswer::new(&device, PENDING)))
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
        Ok(json_response(200, &DeviceView::from(&device)))
    })
    .await
}

/// `DELETE /account/{account_key}/device/{device_key}/disable`: whatever its state, the device is disabled (again),
/// on an account that admits device operations (QI's page lists `OBD000088` and `OBD000089` for it).
pub async fn disable_device(app: &App, request: Request) -> Response<Body> {
    serve("disableDevice", request, |request, caller| async move {
        let (account_key, device_key) = device_params(&request)?;
        authorize(&caller, &account_key)?;
        let (account, device, _) = app
            .store
            .get_account_device_token(&account_key, &device_key)
            .await?;
        account.ok_or(QiError::AccountNotFound)?.admits_devices()?;
        let device = device.ok_or(QiError::DeviceNotFound)?;
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
            &DeviceAnswer::new(&device, DeviceStatus::Disabled.as_str()),
        ))
    })
    .await
}
