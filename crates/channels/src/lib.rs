//! Channel adapters. In: email over the project's own SMTP listener and an inbound-parse webhook,
//! social and SMS messages over signed webhooks; each is published on
//! `switchboard.inbound.<channel>` for intake. Out: the transports the notifier delivers with
//! (email through an SMTP relay, signed webhooks), and the email threads they need.

#![forbid(unsafe_code)]

pub mod chat;
pub mod email;
pub mod hooks;
pub mod http;
pub mod outbound;
pub mod signature;
pub mod surveys;
pub mod tenants;
pub mod voice;

use std::{collections::BTreeMap, sync::Arc};

use switchboard_projection::{Deps, Migration, Runner, Task, migrate, spawn_runner};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use email::threads::{ThreadsProjection, ticket_token, tokened_subject};

const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "email", sql: include_str!("../migrations/001_email.sql") },
    Migration { version: 2, name: "voice_pins", sql: include_str!("../migrations/002_voice_pins.sql") },
    Migration {
        version: 3,
        name: "voice_call_tenants",
        sql: include_str!("../migrations/003_voice_call_tenants.sql"),
    },
];

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Projection(#[from] switchboard_projection::Error),
    #[error("cannot serve: {0}")]
    Io(#[from] std::io::Error),
    #[error("chat: {0}")]
    Chat(String),
    #[error("channel tenants: {0}")]
    Tenants(String),
    #[error("email sender verification: {0}")]
    SenderDns(String),
}

#[derive(Debug, Clone)]
pub struct Config {
    /// Shared secret of signed webhooks (in and out); signed webhooks are refused without it.
    pub webhook_secret: Option<String>,
    /// Checks survey links (the notifier signs them with the same); survey pages 404 without it.
    pub survey_secret: Option<String>,
    /// Largest email accepted, in bytes (SMTP `SIZE` and the webhook's body limit).
    pub max_email_bytes: usize,
    /// The name the SMTP listener greets with.
    pub hostname: String,
    /// Web chat site tokens and the origin each may be embedded on (`*`: any); chat is off without.
    pub chat_sites: BTreeMap<String, String>,
    /// Per site token, the secret signed-in customers' ids are signed with (identity verification).
    pub chat_identity_secrets: BTreeMap<String, String>,
    /// Inbound email addresses or domains and voice numbers of the default tenant are all those
    /// no other tenant names; the other tenants' channel credentials are here, by tenant.
    pub tenants: BTreeMap<String, tenants::TenantChannels>,
    /// Voice: the telephony account's auth token (voice webhooks are refused without), the
    /// public base URL the provider calls, the line a hand-off dials, and how long a turn waits.
    pub twilio_auth_token: Option<String>,
    pub public_url: String,
    pub support_line: Option<String>,
    pub voice_reply_wait: std::time::Duration,
    /// Intake's and knowledge's gRPC endpoints (chat history, suggestions).
    pub intake_endpoint: String,
    pub knowledge_endpoint: String,
    /// What the HTTP listener allows: connections, deadlines, requests per client.
    pub http_limits: http::HttpLimits,
    /// What the SMTP listener allows: connections, session deadline, DATA in memory.
    pub smtp_limits: email::SmtpLimits,
    /// How email senders are verified (DKIM, SPF): the DNS asked (the system resolver by
    /// default), the deadline of one email's checks, whether SPF counts.
    pub sender_verification: email::SenderVerification,
    /// What a chat socket and a site may send.
    pub chat_limits: chat::ChatLimits,
    /// Webhook body bytes read at once across requests (signatures are checked after reading).
    pub webhook_bytes_in_flight: usize,
    /// What those calls carry: a service token of the cluster.
    pub credentials: switchboard_auth::Credentials,
    /// The trust for their TLS, when the endpoints are `https://`.
    pub tls: Option<switchboard_auth::PeerTls>,
    pub batch_size: usize,
}

impl Config {
    /// Every tenant's channel credentials: the flat settings are the default tenant's.
    pub fn tenants(&self) -> Result<tenants::Tenants, String> {
        let default = tenants::TenantChannels {
            webhook_secret: self.webhook_secret.clone(),
            chat_sites: self.chat_sites.clone(),
            chat_identity_secrets: self.chat_identity_secrets.clone(),
            twilio_auth_token: self.twilio_auth_token.clone(),
            ..Default::default()
        };
        tenants::Tenants::new(default, self.tenants.clone())
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            webhook_secret: None,
            survey_secret: None,
            max_email_bytes: 10 * 1024 * 1024,
            hostname: "switchboard".into(),
            chat_sites: BTreeMap::new(),
            chat_identity_secrets: BTreeMap::new(),
            tenants: BTreeMap::new(),
            twilio_auth_token: None,
            public_url: "http://127.0.0.1:8080".into(),
            support_line: None,
            voice_reply_wait: std::time::Duration::from_secs(10),
            intake_endpoint: "http://127.0.0.1:50051".into(),
            knowledge_endpoint: "http://127.0.0.1:50051".into(),
            credentials: switchboard_auth::Credentials::default(),
            http_limits: http::HttpLimits::default(),
            smtp_limits: email::SmtpLimits::default(),
            sender_verification: email::SenderVerification::default(),
            chat_limits: chat::ChatLimits::default(),
            webhook_bytes_in_flight: 32 * 1024 * 1024,
            tls: None,
            batch_size: 500,
        }
    }
}

