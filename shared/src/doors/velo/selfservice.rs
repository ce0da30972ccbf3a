//! The Velo operations a user performs on itself: details, MFA and password.

use lambda_http::{Body, Request, Response};
use time::OffsetDateTime;

use super::common::{change_user, unregister_mfa_of, weak_password};
use super::serve;
use super::wire::{
    PasswordRequest, PayeeUserSelfUpdateRequest, SelfMfaTypeUnregisterRequest,
    SelfUpdatePasswordRequest, ValidatePasswordResponse,
};
use crate::domain::password;
use crate::domain::{DomainError, Operation, UserType};
use crate::doors::http::{empty_response, json_body, json_response};
use crate::engine::App;
use crate::ports::SaveError;

/// `POST /v2/users/self/userDetailsUpdate`: PAYEE users only.
pub async fn user_details_update_self(app: &App, request: Request) -> Response<Body> {
    serve(
        "userDetailsUpdateForSelf",
        request,
        |request, caller| async move {
            if caller.user_type != UserType::Payee {
                return Err(DomainError::Forbidden(
                    "only PAYEE users may update their own details".into(),
                ));
            }
            let body: PayeeUserSelfUpdateRequest = json_body(&request)?;
            let patch = body.into_patch(None);
            change_user(
                app,
                &caller,
                caller.user_id,
                Operation::UserDetailsUpdateSelf,
                |user| user.patched(patch.clone()),
            )
            .await?;
            Ok(empty_response(204))
        },
    )
    .await
}

/// `POST /v2/users/self/mfa/unregister` (SMS, YUBIKEY or TOTP).
pub async fn unregister_mfa_self(app: &App, request: Request) -> Response<Body> {
    serve(
        "unregisterMFAForSelf",
        request,
        |request, caller| async move {
            let body: SelfMfaTypeUnregisterRequest = json_body(&request)?;
            unregister_mfa_of(
                app,
                &caller,
                caller.user_id,
                body.mfa_type,
                Operation::UnregisterMfaSelf,
            )
            .await?;
            Ok(empty_response(204))
        },
    )
    .await
}

/// `POST /v2/users/self/password`: checks the current password (failures count towards a lock-out), then stores
/// the new one as an argon2id hash if it is strong and not recently used.
pub async fn update_password_self(app: &App, request: Request) -> Response<Body> {
    serve(
        "updatePasswordSelf",
        request,
        |request, caller| async move {
            caller.may(Operation::UpdatePasswordSelf)?;
            let body: SelfUpdatePasswordRequest = json_body(&request)?;
            for _ in 0..3 {
                let user = app
                    .store
                    .get_user(&caller.user_id)
                    .await?
                    .ok_or(DomainError::NotFound("user"))?;
                if user.locked_out {
                    return Err(DomainError::Forbidden(
                        "the user is locked out; an administrator must unlock it".into(),
                    ));
                }
                let current_matches = user
                    .password_hash
                    .as_deref()
                    .is_some_and(|stored| password::matches(body.old_password.expose(), stored));
                if !current_matches {
                    let counted = user.after_failed_password(OffsetDateTime::now_utc());
                    match app.store.save_user(&user, &counted).await {
                        Ok(()) => {
                            return Err(DomainError::invalid_body(
                                "oldPassword",
                                "is not the current password",
                            ))
                        }
                        Err(SaveError::Stale) => continue,
                        Err(SaveError::Failed(error)) => return Err(error),
                    }
                }
                let strength = user.password_strength(
                    body.new_password.expose(),
                    Some(body.old_password.expose()),
                );
                if !strength.acceptable() {
                    return Err(weak_password("newPassword", strength));
                }
                let changed = user.with_password(password::hash(&body.new_password)?);
                match app.store.save_user(&user, &changed).await {
                    Ok(()) => return Ok(empty_response(204)),
                    Err(SaveError::Stale) => continue,
                    Err(SaveError::Failed(error)) => return Err(error),
                }
            }
            Err(DomainError::Contention)
        },
    )
    .await
}

/// `POST /v2/users/self/password/validate`: zxcvbn's score; `valid` is a score of at least 3 and not one of the
/// previous passwords. The candidate is never compared with the current password (see `User::password_advice`).
pub async fn validate_password_self(app: &App, request: Request) -> Response<Body> {
    serve(
        "validatePasswordSelf",
        request,
        |request, caller| async move {
            caller.may(Operation::ValidatePasswordSelf)?;
            let body: PasswordRequest = json_body(&request)?;
            let user = app
                .store
                .get_user(&caller.user_id)
                .await?
                .ok_or(DomainError::NotFound("user"))?;
            let strength = user.password_advice(body.password.expose());
            Ok(json_response(
                200,
                &ValidatePasswordResponse {
                    score: strength.score,
                    valid: strength.acceptable(),
                    warning: strength.warning,
                    suggestions: strength.suggestions,
                },
            ))
        },
    )
    .await
}

#[cfg(test)]
mod tests;
