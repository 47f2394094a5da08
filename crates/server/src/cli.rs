//! The command line: `serve`, `replay`, `knowledge`, `classifier`, `router`.

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
        /// intake, classifier, router, knowledge, notifier or analytics.
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
    /// Tokens for the API: issue, revoke, and make a signing key.
    #[command(subcommand)]
    Token(crate::token::TokenCommand),
}

#[derive(Debug, Args)]
pub struct Connection {
    #[arg(long, env = "SWITCHBOARD_NATS_URL", default_value = "nats://127.0.0.1:4222")]
    pub nats_url: String,
    #[arg(
        long,
        env = "SWITCHBOARD_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/switchboard"
    )]
    pub database_url: String,
}

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
    /// Router rule table (JSON); the bundled one when unset.
    #[arg(long, env = "SWITCHBOARD_RULES")]
    pub rules: Option<PathBuf>,
    /// The knowledge service for the router; this process when unset.
    #[arg(long, env = "SWITCHBOARD_KNOWLEDGE_ENDPOINT")]
    pub knowledge_endpoint: Option<String>,
    #[command(flatten)]
    pub channels: crate::channels::ChannelArgs,
    /// The sentence encoder directory (`make encoder`), for intent models with a full head.
    #[arg(long, env = "SWITCHBOARD_ENCODER_DIR")]
    pub encoder_dir: Option<PathBuf>,
    /// The knowledge search index directory (kept across restarts); in memory when unset.
    #[arg(long, env = "SWITCHBOARD_INDEX_DIR")]
    pub index_dir: Option<PathBuf>,
    /// Lowest confidence (0..1) at which knowledge answers the bot and deflects confidently.
    #[arg(long, env = "SWITCHBOARD_ANSWER_CONFIDENCE", default_value_t = switchboard_knowledge::DEFAULT_MIN_CONFIDENCE)]
    pub answer_confidence: f32,
    /// Seconds a delivered message may stay unacknowledged before redelivery.
    #[arg(long, env = "SWITCHBOARD_ACK_WAIT_SECS", default_value_t = 30)]
    pub ack_wait_secs: u64,
    /// Print the resolved configuration and exit.
    #[arg(long)]
    pub dump_config: bool,
}

impl ServeArgs {
    pub fn config(&self) -> anyhow::Result<Config> {
        Ok(Config {
            services: Service::parse_list(&self.services).map_err(anyhow::Error::msg)?,
            grpc_addr: self.grpc_addr,
            auth_keys: self.auth.keys()?,
            nats_url: self.connection.nats_url.clone(),
            database_url: self.connection.database_url.clone(),
            rules_file: self.rules.clone(),
            knowledge_endpoint: self.knowledge_endpoint.clone(),
            http_addr: Some(self.channels.http_addr),
            smtp_addr: Some(self.channels.smtp_addr),
            channels: self.channels.channels()?,
            intake_endpoint: self.channels.intake_endpoint.clone().filter(|e| !e.is_empty()),
            notifier: self.channels.notifier()?,
            encoder_dir: self.encoder_dir.clone().filter(|dir| !dir.as_os_str().is_empty()),
            index_dir: self.index_dir.clone().filter(|dir| !dir.as_os_str().is_empty()),
            ack_wait: Duration::from_secs(self.ack_wait_secs.max(1)),
            answer_confidence: checked_confidence(self.answer_confidence)?,
            ..Config::default()
        })
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
                nats_url: connection.nats_url,
                database_url: connection.database_url,
                index_dir: index_dir.filter(|dir| !dir.as_os_str().is_empty()),
                ..Config::default()
            };
            let report = crate::replay(&config, service).await?;
            println!(
                "replayed {}: {} events applied, checkpoint {}",
                service.name(),
                report.events,
                report.checkpoint
            );
            Ok(())
        }
        Command::Knowledge(command) => crate::knowledge::run(command).await,
        Command::Router(command) => crate::router::run(command).await,
        Command::Token(command) => crate::token::run(command).await,
        Command::Classifier(command) => {
            tokio::task::spawn_blocking(move || crate::classifier::run(command)).await?
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    if args.dump_config {
        println!("{config:#?}");
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
