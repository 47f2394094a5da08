//! The chaos harness: the services as separate processes under a load of customer messages over
//! gRPC and SMTP, while each process is killed in turn, NATS and PostgreSQL are restarted and a
//! process is paused past the ack wait. Afterwards nothing may be lost or doubled (see `checks`).
//! `SWITCHBOARD_CHAOS_MESSAGES` (default 10,000; `make chaos` sends 100,000) and
//! `SWITCHBOARD_CHAOS_RATE` (messages a second, default 100) size it.

#[path = "../common/mod.rs"]
mod common;

mod checks;
mod load;
mod postgres;
mod services;

use std::{
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use checks::Report;
use futures::TryStreamExt as _;
use postgres::Postgres;
use services::{Peers, SERVICES, Services};
use switchboard_bus::{Bus, EVENTS_STREAM, INBOUND_STREAM};
use switchboard_server::{Config, Service, catch_up, replay};
use switchboard_testkit::{NatsServer, SmtpSink};

/// Short, so that a pause outlasts it in seconds.
const ACK_WAIT: Duration = Duration::from_secs(5);
/// How long the load may take to drain after the last fault.
const DRAIN: Duration = Duration::from_secs(900);

fn size(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|value| value.parse().ok()).unwrap_or(default)
}

/// The backing servers and sinks, each of the harness's own.
struct Backing {
    postgres: Postgres,
    nats: NatsServer,
    mail: SmtpSink,
    webhook: common::peers::Inbox,
    peers: Peers,
    dir: std::path::PathBuf,
}

