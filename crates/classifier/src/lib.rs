//! Classifier: reads each received customer message and publishes what it says (intent with
//! confidence and alternatives, out of scope or not, language, feeling, entities, model
//! version) as `MessageClassified`; trains, stores, activates and evaluates the tenants' intent
//! models. Its read model (schema `classifier`) keeps classifications, models, activations and
//! agents' corrections; model artifacts are stored beside it.

#![forbid(unsafe_code)]

mod activations;
mod grpc;
mod heldout;
mod models;
mod processor;
mod projection;
mod understanding;

use std::sync::Arc;
use std::time::Duration;

use switchboard_bus::ConsumerSpec;
use switchboard_nlu::embed::SentenceEncoder;
use switchboard_projection::{Deps, Migration, Runner, Task, migrate, spawn_runner};
use switchboard_proto::{ErrorKind, ServiceError, classifier::v1::classifier_server::ClassifierServer};
use tokio_util::sync::CancellationToken;

pub use heldout::{LanguageScore, cross_validate, score_builtin};
pub use models::{ModelRecord, Models, TrainOrder};
pub use projection::ClassifierProjection;
pub use understanding::{
    BuiltinError, OUT_OF_SCOPE, Reading, Understanding, builtin_config, builtin_examples,
};

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "classifications",
        sql: include_str!("../migrations/001_classifications.sql"),
    },
    Migration { version: 2, name: "models", sql: include_str!("../migrations/002_models.sql") },
    Migration { version: 3, name: "tenant keys", sql: include_str!("../migrations/003_tenant_keys.sql") },
];

/// Durable consumer of received messages.
pub const CONSUMER: &str = "classifier";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("the read model has not reached sequence {0} yet")]
    NotCaughtUp(u64),
    #[error("this service has no sentence encoder (set SWITCHBOARD_ENCODER_DIR; `make encoder` fetches it)")]
    NoEncoder,
    #[error("model {0} is unreadable: {1}")]
    Corrupt(String, String),
    #[error("sentence encoder: {0}")]
    Encoder(String),
    #[error("following activations: {0}")]
    Follow(String),
    #[error("the operation was interrupted")]
    Interrupted,
    #[error(transparent)]
    Builtin(#[from] BuiltinError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Bus(#[from] switchboard_bus::Error),
    #[error(transparent)]
    Projection(#[from] switchboard_projection::Error),
}

impl ServiceError for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::InvalidArgument(_) => ErrorKind::InvalidArgument,
            Self::NotFound(_) => ErrorKind::NotFound,
            Self::NoEncoder => ErrorKind::FailedPrecondition,
            Self::NotCaughtUp(_) => ErrorKind::Unavailable,
            Self::Database(error) if switchboard_bus::is_transient(error) => ErrorKind::Unavailable,
            _ => ErrorKind::Internal,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub batch_size: usize,
    /// The sentence encoder (all-MiniLM-L6-v2, loaded once per process); models with a full
    /// head need it.
    pub encoder: Option<Arc<SentenceEncoder>>,
    /// How long a read waits for the read model to reach a given sequence.
    pub read_wait: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self { batch_size: 500, encoder: None, read_wait: Duration::from_secs(5) }
    }
}

pub struct Started {
    pub service: ClassifierServer<grpc::ClassifierApi>,
    pub tasks: Vec<Task>,
}

/// Migrates, trains the built-in model, applies current activations and starts the consumers.
/// Returns once ready to serve.
pub async fn start(deps: Deps, config: Config, shutdown: CancellationToken) -> Result<Started, Error> {
    migrate(&deps.pool, "classifier", MIGRATIONS).await?;
    let runner = Runner::start(deps.bus.clone(), deps.pool.clone(), projection(), config.batch_size).await?;
    let builtin = tokio::task::spawn_blocking(Understanding::shared_builtin);
    let builtin = builtin.await.map_err(|_| Error::Interrupted)??;
    tracing::info!(model_version = builtin.version(), "built-in intent model ready");
    match tokio::task::spawn_blocking(switchboard_nlu::sentiment::warm).await {
        Ok(Ok(())) => tracing::info!("sentiment and urgency heads ready"),
        Ok(Err(error)) => {
            tracing::warn!(%error, "sentiment and urgency heads did not train; the lexicon reads alone")
        }
        Err(_) => return Err(Error::Interrupted),
    }
    let models =
        Arc::new(Models::new(deps.clone(), builtin, config.encoder, runner.checkpoint(), config.read_wait));
    let follower = activations::follow(&deps.bus, models.clone(), shutdown.clone()).await?;
    let spec = ConsumerSpec::events(CONSUMER, "switchboard.events.conversation.>", processor::CONCURRENCY);
    let consumer = deps.bus.durable_consumer(&spec).await?;
    let tasks = vec![
        spawn_runner(runner, shutdown.clone()),
        follower,
        processor::spawn(deps.bus, consumer, models.clone(), shutdown),
    ];
    Ok(Started { service: ClassifierServer::new(grpc::ClassifierApi::new(models)), tasks })
}

pub fn projection() -> Arc<ClassifierProjection> {
    Arc::new(ClassifierProjection)
}

pub async fn migrate_schema(pool: &sqlx::PgPool) -> Result<(), Error> {
    Ok(migrate(pool, "classifier", MIGRATIONS).await?)
}
