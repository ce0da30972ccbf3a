use super::{DomainError, Email, EntityId, FieldError, PhoneNumber, UserId};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserType {
    Backoffice,
    Payor,
    Payee,
}

impl UserType {
    pub fn as_str(self) -> &'static str {
        match self {
            UserType::Backoffice => "BACKOFFICE",
            UserType::Payor => "PAYOR",
            UserType::Payee => "PAYEE",
        }
    }
}

impl FromStr for UserType {
    type Err = &'static str;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "BACKOFFICE" => Ok(UserType::Backoffice),
            "PAYOR" => Ok(UserType::Payor),
            "PAYEE" => Ok(UserType::Payee),
            _ => Err("must be one of BACKOFFICE, PAYOR, PAYEE"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserStatus {
    Enabled,
    Disabled,
    Pending,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MfaType {
    Sms,
    Yubikey,
    Totp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MfaStatus {
    Registered,
    Unregistered,
    Verified,
}

/// Which kind of user a role belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleFamily {
    Backoffice,
    Payor,
    Payee,
}

impl RoleFamily {
    pub fn user_type(self) -> UserType {
        match self {
            RoleFamily::Backoffice => UserType::Backoffice,
            RoleFamily::Payor => UserType::Payor,
            RoleFamily::Payee => UserType::Payee,
        }
    }
}

/// One of Velo's system roles. Clients may send the short form (`payor.admin`) that parts of Velo's document use;
/// it is stored and returned in the canonical `velo.` form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    BackofficeAdmin,
    PayorMasterAdmin,
    PayorAdmin,
    PayorSupport,
    PayeeAdmin,
    PayeeSupport,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::BackofficeAdmin,
        Role::PayorMasterAdmin,
        Role::PayorAdmin,
        Role::PayorSupport,
        Role::PayeeAdmin,
        Role::PayeeSupport,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Role::BackofficeAdmin => "velo.backoffice.admin",
            Role::PayorMasterAdmin => "velo.payor.master_admin",
            Role::PayorAdmin => "velo.payor.admin",
            Role::PayorSupport => "velo.payor.support",
            Role::PayeeAdmin => "velo.payee.admin",
            Role::PayeeSupport => "velo.payee.support",
        }
    }

    pub fn family(self) -> RoleFamily {
        match self {
            Role::BackofficeAdmin => RoleFamily::Backoffice,
            Role::PayorMasterAdmin | Role::PayorAdmin | Role::PayorSupport => RoleFamily::Payor,
            Role::PayeeAdmin | Role::PayeeSupport => RoleFamily::Payee,
        }
    }

    /// Higher ranks may grant lower or equal ranks of their own family.
    pub fn rank(self) -> u8 {
        match self {
            Role::BackofficeAdmin => 4,
            Role::PayorMasterAdmin => 3,
            Role::PayorAdmin | Role::PayeeAdmin => 2,
            Role::PayorSupport | Role::PayeeSupport => 1,
        }
    }

    pub fn is_admin(self) -> bool {
        self.rank() >= 2
    }
}

impl FromStr for Role {
    type Err = &'static str;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let canonical = value.strip_prefix("velo.").unwrap_or(value);
        Role::ALL
            .into_iter()
            .find(|role| &role.name()["velo.".len()..] == canonical)
            .ok_or("is not an existing role")
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Role {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// A first or last name: 1 to 128 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonName(String);

impl PersonName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PersonName {
    type Error = &'static str;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        let length = value.chars().count();
        if (1..=128).contains(&length) && !value.chars().any(char::is_control) {
            Ok(Self(value))
        } else {
            Err("size must be between 1 and 128")
        }
    }
}

impl From<PersonName> for String {
    fn from(value: PersonName) -> String {
        value.0
    }
}

/// The user aggregate.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: UserId,
    pub email: Email,
    pub sms_number: PhoneNumber,
    pub primary_contact_number: PhoneNumber,
    pub secondary_contact_number: Option<PhoneNumber>,
    pub first_name: Option<PersonName>,
    pub last_name: Option<PersonName>,
    pub entity_id: Option<EntityId>,
    pub company_name: Option<String>,
    pub roles: Vec<Role>,
    pub user_type: UserType,
    pub status: UserStatus,
    pub mfa_type: MfaType,
    pub mfa_status: MfaStatus,
    pub locked_out: bool,
    pub locked_out_timestamp: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    /// Access tokens issued before this instant are refused (set on disable).
    pub tokens_valid_after: Option<OffsetDateTime>,
    /// The argon2id hash of the current password, once the user has one.
    pub password_hash: Option<String>,
    /// Hashes of previous passwords, newest first, at most `password::HISTORY - 1`.
    pub password_history: Vec<String>,
    pub failed_password_attempts: u32,
    /// The TOTP factor: its sealed secret (registered, or awaiting confirmation), and its check history.
    pub totp: super::totp::TotpFactor,
    /// Optimistic concurrency: every write is conditioned on the version it read.
    pub version: u64,
}

