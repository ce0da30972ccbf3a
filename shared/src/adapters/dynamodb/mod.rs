//! The DynamoDB adapter of every store port. One table; every invariant is a condition or a transaction.

mod companions;
pub mod items;
pub mod keys;
mod qi;
mod sigma;
mod tokens;
mod users;

pub use tokens::conditional_check_failed;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use std::collections::HashMap;

use crate::domain::DomainError;

#[derive(Clone, Debug)]
pub struct DynamoStore {
    pub(crate) client: Client,
    pub(crate) table: String,
}

/// Any failure to reach DynamoDB: logged here, answered as retryable.
pub(crate) fn unavailable<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    operation: &str,
    error: &SdkError<E, R>,
) -> DomainError {
    tracing::error!(operation, error = ?error, "DynamoDB call failed");
    DomainError::unavailable()
}

pub(crate) fn item<T: serde::Serialize>(
    value: &T,
) -> Result<HashMap<String, AttributeValue>, DomainError> {
    serde_dynamo::to_item(value).map_err(|error| {
        tracing::error!(%error, "item serialisation failed");
        DomainError::unavailable()
    })
}

/// A stored item as `T`; one that does not parse is logged and answered as unavailable.
pub(crate) fn parse_item<T: serde::de::DeserializeOwned>(
    raw: HashMap<String, AttributeValue>,
) -> Result<T, DomainError> {
    serde_dynamo::from_item(raw).map_err(|error| {
        tracing::error!(%error, "a stored item does not parse");
        DomainError::unavailable()
    })
}

pub(crate) fn build<T, E: std::fmt::Display>(built: Result<T, E>) -> Result<T, DomainError> {
    built.map_err(|error| {
        tracing::error!(%error, "request construction failed");
        DomainError::unavailable()
    })
}

impl DynamoStore {
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
