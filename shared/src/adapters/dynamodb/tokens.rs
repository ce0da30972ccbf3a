//! The token engine's writes. Every rule was judged on the state read; each write is conditioned on that state.

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, KeysAndAttributes, Put, ReturnValue, TransactWriteItem, Update,
};
use std::collections::HashMap;

use super::items::TokenItem;
use super::keys::{key, quota_pk, quota_sk, token_key};
use super::{build, item, unavailable, DynamoStore};
use crate::domain::token::{LiveToken, Subject, TokenPurpose};
use crate::domain::DomainError;
use crate::ports::{Companion, QuotaSlot, ReserveError, TokenStore};

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// Did a transaction fail only because one of its conditions did not hold?
pub fn conditional_check_failed<R>(error: &SdkError<TransactWriteItemsError, R>) -> bool {
    cancellation_codes(error)
        .iter()
        .any(|code| code.as_deref() == Some("ConditionalCheckFailed"))
}

pub(super) fn cancellation_codes<R>(
    error: &SdkError<TransactWriteItemsError, R>,
) -> Vec<Option<String>> {
    match error.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => cancelled
            .cancellation_reasons
            .iter()
            .flatten()
            .map(|reason| reason.code.clone().filter(|code| code != "None"))
            .collect(),
        _ => Vec::new(),
    }
}

/// Why a transaction was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cancellation {
    /// Another transaction on the same items came first: read again.
    Raced,
    /// The condition of the item at this index (the first that failed) does not hold.
    Condition(usize),
    /// Anything else: the outcome is the error's.
    Other,
}

pub(super) fn cancellation<R>(error: &SdkError<TransactWriteItemsError, R>) -> Cancellation {
    let codes = cancellation_codes(error);
    if codes
        .iter()
        .any(|code| code.as_deref() == Some("TransactionConflict"))
    {
        return Cancellation::Raced;
    }
    codes
        .iter()
        .position(|code| code.as_deref() == Some("ConditionalCheckFailed"))
        .map_or(Cancellation::Other, Cancellation::Condition)
}

impl DynamoStore {
    /// Up to 100 items in one strongly consistent `BatchGetItem`, each found or not, in the order of `keys`.
    pub async fn get_many<const N: usize>(
        &self,
        keys: [HashMap<String, AttributeValue>; N],
    ) -> Result<[Option<HashMap<String, AttributeValue>>; N], DomainError> {
        let request = build(
            KeysAndAttributes::builder()
                .set_keys(Some(keys.to_vec()))
                .consistent_read(true)
                .build(),
        )?;
        let output = self
            .client
            .batch_get_item()
            .request_items(&self.table, request)
            .send()
            .await
            .map_err(|error| unavailable("BatchGetItem", &error))?;
        if output
            .unprocessed_keys
            .as_ref()
            .is_some_and(|keys| !keys.is_empty())
        {
            return Err(DomainError::unavailable());
        }
        let items = output
            .responses
            .and_then(|mut tables| tables.remove(&self.table))
            .unwrap_or_default();
        let mut found: [Option<HashMap<String, AttributeValue>>; N] = std::array::from_fn(|_| None);
        for raw in items {
            let position = keys.iter().position(|wanted| {
                raw.get("pk") == wanted.get("pk") && raw.get("sk") == wanted.get("sk")
            });
            if let Some(slot) = position.and_then(|i| found.get_mut(i)) {
                *slot = Some(raw);
            }
        }
        Ok(found)
    }
}

