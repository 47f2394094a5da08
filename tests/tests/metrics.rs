//! Metrics for operators: a live process serves `/metrics` on `SWITCHBOARD_METRICS_ADDR`, with
//! gRPC calls by RPC and code, consumers' and projections' work and lag, inbound messages and
//! deliveries; and `promtool check metrics` (Prometheus's own linter) finds nothing to say.

mod common;

use std::{net::SocketAddr, time::Duration};

use anyhow::Context as _;
use common::{Backing, Cluster, message, submit, wait_for_event};
use switchboard_proto::events::v1::event::Body;

/// `/metrics` as the process serves it.
async fn scrape(address: SocketAddr) -> anyhow::Result<(String, String)> {
    let response = reqwest::get(format!("http://{address}/metrics")).await?;
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string();
    Ok((content_type, response.text().await?))
}

/// Scrapes until every one of `wanted` is in the text (the projections apply a moment after the
/// reply is out).
async fn scrape_until(address: SocketAddr, wanted: &[&str]) -> anyhow::Result<(String, String)> {
    let deadline = tokio::time::Instant::now() + common::WAIT;
    loop {
        let (content_type, text) = scrape(address).await?;
        let missing: Vec<&&str> = wanted.iter().filter(|line| !text.contains(**line)).collect();
        if missing.is_empty() {
            return Ok((content_type, text));
        }
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "missing {missing:?} in:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `promtool check metrics` on `text`: its exit status and what it said.
async fn promtool(text: &str) -> anyhow::Result<(bool, String)> {
    use tokio::io::AsyncWriteExt as _;
    let promtool = std::env::var("SWITCHBOARD_PROMTOOL").unwrap_or_else(|_| "promtool".into());
    let mut child = tokio::process::Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {promtool} (run `make env`)"))?;
    let mut stdin = child.stdin.take().context("promtool's stdin")?;
    stdin.write_all(text.as_bytes()).await?;
    drop(stdin);
    let output = child.wait_with_output().await?;
    let said =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    Ok((output.status.success(), said))
}

#[tokio::test]
async fn a_live_process_serves_metrics_that_promtool_finds_clean() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let metrics: SocketAddr = format!("127.0.0.1:{}", switchboard_testkit::free_port()?).parse()?;
    let cluster =
        Cluster::start(switchboard_server::Config { metrics_addr: Some(metrics), ..backing.config() })
            .await?;
    let bus = backing.bus().await?;

    common::publish_tracking_article_with(&cluster).await?;
    let submitted = submit(&cluster, message("kim", "Where is my order 12345?", "metrics-1")).await?;
    wait_for_event(&bus, "switchboard.events.>", |event| match &event.body {
        Some(Body::ReplyDelivered(delivered)) if delivered.conversation_id == submitted.conversation_id => {
            Some(())
        }
        _ => None,
    })
    .await?;
    let refused = switchboard_proto::intake::v1::intake_client::IntakeClient::new(
        common::connect(cluster.address, None).await?,
    )
    .submit_message(message("kim", "no token", "metrics-2"))
    .await;
    assert_eq!(refused.map_err(|status| status.code()).err(), Some(tonic::Code::Unauthenticated));

    let (content_type, text) = scrape_until(
        metrics,
        &[
            r#"switchboard_grpc_requests_total{rpc="/switchboard.intake.v1.Intake/SubmitMessage",code="OK"}"#,
            r#"switchboard_grpc_requests_total{rpc="/switchboard.intake.v1.Intake/SubmitMessage",code="UNAUTHENTICATED"}"#,
            "switchboard_grpc_request_duration_seconds_bucket{",
            r#"switchboard_inbound_messages_total{channel="web"} 1"#,
            r#"switchboard_events_handled_total{consumer="router",outcome="ack"}"#,
            "switchboard_handler_duration_seconds_bucket{",
            r#"switchboard_consumer_wait_seconds_bucket{consumer="router","#,
            r#"switchboard_consumer_wait_seconds_bucket{consumer="intake-projection","#,
            r#"switchboard_deliveries_total{outcome="delivered","#,
            r#"switchboard_projection_events_applied_total{projection="intake-projection"}"#,
            r#"switchboard_consumer_pending_messages{consumer="intake-projection"}"#,
            "switchboard_consumer_last_handled_timestamp_seconds{",
            r#"switchboard_bus_connection_events_total{event="connected"}"#,
        ],
    )
    .await?;
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let (clean, said) = promtool(&text).await?;
    assert!(clean && said.trim().is_empty(), "promtool check metrics: {said}\n{text}");
    cluster.stop().await
}
