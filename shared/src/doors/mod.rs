//! The front doors: each speaks one vendor's HTTP dialect and error body, on the one engine.

pub mod authorizer;
pub mod authz;
pub mod http;
pub mod qi;
pub mod sigma;
pub mod velo;

#[cfg(test)]
mod bodies;

#[cfg(test)]
mod tests;
