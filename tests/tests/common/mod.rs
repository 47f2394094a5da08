//! An in-process cluster on a real nats-server and a fresh PostgreSQL database, and helpers that
//! wait on health and on events (never on sleeps).

#![allow(dead_code)]

pub mod models;
pub mod peers;

use std::{net::SocketAddr, time::Duration};

use anyhow::{Context as _, bail};
use async_nats::jetstream::consumer::{DeliverPolicy, pull::OrderedConfig};
use futures::StreamExt as _;
use prost::Message as _;
use switchboard_auth::Role;
use switchboard_bus::{Bus, EVENTS_STREAM};
use switchboard_proto::{
    events::v1::{Channel, Event},
    intake::v1::{SubmitMessageRequest, SubmitMessageResponse, intake_client::IntakeClient},
};
use switchboard_server::{Config, serve, serve_with};
use switchboard_testkit::{NatsServer, TestDatabase};
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel as GrpcChannel;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

/// A liveness bound, not a speed target: runs take seconds; a debug build on a loaded 2-core
/// machine can take much longer.
pub const WAIT: Duration = Duration::from_secs(60);

/// The servers a cluster runs against; they outlive restarts of the cluster.
pub struct Backing {
    pub nats: NatsServer,
    pub database: TestDatabase,
}

impl Backing {
    pub async fn start() -> anyhow::Result<Self> {
        switchboard_testkit::init_tracing();
        Ok(Self { nats: NatsServer::start()?, database: TestDatabase::create().await? })
    }

    pub fn config(&self) -> Config {
        Config {
            nats_url: self.nats.url(),
            database_url: self.database.url.clone(),
            auth_keys: Some(switchboard_testkit::auth_keys()),
            ack_wait: Duration::from_secs(2),
            max_deliver: 3,
            notifier: switchboard_notifier::Config {
                outbound_allow: loopback_allowed(),
                ..Default::default()
            },
            channels: offline_email_senders(),
            ..Config::default()
        }
    }

    pub async fn bus(&self) -> anyhow::Result<Bus> {
        let config = switchboard_bus::Config { url: self.nats.url(), ..Default::default() };
        Ok(Bus::connect(config).await?)
    }
}

/// Email sender checks (DKIM, SPF) that ask no DNS server: tests never need the internet; a
/// test gives the records it needs in `sender_verification.dns`.
pub fn offline_email_senders() -> switchboard_channels::Config {
    let mut channels = switchboard_channels::Config::default();
    channels.sender_verification.dns = switchboard_channels::email::SenderDns::Records(Default::default());
    channels
}

/// The tests' webhook receivers listen on loopback, which outbound webhooks may not reach unless allowed.
pub fn loopback_allowed() -> switchboard_channels::outbound::Destinations {
    let loopback = "127.0.0.0/8".parse().expect("a network");
    switchboard_channels::outbound::Destinations::allowing(vec![loopback])
}

/// All services in one process, in the test's runtime, on a pre-bound listener.
pub struct Cluster {
    pub address: SocketAddr,
    /// The channels' HTTP listener (signed webhooks).
    pub http: SocketAddr,
    /// The channels' SMTP listener.
    pub smtp: SocketAddr,
    /// What clients trust when the cluster serves TLS.
    pub tls: Option<switchboard_auth::PeerTls>,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Cluster {
    /// Starts every service; links in messages (survey pages) point at the cluster's own
    /// HTTP listener.
    pub async fn start(mut config: Config) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let http = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let smtp = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let (http_address, smtp_address) = (http.local_addr()?, smtp.local_addr()?);
        config.notifier.public_url = format!("http://{http_address}");
        config.channels.public_url = format!("http://{http_address}");
        let channels =
            switchboard_channels::Listeners { http: Some(http), smtp: Some(smtp), ..Default::default() };
        let tls = config.tls.as_ref().map(switchboard_server::ServerTls::peer);
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(serve_with(config, listener, channels, shutdown.clone()));
        match wait_healthy(connect(address, tls.as_ref()).await).await {
            Ok(()) => Ok(Self { address, http: http_address, smtp: smtp_address, tls, shutdown, server }),
            // A server that gave up says why better than the health check does.
            Err(waiting) => {
                shutdown.cancel();
                match server.await {
                    Ok(Err(error)) => Err(error),
                    _ => Err(waiting),
                }
            }
        }
    }

    /// A channel whose calls carry an admin token of the default tenant.
    pub async fn channel(&self) -> anyhow::Result<Api> {
        self.channel_as(switchboard_bus::DEFAULT_TENANT, Role::Admin, "test-admin").await
    }

