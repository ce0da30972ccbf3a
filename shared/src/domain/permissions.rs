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

/// Whose users a caller may reach: a store can judge it on a stored item before parsing it, so that another
/// tenant's user costs what a missing one does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    Everyone,
    Tenant {
        entity_id: EntityId,
        user_type: UserType,
    },
    Nobody,
}

impl Reach {
    pub fn includes(&self, user: &User) -> bool {
        match self {
            Reach::Everyone => true,
            Reach::Tenant {
                entity_id,
                user_type,
            } => user.entity_id == Some(*entity_id) && user.user_type == *user_type,
            Reach::Nobody => false,
        }
    }
}

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
    pub const ALL: [Operation; 17] = [
        Operation::InviteUser,
        Operation::GetUser,
        Operation::ListUsers,
        Operation::DeleteUser,
        Operation::EnableUser,
        Operation::DisableUser,
        Operation::UnlockUser,
        Operation::RoleUpdate,
        Operation::UserDetailsUpdate,
        Operation::ResendToken,
        Operation::UnregisterMfa,
        Operation::GetSelf,
        Operation::UserDetailsUpdateSelf,
        Operation::UnregisterMfaSelf,
        Operation::UpdatePasswordSelf,
        Operation::ValidatePasswordSelf,
        Operation::RegisterSms,
    ];

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

    /// Whose users the caller may reach at all (`may_reach`'s tenant rule, without the ranks).
    pub fn reach(&self) -> Reach {
        match self.entity_id {
            _ if self.is_backoffice_admin() => Reach::Everyone,
            Some(entity_id) => Reach::Tenant {
                entity_id,
                user_type: self.user_type,
            },
            None => Reach::Nobody,
        }
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

    /// May the caller manage `payor`'s applications and API keys? A backoffice admin may for any payor, a payor's
    /// (master) admin for its own; another payor is not found (its existence is not the caller's to learn).
    pub fn may_manage_payor(&self, payor: &EntityId) -> Result<(), DomainError> {
        if self.is_backoffice_admin() {
            return Ok(());
        }
        if self.entity_id.as_ref() != Some(payor) || self.user_type != UserType::Payor {
            return Err(DomainError::NotFound("payor"));
        }
        if self
            .roles
            .iter()
            .any(|role| matches!(role, Role::PayorMasterAdmin | Role::PayorAdmin))
        {
            Ok(())
        } else {
            Err(DomainError::Forbidden(
                "only the payor's admins may manage its API keys".into(),
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
    use crate::domain::RoleFamily;

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

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Outcome {
        Allowed,
        Forbidden,
        NotFound,
    }

    /// The permission table as the README states it, written out: for each role, the outcome for each access class
    /// on a user of the caller's own entity and on a user of another entity.
    fn documented(role: Role, access: Access) -> (Outcome, Outcome) {
        use Outcome::*;
        match (role, access) {
            (_, Access::SelfService) => (Allowed, Allowed),
            (Role::BackofficeAdmin, _) => (Allowed, Allowed),
            (Role::PayorMasterAdmin | Role::PayorAdmin | Role::PayeeAdmin, _) => {
                (Allowed, NotFound)
            }
            (Role::PayorSupport | Role::PayeeSupport, Access::Read) => (Allowed, NotFound),
            (Role::PayorSupport | Role::PayeeSupport, Access::Write) => (Forbidden, Forbidden),
        }
    }

    fn target(user_type: UserType, entity: Option<EntityId>, role: Role) -> User {
        User {
            id: UserId::random(),
            email: "t@example.com".parse().unwrap(),
            sms_number: "+4411223344556".parse().unwrap(),
            primary_contact_number: "+4411223344556".parse().unwrap(),
            secondary_contact_number: None,
            first_name: None,
            last_name: None,
            entity_id: entity,
            company_name: None,
            roles: vec![role],
            user_type,
            status: crate::domain::UserStatus::Enabled,
            mfa_type: crate::domain::MfaType::Totp,
            mfa_status: crate::domain::MfaStatus::Registered,
            locked_out: false,
            locked_out_timestamp: None,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            tokens_valid_after: None,
            password_hash: None,
            password_history: Vec::new(),
            failed_password_attempts: 0,
            totp: crate::domain::totp::TotpFactor::default(),
            version: 1,
        }
    }

    #[test]
    fn every_cell_of_the_permission_table() {
        let mut cells = 0;
        for role in Role::ALL {
            let user_type = role.family().user_type();
            let own_entity = (user_type != UserType::Backoffice).then(EntityId::random);
            let caller = principal(vec![role], own_entity, user_type);
            // The least-privileged user of the caller's own kind, and a user of another entity.
            let lowest = match role.family() {
                RoleFamily::Backoffice => Role::BackofficeAdmin,
                RoleFamily::Payor => Role::PayorSupport,
                RoleFamily::Payee => Role::PayeeSupport,
            };
            let same = target(user_type, own_entity, lowest);
            let other = target(
                UserType::Payor,
                Some(EntityId::random()),
                Role::PayorSupport,
            );
            for operation in Operation::ALL {
                let (expected_same, expected_other) = documented(role, operation.access());
                for (target, expected) in [(&same, expected_same), (&other, expected_other)] {
                    let outcome = if operation.access() == Access::SelfService {
                        caller.may(operation)
                    } else {
                        caller.may_reach(operation, target)
                    };
                    let outcome = match outcome {
                        Ok(()) => Outcome::Allowed,
                        Err(DomainError::Forbidden(_)) => Outcome::Forbidden,
                        Err(DomainError::NotFound(_)) => Outcome::NotFound,
                        Err(other) => panic!("{role} {operation:?}: {other:?}"),
                    };
                    assert_eq!(
                        outcome, expected,
                        "{role} {operation:?} on {:?}",
                        target.entity_id
                    );
                    cells += 1;
                }
            }
        }
        assert_eq!(cells, 6 * 17 * 2);
    }

    #[test]
    fn admins_cannot_act_on_users_who_outrank_them() {
        let entity = EntityId::random();
        let admin = principal(vec![Role::PayorAdmin], Some(entity), UserType::Payor);
        let master = target(UserType::Payor, Some(entity), Role::PayorMasterAdmin);
        assert!(admin.may_reach(Operation::GetUser, &master).is_ok());
        assert!(matches!(
            admin.may_reach(Operation::DisableUser, &master),
            Err(DomainError::Forbidden(_))
        ));
    }
}
