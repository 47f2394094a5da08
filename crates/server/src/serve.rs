//! `switchboard serve`: connect, start services, serve gRPC with health and reflection, and
//! shut down in order (stop accepting calls, let consumers finish and ack, flush the bus).

use std::{str::FromStr as _, time::Duration};

use anyhow::Context as _;
use sqlx::{
    PgPool,
    postgres::{PgConnectOptions, PgPoolOptions},
};
use switchboard_bus::Bus;
use switchboard_projection::{Deps, Task, TaskResult};
use tokio::{net::TcpListener, task::JoinSet};
use tokio_util::sync::CancellationToken;
use tonic::transport::server::TcpIncoming;
use tonic_health::{ServingStatus, server::HealthReporter};

use crate::{Config, config::redacted, connection::DatabaseLimits, mount::mount};

/// Connects to NATS (refusing servers older than 2.10) and PostgreSQL, bringing the streams to
/// `config`'s settings.
pub async fn connect(config: &Config) -> anyhow::Result<Deps> {
    with_bus(config, Bus::connect(config.bus()).await?).await
}

/// [`connect`] for operator commands: streams that exist keep their settings.
pub async fn connect_existing(config: &Config) -> anyhow::Result<Deps> {
    with_bus(config, Bus::connect_existing(config.bus()).await?).await
}

async fn with_bus(config: &Config, bus: Bus) -> anyhow::Result<Deps> {
    let pool = pool(&config.database_url, config.database)
        .await
        .with_context(|| format!("cannot connect to PostgreSQL at {}", redacted(&config.database_url)))?;
    Ok(Deps { bus, pool })
}

/// A pool whose every session carries the statement and lock timeouts.
async fn pool(url: &str, limits: DatabaseLimits) -> Result<PgPool, sqlx::Error> {
    let millis = |limit: Duration| format!("{}ms", limit.as_millis());
    let options = PgConnectOptions::from_str(url)?.options([
        ("statement_timeout", millis(limits.statement_timeout)),
        ("lock_timeout", millis(limits.lock_timeout)),
    ]);
    // No ping before each use (a round trip per statement): a connection lost meanwhile fails
    // its statement, which the handlers and projections treat as the database's trouble and try
    // again, and the pool replaces it.
    PgPoolOptions::new()
        .max_connections(limits.pool_size)
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire(false)
        .connect_with(options)
        .await
}

/// Runs the configured services on `listener` until `shutdown` is cancelled or a service fails;
/// the channels listen on `config.http_addr` and `config.smtp_addr`.
pub async fn serve(config: Config, listener: TcpListener, shutdown: CancellationToken) -> anyhow::Result<()> {
    let channels = switchboard_channels::Listeners {
        http: bind(config.http_addr, "http").await?,
        smtp: bind(config.smtp_addr, "smtp").await?,
        ..Default::default()
    };
    Box::pin(serve_with(config, listener, channels, shutdown)).await
}

async fn bind(address: Option<std::net::SocketAddr>, what: &str) -> anyhow::Result<Option<TcpListener>> {
    let Some(address) = address else { return Ok(None) };
    let listener =
        TcpListener::bind(address).await.with_context(|| format!("cannot listen for {what} on {address}"))?;
    Ok(Some(listener))
}

/// [`serve`] with the channels' listeners already bound (tests bind them on free ports).
pub async fn serve_with(
    config: Config,
    listener: TcpListener,
    channels: switchboard_channels::Listeners,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let local = listener.local_addr()?;
    let keys = config.auth_keys.clone().context(
        "no auth key: set SWITCHBOARD_AUTH_KEY (at least 32 bytes) or SWITCHBOARD_AUTH_KEY_FILE; every process of a cluster shares it",
    )?;
    if let Some(address) = config.metrics_addr {
        crate::metrics::serve(address, !config.metrics_addr_chosen, shutdown.clone()).await?;
    }
    let deps = connect(&config).await?;
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_service_status("", ServingStatus::NotServing).await;
    let work = CancellationToken::new();
    let (revocations, following) = switchboard_auth::Revocations::follow(&deps.bus, work.clone()).await?;
    let channels = with_console(channels, &config, local, &shutdown)?;
    let mut mounted = mount(&config, &deps, local, Some(channels), &work, &shutdown).await?;
    mounted.tasks.push(tokio::spawn(async move {
        following.await;
        Ok(())
    }));
    mounted.routes.add_service(switchboard_auth::AuthApi::server(
        keys.clone(),
        deps.bus.clone(),
        revocations.clone(),
    ));
    for name in &mounted.names {
        reporter.set_service_status(name, ServingStatus::Serving).await;
    }
    reporter.set_service_status("", ServingStatus::Serving).await;
    let mut routes = mounted.routes;
    routes.add_service(health);
    add_reflection(&mut routes)?;
    let server = builder(config.tls.as_ref())?
        .layer(crate::metrics::GrpcMetricsLayer)
        .layer(switchboard_auth::Guard::new(keys, revocations))
        .add_routes(routes.routes())
        .serve_with_incoming_shutdown(incoming(listener), shutdown.clone().cancelled_owned());
    let server = tokio::spawn(server);
    tracing::info!(address = %local, services = ?mounted.names, "serving grpc");
    let mut tasks: JoinSet<TaskResult> = JoinSet::new();
    for task in mounted.tasks {
        tasks.spawn(flatten(task));
    }
    let failure = supervise(&mut tasks, &shutdown).await;
    stop(&reporter, &mounted.names, &shutdown).await;
    server.await.context("grpc server task")?.context("grpc server")?;
    tracing::info!("grpc server stopped; finishing the work in hand");
    work.cancel();
    drain(&mut tasks, config.shutdown_grace).await;
    deps.bus.flush().await?;
    deps.pool.close().await;
    tracing::info!("stopped");
    failure.map_or(Ok(()), Err)
}

