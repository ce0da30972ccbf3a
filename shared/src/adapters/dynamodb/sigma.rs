//! Sigma's widgets and sessions. A session is one item next to its one live code, in one partition.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, TransactWriteItem, Update};
use time::OffsetDateTime;

use super::items::{SessionItem, WidgetItem};
use super::keys::{key, session_pk, token_key, widget_pk, PROFILE, SESSION_SK};
use super::tokens::{cancellation, parse_token, Cancellation};
use super::{build, item, parse_item, unavailable, DynamoStore};
use crate::domain::otp::{OtpSession, Widget};
use crate::domain::token::{LiveToken, Subject, TokenPurpose};
use crate::domain::{Cause, DomainError, FieldError};
use crate::ports::{Closing, SessionStore};

#[async_trait]
impl SessionStore for DynamoStore {
    async fn create_widget(&self, widget: &Widget, now: OffsetDateTime) -> Result<(), DomainError> {
        let outcome = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item(&WidgetItem::new(widget, now))?))
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

    async fn get_widget(&self, widget_id: &str) -> Result<Option<Widget>, DomainError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(widget_pk(widget_id), PROFILE)))
            .send()
            .await
            .map_err(|error| unavailable("GetItem", &error))?;
        output
            .item
            .map(|raw| parse_item::<WidgetItem>(raw).map(Widget::from))
            .transpose()
    }

    async fn get_session_with_token(
        &self,
        request_id: &str,
    ) -> Result<(Option<OtpSession>, Option<LiveToken>), DomainError> {
        let subject = Subject::OtpSession(request_id.to_owned());
        let [session, token] = self
            .get_many([
                key(session_pk(request_id), SESSION_SK),
                token_key(&subject, TokenPurpose::OtpSession),
            ])
            .await?;
        let session =
            match session {
                None => None,
                Some(raw) => Some(parse_item::<SessionItem>(raw)?.into_session().ok_or_else(
                    || {
                        DomainError::unavailable_because(Cause::described(format!(
                            "the stored times of session {request_id} do not parse"
                        )))
                    },
                )?),
            };
        Ok((session, token.and_then(parse_token)))
    }

    async fn mark_channel_seen(&self, request_id: &str, seen: &str) -> Result<(), DomainError> {
        let outcome = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(session_pk(request_id), SESSION_SK)))
            .update_expression("SET #seen = :seen")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#seen", "channelSeen")
            .expression_attribute_values(":seen", AttributeValue::S(seen.to_owned()))
            .send()
            .await;
        match outcome {
            Ok(_) => Ok(()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(error) => Err(unavailable("UpdateItem", &error)),
        }
    }

    async fn close_session(
        &self,
        request_id: &str,
        now: i64,
        seen: Option<&LiveToken>,
    ) -> Result<Closing, DomainError> {
        let close = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(session_pk(request_id), SESSION_SK)))
            .update_expression("SET #closed = :now")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(#closed)")
            .expression_attribute_names("#closed", "closedAt")
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()));
        let subject = Subject::OtpSession(request_id.to_owned());
        let code = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(token_key(&subject, TokenPurpose::OtpSession)));
        let code = match seen {
            Some(token) => code
                .condition_expression("#consumed = :consumed")
                .expression_attribute_names("#consumed", "consumed")
                .expression_attribute_values(":consumed", AttributeValue::Bool(token.consumed)),
            None => code.condition_expression("attribute_not_exists(pk)"),
        };
        let outcome = self
            .client
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .update(build(close.build())?)
                    .build(),
            )
            .transact_items(
                TransactWriteItem::builder()
                    .condition_check(build(code.build())?)
                    .build(),
            )
            .send()
            .await;
        match outcome {
            Ok(_) => Ok(Closing::Closed),
            Err(error) => match cancellation(&error) {
                Cancellation::Condition(0) => Ok(Closing::AlreadyClosed),
                Cancellation::Condition(_) | Cancellation::Raced => Ok(Closing::CodeChanged),
                Cancellation::Other => Err(unavailable("TransactWriteItems", &error)),
            },
        }
    }
}
