//! The channels' HTTP listener, hardened for the open internet: a cap on connections, a deadline
//! for request headers (which also closes idle keep-alive connections), a deadline for each
//! request (body and answer), and a per-client-address rate limit answered with 429 and
//! `Retry-After`. Behind trusted proxies the client is the last untrusted `X-Forwarded-For` hop.

use std::{
    convert::Infallible,
    net::{IpAddr, SocketAddr},
    num::NonZeroU32,
    sync::Arc,
    time::Duration,
};

use axum::{Router, body::Body, response::IntoResponse};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock as _};
use http::{HeaderValue, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{net::TcpListener, sync::Semaphore};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

use crate::outbound::Network;

/// What the HTTP listener allows.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// Open connections at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// Time to send a request's headers, and the longest a kept-alive connection idles.
    pub header_timeout: Duration,
    /// Time to send the body and get the answer.
    pub request_timeout: Duration,
    /// Requests per second from one client address, and the burst allowed above it.
    pub per_client_rate: NonZeroU32,
    pub per_client_burst: NonZeroU32,
    /// Proxies whose `X-Forwarded-For` is believed (e.g. the load balancer's network).
    pub trusted_proxies: Vec<Network>,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            per_client_rate: NonZeroU32::new(20).unwrap_or(NonZeroU32::MIN),
            per_client_burst: NonZeroU32::new(60).unwrap_or(NonZeroU32::MIN),
            trusted_proxies: Vec::new(),
        }
    }
}

/// The client a request came from, as the listener found it; handlers may read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

struct Shared {
    router: Router,
    limits: HttpLimits,
    limiter: DefaultKeyedRateLimiter<IpAddr>,
}

/// Serves `router` on `listener` until `shutdown`, within `limits`.
pub async fn serve(listener: TcpListener, router: Router, limits: HttpLimits, shutdown: CancellationToken) {
    let quota = Quota::per_second(limits.per_client_rate).allow_burst(limits.per_client_burst);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let shared = Arc::new(Shared { router, limits, limiter: RateLimiter::keyed(quota) });
    spawn_pruning(shared.clone(), shutdown.clone());
    loop {
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "http accept failed");
                    continue;
                }
            },
        };
        match slots.clone().try_acquire_owned() {
            Ok(slot) => {
                let (shared, shutdown) = (shared.clone(), shutdown.clone());
                tokio::spawn(async move {
                    connection(stream, peer, shared, shutdown).await;
                    drop(slot);
                });
            }
            Err(_) => {
                tokio::spawn(refuse_busy(stream));
            }
        }
    }
}

/// The rate limiter forgets clients that have been quiet, so its memory stays bounded.
fn spawn_pruning(shared: Arc<Shared>, shutdown: CancellationToken) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = every.tick() => shared.limiter.retain_recent(),
            }
        }
    });
}

async fn refuse_busy(mut stream: tokio::net::TcpStream) {
    use tokio::io::AsyncWriteExt as _;
    let answer = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(answer)).await;
}

async fn connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) {
    let header_timeout = shared.limits.header_timeout;
    let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
        let shared = shared.clone();
        async move { Ok::<_, Infallible>(handle(request.map(Body::new), peer, &shared).await) }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(header_timeout);
    let connection = builder.serve_connection(TokioIo::new(stream), service).with_upgrades();
    tokio::pin!(connection);
    let ended = tokio::select! {
        ended = connection.as_mut() => ended,
        () = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = ended {
        tracing::debug!(%error, "http connection ended");
    }
}

/// Rate-limits, then answers within the request deadline.
async fn handle(mut request: Request<Body>, peer: SocketAddr, shared: &Shared) -> Response<Body> {
    let client = client_address(peer.ip(), request.headers(), &shared.limits.trusted_proxies);
    if let Err(not_until) = shared.limiter.check_key(&client) {
        return too_many(not_until.wait_time_from(shared.limiter.clock().now()));
    }
    request.extensions_mut().insert(ClientAddress(client));
    match tokio::time::timeout(shared.limits.request_timeout, shared.router.clone().oneshot(request)).await {
        Ok(Ok(response)) => response,
        Ok(Err(never)) => match never {},
        Err(_) => (StatusCode::REQUEST_TIMEOUT, "the request took too long").into_response(),
    }
}

/// 429 with the whole seconds until the client may try again.
pub(crate) fn too_many(wait: Duration) -> Response<Body> {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut response = (StatusCode::TOO_MANY_REQUESTS, "too many requests; slow down").into_response();
    response.headers_mut().insert(http::header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    response
}

/// The client: the peer, or behind trusted proxies the last `X-Forwarded-For` hop that is not one.
fn client_address(peer: IpAddr, headers: &http::HeaderMap, trusted: &[Network]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|network| network.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|hop| hop.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    hops.into_iter().rev().find(|hop| !is_trusted(*hop)).unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_the_peer_unless_a_trusted_proxy_forwards() {
        let trusted: Vec<Network> = vec!["10.0.0.0/8".parse().expect("network")];
        let mut headers = http::HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("6.6.6.6, 203.0.113.9, 10.1.1.1"));
        let ip = |text: &str| text.parse::<IpAddr>().expect("ip");
        assert_eq!(client_address(ip("10.2.2.2"), &headers, &trusted), ip("203.0.113.9"));
        assert_eq!(
            client_address(ip("198.51.100.7"), &headers, &trusted),
            ip("198.51.100.7"),
            "untrusted peer"
        );
        assert_eq!(client_address(ip("10.2.2.2"), &http::HeaderMap::new(), &trusted), ip("10.2.2.2"));
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let response = too_many(Duration::from_millis(1_200));
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[http::header::RETRY_AFTER], "2");
    }
}
