//! Knowledge: articles as events (drafted, published, unpublished, archived; versions kept,
//! translations linked), a tantivy search index projected from them, and what is served from it:
//! search, suggestions, contact-form deflection, cited answers for the bot, articles for agents.
//! Every query is recorded as an event for analytics' content gaps.
//!
//! Multi-tenant throughout: a call acts on its caller's tenant (from the token), articles and
//! queries are aggregates of that tenant, the read model is keyed on (tenant, article id), and the
//! index scopes every search to one tenant.

#![forbid(unsafe_code)]

mod article;
pub mod calibrate;
pub mod clarify;
mod domain;
pub mod eval;
pub mod grpc;
pub mod index;
pub mod locale;
mod other_language;
mod projection;
pub mod queries;
mod reads;
mod search;

use std::{sync::Arc, time::Duration};

use switchboard_projection::{Deps, Migration, Runner, Task, migrate, spawn_runner};
use switchboard_proto::knowledge::v1::knowledge_server::KnowledgeServer;
use tokio_util::sync::CancellationToken;

pub use article::Content;
pub use domain::{Error, Knowledge};
pub use projection::KnowledgeProjection;
pub use search::SearchQuery;

const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "articles", sql: include_str!("../migrations/001_articles.sql") },
    Migration {
        version: 2,
        name: "search moves to the index",
        sql: include_str!("../migrations/002_search_moves_to_the_index.sql"),
    },
    Migration {
        version: 3,
        name: "article lifecycle",
        sql: include_str!("../migrations/003_article_lifecycle.sql"),
    },
    Migration { version: 4, name: "tenants", sql: include_str!("../migrations/004_tenants.sql") },
];

#[derive(Debug, Clone)]
pub struct Config {
    pub batch_size: usize,
    /// Where the search index is kept across restarts; in memory (rebuilt at start) when unset.
    pub index_dir: Option<std::path::PathBuf>,
    /// How long a publish with `wait` waits for the read model.
    pub read_wait: Duration,
    /// Lowest confidence (0..1) at which `Answer` answers and `Deflect` is confident; `None`:
    /// [`DEFAULT_MIN_CONFIDENCE`] for lexical searches, [`HYBRID_MIN_CONFIDENCE`] for hybrid ones.
    pub min_confidence: Option<f32>,
    /// The sentence encoder (all-MiniLM-L6-v2, loaded once per process); without it search is
    /// lexical only.
    pub encoder: Option<Arc<switchboard_nlu::embed::SentenceEncoder>>,
}

/// Chosen on the Bitext evaluation set (`make eval`): see docs/KNOWLEDGE.md.
pub const DEFAULT_MIN_CONFIDENCE: f32 = 0.6;
/// The calibrated hybrid confidence at which wrong answers stayed at or under 2% of the
/// validation questions (`switchboard knowledge calibrate`; docs/KNOWLEDGE.md).
pub const HYBRID_MIN_CONFIDENCE: f32 = 0.85;

impl Default for Config {
    fn default() -> Self {
        Self {
            batch_size: 500,
            index_dir: None,
            read_wait: Duration::from_secs(5),
            min_confidence: None,
            encoder: None,
        }
    }
}

pub struct Started {
    pub service: KnowledgeServer<grpc::KnowledgeApi>,
    /// The same API, for a service of this process to call without gRPC.
    pub api: Arc<grpc::KnowledgeApi>,
    pub tasks: Vec<Task>,
}

/// Migrates, starts the projection, and returns once ready to serve.
pub async fn start(deps: Deps, config: Config, shutdown: CancellationToken) -> Result<Started, Error> {
    migrate(&deps.pool, "knowledge", MIGRATIONS).await?;
    let runner = Runner::start(deps.bus.clone(), deps.pool.clone(), projection(), config.batch_size).await?;
    match config.encoder {
        Some(_) => tracing::info!("knowledge search is hybrid: BM25 fused with sentence embeddings"),
        None => {
            tracing::warn!("knowledge search is lexical only: no sentence encoder (SWITCHBOARD_ENCODER_DIR)")
        }
    }
    let (index, indexer) =
        index::spawn_indexer(&deps.bus, config.index_dir, config.encoder, shutdown.clone())
            .await
            .map_err(|e| Error::Index(e.to_string()))?;
    let knowledge =
        Arc::new(Knowledge::new(deps, runner.checkpoint(), index, config.read_wait, config.min_confidence));
    let api = Arc::new(grpc::KnowledgeApi::new(knowledge));
    Ok(Started {
        service: KnowledgeServer::from_arc(api.clone()),
        api,
        tasks: vec![spawn_runner(runner, shutdown), indexer],
    })
}

pub(crate) use switchboard_bus::tenant_of;

pub fn projection() -> Arc<KnowledgeProjection> {
    Arc::new(KnowledgeProjection)
}

pub async fn migrate_schema(pool: &sqlx::PgPool) -> Result<(), Error> {
    Ok(migrate(pool, "knowledge", MIGRATIONS).await?)
}
