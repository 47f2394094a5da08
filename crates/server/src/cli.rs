//! The command line: `serve`, `replay`, `knowledge`, `classifier`, `router`, `analytics`,
//! `token`, `agent`, `demo`, `dlq`, `events`.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::{Config, Service};

#[derive(Debug, Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Customer service automation: services and operator commands"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run services (all of them by default) on one gRPC listener.
    Serve(Box<ServeArgs>),
    /// Drop a service's read model and rebuild it from the event stream (stop the service first).
    Replay {
        /// intake, classifier, router, knowledge, notifier, analytics, desk or channels.
        service: Service,
        #[command(flatten)]
        connection: Connection,
        /// The knowledge search index directory: emptied, so the service rebuilds it at start.
        #[arg(long, env = "SWITCHBOARD_INDEX_DIR")]
        index_dir: Option<PathBuf>,
    },
    /// Import and export articles; measure knowledge search offline.
    #[command(subcommand)]
    Knowledge(crate::knowledge::KnowledgeCommand),
    /// Train and evaluate intent models offline.
    #[command(subcommand)]
    Classifier(crate::classifier::ClassifierCommand),
    /// Routing rules: what a candidate rule set would change.
    #[command(subcommand)]
    Router(crate::router::RouterCommand),
    /// The support lead's report from a running server.
    #[command(subcommand)]
    Analytics(crate::analytics::AnalyticsCommand),
    /// Tokens for the API: issue, revoke, and make a signing key.
    #[command(subcommand)]
    Token(crate::token::TokenCommand),
    /// People who sign in: set an agent's or supervisor's password.
    #[command(subcommand)]
    Agent(crate::agent::AgentCommand),
    /// Load a directory of articles, customer profiles and orders through the API (`make run`'s
    /// demo data).
    #[command(subcommand)]
    Demo(crate::demo::DemoCommand),
    /// Dead letters: list them, put them back into their consumer, or purge them.
    #[command(subcommand)]
    Dlq(crate::dlq::DlqCommand),
    /// The events stream: back it up to a file, restore it into a new server.
    #[command(subcommand)]
    Events(crate::events::EventsCommand),
}

