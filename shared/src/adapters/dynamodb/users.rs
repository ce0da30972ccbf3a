//! User writes beyond creation, and listing. Every write is conditioned on the version that was read.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, Select, TransactWriteItem};
use std::collections::HashMap;

use super::items::{EmailGuardItem, UserItem};
use super::keys::{
    email_guard_pk, key, tenant_key, token_key, token_sk, user_pk, EVERYONE, GUARD,
    INDEX_ALL_BY_EMAIL, INDEX_ALL_BY_LAST_NAME, INDEX_TENANT_BY_EMAIL, INDEX_TENANT_BY_LAST_NAME,
    PROFILE,
};
use super::tokens::{cancellation, cancellation_codes, parse_token, Cancellation};
use super::{build, item, parse_item, unavailable, DynamoStore};
use crate::domain::permissions::Reach;
use crate::domain::token::{LiveToken, Subject, TokenPurpose};
use crate::domain::{without_value, Cause, DomainError, FieldError, User, UserId, UserStatus};
use crate::ports::{Companion, SaveError, SortField, UserListing, UserStore};

pub(super) fn email_taken() -> DomainError {
    DomainError::Conflict(FieldError::new(
        "email",
        "a user with this email address already exists",
    ))
}

fn parse_user(raw: HashMap<String, AttributeValue>) -> Result<User, DomainError> {
    serde_dynamo::from_item::<_, UserItem>(raw)
        .map(User::from)
        .map_err(|error| {
            DomainError::unavailable_because(Cause::described(format!(
                "a stored user does not parse: {}",
                without_value(&error.to_string())
            )))
        })
}

const TOKEN_PURPOSES_OF_A_USER: [TokenPurpose; 6] = [
    TokenPurpose::Invitation,
    TokenPurpose::MfaRegistration,
    TokenPurpose::SmsVerification,
    TokenPurpose::SignIn,
    TokenPurpose::PasswordReset,
    TokenPurpose::MfaEnrolment,
];

impl DynamoStore {
    fn guard_writes(
        &self,
        before: &User,
        after: &User,
    ) -> Result<Vec<TransactWriteItem>, DomainError> {
        let release = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(email_guard_pk(&before.email), GUARD)))
            .condition_expression("#user = :id")
            .expression_attribute_names("#user", "userId")
            .expression_attribute_values(":id", AttributeValue::S(before.id.to_string()));
        let claim = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item(&EmailGuardItem {
                pk: email_guard_pk(&after.email),
                sk: GUARD.into(),
                user_id: after.id,
            })?))
            .condition_expression("attribute_not_exists(pk)");
        Ok(vec![
            TransactWriteItem::builder()
                .delete(build(release.build())?)
                .build(),
            TransactWriteItem::builder()
                .put(build(claim.build())?)
                .build(),
        ])
    }
}

#[async_trait]
impl UserStore for DynamoStore {
    async fn get_user(&self, id: &UserId) -> Result<Option<User>, DomainError> {
        self.get_user_within(id, &Reach::Everyone).await
    }

    async fn get_user_within(
        &self,
        id: &UserId,
        reach: &Reach,
    ) -> Result<Option<User>, DomainError> {
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
        let within = match reach {
            Reach::Everyone => true,
            Reach::Tenant {
                entity_id,
                user_type,
            } => {
                let text = |name: &str| match raw.get(name) {
                    Some(AttributeValue::S(value)) => Some(value.as_str()),
                    _ => None,
                };
                text("tenant") == Some(tenant_key(Some(entity_id)).as_str())
                    && text("userType") == Some(user_type.as_str())
            }
            Reach::Nobody => false,
        };
        if within {
            parse_user(raw).map(Some)
        } else {
            Ok(None)
        }
    }

    async fn get_user_with_token(
        &self,
        id: &UserId,
        purpose: TokenPurpose,
    ) -> Result<(Option<User>, Option<LiveToken>), DomainError> {
        let [user, token] = self
            .get_many([
                key(user_pk(id), PROFILE),
                token_key(&Subject::User(*id), purpose),
            ])
            .await?;
        Ok((
            user.map(parse_item::<UserItem>)
                .transpose()?
                .map(User::from),
            token.and_then(parse_token),
        ))
    }

