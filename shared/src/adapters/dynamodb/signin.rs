//! `SignInStore` on DynamoDB: a session is an item in its user's partition, written only on the version it read.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;

use super::items::{EmailGuardItem, SignInItem, UserItem};
use super::keys::{email_guard_pk, key, sign_in_sk, user_pk, GUARD, PROFILE};
use super::{item, parse_item, unavailable, DynamoStore};
use crate::domain::signin::{SessionId, SignInSession};
use crate::domain::token::{LiveToken, TokenPurpose};
use crate::domain::{Cause, DomainError, Email, User, UserId};
use crate::ports::{SignInStore, UserStore};

fn parse_sign_in(
    raw: std::collections::HashMap<String, AttributeValue>,
) -> Result<SignInSession, DomainError> {
    parse_item::<SignInItem>(raw)?
        .into_session()
        .ok_or_else(|| {
            DomainError::unavailable_because(Cause::described(
                "a stored sign-in session does not parse",
            ))
        })
}

#[async_trait]
impl SignInStore for DynamoStore {
    async fn find_user_by_email_with_token(
        &self,
        email: &Email,
        purpose: TokenPurpose,
    ) -> Result<(Option<User>, Option<LiveToken>), DomainError> {
        let Some(raw) = self.get_one(key(email_guard_pk(email), GUARD)).await? else {
            return Ok((None, None));
        };
        let guard = parse_item::<EmailGuardItem>(raw)?;
        let (user, token) = self.get_user_with_token(&guard.user_id, purpose).await?;
        // The guard and the profile are written together; a profile whose email moved on is not this email's.
        match user.filter(|user| user.email.key() == email.key()) {
            Some(user) => Ok((Some(user), token)),
            None => Ok((None, None)),
        }
    }

    async fn get_user_with_sign_in(
        &self,
        user: &UserId,
        session: &SessionId,
    ) -> Result<(Option<User>, Option<SignInSession>), DomainError> {
        let [profile, sign_in] = self
            .get_many([
                key(user_pk(user), PROFILE),
                key(user_pk(user), &sign_in_sk(session)),
            ])
            .await?;
        Ok((
            profile
                .map(parse_item::<UserItem>)
                .transpose()?
                .map(User::from),
            sign_in.map(parse_sign_in).transpose()?,
        ))
    }

    async fn save_sign_in(
        &self,
        before: &SignInSession,
        after: &SignInSession,
    ) -> Result<bool, DomainError> {
        let outcome = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item(&SignInItem::from(after))?))
            .condition_expression("#version = :version")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":version", AttributeValue::N(before.version.to_string()))
            .send()
            .await;
        match outcome {
            Ok(_) => Ok(true),
            Err(error)
                if matches!(
                    error.as_service_error(),
                    Some(PutItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(false)
            }
            Err(error) => Err(unavailable("PutItem", &error)),
        }
    }
}
