//! The Velo operations that manage other users: list, delete, enable, disable, unlock, role update, details update
//! and MFA unregistration.

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use time::OffsetDateTime;

use super::common::{
    change_read_user, change_user, check_step_up_code, reachable_user, unregister_mfa_of,
    user_id_param, SAVE_TRIES,
};
use super::serve;
use super::wire::{
    PageBlock, PageLink, PagedUserResponse, RoleUpdateRequest, UnregisterMfaRequest,
    UserDetailsUpdateRequest, UserResponse, VerificationCode,
};
use crate::domain::{
    validate_roles, DomainError, EntityId, Operation, Principal, Role, User, UserId, UserStatus,
    UserType,
};
use crate::doors::http::{empty_response, json_body, json_response, query_param};
use crate::engine::App;
use crate::ports::{SaveError, SortField, UserListing};

fn not_self(caller: &Principal, id: UserId, what: &str) -> Result<(), DomainError> {
    if caller.user_id == id {
        return Err(DomainError::invalid_path(
            "userId",
            format!("a user cannot {what} themself"),
        ));
    }
    Ok(())
}

/// A payor master admin is changed only with the caller's one-time `verificationCode`, sent to the caller's own
/// registered `smsNumber`; a code sent where none is required is checked all the same (and used up).
async fn master_admin_guard(
    app: &App,
    caller: &Principal,
    touches_master_admin: bool,
    code: Option<&VerificationCode>,
) -> Result<(), DomainError> {
    match code {
        Some(code) => check_step_up_code(app, caller, code).await,
        None if touches_master_admin => Err(DomainError::invalid_body(
            "verificationCode",
            "is required to change a payor master admin",
        )),
        None => Ok(()),
    }
}

/// enable or disable a user (idempotent); a caller cannot change its own status. Shared by the HTTP operations and
/// the `enableUser` and `disableUser` commands.
pub async fn set_user_status(
    app: &App,
    caller: &Principal,
    id: UserId,
    status: UserStatus,
) -> Result<(), DomainError> {
    let (verb, operation) = if status == UserStatus::Enabled {
        ("enable", Operation::EnableUser)
    } else {
        ("disable", Operation::DisableUser)
    };
    not_self(caller, id, verb)?;
    let now = OffsetDateTime::now_utc();
    change_user(app, caller, id, operation, |user| {
        user.with_status(status, now)
    })
    .await
}

async fn set_status(
    app: &App,
    request: Request,
    caller: Principal,
    status: UserStatus,
) -> Result<Response<Body>, DomainError> {
    let id = user_id_param(&request)?;
    set_user_status(app, &caller, id, status).await?;
    Ok(empty_response(204))
}

/// `POST /v2/users/{userId}/enable`: idempotent.
pub async fn enable_user(app: &App, request: Request) -> Response<Body> {
    serve("enableUserV2", request, |request, caller| {
        set_status(app, request, caller, UserStatus::Enabled)
    })
    .await
}

/// `POST /v2/users/{userId}/disable`: idempotent; every access token issued before it is refused from then on.
pub async fn disable_user(app: &App, request: Request) -> Response<Body> {
    serve("disableUserV2", request, |request, caller| {
        set_status(app, request, caller, UserStatus::Disabled)
    })
    .await
}

/// `POST /v2/users/{userId}/unlock`: clears `lockedOut` and `lockedOutTimestamp`; idempotent.
pub async fn unlock_user(app: &App, request: Request) -> Response<Body> {
    serve("unlockUserV2", request, |request, caller| async move {
        let id = user_id_param(&request)?;
        change_user(app, &caller, id, Operation::UnlockUser, |user| {
            Ok(user.unlocked())
        })
        .await?;
        Ok(empty_response(204))
    })
    .await
}

/// `DELETE /v2/users/{userId}`: the user, its email guard and its live tokens go in one transaction.
pub async fn delete_user(app: &App, request: Request) -> Response<Body> {
    serve("deleteUserByIdV2", request, |request, caller| async move {
        let id = user_id_param(&request)?;
        not_self(&caller, id, "delete")?;
        caller.may(Operation::DeleteUser)?;
        for _ in 0..SAVE_TRIES {
            let user = app
                .store
                .get_user(&id)
                .await?
                .ok_or(DomainError::NotFound("user"))?;
            caller.may_reach(Operation::DeleteUser, &user)?;
            match app.store.delete_user(&user).await {
                Ok(()) => return Ok(empty_response(204)),
                Err(SaveError::Stale) => continue,
                Err(SaveError::Failed(error)) => return Err(error),
            }
        }
        Err(DomainError::Contention)
    })
    .await
}

