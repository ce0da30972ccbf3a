//! The outbound pipeline: domain events derived from the table's stream (NEW_AND_OLD_IMAGES), published to an SNS
//! topic by `publish-events`.
//!
//! An event says what happened to a user, a code, a QI device or a Sigma session, never with a code, a token, a
//! digest, a password hash, an email address or a phone number. Its `eventId` is the stream record's `eventID` and
//! the event type, so a replayed record yields the same events with the same ids (README: "Event-driven
//! pipelines").

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use time::OffsetDateTime;

use crate::adapters::dynamodb::items::ChannelItem;
use crate::adapters::dynamodb::keys::{self as item_keys, ItemKey, TokenOwner};
use crate::domain::device::{ContactType, DeviceStatus};
use crate::domain::token::{Channel, TokenPurpose};
use crate::domain::{EntityId, MfaStatus, MfaType, Role, UserStatus, UserType};
use crate::doors::velo::wire::timestamp;

/// The version of every event's schema; a change that is not purely additive raises it.
pub const SCHEMA_VERSION: u32 = 1;
pub const SOURCE: &str = "user-token-service";

/// What an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Subject {
    User {
        user_id: String,
    },
    OtpSession {
        request_id: String,
    },
    Device {
        account_key: String,
        device_key: String,
    },
}

impl Subject {
    /// One stable key per subject: the FIFO message group, so one subject's events stay in order.
    pub fn key(&self) -> String {
        match self {
            Subject::User { user_id } => format!("user:{user_id}"),
            Subject::OtpSession { request_id } => format!("otpSession:{request_id}"),
            Subject::Device {
                account_key,
                device_key,
            } => format!("device:{account_key}:{device_key}"),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Subject::User { .. } => "user",
            Subject::OtpSession { .. } => "otpSession",
            Subject::Device { .. } => "device",
        }
    }
}

/// A code's facts, never the code or its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenFacts {
    pub purpose: TokenPurpose,
    pub channel: Channel,
    pub expires_at: String,
    pub remaining_attempts: u32,
}

/// Every event type, with its `data`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "eventType", content = "data", rename_all_fields = "camelCase")]
pub enum DomainEvent {
    UserInvited {
        user_type: UserType,
        entity_id: Option<EntityId>,
        roles: Vec<Role>,
        mfa_type: MfaType,
    },
    UserCreated {
        user_type: UserType,
        entity_id: Option<EntityId>,
        roles: Vec<Role>,
        status: UserStatus,
    },
    UserEnabled {
        previous_status: UserStatus,
    },
    UserDisabled {
        previous_status: UserStatus,
    },
    UserDeleted {
        user_type: UserType,
        entity_id: Option<EntityId>,
    },
    RolesChanged {
        previous_roles: Vec<Role>,
        roles: Vec<Role>,
    },
    UserDetailsChanged {
        changed_fields: Vec<&'static str>,
    },
    MfaUnregistered {
        mfa_type: MfaType,
    },
    /// A PENDING user accepted its invitation and set its first password (it is also `UserEnabled`).
    InvitationAccepted {},
    /// A second factor was registered.
    MfaRegistered {
        mfa_type: MfaType,
    },
    PasswordChanged {},
    /// A password set with a reset link: every session of the user ended with it.
    PasswordReset {},
    UserLockedOut {},
    UserUnlocked {},
    TokenIssued(TokenFacts),
    TokenResent(TokenFacts),
    TokenVerified(TokenFacts),
    TokenVerificationFailed(TokenFacts),
    TokenRemoved {
        purpose: TokenPurpose,
        reason: TokenRemovalReason,
    },
    DeviceCreated {
        device_status: DeviceStatus,
        contact_type: ContactType,
    },
    DeviceApproved {},
    DeviceDisabled {
        previous_status: DeviceStatus,
    },
    DeviceRemoved {},
    OtpSessionStarted {
        widget_id: String,
        channels: Vec<Channel>,
        locale: String,
    },
    OtpConfirmed {},
    OtpSessionClosed {},
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenRemovalReason {
    /// DynamoDB's TTL clean-up removed it.
    Expired,
    /// A write removed it (a user's deletion, or an undone send).
    Removed,
}

impl DomainEvent {
    pub fn event_type(&self) -> &'static str {
        match self {
            DomainEvent::UserInvited { .. } => "UserInvited",
            DomainEvent::UserCreated { .. } => "UserCreated",
            DomainEvent::UserEnabled { .. } => "UserEnabled",
            DomainEvent::UserDisabled { .. } => "UserDisabled",
            DomainEvent::UserDeleted { .. } => "UserDeleted",
            DomainEvent::RolesChanged { .. } => "RolesChanged",
            DomainEvent::UserDetailsChanged { .. } => "UserDetailsChanged",
            DomainEvent::MfaUnregistered { .. } => "MfaUnregistered",
            DomainEvent::InvitationAccepted {} => "InvitationAccepted",
            DomainEvent::MfaRegistered { .. } => "MfaRegistered",
            DomainEvent::PasswordChanged {} => "PasswordChanged",
            DomainEvent::PasswordReset {} => "PasswordReset",
            DomainEvent::UserLockedOut {} => "UserLockedOut",
            DomainEvent::UserUnlocked {} => "UserUnlocked",
            DomainEvent::TokenIssued(_) => "TokenIssued",
            DomainEvent::TokenResent(_) => "TokenResent",
            DomainEvent::TokenVerified(_) => "TokenVerified",
            DomainEvent::TokenVerificationFailed(_) => "TokenVerificationFailed",
            DomainEvent::TokenRemoved { .. } => "TokenRemoved",
            DomainEvent::DeviceCreated { .. } => "DeviceCreated",
            DomainEvent::DeviceApproved {} => "DeviceApproved",
            DomainEvent::DeviceDisabled { .. } => "DeviceDisabled",
            DomainEvent::DeviceRemoved {} => "DeviceRemoved",
            DomainEvent::OtpSessionStarted { .. } => "OtpSessionStarted",
            DomainEvent::OtpConfirmed {} => "OtpConfirmed",
            DomainEvent::OtpSessionClosed {} => "OtpSessionClosed",
        }
    }
}

