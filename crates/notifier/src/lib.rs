//! Notifier: delivers what automation asks for: replies to the customer on their channel
//! (conversation, email, social and SMS gateways), notifications to teams and addresses, and
//! routing decisions to webhooks. Each delivery is recorded once in `notifier.delivery_log`
//! before the event that asked is acked, and its outcome is published as an event.
//!
//! Multi-tenant: every event is handled for its own tenant (its customers, conversations, log
//! rows and timers, keyed by tenant first), what it causes is published for that tenant, and
//! `ListDeliveries` reads the caller's tenant only.

#![forbid(unsafe_code)]

mod deliver;
mod email;
mod grpc;
mod jobs;
mod log;
mod proactive;
mod projection;
mod reach;
mod reports;
mod schedule;
mod send;
mod templates;
mod tenancy;

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use switchboard_bus::ConsumerSpec;
use switchboard_channels::outbound::{Mailer, SignedPost};
use switchboard_projection::{Deps, Migration, Runner, Task, migrate, spawn_runner};
use switchboard_proto::{ErrorKind, ServiceError, notifier::v1::notifier_server::NotifierServer};
use tokio_util::sync::CancellationToken;

pub use projection::NotifierProjection;
pub use templates::{DEFAULT_TEMPLATES, Templates};

const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "deliveries", sql: include_str!("../migrations/001_deliveries.sql") },
    Migration { version: 2, name: "targets", sql: include_str!("../migrations/002_targets.sql") },
    Migration { version: 3, name: "proactive", sql: include_str!("../migrations/003_proactive.sql") },
    Migration {
        version: 4,
        name: "contact language",
        sql: include_str!("../migrations/004_contact_language.sql"),
    },
    Migration { version: 5, name: "tenancy", sql: include_str!("../migrations/005_tenancy.sql") },
    Migration { version: 6, name: "lease", sql: include_str!("../migrations/006_lease.sql") },
    Migration {
        version: 7,
        name: "room for updates",
        sql: include_str!("../migrations/007_room_for_updates.sql"),
    },
];

/// Durable consumer of what is to be delivered.
pub const CONSUMER: &str = "notifier-outbox";

/// Subjects of the events that ask for deliveries or proactive messages.
const SUBJECTS: [&str; 8] = [
    "switchboard.events.reply.>",
    "switchboard.events.notification.>",
    "switchboard.events.routing.>",
    "switchboard.events.order.>",
    "switchboard.events.device.>",
    "switchboard.events.outage.>",
    "switchboard.events.conversation-lifecycle.>",
    "switchboard.events.customer.>",
];

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}: a webhook URL there is not an http(s) URL")]
    WebhookUrl(&'static str),
    #[error(transparent)]
    Outbound(#[from] switchboard_channels::outbound::Error),
    #[error("templates: {0}")]
    Templates(String),
    #[error("the deliveries have not reached sequence {0} yet; try again")]
    NotCaughtUp(u64),
    #[error(transparent)]
    Bus(#[from] switchboard_bus::Error),
    #[error(transparent)]
    Projection(#[from] switchboard_projection::Error),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl ServiceError for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Invalid(_) | Self::WebhookUrl(_) | Self::Outbound(_) | Self::Templates(_) => {
                ErrorKind::InvalidArgument
            }
            Self::NotCaughtUp(_) | Self::Bus(_) => ErrorKind::Unavailable,
            Self::Database(error) if switchboard_bus::is_transient(error) => ErrorKind::Unavailable,
            _ => ErrorKind::Internal,
        }
    }
}

/// What a survey asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SurveyKind {
    /// Satisfaction with the conversation, 1 (poor) to 5 (great).
    Csat,
    /// Likelihood to recommend, 0 to 10.
    Nps,
}

impl SurveyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Csat => "csat",
            Self::Nps => "nps",
        }
    }
}

/// A fault injected on purpose, for crash tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failpoint {
    /// Stop for good once a delivery's outcome is logged, before its event is published and
    /// acked (`SWITCHBOARD_FAILPOINT=notifier-halt-after-send`): the moment to kill the process.
    HaltAfterSend,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// Every web, API and voice reply is also POSTed here, when set.
    pub webhook_url: Option<String>,
    /// Signs outbound webhooks (`X-Switchboard-Signature`), when set. Receivers know it, so it
    /// is not the secret inbound webhooks are checked with.
    pub signing_secret: Option<String>,
    /// Signs survey links; surveys are off without it.
    pub survey_secret: Option<String>,
    /// The longest one send may take (a webhook POST, an SMTP exchange), and at most half the
    /// ack timer. A send cut short is tried again under the same key.
    pub send_timeout: Duration,
    /// Private networks outbound webhooks may reach besides public addresses (none by default).
    pub outbound_allow: switchboard_channels::outbound::Destinations,
    /// SMTP relay for email, e.g. `smtp://127.0.0.1:2525`; email deliveries fail without it.
    pub smtp_url: Option<String>,
    /// The sender of emails, e.g. `Acme Support <support@acme.example>`.
    pub email_from: String,
    /// `team:NAME` targets: NAME to `email:ADDRESS` or `webhook:URL`. The default tenant's teams
    /// are named NAME, another tenant's TENANT/NAME.
    pub teams: BTreeMap<String, String>,
    /// Outbound gateways of the social and SMS channels, by channel (`sms`, `social`).
    pub gateways: BTreeMap<String, String>,
    /// Templates (YAML); the bundled ones when unset.
    pub templates: Option<String>,
    /// How long after a conversation closes its survey goes out.
    pub survey_delay: Duration,
    pub survey_kind: SurveyKind,
    /// The channels' public HTTP address, for links in messages (survey pages).
    pub public_url: String,
    pub failpoint: Option<Failpoint>,
    pub batch_size: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            webhook_url: None,
            signing_secret: None,
            survey_secret: None,
            send_timeout: Duration::from_secs(10),
            outbound_allow: switchboard_channels::outbound::Destinations::default(),
            smtp_url: None,
            email_from: "Switchboard Support <support@switchboard.localhost>".into(),
            teams: BTreeMap::new(),
            gateways: BTreeMap::new(),
            templates: None,
            survey_delay: Duration::from_secs(3600),
            survey_kind: SurveyKind::Csat,
            public_url: "http://127.0.0.1:8080".into(),
            failpoint: None,
            batch_size: 500,
        }
    }
}