#[async_trait]
impl TokenStore for DynamoStore {
    async fn get_token(
        &self,
        subject: &Subject,
        purpose: TokenPurpose,
    ) -> Result<Option<LiveToken>, DomainError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(token_key(subject, purpose)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| unavailable("GetItem", &error))?;
        Ok(output.item.and_then(parse_token))
    }

    /// Replaces `current` (or nothing) with `next` and takes one count of every quota slot, in one transaction.
    /// `extra` writes (for example a new aggregate) join the same transaction.
    async fn reserve_send(
        &self,
        current: Option<&LiveToken>,
        next: &LiveToken,
        quotas: &[QuotaSlot],
        companions: &[Companion],
    ) -> Result<(), ReserveError> {
        let failed = ReserveError::Failed;
        let extra = self.companion_writes(companions).map_err(failed)?;
        let mut put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item(&TokenItem::from_token(next)).map_err(failed)?));
        put = match current {
            None => put.condition_expression("attribute_not_exists(pk)"),
            // The cooldown is the item's own condition, whatever became of the code it holds (used, expired,
            // exhausted): it is replaced only if it was last sent at least the new code's cooldown ago. A sign-in
            // code's cooldown ends with the code (`TokenPurpose::cooldown_outlives_the_code`).
            Some(_) if next.purpose.cooldown_outlives_the_code() => put.condition_expression(
                "#version = :version AND #failed = :failed AND #sent <= :sent_by",
            ),
            Some(_) => put
                .condition_expression(
                    "#version = :version AND #failed = :failed \
                     AND (#sent <= :sent_by OR #consumed = :true OR #expires <= :now)",
                )
                .expression_attribute_names("#consumed", "consumed")
                .expression_attribute_names("#expires", "expiresAt")
                .expression_attribute_values(":true", AttributeValue::Bool(true))
                .expression_attribute_values(":now", n(next.last_sent_at.unix_timestamp())),
        };
        if let Some(current) = current {
            put = put
                .expression_attribute_names("#version", "version")
                .expression_attribute_names("#failed", "failedAttempts")
                .expression_attribute_names("#sent", "lastSentAt")
                .expression_attribute_values(":version", n(current.version))
                .expression_attribute_values(":failed", n(current.failed_attempts))
                .expression_attribute_values(
                    ":sent_by",
                    n(next.replaces_codes_sent_by().unix_timestamp()),
                );
        }
        let mut transaction = self.client.transact_write_items().transact_items(
            TransactWriteItem::builder()
                .put(build(put.build()).map_err(failed)?)
                .build(),
        );
        for quota in quotas {
            transaction = transaction.transact_items(self.take_slot(quota).map_err(failed)?);
        }
        let conflicts: Vec<DomainError> =
            extra.iter().map(|(_, conflict)| conflict.clone()).collect();
        for (write, _) in extra {
            transaction = transaction.transact_items(write);
        }
        match transaction.send().await {
            Ok(_) => Ok(()),
            Err(error) => {
                let codes = cancellation_codes(&error);
                let failed_at = |index: usize| {
                    codes.get(index).and_then(|c| c.as_deref()) == Some("ConditionalCheckFailed")
                };
                let companions_from = 1 + quotas.len();
                if failed_at(0) {
                    Err(ReserveError::Raced)
                } else if let Some(slot) = (1..companions_from).find(|&i| failed_at(i)) {
                    Err(ReserveError::QuotaExceeded(slot - 1))
                } else if codes
                    .iter()
                    .any(|code| code.as_deref() == Some("TransactionConflict"))
                {
                    Err(ReserveError::Raced)
                } else if let Some(conflict) = (companions_from..codes.len())
                    .find(|&i| failed_at(i))
                    .and_then(|i| conflicts.get(i - companions_from))
                {
                    Err(ReserveError::Failed(conflict.clone()))
                } else {
                    Err(ReserveError::Failed(unavailable(
                        "TransactWriteItems",
                        &error,
                    )))
                }
            }
        }
    }

    async fn take_quota(&self, quotas: &[QuotaSlot]) -> Result<(), ReserveError> {
        let mut transaction = self.client.transact_write_items();
        for quota in quotas {
            transaction =
                transaction.transact_items(self.take_slot(quota).map_err(ReserveError::Failed)?);
        }
        match transaction.send().await {
            Ok(_) => Ok(()),
            Err(error) => match cancellation(&error) {
                Cancellation::Condition(index) => Err(ReserveError::QuotaExceeded(index)),
                Cancellation::Raced => Err(ReserveError::Raced),
                Cancellation::Other => Err(ReserveError::Failed(unavailable(
                    "TransactWriteItems",
                    &error,
                ))),
            },
        }
    }

    /// Undoes `reserve_send` after a failed delivery: the previous token (or none) is back and the quota slots are
    /// given back, so a failed send costs the caller nothing. `extra` deletes join the same transaction.
    async fn release_send(
        &self,
        previous: Option<&LiveToken>,
        reserved: &LiveToken,
        quotas: &[QuotaSlot],
        undo: &[Companion],
    ) -> Result<(), DomainError> {
        let failed = |e| e;
        let extra = self.companion_writes(undo)?;
        let restore = match previous {
            Some(previous) => {
                // Versions only grow, so a restored state never matches a stale reader's condition.
                let restored = LiveToken {
                    version: reserved.version + 1,
                    ..previous.clone()
                };
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item(&TokenItem::from_token(&restored))?))
                    .condition_expression("#version = :version")
                    .expression_attribute_names("#version", "version")
                    .expression_attribute_values(":version", n(reserved.version));
                TransactWriteItem::builder()
                    .put(build(put.build()).map_err(failed)?)
                    .build()
            }
            None => {
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(token_key(&reserved.subject, reserved.purpose)))
                    .condition_expression("#version = :version")
                    .expression_attribute_names("#version", "version")
                    .expression_attribute_values(":version", n(reserved.version));
                TransactWriteItem::builder()
                    .delete(build(delete.build())?)
                    .build()
            }
        };
        let mut transaction = self.client.transact_write_items().transact_items(restore);
        for quota in quotas {
            let give_back = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key(quota_pk(&quota.key), &quota_sk(quota.window))))
                .update_expression("ADD #sends :minus_one")
                .condition_expression("#sends > :zero")
                .expression_attribute_names("#sends", "sends")
                .expression_attribute_values(":minus_one", n(-1))
                .expression_attribute_values(":zero", n(0));
            transaction = transaction.transact_items(
                TransactWriteItem::builder()
                    .update(build(give_back.build())?)
                    .build(),
            );
        }
        for (write, _) in extra {
            transaction = transaction.transact_items(write);
        }
        transaction
            .send()
            .await
            .map(|_| ())
            .map_err(|error| unavailable("TransactWriteItems", &error))
    }

    /// Records a verification: consumes the code on a match, counts a failure otherwise. Both are conditioned on the
    /// code still being the one judged and still having attempts left, so concurrent checks never exceed the cap.
    /// On a match, `on_accept` writes join the consumption in one transaction (all or nothing).
    /// Returns `false` when the code's condition failed (the state moved on: judge again).
    async fn record_check(
        &self,
        token: &LiveToken,
        accepted: bool,
        now: i64,
        check_id: &str,
        with: &[Companion],
    ) -> Result<bool, DomainError> {
        let on_accept = self.companion_writes(with)?;
        let mut names = HashMap::from([
            ("#digest".to_owned(), "digest".to_owned()),
            ("#consumed".to_owned(), "consumed".to_owned()),
            ("#failed".to_owned(), "failedAttempts".to_owned()),
            ("#max".to_owned(), "maxAttempts".to_owned()),
            ("#check".to_owned(), "lastCheck".to_owned()),
        ]);
        let mut values = HashMap::from([
            (
                ":digest".to_owned(),
                AttributeValue::S(token.digest.clone()),
            ),
            (":false".to_owned(), AttributeValue::Bool(false)),
            (":check".to_owned(), AttributeValue::S(check_id.to_owned())),
        ]);
        let (update_expression, condition) = if accepted {
            names.insert("#consumedAt".into(), "consumedAt".into());
            names.insert("#expires".into(), "expiresAt".into());
            values.insert(":true".into(), AttributeValue::Bool(true));
            values.insert(":now".into(), n(now));
            (
                "SET #consumed = :true, #consumedAt = :now, #check = :check",
                "#digest = :digest AND #consumed = :false AND #failed < #max AND #expires > :now",
            )
        } else {
            values.insert(":one".into(), n(1));
            (
                "ADD #failed :one SET #check = :check",
                "#digest = :digest AND #consumed = :false AND #failed < #max",
            )
        };
        let key = token_key(&token.subject, token.purpose);
        if !on_accept.is_empty() {
            let consume = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key))
                .update_expression(update_expression)
                .condition_expression(condition)
                .set_expression_attribute_names(Some(names))
                .set_expression_attribute_values(Some(values));
            let conflicts: Vec<DomainError> = on_accept
                .iter()
                .map(|(_, conflict)| conflict.clone())
                .collect();
            let mut transaction = self.client.transact_write_items().transact_items(
                TransactWriteItem::builder()
                    .update(build(consume.build())?)
                    .build(),
            );
            for (write, _) in on_accept {
                transaction = transaction.transact_items(write);
            }
            return match transaction.send().await {
                Ok(_) => Ok(true),
                Err(error) => match cancellation(&error) {
                    Cancellation::Raced | Cancellation::Condition(0) => Ok(false),
                    Cancellation::Condition(i) => Err(conflicts
                        .get(i - 1)
                        .cloned()
                        .unwrap_or_else(|| unavailable("TransactWriteItems", &error))),
                    Cancellation::Other => Err(unavailable("TransactWriteItems", &error)),
                },
            };
        }
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(update_expression)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::None);
        match update.send().await {
            Ok(_) => Ok(true),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|service| service.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(error) => Err(unavailable("UpdateItem", &error)),
        }
    }
}