/// A parsed invitation: every field already a valid value.
#[derive(Debug, Clone, PartialEq)]
pub struct InviteUser {
    pub email: Email,
    pub sms_number: PhoneNumber,
    pub primary_contact_number: PhoneNumber,
    pub secondary_contact_number: Option<PhoneNumber>,
    pub first_name: Option<PersonName>,
    pub last_name: Option<PersonName>,
    pub entity_id: Option<EntityId>,
    pub user_type: Option<UserType>,
    pub roles: Vec<Role>,
    pub mfa_type: MfaType,
}

impl User {
    /// A new PENDING user from an invitation. The user type defaults to PAYOR when an entity is named and to
    /// BACKOFFICE when none is; every role must belong to that type, and payor and payee users need an entity.
    pub fn invite(invite: InviteUser, now: OffsetDateTime) -> Result<User, DomainError> {
        let user_type = invite.user_type.unwrap_or(match invite.entity_id {
            Some(_) => UserType::Payor,
            None => UserType::Backoffice,
        });
        match (user_type, invite.entity_id) {
            (UserType::Backoffice, Some(_)) => {
                return Err(DomainError::invalid_body(
                    "entityId",
                    "must be null for a BACKOFFICE user",
                ))
            }
            (UserType::Payor | UserType::Payee, None) => {
                return Err(DomainError::invalid_body(
                    "entityId",
                    "is required for PAYOR and PAYEE users",
                ))
            }
            _ => {}
        }
        validate_roles(&invite.roles, user_type)?;
        Ok(User {
            id: UserId::random(),
            email: invite.email,
            sms_number: invite.sms_number,
            primary_contact_number: invite.primary_contact_number,
            secondary_contact_number: invite.secondary_contact_number,
            first_name: invite.first_name,
            last_name: invite.last_name,
            entity_id: invite.entity_id,
            company_name: None,
            roles: invite.roles,
            user_type,
            status: UserStatus::Pending,
            mfa_type: invite.mfa_type,
            mfa_status: MfaStatus::Unregistered,
            locked_out: false,
            locked_out_timestamp: None,
            created_at: now,
            tokens_valid_after: None,
            password_hash: None,
            password_history: Vec::new(),
            failed_password_attempts: 0,
            totp: crate::domain::totp::TotpFactor::default(),
            version: 1,
        })
    }

    /// Enables or disables the user; `None` when it is already so. Disabling also ends every access token issued
    /// so far. A PENDING user cannot be enabled: it has not completed its invitation.
    pub fn with_status(
        &self,
        status: UserStatus,
        now: OffsetDateTime,
    ) -> Result<Option<User>, DomainError> {
        if self.status == status {
            return Ok(None);
        }
        let mut next = self.clone();
        match status {
            UserStatus::Enabled if self.status == UserStatus::Pending => {
                return Err(DomainError::invalid_path(
                    "userId",
                    "the user has not completed its invitation and cannot be enabled",
                ))
            }
            UserStatus::Disabled => {
                next.tokens_valid_after = Some(now + time::Duration::seconds(1))
            }
            _ => {}
        }
        next.status = status;
        // Only accepting the invitation sets a first password: a user without one that is enabled again after a
        // disable has still not accepted it, and goes back to waiting for that.
        if status == UserStatus::Enabled && self.password_hash.is_none() {
            next.status = UserStatus::Pending;
        }
        Ok((next != *self).then_some(next))
    }

    /// The user once it has accepted its invitation with a password (already judged strong enough and hashed):
    /// ENABLED. Only a PENDING user can accept.
    pub fn accepted_invitation(&self, password_hash: String) -> Option<User> {
        (self.status == UserStatus::Pending).then(|| User {
            status: UserStatus::Enabled,
            ..self.with_password(password_hash)
        })
    }

