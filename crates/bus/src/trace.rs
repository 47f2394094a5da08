//! W3C trace context carried in NATS headers and in the event envelope.

use std::collections::HashMap;

use async_nats::HeaderMap;
use opentelemetry::{Context, global};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// `traceparent` and `tracestate` of the current span; empty when tracing is off. gRPC clients
/// send them as metadata, events carry them in the envelope and the headers.
pub fn current_context() -> (String, String) {
    let mut carrier = HashMap::new();
    let context = tracing::Span::current().context();
    global::get_text_map_propagator(|propagator| propagator.inject_context(&context, &mut carrier));
    (carrier.remove("traceparent").unwrap_or_default(), carrier.remove("tracestate").unwrap_or_default())
}

/// Adds the current span's trace context to outgoing headers.
pub fn inject_context(headers: &mut HeaderMap) {
    let (traceparent, tracestate) = current_context();
    if !traceparent.is_empty() {
        headers.insert("traceparent", traceparent.as_str());
    }
    if !tracestate.is_empty() {
        headers.insert("tracestate", tracestate.as_str());
    }
}

/// The trace context an incoming message carries, to parent the span that handles it.
pub fn extract_context(headers: Option<&HeaderMap>) -> Context {
    extract_context_with(|name| {
        headers.and_then(|headers| headers.get(name)).map(|value| value.as_str().to_string())
    })
}

/// The trace context of any carrier (gRPC metadata, HTTP headers) that `header` reads.
pub fn extract_context_with(header: impl Fn(&str) -> Option<String>) -> Context {
    let mut carrier = HashMap::new();
    for name in ["traceparent", "tracestate"] {
        if let Some(value) = header(name) {
            carrier.insert(name.to_string(), value);
        }
    }
    global::get_text_map_propagator(|propagator| propagator.extract(&carrier))
}
