//! The message path through `switchboard serve` processes: one process running every service
//! (its throughput over 100,000 conversations, then its resident memory), and the services split
//! two processes each (throughput, and CPU time per message by service). Each on a fresh
//! nats-server and database.

use std::{collections::BTreeMap, time::Duration};

use anyhow::bail;
use switchboard_auth::Role;
use switchboard_proto::knowledge::v1::knowledge_client::KnowledgeClient;
use switchboard_testkit::{NatsServer, TestDatabase};

use super::{
    connect,
    fleet::{Fleet, Shared},
    kb,
    load::{self, Closed, Entry},
    watch,
};
use crate::{Intake, procfs};

/// Every service, as `SWITCHBOARD_SERVICES` names them.
const SERVICES: [&str; 8] =
    ["intake", "classifier", "router", "knowledge", "notifier", "analytics", "desk", "channels"];

/// One process with every service: `conversations` messages, each a new conversation, then its
/// resident memory.
pub(crate) async fn one_process(conversations: usize) -> anyhow::Result<Closed> {
    let (nats, database) = (NatsServer::start()?, TestDatabase::create().await?);
    let fleet = started(&nats, &database, &["all"], 16).await?;
    let entry = grpc_entry(&fleet).await?;
    let pid = fleet.members[0].pid();
    let cpu_before = procfs::cpu_seconds(pid).unwrap_or(0.0);
    let run = run(&nats, &entry, "memory", conversations).await?;
    let cpu = procfs::cpu_seconds(pid).unwrap_or(0.0) - cpu_before;
    let rss = procfs::rss_bytes(pid).unwrap_or(0) as f64 / (1024.0 * 1024.0);
    println!(
        "one switchboard serve process: {} conversations at {:.0} messages/s end to end ({} handed off), \
         {:.0} µs of its CPU per message; resident memory after them: {rss:.0} MB (target ≤ 300 MB)",
        run.messages,
        run.rate(),
        run.handed_off,
        cpu / run.messages as f64 * 1e6,
    );
    Ok(run)
}

/// Two processes per service; prints the throughput beside `one`'s and each service's CPU.
pub(crate) async fn two_per_service(messages: usize, one: &Closed) -> anyhow::Result<()> {
    let (nats, database) = (NatsServer::start()?, TestDatabase::create().await?);
    let layout: Vec<&str> = SERVICES.iter().flat_map(|service| [*service, *service]).collect();
    // Sixteen pools within PostgreSQL's 100 connections.
    let fleet = started(&nats, &database, &layout, 5).await?;
    let entry = grpc_entry(&fleet).await?;
    let cpu = |fleet: &Fleet| -> BTreeMap<String, f64> {
        let mut by_service = BTreeMap::new();
        for member in &fleet.members {
            *by_service.entry(member.services.clone()).or_default() +=
                procfs::cpu_seconds(member.pid()).unwrap_or(0.0);
        }
        by_service
    };
    let before = cpu(&fleet);
    let run = run(&nats, &entry, "scale-out", messages).await?;
    let after = cpu(&fleet);
    let per_message: Vec<String> = after
        .iter()
        .map(|(service, s)| format!("{service} {:.0} µs", (s - before[service]) / run.messages as f64 * 1e6))
        .collect();
    println!(
        "two processes per service ({} processes): {:.0} messages/s end to end over {} messages ({} handed off), \
         {:.2}× one process's {:.0}; CPU time per message by service (both processes): {}",
        fleet.members.len(),
        run.rate(),
        run.messages,
        run.handed_off,
        run.rate() / one.rate(),
        one.rate(),
        per_message.join(", ")
    );
    Ok(())
}

/// A fleet in `layout` with the bench's help centre published and the path warm: 200 messages
/// answered (tried for a minute while the processes come up and index the articles).
async fn started(
    nats: &NatsServer,
    database: &TestDatabase,
    layout: &[&str],
    pool_size: u32,
) -> anyhow::Result<Fleet> {
    let rules = std::env::temp_dir().join(format!("switchboard-fleet-rules-{}.yaml", std::process::id()));
    std::fs::write(&rules, kb::RULES)?;
    let database_url = super::without_tls(&database.url);
    let shared = Shared { nats_url: nats.url(), database_url, rules, pool_size };
    let fleet = Fleet::start(&shared, layout)?;
    let knowledge =
        fleet.running("knowledge").next().map(|m| m.grpc).ok_or_else(|| anyhow::anyhow!("no knowledge"))?;
    kb::publish(KnowledgeClient::new(connect(knowledge, Role::Admin).await?)).await?;
    let entry = grpc_entry(&fleet).await?;
    for attempt in 0..12 {
        let warm = run(nats, &entry, &format!("warm{attempt}"), 200).await?;
        if warm.handed_off == 0 && warm.refused == 0 {
            return Ok(fleet);
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    bail!("the fleet {layout:?} did not answer every bench question within a minute")
}

/// Submissions spread over every intake of the fleet.
async fn grpc_entry(fleet: &Fleet) -> anyhow::Result<Entry> {
    let mut intakes = Vec::new();
    for member in fleet.running("intake") {
        intakes.push(Intake::new(connect(member.grpc, Role::Service).await?));
    }
    Ok(Entry::Grpc(intakes.into()))
}

async fn run(nats: &NatsServer, entry: &Entry, name: &str, messages: usize) -> anyhow::Result<Closed> {
    let bus =
        switchboard_bus::Bus::connect(switchboard_bus::Config { url: nats.url(), ..Default::default() })
            .await?;
    let prefix = format!("{name}-");
    let mut watch = watch::start(&bus, prefix.clone()).await?;
    super::cost::settle(&bus).await?;
    load::closed(entry, &mut watch, &prefix, messages, super::IN_FLIGHT).await
}