    /// The user after a password reset: the new password, no lock-out, and every session and access token issued
    /// before `now` ended.
    pub fn after_password_reset(&self, password_hash: String, now: OffsetDateTime) -> User {
        let reset = self.with_password(password_hash);
        User {
            locked_out: false,
            locked_out_timestamp: None,
            tokens_valid_after: Some(now),
            ..reset
        }
    }

    /// Clears a lock-out; `None` when the user is not locked out.
    pub fn unlocked(&self) -> Option<User> {
        if !self.locked_out && self.failed_password_attempts == 0 {
            return None;
        }
        let mut next = self.clone();
        next.locked_out = false;
        next.locked_out_timestamp = None;
        next.failed_password_attempts = 0;
        Some(next)
    }

    /// Counts a wrong current password; the last allowed failure locks the user out. The lock-out ends every session
    /// and access token issued before `now` (as a reset does), in the same write: an unlock lets the user sign in
    /// again, but what was issued before the lock stays ended.
    pub fn after_failed_password(&self, now: OffsetDateTime) -> User {
        let mut next = self.clone();
        next.failed_password_attempts += 1;
        if next.failed_password_attempts >= super::password::LOCK_AFTER_FAILURES && !self.locked_out
        {
            next.locked_out = true;
            next.locked_out_timestamp = Some(now);
            next.tokens_valid_after =
                Some(self.tokens_valid_after.map_or(now, |after| after.max(now)));
        }
        next
    }

    /// Every previous password the new one must differ from, the current one first.
    pub fn password_hashes(&self) -> Vec<String> {
        self.password_hash
            .iter()
            .chain(self.password_history.iter())
            .cloned()
            .collect()
    }

    /// Sets a new password hash, keeping the history bounded.
    pub fn with_password(&self, new_hash: String) -> User {
        let mut next = self.clone();
        let mut history = self.password_hashes();
        history.truncate(super::password::HISTORY - 1);
        next.password_history = history;
        next.password_hash = Some(new_hash);
        next.failed_password_attempts = 0;
        next
    }

    /// How strong `candidate` would be as this user's new password: zxcvbn, told the user's name and email, and
    /// worthless if it is the current or a recent password. `proven_current` is the current password in clear where
    /// the caller has just proved it against the current hash: it is compared as it is, sparing one argon2id.
    pub fn password_strength(
        &self,
        candidate: &str,
        proven_current: Option<&str>,
    ) -> super::password::Strength {
        let words = self.personal_words();
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let hashes = match proven_current {
            Some(_) => self.password_history.clone(),
            None => self.password_hashes(),
        };
        super::password::assess_new(candidate, &words, proven_current, &hashes)
    }

    /// What `validate-password-self` answers for `candidate`: zxcvbn, told the user's name and email, and worthless
    /// if it is one of the previous passwords. It is never compared with the current password: no proof of it was
    /// given, and an answer that told a match would be a password oracle without attempts or lock-out. Reusing the
    /// current password is refused where it is proven, by `update-password-self`.
    pub fn password_advice(&self, candidate: &str) -> super::password::Strength {
        let words = self.personal_words();
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        super::password::assess_new(candidate, &words, None, &self.password_history)
    }

    /// What zxcvbn should look for in this user's password.
    fn personal_words(&self) -> Vec<String> {
        let mut words = vec![self.email.as_str().to_owned()];
        if let Some((local, _)) = self.email.as_str().split_once('@') {
            words.push(local.to_owned());
        }
        words.extend(self.first_name.iter().map(|n| n.as_str().to_owned()));
        words.extend(self.last_name.iter().map(|n| n.as_str().to_owned()));
        words
    }

    pub fn highest_role(&self) -> Option<Role> {
        self.roles.iter().copied().max_by_key(|role| role.rank())
    }
}

/// A change to a user's details: `None` leaves a field alone, `Some(None)` clears it (where it may be cleared).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DetailsPatch {
    pub email: Option<Option<Email>>,
    pub sms_number: Option<Option<PhoneNumber>>,
    pub primary_contact_number: Option<Option<PhoneNumber>>,
    pub secondary_contact_number: Option<Option<PhoneNumber>>,
    pub first_name: Option<Option<PersonName>>,
    pub last_name: Option<Option<PersonName>>,
    pub mfa_type: Option<Option<MfaType>>,
}

