//! The event-driven pipelines: the table's stream out as domain events, queue commands in.

pub mod bootstrap;
pub mod commands;
pub mod events;
