//! The table's item shapes. The domain never sees these; the adapter converts at the edge.

use serde::{Deserialize, Serialize};

use super::keys::{
    account_pk, api_key_pk, application_sk, device_pk, parse_subject_pk, payor_pk, session_pk,
    sign_in_sk, subject_pk, tenant_key, token_sk, user_pk, widget_pk, EVERYONE, PROFILE,
    SESSION_SK,
};
use crate::domain::apikey::{ApiKey, ApiKeyId, Application, ApplicationId};
use crate::domain::device::DocumentNumber;
use crate::domain::device::{Account, AccountStatus, Approver, ContactType, Device, DeviceStatus};
use crate::domain::otp::{OtpSession, Widget, WidgetChannel};
use crate::domain::signin::SignInSession;
use crate::domain::token::{Channel, LiveToken, TokenPurpose};
use crate::domain::totp::TotpFactor;
use crate::domain::{
    AccountKey, DeviceKey, Email, EntityId, MfaStatus, MfaType, PersonName, PhoneNumber, Role,
    User, UserId, UserStatus, UserType,
};
use time::OffsetDateTime;

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
    /// RFC 3339 to the nanosecond: a session opened just after a password reset is told from one opened just before.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub tokens_valid_after: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub password_history: Vec<String>,
    #[serde(default)]
    pub failed_password_attempts: u32,
    /// Sealed secrets only (AES-256-GCM), never the secret in clear.
    #[serde(default, skip_serializing_if = "is_default")]
    pub totp: TotpFactor,
    pub version: u64,
    /// Listing indexes: by tenant or everyone, sorted by email or by last name.
    pub tenant: String,
    pub everyone: String,
    pub email_sort: String,
    pub last_name_sort: String,
}

fn is_default(totp: &TotpFactor) -> bool {
    *totp == TotpFactor::default()
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
            tokens_valid_after: user.tokens_valid_after,
            password_hash: user.password_hash.clone(),
            password_history: user.password_history.clone(),
            failed_password_attempts: user.failed_password_attempts,
            totp: user.totp.clone(),
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
            tokens_valid_after: item.tokens_valid_after,
            password_hash: item.password_hash,
            password_history: item.password_history,
            failed_password_attempts: item.failed_password_attempts,
            totp: item.totp,
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
    /// The cooldown (seconds) the code was sent under; absent on items written before it was kept (none then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown_secs: Option<i64>,
    /// The keyed binding of the recipient the code went to, never the recipient itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_to: Option<String>,
    pub failed_attempts: u32,
    pub max_attempts: u32,
    pub consumed: bool,
    pub version: u64,
    /// The id of the last check recorded on the code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_check: Option<String>,
    /// DynamoDB TTL: a day after expiry, for clean-up only; expiry itself is checked in code.
    pub ttl: i64,
}

const CLEANUP_GRACE_SECS: i64 = 24 * 3600;

impl TokenItem {
    pub fn from_token(token: &LiveToken) -> TokenItem {
        let expires_at = token.expires_at.unix_timestamp();
        TokenItem {
            pk: subject_pk(&token.subject),
            sk: token_sk(token.purpose),
            purpose: token.purpose,
            digest: token.digest.clone(),
            channel: token.channel,
            issued_at: token.issued_at.unix_timestamp(),
            expires_at,
            last_sent_at: token.last_sent_at.unix_timestamp(),
            cooldown_secs: Some(token.cooldown.whole_seconds()),
            sent_to: token.sent_to.clone(),
            failed_attempts: token.failed_attempts,
            max_attempts: token.max_attempts,
            consumed: token.consumed,
            version: token.version,
            last_check: token.last_check.clone(),
            ttl: expires_at + CLEANUP_GRACE_SECS,
        }
    }

    pub fn into_token(self) -> Option<LiveToken> {
        let at = |secs| OffsetDateTime::from_unix_timestamp(secs).ok();
        Some(LiveToken {
            subject: parse_subject_pk(&self.pk)?,
            purpose: self.purpose,
            digest: self.digest,
            channel: self.channel,
            issued_at: at(self.issued_at)?,
            expires_at: at(self.expires_at)?,
            last_sent_at: at(self.last_sent_at)?,
            cooldown: time::Duration::seconds(self.cooldown_secs.unwrap_or(0)),
            sent_to: self.sent_to,
            failed_attempts: self.failed_attempts,
            max_attempts: self.max_attempts,
            consumed: self.consumed,
            version: self.version,
            last_check: self.last_check,
        })
    }
}

/// One channel of a widget or session, in priority order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelItem {
    #[serde(rename = "type")]
    pub channel: Channel,
    pub label: String,
}

impl From<&WidgetChannel> for ChannelItem {
    fn from(channel: &WidgetChannel) -> Self {
        ChannelItem {
            channel: channel.channel,
            label: channel.label.clone(),
        }
    }
}

