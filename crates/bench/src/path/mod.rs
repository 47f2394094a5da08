//! The message path, from a customer's message to the bot's reply delivered, with every service
//! in this process on a fresh nats-server and database; a small help centre answers every
//! question (see `kb.rs`). Printed, beside the raw publish rate of the same server:
//! - throughput: messages sent as fast as the cluster takes them (a fixed number in flight),
//!   from the first submission to the last reply delivered;
//! - latency under open-loop load: a fixed arrival rate, each message timed from when it was due
//!   to its reply delivered (HdrHistogram), so queueing is not hidden;
//! - the cost of a message (see `cost.rs`; the rows PostgreSQL wrote, `writes.rs`), and where
//!   its time goes by consumer (`tails.rs`), also after the open-loop run at the full rate, where
//!   a stage that cannot keep up shows;
//!
//! both through gRPC `SubmitMessage` and through a channel's publish to `switchboard.inbound.web`;
//! then through `switchboard serve` processes (see `processes.rs`).
//!
//! Sizes: `SWITCHBOARD_BENCH_MESSAGES` (closed runs, default 20000), `SWITCHBOARD_BENCH_COST_RATE`
//! (the steady rate the cost is read at for 10 s, default 200 a second), `SWITCHBOARD_BENCH_RATE`
//! (default 1000 a second) for `SWITCHBOARD_BENCH_SECONDS` (default 60);
//! `SWITCHBOARD_BENCH_SERVICES` runs fewer services beside the path;
//! `SWITCHBOARD_BENCH_PROCESSES=0` skips the `switchboard serve` processes, `=only` runs only
//! them. PostgreSQL is reached over
//! loopback without TLS (`sslmode=disable`), as on one host.

use std::time::Duration;

use anyhow::bail;
use switchboard_auth::Role;
use switchboard_bus::Bus;
use switchboard_proto::knowledge::v1::knowledge_client::KnowledgeClient;
use switchboard_server::{Config, Service, serve};
use switchboard_testkit::NatsServer;
use tokio_util::sync::CancellationToken;

use crate::{Intake, size};

mod cost;
mod fleet;
mod kb;
mod load;
mod processes;
mod prometheus;
mod raw;
mod tails;
mod watch;
mod writes;

pub(crate) use cost::StatementCounter;
use load::{Closed, Entry, Open};
use writes::Writes;

/// Sends in flight at once in a closed run.
const IN_FLIGHT: usize = 64;
/// Seconds of steady load the cost of a message is read over.
const COST_SECONDS: u32 = 10;

pub(crate) async fn measure(nats: &NatsServer, database_url: &str) -> anyhow::Result<()> {
    let runs = Runs::from_setting(std::env::var("SWITCHBOARD_BENCH_PROCESSES").ok().as_deref())?;
    if runs != Runs::OnlyProcesses {
        in_process(nats, database_url).await?;
    }
    if runs == Runs::InProcessOnly {
        println!("switchboard serve processes: skipped (SWITCHBOARD_BENCH_PROCESSES=0)");
        return Ok(());
    }
    let one = processes::one_process(size("SWITCHBOARD_BENCH_CONVERSATIONS_RSS", 100_000)).await?;
    processes::two_per_service(size("SWITCHBOARD_BENCH_MESSAGES", 20_000), &one).await
}

/// Which runs of the path part to make, as `SWITCHBOARD_BENCH_PROCESSES` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Runs {
    /// Unset: in this process, then through `switchboard serve` processes.
    Both,
    /// `0`: in this process only.
    InProcessOnly,
    /// `only`: through `switchboard serve` processes only.
    OnlyProcesses,
}

impl Runs {
    /// A value it does not know (a typo of `only`) is refused, not read as "everything".
    fn from_setting(value: Option<&str>) -> anyhow::Result<Self> {
        match value.map(str::trim) {
            None | Some("") => Ok(Self::Both),
            Some("0") => Ok(Self::InProcessOnly),
            Some("only") => Ok(Self::OnlyProcesses),
            Some(other) => bail!(
                "SWITCHBOARD_BENCH_PROCESSES={other:?}: use 0 (skip the serve processes) or only (run only them), or leave it unset (both)"
            ),
        }
    }
}

