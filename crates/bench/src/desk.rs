//! The agent desk's list: `ListConversations` over 100,000 conversations in the desk's read
//! model (`SWITCHBOARD_BENCH_CONVERSATIONS`), on a fresh nats-server and database.
//!
//! The read model is filled through the product's own path (see `fill.rs`): the conversations'
//! events are published on the bus, and the desk service, mounted as `switchboard serve` mounts
//! it, projects them; the fill is timed (publishing, then projecting). Where the PostgreSQL
//! server runs without autovacuum, the bench does its work meanwhile (`upkeep.rs`). Then the
//! agents' usual listings (`cases.rs`) are called through the real gRPC server with agents'
//! tokens, warmed up, then `SWITCHBOARD_BENCH_DESK_CALLS` calls per case one at a time, timed at
//! the client. The database is dropped at the end (`SWITCHBOARD_BENCH_KEEP_DATABASE=1` keeps it
//! to look into).

use std::time::{Duration, Instant};

use anyhow::bail;
use chrono::Utc;
use futures::{StreamExt as _, stream};
use sqlx::PgPool;
use switchboard_auth::Role;
use switchboard_bus::Bus;
use switchboard_proto::{
    desk::v1::{ListConversationsRequest, desk_client::DeskClient},
    events::v1::Event,
};
use switchboard_server::{Config, Service, serve};
use switchboard_testkit::{NatsServer, TestDatabase};
use tokio_util::sync::CancellationToken;

mod cases;
mod fill;
mod mix;
mod texts;
mod upkeep;

/// What the desk promises: p99 of `ListConversations` within this.
const TARGET: Duration = Duration::from_millis(20);
/// Untimed calls per case first (connections, statement caches, pages in memory).
const WARM_UP: usize = 50;
/// Conversations published at once; each conversation's events in order.
const IN_FLIGHT: usize = 256;
/// How long to wait for the projection, in `min_sequence` reads of up to 5 s each.
const CATCH_UP_READS: usize = 720;

pub(crate) async fn measure(conversations: usize, calls: usize) -> anyhow::Result<()> {
    let nats = NatsServer::start()?;
    let database = TestDatabase::create().await?;
    let measured = measure_on(&nats, &database, conversations, calls).await;
    if std::env::var("SWITCHBOARD_BENCH_KEEP_DATABASE").is_ok_and(|v| v == "1") {
        println!("desk: the read model is kept for inspection (EXPLAIN ANALYZE) at {}", database.keep());
    } else {
        database.drop_database().await?;
    }
    measured
}

