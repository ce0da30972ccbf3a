//! The DynamoDB adapter. One table; every invariant is a condition or a transaction.

pub mod items;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use std::collections::HashMap;

use crate::domain::token::LiveToken;
use crate::domain::{DomainError, FieldError, User, UserId};
use items::{email_guard_pk, user_pk, EmailGuardItem, TokenItem, UserItem, GUARD, PROFILE};

#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    table: String,
}

/// Any failure to reach DynamoDB: logged here, answered as retryable.
fn unavailable<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    operation: &str,
    error: &SdkError<E, R>,
) -> DomainError {
    tracing::error!(operation, error = ?error, "DynamoDB call failed");
    DomainError::Unavailable {
        retry_after_secs: 1,
    }
}

fn item<T: serde::Serialize>(value: &T) -> Result<HashMap<String, AttributeValue>, DomainError> {
    serde_dynamo::to_item(value).map_err(|error| {
        tracing::error!(%error, "item serialisation failed");
        DomainError::Unavailable {
            retry_after_secs: 1,
        }
    })
}

fn key(pk: String, sk: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(pk)),
        ("sk".to_owned(), AttributeValue::S(sk.to_owned())),
    ])
}

fn build<T, E: std::fmt::Display>(built: Result<T, E>) -> Result<T, DomainError> {
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

    /// Creates the user, claims its email, and stores its invitation if any, all or nothing. A taken email is a
    /// conflict.
    pub async fn create_user(
        &self,
        user: &User,
        invitation: Option<&LiveToken>,
    ) -> Result<(), DomainError> {
        let guard = EmailGuardItem {
            pk: email_guard_pk(&user.email),
            sk: GUARD.into(),
            user_id: user.id,
        };
        let mut puts = vec![(item(&UserItem::from(user))?, true), (item(&guard)?, true)];
        if let Some(invitation) = invitation {
            puts.push((item(&TokenItem::from_token(invitation))?, false));
        }
        let mut transaction = self.client.transact_write_items();
        for (attributes, must_be_new) in puts {
            let mut put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(attributes));
            if must_be_new {
                put = put.condition_expression("attribute_not_exists(pk)");
            }
            transaction = transaction.transact_items(
                TransactWriteItem::builder()
                    .put(build(put.build())?)
                    .build(),
            );
        }
        match transaction.send().await {
            Ok(_) => Ok(()),
            Err(error) => {
                let email_taken = error
                    .as_service_error()
                    .and_then(|service| match service {
                        TransactWriteItemsError::TransactionCanceledException(cancelled) => {
                            cancelled.cancellation_reasons.as_ref()
                        }
                        _ => None,
                    })
                    .and_then(|reasons| reasons.get(1))
                    .and_then(|reason| reason.code.as_deref())
                    == Some("ConditionalCheckFailed");
                if email_taken {
                    Err(DomainError::Conflict(FieldError::new(
                        "email",
                        "a user with this email address already exists",
                    )))
                } else {
                    Err(unavailable("TransactWriteItems", &error))
                }
            }
        }
    }

    /// Undoes `create_invited_user` when the invitation could not be sent, so no half-created user remains.
    pub async fn remove_invited_user(
        &self,
        user: &User,
        invitation: &LiveToken,
    ) -> Result<(), DomainError> {
        let deletes = [
            (key(user_pk(&user.id), PROFILE), Some("version = :version")),
            (
                key(email_guard_pk(&user.email), GUARD),
                Some("userId = :id"),
            ),
            (
                key(
                    invitation.subject.clone(),
                    &items::token_sk(invitation.purpose),
                ),
                None,
            ),
        ];
        let mut transaction = self.client.transact_write_items();
        for (item_key, condition) in deletes {
            let mut delete = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(item_key));
            if let Some(condition) = condition {
                delete = delete.condition_expression(condition);
                if condition.contains(":version") {
                    delete = delete.expression_attribute_values(
                        ":version",
                        AttributeValue::N(user.version.to_string()),
                    );
                } else {
                    delete = delete
                        .expression_attribute_values(":id", AttributeValue::S(user.id.to_string()));
                }
            }
            transaction = transaction.transact_items(
                TransactWriteItem::builder()
                    .delete(build(delete.build())?)
                    .build(),
            );
        }
        transaction
            .send()
            .await
            .map(|_| ())
            .map_err(|error| unavailable("TransactWriteItems", &error))
    }
}