fn required<T>(field: &str, value: Option<T>) -> Result<T, DomainError> {
    value.ok_or_else(|| DomainError::invalid_body(field, "must not be null"))
}

impl User {
    /// The user with `patch` applied; `None` when nothing changes.
    pub fn patched(&self, patch: DetailsPatch) -> Result<Option<User>, DomainError> {
        let mut next = self.clone();
        if let Some(email) = patch.email {
            next.email = required("email", email)?;
        }
        if let Some(sms) = patch.sms_number {
            next.sms_number = required("smsNumber", sms)?;
        }
        if let Some(primary) = patch.primary_contact_number {
            next.primary_contact_number = required("primaryContactNumber", primary)?;
        }
        if let Some(mfa_type) = patch.mfa_type {
            next.mfa_type = required("mfaType", mfa_type)?;
        }
        if let Some(secondary) = patch.secondary_contact_number {
            next.secondary_contact_number = secondary;
        }
        if let Some(first) = patch.first_name {
            next.first_name = first;
        }
        if let Some(last) = patch.last_name {
            next.last_name = last;
        }
        Ok((next != *self).then_some(next))
    }
}

/// Roles must be non-empty, without repeats, and of the user's own type.
pub fn validate_roles(roles: &[Role], user_type: UserType) -> Result<(), DomainError> {
    if roles.is_empty() {
        return Err(DomainError::invalid_body(
            "roles",
            "must contain at least one role",
        ));
    }
    for (index, role) in roles.iter().enumerate() {
        if role.family().user_type() != user_type {
            return Err(DomainError::Invalid(
                FieldError::new(
                    format!("roles[{index}]"),
                    format!("{role} cannot be held by a {} user", user_type.as_str()),
                ),
                super::InputSource::Body,
            ));
        }
        if roles[..index].contains(role) {
            return Err(DomainError::invalid_body(
                format!("roles[{index}]"),
                "is repeated",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invite(
        entity: Option<EntityId>,
        user_type: Option<UserType>,
        roles: Vec<Role>,
    ) -> InviteUser {
        InviteUser {
            email: "a@example.com".parse().unwrap(),
            sms_number: "+4411223344556".parse().unwrap(),
            primary_contact_number: "+4411223344556".parse().unwrap(),
            secondary_contact_number: None,
            first_name: None,
            last_name: None,
            entity_id: entity,
            user_type,
            roles,
            mfa_type: MfaType::Sms,
        }
    }

    #[test]
    fn roles_parse_in_both_spellings_and_print_canonically() {
        assert_eq!("payor.admin".parse::<Role>(), Ok(Role::PayorAdmin));
        assert_eq!("velo.payor.admin".parse::<Role>(), Ok(Role::PayorAdmin));
        assert_eq!(Role::PayorAdmin.to_string(), "velo.payor.admin");
        assert!("velo.root".parse::<Role>().is_err());
        assert!("velo.".parse::<Role>().is_err());
    }

    #[test]
    fn invited_users_start_pending_with_the_right_type() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let entity = EntityId::random();
        let payor = User::invite(invite(Some(entity), None, vec![Role::PayorAdmin]), now).unwrap();
        assert_eq!(payor.user_type, UserType::Payor);
        assert_eq!(payor.status, UserStatus::Pending);
        assert_eq!(payor.mfa_status, MfaStatus::Unregistered);
        let backoffice =
            User::invite(invite(None, None, vec![Role::BackofficeAdmin]), now).unwrap();
        assert_eq!(backoffice.user_type, UserType::Backoffice);
    }

    #[test]
    fn only_accepting_the_invitation_enables_a_pending_user() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let pending = User::invite(invite(None, None, vec![Role::BackofficeAdmin]), now).unwrap();
        assert!(pending.with_status(UserStatus::Enabled, now).is_err());
        let disabled = pending
            .with_status(UserStatus::Disabled, now)
            .unwrap()
            .unwrap();
        let enabled_again = disabled
            .with_status(UserStatus::Enabled, now)
            .unwrap()
            .unwrap();
        assert_eq!(enabled_again.status, UserStatus::Pending);
        let accepted = pending
            .accepted_invitation("$argon2id$hash".into())
            .unwrap();
        assert_eq!(accepted.status, UserStatus::Enabled);
        assert_eq!(accepted.password_hash.as_deref(), Some("$argon2id$hash"));
        assert_eq!(accepted.accepted_invitation("$argon2id$again".into()), None);
        let back = accepted
            .with_status(UserStatus::Disabled, now)
            .unwrap()
            .unwrap()
            .with_status(UserStatus::Enabled, now)
            .unwrap()
            .unwrap();
        assert_eq!(back.status, UserStatus::Enabled);
    }

    #[test]
    fn a_lock_out_ends_sessions_and_tokens_issued_before_it_and_an_unlock_does_not_revive_them() {
        let now = OffsetDateTime::UNIX_EPOCH + time::Duration::days(1);
        let mut user = User::invite(invite(None, None, vec![Role::BackofficeAdmin]), now)
            .unwrap()
            .accepted_invitation("$argon2id$first".into())
            .unwrap();
        for failure in 1..super::super::password::LOCK_AFTER_FAILURES {
            user = user.after_failed_password(now + time::Duration::seconds(i64::from(failure)));
            assert!(!user.locked_out);
            assert_eq!(
                user.tokens_valid_after, None,
                "failure {failure} ends nothing"
            );
        }
        let locked_at = now + time::Duration::minutes(1);
        let locked = user.after_failed_password(locked_at);
        assert!(locked.locked_out);
        assert_eq!(locked.locked_out_timestamp, Some(locked_at));
        assert_eq!(locked.tokens_valid_after, Some(locked_at));
        let again = locked.after_failed_password(locked_at + time::Duration::minutes(1));
        assert_eq!(again.locked_out_timestamp, Some(locked_at), "locked once");
        assert_eq!(again.tokens_valid_after, Some(locked_at));
        let unlocked = again.unlocked().unwrap();
        assert!(!unlocked.locked_out);
        assert_eq!(unlocked.tokens_valid_after, Some(locked_at), "still ended");
        let disabled_later = User {
            tokens_valid_after: Some(locked_at + time::Duration::hours(1)),
            ..user.clone()
        };
        assert_eq!(
            disabled_later
                .after_failed_password(locked_at)
                .tokens_valid_after,
            Some(locked_at + time::Duration::hours(1)),
            "a later end stands"
        );
    }

    #[test]
    fn a_reset_sets_the_password_clears_the_lock_out_and_ends_sessions() {
        let now = OffsetDateTime::UNIX_EPOCH + time::Duration::days(1);
        let mut user = User::invite(invite(None, None, vec![Role::BackofficeAdmin]), now)
            .unwrap()
            .accepted_invitation("$argon2id$first".into())
            .unwrap();
        for _ in 0..super::super::password::LOCK_AFTER_FAILURES {
            user = user.after_failed_password(now);
        }
        assert!(user.locked_out);
        let reset = user.after_password_reset("$argon2id$second".into(), now);
        assert!(!reset.locked_out && reset.locked_out_timestamp.is_none());
        assert_eq!(reset.failed_password_attempts, 0);
        assert_eq!(reset.tokens_valid_after, Some(now));
        assert_eq!(reset.password_hash.as_deref(), Some("$argon2id$second"));
        assert_eq!(reset.password_history, vec!["$argon2id$first".to_owned()]);
    }

    #[test]
    fn invitations_that_break_the_rules_name_the_field() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let location = |result: Result<User, DomainError>| match result {
            Err(DomainError::Invalid(field, _)) => field.location,
            other => panic!("expected a field error, got {other:?}"),
        };
        assert_eq!(
            location(User::invite(
                invite(None, Some(UserType::Payee), vec![Role::PayeeAdmin]),
                now
            )),
            "entityId"
        );
        assert_eq!(
            location(User::invite(
                invite(None, None, vec![Role::PayorAdmin]),
                now
            )),
            "roles[0]"
        );
        assert_eq!(
            location(User::invite(invite(None, None, vec![]), now)),
            "roles"
        );
        assert_eq!(
            location(User::invite(
                invite(
                    Some(EntityId::random()),
                    None,
                    vec![Role::PayorAdmin, Role::PayorAdmin]
                ),
                now
            )),
            "roles[1]"
        );
    }
}
