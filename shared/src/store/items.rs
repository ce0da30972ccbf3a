//! The table's item shapes. The domain never sees these; `store` converts at the edge.

use serde::{Deserialize, Serialize};

use crate::domain::token::{Channel, LiveToken, TokenPurpose};
use crate::domain::{
    Email, EntityId, MfaStatus, MfaType, PersonName, PhoneNumber, Role, User, UserId, UserStatus,
    UserType,
};
use time::OffsetDateTime;

pub const PROFILE: &str = "PROFILE";
pub const GUARD: &str = "GUARD";

pub fn user_pk(id: &UserId) -> String {
    format!("USER#{id}")
}

pub fn email_guard_pk(email: &Email) -> String {
    format!("EMAIL#{}", email.key())
}

pub fn token_sk(purpose: TokenPurpose) -> String {
    format!("TOKEN#{}", purpose.as_str())
}

/// The users-by-tenant index partition: one per entity, one for backoffice users.
pub fn tenant_key(entity_id: Option<&EntityId>) -> String {
    match entity_id {
        Some(entity) => format!("ENTITY#{entity}"),
        None => "BACKOFFICE".to_owned(),
    }
}

/// The partition of the every-user indexes.
pub const EVERYONE: &str = "USER";

pub const INDEX_TENANT_BY_EMAIL: &str = "tenantByEmail";
pub const INDEX_TENANT_BY_LAST_NAME: &str = "tenantByLastName";
pub const INDEX_ALL_BY_EMAIL: &str = "allByEmail";
pub const INDEX_ALL_BY_LAST_NAME: &str = "allByLastName";

fn email_sort(user: &User) -> String {
    format!("{}#{}", user.email.key(), user.id)
}

fn last_name_sort(user: &User) -> String {
    let last = user
        .last_name
        .as_ref()
        .map(|n| n.as_str().to_lowercase())
        .unwrap_or_default();
    format!("{last}#{}#{}", user.email.key(), user.id)
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserItem {
    pub pk: String,
    pub sk: String,
    pub id: UserId,
    pub email: Email,
    pub email_key: String,
    pub sms_number: PhoneNumber,
    pub primary_contact_number: PhoneNumber,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secondary_contact_number: Option<PhoneNumber>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<PersonName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<PersonName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_id: Option<EntityId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    pub roles: Vec<Role>,
    pub user_type: UserType,
    pub status: UserStatus,
    pub mfa_type: MfaType,
    pub mfa_status: MfaStatus,
    pub locked_out: bool,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub locked_out_timestamp: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_valid_after: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub password_history: Vec<String>,
    #[serde(default)]
    pub failed_password_attempts: u32,
    pub version: u64,
    /// Listing indexes: by tenant or everyone, sorted by email or by last name.
    pub tenant: String,
    pub everyone: String,
    pub email_sort: String,
    pub last_name_sort: String,
}

impl From<&User> for UserItem {
    fn from(user: &User) -> Self {
        UserItem {
            pk: user_pk(&user.id),
            sk: PROFILE.into(),
            id: user.id,
            email: user.email.clone(),
            email_key: user.email.key(),
            sms_number: user.sms_number.clone(),
            primary_contact_number: user.primary_contact_number.clone(),
            secondary_contact_number: user.secondary_contact_number.clone(),
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            entity_id: user.entity_id,
            company_name: user.company_name.clone(),
            roles: user.roles.clone(),
            user_type: user.user_type,
            status: user.status,
            mfa_type: user.mfa_type,
            mfa_status: user.mfa_status,
            locked_out: user.locked_out,
            locked_out_timestamp: user.locked_out_timestamp,
            created_at: user.created_at,
            tokens_valid_after: user.tokens_valid_after.map(OffsetDateTime::unix_timestamp),
            password_hash: user.password_hash.clone(),
            password_history: user.password_history.clone(),
            failed_password_attempts: user.failed_password_attempts,
            version: user.version,
            tenant: tenant_key(user.entity_id.as_ref()),
            everyone: EVERYONE.to_owned(),
            email_sort: email_sort(user),
            last_name_sort: last_name_sort(user),
        }
    }
}

impl From<UserItem> for User {
    fn from(item: UserItem) -> Self {
        User {
            id: item.id,
            email: item.email,
            sms_number: item.sms_number,
            primary_contact_number: item.primary_contact_number,
            secondary_contact_number: item.secondary_contact_number,
            first_name: item.first_name,
            last_name: item.last_name,
            entity_id: item.entity_id,
            company_name: item.company_name,
            roles: item.roles,
            user_type: item.user_type,
            status: item.status,
            mfa_type: item.mfa_type,
            mfa_status: item.mfa_status,
            locked_out: item.locked_out,
            locked_out_timestamp: item.locked_out_timestamp,
            created_at: item.created_at,
            tokens_valid_after: item
                .tokens_valid_after
                .and_then(|secs| OffsetDateTime::from_unix_timestamp(secs).ok()),
            password_hash: item.password_hash,
            password_history: item.password_history,
            failed_password_attempts: item.failed_password_attempts,
            version: item.version,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmailGuardItem {
    pub pk: String,
    pub sk: String,
    pub user_id: UserId,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenItem {
    pub pk: String,
    pub sk: String,
    pub purpose: TokenPurpose,
    pub digest: String,
    pub channel: Channel,
    pub issued_at: i64,
    pub expires_at: i64,
    pub last_sent_at: i64,
    pub failed_attempts: u32,
    pub max_attempts: u32,
    pub consumed: bool,
    pub version: u64,
    /// DynamoDB TTL: a day after expiry, for clean-up only; expiry itself is checked in code.
    pub ttl: i64,
}

const CLEANUP_GRACE_SECS: i64 = 24 * 3600;

impl TokenItem {
    pub fn from_token(token: &LiveToken) -> TokenItem {
        let expires_at = token.expires_at.unix_timestamp();
        TokenItem {
            pk: token.subject.clone(),
            sk: token_sk(token.purpose),
            purpose: token.purpose,
            digest: token.digest.clone(),
            channel: token.channel,
            issued_at: token.issued_at.unix_timestamp(),
            expires_at,
            last_sent_at: token.last_sent_at.unix_timestamp(),
            failed_attempts: token.failed_attempts,
            max_attempts: token.max_attempts,
            consumed: token.consumed,
            version: token.version,
            ttl: expires_at + CLEANUP_GRACE_SECS,
        }
    }

    pub fn into_token(self) -> Option<LiveToken> {
        let at = |secs| OffsetDateTime::from_unix_timestamp(secs).ok();
        Some(LiveToken {
            subject: self.pk,
            purpose: self.purpose,
            digest: self.digest,
            channel: self.channel,
            issued_at: at(self.issued_at)?,
            expires_at: at(self.expires_at)?,
            last_sent_at: at(self.last_sent_at)?,
            failed_attempts: self.failed_attempts,
            max_attempts: self.max_attempts,
            consumed: self.consumed,
            version: self.version,
        })
    }
}

/// The send counter of one recipient in one fixed quota window. The key holds a keyed hash of the recipient, never
/// the address itself.
pub fn quota_pk(recipient_key: &str) -> String {
    format!("QUOTA#{recipient_key}")
}

pub fn quota_sk(window: i64) -> String {
    format!("WINDOW#{window}")
}
