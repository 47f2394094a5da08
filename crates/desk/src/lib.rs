//! The agent desk: the conversations people work, projected from the events into schema
//! `desk` (status, queue, priority, assignee, preview, SLA due time, hand-off reason), listed
//! most urgent first; and claiming one, guarded so that of two simultaneous claims one wins.
//! The work of people lives here too: agents and assignment, SLA timers, closing what waits on
//! the customer, and the human decision on returns ([`people`]).
//! Multi-tenant: rows key on (tenant, conversation id) and every call acts on the caller's tenant.

#![forbid(unsafe_code)]

mod activity;
mod apply;
mod approvals;
mod assign;
mod batch;
mod breach;
mod claim;
mod closing;
pub mod conversation;
pub mod details;
mod grpc;
mod handover;
mod idle;
mod inbox;
pub mod listing;
mod macro_calls;
pub mod macros;
mod moves;
mod overview;
mod pending;
mod people;
mod presence;
mod projection;
mod records;
mod returns;
mod sla;
mod snapshot;
mod status;
mod store;
mod tenancy;
pub mod timeline;
mod typing;
mod view;
mod work;

use std::sync::Arc;

use switchboard_projection::{Deps, Migration, Runner, Task, migrate, spawn_runner};
use switchboard_proto::{ErrorKind, ServiceError, desk::v1::desk_server::DeskServer};
use tokio_util::sync::CancellationToken;

/// The desk's durable consumers of the events stream: closing conversations left pending, and
/// acting on returns.
pub use pending::CONSUMER as PENDING_CONSUMER;
pub use projection::DeskProjection;
pub use returns::triggers::CONSUMER as RETURNS_CONSUMER;

const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "conversations", sql: include_str!("../migrations/001_conversations.sql") },
    Migration { version: 2, name: "timeline", sql: include_str!("../migrations/002_timeline.sql") },
    Migration { version: 3, name: "changes", sql: include_str!("../migrations/003_changes.sql") },
    Migration {
        version: 4,
        name: "waiting_and_approvals",
        sql: include_str!("../migrations/004_waiting_and_approvals.sql"),
    },
    Migration { version: 5, name: "arrived_at", sql: include_str!("../migrations/005_arrived_at.sql") },
    Migration {
        version: 20,
        name: "listing_indexes",
        sql: include_str!("../migrations/020_listing_indexes.sql"),
    },
    Migration {
        version: 21,
        name: "fold_snapshots",
        sql: include_str!("../migrations/021_fold_snapshots.sql"),
    },
    Migration { version: 22, name: "assigned_at", sql: include_str!("../migrations/022_assigned_at.sql") },
    Migration {
        version: 23,
        name: "room for updates",
        sql: include_str!("../migrations/023_room_for_updates.sql"),
    },
];

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
    #[error("conversation {0:?} is not resolved")]
    NotResolved(String),
    #[error("macro {0:?} not found")]
    MacroNotFound(String),
    /// An edit that started from an older version.
    #[error("{0}")]
    Stale(String),
    /// A macro placeholder without a value in this conversation.
    #[error("{0}")]
    Unfillable(String),
    #[error("knowledge endpoint {endpoint:?}: {reason}")]
    Endpoint { endpoint: String, reason: String },
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
    #[error("agent {agent:?} is {why}: they take no conversations now")]
    Unavailable { agent: String, why: String },
    #[error("agent {agent:?} has no room for another {channel} conversation (capacity {capacity})")]
    AtCapacity { agent: String, channel: String, capacity: u32 },
    #[error(transparent)]
    Projection(#[from] switchboard_projection::Error),
    #[error("bus: {0}")]
    Bus(#[from] switchboard_bus::Error),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("fold snapshot: {0}")]
    Snapshot(#[from] serde_json::Error),
}

impl ServiceError for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::InvalidArgument(_) => ErrorKind::InvalidArgument,
            Self::NotFound(_) | Self::MacroNotFound(_) | Self::UnknownReturn(_) => ErrorKind::NotFound,
            Self::PermissionDenied(_) => ErrorKind::PermissionDenied,
            Self::Resolved(_)
            | Self::HeldBy { .. }
            | Self::NotResolved(_)
            | Self::Stale(_)
            | Self::Unfillable(_)
            | Self::AlreadyDecided { .. }
            | Self::Unavailable { .. }
            | Self::AtCapacity { .. } => ErrorKind::FailedPrecondition,
            Self::Endpoint { .. } => ErrorKind::Internal,
            Self::Busy(_) | Self::NotCaughtUp(_) | Self::Contended(_) => ErrorKind::Unavailable,
            Self::Database(error) if switchboard_bus::is_transient(error) => ErrorKind::Unavailable,
            Self::Projection(_) | Self::Bus(_) | Self::Database(_) | Self::Snapshot(_) => ErrorKind::Internal,
        }
    }
}