/// One published message: the envelope every event shares, and the event's own `eventType` and `data`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    pub event_id: String,
    pub schema_version: u32,
    pub source: &'static str,
    pub occurred_at: String,
    pub subject: Subject,
    #[serde(flatten)]
    pub event: DomainEvent,
    pub stream_sequence_number: String,
}

/// A stream record that cannot be read as any item this service writes.
#[derive(Debug, thiserror::Error)]
#[error("stream record {event_id}: {reason}")]
pub struct UndecodableRecord {
    pub event_id: String,
    pub reason: String,
}

#[derive(Deserialize)]
struct Keys {
    pk: String,
    sk: String,
}

// Only what the events need; the images hold more (contact data, hashes), which is never read into these.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserImage {
    status: UserStatus,
    roles: Vec<Role>,
    user_type: UserType,
    #[serde(default)]
    entity_id: Option<EntityId>,
    mfa_type: MfaType,
    mfa_status: MfaStatus,
    #[serde(default)]
    locked_out: bool,
    #[serde(flatten)]
    details: UserDetails,
    #[serde(default)]
    password_hash: Option<String>,
    #[serde(default)]
    tokens_valid_after: Option<String>,
}

/// The fields whose change is a UserDetailsChanged (by name only).
#[derive(Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
struct UserDetails {
    email: String,
    sms_number: String,
    primary_contact_number: String,
    #[serde(default)]
    secondary_contact_number: Option<String>,
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
}

impl UserDetails {
    fn changed(&self, next: &UserDetails) -> Vec<&'static str> {
        [
            ("email", self.email != next.email),
            ("smsNumber", self.sms_number != next.sms_number),
            (
                "primaryContactNumber",
                self.primary_contact_number != next.primary_contact_number,
            ),
            (
                "secondaryContactNumber",
                self.secondary_contact_number != next.secondary_contact_number,
            ),
            ("firstName", self.first_name != next.first_name),
            ("lastName", self.last_name != next.last_name),
        ]
        .into_iter()
        .filter_map(|(name, changed)| changed.then_some(name))
        .collect()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenImage {
    purpose: TokenPurpose,
    channel: Channel,
    /// Only compared, to tell a new code from the same one; never published.
    digest: String,
    expires_at: i64,
    failed_attempts: u32,
    max_attempts: u32,
    consumed: bool,
}

impl TokenImage {
    fn facts(&self) -> TokenFacts {
        TokenFacts {
            purpose: self.purpose,
            channel: self.channel,
            expires_at: OffsetDateTime::from_unix_timestamp(self.expires_at)
                .map(timestamp)
                .unwrap_or_default(),
            remaining_attempts: self.max_attempts.saturating_sub(self.failed_attempts),
        }
    }