    async fn create_user(&self, user: &User) -> Result<(), DomainError> {
        let mut transaction = self.client.transact_write_items();
        for write in self.user_creation_writes(user)? {
            transaction = transaction.transact_items(write);
        }
        transaction.send().await.map(|_| ()).map_err(|error| {
            let codes = cancellation_codes(&error);
            if codes.get(1).and_then(|c| c.as_deref()) == Some("ConditionalCheckFailed") {
                email_taken()
            } else {
                unavailable("TransactWriteItems", &error)
            }
        })
    }

    /// Saves `after` over `before`. A changed email moves its guard in the same transaction: a taken address is a
    /// conflict and nothing changes.
    async fn save_user(&self, before: &User, after: &User) -> Result<(), SaveError> {
        let next = User {
            version: before.version + 1,
            ..after.clone()
        };
        let mut writes = vec![self.versioned_put(&next, before.version)?];
        if before.email.key() != after.email.key() {
            writes.extend(self.guard_writes(before, after)?);
        }
        let mut transaction = self.client.transact_write_items();
        for write in writes {
            transaction = transaction.transact_items(write);
        }
        let failure = match transaction.send().await {
            Ok(_) => return Ok(()),
            // The profile, then (when the email moves) the old guard and the new one.
            Err(error) => match cancellation(&error) {
                Cancellation::Raced | Cancellation::Condition(0 | 1) => SaveError::Stale,
                Cancellation::Condition(_) => SaveError::Failed(email_taken()),
                Cancellation::Other => SaveError::Failed(unavailable("TransactWriteItems", &error)),
            },
        };
        self.saved_after_all(&next, failure).await
    }

    async fn save_user_with(
        &self,
        before: &User,
        after: &User,
        with: &[Companion],
    ) -> Result<(), SaveError> {
        if before.email.key() != after.email.key() {
            return Err(SaveError::Failed(DomainError::unavailable_because(
                Cause::described("save_user_with does not move an email"),
            )));
        }
        let next = User {
            version: before.version + 1,
            ..after.clone()
        };
        let companions = self.companion_writes(with)?;
        let conflicts: Vec<DomainError> = companions.iter().map(|(_, c)| c.clone()).collect();
        let mut transaction = self
            .client
            .transact_write_items()
            .transact_items(self.versioned_put(&next, before.version)?);
        for (write, _) in companions {
            transaction = transaction.transact_items(write);
        }
        let failure = match transaction.send().await {
            Ok(_) => return Ok(()),
            Err(error) => match cancellation(&error) {
                Cancellation::Raced | Cancellation::Condition(0) => SaveError::Stale,
                Cancellation::Condition(i) => SaveError::Failed(
                    conflicts
                        .get(i - 1)
                        .cloned()
                        .unwrap_or_else(|| unavailable("TransactWriteItems", &error)),
                ),
                Cancellation::Other => SaveError::Failed(unavailable("TransactWriteItems", &error)),
            },
        };
        self.saved_after_all(&next, failure).await
    }

