//! QI bank accounts: items in the table, created by the backoffice seed (`local-stack`) or by tests.

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use time::OffsetDateTime;

use super::QiError;
use crate::domain::{AccountKey, DomainError, Email, FieldError, PhoneNumber};
use crate::store::items::PROFILE;
use crate::store::{item, key, parse_item, unavailable, Store};

pub fn account_pk(account: &AccountKey) -> String {
    format!("ACCOUNT#{account}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    Active,
    Blocked,
    Closed,
    Hub,
}

impl FromStr for AccountStatus {
    type Err = &'static str;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "active" => Ok(AccountStatus::Active),
            "blocked" => Ok(AccountStatus::Blocked),
            "closed" => Ok(AccountStatus::Closed),
            "hub" => Ok(AccountStatus::Hub),
            _ => Err("must be one of active, blocked, closed, hub"),
        }
    }
}

/// A Brazilian individual taxpayer number (CPF): 11 digits, no punctuation.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DocumentNumber(String);

impl DocumentNumber {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for DocumentNumber {
    type Err = &'static str;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        if value.len() == 11 && value.bytes().all(|b| b.is_ascii_digit()) {
            Ok(DocumentNumber(value.to_owned()))
        } else {
            Err("must be 11 digits")
        }
    }
}

impl TryFrom<String> for DocumentNumber {
    type Error = &'static str;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<DocumentNumber> for String {
    fn from(value: DocumentNumber) -> String {
        value.0
    }
}

impl fmt::Debug for DocumentNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocumentNumber(*********{})", &self.0[9..])
    }
}

/// A person who approves new devices of an account, and where their tokens go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Approver {
    pub document_number: DocumentNumber,
    pub phone: PhoneNumber,
    pub email: Email,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub account_key: AccountKey,
    pub status: AccountStatus,
    pub approvers: Vec<Approver>,
    pub created_at: OffsetDateTime,
}

impl Account {
    /// May devices be created, approved or sent tokens on this account?
    pub fn admits_devices(&self) -> Result<(), QiError> {
        match self.status {
            AccountStatus::Active => Ok(()),
            AccountStatus::Blocked | AccountStatus::Closed => Err(QiError::AccountBlockedOrClosed),
            AccountStatus::Hub => Err(QiError::HubAccount),
        }
    }

    pub fn approver(&self, document: &DocumentNumber) -> Option<&Approver> {
        self.approvers
            .iter()
            .find(|approver| &approver.document_number == document)
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccountItem {
    pk: String,
    sk: String,
    account_key: AccountKey,
    account_status: AccountStatus,
    approvers: Vec<Approver>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
}

impl Store {
    /// Creates a QI account; an existing `account_key` is a conflict. For seeding and tests: no request path creates
    /// accounts.
    pub async fn create_qi_account(&self, account: &Account) -> Result<(), DomainError> {
        let attributes = item(&AccountItem {
            pk: account_pk(&account.account_key),
            sk: PROFILE.into(),
            account_key: account.account_key,
            account_status: account.status,
            approvers: account.approvers.clone(),
            created_at: account.created_at,
        })?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(attributes))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map(|_| ())
            .map_err(|error| {
                if error
                    .as_service_error()
                    .is_some_and(|service| service.is_conditional_check_failed_exception())
                {
                    DomainError::Conflict(FieldError::new(
                        "account_key",
                        "the account already exists",
                    ))
                } else {
                    unavailable("PutItem", &error)
                }
            })
    }

    pub async fn get_qi_account(
        &self,
        account: &AccountKey,
    ) -> Result<Option<Account>, DomainError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(account_pk(account), PROFILE)))
            .send()
            .await
            .map_err(|error| unavailable("GetItem", &error))?;
        let Some(raw) = output.item else {
            return Ok(None);
        };
        parse_account(raw).map(Some)
    }
}

pub(super) fn parse_account(
    raw: std::collections::HashMap<String, AttributeValue>,
) -> Result<Account, DomainError> {
    let parsed: AccountItem = parse_item(raw)?;
    Ok(Account {
        account_key: parsed.account_key,
        status: parsed.account_status,
        approvers: parsed.approvers,
        created_at: parsed.created_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_numbers_are_eleven_digits_and_mask_in_debug() {
        let document: DocumentNumber = "12345678909".parse().unwrap();
        assert_eq!(format!("{document:?}"), "DocumentNumber(*********09)");
        for bad in [
            "1234567890",
            "123456789012",
            "123.456.789-09",
            "1234567890a",
            "",
        ] {
            assert!(bad.parse::<DocumentNumber>().is_err(), "{bad}");
        }
    }

    #[test]
    fn only_active_accounts_admit_devices() {
        let account = |status| Account {
            account_key: AccountKey::random(),
            status,
            approvers: Vec::new(),
            created_at: OffsetDateTime::UNIX_EPOCH,
        };
        assert_eq!(account(AccountStatus::Active).admits_devices(), Ok(()));
        assert_eq!(
            account(AccountStatus::Blocked).admits_devices(),
            Err(QiError::AccountBlockedOrClosed)
        );
        assert_eq!(
            account(AccountStatus::Closed).admits_devices(),
            Err(QiError::AccountBlockedOrClosed)
        );
        assert_eq!(
            account(AccountStatus::Hub).admits_devices(),
            Err(QiError::HubAccount)
        );
    }
}
