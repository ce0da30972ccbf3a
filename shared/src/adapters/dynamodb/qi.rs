//! QI Tech's accounts and devices. A device's approval token lives in the device's partition, so one
//! `BatchGetItem` reads the account, the device and the token.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::items::{AccountItem, DeviceItem};
use super::keys::{account_pk, device_pk, key, token_key, PROFILE};
use super::tokens::{conditional_check_failed, parse_token};
use super::{item, parse_item, unavailable, DynamoStore};
use crate::domain::device::{Account, Device, DeviceStatus};
use crate::domain::token::{LiveToken, Subject, TokenPurpose};
use crate::domain::{AccountKey, DeviceKey, DomainError, FieldError};
use crate::ports::DeviceStore;

#[async_trait]
impl DeviceStore for DynamoStore {
    async fn create_account(&self, account: &Account) -> Result<(), DomainError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item(&AccountItem::from(account))?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map(|_| ())
            .map_err(|error| {
                if error
                    .as_service_error()
                    .is_some_and(|service| service.is_conditional_check_failed_exception())
                {
                    DomainError::Conflict(FieldError::new(
                        "account_key",
                        "the account already exists",
                    ))
                } else {
                    unavailable("PutItem", &error)
                }
            })
    }

    async fn get_account(&self, account: &AccountKey) -> Result<Option<Account>, DomainError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(account_pk(account), PROFILE)))
            .send()
            .await
            .map_err(|error| unavailable("GetItem", &error))?;
        output
            .item
            .map(|raw| parse_item::<AccountItem>(raw).map(Account::from))
            .transpose()
    }

    async fn get_device(
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

    async fn get_account_device_token(
        &self,
        account: &AccountKey,
        device: &DeviceKey,
    ) -> Result<(Option<Account>, Option<Device>, Option<LiveToken>), DomainError> {
        let subject = Subject::Device(*account, *device);
        let [account, device, token] = self
            .get_many([
                key(account_pk(account), PROFILE),
                key(device_pk(account, device), PROFILE),
                token_key(&subject, TokenPurpose::DeviceApproval),
            ])
            .await?;
        Ok((
            account
                .map(|raw| parse_item::<AccountItem>(raw).map(Account::from))
                .transpose()?,
            device
                .map(|raw| parse_item::<DeviceItem>(raw).map(Device::from))
                .transpose()?,
            token.and_then(parse_token),
        ))
    }

    async fn set_device_status(
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
            Err(error) if conditional_check_failed(&error) => Ok(false),
            Err(error) => Err(unavailable("TransactWriteItems", &error)),
        }
    }
}
