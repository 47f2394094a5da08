//! The message path: all services in this process; messages submitted over gRPC; timed until
//! every one has a routing decision. Latency is submission (MessageReceived) to decision
//! (MessageRouted), from the events' own timestamps.

use std::time::{Duration, Instant};

use anyhow::bail;
use futures::{StreamExt as _, stream};
use prost::Message as _;
use switchboard_bus::{Bus, EVENTS_STREAM};
use switchboard_proto::{
    events::v1::{Event, event::Body},
    time::to_datetime,
};
use switchboard_server::{Config, Service, serve};
use tokio_util::sync::CancellationToken;

use crate::{Intake, request};

pub(crate) async fn measure(nats_url: &str, database_url: &str, messages: usize) -> anyhow::Result<()> {
    // All services by default; `SWITCHBOARD_BENCH_SERVICES` (e.g. `intake,classifier,router,knowledge`)
    // measures the path with fewer consumers beside it.
    let services = match std::env::var("SWITCHBOARD_BENCH_SERVICES") {
        Ok(list) => Service::parse_list(&list).map_err(anyhow::Error::msg)?,
        Err(_) => Service::ALL.to_vec(),
    };
    println!("message path services: {}", services.iter().map(|s| s.name()).collect::<Vec<_>>().join(","));
    let config = Config {
        nats_url: nats_url.into(),
        database_url: database_url.into(),
        services,
        auth_keys: Some(switchboard_testkit::auth_keys()),
        ..Config::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(serve(config, listener, shutdown.clone()));
    let channel = connect(address, switchboard_auth::Role::Service).await?;
    let bus = Bus::connect(switchboard_bus::Config { url: nats_url.into(), ..Default::default() }).await?;

    let started = Instant::now();
    let submitted: Vec<_> = stream::iter(0..messages)
        .map(|n| {
            let mut intake = Intake::new(channel.clone());
            async move { intake.submit_message(request(n)).await }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let submit_time = started.elapsed();
    let failed = submitted.iter().filter(|r| r.is_err()).count();
    let latencies = wait_decisions(&bus, messages).await?;
    let total = started.elapsed();
    shutdown.cancel();
    server.await??;
    report(messages, failed, submit_time, total, latencies);
    Ok(())
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

/// Reads routing decisions until `count` arrived; returns each decision's latency.
async fn wait_decisions(bus: &Bus, count: usize) -> anyhow::Result<Vec<Duration>> {
    use async_nats::jetstream::consumer::{DeliverPolicy, pull::OrderedConfig};
    let stream = bus.jetstream().get_stream(EVENTS_STREAM).await?;
    let consumer = stream
        .create_consumer(OrderedConfig {
            filter_subjects: vec![
                "switchboard.events.conversation.>".into(),
                "switchboard.events.routing.>".into(),
            ],
            deliver_policy: DeliverPolicy::All,
            ..Default::default()
        })
        .await?;
    let mut messages = consumer.messages().await?;
    let mut received = std::collections::HashMap::new();
    let mut latencies = Vec::with_capacity(count);
    while latencies.len() < count {
        let Some(message) = tokio::time::timeout(Duration::from_secs(120), messages.next()).await? else {
            bail!("event stream ended");
        };
        let event = Event::decode(message?.payload.as_ref())?;
        let at = to_datetime(event.occurred_at.as_ref());
        match &event.body {
            Some(Body::MessageReceived(m)) => {
                received.insert(m.message_id.clone(), at);
            }
            Some(Body::MessageRouted(r)) => {
                if let Some(start) = received.get(&r.message_id) {
                    latencies.push((at - *start).to_std().unwrap_or_default());
                }
            }
            _ => {}
        }
    }
    Ok(latencies)
}

fn report(
    messages: usize,
    failed: usize,
    submit_time: Duration,
    total: Duration,
    mut latencies: Vec<Duration>,
) {
    latencies.sort();
    let percentile =
        |p: f64| latencies.get(((latencies.len() as f64 - 1.0) * p) as usize).copied().unwrap_or_default();
    println!(
        "message path: {messages} messages ({failed} refused) submitted over gRPC in {:.2} s ({:.0}/s, 32 in flight); \
         all routed after {:.2} s ({:.0} messages/s end to end)",
        submit_time.as_secs_f64(),
        messages as f64 / submit_time.as_secs_f64(),
        total.as_secs_f64(),
        messages as f64 / total.as_secs_f64(),
    );
    println!(
        "submission to routing decision: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(0.5).as_secs_f64() * 1000.0,
        percentile(0.99).as_secs_f64() * 1000.0,
        percentile(1.0).as_secs_f64() * 1000.0,
    );
}