    /// A new code replaced the one before (a resend, or an undone send putting the previous one back). Times are
    /// whole seconds and a resend may come within the same second, so the digest tells.
    fn replaced(&self, next: &TokenImage) -> bool {
        self.digest != next.digest
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeviceImage {
    account_key: String,
    device_key: String,
    device_status: DeviceStatus,
    contact_type: ContactType,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionImage {
    widget_id: String,
    channels: Vec<ChannelItem>,
    locale: String,
    #[serde(default)]
    closed_at: Option<i64>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Change {
    Insert,
    Modify,
    Remove,
}

/// The items that have events; every other item (email guards, quotas, counters, widgets, accounts) has none.
enum ItemKind {
    User(String),
    Token(Subject),
    Device,
    Session(String),
}

fn kind_of(keys: &Keys) -> Option<ItemKind> {
    match item_keys::parse(&keys.pk, &keys.sk) {
        ItemKey::Token(owner) => Some(ItemKind::Token(match owner {
            TokenOwner::User(user) => Subject::User {
                user_id: user.to_owned(),
            },
            TokenOwner::OtpSession(request) => Subject::OtpSession {
                request_id: request.to_owned(),
            },
            TokenOwner::Device(account, device) => Subject::Device {
                account_key: account.to_owned(),
                device_key: device.to_owned(),
            },
        })),
        ItemKey::User(id) => Some(ItemKind::User(id.to_owned())),
        ItemKey::Device => Some(ItemKind::Device),
        ItemKey::Session(id) => Some(ItemKind::Session(id.to_owned())),
        ItemKey::Other => None,
    }
}

struct Images<'a> {
    record: &'a EventRecord,
}

impl Images<'_> {
    fn decode<T: for<'de> Deserialize<'de>>(
        &self,
        image: &serde_dynamo::Item,
        which: &str,
    ) -> Result<T, UndecodableRecord> {
        serde_dynamo::from_item(image.clone()).map_err(|error| UndecodableRecord {
            event_id: self.record.event_id.clone(),
            reason: format!(
                "{which}: {}",
                crate::domain::without_value(&error.to_string())
            ),
        })
    }

    fn before<T: for<'de> Deserialize<'de>>(&self) -> Result<T, UndecodableRecord> {
        self.decode(&self.record.change.old_image, "OldImage")
    }

    fn after<T: for<'de> Deserialize<'de>>(&self) -> Result<T, UndecodableRecord> {
        self.decode(&self.record.change.new_image, "NewImage")
    }
}

fn user_events(change: Change, images: &Images<'_>) -> Result<Vec<DomainEvent>, UndecodableRecord> {
    Ok(match change {
        Change::Insert => {
            let user: UserImage = images.after()?;
            vec![if user.status == UserStatus::Pending {
                DomainEvent::UserInvited {
                    user_type: user.user_type,
                    entity_id: user.entity_id,
                    roles: user.roles,
                    mfa_type: user.mfa_type,
                }
            } else {
                DomainEvent::UserCreated {
                    user_type: user.user_type,
                    entity_id: user.entity_id,
                    roles: user.roles,
                    status: user.status,
                }
            }]
        }
        Change::Remove => {
            let user: UserImage = images.before()?;
            vec![DomainEvent::UserDeleted {
                user_type: user.user_type,
                entity_id: user.entity_id,
            }]
        }
        Change::Modify => {
            let old: UserImage = images.before()?;
            let new: UserImage = images.after()?;
            let mut events = Vec::new();
            if old.status == UserStatus::Pending && new.status == UserStatus::Enabled {
                events.push(DomainEvent::InvitationAccepted {});
            }
            if old.status != new.status {
                match new.status {
                    UserStatus::Enabled => events.push(DomainEvent::UserEnabled {
                        previous_status: old.status,
                    }),
                    UserStatus::Disabled => events.push(DomainEvent::UserDisabled {
                        previous_status: old.status,
                    }),
                    UserStatus::Pending => {}
                }
            }
            let role_set = |roles: &[Role]| roles.iter().map(|r| r.name()).collect::<BTreeSet<_>>();
            if role_set(&old.roles) != role_set(&new.roles) {
                events.push(DomainEvent::RolesChanged {
                    previous_roles: old.roles.clone(),
                    roles: new.roles.clone(),
                });
            }
            let mut changed_fields = old.details.changed(&new.details);
            if old.mfa_type != new.mfa_type {
                changed_fields.push("mfaType");
            }
            if !changed_fields.is_empty() {
                events.push(DomainEvent::UserDetailsChanged { changed_fields });
            }
            if old.mfa_status != MfaStatus::Unregistered
                && new.mfa_status == MfaStatus::Unregistered
            {
                events.push(DomainEvent::MfaUnregistered {
                    mfa_type: new.mfa_type,
                });
            }
            if old.mfa_status == MfaStatus::Unregistered
                && new.mfa_status != MfaStatus::Unregistered
            {
                events.push(DomainEvent::MfaRegistered {
                    mfa_type: new.mfa_type,
                });
            }
            // A first password comes with the acceptance; a reset also ends every session (`tokensValidAfter`).
            if old.password_hash != new.password_hash && old.password_hash.is_some() {
                events.push(if old.tokens_valid_after != new.tokens_valid_after {
                    DomainEvent::PasswordReset {}
                } else {
                    DomainEvent::PasswordChanged {}
                });
            }
            match (old.locked_out, new.locked_out) {
                (false, true) => events.push(DomainEvent::UserLockedOut {}),
                (true, false) => events.push(DomainEvent::UserUnlocked {}),
                _ => {}
            }
            events
        }
    })
}

fn token_events(
    change: Change,
    subject: &Subject,
    images: &Images<'_>,
) -> Result<Vec<DomainEvent>, UndecodableRecord> {
    Ok(match change {
        Change::Insert => {
            let token: TokenImage = images.after()?;
            vec![DomainEvent::TokenIssued(token.facts())]
        }
        Change::Remove => {
            let token: TokenImage = images.before()?;
            let by_ttl = images
                .record
                .user_identity
                .as_ref()
                .is_some_and(|identity| identity.principal_id == "dynamodb.amazonaws.com");
            vec![DomainEvent::TokenRemoved {
                purpose: token.purpose,
                reason: if by_ttl {
                    TokenRemovalReason::Expired
                } else {
                    TokenRemovalReason::Removed
                },
            }]
        }
        Change::Modify => {
            let old: TokenImage = images.before()?;
            let new: TokenImage = images.after()?;
            let mut events = Vec::new();
            if old.replaced(&new) {
                events.push(DomainEvent::TokenResent(new.facts()));
            } else if !old.consumed && new.consumed {
                events.push(DomainEvent::TokenVerified(new.facts()));
                if matches!(subject, Subject::OtpSession { .. }) {
                    events.push(DomainEvent::OtpConfirmed {});
                }
            } else if new.failed_attempts > old.failed_attempts {
                events.push(DomainEvent::TokenVerificationFailed(new.facts()));
            }
            events
        }
    })
}

fn device_events(
    change: Change,
    images: &Images<'_>,
) -> Result<(Subject, Vec<DomainEvent>), UndecodableRecord> {
    let subject = |device: &DeviceImage| Subject::Device {
        account_key: device.account_key.clone(),
        device_key: device.device_key.clone(),
    };
    Ok(match change {
        Change::Insert => {
            let device: DeviceImage = images.after()?;
            (
                subject(&device),
                vec![DomainEvent::DeviceCreated {
                    device_status: device.device_status,
                    contact_type: device.contact_type,
                }],
            )
        }
        Change::Remove => {
            let device: DeviceImage = images.before()?;
            (subject(&device), vec![DomainEvent::DeviceRemoved {}])
        }
        Change::Modify => {
            let old: DeviceImage = images.before()?;
            let new: DeviceImage = images.after()?;
            let events = match (old.device_status, new.device_status) {
                (before, after) if before == after => Vec::new(),
                (_, DeviceStatus::Active) => vec![DomainEvent::DeviceApproved {}],
                (before, DeviceStatus::Disabled) => vec![DomainEvent::DeviceDisabled {
                    previous_status: before,
                }],
                _ => Vec::new(),
            };
            (subject(&new), events)
        }
    })
}

fn session_events(
    change: Change,
    images: &Images<'_>,
) -> Result<Vec<DomainEvent>, UndecodableRecord> {
    Ok(match change {
        Change::Insert => {
            let session: SessionImage = images.after()?;
            vec![DomainEvent::OtpSessionStarted {
                widget_id: session.widget_id,
                channels: session.channels.iter().map(|c| c.channel).collect(),
                locale: session.locale,
            }]
        }
        Change::Modify => {
            let old: SessionImage = images.before()?;
            let new: SessionImage = images.after()?;
            if old.closed_at.is_none() && new.closed_at.is_some() {
                vec![DomainEvent::OtpSessionClosed {}]
            } else {
                Vec::new()
            }
        }
        // A session goes only by TTL, or when no channel could deliver its first code: nothing happened to tell.
        Change::Remove => Vec::new(),
    })
}

/// The events one stream record stands for, in order; none for items without events.
pub fn events_of(record: &EventRecord) -> Result<Vec<Envelope>, UndecodableRecord> {
    let undecodable = |reason: &str| UndecodableRecord {
        event_id: record.event_id.clone(),
        reason: reason.to_owned(),
    };
    let change = match record.event_name.as_str() {
        "INSERT" => Change::Insert,
        "MODIFY" => Change::Modify,
        "REMOVE" => Change::Remove,
        _ => return Err(undecodable("eventName is not INSERT, MODIFY or REMOVE")),
    };
    let keys: Keys = serde_dynamo::from_item(record.change.keys.clone()).map_err(|error| {
        undecodable(&format!(
            "Keys: {}",
            crate::domain::without_value(&error.to_string())
        ))
    })?;
    let images = Images { record };
    let (subject, events) = match kind_of(&keys) {
        None => return Ok(Vec::new()),
        Some(ItemKind::User(user_id)) => (Subject::User { user_id }, user_events(change, &images)?),
        Some(ItemKind::Token(subject)) => {
            let events = token_events(change, &subject, &images)?;
            (subject, events)
        }
        Some(ItemKind::Device) => device_events(change, &images)?,
        Some(ItemKind::Session(request_id)) => (
            Subject::OtpSession { request_id },
            session_events(change, &images)?,
        ),
    };
    let occurred_at = OffsetDateTime::from_unix_timestamp_nanos(
        i128::from(
            record
                .change
                .approximate_creation_date_time
                .timestamp_millis(),
        ) * 1_000_000,
    )
    .map(timestamp)
    .unwrap_or_default();
    let sequence_number = record.change.sequence_number.clone().unwrap_or_default();
    Ok(events
        .into_iter()
        .map(|event| Envelope {
            event_id: format!("{}:{}", record.event_id, event.event_type()),
            schema_version: SCHEMA_VERSION,
            source: SOURCE,
            occurred_at: occurred_at.clone(),
            subject: subject.clone(),
            event,
            stream_sequence_number: sequence_number.clone(),
        })
        .collect())
}

#[derive(Debug, thiserror::Error)]
#[error("publishing {event_id} failed: {reason}")]
pub struct PublishError {
    pub event_id: String,
    pub reason: String,
}

/// The most events one `PublishBatch` call carries (SNS's limit).
pub const PUBLISH_BATCH_LIMIT: usize = 10;

/// Where events go: an SNS topic (`adapters::messaging::EventPublisher`).
#[async_trait::async_trait]
pub trait EventSink: Send + Sync {
    /// Publishes up to `PUBLISH_BATCH_LIMIT` events in one call. On failure, the position of the first event that is
    /// not known to be published (those before it are).
    async fn publish(&self, envelopes: &[Envelope]) -> Result<(), (usize, PublishError)>;
}

/// The `publish-events` handler. Events are published in order, `PUBLISH_BATCH_LIMIT` to a call; the record of the
/// first event that cannot be published is reported by its sequence number, and the records after it are left for
/// the retry, which starts there (so no event overtakes an earlier one of the same shard; events of that record or
/// later that did go out go out again, which the topic's subscribers drop by event id). A record that cannot be
/// decoded is logged and skipped: no retry would change it.
pub async fn publish_stream(publisher: &dyn EventSink, event: Event) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    // Each event, and the record it came from.
    let mut envelopes: Vec<Envelope> = Vec::new();
    let mut records: Vec<&EventRecord> = Vec::new();
    for record in &event.records {
        match events_of(record) {
            Ok(of_record) => {
                records.extend(of_record.iter().map(|_| record));
                envelopes.extend(of_record);
            }
            Err(error) => tracing::error!(
                event_id = %error.event_id,
                reason = %error.reason,
                "stream record skipped: it cannot be decoded"
            ),
        }
    }
    let mut published = 0usize;
    for (chunk, owners) in envelopes
        .chunks(PUBLISH_BATCH_LIMIT)
        .zip(records.chunks(PUBLISH_BATCH_LIMIT))
    {
        let outcome = publisher.publish(chunk).await;
        let sent = match &outcome {
            Ok(()) => chunk.len(),
            Err((at, _)) => (*at).min(chunk.len()),
        };
        for envelope in &chunk[..sent] {
            tracing::info!(
                event_id = %envelope.event_id,
                event_type = envelope.event.event_type(),
                subject = %envelope.subject.key(),
                "event published"
            );
        }
        published += sent;
        if let Err((at, error)) = outcome {
            tracing::warn!(
                event_id = %error.event_id,
                reason = %error.reason,
                "publish failed; the batch resumes from this record"
            );
            let record = owners.get(at).or(owners.first());
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier =
                record.and_then(|record| record.change.sequence_number.clone());
            response.batch_item_failures.push(failure);
            tracing::info!(
                records = event.records.len(),
                published,
                "stream batch partly published"
            );
            return response;
        }
    }
    tracing::info!(
        records = event.records.len(),
        published,
        "stream batch published"
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn record(
        name: &str,
        pk: &str,
        sk: &str,
        old: Option<Value>,
        new: Option<Value>,
    ) -> EventRecord {
        let mut change = json!({
            "ApproximateCreationDateTime": 1763769600.0,
            "Keys": {"pk": {"S": pk}, "sk": {"S": sk}},
            "SequenceNumber": "7",
            "SizeBytes": 1
        });
        if let Some(old) = old {
            change["OldImage"] = old;
        }
        if let Some(new) = new {
            change["NewImage"] = new;
        }
        serde_json::from_value(json!({"eventID": "e1", "eventName": name, "awsRegion": "us-east-1", "dynamodb": change}))
            .expect("a stream record")
    }

    fn types(record: &EventRecord) -> Vec<&'static str> {
        events_of(record)
            .expect("decodable")
            .iter()
            .map(|e| e.event.event_type())
            .collect()
    }

    fn token(failed: u32, consumed: bool, sent: i64) -> Value {
        json!({"purpose": {"S": "DEVICE_APPROVAL"}, "digest": {"S": format!("secret-digest-{sent}")}, "channel": {"S": "sms"},
               "issuedAt": {"N": sent.to_string()}, "expiresAt": {"N": (sent + 300).to_string()},
               "lastSentAt": {"N": sent.to_string()}, "failedAttempts": {"N": failed.to_string()},
               "maxAttempts": {"N": "5"}, "consumed": {"BOOL": consumed}, "version": {"N": "1"}})
    }

    fn user(status: &str, mfa_status: &str, locked: bool) -> Value {
        json!({"email": {"S": "a@example.com"}, "smsNumber": {"S": "+15555550100"},
               "primaryContactNumber": {"S": "+15555550100"}, "roles": {"L": [{"S": "velo.backoffice.admin"}]},
               "userType": {"S": "BACKOFFICE"}, "status": {"S": status}, "mfaType": {"S": "TOTP"},
               "mfaStatus": {"S": mfa_status}, "lockedOut": {"BOOL": locked}})
    }

    fn device(status: &str) -> Value {
        json!({"accountKey": {"S": "a"}, "deviceKey": {"S": "d"}, "deviceStatus": {"S": status},
               "contactType": {"S": "email"}})
    }

    #[test]
    fn code_changes_become_token_events_without_the_digest() {
        let device_pk = "DEVICE#a#d";
        let sk = "TOKEN#DEVICE_APPROVAL";
        let failed = record(
            "MODIFY",
            device_pk,
            sk,
            Some(token(0, false, 100)),
            Some(token(1, false, 100)),
        );
        let envelopes = events_of(&failed).expect("decodable");
        assert_eq!(envelopes[0].event.event_type(), "TokenVerificationFailed");
        assert_eq!(
            serde_json::to_value(&envelopes[0]).expect("JSON")["data"]["remainingAttempts"],
            4
        );
        assert_eq!(
            envelopes[0].subject,
            Subject::Device {
                account_key: "a".into(),
                device_key: "d".into()
            }
        );
        assert!(!serde_json::to_string(&envelopes[0])
            .expect("JSON")
            .contains("secret-digest"));
        let resent = record(
            "MODIFY",
            device_pk,
            sk,
            Some(token(1, false, 100)),
            Some(token(1, false, 200)),
        );
        assert_eq!(types(&resent), ["TokenResent"]);
        let mut expired = record("REMOVE", device_pk, sk, Some(token(0, false, 100)), None);
        expired.user_identity = serde_json::from_value(
            json!({"type": "Service", "principalId": "dynamodb.amazonaws.com"}),
        )
        .ok();
        let removed =
            serde_json::to_value(&events_of(&expired).expect("decodable")[0]).expect("JSON");
        assert_eq!(
            removed["data"],
            json!({"purpose": "DEVICE_APPROVAL", "reason": "expired"})
        );
    }

    #[test]
    fn user_device_and_session_changes() {
        let id = "USER#5f1b8d0e-2c9a-4d3b-9e4f-6a7b8c9d0e1f";
        let change = record(
            "MODIFY",
            id,
            "PROFILE",
            Some(user("ENABLED", "REGISTERED", false)),
            Some(user("DISABLED", "UNREGISTERED", true)),
        );
        assert_eq!(
            types(&change),
            ["UserDisabled", "MfaUnregistered", "UserLockedOut"]
        );
        let unchanged = record(
            "MODIFY",
            id,
            "PROFILE",
            Some(user("ENABLED", "REGISTERED", false)),
            Some(user("ENABLED", "REGISTERED", false)),
        );
        assert!(types(&unchanged).is_empty());
        let with = |mut image: Value, fields: Value| {
            for (name, value) in fields.as_object().expect("fields") {
                image[name] = value.clone();
            }
            image
        };
        let accepted = record(
            "MODIFY",
            id,
            "PROFILE",
            Some(user("PENDING", "UNREGISTERED", false)),
            Some(with(
                user("ENABLED", "UNREGISTERED", false),
                json!({"passwordHash": {"S": "h1"}}),
            )),
        );
        assert_eq!(types(&accepted), ["InvitationAccepted", "UserEnabled"]);
        let registered = record(
            "MODIFY",
            id,
            "PROFILE",
            Some(user("ENABLED", "UNREGISTERED", false)),
            Some(user("ENABLED", "REGISTERED", false)),
        );
        assert_eq!(types(&registered), ["MfaRegistered"]);
        let changed = record(
            "MODIFY",
            id,
            "PROFILE",
            Some(with(
                user("ENABLED", "REGISTERED", false),
                json!({"passwordHash": {"S": "h1"}}),
            )),
            Some(with(
                user("ENABLED", "REGISTERED", false),
                json!({"passwordHash": {"S": "h2"}}),
            )),
        );
        assert_eq!(types(&changed), ["PasswordChanged"]);
        let reset = record(
            "MODIFY",
            id,
            "PROFILE",
            Some(with(
                user("ENABLED", "REGISTERED", true),
                json!({"passwordHash": {"S": "h1"}}),
            )),
            Some(with(
                user("ENABLED", "REGISTERED", false),
                json!({"passwordHash": {"S": "h2"}, "tokensValidAfter": {"S": "2026-12-07T10:00:00Z"}}),
            )),
        );
        assert_eq!(types(&reset), ["PasswordReset", "UserUnlocked"]);
        let created = record(
            "INSERT",
            "DEVICE#a#d",
            "PROFILE",
            None,
            Some(device("pending_2fa_approval")),
        );
        assert_eq!(types(&created), ["DeviceCreated"]);
        let disabled = record(
            "MODIFY",
            "DEVICE#a#d",
            "PROFILE",
            Some(device("active")),
            Some(device("disabled")),
        );
        assert_eq!(types(&disabled), ["DeviceDisabled"]);
        let session = |closed: Option<i64>| {
            let mut image = json!({"widgetId": {"S": "w"}, "channels": {"L": []}, "locale": {"S": "en"},
                                   "recipient": {"S": "+79990001122"}});
            if let Some(at) = closed {
                image["closedAt"] = json!({"N": at.to_string()});
            }
            image
        };
        let closed = record(
            "MODIFY",
            "OTP#r",
            "SESSION",
            Some(session(None)),
            Some(session(Some(5))),
        );
        assert_eq!(types(&closed), ["OtpSessionClosed"]);
        let quota = record(
            "INSERT",
            "QUOTA#x",
            "WINDOW#1",
            None,
            Some(json!({"sends": {"N": "1"}})),
        );
        assert!(types(&quota).is_empty());
        assert!(events_of(&record("INSERT", id, "PROFILE", None, Some(json!({})))).is_err());
    }

    /// A sink that records each call's size and refuses, in its call `fail_on`, the event at `fail_at`.
    struct FailingSink {
        calls: std::sync::Mutex<Vec<usize>>,
        fail_on: usize,
        fail_at: usize,
    }

    #[async_trait::async_trait]
    impl EventSink for FailingSink {
        async fn publish(&self, envelopes: &[Envelope]) -> Result<(), (usize, PublishError)> {
            let mut calls = self.calls.lock().expect("calls");
            calls.push(envelopes.len());
            if calls.len() == self.fail_on {
                return Err((
                    self.fail_at,
                    PublishError {
                        event_id: envelopes[self.fail_at].event_id.clone(),
                        reason: "refused".into(),
                    },
                ));
            }
            Ok(())
        }
    }

    fn devices(count: usize) -> Event {
        let records = (0..count)
            .map(|i| {
                let mut created = record(
                    "INSERT",
                    &format!("DEVICE#a#d{i}"),
                    "PROFILE",
                    None,
                    Some(device("pending_2fa_approval")),
                );
                created.change.sequence_number = Some(format!("{}", 100 + i));
                created
            })
            .collect();
        let mut event: Event = serde_json::from_value(json!({"Records": []})).expect("an event");
        event.records = records;
        event
    }

    #[tokio::test]
    async fn events_go_out_ten_to_a_call_and_a_refusal_reports_the_record_of_the_first_unpublished_event(
    ) {
        let sink = FailingSink {
            calls: Default::default(),
            fail_on: 0,
            fail_at: 0,
        };
        let response = publish_stream(&sink, devices(12)).await;
        assert!(response.batch_item_failures.is_empty());
        assert_eq!(*sink.calls.lock().expect("calls"), [10, 2]);

        let sink = FailingSink {
            calls: Default::default(),
            fail_on: 2,
            fail_at: 1,
        };
        let response = publish_stream(&sink, devices(25)).await;
        let reported: Vec<_> = response
            .batch_item_failures
            .iter()
            .map(|failure| failure.item_identifier.clone())
            .collect();
        // Call 2 carries events 10..20; its second (record 11) is the first not published.
        assert_eq!(reported, [Some("111".to_owned())]);
        assert_eq!(*sink.calls.lock().expect("calls"), [10, 10]);
    }
}
