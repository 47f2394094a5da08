//! Analytics: a report of containment, escalation, resolution, response times, SLAs,
//! satisfaction and volume over one row of facts per conversation ([`facts`], [`report`]);
//! counts of messages, classifications, escalations, queued messages, automated
//! replies and knowledge queries, by channel and intent; the questions the knowledge base could
//! not answer (content gaps) and deflections per article; projected from every event into
//! schema `analytics`. Multi-tenant: every row is keyed by its event's tenant, and every call
//! reads the caller's tenant's figures only.

#![forbid(unsafe_code)]

mod conversations;
pub mod facts;
mod grpc;
mod knowledge;
mod projection;
pub mod report;
pub mod rolled;
pub mod rollup;
mod summed;
pub mod trends;
pub mod wording;

use std::sync::Arc;

use switchboard_projection::{Deps, Migration, Runner, Task, migrate, spawn_runner};
use switchboard_proto::{ErrorKind, ServiceError, analytics::v1::analytics_server::AnalyticsServer};
use tokio_util::sync::CancellationToken;

pub use projection::{AnalyticsProjection, METRICS};

const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "counts", sql: include_str!("../migrations/001_counts.sql") },
    Migration {
        version: 2,
        name: "knowledge queries",
        sql: include_str!("../migrations/002_knowledge_queries.sql"),
    },
    Migration { version: 3, name: "tenancy", sql: include_str!("../migrations/003_tenancy.sql") },
    Migration {
        version: 4,
        name: "counted events",
        sql: include_str!("../migrations/004_counted_events.sql"),
    },
    Migration { version: 5, name: "conversations", sql: include_str!("../migrations/005_conversations.sql") },
    Migration {
        version: 6,
        name: "deflection and rollups",
        sql: include_str!("../migrations/006_deflection_and_rollups.sql"),
    },
    Migration {
        version: 7,
        name: "room for updates",
        sql: include_str!("../migrations/007_room_for_updates.sql"),
    },
];

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown metric {0:?}")]
    UnknownMetric(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("the counts have not reached sequence {0} yet; try again")]
    NotCaughtUp(u64),
    #[error(transparent)]
    Projection(#[from] switchboard_projection::Error),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl ServiceError for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::UnknownMetric(_) | Self::InvalidArgument(_) => ErrorKind::InvalidArgument,
            Self::NotCaughtUp(_) => ErrorKind::Unavailable,
            Self::Database(error) if switchboard_bus::is_transient(error) => ErrorKind::Unavailable,
            _ => ErrorKind::Internal,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub batch_size: usize,
    /// How long after a closing the customer may still reopen it by writing again: a closing
    /// inside it is pending, not contained (the intake's reopen window).
    pub reopen_window: std::time::Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self { batch_size: 1000, reopen_window: std::time::Duration::from_secs(7 * 24 * 3600) }
    }
}

pub struct Started {
    pub service: AnalyticsServer<grpc::AnalyticsApi>,
    pub tasks: Vec<Task>,
}

pub async fn start(deps: Deps, config: Config, shutdown: CancellationToken) -> Result<Started, Error> {
    migrate(&deps.pool, "analytics", MIGRATIONS).await?;
    let runner = Runner::start(deps.bus.clone(), deps.pool.clone(), projection(), config.batch_size).await?;
    Ok(Started {
        service: AnalyticsServer::new(grpc::AnalyticsApi::new(
            deps.pool,
            runner.checkpoint(),
            config.reopen_window,
        )),
        tasks: vec![spawn_runner(runner, shutdown)],
    })
}

pub fn projection() -> Arc<AnalyticsProjection> {
    Arc::new(AnalyticsProjection::default())
}

pub async fn migrate_schema(pool: &sqlx::PgPool) -> Result<(), Error> {
    Ok(migrate(pool, "analytics", MIGRATIONS).await?)
}
