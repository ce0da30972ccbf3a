use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! uuid_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        uuid_newtype!($(#[$doc])* $name, "must be a UUID", |_: &Uuid| true);
    };
    ($(#[$doc:meta])* $name:ident, $reason:literal, $admits:expr) => {
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
                    return Err($reason);
                }
                match Uuid::try_parse(value) {
                    Ok(uuid) if ($admits)(&uuid) => Ok(Self(uuid)),
                    _ => Err($reason),
                }
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
/// QI's keys are UUID v4, 36 characters (QI's pages: `uuidv4`, 36).
fn is_v4(uuid: &Uuid) -> bool {
    uuid.get_version_num() == 4 && uuid.get_variant() == uuid::Variant::RFC4122
}

uuid_newtype!(
    /// A QI Tech bank account's `account_key`: a UUID v4.
    AccountKey,
    "must be a UUID v4 (36 characters)",
    is_v4
);
uuid_newtype!(
    /// A QI Tech device's `device_key`: a UUID v4.
    DeviceKey,
    "must be a UUID v4 (36 characters)",
    is_v4
);
uuid_newtype!(
    /// A QI Tech device_scan `session_id`: a UUID v4 (QI's own example is upper case; either case is accepted).
    ScanSessionId,
    "must be a UUID v4 (36 characters)",
    is_v4
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qi_keys_are_uuid_v4() {
        assert!("b6804f32-101e-4702-8fbc-c2dbc4c2caec"
            .parse::<DeviceKey>()
            .is_ok());
        assert!("05894BAD-C94E-4A61-B2A8-57EDAE868A0F"
            .parse::<ScanSessionId>()
            .is_ok());
        for not_v4 in [
            "b6804f32-101e-1702-8fbc-c2dbc4c2caec",
            "b6804f32-101e-4702-cfbc-c2dbc4c2caec",
            "b6804f32101e47028fbcc2dbc4c2caec",
        ] {
            assert_eq!(
                not_v4.parse::<DeviceKey>(),
                Err("must be a UUID v4 (36 characters)"),
                "{not_v4}"
            );
            assert!(not_v4.parse::<AccountKey>().is_err(), "{not_v4}");
        }
        // Any UUID still names a user.
        assert!("b6804f32-101e-1702-8fbc-c2dbc4c2caec"
            .parse::<UserId>()
            .is_ok());
    }

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
