//! Projections: events from the stream applied to a service's own PostgreSQL schema, in batches,
//! with the checkpoint (last applied stream sequence) stored in the same transaction.
//!
//! Applying is idempotent under redelivery: events at or below the checkpoint are acked and skipped.
//! A read model can be dropped and rebuilt from the stream with [`replay`].

#![forbid(unsafe_code)]

mod migrate;
mod runner;

pub use migrate::{Migration, migrate};
pub use runner::{Applied, Projection, ReplayReport, Runner, replay};

/// What can go wrong while projecting.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Bus(#[from] switchboard_bus::Error),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration {version} ({name}) of schema {schema} failed: {source}")]
    Migration {
        schema: String,
        version: i64,
        name: &'static str,
        source: sqlx::Error,
    },
    #[error(
        "the {projection} projection is being consumed by a running service; \
         stop it before replaying"
    )]
    ReplayWhileRunning { projection: String },
}
