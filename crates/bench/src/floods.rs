//! Floods from loopback against one in-process cluster (every service, the channels' HTTP and SMTP
//! listeners) on the default limits, while a normal customer chats.
//!
//! Two phases of `FLOOD` seconds. All-out: chat sockets send frames as fast as they can and
//! reconnect when closed; webhooks are posted unsigned and with bad signatures, and some declare
//! 500 MB bodies; SMTP connections, more than an address may hold, send garbage and dribble
//! commands. Paced: chat sockets only, each address's sockets together sending messages at its
//! client limit and each socket within its own, so that every message is let in (the most the
//! limits admit from these hosts). In both, every second a customer opens a new chat, asks
//! "Where is my order?" and times the bot's answer: one customer on the flooded site, one on
//! another site. Counts are what the clients observed.
//!
//! Everything runs on loopback, so distinct clients are distinct source addresses in 127.0.0.0/8,
//! as distinct hosts would be: chat flooders 127.0.1.1-4, webhook flooders 127.0.1.5-8, SMTP
//! flooders 127.0.1.9, customers 127.0.2.x. The listeners see them as such (no proxy is trusted;
//! every limit keeps its default). `SWITCHBOARD_BENCH_FLOODS=0` skips all of this.

use std::{
    collections::BTreeMap,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::Duration,
};

use anyhow::{Context as _, bail};
use futures::{SinkExt as _, StreamExt as _, future::join_all};
use switchboard_server::{Config, Service, serve_with};
use switchboard_testkit::{NatsServer, TestDatabase};
use tokio::{
    net::{TcpSocket, TcpStream},
    time::Instant,
};
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{self, Message, client::IntoClientRequest as _},
};
use tokio_util::sync::CancellationToken;

const FLOOD: Duration = Duration::from_secs(10);
const CHAT_FLOODERS: usize = 50;
/// The addresses the chat flooders share (127.0.1.1-4).
const CHAT_FLOODER_ADDRESSES: usize = 4;
const HOOK_FLOODERS: usize = 32;
const HUGE_FLOODERS: usize = 4;
const SMTP_FLOODERS: usize = 40;
/// A flooder refused at the door tries again after this.
const RETRY: Duration = Duration::from_millis(50);
/// The longest the customer waits for an answer; later counts as unanswered.
const ANSWER_WAIT: Duration = Duration::from_secs(10);
/// What the customer is promised.
const TARGET: Duration = Duration::from_secs(2);
const SECRET: &str = "whsec-bench-floods";
const FLOODED_SITE: &str = "demo";
const OTHER_SITE: &str = "shop";

type Socket = WebSocketStream<TcpStream>;

mod intruders;

use intruders::{hook_flooder, huge_flooder, smtp_flooder};

/// Counts of status codes (or reply codes; 0: no answer).
#[derive(Default)]
struct Statuses(Mutex<BTreeMap<u16, u64>>);

impl Statuses {
    fn count(&self, status: u16) {
        if let Ok(mut counts) = self.0.lock() {
            *counts.entry(status).or_default() += 1;
        }
    }

    fn total(&self) -> u64 {
        self.0.lock().map(|c| c.values().sum()).unwrap_or_default()
    }

    /// Each count, with the `expected` statuses shown even when none came.
    fn show(&self, expected: &[u16]) -> String {
        let mut counts = self.0.lock().map(|c| c.clone()).unwrap_or_default();
        for status in expected {
            counts.entry(*status).or_default();
        }
        let shown: Vec<_> = counts
            .iter()
            .map(|(status, n)| if *status == 0 { format!("no answer {n}") } else { format!("{status}: {n}") })
            .collect();
        shown.join(", ")
    }
}

/// What the flooders saw.
#[derive(Default)]
struct Tally {
    chat_handshakes: Statuses,
    chat_frames: AtomicU64,
    chat_slow_down: AtomicU64,
    chat_closed_policy: AtomicU64,
    hooks: Statuses,
    huge: Statuses,
    smtp_opened: AtomicU64,
    smtp_greetings: Statuses,
    smtp_refused_address: AtomicU64,
    smtp_replies: Statuses,
    smtp_held_now: AtomicU64,
    smtp_held_peak: AtomicU64,
}

