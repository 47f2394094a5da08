//! `switchboard replay <service>`: drop a service's read model and rebuild it from the stream.

use std::sync::Arc;

use switchboard_projection::{Deps, Projection, ReplayReport};

use crate::{Config, Service, serve::connect_existing};

/// Events applied per transaction during a replay.
const REPLAY_BATCH: usize = 1000;

/// Rebuilds `service`'s read model from the whole stream; refuses while a running instance
/// consumes it.
pub async fn replay(config: &Config, service: Service) -> anyhow::Result<ReplayReport> {
    let report = project(config, service, Mode::Rebuild).await?;
    if let (Service::Knowledge, Some(directory)) = (service, &config.index_dir) {
        match std::fs::remove_dir_all(directory) {
            Ok(()) => {
                tracing::info!(directory = %directory.display(), "search index removed; the service rebuilds it at start")
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                return Err(anyhow::anyhow!(
                    "cannot remove the search index {}: {error}",
                    directory.display()
                ));
            }
        }
    }
    tracing::info!(
        service = service.name(),
        events = report.events,
        checkpoint = report.checkpoint,
        "replay finished"
    );
    Ok(report)
}

/// Applies what the stream holds beyond `service`'s checkpoint, as the running service would.
pub async fn catch_up(config: &Config, service: Service) -> anyhow::Result<ReplayReport> {
    project(config, service, Mode::CatchUp).await
}

/// The tables of `service`'s read model, as its projection names them.
pub fn tables(service: Service) -> &'static [&'static str] {
    match service {
        Service::Intake => switchboard_intake::projection().tables(),
        Service::Classifier => switchboard_classifier::projection().tables(),
        Service::Router => switchboard_router::projection().tables(),
        Service::Knowledge => switchboard_knowledge::projection().tables(),
        Service::Notifier => switchboard_notifier::projection().tables(),
        Service::Analytics => switchboard_analytics::projection().tables(),
        Service::Desk => switchboard_desk::projection().tables(),
        Service::Channels => switchboard_channels::projection().tables(),
    }
}

#[derive(Clone, Copy)]
enum Mode {
    Rebuild,
    CatchUp,
}

async fn project(config: &Config, service: Service, mode: Mode) -> anyhow::Result<ReplayReport> {
    let deps = connect_existing(config).await?;
    let pool = deps.pool.clone();
    let report = match service {
        Service::Intake => {
            switchboard_intake::migrate_schema(&pool).await?;
            run_with(deps, switchboard_intake::projection(), mode).await?
        }
        Service::Classifier => {
            switchboard_classifier::migrate_schema(&pool).await?;
            run_with(deps, switchboard_classifier::projection(), mode).await?
        }
        Service::Router => {
            switchboard_router::migrate_schema(&pool).await?;
            run_with(deps, switchboard_router::projection(), mode).await?
        }
        Service::Knowledge => {
            switchboard_knowledge::migrate_schema(&pool).await?;
            run_with(deps, switchboard_knowledge::projection(), mode).await?
        }
        Service::Notifier => {
            switchboard_notifier::migrate_schema(&pool).await?;
            run_with(deps, switchboard_notifier::projection(), mode).await?
        }
        Service::Analytics => {
            switchboard_analytics::migrate_schema(&pool).await?;
            run_with(deps, switchboard_analytics::projection(), mode).await?
        }
        Service::Desk => {
            switchboard_desk::migrate_schema(&pool).await?;
            run_with(deps, switchboard_desk::projection(), mode).await?
        }
        Service::Channels => {
            switchboard_channels::migrate_schema(&pool).await?;
            run_with(deps, switchboard_channels::projection(), mode).await?
        }
    };
    Ok(report)
}

async fn run_with<P: Projection>(deps: Deps, projection: Arc<P>, mode: Mode) -> anyhow::Result<ReplayReport> {
    let (bus, pool) = (deps.bus, deps.pool);
    Ok(match mode {
        Mode::Rebuild => switchboard_projection::replay(bus, pool, projection, REPLAY_BATCH).await?,
        Mode::CatchUp => switchboard_projection::catch_up(bus, pool, projection, REPLAY_BATCH).await?,
    })
}
