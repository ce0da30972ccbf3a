//! The Docker-free local stack: what `make run`, `make token`, `make outbox`, `make events`, `make command` and the
//! tests use.

pub mod bench;
pub mod emulator;
pub mod gateway;
pub mod pipelines;
pub mod runtime_api;
pub mod stack;
pub mod template;

use std::collections::BTreeMap;
use std::path::PathBuf;
use user_token_domain::domain::UserId;
use user_token_domain::lambda::config::JwtConfig;

/// Where the function binaries are: `LOCAL_STACK_BIN_DIR`, else `$CARGO_TARGET_DIR/debug`, else `target/debug`.
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("LOCAL_STACK_BIN_DIR") {
        return PathBuf::from(dir);
    }
    let root = std::env::var_os("PROJECT_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("debug")
}

/// A bearer token for `user`, signed with the local JWT parameters.
pub fn bearer_token(
    template: &template::Template,
    parameters: &BTreeMap<String, String>,
    user: UserId,
    ttl_secs: i64,
) -> Result<String, String> {
    bearer_token_for_accounts(template, parameters, user, &[], ttl_secs)
}

/// `bearer_token`, whose `accountKeys` claim names the QI accounts the bearer may act on.
pub fn bearer_token_for_accounts(
    template: &template::Template,
    parameters: &BTreeMap<String, String>,
    user: UserId,
    account_keys: &[String],
    ttl_secs: i64,
) -> Result<String, String> {
    let value = |name: &str| {
        parameters
            .get(name)
            .or_else(|| template.parameter_defaults.get(name))
            .cloned()
    };
    let secret = value("JwtSecret").ok_or("JwtSecret is not set")?;
    let config = JwtConfig {
        issuer: value("JwtIssuer").unwrap_or_default(),
        audience: value("JwtAudience").unwrap_or_default(),
        hs256_secret: Some(secret.clone()),
        rs256_public_key_pem: None,
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    user_token_domain::doors::authorizer::jwt::sign_hs256_for_accounts(
        &config,
        &secret,
        user,
        account_keys,
        now,
        ttl_secs,
    )
    .map_err(|e| e.to_string())
}
