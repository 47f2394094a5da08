//! Follows `ModelActivated` events so every replica serves each tenant's active model: the
//! last activation per tenant at start (before the service reports ready), then each new one.

use std::sync::Arc;

use async_nats::jetstream::consumer::{DeliverPolicy, pull::OrderedConfig};
use futures::StreamExt as _;
use switchboard_bus::{Bus, EVENTS_STREAM};
use switchboard_projection::Task;
use switchboard_proto::events::v1::{Event, event::Body};
use tokio_util::sync::CancellationToken;

use crate::{Error, models::Models};

const SUBJECT: &str = "switchboard.events.model-activation.>";

type Messages = async_nats::jetstream::consumer::pull::Ordered;

/// Applies the current activations, then returns the task that follows new ones.
pub(crate) async fn follow(
    bus: &Bus,
    models: Arc<Models>,
    shutdown: CancellationToken,
) -> Result<Task, Error> {
    let stream = bus.jetstream().get_stream(EVENTS_STREAM).await.map_err(|e| Error::Follow(e.to_string()))?;
    let config = OrderedConfig {
        filter_subject: SUBJECT.into(),
        deliver_policy: DeliverPolicy::LastPerSubject,
        ..Default::default()
    };
    let mut consumer = stream.create_consumer(config).await.map_err(|e| Error::Follow(e.to_string()))?;
    let initial = consumer.info().await.map_err(|e| Error::Follow(e.to_string()))?.num_pending;
    let mut messages: Messages = consumer.messages().await.map_err(|e| Error::Follow(e.to_string()))?;
    for _ in 0..initial {
        match messages.next().await {
            Some(Ok(message)) => apply(&models, &message.payload).await,
            Some(Err(error)) => return Err(Error::Follow(error.to_string())),
            None => break,
        }
    }
    Ok(tokio::spawn(async move {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                next = messages.next() => match next {
                    Some(Ok(message)) => apply(&models, &message.payload).await,
                    Some(Err(error)) => tracing::warn!(%error, "activation stream error"),
                    None => return Ok(()),
                },
            }
        }
    }))
}

async fn apply(models: &Models, payload: &[u8]) {
    let Ok(event) = <Event as prost::Message>::decode(payload) else {
        tracing::warn!("undecodable activation event skipped");
        return;
    };
    let Some(Body::ModelActivated(activated)) = &event.body else { return };
    if let Err(error) = models.apply_activation(&event.tenant, &activated.model_id).await {
        // The model stays as it was; an operator sees why (e.g. no encoder on this replica).
        tracing::error!(tenant = event.tenant, model_id = activated.model_id, %error, "activation not applied");
    }
}
