//! How a process reaches NATS and PostgreSQL: addresses, credentials, TLS, stream limits.

use std::{path::PathBuf, time::Duration};

use clap::Args;
use switchboard_bus::{Access, Retention};

use crate::Config;

#[derive(Debug, Clone, Args)]
pub struct Connection {
    /// NATS; credentials may sit in the URL (`nats://user:pass@host:4222`), `tls://` speaks TLS.
    #[arg(long, env = "SWITCHBOARD_NATS_URL", default_value = "nats://127.0.0.1:4222")]
    pub nats_url: String,
    /// PostgreSQL; TLS with `?sslmode=verify-full&sslrootcert=/path/ca.pem` (or `require`).
    #[arg(
        long,
        env = "SWITCHBOARD_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/switchboard",
        hide_env_values = true
    )]
    pub database_url: String,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub nats: NatsArgs,
}

const DEFAULT_POOL_SIZE: u32 = 16;
const DEFAULT_STATEMENT_TIMEOUT_SECS: u64 = 30;
const DEFAULT_LOCK_TIMEOUT_SECS: u64 = 10;

/// How much of PostgreSQL a process may hold, and for how long.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// Connections for handlers and reads (projection writers hold sessions of their own).
    #[arg(long, env = "SWITCHBOARD_DATABASE_POOL_SIZE", default_value_t = DEFAULT_POOL_SIZE,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub database_pool_size: u32,
    /// Seconds a statement may run before PostgreSQL cancels it (its work is then tried again).
    #[arg(long, env = "SWITCHBOARD_DATABASE_STATEMENT_TIMEOUT_SECS", default_value_t = DEFAULT_STATEMENT_TIMEOUT_SECS,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub database_statement_timeout_secs: u64,
    /// Seconds a statement may wait for a lock before PostgreSQL gives up (tried again).
    #[arg(long, env = "SWITCHBOARD_DATABASE_LOCK_TIMEOUT_SECS", default_value_t = DEFAULT_LOCK_TIMEOUT_SECS,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub database_lock_timeout_secs: u64,
}

impl DatabaseArgs {
    fn limits(&self) -> DatabaseLimits {
        DatabaseLimits {
            pool_size: self.database_pool_size,
            statement_timeout: Duration::from_secs(self.database_statement_timeout_secs),
            lock_timeout: Duration::from_secs(self.database_lock_timeout_secs),
        }
    }
}

/// How much of PostgreSQL a process may hold, and for how long: a statement or a lock wait past
/// its limit fails (the database's trouble: the work waits and is tried again), so no handler
/// holds a connection for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatabaseLimits {
    pub pool_size: u32,
    pub statement_timeout: Duration,
    pub lock_timeout: Duration,
}

impl Default for DatabaseLimits {
    fn default() -> Self {
        Self {
            pool_size: DEFAULT_POOL_SIZE,
            statement_timeout: Duration::from_secs(DEFAULT_STATEMENT_TIMEOUT_SECS),
            lock_timeout: Duration::from_secs(DEFAULT_LOCK_TIMEOUT_SECS),
        }
    }
}

/// NATS credentials, TLS and stream limits.
#[derive(Debug, Clone, Args)]
pub struct NatsArgs {
    /// A NATS `.creds` file.
    #[arg(long, env = "SWITCHBOARD_NATS_CREDS")]
    pub nats_creds: Option<PathBuf>,
    #[arg(long, env = "SWITCHBOARD_NATS_USER")]
    pub nats_user: Option<String>,
    #[arg(long, env = "SWITCHBOARD_NATS_PASSWORD", hide_env_values = true)]
    pub nats_password: Option<String>,
    #[arg(long, env = "SWITCHBOARD_NATS_TOKEN", hide_env_values = true)]
    pub nats_token: Option<String>,
    /// Refuse to talk to NATS without TLS.
    #[arg(long, env = "SWITCHBOARD_NATS_TLS", default_value_t = false)]
    pub nats_tls: bool,
    /// CA certificates (PEM) NATS's certificate is checked against, besides the system's.
    #[arg(long, env = "SWITCHBOARD_NATS_CA")]
    pub nats_ca: Option<PathBuf>,
    /// A client certificate and its key (PEM), for mutual TLS.
    #[arg(long, env = "SWITCHBOARD_NATS_CERT", requires = "nats_key")]
    pub nats_cert: Option<PathBuf>,
    #[arg(long, env = "SWITCHBOARD_NATS_KEY", requires = "nats_cert")]
    pub nats_key: Option<PathBuf>,
    /// How many days and bytes the inbound stream keeps.
    #[arg(long, env = "SWITCHBOARD_INBOUND_MAX_AGE_DAYS", default_value_t = 7)]
    pub inbound_max_age_days: u64,
    #[arg(long, env = "SWITCHBOARD_INBOUND_MAX_BYTES", default_value_t = 1 << 30)]
    pub inbound_max_bytes: i64,
    /// How many days and bytes the dead-letter stream keeps.
    #[arg(long, env = "SWITCHBOARD_DLQ_MAX_AGE_DAYS", default_value_t = 30)]
    pub dlq_max_age_days: u64,
    #[arg(long, env = "SWITCHBOARD_DLQ_MAX_BYTES", default_value_t = 1 << 30)]
    pub dlq_max_bytes: i64,
    /// Copies of each stream in a NATS cluster (1 to 5).
    #[arg(long, env = "SWITCHBOARD_STREAM_REPLICAS", default_value_t = 1,
          value_parser = clap::value_parser!(u8).range(1..=5))]
    pub stream_replicas: u8,
}

impl NatsArgs {
    fn access(&self) -> anyhow::Result<Access> {
        let given = |value: &Option<String>| value.clone().filter(|value| !value.is_empty());
        let user_and_password = match (given(&self.nats_user), given(&self.nats_password)) {
            (Some(user), Some(password)) => Some((user, password)),
            (None, None) => None,
            _ => anyhow::bail!("SWITCHBOARD_NATS_USER and SWITCHBOARD_NATS_PASSWORD go together"),
        };
        Ok(Access {
            credentials_file: self.nats_creds.clone().filter(|path| !path.as_os_str().is_empty()),
            user_and_password,
            token: given(&self.nats_token),
            require_tls: self.nats_tls,
            root_certificates: self.nats_ca.clone().filter(|path| !path.as_os_str().is_empty()),
            client_certificate: self.nats_cert.clone().zip(self.nats_key.clone()),
        })
    }

    fn retention(days: u64, max_bytes: i64) -> anyhow::Result<Retention> {
        anyhow::ensure!(days > 0 && max_bytes > 0, "stream limits must be above zero");
        Ok(Retention { max_age: Duration::from_secs(days.saturating_mul(86_400)), max_bytes })
    }
}

impl Connection {
    /// `base` reaching NATS and PostgreSQL as these settings say.
    pub fn config(&self, base: Config) -> anyhow::Result<Config> {
        Ok(Config {
            nats_url: self.nats_url.clone(),
            database_url: self.database_url.clone(),
            database: self.database.limits(),
            nats_access: self.nats.access()?,
            inbound_retention: NatsArgs::retention(
                self.nats.inbound_max_age_days,
                self.nats.inbound_max_bytes,
            )?,
            dead_letter_retention: NatsArgs::retention(self.nats.dlq_max_age_days, self.nats.dlq_max_bytes)?,
            stream_replicas: usize::from(self.nats.stream_replicas),
            ..base
        })
    }
}
