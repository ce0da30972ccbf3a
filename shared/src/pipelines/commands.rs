//! The inbound pipeline: JSON commands from an SQS queue, run by `command-handler` through the same operations (and
//! the same permission checks) as the HTTP API, as a configured service identity.

use aws_lambda_events::event::streams::{SqsBatchItemFailure, SqsEventResponse};
use serde::Deserialize;

use crate::domain::{DomainError, EntityId, Principal, Role, UserId, UserStatus, UserType};
use crate::doors::velo::wire::InviteUserRequest;
use crate::doors::velo::{invite, resend, set_user_status, ResendTokenRequest, TokenType};
use crate::engine::App;

/// The service identity's default user id: no user has it, so it never matches a target ("cannot disable
/// themself") and no bearer token names it.
pub const DEFAULT_SERVICE_USER_ID: &str = "00000000-0000-4000-8000-00000000c0de";

/// One command: `command` names it, the other fields are its input.
#[derive(Debug, Deserialize)]
#[serde(
    tag = "command",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Command {
    /// Velo's `InviteUserRequest`, as `POST /v2/users/invite` takes it.
    InviteUser(InviteUserRequest),
    /// As `POST /v2/users/{userId}/tokens`, without a `verificationCode` (the service has no SMS code).
    ResendToken {
        user_id: UserId,
        token_type: TokenType,
    },
    EnableUser {
        user_id: UserId,
    },
    DisableUser {
        user_id: UserId,
    },
}

impl Command {
    pub fn name(&self) -> &'static str {
        match self {
            Command::InviteUser(_) => "inviteUser",
            Command::ResendToken { .. } => "resendToken",
            Command::EnableUser { .. } => "enableUser",
            Command::DisableUser { .. } => "disableUser",
        }
    }
}

/// Why a message was not carried out.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// Not JSON, or not a known command with valid fields; `field` is the path of the offending field.
    #[error("not a valid command ({field}): {reason}")]
    Malformed { field: String, reason: &'static str },
    #[error(transparent)]
    Domain(#[from] DomainError),
}

impl CommandError {
    /// Would the same message succeed later? Only for a dependency that failed, or a limit that will pass.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            CommandError::Domain(
                DomainError::Unavailable { .. }
                    | DomainError::DeliveryFailed
                    | DomainError::Contention
                    | DomainError::CooldownActive { .. }
                    | DomainError::SendQuotaExceeded { .. }
                    | DomainError::SendBudgetExhausted { .. }
                    | DomainError::TooManyRequests { .. }
            )
        )
    }
}

/// Parses a message body. The error names the field's path and the kind of fault, never the value (which may be
/// an address or a number).
pub fn parse(body: &str) -> Result<Command, CommandError> {
    let mut deserializer = serde_json::Deserializer::from_str(body);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let field = error.path().to_string();
        let reason = match error.inner().classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                "the body is not valid JSON"
            }
            serde_json::error::Category::Data => {
                "an unknown command, or a missing or invalid field"
            }
            serde_json::error::Category::Io => "the body could not be read",
        };
        CommandError::Malformed { field, reason }
    })
}

/// Runs one command as `caller`.
pub async fn execute(app: &App, caller: &Principal, command: Command) -> Result<(), CommandError> {
    match command {
        Command::InviteUser(request) => {
            let id = invite(app, caller, request).await?;
            tracing::info!(user_id = %id, "inviteUser command: user invited");
        }
        Command::ResendToken {
            user_id,
            token_type,
        } => {
            resend(
                app,
                caller,
                user_id,
                ResendTokenRequest {
                    token_type,
                    verification_code: None,
                },
            )
            .await?
        }
        Command::EnableUser { user_id } => {
            set_user_status(app, caller, user_id, UserStatus::Enabled).await?
        }
        Command::DisableUser { user_id } => {
            set_user_status(app, caller, user_id, UserStatus::Disabled).await?
        }
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
#[error("environment variable {name} is invalid: {reason}")]
pub struct ServiceIdentityError {
    pub name: &'static str,
    pub reason: String,
}

/// The identity commands act as: `COMMAND_SERVICE_USER_ID` (default [`DEFAULT_SERVICE_USER_ID`]),
/// `COMMAND_SERVICE_ROLES` (comma-separated, default `velo.backoffice.admin`) and `COMMAND_SERVICE_ENTITY_ID` (the
/// entity a payor or payee identity belongs to). The user type follows from the roles.
pub fn service_principal(
    user_id: Option<&str>,
    roles: Option<&str>,
    entity_id: Option<&str>,
) -> Result<Principal, ServiceIdentityError> {
    let invalid = |name, reason: &str| ServiceIdentityError {
        name,
        reason: reason.to_owned(),
    };
    let user_id: UserId = user_id
        .unwrap_or(DEFAULT_SERVICE_USER_ID)
        .parse()
        .map_err(|reason| invalid("COMMAND_SERVICE_USER_ID", reason))?;
    let roles = roles
        .unwrap_or(Role::BackofficeAdmin.name())
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::parse::<Role>)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| invalid("COMMAND_SERVICE_ROLES", "names a role that does not exist"))?;
    let families: Vec<UserType> = roles.iter().map(|r| r.family().user_type()).collect();
    let user_type = match families.first() {
        Some(first) if families.iter().all(|t| t == first) => *first,
        Some(_) => {
            return Err(invalid(
                "COMMAND_SERVICE_ROLES",
                "mixes roles of different user types",
            ))
        }
        None => return Err(invalid("COMMAND_SERVICE_ROLES", "names no role")),
    };
    let entity_id = entity_id
        .map(str::parse::<EntityId>)
        .transpose()
        .map_err(|reason| invalid("COMMAND_SERVICE_ENTITY_ID", reason))?;
    if user_type != UserType::Backoffice && entity_id.is_none() {
        return Err(invalid(
            "COMMAND_SERVICE_ENTITY_ID",
            "is required for payor and payee roles",
        ));
    }
    Ok(Principal {
        user_id,
        roles,
        entity_id,
        user_type,
        account_keys: Vec::new(),
    })
}