pub struct Started {
    pub service: NotifierServer<grpc::NotifierApi>,
    pub tasks: Vec<Task>,
}

/// Migrates, creates the consumers and starts them.
pub async fn start(deps: Deps, config: Config, shutdown: CancellationToken) -> Result<Started, Error> {
    let transports = transports(&deps, &config)?;
    migrate(&deps.pool, "notifier", MIGRATIONS).await?;
    let runner = Runner::start(deps.bus.clone(), deps.pool.clone(), projection(), config.batch_size).await?;
    let api = grpc::NotifierApi::new(deps.bus.clone(), deps.pool.clone(), runner.checkpoint());
    let spec = ConsumerSpec {
        filter_subjects: SUBJECTS.iter().map(|s| (*s).to_string()).collect(),
        ..ConsumerSpec::events(CONSUMER, SUBJECTS[0], deliver::CONCURRENCY)
    };
    let consumer = deps.bus.durable_consumer(&spec).await?;
    let proactive = proactive::Proactive {
        checkpoint: runner.checkpoint(),
        pool: deps.pool.clone(),
        bus: deps.bus.clone(),
        templates: transports.templates.clone(),
        surveys: surveys(&config),
    };
    let deliverer = deliver::Deliverer::new(deps.clone(), transports, proactive.clone(), config.failpoint);
    let tasks = vec![
        spawn_runner(runner, shutdown.clone()),
        schedule::spawn(deps.pool.clone(), proactive, shutdown.clone()),
        deliver::spawn(deps.bus.clone(), consumer, deliverer, shutdown),
    ];
    Ok(Started { service: NotifierServer::new(api), tasks })
}

/// Checks the settings and builds the transports: bad settings stop the start with a reason.
fn transports(deps: &Deps, config: &Config) -> Result<send::Transports, Error> {
    let mirror = config.webhook_url.clone().filter(|url| !url.is_empty());
    if mirror.as_deref().is_some_and(|url| !SignedPost::is_valid_url(url)) {
        return Err(Error::WebhookUrl("SWITCHBOARD_WEBHOOK_URL"));
    }
    if config.gateways.values().any(|url| !SignedPost::is_valid_url(url)) {
        return Err(Error::WebhookUrl("SWITCHBOARD_GATEWAYS"));
    }
    // A send ends well inside the ack timer (the message is leased meanwhile besides).
    let send_timeout = config.send_timeout.min(deps.bus.config().ack_wait / 2);
    let mailer = match config.smtp_url.as_deref().filter(|url| !url.is_empty()) {
        Some(url) => Some(Mailer::new(url, &config.email_from, send_timeout)?),
        None => None,
    };
    let templates = Templates::parse(config.templates.as_deref().unwrap_or(DEFAULT_TEMPLATES))?;
    Ok(send::Transports {
        bus: deps.bus.clone(),
        mailer,
        post: SignedPost::new(config.signing_secret.as_deref(), send_timeout, config.outbound_allow.clone())?,
        mirror,
        teams: config.teams.clone(),
        gateways: config.gateways.clone(),
        templates,
        send_timeout,
    })
}

/// Surveys sign their links with their own secret; without one they are off.
fn surveys(config: &Config) -> Option<proactive::Surveys> {
    let Some(secret) = config.survey_secret.clone().filter(|secret| !secret.is_empty()) else {
        tracing::warn!(
            "surveys are off: their links are signed with a key derived from SWITCHBOARD_WEBHOOK_SECRET"
        );
        return None;
    };
    Some(proactive::Surveys {
        kind: config.survey_kind.as_str().into(),
        secret,
        delay: config.survey_delay,
        public_url: config.public_url.clone(),
    })
}

pub fn projection() -> Arc<NotifierProjection> {
    Arc::new(NotifierProjection)
}

pub async fn migrate_schema(pool: &sqlx::PgPool) -> Result<(), Error> {
    Ok(migrate(pool, "notifier", MIGRATIONS).await?)
}