use crate::connection::Connection;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// `all`, or a comma-separated list such as `intake,router`.
    #[arg(long, env = "SWITCHBOARD_SERVICES", default_value = "all")]
    pub services: String,
    #[arg(long, env = "SWITCHBOARD_GRPC_ADDR", default_value = "127.0.0.1:50051")]
    pub grpc_addr: SocketAddr,
    #[command(flatten)]
    pub connection: Connection,
    #[command(flatten)]
    pub auth: crate::token::KeyArgs,
    /// The gRPC listener's certificate (PEM); with --tls-key it serves TLS only.
    #[arg(long, env = "SWITCHBOARD_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, env = "SWITCHBOARD_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
    /// The CA this process's calls to its own listener (and to SWITCHBOARD_KNOWLEDGE_ENDPOINT and
    /// SWITCHBOARD_INTAKE_ENDPOINT over https) trust; the certificate itself when unset.
    #[arg(long, env = "SWITCHBOARD_TLS_CA")]
    pub tls_ca: Option<std::path::PathBuf>,
    /// The name those calls expect in the certificate.
    #[arg(long, env = "SWITCHBOARD_TLS_DOMAIN", default_value = "localhost")]
    pub tls_domain: String,
    /// Router rule table (JSON); the bundled one when unset.
    #[arg(long, env = "SWITCHBOARD_RULES")]
    pub rules: Option<PathBuf>,
    /// The knowledge service for the router; this process when unset.
    #[arg(long, env = "SWITCHBOARD_KNOWLEDGE_ENDPOINT")]
    pub knowledge_endpoint: Option<String>,
    /// Links to knowledge base articles in agents' replies and suggestions, `{id}` replaced by
    /// the article id, e.g. `https://help.example.com/articles/{id}`.
    #[arg(long, env = "SWITCHBOARD_ARTICLE_URL", default_value = "")]
    pub article_url: String,
    #[command(flatten)]
    pub channels: crate::channels::ChannelArgs,
    /// The sentence encoder directory (`make encoder`), for intent models with a full head.
    #[arg(long, env = "SWITCHBOARD_ENCODER_DIR")]
    pub encoder_dir: Option<PathBuf>,
    /// The knowledge search index directory (kept across restarts); in memory when unset.
    #[arg(long, env = "SWITCHBOARD_INDEX_DIR")]
    pub index_dir: Option<PathBuf>,
    /// Lowest confidence (0..1) at which knowledge answers the bot and deflects confidently;
    /// unset: each search mode's calibrated threshold (docs/KNOWLEDGE.md).
    #[arg(long, env = "SWITCHBOARD_ANSWER_CONFIDENCE")]
    pub answer_confidence: Option<f32>,
    /// Seconds a conversation only the bot has handled may stay quiet before it is closed as
    /// resolved by the bot (its survey goes out); 0: never.
    #[arg(long, env = "SWITCHBOARD_BOT_IDLE_CLOSE_SECS", default_value_t = 86_400)]
    pub bot_idle_close_secs: u64,
    /// Seconds an agent may stay offline before the conversations they hold go back to their
    /// queues.
    #[arg(long, env = "SWITCHBOARD_DESK_OFFLINE_GRACE_SECS", default_value_t = 300)]
    pub desk_offline_grace_secs: u64,
    /// Seconds after a conversation closed during which a customer's message reopens it (and
    /// counts as a reopen); later, the message starts a new conversation.
    #[arg(long, env = "SWITCHBOARD_REOPEN_WINDOW_SECS", default_value_t = 7 * 24 * 3600)]
    pub reopen_window_secs: u64,
    /// Seconds a delivered message may stay unacknowledged before redelivery.
    #[arg(long, env = "SWITCHBOARD_ACK_WAIT_SECS", default_value_t = 30)]
    pub ack_wait_secs: u64,
    /// Where Prometheus scrapes `/metrics` (port 0: any free port); `off`: no metrics listener.
    /// Unset: 127.0.0.1:9464, or a free port when another process on the host holds that one.
    #[arg(long, env = "SWITCHBOARD_METRICS_ADDR")]
    pub metrics_addr: Option<String>,
    /// Print the resolved configuration and exit.
    #[arg(long)]
    pub dump_config: bool,
}

const DEFAULT_METRICS_ADDR: &str = "127.0.0.1:9464";

/// `SWITCHBOARD_METRICS_ADDR`: an address, or `off`.
fn metrics_addr(text: &str) -> anyhow::Result<Option<SocketAddr>> {
    match text.trim() {
        "off" | "" => Ok(None),
        address => Ok(Some(address.parse().with_context(|| {
            format!("SWITCHBOARD_METRICS_ADDR {address:?}: give host:port, e.g. 127.0.0.1:9464, or off")
        })?)),
    }
}

