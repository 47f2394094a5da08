//! Test support: a real nats-server (current release, started on a random port) and a fresh
//! PostgreSQL database per test. Nothing here mocks the bus or the database.

#![forbid(unsafe_code)]

mod database;
mod nats;

pub use database::TestDatabase;
pub use nats::NatsServer;

/// Logs to the test output, filtered by `RUST_LOG` (default `warn`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
}
