//! One telemetry set-up for every binary: structured logs filtered by `RUST_LOG`, W3C trace context
//! propagation, and an OTLP trace exporter configured by the standard `OTEL_*` variables
//! (on when `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set); and
//! Prometheus metrics ([`metrics`]).

#![forbid(unsafe_code)]

pub mod metrics;

use opentelemetry::{global, trace::TracerProvider as _};
use opentelemetry_sdk::{Resource, propagation::TraceContextPropagator, trace::SdkTracerProvider};
use tracing_subscriber::{EnvFilter, Layer, layer::SubscriberExt, util::SubscriberInitExt};

/// Flushes and stops the trace exporter when dropped.
pub struct Guard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(error) = provider.shutdown()
        {
            eprintln!("telemetry: trace exporter shutdown failed: {error}");
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot build the OTLP exporter: {0}")]
    Exporter(String),
    #[error("a global tracing subscriber is already set")]
    AlreadySet,
}

/// Installs logging and tracing. `SWITCHBOARD_LOG_FORMAT=json` logs JSON lines.
pub fn init(service_name: &str) -> Result<Guard, Error> {
    global::set_text_map_propagator(TraceContextPropagator::new());
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("SWITCHBOARD_LOG_FORMAT").is_ok_and(|format| format == "json");
    let fmt = if json {
        tracing_subscriber::fmt::layer().json().with_writer(std::io::stderr).boxed()
    } else {
        tracing_subscriber::fmt::layer().with_writer(std::io::stderr).boxed()
    };
    let provider = otlp_enabled().then(|| provider(service_name)).transpose()?;
    let otel = provider.as_ref().map(|provider| {
        global::set_tracer_provider(provider.clone());
        tracing_opentelemetry::layer().with_tracer(provider.tracer("switchboard"))
    });
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .try_init()
        .map_err(|_| Error::AlreadySet)?;
    Ok(Guard { provider })
}

fn otlp_enabled() -> bool {
    let set = |name| std::env::var(name).is_ok_and(|value| !value.is_empty());
    let disabled = std::env::var("OTEL_SDK_DISABLED").is_ok_and(|value| value == "true");
    !disabled && (set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
}

fn provider(service_name: &str) -> Result<SdkTracerProvider, Error> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .build()
        .map_err(|error| Error::Exporter(error.to_string()))?;
    let service_name = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| service_name.into());
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(service_name).build())
        .build())
}