    /// Deletes the user, frees its email and revokes its live tokens, in one transaction.
    async fn delete_user(&self, user: &User) -> Result<(), SaveError> {
        let mut writes = self.user_removal_writes(user)?;
        for purpose in TOKEN_PURPOSES_OF_A_USER {
            let delete = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key(user_pk(&user.id), &token_sk(purpose))));
            writes.push(
                TransactWriteItem::builder()
                    .delete(build(delete.build())?)
                    .build(),
            );
        }
        let mut transaction = self.client.transact_write_items();
        for write in writes {
            transaction = transaction.transact_items(write);
        }
        let failure = match transaction.send().await {
            Ok(_) => return Ok(()),
            Err(error) => {
                let codes = cancellation_codes(&error);
                if codes.iter().any(|c| {
                    matches!(
                        c.as_deref(),
                        Some("ConditionalCheckFailed" | "TransactionConflict")
                    )
                }) {
                    SaveError::Stale
                } else {
                    SaveError::Failed(unavailable("TransactWriteItems", &error))
                }
            }
        };
        // A user that is gone was deleted, by this request (its answer lost) or by another: either way, as asked.
        match self.get_user(&user.id).await {
            Ok(None) => Ok(()),
            _ => Err(failure),
        }
    }

    /// One page of users and the total count. Served by `Query` on an index (never `Scan`): the page's Query calls
    /// read the first `page × pageSize` matching users in index order, and one `Select: COUNT` Query counts them all.
    async fn list_users(&self, listing: &UserListing) -> Result<(Vec<User>, u64), DomainError> {
        let (index, partition_attribute, partition) = match (&listing.tenant, listing.sort) {
            (None, SortField::Email) => (INDEX_ALL_BY_EMAIL, "everyone", EVERYONE.to_owned()),
            (None, SortField::LastName) => {
                (INDEX_ALL_BY_LAST_NAME, "everyone", EVERYONE.to_owned())
            }
            (Some(tenant), SortField::Email) => {
                (INDEX_TENANT_BY_EMAIL, "tenant", tenant_key(tenant.as_ref()))
            }
            (Some(tenant), SortField::LastName) => (
                INDEX_TENANT_BY_LAST_NAME,
                "tenant",
                tenant_key(tenant.as_ref()),
            ),
        };
        let mut filters = Vec::new();
        let mut names = HashMap::from([("#partition".to_owned(), partition_attribute.to_owned())]);
        let mut values = HashMap::from([(":partition".to_owned(), AttributeValue::S(partition))]);
        if let Some(user_type) = listing.user_type {
            filters.push("#userType = :userType");
            names.insert("#userType".into(), "userType".into());
            values.insert(
                ":userType".into(),
                AttributeValue::S(user_type.as_str().into()),
            );
        }
        if let Some(status) = listing.status {
            filters.push("#status = :status");
            names.insert("#status".into(), "status".into());
            let status = match status {
                UserStatus::Enabled => "ENABLED",
                UserStatus::Disabled => "DISABLED",
                UserStatus::Pending => "PENDING",
            };
            values.insert(":status".into(), AttributeValue::S(status.into()));
        }
        if let Some(payee_type) = &listing.payee_type {
            filters.push("#payeeType = :payeeType");
            names.insert("#payeeType".into(), "payeeType".into());
            values.insert(":payeeType".into(), AttributeValue::S(payee_type.clone()));
        }
        let filter = (!filters.is_empty()).then(|| filters.join(" AND "));
        let partition_query = || {
            self.client
                .query()
                .table_name(&self.table)
                .index_name(index)
                .key_condition_expression("#partition = :partition")
                .set_filter_expression(filter.clone())
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
        };
        let wanted = (listing.page as usize) * (listing.page_size as usize);
        let skip = wanted - listing.page_size as usize;

        let mut users = Vec::new();
        let mut matched = 0usize;
        let mut start = None;
        loop {
            let output = partition_query()
                .scan_index_forward(!listing.descending)
                .limit((wanted - matched).clamp(1, 1000) as i32)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|error| unavailable("Query", &error))?;
            for raw in output.items.unwrap_or_default() {
                matched += 1;
                if matched > skip && matched <= wanted {
                    users.push(parse_user(raw)?);
                }
            }
            start = output.last_evaluated_key;
            if matched >= wanted || start.is_none() {
                break;
            }
        }

        let mut total = 0u64;
        let mut start = None;
        loop {
            let output = partition_query()
                .select(Select::Count)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|error| unavailable("Query", &error))?;
            total += output.count.max(0) as u64;
            start = output.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        Ok((users, total))
    }
}

impl DynamoStore {
    /// A user write that failed, or found the user moved on, may be this very write with its answer lost (a timeout,
    /// or an SDK retry failing the condition its first attempt had met): it happened when the stored user is exactly
    /// `next`, which only this write makes (the next version, with these fields).
    async fn saved_after_all(&self, next: &User, failure: SaveError) -> Result<(), SaveError> {
        let may_have_happened = matches!(
            failure,
            SaveError::Stale | SaveError::Failed(DomainError::Unavailable { .. })
        );
        if may_have_happened {
            if let Ok(Some(stored)) = self.get_user(&next.id).await {
                // Compared as stored: the item keeps times to the second.
                let as_stored = |user: &User| item(&UserItem::from(user)).ok();
                let stored = as_stored(&stored);
                if stored.is_some() && stored == as_stored(next) {
                    tracing::info!(user_id = %next.id, "a user write's lost answer was reconciled");
                    return Ok(());
                }
            }
        }
        Err(failure)
    }
}
