//! The table's key scheme, formatted and parsed here and nowhere else. One table, `pk` and `sk`:
//!
//! | item | `pk` | `sk` |
//! |---|---|---|
//! | user | `USER#<userId>` | `PROFILE` |
//! | signed-in session | `USER#<userId>` | `SIGNIN#<sessionId>` |
//! | payor application | `PAYOR#<payorId>` | `APP#<applicationId>` |
//! | application name guard | `PAYOR#<payorId>` | `APPNAME#<lower-case name>` |
//! | API key | `APIKEY#<apiKey>` | `PROFILE` |
//! | email guard | `EMAIL#<lower-case email>` | `GUARD` |
//! | a subject's token | the subject's partition | `TOKEN#<PURPOSE>` |
//! | send quota (recipient, SMS caller, tenant, service) | `QUOTA#<keyed hash>` | `WINDOW#<window>` |
//! | QI account | `ACCOUNT#<accountKey>` | `PROFILE` |
//! | QI device | `DEVICE#<accountKey>#<deviceKey>` | `PROFILE` |
//! | Sigma widget | `WIDGET#<widgetId>` | `PROFILE` |
//! | Sigma session | `OTP#<requestId>` | `SESSION` |
//! | Sigma start counter | `OTP_START#<recipient hash>` | `MINUTE#<minute>` |
//! | one-time claim | `ONCE#<name>` | `CLAIM` |
//!
//! A token shares its subject's partition (a user's, a device's, a session's), so one `BatchGetItem` reads both.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::domain::apikey::{ApiKeyId, ApplicationId};
use crate::domain::signin::SessionId;
use crate::domain::token::{Subject, TokenPurpose};
use crate::domain::{AccountKey, DeviceKey, Email, EntityId, UserId};

pub const PROFILE: &str = "PROFILE";
pub const CLAIM: &str = "CLAIM";

/// The item that records a one-time claim, such as the first admin's invitation.
pub fn once_pk(name: &str) -> String {
    format!("ONCE#{name}")
}
pub const GUARD: &str = "GUARD";
pub const SESSION_SK: &str = "SESSION";
const TOKEN_PREFIX: &str = "TOKEN#";

pub fn user_pk(id: &UserId) -> String {
    format!("USER#{id}")
}

/// A signed-in session lives in its user's partition: the authorizer reads both in one `BatchGetItem`.
pub fn sign_in_sk(session: &SessionId) -> String {
    format!("SIGNIN#{session}")
}

pub fn payor_pk(payor: &EntityId) -> String {
    format!("PAYOR#{payor}")
}

pub fn application_sk(application: &ApplicationId) -> String {
    format!("APP#{application}")
}

pub fn application_name_sk(name_key: &str) -> String {
    format!("APPNAME#{name_key}")
}

pub fn api_key_pk(key: &ApiKeyId) -> String {
    format!("APIKEY#{key}")
}

pub fn email_guard_pk(email: &Email) -> String {
    format!("EMAIL#{}", email.key())
}

pub fn token_sk(purpose: TokenPurpose) -> String {
    format!("{TOKEN_PREFIX}{}", purpose.as_str())
}

pub fn account_pk(account: &AccountKey) -> String {
    format!("ACCOUNT#{account}")
}

/// The device's partition: its item (`PROFILE`) and its approval token.
pub fn device_pk(account: &AccountKey, device: &DeviceKey) -> String {
    format!("DEVICE#{account}#{device}")
}

pub fn widget_pk(widget_id: &str) -> String {
    format!("WIDGET#{widget_id}")
}

/// The session and its code share this partition: `SESSION` and `TOKEN#OTP_SESSION`.
pub fn session_pk(request_id: &str) -> String {
    format!("OTP#{request_id}")
}

/// The partition of a subject, where its tokens live.
pub fn subject_pk(subject: &Subject) -> String {
    match subject {
        Subject::User(id) => user_pk(id),
        Subject::Device(account, device) => device_pk(account, device),
        Subject::OtpSession(request_id) => session_pk(request_id),
    }
}

/// The subject whose partition `pk` is, if it is one.
pub fn parse_subject_pk(pk: &str) -> Option<Subject> {
    match parse_token_owner(pk)? {
        TokenOwner::User(id) => id.parse().ok().map(Subject::User),
        TokenOwner::Device(account, device) => {
            Some(Subject::Device(account.parse().ok()?, device.parse().ok()?))
        }
        TokenOwner::OtpSession(request_id) => Some(Subject::OtpSession(request_id.to_owned())),
    }
}

/// The send counter of one quota key (a keyed hash of a recipient, a caller, a tenant or the service, never the
/// value) in one fixed quota window.
pub fn quota_pk(quota_key: &str) -> String {
    format!("QUOTA#{quota_key}")
}

