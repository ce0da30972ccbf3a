//! Configuration, read from the environment once at start-up. Secrets come from template Parameters.

use std::env;
use time::Duration;

use crate::domain::sending::SmsLimits;
use crate::domain::Email;
pub use crate::engine::config::{Config, JwtConfig, MAX_LONG_POLL_WAIT, MAX_OTP_TTL};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

fn optional(name: &'static str) -> Option<String> {
    env::var(name).ok().filter(|value| !value.is_empty())
}

fn number<T: std::str::FromStr>(name: &'static str, default: T) -> Result<T, ConfigError> {
    match optional(name) {
        None => Ok(default),
        Some(raw) => raw.parse().map_err(|_| ConfigError::Invalid {
            name,
            reason: format!("{raw:?} is not a number"),
        }),
    }
}

/// The SMS-pumping limits; unset variables keep `SmsLimits::default()`.
fn sms_limits() -> Result<SmsLimits, ConfigError> {
    let defaults = SmsLimits::default();
    let destinations = match optional("SMS_ALLOWED_DESTINATIONS") {
        None => defaults.destinations,
        Some(raw) => raw.parse().map_err(|reason: &str| ConfigError::Invalid {
            name: "SMS_ALLOWED_DESTINATIONS",
            reason: reason.into(),
        })?,
    };
    Ok(SmsLimits {
        destinations,
        per_caller: number("SMS_CALLER_BUDGET", defaults.per_caller)?,
        per_tenant: number("SMS_TENANT_BUDGET", defaults.per_tenant)?,
        ceiling: number("SMS_HOURLY_CEILING", defaults.ceiling)?,
        ceiling_shards: defaults.ceiling_shards,
        window_secs: defaults.window_secs,
    })
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        let otp_ttl = Duration::seconds(number("OTP_TTL_SECONDS", 300i64)?);
        if otp_ttl <= Duration::ZERO || otp_ttl > MAX_OTP_TTL {
            return Err(ConfigError::Invalid {
                name: "OTP_TTL_SECONDS",
                reason: "must be between 1 and 600".into(),
            });
        }
        let long_poll_wait = Duration::seconds(number("SIGMA_LONG_POLL_SECONDS", 25i64)?);
        if long_poll_wait < Duration::ZERO || long_poll_wait > MAX_LONG_POLL_WAIT {
            return Err(ConfigError::Invalid {
                name: "SIGMA_LONG_POLL_SECONDS",
                reason: "must be between 0 and 27".into(),
            });
        }
        let ses_sender = optional("SES_SENDER")
            .map(|raw| {
                raw.parse::<Email>().map_err(|reason| ConfigError::Invalid {
                    name: "SES_SENDER",
                    reason: reason.into(),
                })
            })
            .transpose()?;
        Ok(Config {
            table_name: optional("TABLE_NAME").ok_or(ConfigError::Missing("TABLE_NAME"))?,
            jwt: JwtConfig {
                issuer: optional("JWT_ISSUER").unwrap_or_else(|| "user-token-service".into()),
                audience: optional("JWT_AUDIENCE").unwrap_or_else(|| "user-token-api".into()),
                hs256_secret: optional("JWT_SECRET"),
                rs256_public_key_pem: optional("JWT_PUBLIC_KEY"),
            },
            token_hash_secret: optional("TOKEN_HASH_SECRET"),
            ses_sender,
            invite_link_base: optional("INVITE_LINK_BASE")
                .unwrap_or_else(|| "https://app.example.com/invitation?token=".into()),
            mfa_link_base: optional("MFA_LINK_BASE")
                .unwrap_or_else(|| "https://app.example.com/mfa-registration?token=".into()),
            password_reset_link_base: optional("PASSWORD_RESET_LINK_BASE")
                .unwrap_or_else(|| "https://app.example.com/password-reset?token=".into()),
            public_base_url: optional("PUBLIC_BASE_URL")
                .map(|url| url.trim_end_matches('/').to_owned()),
            otp_ttl,
            invite_ttl: Duration::seconds(number("INVITE_TTL_SECONDS", 7 * 24 * 3600i64)?),
            password_reset_ttl: Duration::seconds(number("PASSWORD_RESET_TTL_SECONDS", 3600i64)?),
            max_attempts: number("MAX_ATTEMPTS", 5u32)?,
            resend_cooldown: Duration::seconds(number("RESEND_COOLDOWN_SECONDS", 60i64)?),
            send_quota: number("SEND_QUOTA", 5u32)?,
            send_quota_window: Duration::seconds(number("SEND_QUOTA_WINDOW_SECONDS", 600i64)?),
            sms: sms_limits()?,
            signing_key_id: optional("SIGNING_KEY_ID"),
            previous_signing_key_id: optional("PREVIOUS_SIGNING_KEY_ID"),
            long_poll_wait,
        })
    }
}

