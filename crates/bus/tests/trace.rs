//! W3C trace context travels with events: in the envelope, in the NATS headers, and into the span
//! of the handler that consumes them.

use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry_sdk::{propagation::TraceContextPropagator, trace::SdkTracerProvider};
use switchboard_bus::{Draft, extract_context};
use switchboard_proto::events::v1::{ArticleArchived, event::Body};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[test]
fn an_event_built_inside_a_traced_call_carries_its_trace() -> anyhow::Result<()> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let provider = SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    tracing::subscriber::with_default(subscriber, || {
        let mut incoming = async_nats::HeaderMap::new();
        incoming.insert("traceparent", TRACEPARENT);
        let span = tracing::info_span!("handle");
        let _ = span.set_parent(extract_context(Some(&incoming)));
        let _entered = span.enter();
        let body = Body::ArticleArchived(ArticleArchived { article_id: "a".into(), version: 1 });
        let event = Draft::new("", "a", body).build()?;
        assert!(
            event.traceparent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
            "{}",
            event.traceparent
        );
        assert_ne!(event.traceparent, TRACEPARENT, "a child span of the caller, not the caller itself");

        let mut outgoing = async_nats::HeaderMap::new();
        switchboard_bus::inject_context(&mut outgoing);
        let continued = extract_context(Some(&outgoing));
        assert_eq!(
            continued.span().span_context().trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        Ok(())
    })
}
