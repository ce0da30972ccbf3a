//! Companion writes (`ports::Companion`) as the transaction items that carry them, each with the error its failed
//! condition means.

use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem, Update,
};
use time::OffsetDateTime;

use super::items::{DeviceItem, EmailGuardItem, SessionItem, SignInItem, UserItem};
use super::keys::{
    device_pk, email_guard_pk, key, once_pk, session_pk, start_counter_pk, start_counter_sk,
    token_key, user_pk, CLAIM, GUARD, PROFILE, SESSION_SK,
};
use super::{build, item, DynamoStore};
use crate::domain::device::DeviceStatus;
use crate::domain::{AccountKey, Cause, DeviceKey, DomainError, FieldError, User};
use crate::ports::Companion;

/// One transaction item and the answer if its condition fails.
pub(super) type Write = (TransactWriteItem, DomainError);

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn put_new(put: Put) -> TransactWriteItem {
    TransactWriteItem::builder().put(put).build()
}

impl DynamoStore {
    /// The transaction items of `companions`, in order.
    pub(super) fn companion_writes(
        &self,
        companions: &[Companion],
    ) -> Result<Vec<Write>, DomainError> {
        let mut writes = Vec::new();
        for companion in companions {
            writes.extend(self.writes_of(companion)?);
        }
        Ok(writes)
    }