/// Every service in this process: the raw publish rate, then every run.
async fn in_process(nats: &NatsServer, database_url: &str) -> anyhow::Result<()> {
    let bus = Bus::connect(switchboard_bus::Config { url: nats.url(), ..Default::default() }).await?;
    let raw = raw::publish_rate(&bus, 100_000).await?;
    println!("raw pipelined JetStream publishing on this server: {raw:.0} events/s");
    let rules = std::env::temp_dir().join(format!("switchboard-path-{}.yaml", std::process::id()));
    std::fs::write(&rules, kb::RULES)?;
    let services = match std::env::var("SWITCHBOARD_BENCH_SERVICES") {
        Ok(list) => Service::parse_list(&list).map_err(anyhow::Error::msg)?,
        Err(_) => Service::ALL.to_vec(),
    };
    println!("message path services: {}", services.iter().map(|s| s.name()).collect::<Vec<_>>().join(","));
    let config = Config {
        nats_url: nats.url(),
        database_url: without_tls(database_url),
        services,
        auth_keys: Some(switchboard_testkit::auth_keys()),
        rules_file: Some(rules.clone()),
        ..Config::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(serve(config, listener, shutdown.clone()));
    kb::publish(KnowledgeClient::new(connect(address, Role::Admin).await?)).await?;
    let grpc = Entry::Grpc(vec![Intake::new(connect(address, Role::Service).await?)].into());
    let database = sqlx::PgPool::connect(&without_tls(database_url)).await?;
    let measured = runs(&bus, nats, &database, &grpc, raw).await;
    database.close().await;
    shutdown.cancel();
    server.await??;
    let _ = std::fs::remove_file(&rules);
    measured
}

/// Every run, through gRPC and then through the inbound stream.
async fn runs(
    bus: &Bus,
    nats: &NatsServer,
    database: &sqlx::PgPool,
    grpc: &Entry,
    raw: f64,
) -> anyhow::Result<()> {
    let warm = closed(bus, grpc, "warm", 500).await?;
    if warm.handed_off > 0 {
        let mut questions: Vec<&str> = warm.handed_off_numbers.iter().map(|n| kb::question(*n)).collect();
        questions.sort_unstable();
        questions.dedup();
        bail!(
            "{} of {} bench questions were handed off, not answered: {questions:?}",
            warm.handed_off,
            warm.messages
        );
    }
    let inbound = Entry::Inbound(Box::new(bus.clone()));
    let processes = cost::Processes { nats: nats.pid(), database: database.clone() };
    for (name, entry) in [("grpc", grpc), ("inbound", &inbound)] {
        println!("message path through {}:", entry.name());
        let before = tails::Tails::now();
        let run =
            closed(bus, entry, &format!("{name}-closed"), size("SWITCHBOARD_BENCH_MESSAGES", 20_000)).await?;
        print_closed(&run, raw);
        // A stage that stalled shows as long waits before it, with a short handler's run.
        cost::settle(bus).await?;
        tails::print(&before, &tails::Tails::now());
        steady(bus, entry, name, &processes).await?;
        full_rate(bus, entry, name).await?;
    }
    Ok(())
}

/// The cost of a message, read at a steady rate the cluster keeps up with (no backlog, no
/// catching up), and the latency at that rate.
async fn steady(bus: &Bus, entry: &Entry, name: &str, processes: &cost::Processes) -> anyhow::Result<()> {
    let rate = u32::try_from(size("SWITCHBOARD_BENCH_COST_RATE", 200))?;
    let messages = (rate * COST_SECONDS) as usize;
    let prefix = format!("{name}-cost-");
    let mut watch = watch::start(bus, prefix.clone()).await?;
    cost::settle(bus).await?;
    let written_before = Writes::reported(&processes.database).await?;
    let before = cost::read(bus, processes, true).await?;
    let steady = load::open(entry, &mut watch, &prefix, rate, COST_SECONDS).await?;
    cost::settle(bus).await?;
    let after = cost::read(bus, processes, false).await?;
    let written_after = Writes::reported(&processes.database).await?;
    cost::print(&before, &after, messages, watch.seen.load(std::sync::atomic::Ordering::Relaxed));
    writes::print(&written_before, &written_after, messages);
    cost::print_tails(&before, &after);
    print_open(&steady);
    Ok(())
}

/// The open loop at the full rate, and where the time went by consumer.
async fn full_rate(bus: &Bus, entry: &Entry, name: &str) -> anyhow::Result<()> {
    let rate = u32::try_from(size("SWITCHBOARD_BENCH_RATE", 1_000))?;
    let seconds = u32::try_from(size("SWITCHBOARD_BENCH_SECONDS", 60))?;
    let prefix = format!("{name}-open-");
    let mut watch = watch::start(bus, prefix.clone()).await?;
    cost::settle(bus).await?;
    let before = tails::Tails::now();
    let open = load::open(entry, &mut watch, &prefix, rate, seconds).await?;
    print_open(&open);
    // Every consumer done (those off the reply path too), then where the time went: messages
    // wait long before the stage that cannot keep up.
    cost::settle(bus).await?;
    tails::print(&before, &tails::Tails::now());
    Ok(())
}

async fn closed(bus: &Bus, entry: &Entry, run: &str, messages: usize) -> anyhow::Result<Closed> {
    let prefix = format!("{run}-");
    let mut watch = watch::start(bus, prefix.clone()).await?;
    cost::settle(bus).await?;
    load::closed(entry, &mut watch, &prefix, messages, IN_FLIGHT).await
}

fn print_closed(run: &Closed, raw: f64) {
    let rate = run.rate();
    println!(
        "  throughput: {} messages ({} refused, {} answered, {} handed off) sent in {:.2} s with {IN_FLIGHT} in \
         flight; the last reply delivered after {:.2} s: {rate:.0} messages/s end to end (target ≥ 2000)",
        run.messages,
        run.refused,
        run.replied,
        run.handed_off,
        run.submitted_in.as_secs_f64(),
        run.elapsed.as_secs_f64(),
    );
    println!("  ratio to the raw publish rate: {:.4} (target ≥ 0.05)", rate / raw);
}

fn print_open(run: &Open) {
    let ms = |quantile: f64| run.latency.value_at_quantile(quantile) as f64 / 1000.0;
    println!(
        "  open loop, {} messages/s for {} s ({} refused, {} answered, {} handed off, {} without an end \
         30 s after): due to reply delivered p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, p99.9 {:.1} ms, max {:.1} ms \
         (targets p50 ≤ 15 ms, p99 ≤ 50 ms)",
        run.rate,
        run.seconds,
        run.refused,
        run.replied,
        run.handed_off,
        run.missing,
        ms(0.5),
        ms(0.9),
        ms(0.99),
        ms(0.999),
        run.latency.max() as f64 / 1000.0,
    );
}

/// The database over loopback as an operator running everything on one host connects: without
/// TLS (which on loopback protects nothing and costs both ends CPU on every statement).
pub(crate) fn without_tls(url: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}sslmode=disable")
}

