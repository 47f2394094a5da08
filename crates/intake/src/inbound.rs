//! Inbound messages from channel adapters: `switchboard.inbound.<channel>`.

use std::sync::Arc;

use async_nats::jetstream::consumer::PullConsumer;
use switchboard_bus::{Bus, Delivery, Handler, HandlerError, INBOUND_SUBJECT_PREFIX, process_keyed};
use switchboard_projection::Task;
use switchboard_proto::events::v1::{Channel, InboundMessage};
use tokio_util::sync::CancellationToken;

use crate::{
    INBOUND_CONSUMER,
    domain::{Error, Intake, Submission},
};

/// Messages held at once. A customer's messages are handled one after another, in the order
/// the channel published them (a conversation belongs to one customer); different customers'
/// at once.
pub(crate) const CONCURRENCY: usize = 64;

pub(crate) fn spawn(
    bus: Bus,
    consumer: PullConsumer,
    intake: Arc<Intake>,
    shutdown: CancellationToken,
) -> Task {
    tokio::spawn(async move {
        let handler = InboundHandler { intake };
        let customer = |message: &InboundMessage| (message.tenant.clone(), message.customer_id.clone());
        process_keyed(&bus, &consumer, INBOUND_CONSUMER, &handler, CONCURRENCY, customer, &shutdown)
            .await
            .map_err(Into::into)
    })
}

struct InboundHandler {
    intake: Arc<Intake>,
}

impl Handler<InboundMessage> for InboundHandler {
    async fn handle(&self, message: InboundMessage, delivery: &Delivery) -> Result<(), HandlerError> {
        let submission = submission(message, delivery)?;
        match self.intake.submit(submission).await {
            Ok(submitted) => {
                // The handling span (see `Delivery::span`) learns its conversation here.
                tracing::Span::current().record("conversation", submitted.conversation_id.as_str());
                Ok(())
            }
            Err(Error::Bus(error)) => Err(error.into()),
            Err(Error::Database(error)) => Err(error.into()),
            Err(error @ (Error::Busy(_) | Error::Projection(_))) => {
                Err(HandlerError::Transient(error.to_string()))
            }
            Err(error) => Err(HandlerError::Permanent(format!("refused: {error}"))),
        }
    }
}

/// The submission an inbound message stands for; its channel must agree with its subject.
fn submission(message: InboundMessage, delivery: &Delivery) -> Result<Submission, HandlerError> {
    let slug = delivery
        .subject()
        .strip_prefix(INBOUND_SUBJECT_PREFIX)
        .and_then(|rest| rest.strip_prefix('.'))
        .unwrap_or_default();
    let channel = Channel::from_slug(slug)
        .ok_or_else(|| HandlerError::Permanent(format!("unknown channel {slug:?} in subject")))?;
    if message.channel != Channel::Unspecified as i32 && message.channel != channel as i32 {
        return Err(HandlerError::Permanent(format!(
            "message says channel {} but was published on {}",
            message.channel,
            delivery.subject()
        )));
    }
    let idempotency_key = match message.idempotency_key.as_str() {
        "" => delivery.header("Nats-Msg-Id").unwrap_or_default().to_string(),
        key => key.to_string(),
    };
    Ok(Submission {
        tenant: message.tenant,
        channel,
        customer_id: message.customer_id,
        text: message.text,
        idempotency_key,
        conversation_id: Some(message.conversation_id),
        email: message.email,
        customer_verified: message.customer_verified,
        language: message.language,
    })
}