    /// A channel whose calls carry a token of `tenant` for `subject` in `role`.
    pub async fn channel_as(&self, tenant: &str, role: Role, subject: &str) -> anyhow::Result<Api> {
        let channel = connect(self.address, self.tls.as_ref()).await?;
        Ok(Api::new(channel, switchboard_testkit::credentials(tenant, role, subject)))
    }

    pub async fn intake(&self) -> anyhow::Result<IntakeClient<Api>> {
        Ok(IntakeClient::new(self.channel().await?))
    }

    /// Graceful shutdown: in-flight work finishes and is acked.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.server.await?
    }
}

/// What test clients talk through: a channel that sends a token with every call.
pub type Api = switchboard_auth::Authorized;

/// A channel to `address` whose calls carry an admin token of the default tenant.
pub async fn channel(address: SocketAddr) -> anyhow::Result<Api> {
    channel_as(address, switchboard_bus::DEFAULT_TENANT, Role::Admin, "test-admin").await
}

/// A channel to `address` whose calls carry a token of `tenant` for `subject` in `role`.
pub async fn channel_as(address: SocketAddr, tenant: &str, role: Role, subject: &str) -> anyhow::Result<Api> {
    let channel = connect(address, None).await?;
    Ok(Api::new(channel, switchboard_testkit::credentials(tenant, role, subject)))
}

/// A connection to `address`, over TLS trusting `tls` when given.
pub async fn connect(
    address: SocketAddr,
    tls: Option<&switchboard_auth::PeerTls>,
) -> anyhow::Result<GrpcChannel> {
    use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};
    let Some(tls) = tls else {
        return Ok(GrpcChannel::from_shared(format!("http://{address}"))?.connect().await?);
    };
    let config =
        ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&tls.ca_pem)).domain_name(&tls.domain);
    Ok(Endpoint::from_shared(format!("https://{address}"))?.tls_config(config)?.connect().await?)
}

/// Waits on the health `Watch` stream until the whole server reports SERVING; a process that
/// is still starting (not listening yet) is given until [`WAIT`].
pub async fn wait_serving(address: SocketAddr) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match connect(address, None).await {
            Err(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            connected => return wait_healthy(connected).await,
        }
    }
}

async fn wait_healthy(channel: anyhow::Result<GrpcChannel>) -> anyhow::Result<()> {
    let mut health = HealthClient::new(channel?);
    let mut statuses = health.watch(HealthCheckRequest { service: String::new() }).await?.into_inner();
    tokio::time::timeout(WAIT, async {
        while let Some(status) = statuses.message().await? {
            if status.status == ServingStatus::Serving as i32 {
                return Ok(());
            }
        }
        bail!("health stream ended before SERVING")
    })
    .await
    .context("server did not become healthy")?
}

/// A customer's message as an anonymous web visitor's: account data is not told.
pub fn message(customer: &str, text: &str, key: &str) -> SubmitMessageRequest {
    SubmitMessageRequest {
        channel: Channel::Web.into(),
        customer_id: customer.into(),
        text: text.into(),
        idempotency_key: key.into(),
        conversation_id: None,
        tenant: String::new(),
        customer_verified: false,
        language: String::new(),
    }
}

/// [`message`] from a customer the calling system has verified (signed in on its site).
pub fn verified_message(customer: &str, text: &str, key: &str) -> SubmitMessageRequest {
    SubmitMessageRequest { customer_verified: true, ..message(customer, text, key) }
}

pub async fn submit(
    cluster: &Cluster,
    request: SubmitMessageRequest,
) -> anyhow::Result<SubmitMessageResponse> {
    Ok(cluster.intake().await?.submit_message(request).await?.into_inner())
}

/// An ordered consumer over `stream` from its start, on one subject filter.
pub async fn ordered(
    bus: &Bus,
    stream: &str,
    filter: &str,
) -> anyhow::Result<async_nats::jetstream::consumer::Consumer<OrderedConfig>> {
    let stream = bus.jetstream().get_stream(stream).await?;
    let config = OrderedConfig {
        filter_subject: filter.to_string(),
        deliver_policy: DeliverPolicy::All,
        ..Default::default()
    };
    Ok(stream.create_consumer(config).await?)
}

