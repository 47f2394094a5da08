//! Follows `ModelActivated` events so every replica serves each tenant's active model: the
//! last activation per tenant at start (before the service reports ready), then each new one.

use std::sync::Arc;

use futures::StreamExt as _;
use switchboard_bus::Bus;
use switchboard_projection::Task;
use switchboard_proto::events::v1::{Event, event::Body};
use tokio_util::sync::CancellationToken;

use crate::{Error, models::Models};

const SUBJECT: &str = "switchboard.events.model-activation.>";

/// Applies the current activations, then returns the task that follows new ones.
pub(crate) async fn follow(
    bus: &Bus,
    models: Arc<Models>,
    shutdown: CancellationToken,
) -> Result<Task, Error> {
    let (current, mut live) = bus.follow_last(SUBJECT).await.map_err(|e| Error::Follow(e.to_string()))?;
    for (event, _) in current {
        apply(&models, &event).await;
    }
    Ok(tokio::spawn(async move {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                next = live.next() => match next {
                    Some(Ok((event, _))) => apply(&models, &event).await,
                    Some(Err(error)) => tracing::warn!(%error, "activation stream error"),
                    None => return Ok(()),
                },
            }
        }
    }))
}

async fn apply(models: &Models, event: &Event) {
    let Some(Body::ModelActivated(activated)) = &event.body else { return };
    if let Err(error) = models.apply_activation(&event.tenant, &activated.model_id).await {
        // The model stays as it was; an operator sees why (e.g. no encoder on this replica).
        tracing::error!(tenant = event.tenant, model_id = activated.model_id, %error, "activation not applied");
    }
}
