//! Classifier: reads each received customer message and publishes what it says (intent,
//! confidence, alternatives, language, model version) as `MessageClassified`.
//! Its read model (schema `classifier`) keeps every classification.

#![forbid(unsafe_code)]

mod grpc;
mod language;
mod model;
mod processor;
mod projection;

use std::sync::Arc;

use switchboard_bus::ConsumerSpec;
use switchboard_projection::{Deps, Migration, Runner, Task, migrate, spawn_runner};
use switchboard_proto::{ErrorKind, ServiceError, classifier::v1::classifier_server::ClassifierServer};
use tokio_util::sync::CancellationToken;

pub use model::{MODEL_VERSION, Reading, UNKNOWN_INTENT, classify};
pub use projection::ClassifierProjection;

const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "classifications",
    sql: include_str!("../migrations/001_classifications.sql"),
}];

/// Durable consumer of received messages.
pub const CONSUMER: &str = "classifier";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Bus(#[from] switchboard_bus::Error),
    #[error(transparent)]
    Projection(#[from] switchboard_projection::Error),
}

impl ServiceError for Error {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Internal
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub batch_size: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self { batch_size: 500 }
    }
}

pub struct Started {
    pub service: ClassifierServer<grpc::ClassifierApi>,
    pub tasks: Vec<Task>,
}

/// Migrates, creates the consumers and starts them. Returns once ready to serve.
pub async fn start(deps: Deps, config: Config, shutdown: CancellationToken) -> Result<Started, Error> {
    migrate(&deps.pool, "classifier", MIGRATIONS).await?;
    let runner = Runner::start(deps.bus.clone(), deps.pool.clone(), projection(), config.batch_size).await?;
    let spec = ConsumerSpec::events(CONSUMER, "switchboard.events.conversation.>", processor::CONCURRENCY);
    let consumer = deps.bus.durable_consumer(&spec).await?;
    let tasks = vec![spawn_runner(runner, shutdown.clone()), processor::spawn(deps.bus, consumer, shutdown)];
    Ok(Started { service: ClassifierServer::new(grpc::ClassifierApi), tasks })
}

pub fn projection() -> Arc<ClassifierProjection> {
    Arc::new(ClassifierProjection)
}

pub async fn migrate_schema(pool: &sqlx::PgPool) -> Result<(), Error> {
    Ok(migrate(pool, "classifier", MIGRATIONS).await?)
}
