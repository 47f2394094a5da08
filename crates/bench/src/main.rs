//! `make bench`: measures, on a fresh nats-server and database, how fast projections apply events
//! and how fast the whole cluster takes a message from submission to the bot's reply delivered,
//! with its latency under open-loop load and its cost (see `path/`); and the
//! knowledge search index (indexing, search latency); and the agent desk's `ListConversations`
//! over 100,000 conversations (see `desk.rs`).
//! Sizes: `SWITCHBOARD_BENCH_EVENTS` (default 60000), the path's (see `path/mod.rs`),
//! `SWITCHBOARD_BENCH_ARTICLES` (default 10000), `SWITCHBOARD_BENCH_CONVERSATIONS` (default
//! 100000) and `SWITCHBOARD_BENCH_DESK_CALLS` (calls per listing case, default 500).
//! Then floods the chat, the webhooks and SMTP from loopback on the default limits while a normal
//! customer chats (see `floods.rs`); `SWITCHBOARD_BENCH_FLOODS=0` skips it.
//! And the support lead's report over 1,000,000 conversations (see `report.rs`).
//! `SWITCHBOARD_BENCH_ONLY` (e.g. `desk` or `search,path`) runs only the parts it names.
//! `RUST_LOG` (e.g. `warn`) shows the services' logs on stderr.
//! `SWITCHBOARD_BENCH_ONLY=containment` runs the containment harness `make eval` uses (see
//! `containment.rs`); it is not a part of `make bench`.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use futures::{StreamExt as _, stream};
use switchboard_bus::{Bus, Draft};
use switchboard_projection::{Projection, catch_up};
use switchboard_proto::{
    events::v1::{Channel, MessageClassified, MessageReceived, MessageRouted, RouteAction, event::Body},
    intake::v1::intake_client::IntakeClient,
};
use switchboard_testkit::{NatsServer, TestDatabase};
use uuid::Uuid;

/// The allocator `switchboard` runs with, so that services in this process cost what they cost there.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

mod containment;
mod desk;
mod floods;
mod path;
mod procfs;
mod report;
mod search;
mod seeded;

/// The parts of the benchmark, in the order they run.
const PARTS: [&str; 6] = ["search", "projections", "path", "desk", "report", "floods"];
/// Parts run only when named.
const NAMED_ONLY: [&str; 1] = ["containment"];

pub(crate) fn size(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The parts `SWITCHBOARD_BENCH_ONLY` names (all when unset); an unknown name is an error.
fn parts() -> anyhow::Result<Vec<&'static str>> {
    let Ok(only) = std::env::var("SWITCHBOARD_BENCH_ONLY") else { return Ok(PARTS.to_vec()) };
    let named: Vec<&str> = only.split(',').map(str::trim).filter(|name| !name.is_empty()).collect();
    let known = PARTS.iter().chain(&NAMED_ONLY);
    if let Some(unknown) = named.iter().find(|name| !known.clone().any(|part| part == *name)) {
        bail!(
            "SWITCHBOARD_BENCH_ONLY: no part {unknown:?}; the parts are {}, {}",
            PARTS.join(", "),
            NAMED_ONLY.join(", ")
        );
    }
    Ok(PARTS.into_iter().chain(NAMED_ONLY).filter(|part| named.contains(part)).collect())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    use tracing_subscriber::{Layer as _, layer::SubscriberExt as _};
    // The services' own logs, on stderr, only when `RUST_LOG` asks for them (e.g. `warn`).
    let logs = std::env::var("RUST_LOG").is_ok().then(|| {
        let filter = tracing_subscriber::EnvFilter::from_default_env();
        tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_filter(filter)
    });
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(path::StatementCounter::layer()).with(logs),
    )?;
    switchboard_telemetry::metrics::install_recorder();
    for part in parts()? {
        // Progress on stderr when it is a terminal; the figures go to stdout.
        let progress = switchboard_server::progress::spinner(&format!("bench: {part}"));
        let measured = measure(part).await;
        progress.finish_and_clear();
        measured?;
    }
    Ok(())
}

