//! Structured JSON logs. The Lambda runtime opens a span per invocation carrying the request id, and every event
//! logged inside it carries that span.

pub use tracing_subscriber::filter::LevelFilter;

pub fn init() {
    init_with_default(LevelFilter::INFO);
}

/// A level as Lambda's `AWS_LAMBDA_LOG_LEVEL` names it (`TRACE` … `ERROR`, `FATAL`), or as `RUST_LOG` does when it
/// holds a plain level. (A level, not `EnvFilter`'s directives: those bring a regex engine into every binary.)
fn level(value: &str) -> Option<LevelFilter> {
    match value.trim().to_ascii_lowercase().as_str() {
        "fatal" => Some(LevelFilter::ERROR),
        other => other.parse().ok(),
    }
}

/// `init`, with another level where neither `AWS_LAMBDA_LOG_LEVEL` nor `RUST_LOG` names one (tests use `WARN`).
pub fn init_with_default(default: LevelFilter) {
    let chosen = ["AWS_LAMBDA_LOG_LEVEL", "RUST_LOG"]
        .iter()
        .find_map(|name| std::env::var(name).ok().as_deref().and_then(level))
        .unwrap_or(default);
    // A second init (tests) is harmless: keep the first subscriber.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_max_level(chosen)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        .try_init();
}
