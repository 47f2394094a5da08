//! Router: decides what happens to each classified message by a rule table (queue, escalate, or
//! answer from the knowledge base), and publishes the decision with the rule that matched and why.
//! Its read model (schema `router`) keeps every decision.

#![forbid(unsafe_code)]

mod decide;
mod grpc;
mod projection;
mod rules;

use std::sync::Arc;

use switchboard_bus::ConsumerSpec;
use switchboard_projection::{Deps, Migration, Runner, Task, migrate, spawn_runner};
use switchboard_proto::{
    ErrorKind, ServiceError, knowledge::v1::knowledge_client::KnowledgeClient,
    router::v1::router_server::RouterServer,
};
use tokio_util::sync::CancellationToken;

pub use projection::RouterProjection;
pub use rules::{Action, DEFAULT_RULES, Facts, Priority, Rule, Rules};

const MIGRATIONS: &[Migration] =
    &[Migration { version: 1, name: "decisions", sql: include_str!("../migrations/001_decisions.sql") }];

/// Durable consumer of classifications.
pub const CONSUMER: &str = "router";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Rules(String),
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
            Self::Rules(_) | Self::Endpoint { .. } => ErrorKind::InvalidArgument,
            Self::Bus(_) | Self::Projection(_) => ErrorKind::Internal,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    /// The rule table, as JSON.
    pub rules: String,
    /// Where the knowledge service answers gRPC, e.g. `http://127.0.0.1:50051`.
    pub knowledge_endpoint: String,
    /// Lowest confidence (0..1) an automated answer may rest on; 0 takes the knowledge
    /// service's own threshold.
    pub min_answer_confidence: f32,
    pub batch_size: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            rules: DEFAULT_RULES.into(),
            knowledge_endpoint: "http://127.0.0.1:50051".into(),
            min_answer_confidence: 0.0,
            batch_size: 500,
        }
    }
}

pub struct Started {
    pub service: RouterServer<grpc::RouterApi>,
    pub tasks: Vec<Task>,
}

/// Validates the rules, migrates, creates the consumers and starts them.
pub async fn start(deps: Deps, config: Config, shutdown: CancellationToken) -> Result<Started, Error> {
    let rules = Arc::new(Rules::parse(&config.rules).map_err(Error::Rules)?);
    let knowledge = knowledge_client(&config.knowledge_endpoint)?;
    migrate(&deps.pool, "router", MIGRATIONS).await?;
    let runner = Runner::start(deps.bus.clone(), deps.pool.clone(), projection(), config.batch_size).await?;
    let spec = ConsumerSpec::events(CONSUMER, "switchboard.events.classification.>", decide::CONCURRENCY);
    let consumer = deps.bus.durable_consumer(&spec).await?;
    let decider =
        decide::Decider::new(deps.bus.clone(), rules.clone(), knowledge, config.min_answer_confidence);
    let tasks =
        vec![spawn_runner(runner, shutdown.clone()), decide::spawn(deps.bus, consumer, decider, shutdown)];
    Ok(Started { service: RouterServer::new(grpc::RouterApi::new(rules)), tasks })
}

fn knowledge_client(endpoint: &str) -> Result<KnowledgeClient<tonic::transport::Channel>, Error> {
    let channel = tonic::transport::Endpoint::from_shared(endpoint.to_string())
        .map_err(|error| Error::Endpoint { endpoint: endpoint.into(), reason: error.to_string() })?
        .connect_timeout(std::time::Duration::from_secs(2))
        .timeout(std::time::Duration::from_secs(5))
        .connect_lazy();
    Ok(KnowledgeClient::new(channel))
}

pub fn projection() -> Arc<RouterProjection> {
    Arc::new(RouterProjection)
}

pub async fn migrate_schema(pool: &sqlx::PgPool) -> Result<(), Error> {
    Ok(migrate(pool, "router", MIGRATIONS).await?)
}