/// Where the adapters listen; each is optional.
#[derive(Debug, Default)]
pub struct Listeners {
    pub http: Option<TcpListener>,
    pub smtp: Option<TcpListener>,
    /// More routes the HTTP listener serves besides the channels' own (the web console), under
    /// the same limits; `files` are answered from memory and not counted by the request rate.
    pub routes: axum::Router,
    pub files: axum::Router,
}

pub struct Started {
    pub tasks: Vec<Task>,
}

/// Migrates, starts the threads projection and serves the listeners until `shutdown`.
pub async fn start(
    deps: Deps,
    config: Config,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> Result<Started, Error> {
    migrate(&deps.pool, "channels", MIGRATIONS).await?;
    let runner = Runner::start(deps.bus.clone(), deps.pool.clone(), projection(), config.batch_size).await?;
    let tenants = config.tenants().map_err(Error::Tenants)?;
    let senders =
        email::SenderAuth::new(&config.sender_verification, &config.hostname).map_err(Error::SenderDns)?;
    let inbox = email::Inbox::new(deps.clone(), config.max_email_bytes, tenants.clone(), senders);
    let mut tasks = vec![spawn_runner(runner, shutdown.clone())];
    if let Some(listener) = listeners.smtp {
        tracing::info!(address = %listener.local_addr()?, "serving smtp");
        let (inbox, hostname, shutdown) = (inbox.clone(), config.hostname.clone(), shutdown.clone());
        let limits = config.smtp_limits.clone();
        tasks.push(tokio::spawn(async move {
            email::smtp::serve(listener, inbox, hostname, limits, shutdown).await;
            Ok(())
        }));
    }
    if let Some(listener) = listeners.http {
        tracing::info!(address = %listener.local_addr()?, "serving http");
        let surveys = surveys::Surveys { deps: deps.clone(), secret: config.survey_secret.clone() };
        let hub = chat::Hub::default();
        let chat =
            chat::Chat::new(deps.clone(), hub.clone(), &config, tenants.clone()).map_err(Error::Chat)?;
        let voice = voice::Voice {
            deps: deps.clone(),
            hub: hub.clone(),
            tenants: tenants.clone(),
            public_url: config.public_url.clone(),
            support_line: config.support_line.clone(),
            reply_wait: config.voice_reply_wait,
        };
        tasks.push(tokio::spawn(chat::hub::run(hub, deps.bus.clone(), shutdown.clone())));
        let pruning = chat.clone().prune_budgets(shutdown.clone());
        tasks.push(tokio::spawn(async move {
            pruning.await;
            Ok(())
        }));
        let in_flight = hooks::Hooks::budget(config.webhook_bytes_in_flight / 1024);
        let per_site = hooks::Hooks::per_site(&config.http_limits);
        let metered = hooks::routes(hooks::Hooks { deps, inbox, tenants, in_flight, per_site })
            .merge(surveys::routes(surveys))
            .merge(chat::routes(chat))
            .merge(voice::routes(voice))
            .merge(listeners.routes);
        let routes = http::Routes { metered, files: chat::files().merge(listeners.files) };
        let limits = config.http_limits.clone();
        tasks.push(tokio::spawn(async move {
            http::serve(listener, routes, limits, shutdown).await;
            Ok(())
        }));
    }
    Ok(Started { tasks })
}

pub fn projection() -> Arc<ThreadsProjection> {
    Arc::new(ThreadsProjection)
}

pub async fn migrate_schema(pool: &sqlx::PgPool) -> Result<(), Error> {
    Ok(migrate(pool, "channels", MIGRATIONS).await?)
}
