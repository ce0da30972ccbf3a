//! The one permission table: which role may perform which operation on which users.
//!
//! | operation                         | backoffice admin | payor master admin / admin, payee admin | payor / payee support | any authenticated user |
//! |-----------------------------------|------------------|-----------------------------------------|-----------------------|------------------------|
//! | read a user (get, list)           | everyone         | own entity                              | own entity            | -                      |
//! | change a user (invite, enable, …) | everyone         | own entity, roles up to its own rank    | -                     | -                      |
//! | self operations                   | yes              | yes                                     | yes                   | yes                    |
//!
//! A user of another entity is reported as not found, so a caller cannot learn that it exists.

use super::{AccountKey, DomainError, EntityId, Role, RoleFamily, User, UserId, UserType};

/// The authenticated caller, as the authorizer established it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: UserId,
    pub roles: Vec<Role>,
    pub entity_id: Option<EntityId>,
    pub user_type: UserType,
    /// The bank accounts the caller's token names (its `accountKeys` claim); empty when it names none.
    pub account_keys: Vec<AccountKey>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    SelfService,
}

/// Every operation of the Velo front door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    InviteUser,
    GetUser,
    ListUsers,
    DeleteUser,
    EnableUser,
    DisableUser,
    UnlockUser,
    RoleUpdate,
    UserDetailsUpdate,
    ResendToken,
    UnregisterMfa,
    GetSelf,
    UserDetailsUpdateSelf,
    UnregisterMfaSelf,
    UpdatePasswordSelf,
    ValidatePasswordSelf,
    RegisterSms,
}

impl Operation {
    pub fn access(self) -> Access {
        use Operation::*;
        match self {
            GetUser | ListUsers => Access::Read,
            InviteUser | DeleteUser | EnableUser | DisableUser | UnlockUser | RoleUpdate
            | UserDetailsUpdate | ResendToken | UnregisterMfa => Access::Write,
            GetSelf
            | UserDetailsUpdateSelf
            | UnregisterMfaSelf
            | UpdatePasswordSelf
            | ValidatePasswordSelf
            | RegisterSms => Access::SelfService,
        }
    }
}

impl Principal {
    fn best_role(&self, family: RoleFamily) -> Option<Role> {
        self.roles
            .iter()
            .copied()
            .filter(|role| role.family() == family)
            .max_by_key(|role| role.rank())
    }

    pub fn is_backoffice_admin(&self) -> bool {
        self.roles.contains(&Role::BackofficeAdmin)
    }

    /// May the caller attempt `operation` at all (before any target is known)? Refusal is a 403.
    pub fn may(&self, operation: Operation) -> Result<(), DomainError> {
        let allowed = match operation.access() {
            Access::SelfService => true,
            Access::Read => !self.roles.is_empty(),
            Access::Write => self.roles.iter().any(|role| role.is_admin()),
        };
        if allowed {
            Ok(())
        } else {
            Err(DomainError::Forbidden(
                "the caller's roles do not allow this operation".into(),
            ))
        }
    }

    /// Is `target` within the caller's reach? Users of other entities are not found, not forbidden.
    pub fn may_reach(&self, operation: Operation, target: &User) -> Result<(), DomainError> {
        self.may(operation)?;
        if self.is_backoffice_admin() {
            return Ok(());
        }
        let same_tenant = self.entity_id.is_some()
            && self.entity_id == target.entity_id
            && self.user_type == target.user_type;
        if !same_tenant {
            return Err(DomainError::NotFound("user"));
        }
        if operation.access() == Access::Write {
            let outranked = target.roles.iter().any(|role| {
                self.best_role(role.family())
                    .is_none_or(|own| own.rank() < role.rank())
            });
            if outranked {
                return Err(DomainError::Forbidden(
                    "the user holds a role above the caller's".into(),
                ));
            }
        }
        Ok(())
    }

    /// May the caller create or change users of `user_type` in `entity_id` holding `roles`?
    pub fn may_grant(
        &self,
        user_type: UserType,
        entity_id: Option<EntityId>,
        roles: &[Role],
    ) -> Result<(), DomainError> {
        if self.is_backoffice_admin() {
            return Ok(());
        }
        if user_type != self.user_type || entity_id.is_none() || entity_id != self.entity_id {
            return Err(DomainError::Forbidden(
                "users can only be managed within the caller's own entity".into(),
            ));
        }
        for role in roles {
            let allowed = self
                .best_role(role.family())
                .is_some_and(|own| own.is_admin() && own.rank() >= role.rank());
            if !allowed {
                return Err(DomainError::Forbidden(format!(
                    "the caller may not grant {role}"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(roles: Vec<Role>, entity: Option<EntityId>, user_type: UserType) -> Principal {
        Principal {
            user_id: UserId::random(),
            roles,
            entity_id: entity,
            user_type,
            account_keys: Vec::new(),
        }
    }

    #[test]
    fn support_roles_read_but_do_not_write() {
        let support = principal(
            vec![Role::PayorSupport],
            Some(EntityId::random()),
            UserType::Payor,
        );
        assert!(support.may(Operation::GetUser).is_ok());
        assert!(matches!(
            support.may(Operation::InviteUser),
            Err(DomainError::Forbidden(_))
        ));
        assert!(support.may(Operation::GetSelf).is_ok());
    }

    #[test]
    fn admins_grant_only_up_to_their_own_rank_within_their_entity() {
        let entity = EntityId::random();
        let admin = principal(vec![Role::PayorAdmin], Some(entity), UserType::Payor);
        assert!(admin
            .may_grant(UserType::Payor, Some(entity), &[Role::PayorAdmin])
            .is_ok());
        assert!(admin
            .may_grant(UserType::Payor, Some(entity), &[Role::PayorMasterAdmin])
            .is_err());
        assert!(admin
            .may_grant(
                UserType::Payor,
                Some(EntityId::random()),
                &[Role::PayorSupport]
            )
            .is_err());
        assert!(admin
            .may_grant(UserType::Payee, Some(entity), &[Role::PayeeAdmin])
            .is_err());
        let backoffice = principal(vec![Role::BackofficeAdmin], None, UserType::Backoffice);
        assert!(backoffice
            .may_grant(UserType::Backoffice, None, &[Role::BackofficeAdmin])
            .is_ok());
    }
}
