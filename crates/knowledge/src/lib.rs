//! Knowledge: articles as events (published in versions, archived) and full-text search over
//! the published ones, projected into schema `knowledge` (PostgreSQL text search per locale).

#![forbid(unsafe_code)]

mod domain;
pub mod eval;
mod grpc;
pub mod index;
mod projection;
mod search;

use std::{sync::Arc, time::Duration};

use switchboard_projection::{Deps, Migration, Runner, Task, migrate, spawn_runner};
use switchboard_proto::knowledge::v1::knowledge_server::KnowledgeServer;
use tokio_util::sync::CancellationToken;

pub use domain::{Draft, Error, Knowledge};
pub use projection::KnowledgeProjection;

const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "articles", sql: include_str!("../migrations/001_articles.sql") },
    Migration {
        version: 2,
        name: "search moves to the index",
        sql: include_str!("../migrations/002_search_moves_to_the_index.sql"),
    },
];

#[derive(Debug, Clone)]
pub struct Config {
    pub batch_size: usize,
    /// Where the search index is kept across restarts; in memory (rebuilt at start) when unset.
    pub index_dir: Option<std::path::PathBuf>,
    /// How long a publish with `wait` waits for the read model.
    pub read_wait: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self { batch_size: 500, index_dir: None, read_wait: Duration::from_secs(5) }
    }
}

pub struct Started {
    pub service: KnowledgeServer<grpc::KnowledgeApi>,
    pub tasks: Vec<Task>,
}

/// Migrates, starts the projection, and returns once ready to serve.
pub async fn start(deps: Deps, config: Config, shutdown: CancellationToken) -> Result<Started, Error> {
    migrate(&deps.pool, "knowledge", MIGRATIONS).await?;
    let runner = Runner::start(deps.bus.clone(), deps.pool.clone(), projection(), config.batch_size).await?;
    let (index, indexer) = index::spawn_indexer(&deps.bus, config.index_dir, shutdown.clone())
        .await
        .map_err(|e| Error::Index(e.to_string()))?;
    let knowledge = Arc::new(Knowledge::new(deps, runner.checkpoint(), index, config.read_wait));
    Ok(Started {
        service: KnowledgeServer::new(grpc::KnowledgeApi::new(knowledge)),
        tasks: vec![spawn_runner(runner, shutdown), indexer],
    })
}

pub fn projection() -> Arc<KnowledgeProjection> {
    Arc::new(KnowledgeProjection)
}

pub async fn migrate_schema(pool: &sqlx::PgPool) -> Result<(), Error> {
    Ok(migrate(pool, "knowledge", MIGRATIONS).await?)
}