pub(crate) fn parse_token(raw: HashMap<String, AttributeValue>) -> Option<LiveToken> {
    match serde_dynamo::from_item::<_, TokenItem>(raw) {
        Ok(item) => item.into_token(),
        Err(error) => {
            let error = crate::domain::without_value(&error.to_string());
            tracing::error!(error, "a stored token does not parse");
            None
        }
    }
}

impl DynamoStore {
    /// One count of `quota`, only while it is under its limit.
    fn take_slot(&self, quota: &QuotaSlot) -> Result<TransactWriteItem, DomainError> {
        let take_slot = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(quota_pk(&quota.key), &quota_sk(quota.window))))
            // What the counter counts and its limit, kept for operators (and the load test's check).
            .update_expression("ADD #sends :one SET #ttl = :ttl, #scope = :scope, #limit = :limit")
            .condition_expression("attribute_not_exists(#sends) OR #sends < :limit")
            .expression_attribute_names("#sends", "sends")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_names("#scope", "scope")
            .expression_attribute_names("#limit", "limit")
            .expression_attribute_values(":scope", AttributeValue::S(quota.scope.as_str().into()))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(quota.limit))
            .expression_attribute_values(":ttl", n(quota.expires_at));
        Ok(TransactWriteItem::builder()
            .update(build(take_slot.build())?)
            .build())
    }
}