fn add(counter: &AtomicU64) {
    counter.fetch_add(1, Relaxed);
}

/// The cluster under the flood, with the servers it runs on.
struct Cluster {
    grpc: SocketAddr,
    http: SocketAddr,
    smtp: SocketAddr,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
    _nats: NatsServer,
    _database: TestDatabase,
}

/// How a phase floods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Chat, webhooks and SMTP, each as fast as it goes.
    AllOut,
    /// Chat only, each address at its client limit.
    Paced,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::AllOut => "all-out",
            Phase::Paced => "paced",
        }
    }

    /// The pause between a chat flooder's messages: paced, the sockets of one address together
    /// send at its client's message rate, and none faster than a socket's own.
    fn chat_pause(self) -> Option<Duration> {
        let limits = switchboard_channels::chat::ChatLimits::default();
        let sockets_per_address = u32::try_from(CHAT_FLOODERS.div_ceil(CHAT_FLOODER_ADDRESSES)).unwrap_or(1);
        let per_address = Duration::from_secs(1) * sockets_per_address / limits.client_message_rate.get();
        let per_socket = Duration::from_secs(1) / limits.message_rate.get();
        (self == Phase::Paced).then_some(per_address.max(per_socket))
    }
}

pub(crate) async fn measure() -> anyhow::Result<()> {
    let cluster = start().await?;
    publish_tracking_article(cluster.grpc).await?;
    println!(
        "floods: {} cores shared by the cluster and the flooders; clients told apart by their loopback \
         source address, as distinct hosts (chat flooders 127.0.1.1-4, webhook flooders 127.0.1.5-8, \
         SMTP flooders 127.0.1.9, customers 127.0.2.x); default limits",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );
    quiet_customer(&cluster, "before the floods").await;
    let all_out = flood(&cluster, Phase::AllOut).await;
    quiet_customer(&cluster, "after the all-out flood").await;
    let paced = flood(&cluster, Phase::Paced).await;
    quiet_customer(&cluster, "after the paced flood").await;
    println!(
        "customer answered within {} s: {}",
        TARGET.as_secs(),
        if all_out && paced { "yes" } else { "no" }
    );
    stop(cluster).await
}

/// One question with nothing flooding (waiting up to a minute, so a backlog shows as latency).
async fn quiet_customer(cluster: &Cluster, when: &str) {
    let visitor = format!("quiet-{}", when.replace(' ', "-"));
    let outcome =
        ask(cluster.http, FLOODED_SITE, &visitor, customer_address(1), Duration::from_secs(60)).await;
    println!("floods: customer's answer {when}: {}", outcome.describe());
}

/// One phase: the flood and the customers beside it; whether every customer was answered in time.
async fn flood(cluster: &Cluster, phase: Phase) -> bool {
    let tally = Arc::new(Tally::default());
    let end = Instant::now() + FLOOD;
    let flooders = spawn_flooders(cluster, phase, &tally, end);
    let (flooded, other) = tokio::join!(
        customer(cluster.http, phase, FLOODED_SITE, customer_address(7), end),
        customer(cluster.http, phase, OTHER_SITE, customer_address(8), end),
    );
    join_all(flooders).await;
    report(phase, &tally, &flooded, &other)
}

async fn start() -> anyhow::Result<Cluster> {
    let (nats, database) = (NatsServer::start()?, TestDatabase::create().await?);
    let grpc_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let http_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let smtp_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let (grpc, http, smtp) =
        (grpc_listener.local_addr()?, http_listener.local_addr()?, smtp_listener.local_addr()?);
    let config = config(&nats, &database, http);
    let listeners = switchboard_channels::Listeners {
        http: Some(http_listener),
        smtp: Some(smtp_listener),
        ..Default::default()
    };
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(serve_with(config, grpc_listener, listeners, shutdown.clone()));
    Ok(Cluster { grpc, http, smtp, shutdown, server, _nats: nats, _database: database })
}