/// A channel whose calls carry a token in `role` (a service's, as a channel adapter's would).
pub(crate) async fn connect(
    address: std::net::SocketAddr,
    role: switchboard_auth::Role,
) -> anyhow::Result<switchboard_auth::Authorized> {
    let credentials = switchboard_testkit::credentials(switchboard_bus::DEFAULT_TENANT, role, "bench");
    Ok(switchboard_auth::Authorized::new(channel(address).await?, credentials))
}

/// A connection to the cluster at `address`, once it serves.
pub(crate) async fn channel(address: std::net::SocketAddr) -> anyhow::Result<tonic::transport::Channel> {
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{address}"))?;
    for _ in 0..200 {
        if let Ok(channel) = endpoint.connect().await {
            return Ok(channel);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the cluster did not come up")
}

#[cfg(test)]
mod tests {
    use super::Runs;

    #[test]
    fn the_processes_setting_takes_its_two_values_or_nothing() {
        assert_eq!(Runs::from_setting(None).ok(), Some(Runs::Both));
        assert_eq!(Runs::from_setting(Some("")).ok(), Some(Runs::Both));
        assert_eq!(Runs::from_setting(Some("0")).ok(), Some(Runs::InProcessOnly));
        assert_eq!(Runs::from_setting(Some("only")).ok(), Some(Runs::OnlyProcesses));
    }

    #[test]
    fn a_processes_setting_it_does_not_know_is_refused_with_the_values_it_takes() {
        let refused = Runs::from_setting(Some("onyl")).err().map(|error| error.to_string());
        let refused = refused.unwrap_or_default();
        assert!(refused.contains("\"onyl\""), "{refused}");
        assert!(refused.contains("0 (skip") && refused.contains("only (run"), "{refused}");
    }
}
