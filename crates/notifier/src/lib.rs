//! Notifier: delivers the replies automation asks for, back to the conversation (as a
//! `ReplyDelivered` event intake projects) and to a webhook when one is configured.
//! Each delivery is recorded once in `notifier.delivery_log` before its request is acked.

#![forbid(unsafe_code)]

mod deliver;
mod grpc;
mod projection;
mod webhook;

use std::{sync::Arc, time::Duration};

use switchboard_bus::ConsumerSpec;
use switchboard_projection::{Deps, Migration, Runner, Task, migrate, spawn_runner};
use switchboard_proto::{ErrorKind, ServiceError, notifier::v1::notifier_server::NotifierServer};
use tokio_util::sync::CancellationToken;

pub use projection::NotifierProjection;

const MIGRATIONS: &[Migration] =
    &[Migration { version: 1, name: "deliveries", sql: include_str!("../migrations/001_deliveries.sql") }];

/// Durable consumer of reply requests.
pub const CONSUMER: &str = "notifier";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("webhook url {0:?} is not an http(s) URL")]
    WebhookUrl(String),
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
    #[error("the deliveries have not reached sequence {0} yet; try again")]
    NotCaughtUp(u64),
    #[error(transparent)]
    Bus(#[from] switchboard_bus::Error),
    #[error(transparent)]
    Projection(#[from] switchboard_projection::Error),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl ServiceError for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::WebhookUrl(_) => ErrorKind::InvalidArgument,
            Self::NotCaughtUp(_) => ErrorKind::Unavailable,
            _ => ErrorKind::Internal,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    /// Every reply is also POSTed here as JSON, when set.
    pub webhook_url: Option<String>,
    pub webhook_timeout: Duration,
    pub batch_size: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self { webhook_url: None, webhook_timeout: Duration::from_secs(10), batch_size: 500 }
    }
}

pub struct Started {
    pub service: NotifierServer<grpc::NotifierApi>,
    pub tasks: Vec<Task>,
}

/// Migrates, creates the consumers and starts them.
pub async fn start(deps: Deps, config: Config, shutdown: CancellationToken) -> Result<Started, Error> {
    let webhook = webhook::Webhook::new(config.webhook_url.as_deref(), config.webhook_timeout)?;
    migrate(&deps.pool, "notifier", MIGRATIONS).await?;
    let runner = Runner::start(deps.bus.clone(), deps.pool.clone(), projection(), config.batch_size).await?;
    let api = grpc::NotifierApi::new(deps.pool.clone(), runner.checkpoint());
    let spec = ConsumerSpec::events(CONSUMER, "switchboard.events.reply.>", deliver::CONCURRENCY);
    let consumer = deps.bus.durable_consumer(&spec).await?;
    let deliverer = deliver::Deliverer::new(deps.clone(), webhook);
    let tasks = vec![
        spawn_runner(runner, shutdown.clone()),
        deliver::spawn(deps.bus.clone(), consumer, deliverer, shutdown),
    ];
    Ok(Started { service: NotifierServer::new(api), tasks })
}

pub fn projection() -> Arc<NotifierProjection> {
    Arc::new(NotifierProjection)
}

pub async fn migrate_schema(pool: &sqlx::PgPool) -> Result<(), Error> {
    Ok(migrate(pool, "notifier", MIGRATIONS).await?)
}
