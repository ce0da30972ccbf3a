//! The DynamoDB adapter. One table; every invariant is a condition or a transaction.

pub mod items;
pub mod sigma;
mod tokens;
mod users;

pub(crate) use tokens::parse_token;
pub use tokens::{conditional_check_failed, QuotaSlot, ReserveError};
pub use users::{SaveError, SortField, UserListing};

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use std::collections::HashMap;

use crate::domain::{DomainError, FieldError, User, UserId};
use items::{email_guard_pk, user_pk, EmailGuardItem, UserItem, GUARD, PROFILE};

#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) client: Client,
    pub(crate) table: String,
}

/// Any failure to reach DynamoDB: logged here, answered as retryable.
pub(crate) fn unavailable<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    operation: &str,
    error: &SdkError<E, R>,
) -> DomainError {
    tracing::error!(operation, error = ?error, "DynamoDB call failed");
    DomainError::Unavailable {
        retry_after_secs: 1,
    }
}

pub(crate) fn item<T: serde::Serialize>(
    value: &T,
) -> Result<HashMap<String, AttributeValue>, DomainError> {
    serde_dynamo::to_item(value).map_err(|error| {
        tracing::error!(%error, "item serialisation failed");
        DomainError::Unavailable {
            retry_after_secs: 1,
        }
    })
}

/// A stored item as `T`; one that does not parse is logged and answered as unavailable.
pub(crate) fn parse_item<T: serde::de::DeserializeOwned>(
    raw: HashMap<String, AttributeValue>,
) -> Result<T, DomainError> {
    serde_dynamo::from_item(raw).map_err(|error| {
        tracing::error!(%error, "a stored item does not parse");
        DomainError::Unavailable {
            retry_after_secs: 1,
        }
    })
}

pub(crate) fn key(pk: String, sk: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(pk)),
        ("sk".to_owned(), AttributeValue::S(sk.to_owned())),
    ])
}

pub(crate) fn build<T, E: std::fmt::Display>(built: Result<T, E>) -> Result<T, DomainError> {
    built.map_err(|error| {
        tracing::error!(%error, "request construction failed");
        DomainError::Unavailable {
            retry_after_secs: 1,
        }
    })
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Store {
        Store {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub async fn get_user(&self, id: &UserId) -> Result<Option<User>, DomainError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(id), PROFILE)))
            .send()
            .await
            .map_err(|error| unavailable("GetItem", &error))?;
        let Some(raw) = output.item else {
            return Ok(None);
        };
        let parsed: UserItem = serde_dynamo::from_item(raw).map_err(|error| {
            tracing::error!(%error, user_id = %id, "a stored user does not parse");
            DomainError::Unavailable {
                retry_after_secs: 1,
            }
        })?;
        Ok(Some(parsed.into()))
    }

    /// Creates a user and claims its email in one transaction (used to seed). A taken email is a conflict.
    pub async fn create_user(&self, user: &User) -> Result<(), DomainError> {
        let mut transaction = self.client.transact_write_items();
        for (write, _) in self.user_creation_writes(user)? {
            transaction = transaction.transact_items(write);
        }
        transaction.send().await.map(|_| ()).map_err(|error| {
            let codes = tokens::cancellation_codes(&error);
            if codes.get(1).and_then(|c| c.as_deref()) == Some("ConditionalCheckFailed") {
                email_taken()
            } else {
                unavailable("TransactWriteItems", &error)
            }
        })
    }

    /// The writes that create `user` and claim its email, each with the error its failed condition means.
    pub fn user_creation_writes(
        &self,
        user: &User,
    ) -> Result<Vec<(TransactWriteItem, DomainError)>, DomainError> {
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
            .map(|put| TransactWriteItem::builder().put(put).build())
        };
        Ok(vec![
            (
                put(item(&UserItem::from(user))?)?,
                DomainError::Conflict(FieldError::new("id", "the user already exists")),
            ),
            (put(item(&guard)?)?, email_taken()),
        ])
    }

    /// The writes that undo `user_creation_writes`, conditioned on the user being as it was created.
    pub fn user_removal_writes(&self, user: &User) -> Result<Vec<TransactWriteItem>, DomainError> {
        let profile = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(&user.id), PROFILE)))
            .condition_expression("#version = :version")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":version", AttributeValue::N(user.version.to_string()));
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
}

pub(crate) fn email_taken() -> DomainError {
    DomainError::Conflict(FieldError::new(
        "email",
        "a user with this email address already exists",
    ))
}