pub fn quota_sk(window: i64) -> String {
    format!("WINDOW#{window}")
}

pub fn start_counter_pk(recipient_key: &str) -> String {
    format!("OTP_START#{recipient_key}")
}

pub fn start_counter_sk(minute: i64) -> String {
    format!("MINUTE#{minute}")
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

/// The key attributes of one item.
pub fn key(pk: String, sk: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(pk)),
        ("sk".to_owned(), AttributeValue::S(sk.to_owned())),
    ])
}

/// The key of `subject`'s token item for `purpose`.
pub fn token_key(subject: &Subject, purpose: TokenPurpose) -> HashMap<String, AttributeValue> {
    key(subject_pk(subject), &token_sk(purpose))
}

/// Whose partition a token item is in, as the key spells it (not yet parsed into ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenOwner<'a> {
    User(&'a str),
    Device(&'a str, &'a str),
    OtpSession(&'a str),
}

/// What kind of item a key names. Only the items that have domain events are told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKey<'a> {
    User(&'a str),
    Token(TokenOwner<'a>),
    Device,
    Session(&'a str),
    /// Email guards, quotas, counters, widgets, accounts.
    Other,
}

fn parse_token_owner(pk: &str) -> Option<TokenOwner<'_>> {
    if let Some(user) = pk.strip_prefix("USER#") {
        Some(TokenOwner::User(user))
    } else if let Some(request) = pk.strip_prefix("OTP#") {
        Some(TokenOwner::OtpSession(request))
    } else {
        let (account, device) = pk.strip_prefix("DEVICE#")?.split_once('#')?;
        Some(TokenOwner::Device(account, device))
    }
}

/// Parses an item's key (for example, a stream record's `Keys`).
pub fn parse<'a>(pk: &'a str, sk: &str) -> ItemKey<'a> {
    if sk.starts_with(TOKEN_PREFIX) {
        return parse_token_owner(pk).map_or(ItemKey::Other, ItemKey::Token);
    }
    match (pk.split_once('#'), sk) {
        (Some(("USER", id)), PROFILE) => ItemKey::User(id),
        (Some(("DEVICE", _)), PROFILE) => ItemKey::Device,
        (Some(("OTP", id)), SESSION_SK) => ItemKey::Session(id),
        _ => ItemKey::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subject_partition_parses_back_to_its_subject() {
        let subjects = [
            Subject::User(UserId::random()),
            Subject::Device(AccountKey::random(), DeviceKey::random()),
            Subject::OtpSession(uuid::Uuid::new_v4().to_string()),
        ];
        for subject in subjects {
            let pk = subject_pk(&subject);
            assert_eq!(parse_subject_pk(&pk), Some(subject.clone()), "{pk}");
            let sk = token_sk(TokenPurpose::OtpSession);
            assert!(matches!(parse(&pk, &sk), ItemKey::Token(_)), "{pk}");
        }
        assert_eq!(parse_subject_pk("EMAIL#a@b.c"), None);
    }

    #[test]
    fn keys_name_their_items() {
        let user = UserId::random();
        assert_eq!(
            parse(&user_pk(&user), PROFILE),
            ItemKey::User(&user.to_string())
        );
        let device = device_pk(&AccountKey::random(), &DeviceKey::random());
        assert_eq!(parse(&device, PROFILE), ItemKey::Device);
        assert_eq!(parse(&session_pk("r"), SESSION_SK), ItemKey::Session("r"));
        assert_eq!(
            parse(&device, &token_sk(TokenPurpose::DeviceApproval)),
            ItemKey::Token(TokenOwner::Device(
                device.split('#').nth(1).unwrap_or_default(),
                device.split('#').nth(2).unwrap_or_default()
            ))
        );
        for (pk, sk) in [
            (email_guard_pk(&"a@b.c".parse().unwrap()), GUARD.to_owned()),
            (quota_pk("h"), quota_sk(1)),
            (widget_pk("w"), PROFILE.to_owned()),
            (account_pk(&AccountKey::random()), PROFILE.to_owned()),
            (start_counter_pk("h"), start_counter_sk(1)),
            (user_pk(&user), sign_in_sk(&SessionId::random())),
            (
                payor_pk(&EntityId::random()),
                application_sk(&ApplicationId::random()),
            ),
            (payor_pk(&EntityId::random()), application_name_sk("sap")),
            (api_key_pk(&ApiKeyId::random()), PROFILE.to_owned()),
        ] {
            assert_eq!(parse(&pk, &sk), ItemKey::Other, "{pk} {sk}");
        }
    }
}