/// Reads the events stream from the start until `found` picks an event; returns it with its sequence.
pub async fn wait_for_event<T>(
    bus: &Bus,
    filter: &str,
    mut found: impl FnMut(&Event) -> Option<T>,
) -> anyhow::Result<(T, u64)> {
    let consumer = ordered(bus, EVENTS_STREAM, filter).await?;
    let mut messages = consumer.messages().await?;
    tokio::time::timeout(WAIT, async {
        while let Some(message) = messages.next().await {
            let message = message?;
            let sequence = message.info().map_err(|e| anyhow::anyhow!("{e}"))?.stream_sequence;
            let event = Event::decode(message.payload.as_ref())?;
            if let Some(value) = found(&event) {
                return Ok((value, sequence));
            }
        }
        bail!("event stream ended")
    })
    .await
    .with_context(|| format!("no matching event on {filter} within {WAIT:?}"))?
}

/// All events on `filter` currently in the stream.
pub async fn events(bus: &Bus, filter: &str) -> anyhow::Result<Vec<Event>> {
    let last = bus.last_sequence(EVENTS_STREAM).await?;
    let mut all = Vec::new();
    if last == 0 {
        return Ok(all);
    }
    let consumer = ordered(bus, EVENTS_STREAM, filter).await?;
    let pending = consumer.cached_info().num_pending;
    let mut messages = consumer.messages().await?;
    while (all.len() as u64) < pending {
        let message = tokio::time::timeout(WAIT, messages.next()).await?.context("stream ended")??;
        all.push(Event::decode(message.payload.as_ref())?);
    }
    Ok(all)
}

/// A message in the dead-letter stream, with why it is there.
pub struct DeadLetter {
    pub reason: String,
    pub subject: String,
    pub payload: bytes::Bytes,
}

/// Waits for the first dead letter of `consumer`.
pub async fn dead_letter(bus: &Bus, consumer: &str) -> anyhow::Result<DeadLetter> {
    dead_letter_where(bus, consumer, |_| true).await
}

/// Waits for the first dead letter of `consumer` that `wanted` accepts.
pub async fn dead_letter_where(
    bus: &Bus,
    consumer: &str,
    wanted: impl Fn(&DeadLetter) -> bool,
) -> anyhow::Result<DeadLetter> {
    let filter = format!("switchboard.dlq.{consumer}");
    let mut messages = ordered(bus, switchboard_bus::DEAD_LETTER_STREAM, &filter).await?.messages().await?;
    tokio::time::timeout(WAIT, async {
        while let Some(message) = messages.next().await {
            let message = message?;
            let header = |name: &str| {
                message
                    .headers
                    .as_ref()
                    .and_then(|h| h.get(name))
                    .map(|v| v.as_str().to_string())
                    .unwrap_or_default()
            };
            let letter = DeadLetter {
                reason: header("Switchboard-Dlq-Reason"),
                subject: header("Switchboard-Dlq-Subject"),
                payload: message.payload.clone(),
            };
            if wanted(&letter) {
                return Ok(letter);
            }
        }
        bail!("dead-letter stream ended")
    })
    .await
    .with_context(|| format!("no matching dead letter of {consumer} within {WAIT:?}"))?
}

/// Publishes the article about tracking orders and waits until knowledge can find it.
pub async fn publish_tracking_article(address: SocketAddr) -> anyhow::Result<String> {
    publish_tracking_article_through(channel(address).await?).await
}

/// [`publish_tracking_article`] on `cluster`, over TLS when it serves TLS.
pub async fn publish_tracking_article_with(cluster: &Cluster) -> anyhow::Result<String> {
    publish_tracking_article_through(cluster.channel().await?).await
}

async fn publish_tracking_article_through(api: Api) -> anyhow::Result<String> {
    use switchboard_proto::knowledge::v1::{PublishArticleRequest, knowledge_client::KnowledgeClient};
    let mut knowledge = KnowledgeClient::new(api);
    let request = PublishArticleRequest {
        article_id: "track-your-order".into(),
        title: "Where is my order? Tracking your order".into(),
        body: "Follow the tracking link in your shipping email to see where your order is.".into(),
        locale: "en".into(),
        tags: vec!["orders".into()],
        wait: true,
        example_questions: vec!["Where is my order?".into()],
        ..PublishArticleRequest::default()
    };
    Ok(knowledge.publish_article(request).await?.into_inner().article_id)
}