impl ServeArgs {
    pub fn config(&self) -> anyhow::Result<Config> {
        let base = self.connection.config(Config::default())?;
        let services = Service::parse_list(&self.services).map_err(anyhow::Error::msg)?;
        // Only a process that runs the channels listens for HTTP and SMTP.
        let channels = services.contains(&Service::Channels);
        Ok(Config {
            services,
            grpc_addr: self.grpc_addr,
            auth_keys: self.auth.keys()?,
            tls: self.tls()?,
            rules_file: self.rules.clone(),
            knowledge_endpoint: self.knowledge_endpoint.clone(),
            article_url: self.article_url.clone(),
            http_addr: channels.then_some(self.channels.http_addr),
            smtp_addr: channels.then_some(self.channels.smtp_addr),
            channels: self.channels.channels()?,
            intake_endpoint: self.channels.intake_endpoint.clone().filter(|e| !e.is_empty()),
            desk_endpoint: self.channels.desk_endpoint.clone().filter(|e| !e.is_empty()),
            analytics_endpoint: self.channels.analytics_endpoint.clone().filter(|e| !e.is_empty()),
            notifier: self.channels.notifier()?,
            encoder_dir: self.encoder_dir.clone().filter(|dir| !dir.as_os_str().is_empty()),
            index_dir: self.index_dir.clone().filter(|dir| !dir.as_os_str().is_empty()),
            ack_wait: Duration::from_secs(self.ack_wait_secs.max(1)),
            answer_confidence: self.answer_confidence.map(checked_confidence).transpose()?,
            bot_idle_close: (self.bot_idle_close_secs > 0)
                .then(|| Duration::from_secs(self.bot_idle_close_secs)),
            desk_offline_grace: Duration::from_secs(self.desk_offline_grace_secs),
            reopen_window: Duration::from_secs(self.reopen_window_secs),
            metrics_addr: metrics_addr(self.metrics_addr.as_deref().unwrap_or(DEFAULT_METRICS_ADDR))?,
            metrics_addr_chosen: self.metrics_addr.is_some(),
            ..base
        })
    }

    fn tls(&self) -> anyhow::Result<Option<crate::ServerTls>> {
        let read = |path: &std::path::Path, what: &str| {
            std::fs::read(path).with_context(|| format!("cannot read the TLS {what} {}", path.display()))
        };
        let (Some(certificate), Some(key)) = (&self.tls_cert, &self.tls_key) else { return Ok(None) };
        Ok(Some(crate::ServerTls {
            certificate: read(certificate, "certificate")?,
            key: read(key, "key")?,
            ca: self.tls_ca.as_deref().map(|path| read(path, "CA")).transpose()?,
            domain: self.tls_domain.clone(),
        }))
    }
}

fn checked_confidence(confidence: f32) -> anyhow::Result<f32> {
    anyhow::ensure!(
        confidence > 0.0 && confidence <= 1.0,
        "--answer-confidence {confidence}: give a number above 0 and at most 1"
    );
    Ok(confidence)
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => Box::pin(serve(*args)).await,
        Command::Replay { service, connection, index_dir } => {
            let config = Config {
                index_dir: index_dir.filter(|dir| !dir.as_os_str().is_empty()),
                ..connection.config(Config::default())?
            };
            let progress = crate::progress::spinner(&format!("replaying the events into {}", service.name()));
            let report = crate::replay(&config, service).await;
            progress.finish_and_clear();
            let report = report?;
            println!(
                "replayed {}: {} events applied, checkpoint {}",
                service.name(),
                report.events,
                report.checkpoint
            );
            Ok(())
        }
        Command::Knowledge(command) => crate::knowledge::run(command).await,
        Command::Router(command) => Box::pin(crate::router::run(command)).await,
        Command::Analytics(command) => crate::analytics::run(command).await,
        Command::Token(command) => crate::token::run(command).await,
        Command::Agent(command) => crate::agent::run(command).await,
        Command::Demo(command) => crate::demo::run(command).await,
        Command::Dlq(command) => crate::dlq::run(command).await,
        Command::Events(command) => crate::events::run(command).await,
        Command::Classifier(command) => {
            tokio::task::spawn_blocking(move || crate::classifier::run(command)).await?
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    if args.dump_config {
        println!("{}", config.dump());
        return Ok(());
    }
    let listener = tokio::net::TcpListener::bind(config.grpc_addr)
        .await
        .with_context(|| format!("cannot listen on {}", config.grpc_addr))?;
    let shutdown = CancellationToken::new();
    tokio::spawn(signal(shutdown.clone()));
    Box::pin(crate::serve(config, listener, shutdown)).await
}

/// Cancels `shutdown` on Ctrl-C or SIGTERM.
async fn signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => term.recv().await,
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<Option<()>>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutdown requested");
    shutdown.cancel();
}
