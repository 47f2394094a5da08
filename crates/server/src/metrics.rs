//! Metrics for operators: `/metrics` in Prometheus text on its own listener, and a tower layer
//! that counts and times every gRPC call by RPC and status code. Unknown paths are counted as
//! `unknown`, so that a caller cannot make up label values.

use std::{
    net::SocketAddr,
    pin::Pin,
    task::{Context, Poll},
    time::Instant,
};

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Serves `/metrics` on `address` until `shutdown`; returns the bound address (port 0 picks one).
/// An address that is only the default (`may_move`) gives way to a free port when taken, so that
/// several processes on one host start without each being told a port.
pub async fn serve(
    address: SocketAddr,
    may_move: bool,
    shutdown: CancellationToken,
) -> anyhow::Result<SocketAddr> {
    switchboard_telemetry::metrics::install_recorder();
    let listener = match TcpListener::bind(address).await {
        Ok(listener) => listener,
        Err(error) if may_move => {
            let listener = TcpListener::bind(SocketAddr::new(address.ip(), 0)).await?;
            tracing::warn!(default = %address, %error, "the default metrics port is taken (another process on this host?): serving metrics on a free port; set SWITCHBOARD_METRICS_ADDR to choose one");
            listener
        }
        Err(error) => {
            return Err(error).with_context(|| {
                format!("cannot listen for metrics on {address} (SWITCHBOARD_METRICS_ADDR)")
            });
        }
    };
    let bound = listener.local_addr()?;
    let app = axum::Router::new().route("/metrics", axum::routing::get(render));
    tokio::spawn(async move {
        let served = axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned()).await;
        if let Err(error) = served {
            tracing::warn!(%error, "the metrics listener stopped");
        }
    });
    tracing::info!(address = %bound, "serving metrics");
    Ok(bound)
}

async fn render() -> impl axum::response::IntoResponse {
    let text = switchboard_telemetry::metrics::render().unwrap_or_default();
    ([(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

/// Counts and times gRPC calls (`switchboard_grpc_requests_total`,
/// `switchboard_grpc_request_duration_seconds`).
#[derive(Debug, Clone, Copy, Default)]
pub struct GrpcMetricsLayer;

impl<S> tower::Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcMetrics { inner }
    }
}

#[derive(Debug, Clone)]
pub struct GrpcMetrics<S> {
    inner: S,
}

type Answer<R, E> = Pin<Box<dyn Future<Output = Result<http::Response<R>, E>> + Send>>;

impl<S, B, R> tower::Service<http::Request<B>> for GrpcMetrics<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = Answer<R, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let rpc = rpc_of(request.uri().path());
        let started = Instant::now();
        let answer = self.inner.call(request);
        Box::pin(async move {
            let answer = answer.await;
            let code = match &answer {
                Ok(response) => code_of(response.headers()),
                Err(_) => "UNKNOWN",
            };
            metrics::counter!("switchboard_grpc_requests_total", "rpc" => rpc.clone(), "code" => code)
                .increment(1);
            metrics::histogram!("switchboard_grpc_request_duration_seconds", "rpc" => rpc)
                .record(started.elapsed().as_secs_f64());
            answer
        })
    }
}

/// The RPC's path when it is one this server knows, else `unknown`.
fn rpc_of(path: &str) -> String {
    if switchboard_auth::access_of(path).is_some() { path.to_string() } else { "unknown".into() }
}

/// The status of a unary answer: in the headers when it failed (trailers-only), else OK.
fn code_of(headers: &http::HeaderMap) -> &'static str {
    let code = headers.get("grpc-status").and_then(|value| value.to_str().ok()).and_then(|v| v.parse().ok());
    match code.unwrap_or(0) {
        0 => "OK",
        1 => "CANCELLED",
        2 => "UNKNOWN",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        6 => "ALREADY_EXISTS",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        9 => "FAILED_PRECONDITION",
        10 => "ABORTED",
        11 => "OUT_OF_RANGE",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        15 => "DATA_LOSS",
        16 => "UNAUTHENTICATED",
        _ => "UNKNOWN",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_rpcs_name_a_series() {
        assert_eq!(
            rpc_of("/switchboard.analytics.v1.Analytics/GetReport"),
            "/switchboard.analytics.v1.Analytics/GetReport"
        );
        assert_eq!(rpc_of("/made.up.Service/Anything"), "unknown");
        let mut headers = http::HeaderMap::new();
        assert_eq!(code_of(&headers), "OK");
        headers.insert("grpc-status", http::HeaderValue::from_static("16"));
        assert_eq!(code_of(&headers), "UNAUTHENTICATED");
    }
}