/// The web console on the channels' HTTP listener. It calls the desk's endpoint (this process
/// unless configured) as the signed-in person; its live streams end as soon as shutdown begins,
/// so that neither listener waits on them.
fn with_console(
    mut channels: switchboard_channels::Listeners,
    config: &Config,
    local: std::net::SocketAddr,
    shutdown: &CancellationToken,
) -> anyhow::Result<switchboard_channels::Listeners> {
    let own = || crate::mount::own_endpoint(config, local);
    let console = switchboard_console::Config {
        endpoint: config.desk_endpoint.clone().unwrap_or_else(own),
        analytics_endpoint: config.analytics_endpoint.clone().unwrap_or_else(own),
        knowledge_endpoint: config.knowledge_endpoint.clone().unwrap_or_else(own),
        tls: config.tls.as_ref().map(crate::ServerTls::peer),
    };
    let routes = switchboard_console::routes(&console, shutdown.clone()).map_err(anyhow::Error::msg)?;
    channels.routes = channels.routes.merge(routes);
    channels.files = channels.files.merge(switchboard_console::files());
    Ok(channels)
}

/// The accepted connections, with `TCP_NODELAY`: a unary answer is written as headers, data and
/// trailers, and with Nagle's algorithm the later writes wait for the client's delayed ACK
/// (about 40 ms on Linux) on every call. The builder's `tcp_nodelay` does not apply to a
/// listener bound beforehand, so it is set here.
fn incoming(listener: TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener).with_nodelay(Some(true))
}

/// The gRPC server, speaking TLS when configured; each call is a span in its caller's trace.
fn builder(tls: Option<&crate::ServerTls>) -> anyhow::Result<tonic::transport::Server> {
    let builder = tonic::transport::Server::builder().trace_fn(call_span);
    let Some(tls) = tls else { return Ok(builder) };
    let identity = tonic::transport::Identity::from_pem(&tls.certificate, &tls.key);
    let config = tonic::transport::ServerTlsConfig::new().identity(identity);
    builder.tls_config(config).context("the TLS certificate or key is not usable")
}

/// A call's span, the child of the span the caller sent in `traceparent` (if any). It names the
/// method only: the request's content stays out of traces.
fn call_span(request: &http::Request<()>) -> tracing::Span {
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    // Health checks (probes every few seconds) and reflection are not traced.
    let rpc = request.uri().path();
    if rpc.starts_with("/grpc.health.") || rpc.starts_with("/grpc.reflection.") {
        return tracing::Span::none();
    }
    let span = tracing::info_span!("grpc", rpc);
    let header =
        |name: &str| request.headers().get(name).and_then(|value| value.to_str().ok()).map(str::to_string);
    let _ = span.set_parent(switchboard_bus::extract_context_with(header));
    span
}

fn add_reflection(routes: &mut tonic::service::RoutesBuilder) -> anyhow::Result<()> {
    let builder = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(switchboard_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    routes.add_service(builder().build_v1()?);
    routes.add_service(builder().build_v1alpha()?);
    Ok(())
}

async fn flatten(task: Task) -> TaskResult {
    task.await.map_err(|error| format!("task panicked or was aborted: {error}"))?
}

/// Waits for shutdown; a task ending before it is a failure that shuts everything down.
async fn supervise(tasks: &mut JoinSet<TaskResult>, shutdown: &CancellationToken) -> Option<anyhow::Error> {
    tokio::select! {
        () = shutdown.cancelled() => None,
        Some(ended) = tasks.join_next() => {
            let error = match ended {
                Ok(Ok(())) => anyhow::anyhow!("a service task stopped unexpectedly"),
                Ok(Err(error)) => anyhow::anyhow!("a service task failed: {error}"),
                Err(error) => anyhow::anyhow!("a service task panicked: {error}"),
            };
            tracing::error!(%error, "shutting down");
            Some(error)
        }
    }
}

async fn stop(reporter: &HealthReporter, names: &[&'static str], shutdown: &CancellationToken) {
    for name in names.iter().copied().chain([""]) {
        reporter.set_service_status(name, ServingStatus::NotServing).await;
    }
    shutdown.cancel();
}

/// Lets every task finish its work in hand, for at most `grace`.
async fn drain(tasks: &mut JoinSet<TaskResult>, grace: Duration) {
    let drained = tokio::time::timeout(grace, async {
        while let Some(ended) = tasks.join_next().await {
            if let Ok(Err(error)) = ended {
                tracing::warn!(%error, "task ended with an error during shutdown");
            }
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!(remaining = tasks.len(), "grace period over; aborting remaining tasks");
        tasks.abort_all();
    }
}
