//! Projections: events from the stream applied to a service's own PostgreSQL schema, in batches,
//! with the checkpoint (last applied stream sequence) stored in the same transaction.
//!
//! Applying is idempotent under redelivery: events at or below the checkpoint are acked and skipped.
//! A read model can be dropped and rebuilt from the stream with [`replay`].

#![forbid(unsafe_code)]

mod checkpoint;
mod migrate;
mod replay;
mod rows;
mod runner;

pub use migrate::{Migration, migrate};
pub use replay::{ReplayReport, catch_up, replay};
pub use rows::last_of_each;
pub use runner::{Applied, Projection, Runner};
pub use switchboard_bus::{is_outage, is_refusal};

/// What every service is built on: the bus and its database.
#[derive(Clone)]
pub struct Deps {
    pub bus: switchboard_bus::Bus,
    pub pool: sqlx::PgPool,
}

/// Result of a service's background task (a consumer or a projection).
pub type TaskResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// A background task; it ends when its shutdown token is cancelled, after finishing work in hand.
pub type Task = tokio::task::JoinHandle<TaskResult>;

/// Spawns a projection runner as a task.
pub fn spawn_runner<P: Projection>(runner: Runner<P>, shutdown: tokio_util::sync::CancellationToken) -> Task {
    tokio::spawn(async move { runner.run(shutdown).await.map_err(Into::into) })
}

/// Waits until `checkpoint` reaches `sequence`, for at most `timeout`; `false` on timeout.
pub async fn wait_for_checkpoint(
    checkpoint: &tokio::sync::watch::Receiver<u64>,
    sequence: u64,
    timeout: std::time::Duration,
) -> bool {
    let mut checkpoint = checkpoint.clone();
    tokio::time::timeout(timeout, checkpoint.wait_for(|applied| *applied >= sequence))
        .await
        .is_ok_and(|waited| waited.is_ok())
}

/// What can go wrong while projecting.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Bus(#[from] switchboard_bus::Error),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration {version} ({name}) of schema {schema} failed: {source}")]
    Migration { schema: String, version: i64, name: &'static str, source: sqlx::Error },
    #[error(
        "the {projection} projection is being consumed by a running service; \
         stop it before replaying"
    )]
    ReplayWhileRunning { projection: String },
    /// This runner's writer epoch is no longer the checkpoint's: another replica writes now.
    #[error("another replica took over writing the {projection} projection")]
    Superseded { projection: String },
    /// The stored checkpoint went back behind what this runner committed (PostgreSQL lost its
    /// last asynchronous commits in a crash): the events after it must be read again.
    #[error("the database lost the {projection} projection's commits after sequence {stored}")]
    CommitsLost { projection: String, stored: u64 },
}