async fn measure_on(
    nats: &NatsServer,
    database: &TestDatabase,
    conversations: usize,
    calls: usize,
) -> anyhow::Result<()> {
    let bus = Bus::connect(switchboard_bus::Config { url: nats.url(), ..Default::default() }).await?;
    let started = Instant::now();
    let (events, last_sequence) = publish(&bus, conversations).await?;
    let publishing = started.elapsed();
    println!(
        "desk fill: {conversations} conversations = {events} events published in {:.1} s ({:.0} events/s; \
         {IN_FLIGHT} conversations at once, each one's events in order)",
        publishing.as_secs_f64(),
        events as f64 / publishing.as_secs_f64(),
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(serve(config(nats, database), listener, shutdown.clone()));
    let pool = database.pool().await?;
    let measured = project_and_list(address, &pool, (events, last_sequence), publishing, calls).await;
    pool.close().await;
    shutdown.cancel();
    server.await??;
    measured.map(|timed| cases::report(&timed, conversations, TARGET))
}

/// Waits for the desk to project the `(count, last sequence)` events, describes the read model,
/// then times the cases.
async fn project_and_list(
    address: std::net::SocketAddr,
    pool: &PgPool,
    (events, last_sequence): (usize, u64),
    publishing: Duration,
    calls: usize,
) -> anyhow::Result<Vec<cases::Timed>> {
    let channel = crate::path::channel(address).await?;
    let mut upkeep = upkeep::Upkeep::new(pool.clone()).await?;
    let projecting = Instant::now();
    caught_up(&channel, last_sequence, &mut upkeep).await?;
    let projected = projecting.elapsed();
    println!(
        "desk fill: the desk service projected them in {:.1} s ({:.0} events/s); fill {:.1} s in all",
        projected.as_secs_f64(),
        events as f64 / projected.as_secs_f64(),
        (publishing + projected).as_secs_f64(),
    );
    upkeep.finish().await?;
    println!("desk fill: {}", upkeep.describe());
    describe(pool).await?;
    let mut cases = cases::cases(&channel).await?;
    cases::run(&mut cases, WARM_UP, calls).await
}

/// The desk alone, as `switchboard serve` mounts it (`SWITCHBOARD_SERVICES=desk`).
fn config(nats: &NatsServer, database: &TestDatabase) -> Config {
    Config {
        nats_url: nats.url(),
        database_url: database.url.clone(),
        services: vec![Service::Desk],
        auth_keys: Some(switchboard_testkit::auth_keys()),
        ..Config::default()
    }
}

/// Publishes the conversations' events; returns how many and the last stream sequence.
async fn publish(bus: &Bus, conversations: usize) -> anyhow::Result<(usize, u64)> {
    let mut published = stream::iter(fill::Conversations::new(conversations, Utc::now()))
        .map(|events| publish_in_order(bus, events))
        .buffer_unordered(IN_FLIGHT);
    let (mut events, mut last) = (0, 0);
    while let Some(result) = published.next().await {
        let (count, sequence) = result?;
        events += count;
        last = last.max(sequence);
    }
    Ok((events, last))
}

async fn publish_in_order(bus: &Bus, events: anyhow::Result<Vec<Event>>) -> anyhow::Result<(usize, u64)> {
    let events = events?;
    let mut last = 0;
    for event in &events {
        last = bus.publish(event).await?.sequence;
    }
    Ok((events.len(), last))
}

/// Waits until the desk has projected `sequence`, by the read-your-writes wait of the API;
/// meanwhile does autovacuum's work where the server does not.
async fn caught_up(
    channel: &tonic::transport::Channel,
    sequence: u64,
    upkeep: &mut upkeep::Upkeep,
) -> anyhow::Result<()> {
    let credentials = switchboard_testkit::credentials(mix::TENANTS[0].name, Role::Agent, "bench");
    let mut desk = DeskClient::new(switchboard_auth::Authorized::new(channel.clone(), credentials));
    for _ in 0..CATCH_UP_READS {
        let request = ListConversationsRequest { min_sequence: sequence, page_size: 1, ..Default::default() };
        match desk.list_conversations(request).await {
            Ok(_) => return Ok(()),
            Err(status) if status.code() == tonic::Code::Unavailable => upkeep.tick().await?,
            Err(status) => return Err(status.into()),
        }
    }
    bail!("the desk did not reach sequence {sequence} within an hour")
}

/// Prints what the read model holds, as the projection made it: rows per tenant and status,
/// and SLA due times.
async fn describe(pool: &PgPool) -> anyhow::Result<()> {
    let counts = |sql: &'static str| sqlx::query_as::<_, (String, i64)>(sql).fetch_all(pool);
    let show = |rows: Vec<(String, i64)>| {
        rows.iter().map(|(name, count)| format!("{name} {count}")).collect::<Vec<_>>().join(", ")
    };
    let tenants =
        counts("SELECT tenant, count(*) FROM desk.conversations GROUP BY 1 ORDER BY 2 DESC").await?;
    let statuses =
        counts("SELECT status, count(*) FROM desk.conversations GROUP BY 1 ORDER BY 2 DESC").await?;
    let (none, breached, soon, later): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE sla_due_at IS NULL),
                count(*) FILTER (WHERE sla_breached),
                count(*) FILTER (WHERE NOT sla_breached AND sla_due_at <= now() + interval '30 minutes'),
                count(*) FILTER (WHERE NOT sla_breached AND sla_due_at > now() + interval '30 minutes')
         FROM desk.conversations",
    )
    .fetch_one(pool)
    .await?;
    println!("desk read model: tenants {}; statuses {}", show(tenants), show(statuses));
    println!(
        "desk read model: SLA none {none}, breached {breached}, due within 30 min {soon}, due later {later}"
    );
    let (table, indexes): (String, String) = sqlx::query_as(
        "SELECT pg_size_pretty(pg_table_size('desk.conversations')),
                pg_size_pretty(pg_indexes_size('desk.conversations'))",
    )
    .fetch_one(pool)
    .await?;
    println!("desk read model: table {table}, indexes {indexes}");
    Ok(())
}
