//! The channels' HTTP listener, hardened for the open internet: a cap on connections, a deadline
//! for request headers (which also closes idle keep-alive connections), a deadline for each
//! request (body and answer), and a per-client-address rate limit answered with 429 and
//! `Retry-After`. Behind trusted proxies the client is the last untrusted `X-Forwarded-For` hop.
//! Files served from memory (the console's page and scripts, the widget's script) are outside
//! the rate: one page load asks for dozens of them at once, and each costs less than its count.

use std::{
    convert::Infallible,
    net::{IpAddr, SocketAddr},
    num::NonZeroU32,
    sync::Arc,
    time::Duration,
};

use axum::{
    Router,
    body::Body,
    extract::State,
    middleware::{self, Next},
    response::IntoResponse,
};
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
    /// Open connections at once, and from one client; more are answered 503 and closed.
    pub max_connections: usize,
    pub max_per_client: usize,
    /// Time to send a request's headers, and the longest a kept-alive connection idles.
    pub header_timeout: Duration,
    /// Time to send the body and get the answer.
    pub request_timeout: Duration,
    /// Requests per second from one client address, and the burst allowed above it.
    pub per_client_rate: NonZeroU32,
    pub per_client_burst: NonZeroU32,
    /// Signed webhook requests per second for one site (a tenant's webhooks and inbound email
    /// posts together), and the burst above it: one tenant's flood cannot take the listener.
    pub per_site_rate: NonZeroU32,
    pub per_site_burst: NonZeroU32,
    /// Proxies whose `X-Forwarded-For` is believed (e.g. the load balancer's network).
    pub trusted_proxies: Vec<Network>,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            max_per_client: 64,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            per_client_rate: NonZeroU32::new(20).unwrap_or(NonZeroU32::MIN),
            per_client_burst: NonZeroU32::new(60).unwrap_or(NonZeroU32::MIN),
            per_site_rate: NonZeroU32::new(100).unwrap_or(NonZeroU32::MIN),
            per_site_burst: NonZeroU32::new(200).unwrap_or(NonZeroU32::MIN),
            trusted_proxies: Vec::new(),
        }
    }
}

/// The client a request came from, as the listener found it; handlers may read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

/// What limits count a client by: its address, or for IPv6 its /64 (one subscriber's network,
/// whose addresses are theirs to pick).
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
            let network = u128::from(v6) & (u128::MAX << 64);
            IpAddr::V6(std::net::Ipv6Addr::from(network))
        }
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Connections per client: a count per client key, given back when a connection ends.
#[derive(Clone, Default)]
pub(crate) struct PerClient {
    counts: Arc<std::sync::Mutex<std::collections::HashMap<IpAddr, usize>>>,
}

/// A client's place, held while its connection lives.
pub(crate) struct Place {
    key: IpAddr,
    counts: Arc<std::sync::Mutex<std::collections::HashMap<IpAddr, usize>>>,
}