/// The consumers' map: the database and the bus by `switchboard_bus`'s; a race or a lagging read
/// model is tried again; anything else is the message's own and set aside.
impl From<Error> for switchboard_bus::HandlerError {
    fn from(error: Error) -> Self {
        match error {
            Error::Database(error) => error.into(),
            Error::Bus(error) => error.into(),
            Error::Busy(_)
            | Error::NotCaughtUp(_)
            | Error::Contended(_)
            | Error::Projection(_)
            | Error::Endpoint { .. } => Self::Transient(error.to_string()),
            other => Self::Permanent(other.to_string()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub batch_size: usize,
    /// Where the knowledge service answers gRPC (for suggested articles).
    pub knowledge_endpoint: String,
    /// What the desk's calls to knowledge carry: a service token of the cluster, acting for the
    /// tenant of the conversation viewed.
    pub credentials: switchboard_auth::Credentials,
    /// The trust for knowledge's TLS, when its endpoint is `https://`.
    pub tls: Option<switchboard_auth::PeerTls>,
    /// Links to articles in replies and suggestions, `{id}` replaced by the article id; empty:
    /// none (macros with `{{article_link}}` are refused).
    pub article_url: String,
    /// Cancelled when the server stops taking calls: open `WatchInbox` streams end then (as
    /// they do when the service stops), so that the server's graceful stop does not wait on them.
    pub streams_end: CancellationToken,
    /// How long a conversation only the bot has handled may stay quiet before it is closed as
    /// resolved by the bot; `None`: never.
    pub bot_idle_close: Option<std::time::Duration>,
    /// How long an agent may stay offline before the conversations they hold go back to their
    /// queues.
    pub offline_grace: std::time::Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            batch_size: 500,
            knowledge_endpoint: "http://127.0.0.1:50051".into(),
            credentials: switchboard_auth::Credentials::default(),
            tls: None,
            article_url: String::new(),
            streams_end: CancellationToken::new(),
            bot_idle_close: Some(std::time::Duration::from_secs(24 * 3600)),
            offline_grace: std::time::Duration::from_secs(300),
        }
    }
}

pub struct Started {
    pub service: DeskServer<grpc::DeskApi>,
    pub tasks: Vec<Task>,
}

pub async fn start(deps: Deps, config: Config, shutdown: CancellationToken) -> Result<Started, Error> {
    migrate(&deps.pool, "desk", MIGRATIONS).await?;
    let runner = Runner::start(deps.bus.clone(), deps.pool.clone(), projection(), config.batch_size).await?;
    let views = views(&deps, &config)?;
    let (people, mut tasks) = people::People::start(&deps, &shutdown).await?;
    if let Some(idle) = config.bot_idle_close {
        let (bus, pool, stop) = (deps.bus.clone(), deps.pool.clone(), shutdown.clone());
        tasks.push(tokio::spawn(async move { idle::run(bus, pool, idle, stop).await.map_err(Into::into) }));
    }
    let gone = presence::release_the_gone(people.clone(), config.offline_grace, shutdown.clone());
    tasks.push(tokio::spawn(gone));
    let streams_end = streams_end(&config, &shutdown);
    let api = grpc::DeskApi::new(deps, runner.checkpoint(), views, people, streams_end);
    tasks.push(spawn_runner(runner, shutdown));
    Ok(Started { service: DeskServer::new(api), tasks })
}

/// Ends the inbox streams when the server stops taking calls or the service stops.
fn streams_end(config: &Config, shutdown: &CancellationToken) -> CancellationToken {
    let streams_end = config.streams_end.child_token();
    let (stopped, ending) = (shutdown.clone(), streams_end.clone());
    tokio::spawn(async move {
        stopped.cancelled().await;
        ending.cancel();
    });
    streams_end
}

fn views(deps: &Deps, config: &Config) -> Result<view::Views, Error> {
    let endpoint = &config.knowledge_endpoint;
    let timeout = Some(std::time::Duration::from_secs(3));
    let channel = switchboard_auth::lazy_channel(endpoint, config.tls.as_ref(), timeout)
        .map_err(|reason| Error::Endpoint { endpoint: endpoint.clone(), reason })?;
    Ok(view::Views {
        pool: deps.pool.clone(),
        knowledge: switchboard_auth::TenantPeer::new(channel, config.credentials.clone()),
        article_url: config.article_url.clone(),
    })
}

pub fn projection() -> Arc<DeskProjection> {
    Arc::new(DeskProjection)
}

pub async fn migrate_schema(pool: &sqlx::PgPool) -> Result<(), Error> {
    Ok(migrate(pool, "desk", MIGRATIONS).await?)
}
