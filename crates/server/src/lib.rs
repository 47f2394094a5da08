//! The `switchboard` binary's library: runs any set of services in one process on one gRPC
//! listener (they still talk over JetStream and loopback gRPC), and the operator commands.

#![forbid(unsafe_code)]

pub mod agent;
pub mod analytics;
pub mod api;
mod channels;
pub mod classifier;
pub mod cli;
mod config;
pub mod connection;
pub mod demo;
pub mod dlq;
pub mod events;
pub mod knowledge;
mod metrics;
mod mount;
pub mod progress;
mod replay;
pub mod router;
mod serve;
pub mod token;

pub use config::{Config, ServerTls, Service};
pub use replay::{catch_up, replay, tables};
pub use serve::{connect, serve, serve_with};
