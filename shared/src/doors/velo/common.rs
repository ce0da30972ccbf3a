//! What the Velo operations share: the path's user id, reading a user the caller may reach, saving a change on the
//! version read, the caller's SMS verification code (bound to the number it proves), and MFA unregistration.

use lambda_http::Request;

use super::wire::VerificationCode;
use crate::domain::password;
use crate::domain::permissions::{Access, Reach};
use crate::domain::sending::Requester;
use crate::domain::token::{LiveToken, SendMode, Subject, TokenPurpose};
use crate::domain::{
    DomainError, MfaStatus, MfaType, Operation, PhoneNumber, Principal, User, UserId,
};
use crate::doors::http::path_param;
use crate::engine::{App, Recipient, SendRequest};
use crate::ports::{Companion, SaveError};

/// How often a change is read and tried again when another write came first; then the answer is
/// `DomainError::Contention` (409), never a 503.
pub(super) const SAVE_TRIES: usize = 3;

pub(super) fn user_id_param(request: &Request) -> Result<UserId, DomainError> {
    let raw = path_param(request, "userId").unwrap_or_default();
    raw.parse()
        .map_err(|reason: &str| DomainError::invalid_path("userId", reason))
}

/// Reads the user and checks the caller may act on it with `operation`.
pub(super) async fn reachable_user(
    app: &App,
    caller: &Principal,
    id: UserId,
    operation: Operation,
) -> Result<User, DomainError> {
    caller.may(operation)?;
    let reach = match operation.access() {
        Access::SelfService => Reach::Everyone,
        Access::Read | Access::Write => caller.reach(),
    };
    let user = app
        .store
        .get_user_within(&id, &reach)
        .await?
        .ok_or(DomainError::NotFound("user"))?;
    if operation.access() != Access::SelfService {
        caller.may_reach(operation, &user)?;
    }
    Ok(user)
}

/// Applies `change` to `user` (as read) and saves it conditioned on the version read, reading again if another
/// write came first. `change` returning `None` means nothing to do.
pub(super) async fn change_read_user<F>(
    app: &App,
    caller: &Principal,
    mut user: User,
    operation: Operation,
    change: F,
) -> Result<(), DomainError>
where
    F: Fn(&User) -> Result<Option<User>, DomainError>,
{
    for attempt in 0..SAVE_TRIES {
        if attempt > 0 {
            user = reachable_user(app, caller, user.id, operation).await?;
        }
        let Some(next) = change(&user)? else {
            return Ok(());
        };
        match app.store.save_user(&user, &next).await {
            Ok(()) => return Ok(()),
            Err(SaveError::Stale) => continue,
            Err(SaveError::Failed(error)) => return Err(error),
        }
    }
    Err(DomainError::Contention)
}

/// Reads the user, checks the caller may act on it, applies `change` and saves it (see `change_read_user`).
pub(super) async fn change_user<F>(
    app: &App,
    caller: &Principal,
    id: UserId,
    operation: Operation,
    change: F,
) -> Result<(), DomainError>
where
    F: Fn(&User) -> Result<Option<User>, DomainError>,
{
    let user = reachable_user(app, caller, id, operation).await?;
    change_read_user(app, caller, user, operation, change).await
}

/// The refusal of a new password that is too weak or was used recently, at `field`.
pub(super) fn weak_password(field: &str, strength: password::Strength) -> DomainError {
    let reason = strength.warning.unwrap_or_else(|| "is too weak".into());
    DomainError::invalid_body(
        field,
        format!(
            "must score at least {} (scored {}): {reason}",
            password::MIN_SCORE,
            strength.score
        ),
    )
}

/// Accepts the caller's SMS one-time code (from `register-sms`) once, where Velo asks for a `verificationCode`, if
/// it was sent to `number`: the code proves possession of the number the operation is about. A code sent to any
/// other number is refused as not valid, and stays unused.
pub async fn check_verification_code(
    app: &App,
    caller: &Principal,
    code: &VerificationCode,
    number: &PhoneNumber,
) -> Result<(), DomainError> {
    let subject = Subject::User(caller.user_id);
    let current = app
        .store
        .get_token(&subject, TokenPurpose::SmsVerification)
        .await?;
    verify_sms_code(app, &subject, current, code, number).await
}

/// A step-up: the caller's `verificationCode`, which must have been sent to the caller's own registered `smsNumber`
/// (the caller and its code in one read).
pub(super) async fn check_step_up_code(
    app: &App,
    caller: &Principal,
    code: &VerificationCode,
) -> Result<(), DomainError> {
    let subject = Subject::User(caller.user_id);
    let (user, current) = app
        .store
        .get_user_with_token(&caller.user_id, TokenPurpose::SmsVerification)
        .await?;
    let Some(user) = user else {
        return Err(DomainError::IncorrectCode {
            remaining_attempts: 0,
        });
    };
    verify_sms_code(app, &subject, current, code, &user.sms_number).await
}

async fn verify_sms_code(
    app: &App,
    subject: &Subject,
    current: Option<LiveToken>,
    code: &VerificationCode,
    number: &PhoneNumber,
) -> Result<(), DomainError> {
    let outcome = app
        .engine()?
        .verify_sent_to(
            current,
            subject,
            TokenPurpose::SmsVerification,
            code.expose(),
            &Recipient::Phone(number.clone()),
        )
        .await;
    outcome.map_err(|error| match error {
        DomainError::NotFound(_) | DomainError::CodeExpired => DomainError::IncorrectCode {
            remaining_attempts: 0,
        },
        other => other,
    })
}

/// Clears the MFA registration and sends a new MFA-registration link by email, in one send transaction.
pub(super) async fn unregister_mfa_of(
    app: &App,
    caller: &Principal,
    id: UserId,
    mfa_type: MfaType,
    operation: Operation,
) -> Result<(), DomainError> {
    caller.may(operation)?;
    let (user, current) = app
        .store
        .get_user_with_token(&id, TokenPurpose::MfaRegistration)
        .await?;
    let user = user.ok_or(DomainError::NotFound("user"))?;
    if operation != Operation::UnregisterMfaSelf {
        caller.may_reach(operation, &user)?;
    }
    if user.mfa_type != mfa_type {
        return Err(DomainError::invalid_body(
            "mfaType",
            "is not the user's MFA type",
        ));
    }
    let unregistered = User {
        mfa_status: MfaStatus::Unregistered,
        ..user.clone()
    };
    let change = (user.clone(), unregistered);
    let send = SendRequest::new(
        Requester::of(caller),
        Subject::User(id),
        TokenPurpose::MfaRegistration,
        SendMode::Issue,
        current,
        Recipient::Email(user.email.clone()),
        app.config.invitation_policy(),
    )
    .with_link(app.config.mfa_link_base.clone())
    .with_companions(
        vec![Companion::UpdateUser {
            before: change.0.clone(),
            after: change.1.clone(),
        }],
        vec![Companion::RevertUser {
            before: change.0,
            after: change.1,
        }],
    );
    app.engine()?.send(send).await?;
    Ok(())
}