impl Backing {
    async fn start() -> anyhow::Result<Self> {
        let postgres = Postgres::start()?;
        let admin = sqlx::PgPool::connect(&postgres.url("postgres")).await?;
        sqlx::query("CREATE DATABASE switchboard").execute(&admin).await?;
        admin.close().await;
        let nats = NatsServer::start()?;
        let mail = SmtpSink::start()?;
        let (base, webhook) = common::peers::receiver().await?;
        let peers = Peers {
            nats_url: nats.url(),
            database_url: postgres.url("switchboard"),
            smtp_sink: mail.url(),
            webhook_sink: format!("{base}/replies"),
            ack_wait: ACK_WAIT,
        };
        let dir = std::env::temp_dir().join(format!("switchboard-chaos-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir)?;
        Ok(Self { postgres, nats, mail, webhook, peers, dir })
    }

    fn config(&self) -> Config {
        Config {
            nats_url: self.peers.nats_url.clone(),
            database_url: self.peers.database_url.clone(),
            index_dir: Some(self.dir.join("index-knowledge")),
            ..Config::default()
        }
    }
}

impl Drop for Backing {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One fault as injected: what, when (seconds after the load began) and for how long.
struct Fault {
    what: String,
    at: f64,
    took: f64,
}

/// Each fault in turn, `gap` apart: every process killed, NATS restarted, PostgreSQL crashed and
/// restarted, every process drained and restarted (a rollout), the notifier paused past the ack
/// wait.
async fn inject(
    backing: &mut Backing,
    services: &mut Services,
    gap: Duration,
    began: Instant,
) -> anyhow::Result<Vec<Fault>> {
    let mut faults = Vec::new();
    let mut record = |what: String, start: Instant| {
        faults.push(Fault { what, at: (start - began).as_secs_f64(), took: start.elapsed().as_secs_f64() })
    };
    for service in SERVICES {
        let start = next_fault(services, gap).await?;
        services.kill_and_restart(service)?;
        record(format!("kill -9 {service}, restarted"), start);
    }
    let start = next_fault(services, gap).await?;
    tokio::task::block_in_place(|| backing.nats.restart())?;
    record("NATS killed and restarted".into(), start);

    let start = next_fault(services, gap).await?;
    tokio::task::block_in_place(|| backing.postgres.crash())?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    tokio::task::block_in_place(|| backing.postgres.start_server())?;
    record("PostgreSQL stop -m immediate, 3 s down, started".into(), start);

    let start = next_fault(services, gap).await?;
    for service in SERVICES {
        services.drain_and_restart(service, Duration::from_secs(60)).await?;
    }
    record("rolling restart: SIGTERM each process, wait, restart".into(), start);

    let start = next_fault(services, gap).await?;
    services.pause("notifier")?;
    tokio::time::sleep(ACK_WAIT * 2).await;
    services.resume("notifier")?;
    record(format!("notifier SIGSTOP for {} s, SIGCONT", (ACK_WAIT * 2).as_secs()), start);
    Ok(faults)
}

/// Waits `gap`, then checks that no process exited by itself since the last fault (it would
/// be that fault's finding); returns when the next fault starts.
async fn next_fault(services: &mut Services, gap: Duration) -> anyhow::Result<Instant> {
    tokio::time::sleep(gap).await;
    services.ensure_running()?;
    Ok(Instant::now())
}

/// Publishes the article the bot answers order questions from, once knowledge answers.
async fn publish_article(services: &Services) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        match common::publish_tracking_article(services.grpc["knowledge"]).await {
            Ok(_) => return Ok(()),
            Err(error) if Instant::now() > deadline => return Err(error.context("knowledge never answered")),
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// Waits until no consumer of the events or inbound streams has anything pending or unacked,
/// twice in a row.
async fn drain(bus: &Bus, services: &mut Services) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let mut idle_polls = 0;
    while idle_polls < 2 {
        if start.elapsed() > DRAIN {
            bail!("the load did not drain within {DRAIN:?}: {}", busy(bus).await?.join("; "));
        }
        services.ensure_running()?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        idle_polls = if busy(bus).await?.is_empty() { idle_polls + 1 } else { 0 };
    }
    Ok(start.elapsed())
}

/// The consumers with work left: `name: pending/unacked`.
async fn busy(bus: &Bus) -> anyhow::Result<Vec<String>> {
    let mut busy = Vec::new();
    for stream in [EVENTS_STREAM, INBOUND_STREAM] {
        let stream = bus.jetstream().get_stream(stream).await?;
        let mut consumers = stream.consumers();
        while let Some(info) = consumers.try_next().await? {
            if info.num_pending > 0 || info.num_ack_pending > 0 {
                busy.push(format!("{}: {}/{}", info.name, info.num_pending, info.num_ack_pending));
            }
        }
    }
    Ok(busy)
}

/// Every read model, caught up after the stop, equals its replay.
async fn read_models(config: &Config, report: &mut Report) -> anyhow::Result<()> {
    for service in Service::ALL {
        catch_up(config, service).await?;
    }
    let pool = sqlx::PgPool::connect(&config.database_url).await?;
    let live = common::models::snapshot(&pool, false).await?;
    for service in Service::ALL {
        replay(config, service).await?;
    }
    let rebuilt = common::models::snapshot(&pool, false).await?;
    report.figure("read-model rows compared with their replay", live.len());
    let differing: Vec<String> = live
        .iter()
        .zip(&rebuilt)
        .filter(|(live, rebuilt)| live != rebuilt)
        .map(|(live, rebuilt)| format!("live {live} / replayed {rebuilt}"))
        .chain(
            (live.len() != rebuilt.len())
                .then(|| format!("{} rows live, {} replayed", live.len(), rebuilt.len())),
        )
        .collect();
    if !differing.is_empty() {
        report.failures.push(format!(
            "read models differ from their replay: {:?}",
            &differing[..differing.len().min(3)]
        ));
    }
    pool.close().await;
    Ok(())
}

fn print(faults: &[Fault], report: &Report) {
    println!("\n{:<58} {:>9} {:>9}", "fault", "at (s)", "took (s)");
    for fault in faults {
        println!("{:<58} {:>9.1} {:>9.1}", fault.what, fault.at, fault.took);
    }
    println!("\n{:<58} {:>19}", "counted", "");
    for (name, value) in &report.figures {
        println!("{name:<58} {value:>19}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_lost_or_doubled_through_crashes_restarts_and_pauses() -> anyhow::Result<()> {
    let count = size("SWITCHBOARD_CHAOS_MESSAGES", 10_000);
    let rate = size("SWITCHBOARD_CHAOS_RATE", 100) as u32;
    let mut backing = Backing::start().await?;
    let mut services = Services::start(&backing.peers, &backing.dir)?;
    let outcome = run(&mut backing, &mut services, count, rate).await;
    if let Err(error) = &outcome {
        // The error first: a CI excerpt keeps a failure's first lines.
        eprintln!("the run failed: {error:#}\nthe processes' last lines:\n{}", services.logs());
    }
    let (faults, report) = outcome?;
    print(&faults, &report);
    assert!(report.failures.is_empty(), "{}", report.failures.join("\n"));
    Ok(())
}

async fn run(
    backing: &mut Backing,
    services: &mut Services,
    count: usize,
    rate: u32,
) -> anyhow::Result<(Vec<Fault>, Report)> {
    publish_article(services).await?;
    let mut report = Report::default();
    let sent = Arc::new(load::Sent::default());
    let target = load::Target { intake: services.grpc["intake"], smtp: services.smtp, rate };
    let began = Instant::now();
    let load = tokio::spawn({
        let sent = sent.clone();
        async move { load::send(&target, count, sent).await }
    });
    let sending = Duration::from_secs_f64(count as f64 / f64::from(rate.max(1)));
    let gap = sending / 13;
    let faults = inject(backing, services, gap, began).await?;
    load.await.context("the load's task")??;
    report.figure("messages sent", sent.accepted.load(Ordering::Relaxed));
    report.figure("attempts sent again", sent.retried.load(Ordering::Relaxed));
    report.figure("seconds to send", format!("{:.0}", began.elapsed().as_secs_f64()));
    let bus =
        Bus::connect(switchboard_bus::Config { url: backing.peers.nats_url.clone(), ..Default::default() })
            .await?;
    let drained = drain(&bus, services).await?;
    report.figure("seconds to drain after sending", format!("{:.0}", drained.as_secs_f64()));
    services.stop(Duration::from_secs(60)).await?;

    let stream = checks::Stream::load(&bus).await?;
    checks::messages(&stream, count, &mut report);
    let sinks = checks::Sinks { webhook: &backing.webhook, mail: &backing.mail };
    checks::replies(&stream, &sinks, &mut report)?;
    drop(stream);
    checks::dead_letters(&bus, &mut report).await?;
    read_models(&backing.config(), &mut report).await?;
    Ok((faults, report))
}