impl From<ChannelItem> for WidgetChannel {
    fn from(item: ChannelItem) -> Self {
        WidgetChannel {
            channel: item.channel,
            label: item.label,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WidgetItem {
    pub pk: String,
    pub sk: String,
    pub widget_id: String,
    pub name: String,
    pub channels: Vec<ChannelItem>,
    pub created_at: i64,
    /// Absent on widgets stored before it was kept: not blocked.
    #[serde(default)]
    pub is_blocked: bool,
    /// Absent on widgets stored before it was kept: active.
    #[serde(default = "active_by_default")]
    pub is_active: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<UserId>,
}

fn active_by_default() -> bool {
    true
}

impl WidgetItem {
    pub fn new(widget: &Widget, now: OffsetDateTime) -> WidgetItem {
        WidgetItem {
            pk: widget_pk(&widget.id),
            sk: PROFILE.into(),
            widget_id: widget.id.clone(),
            name: widget.name.clone(),
            channels: widget.channels.iter().map(ChannelItem::from).collect(),
            created_at: now.unix_timestamp(),
            is_blocked: widget.blocked,
            is_active: widget.active,
            owner_id: widget.owner_id,
        }
    }
}

impl From<WidgetItem> for Widget {
    fn from(item: WidgetItem) -> Self {
        Widget {
            id: item.widget_id,
            name: item.name,
            channels: item.channels.into_iter().map(WidgetChannel::from).collect(),
            blocked: item.is_blocked,
            active: item.is_active,
            owner_id: item.owner_id,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionItem {
    pub pk: String,
    pub sk: String,
    pub request_id: String,
    pub widget_id: String,
    pub owner_id: String,
    /// Kept in clear: a resend must reach it and the final check compares it. The item expires with `ttl`.
    pub recipient: String,
    pub channels: Vec<ChannelItem>,
    pub locale: String,
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<i64>,
    /// The last answer the channel's long poll gave (`OtpSession::channel_seen`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_seen: Option<String>,
    pub ttl: i64,
}

impl From<&OtpSession> for SessionItem {
    fn from(session: &OtpSession) -> Self {
        SessionItem {
            pk: session_pk(&session.request_id),
            sk: SESSION_SK.into(),
            request_id: session.request_id.clone(),
            widget_id: session.widget_id.clone(),
            owner_id: session.owner_id.clone(),
            recipient: session.recipient.clone(),
            channels: session.channels.iter().map(ChannelItem::from).collect(),
            locale: session.locale.clone(),
            created_at: session.created_at.unix_timestamp(),
            closed_at: session.closed_at.map(OffsetDateTime::unix_timestamp),
            channel_seen: session.channel_seen.clone(),
            ttl: session.retained_until.unix_timestamp(),
        }
    }
}

impl SessionItem {
    pub fn into_session(self) -> Option<OtpSession> {
        let at = |secs| OffsetDateTime::from_unix_timestamp(secs).ok();
        Some(OtpSession {
            request_id: self.request_id,
            widget_id: self.widget_id,
            owner_id: self.owner_id,
            recipient: self.recipient,
            channels: self.channels.into_iter().map(WidgetChannel::from).collect(),
            locale: self.locale,
            created_at: at(self.created_at)?,
            closed_at: match self.closed_at {
                Some(secs) => Some(at(secs)?),
                None => None,
            },
            channel_seen: self.channel_seen,
            retained_until: at(self.ttl)?,
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceItem {
    pub pk: String,
    pub sk: String,
    pub account_key: AccountKey,
    pub device_key: DeviceKey,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    pub device_status: DeviceStatus,
    pub approver_document_number: DocumentNumber,
    pub contact_type: ContactType,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(default)]
    pub failed_attempts: u32,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub activated_at: Option<OffsetDateTime>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub disabled_at: Option<OffsetDateTime>,
    pub version: u64,
}

impl From<&Device> for DeviceItem {
    fn from(device: &Device) -> Self {
        DeviceItem {
            pk: device_pk(&device.account_key, &device.device_key),
            sk: PROFILE.into(),
            account_key: device.account_key,
            device_key: device.device_key,
            session_id: device.session_id.clone(),
            device_status: device.status,
            approver_document_number: device.approver_document_number.clone(),
            contact_type: device.contact_type,
            created_at: device.created_at,
            updated_at: device.updated_at,
            failed_attempts: device.failed_attempts,
            activated_at: device.activated_at,
            disabled_at: device.disabled_at,
            version: device.version,
        }
    }
}

impl From<DeviceItem> for Device {
    fn from(item: DeviceItem) -> Self {
        Device {
            account_key: item.account_key,
            device_key: item.device_key,
            session_id: item.session_id,
            status: item.device_status,
            approver_document_number: item.approver_document_number,
            contact_type: item.contact_type,
            created_at: item.created_at,
            updated_at: item.updated_at,
            failed_attempts: item.failed_attempts,
            activated_at: item.activated_at,
            disabled_at: item.disabled_at,
            version: item.version,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountItem {
    pub pk: String,
    pub sk: String,
    pub account_key: AccountKey,
    pub account_status: AccountStatus,
    pub approvers: Vec<Approver>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<&Account> for AccountItem {
    fn from(account: &Account) -> Self {
        AccountItem {
            pk: account_pk(&account.account_key),
            sk: PROFILE.into(),
            account_key: account.account_key,
            account_status: account.status,
            approvers: account.approvers.clone(),
            created_at: account.created_at,
        }
    }
}

impl From<AccountItem> for Account {
    fn from(item: AccountItem) -> Self {
        Account {
            account_key: item.account_key,
            status: item.account_status,
            approvers: item.approvers,
            created_at: item.created_at,
        }
    }
}

/// A signed-in session (`domain::signin::SignInSession`); `ttl` lets DynamoDB remove it once it has expired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignInItem {
    pub pk: String,
    pub sk: String,
    pub user_id: UserId,
    pub session_id: String,
    pub refresh_digest: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub used_refresh_digests: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub ttl: i64,
    #[serde(default)]
    pub revoked: bool,
    pub version: u64,
}

impl From<&SignInSession> for SignInItem {
    fn from(session: &SignInSession) -> Self {
        SignInItem {
            pk: user_pk(&session.user_id),
            sk: sign_in_sk(&session.session_id),
            user_id: session.user_id,
            session_id: session.session_id.to_string(),
            refresh_digest: session.refresh_digest.clone(),
            used_refresh_digests: session.used_refresh_digests.clone(),
            created_at: session.created_at,
            ttl: session.expires_at.unix_timestamp(),
            revoked: session.revoked,
            version: session.version,
        }
    }
}

impl SignInItem {
    /// The session; `None` when a stored field does not parse.
    pub fn into_session(self) -> Option<SignInSession> {
        Some(SignInSession {
            user_id: self.user_id,
            session_id: self.session_id.parse().ok()?,
            refresh_digest: self.refresh_digest,
            used_refresh_digests: self.used_refresh_digests,
            created_at: self.created_at,
            expires_at: OffsetDateTime::from_unix_timestamp(self.ttl).ok()?,
            revoked: self.revoked,
            version: self.version,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationItem {
    pub pk: String,
    pub sk: String,
    pub payor_id: EntityId,
    pub application_id: ApplicationId,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub created_at: i64,
}

impl From<&Application> for ApplicationItem {
    fn from(application: &Application) -> Self {
        ApplicationItem {
            pk: payor_pk(&application.payor_id),
            sk: application_sk(&application.application_id),
            payor_id: application.payor_id,
            application_id: application.application_id,
            name: application.name.clone(),
            description: application.description.clone(),
            created_at: application.created_at.unix_timestamp(),
        }
    }
}

impl ApplicationItem {
    pub fn into_application(self) -> Option<Application> {
        Some(Application {
            payor_id: self.payor_id,
            application_id: self.application_id,
            name: self.name,
            description: self.description,
            created_at: OffsetDateTime::from_unix_timestamp(self.created_at).ok()?,
        })
    }
}

/// Claims an application's name within its payor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NameGuardItem {
    pub pk: String,
    pub sk: String,
    pub application_id: ApplicationId,
}

/// An API key: the secret's keyed hash, never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyItem {
    pub pk: String,
    pub sk: String,
    pub api_key: ApiKeyId,
    pub payor_id: EntityId,
    pub application_id: ApplicationId,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub role: Role,
    pub secret_digest: String,
    pub created_at: i64,
}

impl From<&ApiKey> for ApiKeyItem {
    fn from(key: &ApiKey) -> Self {
        ApiKeyItem {
            pk: api_key_pk(&key.key_id),
            sk: PROFILE.into(),
            api_key: key.key_id,
            payor_id: key.payor_id,
            application_id: key.application_id,
            name: key.name.clone(),
            description: key.description.clone(),
            role: key.role,
            secret_digest: key.secret_digest.clone(),
            created_at: key.created_at.unix_timestamp(),
        }
    }
}

impl ApiKeyItem {
    pub fn into_api_key(self) -> Option<ApiKey> {
        Some(ApiKey {
            key_id: self.api_key,
            payor_id: self.payor_id,
            application_id: self.application_id,
            name: self.name,
            description: self.description,
            role: self.role,
            secret_digest: self.secret_digest,
            created_at: OffsetDateTime::from_unix_timestamp(self.created_at).ok()?,
        })
    }
}
