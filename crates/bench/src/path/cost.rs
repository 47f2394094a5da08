//! What one message costs: events published, bus hops (deliveries to consumers), SQL statements
//! and round trips by schema, gRPC calls by method, CPU time of this process, nats-server and
//! PostgreSQL, and the write-ahead log PostgreSQL wrote (the whole cluster's: nothing else should
//! run on it meanwhile). Read before and after a run; the difference, per message, is printed.
//!
//! SQL is counted from sqlx's own statement log (target `sqlx::query`), turned on only while a
//! cost run is counted; `BEGIN` is not logged, so a transaction's round trips are its logged
//! statements plus one.

use std::{
    collections::BTreeMap,
    sync::{
        Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use super::{
    prometheus,
    tails::{self, Tails},
};
use futures::TryStreamExt as _;
use switchboard_bus::{Bus, EVENTS_STREAM, INBOUND_STREAM};
use tracing::{Subscriber, field::Visit};
use tracing_subscriber::{
    Layer,
    layer::{Context, Filter},
};

/// Schemas a statement is put under, by the first one it names.
const SCHEMAS: [&str; 9] =
    ["intake", "classifier", "router", "knowledge", "notifier", "analytics", "desk", "channels", "auth"];

static COUNTING: AtomicBool = AtomicBool::new(false);
/// Statements by kind: how many, and the seconds they took as sqlx saw them (the round trip).
static STATEMENTS: Mutex<BTreeMap<&'static str, (u64, f64)>> = Mutex::new(BTreeMap::new());

/// Counts sqlx's statements while [`COUNTING`] is on; sees nothing else (see
/// [`StatementCounter::layer`]).
pub(crate) struct StatementCounter;

impl StatementCounter {
    /// The counter behind its own filter, so that other layers (logs) still see what they ask for.
    pub(crate) fn layer<S>() -> impl Layer<S>
    where
        S: Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
    {
        Self.with_filter(OnlyCountedStatements)
    }
}

/// sqlx's statements, while [`COUNTING`] is on.
struct OnlyCountedStatements;

impl<S: Subscriber> Filter<S> for OnlyCountedStatements {
    fn callsite_enabled(
        &self,
        metadata: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        if metadata.target() == "sqlx::query" {
            tracing::subscriber::Interest::sometimes()
        } else {
            tracing::subscriber::Interest::never()
        }
    }

    fn enabled(&self, metadata: &tracing::Metadata<'_>, _: &Context<'_, S>) -> bool {
        metadata.target() == "sqlx::query" && COUNTING.load(Ordering::Relaxed)
    }
}

impl<S: Subscriber> Layer<S> for StatementCounter {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut statement = Statement::default();
        event.record(&mut statement);
        let sql = if statement.full.trim().is_empty() { statement.summary } else { statement.full };
        let kind = classify(&sql);
        if let Ok(mut counts) = STATEMENTS.lock() {
            let entry = counts.entry(kind).or_default();
            entry.0 += 1;
            entry.1 += statement.seconds;
        }
    }
}

#[derive(Default)]
struct Statement {
    summary: String,
    full: String,
    seconds: f64,
}

impl Visit for Statement {
    fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
        if field.name() == "elapsed_secs" {
            self.seconds = value;
        }
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        match field.name() {
            "summary" => self.summary = value.to_string(),
            "db.statement" => self.full = value.to_string(),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if matches!(field.name(), "summary" | "db.statement") {
            self.record_str(field, &format!("{value:?}"));
        }
    }
}

/// The schema a statement works on, `checkpoint` for a projection's own bookkeeping, or
/// `commit`/`rollback`.
fn classify(sql: &str) -> &'static str {
    let lower = sql.trim_start().to_ascii_lowercase();
    if lower.starts_with("commit") {
        return "commit";
    }
    if lower.starts_with("rollback") {
        return "rollback";
    }
    if lower.contains("projection_checkpoints") {
        return "checkpoint";
    }
    SCHEMAS.into_iter().find(|schema| lower.contains(&format!("{schema}."))).unwrap_or("other")
}