/// All services, on the default limits.
fn config(nats: &NatsServer, database: &TestDatabase, http: SocketAddr) -> Config {
    let mut config = Config {
        nats_url: nats.url(),
        database_url: database.url.clone(),
        services: Service::ALL.to_vec(),
        auth_keys: Some(switchboard_testkit::auth_keys()),
        ..Config::default()
    };
    config.channels.chat_sites =
        [(FLOODED_SITE.to_string(), "*".to_string()), (OTHER_SITE.to_string(), "*".to_string())].into();
    config.channels.webhook_secret = Some(SECRET.into());
    config.channels.public_url = format!("http://{http}");
    config.notifier.public_url = format!("http://{http}");
    config
}

async fn stop(cluster: Cluster) -> anyhow::Result<()> {
    cluster.shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(60), cluster.server)
        .await
        .context("the cluster did not stop")??
}

/// The article the bot answers "Where is my order?" with; retried until the cluster is up.
async fn publish_tracking_article(grpc: SocketAddr) -> anyhow::Result<()> {
    use switchboard_proto::knowledge::v1::{PublishArticleRequest, knowledge_client::KnowledgeClient};
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
    let channel = crate::path::connect(grpc, switchboard_auth::Role::Admin).await?;
    let mut knowledge = KnowledgeClient::new(channel);
    for _ in 0..200 {
        match knowledge.publish_article(request.clone()).await {
            Ok(_) => return Ok(()),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    bail!("the article could not be published")
}

fn spawn_flooders(
    cluster: &Cluster,
    phase: Phase,
    tally: &Arc<Tally>,
    end: Instant,
) -> Vec<tokio::task::JoinHandle<()>> {
    let (http, smtp) = (cluster.http, cluster.smtp);
    let mut tasks = Vec::new();
    for index in 0..CHAT_FLOODERS {
        tasks.push(tokio::spawn(chat_flooder(http, phase, index, end, tally.clone())));
    }
    if phase == Phase::Paced {
        return tasks;
    }
    for index in 0..HOOK_FLOODERS {
        tasks.push(tokio::spawn(hook_flooder(http, index, end, tally.clone())));
    }
    for index in 0..HUGE_FLOODERS {
        tasks.push(tokio::spawn(huge_flooder(http, index, end, tally.clone())));
    }
    for index in 0..SMTP_FLOODERS {
        tasks.push(tokio::spawn(smtp_flooder(smtp, index, end, tally.clone())));
    }
    tasks
}

/// A flooder's source address: 127.0.1.1-4 chat, 127.0.1.5-8 webhooks, 127.0.1.9 SMTP.
fn flooder_address(n: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 1, u8::try_from(n % 9 + 1).unwrap_or(1)))
}

/// A customer's source address, 127.0.2.`n`.
fn customer_address(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 2, n))
}

/// A connection to `to` from the loopback address `from`.
async fn connect_from(from: IpAddr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(from, 0))?;
    socket.connect(to).await
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or_default())
        .unwrap_or_default()
}

// --- chat ---

/// A chat WebSocket for `visitor` on `site`, from `address`.
async fn open_chat(
    http: SocketAddr,
    site: &str,
    visitor: &str,
    address: IpAddr,
) -> tungstenite::Result<Socket> {
    let request = format!("ws://{http}/chat/ws?site={site}&visitor={visitor}").into_client_request()?;
    let stream = connect_from(address, http).await?;
    Ok(tokio_tungstenite::client_async(request, stream).await?.0)
}

/// The HTTP status a refused handshake was answered with (0: none).
fn handshake_status(error: &tungstenite::Error) -> u16 {
    match error {
        tungstenite::Error::Http(response) => response.status().as_u16(),
        _ => 0,
    }
}

fn chat_message(id: &str, text: &str) -> Message {
    Message::text(serde_json::json!({ "type": "message", "id": id, "text": text }).to_string())
}

