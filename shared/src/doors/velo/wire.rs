//! Velo's request and response bodies, exactly as its OpenAPI document names them.

use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;

use crate::domain::{
    Email, EntityId, MfaStatus, MfaType, PersonName, PhoneNumber, Role, User, UserId, UserStatus,
    UserType,
};

/// A six-character `verificationCode`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct VerificationCode(String);

impl VerificationCode {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for VerificationCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VerificationCode(<redacted>)")
    }
}

impl TryFrom<String> for VerificationCode {
    type Error = &'static str;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        if value.chars().count() == 6 {
            Ok(Self(value))
        } else {
            Err("size must be between 6 and 6")
        }
    }
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InviteUserRequest {
    pub email: Email,
    pub mfa_type: MfaType,
    pub sms_number: PhoneNumber,
    pub primary_contact_number: PhoneNumber,
    #[serde(default)]
    pub secondary_contact_number: Option<PhoneNumber>,
    pub roles: Vec<Role>,
    #[serde(default)]
    pub first_name: Option<PersonName>,
    #[serde(default)]
    pub last_name: Option<PersonName>,
    #[serde(default)]
    pub entity_id: Option<EntityId>,
    #[serde(default)]
    pub user_type: Option<UserType>,
    #[serde(default)]
    pub verification_code: Option<VerificationCode>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RoleBody {
    pub name: String,
}

/// Velo's `UserResponse`. Optional fields without a value are left out; `lockedOutTimestamp` is nullable.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserResponse {
    pub id: UserId,
    pub status: UserStatus,
    pub email: Email,
    pub sms_number: PhoneNumber,
    pub primary_contact_number: PhoneNumber,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secondary_contact_number: Option<PhoneNumber>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<PersonName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<PersonName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity_id: Option<EntityId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    pub roles: Vec<RoleBody>,
    pub user_type: UserType,
    pub mfa_type: MfaType,
    pub mfa_status: MfaStatus,
    pub locked_out: bool,
    pub locked_out_timestamp: Option<String>,
}

pub fn timestamp(at: OffsetDateTime) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    at.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_default()
}

impl From<&User> for UserResponse {
    fn from(user: &User) -> Self {
        UserResponse {
            id: user.id,
            status: user.status,
            email: user.email.clone(),
            sms_number: user.sms_number.clone(),
            primary_contact_number: user.primary_contact_number.clone(),
            secondary_contact_number: user.secondary_contact_number.clone(),
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            entity_id: user.entity_id,
            company_name: user.company_name.clone(),
            roles: user
                .roles
                .iter()
                .map(|role| RoleBody {
                    name: role.name().to_owned(),
                })
                .collect(),
            user_type: user.user_type,
            mfa_type: user.mfa_type,
            mfa_status: user.mfa_status,
            locked_out: user.locked_out,
            locked_out_timestamp: user.locked_out_timestamp.map(timestamp),
        }
    }
}

/// Velo's `PayeeUserSelfUpdateRequest`: absent leaves a field alone, `null` clears it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PayeeUserSelfUpdateRequest {
    #[serde(default, deserialize_with = "present")]
    pub primary_contact_number: Option<Option<PhoneNumber>>,
    #[serde(default, deserialize_with = "present")]
    pub secondary_contact_number: Option<Option<PhoneNumber>>,
    #[serde(default, deserialize_with = "present")]
    pub first_name: Option<Option<PersonName>>,
    #[serde(default, deserialize_with = "present")]
    pub last_name: Option<Option<PersonName>>,
    #[serde(default, deserialize_with = "present")]
    pub email: Option<Option<Email>>,
    #[serde(default, deserialize_with = "present")]
    pub sms_number: Option<Option<PhoneNumber>>,
}

/// Velo's `UserDetailsUpdateRequest` (admin form): the same patch, plus `mfaType` and `verificationCode`. Its fields are
/// spelled out rather than flattened, so that a bad value is reported at its own location.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserDetailsUpdateRequest {
    #[serde(default, deserialize_with = "present")]
    pub primary_contact_number: Option<Option<PhoneNumber>>,
    #[serde(default, deserialize_with = "present")]
    pub secondary_contact_number: Option<Option<PhoneNumber>>,
    #[serde(default, deserialize_with = "present")]
    pub first_name: Option<Option<PersonName>>,
    #[serde(default, deserialize_with = "present")]
    pub last_name: Option<Option<PersonName>>,
    #[serde(default, deserialize_with = "present")]
    pub email: Option<Option<Email>>,
    #[serde(default, deserialize_with = "present")]
    pub sms_number: Option<Option<PhoneNumber>>,
    #[serde(default, deserialize_with = "present")]
    pub mfa_type: Option<Option<MfaType>>,
    #[serde(default)]
    pub verification_code: Option<VerificationCode>,
}

impl UserDetailsUpdateRequest {
    pub fn into_parts(self) -> (crate::domain::DetailsPatch, Option<VerificationCode>) {
        let details = PayeeUserSelfUpdateRequest {
            primary_contact_number: self.primary_contact_number,
            secondary_contact_number: self.secondary_contact_number,
            first_name: self.first_name,
            last_name: self.last_name,
            email: self.email,
            sms_number: self.sms_number,
        };
        (details.into_patch(self.mfa_type), self.verification_code)
    }
}

impl PayeeUserSelfUpdateRequest {
    pub fn into_patch(self, mfa_type: Option<Option<MfaType>>) -> crate::domain::DetailsPatch {
        crate::domain::DetailsPatch {
            email: self.email,
            sms_number: self.sms_number,
            primary_contact_number: self.primary_contact_number,
            secondary_contact_number: self.secondary_contact_number,
            first_name: self.first_name,
            last_name: self.last_name,
            mfa_type,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleUpdateRequest {
    pub roles: Vec<Role>,
    #[serde(default)]
    pub verification_code: Option<VerificationCode>,
}

/// The admin form allows only YUBIKEY and TOTP.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AdminMfaType {
    Yubikey,
    Totp,
}

impl From<AdminMfaType> for MfaType {
    fn from(value: AdminMfaType) -> Self {
        match value {
            AdminMfaType::Yubikey => MfaType::Yubikey,
            AdminMfaType::Totp => MfaType::Totp,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnregisterMfaRequest {
    pub mfa_type: AdminMfaType,
    #[serde(default)]
    pub verification_code: Option<VerificationCode>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SelfMfaTypeUnregisterRequest {
    pub mfa_type: MfaType,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SelfUpdatePasswordRequest {
    pub old_password: crate::domain::password::Password,
    pub new_password: crate::domain::password::Password,
}

#[derive(Debug, Deserialize)]
pub struct PasswordRequest {
    pub password: crate::domain::password::Password,
}

#[derive(Debug, Serialize)]
pub struct ValidatePasswordResponse {
    pub score: u8,
    pub valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    pub suggestions: Vec<String>,
}

/// Velo's `PagedUserResponse`.
#[derive(Debug, Serialize)]
pub struct PagedUserResponse {
    pub page: PageBlock,
    pub links: Vec<PageLink>,
    pub content: Vec<UserResponse>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PageBlock {
    pub number_of_elements: u64,
    pub total_elements: u64,
    pub total_pages: u64,
    pub page: u64,
    pub page_size: u64,
}

#[derive(Debug, Serialize)]
pub struct PageLink {
    pub rel: &'static str,
    pub href: String,
}
