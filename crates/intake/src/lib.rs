//! Intake: conversations and messages. Accepts customer messages over gRPC and from channel
//! adapters (`switchboard.inbound.<channel>`), publishes them as events, and projects the
//! conversation view (messages, their classification and routing, status) into schema `intake`.

#![forbid(unsafe_code)]

mod agent;
mod domain;
mod grpc;
mod inbound;
mod projection;
mod reopening;
mod view;

use std::{sync::Arc, time::Duration};

use switchboard_bus::{ConsumerSpec, INBOUND_STREAM, INBOUND_SUBJECT_PREFIX};
use switchboard_projection::{Deps, Migration, Runner, Task, migrate, spawn_runner};
use switchboard_proto::intake::v1::intake_server::IntakeServer;
use tokio_util::sync::CancellationToken;

pub use agent::AgentReplied;
pub use domain::{Error, Intake, MAX_TEXT_BYTES, Submission, Submitted};
pub use projection::IntakeProjection;

const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "conversations", sql: include_str!("../migrations/001_conversations.sql") },
    Migration { version: 2, name: "tenant keys", sql: include_str!("../migrations/002_tenant_keys.sql") },
    Migration {
        version: 3,
        name: "conversation language",
        sql: include_str!("../migrations/003_conversation_language.sql"),
    },
    Migration {
        version: 4,
        name: "room for updates",
        sql: include_str!("../migrations/004_room_for_updates.sql"),
    },
];

/// Durable consumer of inbound channel messages.
pub const INBOUND_CONSUMER: &str = "intake-inbound";

#[derive(Debug, Clone)]
pub struct Config {
    /// Events applied per projection transaction at most.
    pub batch_size: usize,
    /// How long `GetConversation` waits for the read model to reach a requested sequence.
    pub read_wait: Duration,
    /// How long after a conversation closed a customer's message reopens it; later, the message
    /// starts a new conversation.
    pub reopen_window: Duration,
}

/// The reopen window when none is configured: a week.
pub const DEFAULT_REOPEN_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);

impl Default for Config {
    fn default() -> Self {
        Self { batch_size: 500, read_wait: Duration::from_secs(5), reopen_window: DEFAULT_REOPEN_WINDOW }
    }
}

/// A started intake: its gRPC service and background tasks.
pub struct Started {
    pub service: IntakeServer<grpc::IntakeApi>,
    pub tasks: Vec<Task>,
}

/// Migrates the schema, creates the consumers and starts them. Returns once ready to serve.
pub async fn start(deps: Deps, config: Config, shutdown: CancellationToken) -> Result<Started, Error> {
    migrate(&deps.pool, "intake", MIGRATIONS).await?;
    let projection = Arc::new(IntakeProjection);
    let runner = Runner::start(deps.bus.clone(), deps.pool.clone(), projection, config.batch_size).await?;
    let intake =
        Arc::new(Intake::new(deps.clone(), runner.checkpoint(), config.read_wait, config.reopen_window));
    let spec = ConsumerSpec {
        stream: INBOUND_STREAM,
        durable: INBOUND_CONSUMER.into(),
        filter_subjects: vec![format!("{INBOUND_SUBJECT_PREFIX}.>")],
        max_ack_pending: inbound::CONCURRENCY,
    };
    let consumer = deps.bus.durable_consumer(&spec).await?;
    let tasks = vec![
        spawn_runner(runner, shutdown.clone()),
        inbound::spawn(deps.bus, consumer, intake.clone(), shutdown),
    ];
    Ok(Started { service: IntakeServer::new(grpc::IntakeApi::new(intake)), tasks })
}

/// The projection, for `switchboard replay intake`.
pub fn projection() -> Arc<IntakeProjection> {
    Arc::new(IntakeProjection)
}

/// Migrates the schema only (replay runs on a migrated schema).
pub async fn migrate_schema(pool: &sqlx::PgPool) -> Result<(), Error> {
    Ok(migrate(pool, "intake", MIGRATIONS).await?)
}