async fn chat_flooder(http: SocketAddr, phase: Phase, index: usize, end: Instant, tally: Arc<Tally>) {
    let (address, visitor) =
        (flooder_address(index % CHAT_FLOODER_ADDRESSES), format!("flood-{}-{index}", phase.name()));
    let mut sent = 0u64;
    while Instant::now() < end {
        match open_chat(http, FLOODED_SITE, &visitor, address).await {
            Ok(socket) => {
                tally.chat_handshakes.count(101);
                let frames = Frames { visitor: &visitor, pause: phase.chat_pause(), end };
                flood_socket(socket, frames, &mut sent, &tally).await;
            }
            Err(error) => {
                tally.chat_handshakes.count(handshake_status(&error));
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}

/// What a chat flooder sends: messages from `visitor`, `pause` apart (none: as fast as it can).
struct Frames<'a> {
    visitor: &'a str,
    pause: Option<Duration>,
    end: Instant,
}

/// Sends frames until the socket is closed or the flood ends, counting what comes back.
async fn flood_socket(socket: Socket, frames: Frames<'_>, sent: &mut u64, tally: &Tally) {
    let (mut sink, mut stream) = socket.split();
    let end = frames.end;
    let writer = async {
        while Instant::now() < end {
            *sent += 1;
            let frame = chat_message(&format!("{}-{sent}", frames.visitor), "flood flood flood");
            if sink.send(frame).await.is_err() {
                break;
            }
            add(&tally.chat_frames);
            if let Some(pause) = frames.pause {
                tokio::time::sleep(pause).await;
            }
        }
        let _ = sink.close().await;
    };
    let reader = async {
        while let Some(Ok(frame)) = stream.next().await {
            match frame {
                Message::Text(text) if text.contains("slow down") => add(&tally.chat_slow_down),
                Message::Close(close) => {
                    if close.is_some_and(|c| u16::from(c.code) == 1008) {
                        add(&tally.chat_closed_policy);
                    }
                    break;
                }
                _ => {}
            }
        }
    };
    let _ =
        tokio::time::timeout_at(end + Duration::from_secs(3), futures::future::join(writer, reader)).await;
}

/// What became of one question.
enum Outcome {
    Answered(Duration),
    /// Refused with an error frame (e.g. "slow down").
    Refused(String),
    HandedOff,
    Unanswered,
    /// The WebSocket handshake failed, with this status (0: no answer).
    NoSocket(u16),
}

impl Outcome {
    fn describe(&self) -> String {
        match self {
            Outcome::Answered(latency) => format!("answered in {} ms", latency.as_millis()),
            Outcome::Refused(why) => format!("refused: {why}"),
            Outcome::HandedOff => "handed off instead of answered".into(),
            Outcome::Unanswered => format!("no answer within {} s", ANSWER_WAIT.as_secs()),
            Outcome::NoSocket(status) => format!("no chat socket (status {status})"),
        }
    }
}

/// Opens a chat, asks where the order is, and times the answer.
async fn ask(http: SocketAddr, site: &str, visitor: &str, address: IpAddr, wait: Duration) -> Outcome {
    let mut socket = match open_chat(http, site, visitor, address).await {
        Ok(socket) => socket,
        Err(error) => return Outcome::NoSocket(handshake_status(&error)),
    };
    let sent = Instant::now();
    if socket.send(chat_message("q-1", "Where is my order?")).await.is_err() {
        return Outcome::NoSocket(0);
    }
    let outcome = tokio::time::timeout(wait, answer(&mut socket, sent)).await.unwrap_or(Outcome::Unanswered);
    let _ = socket.close(None).await;
    outcome
}

async fn answer(socket: &mut Socket, sent: Instant) -> Outcome {
    while let Some(Ok(frame)) = socket.next().await {
        let Message::Text(text) = frame else { continue };
        let frame: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        match (frame["type"].as_str(), frame["author"].as_str()) {
            (Some("message"), Some("bot")) => return Outcome::Answered(sent.elapsed()),
            (Some("handoff"), _) => return Outcome::HandedOff,
            (Some("error"), _) => return Outcome::Refused(frame["message"].as_str().unwrap_or("").into()),
            _ => {}
        }
    }
    Outcome::Unanswered
}

/// A new chat every second until `end`, each a new visitor; every question's outcome.
async fn customer(
    http: SocketAddr,
    phase: Phase,
    site: &'static str,
    address: IpAddr,
    end: Instant,
) -> Vec<Outcome> {
    let mut every =
        tokio::time::interval_at(Instant::now() + Duration::from_millis(500), Duration::from_secs(1));
    let mut questions = Vec::new();
    for n in 1.. {
        every.tick().await;
        if Instant::now() >= end {
            break;
        }
        let visitor = format!("customer-{}-{site}-{n}", phase.name());
        questions.push(tokio::spawn(async move { ask(http, site, &visitor, address, ANSWER_WAIT).await }));
    }
    join_all(questions).await.into_iter().map(|r| r.unwrap_or(Outcome::Unanswered)).collect()
}

// --- webhooks ---

/// Prints a phase's figures; whether every customer was answered within the target.
fn report(phase: Phase, tally: &Tally, flooded: &[Outcome], other: &[Outcome]) -> bool {
    let name = phase.name();
    match phase.chat_pause() {
        None => println!("{name} flood: {} s of chat, webhook and SMTP floods at once", FLOOD.as_secs()),
        Some(pause) => println!(
            "{name} flood: {} s of chat only, each socket sending a message every {} ms (together, each \
             address's sockets at its client limit)",
            FLOOD.as_secs(),
            pause.as_millis()
        ),
    }
    chat_report(name, tally);
    if phase == Phase::AllOut {
        hooks_report(name, tally);
        smtp_report(name, tally);
    }
    let on_flooded = customer_report(&format!("{name}, site {FLOODED_SITE}, flooded"), flooded);
    let on_other = customer_report(&format!("{name}, site {OTHER_SITE}"), other);
    on_flooded && on_other
}

fn chat_report(name: &str, tally: &Tally) {
    println!(
        "{name} chat flood ({CHAT_FLOODERS} flooders from {CHAT_FLOODER_ADDRESSES} addresses, site \
         {FLOODED_SITE}): handshakes {} ({})",
        tally.chat_handshakes.total(),
        tally.chat_handshakes.show(&[101, 429, 503])
    );
    println!(
        "{name} chat flood: frames sent {}, refused with \"slow down\" {}, sockets closed by policy (1008) {}",
        tally.chat_frames.load(Relaxed),
        tally.chat_slow_down.load(Relaxed),
        tally.chat_closed_policy.load(Relaxed)
    );
}

fn hooks_report(name: &str, tally: &Tally) {
    println!(
        "{name} webhook flood ({HOOK_FLOODERS} flooders from 4 addresses, unsigned or badly signed): \
         requests {} ({})",
        tally.hooks.total(),
        tally.hooks.show(&[401, 413, 429, 503])
    );
    println!(
        "{name} webhook flood ({HUGE_FLOODERS} flooders, 500 MB declared, no body sent): requests {} ({})",
        tally.huge.total(),
        tally.huge.show(&[401, 413, 429, 503])
    );
}

fn smtp_report(name: &str, tally: &Tally) {
    println!(
        "{name} smtp flood ({SMTP_FLOODERS} flooders, one address): connections opened {}, greetings ({}), \
         refused 421 per address {}, admitted at once at most {}",
        tally.smtp_opened.load(Relaxed),
        tally.smtp_greetings.show(&[220, 421]),
        tally.smtp_refused_address.load(Relaxed),
        tally.smtp_held_peak.load(Relaxed)
    );
    println!(
        "{name} smtp flood: replies to garbage and dribbled commands ({})",
        tally.smtp_replies.show(&[])
    );
}

/// Prints one customer's figures; whether every question was answered within the target.
fn customer_report(name: &str, outcomes: &[Outcome]) -> bool {
    let mut latencies: Vec<_> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Answered(latency) => Some(*latency),
            _ => None,
        })
        .collect();
    latencies.sort();
    let ms = |d: Option<&Duration>| d.map(|d| d.as_millis().to_string()).unwrap_or_else(|| "-".into());
    let late = latencies.iter().filter(|l| **l > TARGET).count();
    println!(
        "customer ({name}): asked {}, answered {}, p50 {} ms, max {} ms, over {} s {late}",
        outcomes.len(),
        latencies.len(),
        ms(latencies.get(latencies.len().saturating_sub(1) / 2)),
        ms(latencies.last()),
        TARGET.as_secs()
    );
    let mut failures: BTreeMap<String, usize> = BTreeMap::new();
    for outcome in outcomes.iter().filter(|o| !matches!(o, Outcome::Answered(_))) {
        *failures.entry(outcome.describe()).or_default() += 1;
    }
    for (failure, n) in &failures {
        println!("customer ({name}): {n} x {failure}");
    }
    !outcomes.is_empty() && failures.is_empty() && late == 0
}
