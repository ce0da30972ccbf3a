//! The Sigma OTP front door's items: widgets, sessions (next to their token, in one partition) and the start
//! counters. Every write is conditional; nothing is read before it is counted.

use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};

use super::{build, item, key, unavailable, Store};
use crate::domain::token::Channel;
use crate::domain::{DomainError, FieldError};
use crate::engine::CompanionWrite;

pub const WIDGET_SK: &str = "PROFILE";
pub const SESSION_SK: &str = "SESSION";

pub fn widget_pk(widget_id: &str) -> String {
    format!("WIDGET#{widget_id}")
}

/// The session and its code share this partition: `SESSION` and `TOKEN#OTP_SESSION`.
pub fn session_pk(request_id: &str) -> String {
    format!("OTP#{request_id}")
}

pub fn start_counter_pk(recipient_key: &str) -> String {
    format!("OTP_START#{recipient_key}")
}

pub fn start_counter_sk(minute: i64) -> String {
    format!("MINUTE#{minute}")
}

/// One channel of a widget, in the widget's priority order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelItem {
    #[serde(rename = "type")]
    pub channel: Channel,
    pub label: String,
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
    /// The widget's channels that can serve this recipient, in priority order, as they were at start.
    pub channels: Vec<ChannelItem>,
    /// `ru` or `en`: the language of the messages sent for this session.
    pub locale: String,
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<i64>,
    pub ttl: i64,
}

impl Store {
    /// Creates a widget; an existing widget id is a conflict.
    pub async fn create_widget(&self, widget: &WidgetItem) -> Result<(), DomainError> {
        let outcome = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item(widget)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match outcome {
            Ok(_) => Ok(()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(DomainError::Conflict(FieldError::new(
                    "widgetId",
                    "a widget with this id already exists",
                )))
            }
            Err(error) => Err(unavailable("PutItem", &error)),
        }
    }

    pub async fn get_widget(&self, widget_id: &str) -> Result<Option<WidgetItem>, DomainError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(widget_pk(widget_id), WIDGET_SK)))
            .send()
            .await
            .map_err(|error| unavailable("GetItem", &error))?;
        let Some(raw) = output.item else {
            return Ok(None);
        };
        serde_dynamo::from_item(raw).map(Some).map_err(|error| {
            tracing::error!(%error, "a stored widget does not parse");
            DomainError::Unavailable {
                retry_after_secs: 1,
            }
        })
    }

    /// The write that counts one start for a recipient in one minute, never past `limit` (it joins the engine's
    /// transaction, so the start, its session and its code are written together); `refused` is the answer when the
    /// limit is reached.
    pub fn start_count_write(
        &self,
        recipient_key: &str,
        minute: i64,
        limit: u32,
        expires_at: i64,
        refused: DomainError,
    ) -> Result<CompanionWrite, DomainError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(
                start_counter_pk(recipient_key),
                &start_counter_sk(minute),
            )))
            .update_expression("ADD #starts :one SET #ttl = :ttl")
            .condition_expression("attribute_not_exists(#starts) OR #starts < :limit")
            .expression_attribute_names("#starts", "starts")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":limit", AttributeValue::N(limit.to_string()))
            .expression_attribute_values(":ttl", AttributeValue::N(expires_at.to_string()));
        Ok((
            TransactWriteItem::builder()
                .update(build(update.build())?)
                .build(),
            refused,
        ))
    }

    /// Undoes `start_count_write` when no channel delivered: a start that sent nothing does not count.
    pub fn start_uncount_write(
        &self,
        recipient_key: &str,
        minute: i64,
    ) -> Result<TransactWriteItem, DomainError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(
                start_counter_pk(recipient_key),
                &start_counter_sk(minute),
            )))
            .update_expression("ADD #starts :minus_one")
            .expression_attribute_names("#starts", "starts")
            .expression_attribute_values(":minus_one", AttributeValue::N("-1".into()));
        Ok(TransactWriteItem::builder()
            .update(build(update.build())?)
            .build())
    }

    /// The write that creates a session with its first code (it joins the engine's transaction).
    pub fn session_creation_write(
        &self,
        session: &SessionItem,
    ) -> Result<TransactWriteItem, DomainError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item(session)?))
            .condition_expression("attribute_not_exists(pk)");
        Ok(TransactWriteItem::builder()
            .put(build(put.build())?)
            .build())
    }

    /// Undoes `session_creation_write` when no channel could deliver the first code.
    pub fn session_removal_write(
        &self,
        session: &SessionItem,
    ) -> Result<TransactWriteItem, DomainError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(session.pk.clone(), SESSION_SK)))
            .condition_expression("#owner = :owner")
            .expression_attribute_names("#owner", "ownerId")
            .expression_attribute_values(":owner", AttributeValue::S(session.owner_id.clone()));
        Ok(TransactWriteItem::builder()
            .delete(build(delete.build())?)
            .build())
    }

    /// Closes a session once. Returns `false` if it was already closed (or is gone).
    pub async fn close_session(&self, request_id: &str, now: i64) -> Result<bool, DomainError> {
        let outcome = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(session_pk(request_id), SESSION_SK)))
            .update_expression("SET #closed = :now")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(#closed)")
            .expression_attribute_names("#closed", "closedAt")
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .send()
            .await;
        match outcome {
            Ok(_) => Ok(true),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(error) => Err(unavailable("UpdateItem", &error)),
        }
    }
}
