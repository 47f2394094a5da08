//! Router: decides what happens to each classified message by its tenant's rule set (YAML or
//! JSON, published as events and followed by every replica): queue, escalate or answer from the
//! knowledge base (the bot's playbooks), with priority, tags, notifications and webhooks, and
//! publishes the decision with the rules that fired and the facts they read, and, when a person
//! takes it, the SLA policy that covers it. What people then do (assignment, SLA timers,
//! closing what waits on the customer, approving returns) is the desk's. Its read model (schema `router`) keeps
//! every decision, customer profiles and when customers' conversations started, keyed on the
//! tenant; every gRPC call acts on its caller's tenant.

#![forbid(unsafe_code)]

mod account_updates;
mod customers;
mod decide;
mod facts;
mod grpc;
mod handoff;
mod knowledge;
mod order_updates;
mod playbooks;
mod projection;
pub mod rules;
pub mod simulate;
mod store;

use std::sync::Arc;

use switchboard_bus::ConsumerSpec;
use switchboard_projection::{Deps, Migration, Runner, Task, migrate, spawn_runner};
use switchboard_proto::{ErrorKind, ServiceError, router::v1::router_server::RouterServer};
use tokio_util::sync::CancellationToken;

pub use customers::Directory;
pub use knowledge::LocalKnowledge;
pub use projection::RouterProjection;
pub use rules::{Action, DEFAULT_RULES, Facts, Priority, Rule, Rules};
pub use store::RuleStore;

const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "decisions", sql: include_str!("../migrations/001_decisions.sql") },
    Migration {
        version: 2,
        name: "customers and contacts",
        sql: include_str!("../migrations/002_customers_and_contacts.sql"),
    },
    Migration {
        version: 3,
        name: "conversation turns",
        sql: include_str!("../migrations/003_conversation_turns.sql"),
    },
    Migration { version: 4, name: "orders", sql: include_str!("../migrations/004_orders.sql") },
    Migration { version: 5, name: "delivered at", sql: include_str!("../migrations/005_delivered_at.sql") },
    Migration {
        version: 6,
        name: "contact channel",
        sql: include_str!("../migrations/006_contact_channel.sql"),
    },
    Migration { version: 7, name: "accounts", sql: include_str!("../migrations/007_accounts.sql") },
    Migration { version: 8, name: "sim refusals", sql: include_str!("../migrations/008_sim_refusals.sql") },
    Migration { version: 9, name: "tenant", sql: include_str!("../migrations/009_tenant.sql") },
];

/// Durable consumer of classifications.
pub const CONSUMER: &str = "router";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Rules(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    NotAllowed(String),
    #[error("not caught up with sequence {0} yet; try again")]
    NotCaughtUp(u64),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("knowledge endpoint {endpoint:?}: {reason}")]
    Endpoint { endpoint: String, reason: String },
    #[error(transparent)]
    Bus(#[from] switchboard_bus::Error),
    #[error(transparent)]
    Projection(#[from] switchboard_projection::Error),
}

impl ServiceError for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Rules(_) | Self::Invalid(_) | Self::Endpoint { .. } => ErrorKind::InvalidArgument,
            Self::NotFound(_) => ErrorKind::NotFound,
            Self::NotAllowed(_) => ErrorKind::FailedPrecondition,
            Self::NotCaughtUp(_) => ErrorKind::Unavailable,
            Self::Database(error) if switchboard_bus::is_transient(error) => ErrorKind::Unavailable,
            Self::Bus(_) | Self::Projection(_) | Self::Database(_) => ErrorKind::Internal,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    /// The rule set (YAML or JSON) published at start unless the same text from the same source
    /// was published before.
    pub rules: String,
    /// Where `rules` came from: `builtin` or `file:<path>`.
    pub rules_source: String,
    /// Where the knowledge service answers gRPC, e.g. `http://127.0.0.1:50051`.
    pub knowledge_endpoint: String,
    /// Lowest confidence (0..1) an automated answer may rest on; 0 takes the knowledge
    /// service's own threshold.
    pub min_answer_confidence: f32,
    pub batch_size: usize,
    /// What the router's calls to knowledge carry: a service token of the cluster, acting for
    /// the tenant of the message being answered.
    pub credentials: switchboard_auth::Credentials,
    /// The trust for knowledge's TLS, when its endpoint is `https://`.
    pub tls: Option<switchboard_auth::PeerTls>,
    /// The knowledge service of this process: called in process instead of at the endpoint.
    pub local_knowledge: Option<LocalKnowledge>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            rules: DEFAULT_RULES.into(),
            rules_source: "builtin".into(),
            knowledge_endpoint: "http://127.0.0.1:50051".into(),
            min_answer_confidence: 0.0,
            batch_size: 500,
            credentials: switchboard_auth::Credentials::default(),
            tls: None,
            local_knowledge: None,
        }
    }
}

pub struct Started {
    pub service: RouterServer<grpc::RouterApi>,
    pub tasks: Vec<Task>,
}

/// Validates the rules, migrates, creates the consumers and starts them.
pub async fn start(deps: Deps, config: Config, shutdown: CancellationToken) -> Result<Started, Error> {
    let knowledge = knowledge_client(&config)?;
    let (store, follower) =
        store::start(&deps.bus, &config.rules, &config.rules_source, shutdown.clone()).await?;
    migrate(&deps.pool, "router", MIGRATIONS).await?;
    let runner = Runner::start(deps.bus.clone(), deps.pool.clone(), projection(), config.batch_size).await?;
    let checkpoint = runner.checkpoint();
    let spec = ConsumerSpec::events(CONSUMER, "switchboard.events.classification.>", decide::CONCURRENCY);
    let consumer = deps.bus.durable_consumer(&spec).await?;
    let directory = customers::Directory::new(deps.pool.clone(), deps.bus.clone());
    let decider = decide::Decider::new(
        deps.bus.clone(),
        store.clone(),
        directory.clone(),
        knowledge,
        config.min_answer_confidence,
        checkpoint.clone(),
    );
    let api = grpc::RouterApi::new(deps.bus.clone(), store, directory, checkpoint);
    let tasks = vec![
        follower,
        spawn_runner(runner, shutdown.clone()),
        decide::spawn(deps.bus, consumer, decider, shutdown),
    ];
    Ok(Started { service: RouterServer::new(api), tasks })
}

fn knowledge_client(config: &Config) -> Result<knowledge::Knowledge, Error> {
    if let Some(local) = &config.local_knowledge {
        return Ok(knowledge::Knowledge::Local(local.clone()));
    }
    let endpoint = &config.knowledge_endpoint;
    let timeout = Some(std::time::Duration::from_secs(5));
    let channel = switchboard_auth::lazy_channel(endpoint, config.tls.as_ref(), timeout)
        .map_err(|reason| Error::Endpoint { endpoint: endpoint.clone(), reason })?;
    Ok(knowledge::Knowledge::remote(channel, config.credentials.clone()))
}

pub fn projection() -> Arc<RouterProjection> {
    Arc::new(RouterProjection)
}

pub async fn migrate_schema(pool: &sqlx::PgPool) -> Result<(), Error> {
    Ok(migrate(pool, "router", MIGRATIONS).await?)
}
