//! QI devices: one item per device, keyed by account and device. The device's key is also the subject of its
//! approval token, so one `BatchGetItem` reads both.

use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use time::OffsetDateTime;

use super::accounts::{account_pk, parse_account, Account, DocumentNumber};
use crate::domain::token::{Channel, LiveToken, TokenPurpose};
use crate::domain::{AccountKey, DeviceKey, DomainError, FieldError};
use crate::engine::CompanionWrite;
use crate::store::items::PROFILE;
use crate::store::{build, item, key, parse_item, unavailable, Store};

/// The device's partition: its item (`PROFILE`) and its approval token (`TOKEN#DEVICE_APPROVAL`).
pub fn device_pk(account: &AccountKey, device: &DeviceKey) -> String {
    format!("DEVICE#{account}#{device}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeviceStatus {
    #[serde(rename = "pending_2fa_approval")]
    PendingApproval,
    #[serde(rename = "active")]
    Active,
    #[serde(rename = "disabled")]
    Disabled,
}

impl DeviceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::PendingApproval => "pending_2fa_approval",
            DeviceStatus::Active => "active",
            DeviceStatus::Disabled => "disabled",
        }
    }
}

/// How the approver is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContactType {
    Sms,
    Email,
}

impl ContactType {
    pub fn channel(self) -> Channel {
        match self {
            ContactType::Sms => Channel::Sms,
            ContactType::Email => Channel::Email,
        }
    }
}

impl FromStr for ContactType {
    type Err = &'static str;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "sms" => Ok(ContactType::Sms),
            "email" => Ok(ContactType::Email),
            _ => Err("must be one of sms, email"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub account_key: AccountKey,
    pub device_key: DeviceKey,
    pub session_id: Option<String>,
    pub status: DeviceStatus,
    pub approver_document_number: DocumentNumber,
    /// How the first token was requested: a resend without `contact_type` goes this way.
    pub contact_type: ContactType,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub version: u64,
}

impl Device {
    pub fn pk(&self) -> String {
        device_pk(&self.account_key, &self.device_key)
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeviceItem {
    pk: String,
    sk: String,
    account_key: AccountKey,
    device_key: DeviceKey,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    session_id: Option<String>,
    device_status: DeviceStatus,
    approver_document_number: DocumentNumber,
    contact_type: ContactType,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
    version: u64,
}

impl From<&Device> for DeviceItem {
    fn from(device: &Device) -> Self {
        DeviceItem {
            pk: device.pk(),
            sk: PROFILE.into(),
            account_key: device.account_key,
            device_key: device.device_key,
            session_id: device.session_id.clone(),
            device_status: device.status,
            approver_document_number: device.approver_document_number.clone(),
            contact_type: device.contact_type,
            created_at: device.created_at,
            updated_at: device.updated_at,
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
            version: item.version,
        }
    }
}

fn device_key_taken() -> DomainError {
    DomainError::Conflict(FieldError::new(
        "device_key",
        "a device with this device_key already exists",
    ))
}

impl Store {
    /// The write that creates `device` with its first token: a taken key cancels the whole send.
    pub fn device_creation_write(&self, device: &Device) -> Result<CompanionWrite, DomainError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item(&DeviceItem::from(device))?))
            .condition_expression("attribute_not_exists(pk)");
        Ok((
            TransactWriteItem::builder()
                .put(build(put.build())?)
                .build(),
            device_key_taken(),
        ))
    }

    /// The write that undoes `device_creation_write` when the token cannot be delivered, conditioned on the device
    /// being as it was created.
    pub fn device_removal_write(&self, device: &Device) -> Result<TransactWriteItem, DomainError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(device.pk(), PROFILE)))
            .condition_expression("#version = :version AND #status = :pending")
            .expression_attribute_names("#version", "version")
            .expression_attribute_names("#status", "deviceStatus")
            .expression_attribute_values(":version", AttributeValue::N(device.version.to_string()))
            .expression_attribute_values(
                ":pending",
                AttributeValue::S(DeviceStatus::PendingApproval.as_str().into()),
            );
        Ok(TransactWriteItem::builder()
            .delete(build(delete.build())?)
            .build())
    }

    pub async fn get_device(
        &self,
        account: &AccountKey,
        device: &DeviceKey,
    ) -> Result<Option<Device>, DomainError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(device_pk(account, device), PROFILE)))
            .send()
            .await
            .map_err(|error| unavailable("GetItem", &error))?;
        output
            .item
            .map(|raw| parse_item::<DeviceItem>(raw).map(Device::from))
            .transpose()
    }

    /// The account, the device and the device's approval token: one strongly consistent `BatchGetItem`.
    pub async fn get_account_device_token(
        &self,
        account: &AccountKey,
        device: &DeviceKey,
    ) -> Result<(Option<Account>, Option<Device>, Option<LiveToken>), DomainError> {
        let subject = device_pk(account, device);
        let [account, device, token] = self
            .get_many([
                key(account_pk(account), PROFILE),
                key(subject.clone(), PROFILE),
                Store::token_key(&subject, TokenPurpose::DeviceApproval),
            ])
            .await?;
        Ok((
            account.map(parse_account).transpose()?,
            device
                .map(|raw| parse_item::<DeviceItem>(raw).map(Device::from))
                .transpose()?,
            token.and_then(crate::store::parse_token),
        ))
    }

    /// The write that moves an existing device to `to`, only from `from` when given.
    pub fn device_status_write(
        &self,
        account: &AccountKey,
        device: &DeviceKey,
        to: DeviceStatus,
        from: Option<DeviceStatus>,
        now: OffsetDateTime,
    ) -> Result<TransactWriteItem, DomainError> {
        let now = now
            .format(&time::format_description::well_known::Rfc3339)
            .map_err(|error| {
                tracing::error!(%error, "timestamp formatting failed");
                DomainError::Unavailable {
                    retry_after_secs: 1,
                }
            })?;
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(device_pk(account, device), PROFILE)))
            .update_expression("SET #status = :to, #updated = :now ADD #version :one")
            .expression_attribute_names("#status", "deviceStatus")
            .expression_attribute_names("#updated", "updatedAt")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":to", AttributeValue::S(to.as_str().into()))
            .expression_attribute_values(":now", AttributeValue::S(now))
            .expression_attribute_values(":one", AttributeValue::N("1".into()));
        update = match from {
            None => update.condition_expression("attribute_exists(pk)"),
            Some(from) => update
                .condition_expression("#status = :from")
                .expression_attribute_values(":from", AttributeValue::S(from.as_str().into())),
        };
        Ok(TransactWriteItem::builder()
            .update(build(update.build())?)
            .build())
    }

    /// Moves an existing device to `to`, only from `from` when given. `false` when the device does not exist or
    /// is not in `from`.
    pub async fn set_device_status(
        &self,
        account: &AccountKey,
        device: &DeviceKey,
        to: DeviceStatus,
        from: Option<DeviceStatus>,
        now: OffsetDateTime,
    ) -> Result<bool, DomainError> {
        let write = self.device_status_write(account, device, to, from, now)?;
        match self
            .client
            .transact_write_items()
            .transact_items(write)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(error) if crate::store::conditional_check_failed(&error) => Ok(false),
            Err(error) => Err(unavailable("TransactWriteItems", &error)),
        }
    }
}