    fn writes_of(&self, companion: &Companion) -> Result<Vec<Write>, DomainError> {
        let conflict = companion.conflict();
        let one = |write: TransactWriteItem| Ok(vec![(write, conflict.clone())]);
        match companion {
            Companion::CreateUser(user) => {
                let [profile, guard] = self.user_creation_writes(user)?;
                Ok(vec![
                    (
                        profile,
                        DomainError::Conflict(FieldError::new("id", "the user already exists")),
                    ),
                    (guard, conflict),
                ])
            }
            Companion::RemoveUser(user) => Ok(self
                .user_removal_writes(user)?
                .into_iter()
                .map(|write| (write, conflict.clone()))
                .collect()),
            Companion::UpdateUser { before, after } => one(self.versioned_put(
                &User {
                    version: before.version + 1,
                    ..after.clone()
                },
                before.version,
            )?),
            Companion::RevertUser { before, .. } => one(self.versioned_put(
                &User {
                    version: before.version + 2,
                    ..before.clone()
                },
                before.version + 1,
            )?),
            Companion::CreateDevice(device) => one(put_new(build(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item(&DeviceItem::from(device))?))
                    .condition_expression("attribute_not_exists(pk)")
                    .build(),
            )?)),
            Companion::RemoveDevice(device) => {
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(
                        device_pk(&device.account_key, &device.device_key),
                        PROFILE,
                    )))
                    .condition_expression("#version = :version AND #status = :pending")
                    .expression_attribute_names("#version", "version")
                    .expression_attribute_names("#status", "deviceStatus")
                    .expression_attribute_values(":version", n(device.version))
                    .expression_attribute_values(
                        ":pending",
                        AttributeValue::S(DeviceStatus::PendingApproval.as_str().into()),
                    );
                one(TransactWriteItem::builder()
                    .delete(build(delete.build())?)
                    .build())
            }
            Companion::ActivateDevice {
                account,
                device,
                at,
            } => one(self.device_status_write(
                account,
                device,
                DeviceStatus::Active,
                Some(DeviceStatus::PendingApproval),
                *at,
            )?),
            Companion::CountDeviceFailure { account, device } => {
                let update = Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(device_pk(account, device), PROFILE)))
                    .update_expression("ADD #failed :one, #version :one")
                    .condition_expression("#status = :pending")
                    .expression_attribute_names("#failed", "failedAttempts")
                    .expression_attribute_names("#version", "version")
                    .expression_attribute_names("#status", "deviceStatus")
                    .expression_attribute_values(":one", n(1))
                    .expression_attribute_values(
                        ":pending",
                        AttributeValue::S(DeviceStatus::PendingApproval.as_str().into()),
                    );
                one(TransactWriteItem::builder()
                    .update(build(update.build())?)
                    .build())
            }
            Companion::CountStart {
                recipient_key,
                minute,
                limit,
                expires_at,
                ..
            } => {
                let update = Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(
                        start_counter_pk(recipient_key),
                        &start_counter_sk(*minute),
                    )))
                    .update_expression("ADD #starts :one SET #ttl = :ttl")
                    .condition_expression("attribute_not_exists(#starts) OR #starts < :limit")
                    .expression_attribute_names("#starts", "starts")
                    .expression_attribute_names("#ttl", "ttl")
                    .expression_attribute_values(":one", n(1))
                    .expression_attribute_values(":limit", n(limit))
                    .expression_attribute_values(":ttl", n(expires_at));
                one(TransactWriteItem::builder()
                    .update(build(update.build())?)
                    .build())
            }
            Companion::UncountStart {
                recipient_key,
                minute,
            } => {
                let update = Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(
                        start_counter_pk(recipient_key),
                        &start_counter_sk(*minute),
                    )))
                    .update_expression("ADD #starts :minus_one")
                    .expression_attribute_names("#starts", "starts")
                    .expression_attribute_values(":minus_one", n(-1));
                one(TransactWriteItem::builder()
                    .update(build(update.build())?)
                    .build())
            }
            Companion::CreateSession(session) => one(put_new(build(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item(&SessionItem::from(session))?))
                    .condition_expression("attribute_not_exists(pk)")
                    .build(),
            )?)),
            Companion::ClaimOnce(name) => one(put_new(build(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(key(once_pk(name), CLAIM)))
                    .condition_expression("attribute_not_exists(pk)")
                    .build(),
            )?)),
            Companion::ReleaseOnce(name) => one(TransactWriteItem::builder()
                .delete(build(
                    Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(key(once_pk(name), CLAIM)))
                        .build(),
                )?)
                .build()),
            Companion::ConsumeToken { token, at } => {
                let update = Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(token_key(&token.subject, token.purpose)))
                    .update_expression("SET #consumed = :true, #consumedAt = :now")
                    .condition_expression(
                        "#digest = :digest AND #consumed = :false AND #expires > :now",
                    )
                    .expression_attribute_names("#consumed", "consumed")
                    .expression_attribute_names("#consumedAt", "consumedAt")
                    .expression_attribute_names("#digest", "digest")
                    .expression_attribute_names("#expires", "expiresAt")
                    .expression_attribute_values(":true", AttributeValue::Bool(true))
                    .expression_attribute_values(":false", AttributeValue::Bool(false))
                    .expression_attribute_values(":digest", AttributeValue::S(token.digest.clone()))
                    .expression_attribute_values(":now", n(at.unix_timestamp()));
                one(TransactWriteItem::builder()
                    .update(build(update.build())?)
                    .build())
            }
            Companion::OpenSignIn(session) => one(put_new(build(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item(&SignInItem::from(session))?))
                    .condition_expression("attribute_not_exists(pk)")
                    .build(),
            )?)),
            Companion::SessionOpen(request_id) => one(TransactWriteItem::builder()
                .condition_check(build(
                    ConditionCheck::builder()
                        .table_name(&self.table)
                        .set_key(Some(key(session_pk(request_id), SESSION_SK)))
                        .condition_expression(
                            "attribute_exists(pk) AND attribute_not_exists(#closed)",
                        )
                        .expression_attribute_names("#closed", "closedAt")
                        .build(),
                )?)
                .build()),
            Companion::RemoveSession(session) => {
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(session_pk(&session.request_id), SESSION_SK)))
                    .condition_expression("#owner = :owner")
                    .expression_attribute_names("#owner", "ownerId")
                    .expression_attribute_values(
                        ":owner",
                        AttributeValue::S(session.owner_id.clone()),
                    );
                one(TransactWriteItem::builder()
                    .delete(build(delete.build())?)
                    .build())
            }
        }
    }

    /// The writes that create `user` and claim its email.
    pub(super) fn user_creation_writes(
        &self,
        user: &User,
    ) -> Result<[TransactWriteItem; 2], DomainError> {
        let guard = EmailGuardItem {
            pk: email_guard_pk(&user.email),
            sk: GUARD.into(),
            user_id: user.id,
        };
        let put = |attributes| {
            build(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(attributes))
                    .condition_expression("attribute_not_exists(pk)")
                    .build(),
            )
            .map(put_new)
        };
        Ok([put(item(&UserItem::from(user))?)?, put(item(&guard)?)?])
    }

    /// The writes that undo `user_creation_writes`, conditioned on the user being as it was created.
    pub(super) fn user_removal_writes(
        &self,
        user: &User,
    ) -> Result<Vec<TransactWriteItem>, DomainError> {
        let profile = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(&user.id), PROFILE)))
            .condition_expression("#version = :version")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":version", n(user.version));
        let guard = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(email_guard_pk(&user.email), GUARD)))
            .condition_expression("#user = :id")
            .expression_attribute_names("#user", "userId")
            .expression_attribute_values(":id", AttributeValue::S(user.id.to_string()));
        Ok(vec![
            TransactWriteItem::builder()
                .delete(build(profile.build())?)
                .build(),
            TransactWriteItem::builder()
                .delete(build(guard.build())?)
                .build(),
        ])
    }

    /// `user` put over the item at `expected_version`.
    pub(super) fn versioned_put(
        &self,
        user: &User,
        expected_version: u64,
    ) -> Result<TransactWriteItem, DomainError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item(&UserItem::from(user))?))
            .condition_expression("#version = :version")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":version", n(expected_version));
        Ok(put_new(build(put.build())?))
    }

    /// The write that moves an existing device to `to`, only from `from` when given.
    pub(super) fn device_status_write(
        &self,
        account: &AccountKey,
        device: &DeviceKey,
        to: DeviceStatus,
        from: Option<DeviceStatus>,
        now: OffsetDateTime,
    ) -> Result<TransactWriteItem, DomainError> {
        let now = now
            .format(&time::format_description::well_known::Rfc3339)
            .map_err(|error| DomainError::unavailable_because(Cause::new(error)))?;
        // The first activation and the first disabling are kept: QI's status events say when each happened.
        let expression = match to {
            DeviceStatus::Active => {
                "SET #status = :to, #updated = :now, #at = :now ADD #version :one"
            }
            DeviceStatus::Disabled => {
                "SET #status = :to, #updated = :now, #at = if_not_exists(#at, :now) ADD #version :one"
            }
            DeviceStatus::PendingApproval => "SET #status = :to, #updated = :now ADD #version :one",
        };
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(device_pk(account, device), PROFILE)))
            .update_expression(expression)
            .expression_attribute_names("#status", "deviceStatus")
            .expression_attribute_names("#updated", "updatedAt")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":to", AttributeValue::S(to.as_str().into()))
            .expression_attribute_values(":now", AttributeValue::S(now))
            .expression_attribute_values(":one", n(1));
        update = match to {
            DeviceStatus::Active => update.expression_attribute_names("#at", "activatedAt"),
            DeviceStatus::Disabled => update.expression_attribute_names("#at", "disabledAt"),
            DeviceStatus::PendingApproval => update,
        };
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
}
