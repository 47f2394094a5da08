//! Test support: a real nats-server (current release, started on a random port), a fresh
//! PostgreSQL database per test, and an SMTP server (aiosmtpd). Nothing here mocks the bus or the database.

#![forbid(unsafe_code)]

mod auth;
mod database;
mod nats;
mod smtp;
mod tls;

pub use auth::{TEST_AUTH_KEY, auth_keys, credentials, token};
pub use database::TestDatabase;
pub use nats::NatsServer;
pub use smtp::{SmtpSink, python_path};
pub use tls::TestCertificates;

/// A port nobody listens on right now (the caller binds it soon, or retries).
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Logs to the test output, filtered by `RUST_LOG` (default `warn`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
}
