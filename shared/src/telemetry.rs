//! Structured JSON logs. The Lambda runtime opens a span per invocation carrying the request id, and every event
//! logged inside it carries that span.

use tracing_subscriber::EnvFilter;

pub fn init() {
    init_with_default("info");
}

/// `init`, with another level where neither `AWS_LAMBDA_LOG_LEVEL` nor `RUST_LOG` names one (tests use `warn`).
pub fn init_with_default(level: &str) {
    let filter = EnvFilter::try_from_env("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new(level));
    // A second init (tests) is harmless: keep the first subscriber.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        .try_init();
}