/// `service_principal` from the function's environment.
pub fn service_principal_from_env() -> Result<Principal, ServiceIdentityError> {
    let var = |name| std::env::var(name).ok().filter(|v| !v.is_empty());
    service_principal(
        var("COMMAND_SERVICE_USER_ID").as_deref(),
        var("COMMAND_SERVICE_ROLES").as_deref(),
        var("COMMAND_SERVICE_ENTITY_ID").as_deref(),
    )
}

/// The part of an SQS event the handler reads.
#[derive(Debug, Deserialize)]
pub struct SqsEvent {
    #[serde(rename = "Records")]
    pub records: Vec<SqsMessage>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SqsMessage {
    pub message_id: String,
    #[serde(default)]
    pub body: String,
}

/// The `command-handler` handler: every message is run on its own; each one that fails, for whatever reason, is
/// reported by its `messageId` and never holds up the others.
pub async fn handle_messages(app: &App, caller: &Principal, event: SqsEvent) -> SqsEventResponse {
    let mut response = SqsEventResponse::default();
    for message in event.records {
        let outcome = match parse(&message.body) {
            Ok(command) => {
                let name = command.name();
                execute(app, caller, command).await.map(|()| name)
            }
            Err(error) => Err(error),
        };
        match outcome {
            Ok(command) => {
                tracing::info!(message_id = %message.message_id, command, "command carried out")
            }
            Err(error) => {
                tracing::warn!(
                    message_id = %message.message_id,
                    retryable = error.is_retryable(),
                    error = %error,
                    cause = crate::domain::causes(&error),
                    "command failed"
                );
                let mut failure = SqsBatchItemFailure::default();
                failure.item_identifier = Some(message.message_id);
                response.batch_item_failures.push(failure);
            }
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_by_name_and_refuse_the_unknown() {
        let command =
            parse(r#"{"command":"disableUser","userId":"7fffa261-ac68-49e6-b605-d24a444d9206"}"#);
        assert!(matches!(command, Ok(Command::DisableUser { .. })));
        let resend = parse(
            r#"{"command":"resendToken","userId":"7fffa261-ac68-49e6-b605-d24a444d9206","tokenType":"INVITE_MFA_USER"}"#,
        );
        assert!(matches!(
            resend,
            Ok(Command::ResendToken {
                token_type: TokenType::InviteMfaUser,
                ..
            })
        ));
        assert!(matches!(
            parse(r#"{"command":"dropTable"}"#),
            Err(CommandError::Malformed { .. })
        ));
        assert!(matches!(
            parse("not json"),
            Err(CommandError::Malformed { .. })
        ));
        match parse(r#"{"command":"enableUser","userId":"+4411223344556"}"#) {
            Err(error) => assert!(!error.to_string().contains("4411223344556")),
            Ok(_) => panic!("a phone number is not a user id"),
        }
    }

    #[test]
    fn the_service_identity_defaults_to_a_backoffice_admin() {
        let admin = service_principal(None, None, None).expect("default identity");
        assert_eq!(admin.roles, vec![Role::BackofficeAdmin]);
        assert_eq!(admin.user_type, UserType::Backoffice);
        assert!(service_principal(None, Some("velo.payor.admin"), None).is_err());
        let payor = service_principal(
            None,
            Some("velo.payor.admin"),
            Some("7fffa261-ac68-49e6-b605-d24a444d9206"),
        )
        .expect("payor identity");
        assert_eq!(payor.user_type, UserType::Payor);
        assert!(service_principal(None, Some("velo.nobody"), None).is_err());
    }

    #[test]
    fn only_passing_failures_are_retryable() {
        assert!(CommandError::Domain(DomainError::DeliveryFailed).is_retryable());
        assert!(CommandError::Domain(DomainError::CooldownActive {
            retry_after_secs: 5
        })
        .is_retryable());
        assert!(!CommandError::Domain(DomainError::NotFound("user")).is_retryable());
        assert!(!CommandError::Domain(DomainError::Forbidden("no".into())).is_retryable());
    }
}
