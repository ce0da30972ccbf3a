//! The first backoffice admin of a fresh deployment, invited by a function run once by hand
//! (`sam remote invoke BootstrapAdminFunction`): refused once any backoffice user exists, and claimed in the same
//! transaction as the user, so that two concurrent runs cannot both invite one.

use serde::Deserialize;
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::domain::sending::Requester;
use crate::domain::{
    DomainError, Email, InviteUser, MfaType, PersonName, PhoneNumber, Role, User, UserType,
};
use crate::engine::{App, SendRequest};
use crate::ports::{Companion, SortField, UserListing};

/// The name of the one-time claim the first invitation takes.
pub const BOOTSTRAP_CLAIM: &str = "BOOTSTRAP_ADMIN";

/// What the operator passes: the admin's address and number (its second factor, SMS unless `mfaType` says TOTP).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BootstrapRequest {
    pub email: Email,
    pub sms_number: PhoneNumber,
    #[serde(default)]
    pub mfa_type: Option<MfaType>,
    #[serde(default)]
    pub first_name: Option<PersonName>,
    #[serde(default)]
    pub last_name: Option<PersonName>,
}

/// Invites the first admin: `{"outcome": "invited", "userId"}`, or `{"outcome": "refused", "reason"}` for a request
/// that cannot be served (never an `Err`: the operator reads the answer).
pub async fn bootstrap_admin(app: &App, event: Value) -> Value {
    match invite_first_admin(app, event).await {
        Ok(user) => {
            tracing::info!(user_id = %user.id, email = %user.email.masked(), "first admin invited");
            json!({"outcome": "invited", "userId": user.id.to_string(), "email": user.email.masked()})
        }
        Err(error) => {
            tracing::warn!(error = %error, cause = crate::domain::causes(&error), "first admin not invited");
            json!({"outcome": "refused", "reason": error.to_string()})
        }
    }
}

async fn invite_first_admin(app: &App, event: Value) -> Result<User, DomainError> {
    let request: BootstrapRequest = serde_json::from_value(event).map_err(|error| {
        DomainError::invalid_body("event", crate::doors::http::json_error_message(&error))
    })?;
    let (_, backoffice_users) = app
        .store
        .list_users(&UserListing {
            tenant: Some(None),
            user_type: Some(UserType::Backoffice),
            status: None,
            payee_type: None,
            sort: SortField::Email,
            descending: false,
            page: 1,
            page_size: 1,
        })
        .await?;
    if backoffice_users > 0 {
        return Err(already_bootstrapped());
    }
    let user = User::invite(
        InviteUser {
            email: request.email,
            sms_number: request.sms_number.clone(),
            primary_contact_number: request.sms_number,
            secondary_contact_number: None,
            first_name: request.first_name,
            last_name: request.last_name,
            entity_id: None,
            user_type: Some(UserType::Backoffice),
            roles: vec![Role::BackofficeAdmin],
            mfa_type: request.mfa_type.unwrap_or(MfaType::Sms),
        },
        OffsetDateTime::now_utc(),
    )?;
    let mut send = SendRequest::invitation(
        Requester::new("bootstrap-admin", "backoffice"),
        &user,
        &app.config,
    );
    send.companions
        .insert(0, Companion::ClaimOnce(BOOTSTRAP_CLAIM.into()));
    send.undo
        .push(Companion::ReleaseOnce(BOOTSTRAP_CLAIM.into()));
    app.engine()?.send(send).await?;
    Ok(user)
}

fn already_bootstrapped() -> DomainError {
    DomainError::Conflict(crate::domain::FieldError::new(
        "email",
        "a backoffice user already exists: invite further admins with POST /v2/users/invite",
    ))
}