impl PerClient {
    /// A place for `ip` if it holds fewer than `max`.
    pub fn take(&self, ip: IpAddr, max: usize) -> Option<Place> {
        let key = client_key(ip);
        let mut counts = self.counts.lock().ok()?;
        let count = counts.entry(key).or_default();
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(Place { key, counts: self.counts.clone() })
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        if let Ok(mut counts) = self.counts.lock()
            && let Some(count) = counts.get_mut(&self.key)
        {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

/// What the listener serves: `metered` routes count against the per-client request rate,
/// `files` (answered from memory) do not. Both hold to the connection caps and deadlines.
#[derive(Debug, Default)]
pub struct Routes {
    pub metered: Router,
    pub files: Router,
}

type Limiter = Arc<DefaultKeyedRateLimiter<IpAddr>>;

struct Shared {
    router: Router,
    limits: HttpLimits,
}

/// Serves `routes` on `listener` until `shutdown`, within `limits`.
pub async fn serve(listener: TcpListener, routes: Routes, limits: HttpLimits, shutdown: CancellationToken) {
    let quota = Quota::per_second(limits.per_client_rate).allow_burst(limits.per_client_burst);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let max_per_client = limits.max_per_client.max(1);
    let limiter: Limiter = Arc::new(RateLimiter::keyed(quota));
    // Merged into the files, so that the merged router keeps the metered fallback: a path
    // nothing serves is counted too (axum keeps the second router's default fallback).
    let router =
        routes.files.merge(routes.metered.layer(middleware::from_fn_with_state(limiter.clone(), meter)));
    let shared = Arc::new(Shared { router, limits });
    let per_client = PerClient::default();
    spawn_pruning(limiter, shutdown.clone());
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
        let place = per_client.take(peer.ip(), max_per_client);
        match (slots.clone().try_acquire_owned(), place) {
            (Ok(slot), Some(place)) => {
                let (shared, shutdown) = (shared.clone(), shutdown.clone());
                tokio::spawn(async move {
                    connection(stream, peer, shared, shutdown).await;
                    drop((slot, place));
                });
            }
            _ => {
                tokio::spawn(refuse_busy(stream));
            }
        }
    }
}

/// The rate limiter forgets clients that have been quiet, so its memory stays bounded.
fn spawn_pruning(limiter: Limiter, shutdown: CancellationToken) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = every.tick() => limiter.retain_recent(),
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

/// Answers within the request deadline, knowing the client (see [`ClientAddress`]).
async fn handle(mut request: Request<Body>, peer: SocketAddr, shared: &Shared) -> Response<Body> {
    let client = client_address(peer.ip(), request.headers(), &shared.limits.trusted_proxies);
    request.extensions_mut().insert(ClientAddress(client));
    match tokio::time::timeout(shared.limits.request_timeout, shared.router.clone().oneshot(request)).await {
        Ok(Ok(response)) => response,
        Ok(Err(never)) => match never {},
        Err(_) => (StatusCode::REQUEST_TIMEOUT, "the request took too long").into_response(),
    }
}

/// Counts a metered request against its client's rate: past it, 429.
async fn meter(State(limiter): State<Limiter>, request: Request<Body>, next: Next) -> Response<Body> {
    let client = request.extensions().get::<ClientAddress>().map(|found| client_key(found.0));
    // `handle` always says who the client is; without it, all such requests share one budget.
    let key = client.unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    match over_rate(&limiter, &key) {
        Some(refused) => refused,
        None => next.run(request).await,
    }
}

/// The 429 that says when `key` may try again, if `limiter` refuses it now.
pub(crate) fn over_rate<K: Clone + std::hash::Hash + Eq>(
    limiter: &DefaultKeyedRateLimiter<K>,
    key: &K,
) -> Option<Response<Body>> {
    let not_until = limiter.check_key(key).err()?;
    Some(too_many(not_until.wait_time_from(limiter.clock().now())))
}

/// 429 with the whole seconds until the client may try again.
pub(crate) fn too_many(wait: Duration) -> Response<Body> {
    retry_after((StatusCode::TOO_MANY_REQUESTS, "too many requests; slow down").into_response(), wait)
}

/// `response` telling the client when to try again, in whole seconds (at least one).
pub(crate) fn retry_after(mut response: Response<Body>, wait: Duration) -> Response<Body> {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    response.headers_mut().insert(http::header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    response
}

/// The client: the peer, or behind trusted proxies the last `X-Forwarded-For` hop that is not one.
fn client_address(peer: IpAddr, headers: &http::HeaderMap, trusted: &[Network]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|network| network.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let hops: Vec<Option<IpAddr>> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(hop_address)
        .collect();
    // From the nearest hop outwards: the first untrusted one is the client. A hop that is not an
    // address ends the walk at the last trusted one (what lies further out cannot be believed).
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        match hop {
            Some(hop) if is_trusted(hop) => client = hop,
            Some(hop) => return hop,
            None => return client,
        }
    }
    client
}

/// An `X-Forwarded-For` hop: an address, maybe with a port (`1.2.3.4:80`, `[::1]:80`).
fn hop_address(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    hop.parse::<SocketAddr>().ok().map(|address| address.ip())
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
        let mut ported = http::HeaderMap::new();
        ported.insert("x-forwarded-for", HeaderValue::from_static("6.6.6.6, 203.0.113.9:4431"));
        assert_eq!(client_address(ip("10.2.2.2"), &ported, &trusted), ip("203.0.113.9"), "a hop with a port");
        let mut garbled = http::HeaderMap::new();
        garbled.insert("x-forwarded-for", HeaderValue::from_static("6.6.6.6, unknown, 10.1.1.1"));
        assert_eq!(
            client_address(ip("10.2.2.2"), &garbled, &trusted),
            ip("10.1.1.1"),
            "stops at a garbled hop"
        );
    }

    #[test]
    fn ipv6_clients_count_by_their_64_and_places_are_given_back() {
        let ip = |text: &str| text.parse::<IpAddr>().expect("ip");
        assert_eq!(client_key(ip("2001:db8:1:2:aaaa::1")), client_key(ip("2001:db8:1:2:bbbb::9")));
        assert_ne!(client_key(ip("2001:db8:1:2::1")), client_key(ip("2001:db8:1:3::1")));
        assert_eq!(client_key(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
        let places = PerClient::default();
        let first = places.take(ip("192.0.2.1"), 1).expect("a place");
        assert!(places.take(ip("192.0.2.1"), 1).is_none());
        drop(first);
        assert!(places.take(ip("192.0.2.1"), 1).is_some());
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let response = too_many(Duration::from_millis(1_200));
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[http::header::RETRY_AFTER], "2");
    }
}
