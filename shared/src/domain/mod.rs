//! The pure core: values that parse on construction, the user aggregate, the permission table and the token rules.
//! Nothing here performs I/O.

pub mod apikey;
mod contact;
pub mod device;
mod error;
pub(crate) mod ids;
pub mod otp;
pub mod password;
pub mod permissions;
pub mod sending;
pub mod signin;
pub mod token;
pub mod totp;
mod user;

pub use contact::{Email, PhoneNumber};
pub use error::{causes, without_value, Cause, DomainError, FieldError, InputSource};
pub use ids::{AccountKey, DeviceKey, EntityId, ScanSessionId, UserId};
pub use permissions::{Operation, Principal};
pub use user::{
    validate_roles, DetailsPatch, InviteUser, MfaStatus, MfaType, PersonName, Role, RoleFamily,
    User, UserStatus, UserType,
};
