//! Velo's applications and API keys: a payor's programmatic users. A key signs in with `client_credentials`
//! (`Basic base64(apiKey:apiSecret)`) and acts with its one role on its payor only.

use time::OffsetDateTime;
use uuid::Uuid;

use super::token::CodeHasher;
use super::{DomainError, EntityId, Role};

pub use super::ids::{ApiKeyId, ApplicationId};

/// A name or a description as Velo bounds them: `name` 2 to 100 characters, `description` 2 to 1,024.
fn bounded(field: &str, value: &str, max: usize) -> Result<String, DomainError> {
    let length = value.chars().count();
    if (2..=max).contains(&length) {
        Ok(value.to_owned())
    } else {
        Err(DomainError::invalid_body(
            field,
            format!("size must be between 2 and {max}"),
        ))
    }
}

/// A group of a payor's API keys (Velo's `PayorCreateApplicationRequest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    pub payor_id: EntityId,
    pub application_id: ApplicationId,
    pub name: String,
    pub description: Option<String>,
    pub created_at: OffsetDateTime,
}

impl Application {
    pub fn new(
        payor_id: EntityId,
        name: &str,
        description: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Application, DomainError> {
        Ok(Application {
            payor_id,
            application_id: ApplicationId::random(),
            name: bounded("name", name, 100)?,
            description: description
                .map(|text| bounded("description", text, 1024))
                .transpose()?,
            created_at: now,
        })
    }

    /// Application names are unique per payor, whatever their case.
    pub fn name_key(&self) -> String {
        self.name.to_lowercase()
    }
}

/// An API key: its secret is stored only as a keyed hash, and shown once, when it is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub key_id: ApiKeyId,
    pub payor_id: EntityId,
    pub application_id: ApplicationId,
    pub name: String,
    pub description: Option<String>,
    /// Exactly one of the payor roles Velo offers keys (`payor.admin`, `payor.support`).
    pub role: Role,
    pub secret_digest: String,
    pub created_at: OffsetDateTime,
}

/// An API secret in clear: a random UUID, as Velo's document shapes it. It exists between issue and the response
/// that carries it, and between the request that presents it and its hash.
pub struct ApiSecret(String);

impl ApiSecret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ApiSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiSecret(<redacted>)")
    }
}

const KEY_KIND: &str = "API_KEY";

/// What a client asks of a new key (Velo's `PayorCreateApiKeyRequest`), parsed: a bounded name and description, and
/// exactly one of the payor roles Velo offers keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyDetails {
    pub name: String,
    pub description: Option<String>,
    pub role: Role,
}

impl KeyDetails {
    pub fn parse(
        name: &str,
        description: Option<&str>,
        roles: &[String],
    ) -> Result<KeyDetails, DomainError> {
        let role = match roles {
            [one] => one
                .parse::<Role>()
                .ok()
                .filter(|role| matches!(role, Role::PayorAdmin | Role::PayorSupport))
                .ok_or_else(|| {
                    DomainError::invalid_body(
                        "roles[0]",
                        "must be one of payor.admin, payor.support",
                    )
                })?,
            _ => {
                return Err(DomainError::invalid_body(
                    "roles",
                    "size must be between 1 and 1",
                ))
            }
        };
        Ok(KeyDetails {
            name: bounded("name", name, 100)?,
            description: description
                .map(|text| bounded("description", text, 1024))
                .transpose()?,
            role,
        })
    }
}

impl ApiKey {
    /// A new key of `application` with `details`, and its secret, to be shown once.
    pub fn issue(
        application: &Application,
        details: KeyDetails,
        hasher: &CodeHasher,
        now: OffsetDateTime,
    ) -> (ApiKey, ApiSecret) {
        let key_id = ApiKeyId::random();
        let secret = ApiSecret(Uuid::new_v4().to_string());
        let key = ApiKey {
            key_id,
            payor_id: application.payor_id,
            application_id: application.application_id,
            name: details.name,
            description: details.description,
            role: details.role,
            secret_digest: hasher.keyed_digest(KEY_KIND, &key_id.to_string(), secret.expose()),
            created_at: now,
        };
        (key, secret)
    }

    /// Is `secret` this key's? Compared in constant time, as a keyed hash.
    pub fn accepts(&self, secret: &str, hasher: &CodeHasher) -> bool {
        hasher.keyed_matches(
            KEY_KIND,
            &self.key_id.to_string(),
            secret,
            &self.secret_digest,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher() -> CodeHasher {
        match CodeHasher::new(&[3u8; 32]) {
            Ok(hasher) => hasher,
            Err(reason) => panic!("{reason}"),
        }
    }

    fn application() -> Application {
        match Application::new(EntityId::random(), "SAP", None, OffsetDateTime::now_utc()) {
            Ok(application) => application,
            Err(error) => panic!("{error}"),
        }
    }

    #[test]
    fn a_key_accepts_its_own_secret_only_and_keeps_no_secret_in_clear() {
        let now = OffsetDateTime::now_utc();
        let details =
            KeyDetails::parse("SAP Key 01", None, &["payor.admin".to_owned()]).expect("details");
        let (key, secret) = ApiKey::issue(&application(), details, &hasher(), now);
        assert_eq!(key.role, Role::PayorAdmin);
        assert!(key.accepts(secret.expose(), &hasher()));
        assert!(!key.accepts(&Uuid::new_v4().to_string(), &hasher()));
        assert!(!format!("{key:?}{secret:?}").contains(secret.expose()));
    }

    #[test]
    fn a_key_has_exactly_one_payor_role_and_names_are_bounded() {
        let now = OffsetDateTime::now_utc();
        for roles in [
            vec![],
            vec!["payor.admin".to_owned(), "payor.support".to_owned()],
            vec!["backoffice.admin".to_owned()],
        ] {
            assert!(KeyDetails::parse("key", None, &roles).is_err(), "{roles:?}");
        }
        assert_eq!(
            KeyDetails::parse("key", None, &["velo.payor.support".to_owned()]).map(|d| d.role),
            Ok(Role::PayorSupport)
        );
        assert!(Application::new(EntityId::random(), "x", None, now).is_err());
        assert!(Application::new(EntityId::random(), &"x".repeat(101), None, now).is_err());
        assert!(Application::new(EntityId::random(), "ok", Some("y"), now).is_err());
    }
}
