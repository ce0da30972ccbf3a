//! The domain of the users-and-one-time-token service, shared by every function.
//!
//! - [`domain`]: pure values and rules.
//! - [`engine`]: the one-time token engine every front door uses.
//! - [`store`], [`notify`]: the DynamoDB, SNS and SES adapters.
//! - [`http`], [`authz`]: what the front doors share about API Gateway events.
//! - [`velo`]: the Velo Users API v2 front door.
//! - [`sigma`]: the Sigma SMS OTP handler front door.
//! - [`qi`]: the QI Tech device 2FA front door.
//! - [`authorizer`]: the Lambda authorizer.
//! - [`events`], [`commands`]: the event-driven pipelines (stream → domain events on SNS; SQS commands in).

pub mod app;
pub mod auth;
pub mod authorizer;
pub mod authz;
pub mod commands;
pub mod config;
pub mod domain;
pub mod engine;
pub mod events;
pub mod http;
pub mod https;
pub mod messages;
pub mod notify;
pub mod qi;
mod robustness;
pub mod sigma;
pub mod store;
pub mod telemetry;
pub mod velo;

pub use app::{run_http, App, HttpAnswer};
/// Re-exported for `http_function!`.
pub use lambda_http;
