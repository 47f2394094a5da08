//! Prometheus metrics for operators: one recorder per process (the `metrics` facade the crates
//! record through), rendered as Prometheus text. Every metric is described here, with its unit
//! in its name (`_seconds`, `_total`); durations are histograms with fixed buckets.

use std::sync::OnceLock;

use ::metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Buckets of every `_seconds` histogram: 1 ms to 60 s.
const SECONDS: &[f64] =
    &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// The process's metrics as Prometheus text; `None` when another recorder was installed first
/// (the first call installs this one).
pub fn render() -> Option<String> {
    RECORDER.get_or_init(install).as_ref().map(PrometheusHandle::render)
}

/// Installs the recorder now, so that what happens before the first scrape is counted.
pub fn install_recorder() -> bool {
    RECORDER.get_or_init(install).is_some()
}

fn install() -> Option<PrometheusHandle> {
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS)
        .ok()?
        .build_recorder();
    let handle = recorder.handle();
    ::metrics::set_global_recorder(recorder).ok()?;
    describe();
    Some(handle)
}

fn describe() {
    describe_counter!("switchboard_grpc_requests_total", "gRPC calls answered, by RPC and status code.");
    describe_histogram!(
        "switchboard_grpc_request_duration_seconds",
        Unit::Seconds,
        "Time to answer a gRPC call, by RPC."
    );
    describe_counter!(
        "switchboard_events_handled_total",
        "Bus messages a consumer handled, by consumer and outcome (ack, retry, dead_letter, held, superseded)."
    );
    describe_histogram!(
        "switchboard_handler_duration_seconds",
        Unit::Seconds,
        "Time a consumer's handler took for one message, by consumer."
    );
    describe_histogram!(
        "switchboard_consumer_wait_seconds",
        Unit::Seconds,
        "Time from a message stored in its stream to its consumer's handler (or projection's batch) starting on it, first deliveries only, by consumer or projection (the server's clock against the service's)."
    );
    describe_gauge!(
        "switchboard_consumer_pending_messages",
        "Messages the server still held for a consumer or projection when it last took one: its lag."
    );
    describe_gauge!(
        "switchboard_consumer_last_handled_timestamp_seconds",
        Unit::Seconds,
        "When a consumer or projection last handled a message (Unix time): lag above zero with an old timestamp is a stall."
    );
    describe_counter!(
        "switchboard_projection_events_applied_total",
        "Events a projection applied to its read model, by projection."
    );
    describe_histogram!(
        "switchboard_projection_batch_duration_seconds",
        Unit::Seconds,
        "Time a projection took to apply one batch, by projection."
    );
    describe_counter!(
        "switchboard_bus_connection_events_total",
        "What happened to a NATS connection, by event (connected, disconnected, slow_consumer, server_error, client_error, lame_duck_mode, draining, closed)."
    );
    describe_counter!(
        "switchboard_dead_letters_total",
        "Messages set aside in the dead-letter stream, by consumer."
    );
    describe_counter!(
        "switchboard_deliveries_total",
        "Replies and notifications the notifier finished, by outcome (delivered, failed) and destination."
    );
    describe_counter!("switchboard_inbound_messages_total", "Customer messages intake accepted, by channel.");
    describe_counter!(
        "switchboard_sla_breaches_total",
        "SLA targets breached, by target (first_response, next_response, resolution)."
    );
}
