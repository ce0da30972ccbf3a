//! The service's settings as values. `lambda::config` reads them from the environment at cold start.

use time::Duration;

use crate::domain::sending::SmsLimits;
use crate::domain::token::TokenPolicy;
use crate::domain::Email;

/// Every setting of the service. Each function reads the whole set; the template gives each only what it uses.
#[derive(Clone)]
pub struct Config {
    pub table_name: String,
    pub jwt: JwtConfig,
    pub token_hash_secret: Option<String>,
    pub ses_sender: Option<Email>,
    pub invite_link_base: String,
    pub mfa_link_base: String,
    pub password_reset_link_base: String,
    /// Where the API is served (`https://api.example.com`), for the links in list answers; without it, the
    /// gateway's own domain from the request context. Never the request's `Host` header, which the client writes.
    pub public_base_url: Option<String>,
    pub otp_ttl: Duration,
    pub invite_ttl: Duration,
    pub password_reset_ttl: Duration,
    pub max_attempts: u32,
    pub resend_cooldown: Duration,
    pub send_quota: u32,
    pub send_quota_window: Duration,
    /// Where text messages may go, and how many per caller, per tenant and for the whole service.
    pub sms: SmsLimits,
    /// The KMS key that signs access tokens (ES256), where this function issues or verifies them.
    pub signing_key_id: Option<String>,
    /// During a rotation: the key that signed the tokens still in circulation, published and verified, never used.
    pub previous_signing_key_id: Option<String>,
    /// How long a Sigma long-polling request holds before it answers `LongPollingTimeoutException`.
    pub long_poll_wait: Duration,
}

/// A long poll must answer before API Gateway's 30-second integration timeout, with room for the last read.
pub const MAX_LONG_POLL_WAIT: Duration = Duration::seconds(27);

#[derive(Clone)]
pub struct JwtConfig {
    pub issuer: String,
    pub audience: String,
    pub hs256_secret: Option<String>,
    pub rs256_public_key_pem: Option<String>,
}

/// The longest an OTP may ever live, whatever is configured.
pub const MAX_OTP_TTL: Duration = Duration::minutes(10);

impl Config {
    pub fn otp_policy(&self) -> TokenPolicy {
        TokenPolicy {
            ttl: self.otp_ttl,
            max_attempts: self.max_attempts,
            cooldown: self.resend_cooldown,
        }
    }

    pub fn password_reset_policy(&self) -> TokenPolicy {
        TokenPolicy {
            ttl: self.password_reset_ttl,
            max_attempts: self.max_attempts,
            cooldown: self.resend_cooldown,
        }
    }

    pub fn invitation_policy(&self) -> TokenPolicy {
        TokenPolicy {
            ttl: self.invite_ttl,
            max_attempts: self.max_attempts,
            cooldown: self.resend_cooldown,
        }
    }
}
