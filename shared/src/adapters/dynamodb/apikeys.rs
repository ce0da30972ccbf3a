//! `ApiKeyStore` on DynamoDB: an application and its name guard are written together; a key only beside an
//! application that exists (a condition check in the same transaction).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{ConditionCheck, Put, TransactWriteItem};

use super::items::{ApiKeyItem, ApplicationItem, NameGuardItem};
use super::keys::{api_key_pk, application_name_sk, application_sk, key, payor_pk, PROFILE};
use super::tokens::cancellation_codes;
use super::{build, item, parse_item, unavailable, DynamoStore};
use crate::domain::apikey::{ApiKey, ApiKeyId, Application, ApplicationId};
use crate::domain::{Cause, DomainError, EntityId, FieldError};
use crate::ports::ApiKeyStore;

fn put_new(
    table: &str,
    attributes: std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
) -> Result<TransactWriteItem, DomainError> {
    Ok(TransactWriteItem::builder()
        .put(build(
            Put::builder()
                .table_name(table)
                .set_item(Some(attributes))
                .condition_expression("attribute_not_exists(pk)")
                .build(),
        )?)
        .build())
}

/// A failed transaction: `refusal` when item `index`'s condition failed, else the failure itself.
fn refused_at<R: std::fmt::Debug>(
    error: &aws_sdk_dynamodb::error::SdkError<
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
        R,
    >,
    index: usize,
    refusal: impl FnOnce() -> DomainError,
) -> DomainError {
    let codes = cancellation_codes(error);
    if codes.get(index).and_then(|code| code.as_deref()) == Some("ConditionalCheckFailed") {
        refusal()
    } else {
        unavailable("TransactWriteItems", error)
    }
}

fn stored_does_not_parse(what: &str) -> DomainError {
    DomainError::unavailable_because(Cause::described(format!("a stored {what} does not parse")))
}

#[async_trait]
impl ApiKeyStore for DynamoStore {
    async fn create_application(&self, application: &Application) -> Result<(), DomainError> {
        let guard = NameGuardItem {
            pk: payor_pk(&application.payor_id),
            sk: application_name_sk(&application.name_key()),
            application_id: application.application_id,
        };
        let outcome = self
            .client
            .transact_write_items()
            .transact_items(put_new(
                &self.table,
                item(&ApplicationItem::from(application))?,
            )?)
            .transact_items(put_new(&self.table, item(&guard)?)?)
            .send()
            .await;
        outcome.map(|_| ()).map_err(|error| {
            refused_at(&error, 1, || {
                DomainError::Conflict(FieldError::new(
                    "name",
                    "the payor already has an application with this name",
                ))
            })
        })
    }

    async fn get_application(
        &self,
        payor: &EntityId,
        application: &ApplicationId,
    ) -> Result<Option<Application>, DomainError> {
        self.get_one(key(payor_pk(payor), &application_sk(application)))
            .await?
            .map(|raw| {
                parse_item::<ApplicationItem>(raw)?
                    .into_application()
                    .ok_or_else(|| stored_does_not_parse("application"))
            })
            .transpose()
    }

    async fn create_api_key(&self, api_key: &ApiKey) -> Result<(), DomainError> {
        let application_exists = build(
            ConditionCheck::builder()
                .table_name(&self.table)
                .set_key(Some(key(
                    payor_pk(&api_key.payor_id),
                    &application_sk(&api_key.application_id),
                )))
                .condition_expression("attribute_exists(pk)")
                .build(),
        )?;
        let outcome = self
            .client
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .condition_check(application_exists)
                    .build(),
            )
            .transact_items(put_new(&self.table, item(&ApiKeyItem::from(api_key))?)?)
            .send()
            .await;
        outcome
            .map(|_| ())
            .map_err(|error| refused_at(&error, 0, || DomainError::NotFound("application")))
    }

    async fn get_api_key(&self, api_key: &ApiKeyId) -> Result<Option<ApiKey>, DomainError> {
        self.get_one(key(api_key_pk(api_key), PROFILE))
            .await?
            .map(|raw| {
                parse_item::<ApiKeyItem>(raw)?
                    .into_api_key()
                    .ok_or_else(|| stored_does_not_parse("API key"))
            })
            .transpose()
    }

    async fn delete_api_key(&self, api_key: &ApiKey) -> Result<bool, DomainError> {
        let output = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(api_key_pk(&api_key.key_id), PROFILE)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|error| unavailable("DeleteItem", &error))?;
        Ok(output.attributes.is_some_and(|old| !old.is_empty()))
    }
}