/// `POST /v2/users/{userId}/roleUpdate`.
pub async fn role_update(app: &App, request: Request) -> Response<Body> {
    serve("roleUpdate", request, |request, caller| async move {
        let id = user_id_param(&request)?;
        let body: RoleUpdateRequest = json_body(&request)?;
        let target = reachable_user(app, &caller, id, Operation::RoleUpdate).await?;
        validate_roles(&body.roles, target.user_type)?;
        caller.may_grant(target.user_type, target.entity_id, &body.roles)?;
        let master = Role::PayorMasterAdmin;
        let touches_master = target.roles.contains(&master) || body.roles.contains(&master);
        master_admin_guard(
            app,
            &caller,
            touches_master,
            body.verification_code.as_ref(),
        )
        .await?;
        let roles = body.roles.clone();
        change_read_user(app, &caller, target, Operation::RoleUpdate, move |user| {
            if user.roles == roles {
                return Ok(None);
            }
            Ok(Some(User {
                roles: roles.clone(),
                ..user.clone()
            }))
        })
        .await?;
        Ok(empty_response(204))
    })
    .await
}

/// `POST /v2/users/{userId}/userDetailsUpdate`: a patch; a new email must be free (409) and moves its guard.
pub async fn user_details_update(app: &App, request: Request) -> Response<Body> {
    serve("userDetailsUpdate", request, |request, caller| async move {
        let id = user_id_param(&request)?;
        let body: UserDetailsUpdateRequest = json_body(&request)?;
        let (patch, verification_code) = body.into_parts();
        let target = reachable_user(app, &caller, id, Operation::UserDetailsUpdate).await?;
        master_admin_guard(
            app,
            &caller,
            target.roles.contains(&Role::PayorMasterAdmin),
            verification_code.as_ref(),
        )
        .await?;
        change_read_user(app, &caller, target, Operation::UserDetailsUpdate, |user| {
            user.patched(patch.clone())
        })
        .await?;
        Ok(empty_response(204))
    })
    .await
}

/// `POST /v2/users/{userId}/mfa/unregister` (YUBIKEY or TOTP).
pub async fn unregister_mfa(app: &App, request: Request) -> Response<Body> {
    serve("unregisterMFA", request, |request, caller| async move {
        let id = user_id_param(&request)?;
        let body: UnregisterMfaRequest = json_body(&request)?;
        if let Some(code) = &body.verification_code {
            check_step_up_code(app, &caller, code).await?;
        }
        unregister_mfa_of(
            app,
            &caller,
            id,
            body.mfa_type.into(),
            Operation::UnregisterMfa,
        )
        .await?;
        Ok(empty_response(204))
    })
    .await
}

fn parse_query<T>(
    request: &Request,
    name: &str,
    parse: impl Fn(&str) -> Option<T>,
    expected: &str,
) -> Result<Option<T>, DomainError> {
    match query_param(request, name) {
        None => Ok(None),
        Some(raw) => parse(&raw)
            .map(Some)
            .ok_or_else(|| DomainError::invalid_query(name, expected.to_owned())),
    }
}

fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' | b',' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `GET /v2/users`: filters `type`, `status`, `entityId`, `payeeType`; `sort` `email` or `lastName`, `:asc` or
/// `:desc`; `page` from 1, `pageSize` 1..100.
pub async fn list_users(app: &App, request: Request) -> Response<Body> {
    serve("listUsers", request, |request, caller| async move {
        caller.may(Operation::ListUsers)?;
        let user_type = parse_query(
            &request,
            "type",
            |raw| raw.parse::<UserType>().ok(),
            "must be one of BACKOFFICE, PAYOR, PAYEE",
        )?;
        let status = parse_query(
            &request,
            "status",
            |raw| {
                serde_json::from_value::<UserStatus>(serde_json::Value::String(raw.to_owned())).ok()
            },
            "must be one of ENABLED, DISABLED, PENDING",
        )?;
        let entity_id = parse_query(
            &request,
            "entityId",
            |raw| raw.parse::<EntityId>().ok(),
            "must be a UUID",
        )?;
        let payee_type = parse_query(
            &request,
            "payeeType",
            |raw| matches!(raw, "COMPANY" | "INDIVIDUAL").then(|| raw.to_owned()),
            "must be one of COMPANY, INDIVIDUAL",
        )?;
        let page = parse_query(
            &request,
            "page",
            |raw| raw.parse::<u32>().ok().filter(|p| *p >= 1 && *p <= 100_000),
            "must be a whole number from 1",
        )?
        .unwrap_or(1);
        let page_size = parse_query(
            &request,
            "pageSize",
            |raw| raw.parse::<u32>().ok().filter(|s| (1..=100).contains(s)),
            "must be a whole number from 1 to 100",
        )?
        .unwrap_or(25);
        let sort_raw = query_param(&request, "sort").unwrap_or_else(|| "email:asc".to_owned());
        let mut fields = Vec::new();
        for part in sort_raw.split(',') {
            let parsed = match part.trim() {
                "email" | "email:asc" => Some((SortField::Email, false)),
                "email:desc" => Some((SortField::Email, true)),
                "lastName" | "lastName:asc" => Some((SortField::LastName, false)),
                "lastName:desc" => Some((SortField::LastName, true)),
                _ => None,
            };
            fields.push(parsed.ok_or_else(|| {
                DomainError::invalid_query(
                    "sort",
                    "must be email or lastName, each :asc or :desc (e.g. email:asc)",
                )
            })?);
        }
        let (sort, descending) = fields.first().copied().unwrap_or((SortField::Email, false));

        let tenant = if caller.is_backoffice_admin() {
            match (entity_id, user_type) {
                (Some(entity), _) => Some(Some(entity)),
                (None, Some(UserType::Backoffice)) => Some(None),
                (None, _) => None,
            }
        } else {
            if entity_id.is_some_and(|entity| Some(entity) != caller.entity_id) {
                return Err(DomainError::Forbidden(
                    "users can only be listed within the caller's own entity".into(),
                ));
            }
            Some(caller.entity_id)
        };
        let listing = UserListing {
            tenant,
            user_type,
            status,
            payee_type: payee_type.clone(),
            sort,
            descending,
            page,
            page_size,
        };
        let (users, total) = app.store.list_users(&listing).await?;
        let total_pages = total.div_ceil(u64::from(page_size));

        let base = public_base_url(app, &request);
        let mut filters = String::new();
        for (name, value) in [
            ("type", user_type.map(|t| t.as_str().to_owned())),
            (
                "status",
                query_param(&request, "status").filter(|_| status.is_some()),
            ),
            ("entityId", entity_id.map(|e| e.to_string())),
            ("payeeType", payee_type),
        ] {
            if let Some(value) = value {
                filters.push_str(&format!("{name}={}&", percent_encode(&value)));
            }
        }
        let href = |page: u64| {
            format!(
                "{base}/v2/users?{filters}page={page}&pageSize={page_size}&sort={}",
                percent_encode(&sort_raw)
            )
        };
        let current = u64::from(page);
        let last = total_pages.max(1);
        let mut links = vec![
            PageLink {
                rel: "first",
                href: href(1),
            },
            PageLink {
                rel: "self",
                href: href(current),
            },
        ];
        if current < total_pages {
            links.push(PageLink {
                rel: "next",
                href: href(current + 1),
            });
        }
        if current > 1 {
            links.push(PageLink {
                rel: "prev",
                href: href((current - 1).min(last)),
            });
        }
        links.push(PageLink {
            rel: "last",
            href: href(last),
        });
        let content: Vec<UserResponse> = users.iter().map(UserResponse::from).collect();
        Ok(json_response(
            200,
            &PagedUserResponse {
                page: PageBlock {
                    number_of_elements: content.len() as u64,
                    total_elements: total,
                    total_pages,
                    page: current,
                    page_size: u64::from(page_size),
                },
                links,
                content,
            },
        ))
    })
    .await
}

/// Where the API is served, for absolute links: the configured `PUBLIC_BASE_URL`, else the gateway's own domain
/// (`requestContext.domainName`, which API Gateway sets; plain HTTP only for a loopback address, the local gateway),
/// else none (links relative to the API's root). Never the `Host` header: a client chooses it.
fn public_base_url(app: &App, request: &Request) -> String {
    if let Some(base) = &app.config.public_base_url {
        return base.clone();
    }
    let domain = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.domain_name.clone(),
        Some(RequestContext::ApiGatewayV1(context)) => context.domain_name.clone(),
        _ => None,
    };
    match domain.filter(|domain| !domain.is_empty()) {
        Some(domain) if domain.starts_with("127.0.0.1") || domain.starts_with("localhost") => {
            format!("http://{domain}")
        }
        Some(domain) => format!("https://{domain}"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests;
