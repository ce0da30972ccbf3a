//! The DynamoDB adapter of every store port. One table; every invariant is a condition or a transaction.

mod apikeys;
mod companions;
pub mod items;
pub mod keys;
mod qi;
mod sigma;
mod signin;
mod tokens;
mod users;

pub use tokens::conditional_check_failed;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use std::collections::HashMap;

use aws_smithy_types::error::display::DisplayErrorContext;

use crate::domain::{Cause, DomainError};

#[derive(Clone, Debug)]
pub struct DynamoStore {
    pub(crate) client: Client,
    pub(crate) table: String,
}

/// A DynamoDB call that failed, the SDK's whole error chain in its message.
#[derive(Debug, thiserror::Error)]
#[error("DynamoDB {operation} failed: {detail}")]
struct CallFailed {
    operation: &'static str,
    detail: String,
}

/// Any failure to reach DynamoDB, answered as retryable; the front door's boundary logs it.
pub(crate) fn unavailable<E, R>(operation: &'static str, error: &SdkError<E, R>) -> DomainError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    DomainError::unavailable_because(Cause::new(CallFailed {
        operation,
        detail: DisplayErrorContext(error).to_string(),
    }))
}

pub(crate) fn item<T: serde::Serialize>(
    value: &T,
) -> Result<HashMap<String, AttributeValue>, DomainError> {
    serde_dynamo::to_item(value)
        .map_err(|error| DomainError::unavailable_because(Cause::new(error)))
}

/// A stored item as `T`; one that does not parse is answered as unavailable.
pub(crate) fn parse_item<T: serde::de::DeserializeOwned>(
    raw: HashMap<String, AttributeValue>,
) -> Result<T, DomainError> {
    serde_dynamo::from_item(raw).map_err(|error| {
        DomainError::unavailable_because(Cause::described(format!(
            "a stored item does not parse: {}",
            crate::domain::without_value(&error.to_string())
        )))
    })
}

pub(crate) fn build<T, E: std::error::Error + Send + Sync + 'static>(
    built: Result<T, E>,
) -> Result<T, DomainError> {
    built.map_err(|error| DomainError::unavailable_because(Cause::new(error)))
}

impl DynamoStore {
    /// One item, strongly consistent.
    pub(super) async fn get_one(
        &self,
        item_key: HashMap<String, AttributeValue>,
    ) -> Result<Option<HashMap<String, AttributeValue>>, DomainError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(item_key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| unavailable("GetItem", &error))?;
        Ok(output.item)
    }

    pub fn new(client: Client, table: impl Into<String>) -> DynamoStore {
        DynamoStore {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}
