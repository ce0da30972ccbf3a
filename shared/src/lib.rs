//! The domain of the users-and-one-time-token service, shared by every function. The layers point one way:
//!
//! - [`domain`]: pure values and rules (no I/O); [`strength`]: the password-strength port, on its own.
//! - [`ports`]: what the core needs from storage and delivery, in domain terms.
//! - [`engine`]: the one-time token engine every front door uses, on the ports only.
//! - [`doors`]: the front doors (Velo, QI Tech, Sigma, the authorizer): each HTTP dialect and error body.
//! - [`pipelines`]: stream records out as domain events, queue commands in.
//! - [`adapters`]: DynamoDB, SNS and SES behind the ports, and an in-memory twin for tests.
//! - [`lambda`]: what a function builds once at cold start, and its runtime loop.
//!
//! Only `adapters` and `lambda` name the AWS SDK.

pub mod adapters;
pub mod domain;
pub mod doors;
pub mod engine;
pub mod lambda;
pub mod pipelines;
pub mod ports;
#[cfg(test)]
mod robustness;
pub mod strength;
#[cfg(test)]
mod testing;

pub use engine::App;
pub use lambda::{run_http, HttpAnswer};
/// Re-exported for `http_function!`.
pub use lambda_http;