/// Counters at one moment.
#[derive(Debug, Clone, Default)]
pub(crate) struct Reading {
    events: u64,
    inbound: u64,
    deliveries: BTreeMap<String, u64>,
    grpc: BTreeMap<String, u64>,
    statements: BTreeMap<&'static str, (u64, f64)>,
    cpu: BTreeMap<&'static str, f64>,
    /// Where PostgreSQL's write-ahead log is, in bytes (the whole cluster's).
    wal: u64,
    tails: Tails,
}

/// The processes whose CPU time is read, and the database whose WAL is.
pub(crate) struct Processes {
    pub nats: u32,
    pub database: sqlx::PgPool,
}

/// Reads every counter now; `counting` turns statement counting on or off from here on.
pub(crate) async fn read(bus: &Bus, processes: &Processes, counting: bool) -> anyhow::Result<Reading> {
    COUNTING.store(counting, Ordering::Relaxed);
    let jetstream = bus.jetstream();
    let mut reading = Reading::default();
    for (name, total) in [(EVENTS_STREAM, &mut reading.events), (INBOUND_STREAM, &mut reading.inbound)] {
        let mut stream = jetstream.get_stream(name).await?;
        *total = stream.info().await?.state.last_sequence;
        let mut consumers = stream.consumers();
        while let Some(info) = consumers.try_next().await? {
            let label = match info.config.durable_name {
                Some(name) => name,
                None => format!("ordered[{}]", short_filter(&info.config)),
            };
            *reading.deliveries.entry(label).or_default() += info.delivered.consumer_sequence;
        }
    }
    let metrics = switchboard_telemetry::metrics::render().unwrap_or_default();
    reading.grpc = grpc_calls(&metrics);
    reading.tails = Tails::of(&metrics);
    reading.statements = STATEMENTS.lock().map(|counts| counts.clone()).unwrap_or_default();
    reading.cpu = cpu_seconds(processes);
    let wal: i64 = sqlx::query_scalar("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint")
        .fetch_one(&processes.database)
        .await?;
    reading.wal = u64::try_from(wal).unwrap_or(0);
    Ok(reading)
}

/// An ordered consumer's subjects, shortened to their aggregates (`conversation+routing`).
fn short_filter(config: &async_nats::jetstream::consumer::Config) -> String {
    let subjects =
        config.filter_subjects.iter().chain(Some(&config.filter_subject).filter(|s| !s.is_empty()));
    let aggregates: Vec<&str> = subjects
        .map(|subject| subject.strip_prefix("switchboard.events.").unwrap_or(subject).trim_end_matches(".>"))
        .collect();
    if aggregates.len() > 4 { format!("{} subjects", aggregates.len()) } else { aggregates.join("+") }
}

/// Waits until every consumer of the events and inbound streams has handled all it was given
/// (nothing pending, nothing unacknowledged): the cluster is idle, its projections caught up.
pub(crate) async fn settle(bus: &Bus) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(900);
    loop {
        let mut busy = 0;
        for name in [EVENTS_STREAM, INBOUND_STREAM] {
            let stream = bus.jetstream().get_stream(name).await?;
            let mut consumers = stream.consumers();
            while let Some(info) = consumers.try_next().await? {
                busy += info.num_pending + info.num_ack_pending as u64;
            }
        }
        if busy == 0 {
            return Ok(());
        }
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "the cluster did not settle: {busy} pending");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

/// `switchboard_grpc_requests_total` by method, from the Prometheus text.
fn grpc_calls(text: &str) -> BTreeMap<String, u64> {
    let mut calls = BTreeMap::new();
    for line in text.lines().filter(|line| line.starts_with("switchboard_grpc_requests_total{")) {
        let rpc = prometheus::label(line, "rpc").unwrap_or("?");
        *calls.entry(rpc.to_string()).or_default() += prometheus::value(line) as u64;
    }
    calls
}

/// CPU seconds (user + system) of this process, nats-server and every PostgreSQL process.
fn cpu_seconds(processes: &Processes) -> BTreeMap<&'static str, f64> {
    let mut cpu = BTreeMap::new();
    cpu.insert("switchboard", crate::procfs::cpu_seconds(std::process::id()).unwrap_or(0.0));
    cpu.insert("nats-server", crate::procfs::cpu_seconds(processes.nats).unwrap_or(0.0));
    let postgres = crate::procfs::pids_named("postgres");
    cpu.insert("postgresql", postgres.iter().filter_map(|pid| crate::procfs::cpu_seconds(*pid)).sum());
    cpu
}

