use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! uuid_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(Uuid);

        impl $name {
            pub fn random() -> Self {
                Self(Uuid::new_v4())
            }

            pub fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = &'static str;

            /// Accepts only the canonical hyphenated form, as `format: uuid` clients send it.
            fn from_str(value: &str) -> Result<Self, Self::Err> {
                if value.len() != 36 {
                    return Err("must be a UUID");
                }
                Uuid::try_parse(value).map(Self).map_err(|_| "must be a UUID")
            }
        }

        impl TryFrom<String> for $name {
            type Error = &'static str;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                value.parse()
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.to_string()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
    };
}

uuid_newtype!(
    /// The id of a user.
    UserId
);
uuid_newtype!(
    /// A payor's or payee's id: the tenant a user belongs to.
    EntityId
);
uuid_newtype!(
    /// A QI Tech bank account's `account_key`.
    AccountKey
);
uuid_newtype!(
    /// A QI Tech device's `device_key`.
    DeviceKey
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_canonical_uuids_only() {
        let id: UserId = "8bbf301c-948f-4445-b411-357eec53e441".parse().unwrap();
        assert_eq!(id.to_string(), "8bbf301c-948f-4445-b411-357eec53e441");
        assert!("8bbf301c948f4445b411357eec53e441"
            .parse::<UserId>()
            .is_err());
        assert!("not-a-uuid".parse::<UserId>().is_err());
        assert!("".parse::<EntityId>().is_err());
        assert!("8BBF301C-948F-4445-B411-357EEC53E441"
            .parse::<UserId>()
            .is_ok());
    }
}

uuid_newtype!(
    /// The id of a payor's application (a group of API keys).
    ApplicationId
);
uuid_newtype!(
    /// An API key's id: the `apiKey` half of its credentials.
    ApiKeyId
);

/// The `sub` of an API key's token, parsed as a UUID like every `sub`, is the key's id.
impl From<UserId> for ApiKeyId {
    fn from(id: UserId) -> ApiKeyId {
        ApiKeyId(id.0)
    }
}