/// Runs one part of the benchmark.
async fn measure(part: &str) -> anyhow::Result<()> {
    match part {
        "containment" => containment::measure().await,
        "search" => search::measure(size("SWITCHBOARD_BENCH_ARTICLES", 10_000), 1_000),
        "projections" => projections(size("SWITCHBOARD_BENCH_EVENTS", 60_000)).await,
        "path" => {
            let (cluster_db, cluster_nats) = (TestDatabase::create().await?, NatsServer::start()?);
            path::measure(&cluster_nats, &cluster_db.url).await
        }
        "desk" => {
            let conversations = size("SWITCHBOARD_BENCH_CONVERSATIONS", 100_000);
            desk::measure(conversations, size("SWITCHBOARD_BENCH_DESK_CALLS", 500)).await
        }
        "report" => {
            let conversations = size("SWITCHBOARD_BENCH_REPORT_CONVERSATIONS", 1_000_000);
            report::measure(conversations, size("SWITCHBOARD_BENCH_REPORT_CALLS", 20)).await
        }
        "floods" if std::env::var("SWITCHBOARD_BENCH_FLOODS").is_ok_and(|v| v == "0") => {
            println!("floods: skipped (SWITCHBOARD_BENCH_FLOODS=0)");
            Ok(())
        }
        "floods" => floods::measure().await,
        other => bail!("no bench part {other}"),
    }
}

/// The intake and analytics projections' throughput over `events` events.
async fn projections(events: usize) -> anyhow::Result<()> {
    let nats = NatsServer::start()?;
    let database = TestDatabase::create().await?;
    let bus = Bus::connect(switchboard_bus::Config { url: nats.url(), ..Default::default() }).await?;
    let pool = database.pool().await?;
    let published = publish_conversations(&bus, events / 3).await?;
    println!(
        "published {} events ({:.0} events/s, pipelined)",
        published.0,
        published.0 as f64 / published.1.as_secs_f64()
    );
    switchboard_intake::migrate_schema(&pool).await?;
    switchboard_analytics::migrate_schema(&pool).await?;
    project("intake", &bus, &pool, switchboard_intake::projection(), 500).await?;
    project("analytics", &bus, &pool, switchboard_analytics::projection(), 1000).await
}

/// Publishes `count` conversations' worth of events (received, classified, routed): 3 per message.
async fn publish_conversations(bus: &Bus, count: usize) -> anyhow::Result<(usize, Duration)> {
    let started = Instant::now();
    let drafts = (0..count).flat_map(|n| conversation_events(n).into_iter());
    let results: Vec<_> = stream::iter(drafts)
        .map(|event| async move { bus.publish(&event?).await.map_err(anyhow::Error::from) })
        .buffer_unordered(512)
        .collect()
        .await;
    let published = results.into_iter().collect::<Result<Vec<_>, _>>()?.len();
    Ok((published, started.elapsed()))
}

fn conversation_events(n: usize) -> Vec<anyhow::Result<switchboard_proto::events::v1::Event>> {
    let conversation_id = Uuid::now_v7().to_string();
    let message_id = Uuid::now_v7().to_string();
    let channel = [Channel::Web, Channel::Email, Channel::Voice][n % 3].into();
    let intent = ["order_status", "human_agent", "billing_invoice"][n % 3].to_string();
    let received = Body::MessageReceived(MessageReceived {
        conversation_id: conversation_id.clone(),
        message_id: message_id.clone(),
        customer_id: format!("customer-{n}"),
        channel,
        text: format!("message number {n}"),
        idempotency_key: format!("bench-{n}"),
        starts_conversation: true,
        email: None,
        customer_verified: false,
        language: String::new(),
    });
    let classified = Body::MessageClassified(MessageClassified {
        conversation_id: conversation_id.clone(),
        message_id: message_id.clone(),
        channel,
        intent: intent.clone(),
        confidence: 0.9,
        language: "en".into(),
        model_version: "bench".into(),
        ..Default::default()
    });
    let routed = Body::MessageRouted(MessageRouted {
        conversation_id: conversation_id.clone(),
        message_id: message_id.clone(),
        channel,
        intent,
        action: RouteAction::Queue.into(),
        queue: "general".into(),
        rule: "bench".into(),
        ..Default::default()
    });
    vec![
        Draft::new("", &conversation_id, received).build().map_err(Into::into),
        Draft::new("", &message_id, classified).build().map_err(Into::into),
        Draft::new("", &message_id, routed).build().map_err(Into::into),
    ]
}

/// Applies the whole stream to one projection and prints its throughput.
async fn project<P: Projection>(
    name: &str,
    bus: &Bus,
    pool: &sqlx::PgPool,
    projection: Arc<P>,
    batch: usize,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let report = catch_up(bus.clone(), pool.clone(), projection, batch).await.context(name.to_string())?;
    let elapsed = started.elapsed();
    println!(
        "{name} projection: {} events in {:.2} s = {:.0} events/s (batches of up to {batch}, checkpoint {})",
        report.events,
        elapsed.as_secs_f64(),
        report.events as f64 / elapsed.as_secs_f64(),
        report.checkpoint
    );
    Ok(())
}

pub(crate) type Intake = IntakeClient<switchboard_auth::Authorized>;