/// Prints what `after` adds to `before`, per message of `messages`; `watched` is what the
/// bench's own watcher received (not a hop of the product).
pub(crate) fn print(before: &Reading, after: &Reading, messages: usize, watched: u64) {
    let per = |n: f64| n / messages as f64;
    let delta = |a: u64, b: u64| b.saturating_sub(a) as f64;
    println!("  cost per message (over {messages} messages):");
    println!(
        "    events published: {:.2} (and {:.2} inbound)",
        per(delta(before.events, after.events)),
        per(delta(before.inbound, after.inbound))
    );
    let hops = after
        .deliveries
        .iter()
        .map(|(name, n)| (name, delta(*before.deliveries.get(name).unwrap_or(&0), *n)));
    let hops: Vec<(&String, f64)> = hops.filter(|(_, n)| *n > 0.0).collect();
    let total: f64 = hops.iter().map(|(_, n)| n).sum::<f64>() - watched as f64;
    let listed: Vec<String> = hops.iter().map(|(name, n)| format!("{name} {:.2}", per(*n))).collect();
    println!("    bus hops (deliveries to consumers): {:.2}: {}", per(total), listed.join(", "));
    println!("      (ordered consumers include the bench's watcher: {:.2})", per(watched as f64));
    let mut sql_total = 0.0;
    let mut transactions = 0.0;
    let mut by_schema = Vec::new();
    for (kind, (n, seconds)) in &after.statements {
        let (n_before, seconds_before) = before.statements.get(kind).copied().unwrap_or_default();
        let n = delta(n_before, *n);
        sql_total += n;
        if matches!(*kind, "commit" | "rollback") {
            transactions += n;
        }
        let took = (seconds - seconds_before) / n.max(1.0) * 1e6;
        by_schema.push(format!("{kind} {:.2} ({took:.0} µs each)", per(n)));
    }
    println!(
        "    SQL statements: {:.2}, round trips {:.2} ({:.2} transactions): {}",
        per(sql_total),
        per(sql_total + transactions),
        per(transactions),
        by_schema.join(", ")
    );
    let grpc: Vec<String> = after
        .grpc
        .iter()
        .map(|(rpc, n)| (rpc, delta(*before.grpc.get(rpc).unwrap_or(&0), *n)))
        .filter(|(_, n)| *n > 0.0)
        .map(|(rpc, n)| format!("{rpc} {:.2}", per(n)))
        .collect();
    println!("    gRPC calls: {}", if grpc.is_empty() { "none".into() } else { grpc.join(", ") });
    let cpu: Vec<String> = after
        .cpu
        .iter()
        .map(|(name, s)| format!("{name} {:.0} µs", per(s - before.cpu.get(name).unwrap_or(&0.0)) * 1e6))
        .collect();
    println!("    CPU time: {}", cpu.join(", "));
    println!("    PostgreSQL WAL written: {:.1} KiB", per(delta(before.wal, after.wal)) / 1024.0);
}

/// By consumer and projection, where the time went between `before` and `after`.
pub(crate) fn print_tails(before: &Reading, after: &Reading) {
    tails::print(&before.tails, &after.tails);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_put_under_the_schema_they_name() {
        assert_eq!(classify("\n\nSELECT 1 FROM intake.messages WHERE x"), "intake");
        assert_eq!(classify("UPDATE router.projection_checkpoints SET"), "checkpoint");
        assert_eq!(classify("COMMIT"), "commit");
        assert_eq!(classify("SELECT now()"), "other");
    }

    #[test]
    fn grpc_calls_are_read_by_method() {
        let text = "switchboard_grpc_requests_total{rpc=\"/a.B/C\",code=\"ok\"} 3\n\
                    switchboard_grpc_requests_total{rpc=\"/a.B/C\",code=\"unavailable\"} 1\n";
        assert_eq!(grpc_calls(text).get("/a.B/C"), Some(&4));
    }
}
