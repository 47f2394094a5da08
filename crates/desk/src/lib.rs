//! The agent desk: the conversations people work, projected from the events into schema
//! `desk` (status, queue, priority, assignee, preview, SLA due time, hand-off reason), listed
//! most urgent first; and claiming one, guarded so that of two simultaneous claims one wins.
//! The work of people lives here too: agents and assignment, SLA timers, closing what waits on
//! the customer, and the human decision on returns ([`people`]).
//! Multi-tenant: rows key on (tenant, conversation id) and every call acts on the caller's tenant.

#![forbid(unsafe_code)]

mod activity;
mod assign;
mod claim;
mod closing;
pub mod conversation;
mod grpc;
pub mod listing;
mod pending;
mod people;
mod projection;
mod returns;
mod sla;
mod store;
mod tenancy;

use std::sync::Arc;

use switchboard_projection::{Deps, Migration, Runner, Task, migrate, spawn_runner};
use switchboard_proto::{ErrorKind, ServiceError, desk::v1::desk_server::DeskServer};
use tokio_util::sync::CancellationToken;

pub use projection::DeskProjection;

const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "conversations",
    sql: include_str!("../migrations/001_conversations.sql"),
}];

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidArgument(String),
    #[error("conversation {0:?} not found")]
    NotFound(String),
    #[error("conversation {0:?} is resolved; a new customer message opens it again")]
    Resolved(String),
    #[error("conversation {conversation:?} is held by agent {agent:?}")]
    HeldBy { conversation: String, agent: String },
    #[error("conversation {0:?} is being claimed; try again")]
    Busy(String),
    #[error("the desk has not reached sequence {0} yet; try again")]
    NotCaughtUp(u64),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("return {0:?} not found")]
    UnknownReturn(String),
    #[error("{what} is already {}", verdict.as_str())]
    AlreadyDecided { what: String, verdict: returns::Verdict },
    #[error("{0} changed at the same moment; try again")]
    Contended(String),
    #[error(transparent)]
    Projection(#[from] switchboard_projection::Error),
    #[error("bus: {0}")]
    Bus(#[from] switchboard_bus::Error),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl ServiceError for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::InvalidArgument(_) => ErrorKind::InvalidArgument,
            Self::NotFound(_) | Self::UnknownReturn(_) => ErrorKind::NotFound,
            Self::PermissionDenied(_) => ErrorKind::PermissionDenied,
            Self::Resolved(_) | Self::HeldBy { .. } | Self::AlreadyDecided { .. } => {
                ErrorKind::FailedPrecondition
            }
            Self::Busy(_) | Self::NotCaughtUp(_) | Self::Contended(_) => ErrorKind::Unavailable,
            Self::Projection(_) | Self::Bus(_) | Self::Database(_) => ErrorKind::Internal,
        }
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
    pub service: DeskServer<grpc::DeskApi>,
    pub tasks: Vec<Task>,
}

pub async fn start(deps: Deps, config: Config, shutdown: CancellationToken) -> Result<Started, Error> {
    migrate(&deps.pool, "desk", MIGRATIONS).await?;
    let runner = Runner::start(deps.bus.clone(), deps.pool.clone(), projection(), config.batch_size).await?;
    let (people, mut tasks) = people::People::start(&deps, &shutdown).await?;
    let service = DeskServer::new(grpc::DeskApi::new(deps, runner.checkpoint(), people));
    tasks.push(spawn_runner(runner, shutdown));
    Ok(Started { service, tasks })
}

pub fn projection() -> Arc<DeskProjection> {
    Arc::new(DeskProjection)
}

pub async fn migrate_schema(pool: &sqlx::PgPool) -> Result<(), Error> {
    Ok(migrate(pool, "desk", MIGRATIONS).await?)
}