/// A cluster on its own runtime and thread, so that it can be crashed: [`Node::crash`] drops the
/// runtime with every task in whatever state it is, as a killed process would (connections close,
/// transactions roll back, unacked messages are redelivered).
pub struct Node {
    pub address: SocketAddr,
    crash: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Node {
    pub async fn start(config: Config) -> anyhow::Result<Self> {
        let (address_tx, address_rx) = tokio::sync::oneshot::channel();
        let (crash_tx, crash_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_multi_thread().enable_all().build() else {
                return;
            };
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::bind("127.0.0.1:0").await else {
                    return;
                };
                let _ = address_tx.send(listener.local_addr());
                tokio::select! {
                    result = serve(config, listener, CancellationToken::new()) => {
                        if let Err(error) = result {
                            eprintln!("node failed: {error:#}");
                        }
                    }
                    _ = crash_rx => {}
                }
            });
            runtime.shutdown_background();
        });
        let address = address_rx.await.context("node did not start")??;
        wait_serving(address).await?;
        Ok(Self { address, crash: Some(crash_tx), thread: Some(thread) })
    }

    /// Kills the node without any graceful step.
    pub fn crash(mut self) {
        if let Some(crash) = self.crash.take() {
            let _ = crash.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(crash) = self.crash.take() {
            let _ = crash.send(());
        }
    }
}

/// Rules under which "password" gets the password-reset answer and everything else waits in
/// `general`.
pub const PASSWORD_RULES: &str = r#"
playbooks:
  password_reset: {url: "https://shop.example/reset"}
rules:
  - name: password-help
    when: {keywords: [password]}
    then: {action: answer, playbook: password_reset, queue: general}
  - name: everything-else
    then: {action: queue, queue: general}
"#;

/// Rules under which every message gets the after-hours reply (tagged `after-hours`) and then
/// waits in `general`, with the hour (UTC) their calendar opens: one hour a day, starting two
/// hours from now, so it is closed whenever a test runs.
pub fn closed_now_rules() -> (u32, String) {
    use chrono::Timelike as _;
    let opens = (chrono::Utc::now().hour() + 2) % 24;
    let rules = format!(
        r#"
calendars:
  default: {{timezone: UTC, hours: {{mon-sun: "{opens:02}:00-{close:02}:00"}}}}
rules:
  - name: after-hours
    when: {{business_hours: closed}}
    then: {{tags: [after-hours], after_hours_reply: true}}
    continue: true
  - name: everything-else
    then: {{action: queue, queue: general}}
"#,
        close = opens + 1
    );
    (opens, rules)
}

/// A cluster whose notifier mails through a fresh SMTP server (aiosmtpd), `adjust`ed first.
pub async fn cluster_with_mail(
    backing: &Backing,
    adjust: impl FnOnce(&mut Config),
) -> anyhow::Result<(Cluster, switchboard_testkit::SmtpSink)> {
    let sink = switchboard_testkit::SmtpSink::start()?;
    let mut config = backing.config();
    config.notifier.smtp_url = Some(sink.url());
    adjust(&mut config);
    Ok((Cluster::start(config).await?, sink))
}

/// The sentence encoder `make encoder` fetches (or `SWITCHBOARD_ENCODER_DIR`).
pub fn encoder_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir =
        std::env::var_os("SWITCHBOARD_ENCODER_DIR").map(std::path::PathBuf::from).unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.local/models/all-minilm-l6-v2")
        });
    anyhow::ensure!(
        dir.join("model.safetensors").exists(),
        "no sentence encoder at {}: run `make encoder`",
        dir.display()
    );
    Ok(dir)
}

/// Ends every other session on the database at `database_url`, as a restart of PostgreSQL does,
/// and makes the new ones read-only (as after a failover to a standby) or writable.
pub async fn end_sessions(database_url: &str, read_only: bool) -> anyhow::Result<()> {
    let pool = sqlx::PgPool::connect(database_url).await?;
    let mut connection = pool.acquire().await?;
    sqlx::query("SET default_transaction_read_only = off").execute(&mut *connection).await?;
    let name: String = sqlx::query_scalar("SELECT current_database()").fetch_one(&mut *connection).await?;
    let setting = if read_only { "on" } else { "off" };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE \"{name}\" SET default_transaction_read_only = {setting}"
    )))
    .execute(&mut *connection)
    .await?;
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .execute(&mut *connection)
    .await?;
    drop(connection);
    pool.close().await;
    Ok(())
}

/// The `switchboard` binary `cargo test --workspace --all-targets` builds beside the tests
/// (`SWITCHBOARD_BIN` names another).
pub fn switchboard_binary() -> anyhow::Result<std::path::PathBuf> {
    if let Some(path) = std::env::var_os("SWITCHBOARD_BIN") {
        return Ok(std::path::PathBuf::from(path));
    }
    let deps = std::env::current_exe()?;
    let built = deps.parent().and_then(std::path::Path::parent).map(|debug| debug.join("switchboard"));
    match built {
        Some(path) if path.exists() => Ok(path),
        _ => anyhow::bail!(
            "no switchboard binary beside the tests: run `cargo build --bin switchboard` (make test does)"
        ),
    }
}