/// Where the AWS SDK calls go, and as whom: the region and the execution role's credentials that Lambda (and `sam
/// local`) set in every function's environment, and, locally, `AWS_ENDPOINT_URL`. Read here rather than through
/// aws-config's provider chains (profile files, IMDS, SSO, STS web identity): none of them applies in Lambda, and they
/// would add about 0.7 MB to each function.
#[derive(Clone)]
pub struct AwsSettings {
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    pub endpoint_url: Option<String>,
}

impl AwsSettings {
    pub fn from_env() -> Result<AwsSettings, ConfigError> {
        AwsSettings::from_variables(optional)
    }

    /// The settings from `variable`, which gives a non-empty environment variable's value.
    fn from_variables(
        variable: impl Fn(&'static str) -> Option<String>,
    ) -> Result<AwsSettings, ConfigError> {
        let required = |name| variable(name).ok_or(ConfigError::Missing(name));
        Ok(AwsSettings {
            region: variable("AWS_REGION")
                .or_else(|| variable("AWS_DEFAULT_REGION"))
                .ok_or(ConfigError::Missing("AWS_REGION"))?,
            access_key_id: required("AWS_ACCESS_KEY_ID")?,
            secret_access_key: required("AWS_SECRET_ACCESS_KEY")?,
            session_token: variable("AWS_SESSION_TOKEN"),
            endpoint_url: variable("AWS_ENDPOINT_URL"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(variables: &[(&str, &str)]) -> Result<AwsSettings, ConfigError> {
        AwsSettings::from_variables(|name| {
            variables
                .iter()
                .find(|(variable, _)| *variable == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    #[test]
    fn aws_settings_are_lambdas_environment() {
        let lambda = settings(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "session"),
        ])
        .unwrap();
        assert_eq!(lambda.region, "eu-west-1");
        assert_eq!(lambda.access_key_id, "ASIAEXAMPLE");
        assert_eq!(lambda.secret_access_key, "secret");
        assert_eq!(lambda.session_token.as_deref(), Some("session"));
        assert_eq!(lambda.endpoint_url, None);

        let local = settings(&[
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "local"),
            ("AWS_SECRET_ACCESS_KEY", "local"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
        ])
        .unwrap();
        assert_eq!(local.region, "us-east-1");
        assert_eq!(local.session_token, None);
        assert_eq!(local.endpoint_url.as_deref(), Some("http://127.0.0.1:5000"));
    }

    #[test]
    fn missing_aws_settings_are_named() {
        let missing = |variables: &[(&str, &str)]| match settings(variables) {
            Err(ConfigError::Missing(name)) => name,
            other => panic!(
                "expected a missing variable, got {:?}",
                other.map(|s| s.region)
            ),
        };
        assert_eq!(
            missing(&[("AWS_ACCESS_KEY_ID", "a"), ("AWS_SECRET_ACCESS_KEY", "b")]),
            "AWS_REGION"
        );
        assert_eq!(
            missing(&[("AWS_REGION", "eu-west-1"), ("AWS_SECRET_ACCESS_KEY", "b")]),
            "AWS_ACCESS_KEY_ID"
        );
        assert_eq!(
            missing(&[("AWS_REGION", "eu-west-1"), ("AWS_ACCESS_KEY_ID", "a")]),
            "AWS_SECRET_ACCESS_KEY"
        );
    }
}
