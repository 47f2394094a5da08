//! `switchboard replay <service>`: drop a service's read model and rebuild it from the stream.

use std::sync::Arc;

use switchboard_projection::{Projection, ReplayReport};

use crate::{Config, Service, serve::connect};

/// Events applied per transaction during a replay.
const REPLAY_BATCH: usize = 1000;

/// Rebuilds `service`'s read model; refuses while a running instance consumes it.
pub async fn replay(config: &Config, service: Service) -> anyhow::Result<ReplayReport> {
    let deps = connect(config).await?;
    let pool = deps.pool.clone();
    let report = match service {
        Service::Intake => {
            switchboard_intake::migrate_schema(&pool).await?;
            rebuild(deps, switchboard_intake::projection()).await?
        }
        Service::Classifier => {
            switchboard_classifier::migrate_schema(&pool).await?;
            rebuild(deps, switchboard_classifier::projection()).await?
        }
        Service::Router => {
            switchboard_router::migrate_schema(&pool).await?;
            rebuild(deps, switchboard_router::projection()).await?
        }
        Service::Knowledge => {
            switchboard_knowledge::migrate_schema(&pool).await?;
            rebuild(deps, switchboard_knowledge::projection()).await?
        }
        Service::Notifier => {
            switchboard_notifier::migrate_schema(&pool).await?;
            rebuild(deps, switchboard_notifier::projection()).await?
        }
        Service::Analytics => {
            switchboard_analytics::migrate_schema(&pool).await?;
            rebuild(deps, switchboard_analytics::projection()).await?
        }
    };
    tracing::info!(service = service.name(), events = report.events, checkpoint = report.checkpoint, "replay finished");
    Ok(report)
}

async fn rebuild<P: Projection>(deps: switchboard_projection::Deps, projection: Arc<P>) -> anyhow::Result<ReplayReport> {
    Ok(switchboard_projection::replay(deps.bus, deps.pool, projection, REPLAY_BATCH).await?)
}
