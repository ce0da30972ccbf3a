//! QI Tech bank accounts and their devices: the values and rules the QI front door works on.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use time::OffsetDateTime;

use super::token::{Channel, Subject};
use super::{AccountKey, DeviceKey, Email, PhoneNumber};

/// Why an account admits no device operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceRefusal {
    BlockedOrClosed,
    Hub,
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
    pub fn admits_devices(&self) -> Result<(), DeviceRefusal> {
        match self.status {
            AccountStatus::Active => Ok(()),
            AccountStatus::Blocked | AccountStatus::Closed => Err(DeviceRefusal::BlockedOrClosed),
            AccountStatus::Hub => Err(DeviceRefusal::Hub),
        }
    }

    pub fn approver(&self, document: &DocumentNumber) -> Option<&Approver> {
        self.approvers
            .iter()
            .find(|approver| &approver.document_number == document)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeviceStatus {
    #[serde(rename = "pending_2fa_approval")]
    PendingApproval,
    #[serde(rename = "active")]
    Active,
    #[serde(rename = "disabled")]
    Disabled,
}

impl DeviceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::PendingApproval => "pending_2fa_approval",
            DeviceStatus::Active => "active",
            DeviceStatus::Disabled => "disabled",
        }
    }
}

/// How the approver is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContactType {
    Sms,
    Email,
}

impl ContactType {
    pub fn channel(self) -> Channel {
        match self {
            ContactType::Sms => Channel::Sms,
            ContactType::Email => Channel::Email,
        }
    }
}

impl FromStr for ContactType {
    type Err = &'static str;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "sms" => Ok(ContactType::Sms),
            "email" => Ok(ContactType::Email),
            _ => Err("must be one of sms, email"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub account_key: AccountKey,
    pub device_key: DeviceKey,
    pub session_id: Option<String>,
    pub status: DeviceStatus,
    pub approver_document_number: DocumentNumber,
    /// How the first token was requested: a resend without `contact_type` goes this way.
    pub contact_type: ContactType,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// Wrong tokens tried on this device, counted with each failed check (in the same transaction). The token item
    /// counts them too, but TTL deletes it some time after expiry: this count is what a new token starts from, so a
    /// token removed by TTL never grants fresh attempts.
    pub failed_attempts: u32,
    pub activated_at: Option<OffsetDateTime>,
    pub disabled_at: Option<OffsetDateTime>,
    pub version: u64,
}

impl Device {
    /// The subject of the device's approval token.
    pub fn subject(&self) -> Subject {
        Subject::Device(self.account_key, self.device_key)
    }
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
            Err(DeviceRefusal::BlockedOrClosed)
        );
        assert_eq!(
            account(AccountStatus::Closed).admits_devices(),
            Err(DeviceRefusal::BlockedOrClosed)
        );
        assert_eq!(
            account(AccountStatus::Hub).admits_devices(),
            Err(DeviceRefusal::Hub)
        );
    }
}
