//! Classifies each `MessageReceived` and publishes `MessageClassified`, caused by it.

use async_nats::jetstream::consumer::PullConsumer;
use switchboard_bus::{Bus, Delivery, Draft, Handler, HandlerError, process};
use switchboard_projection::Task;
use switchboard_proto::events::v1::{Event, MessageClassified, MessageReceived, event::Body};
use tokio_util::sync::CancellationToken;

use std::sync::Arc;

use crate::{CONSUMER, Error, Reading, models::Models};

/// Messages handled at once.
pub(crate) const CONCURRENCY: usize = 64;

pub(crate) fn spawn(
    bus: Bus,
    consumer: PullConsumer,
    models: Arc<Models>,
    shutdown: CancellationToken,
) -> Task {
    tokio::spawn(async move {
        let handler = Classify { bus: bus.clone(), models };
        process(&bus, &consumer, CONSUMER, &handler, CONCURRENCY, &shutdown).await.map_err(Into::into)
    })
}

struct Classify {
    bus: Bus,
    models: Arc<Models>,
}

impl Handler<Event> for Classify {
    async fn handle(&self, event: Event, _delivery: &Delivery) -> Result<(), HandlerError> {
        let Some(Body::MessageReceived(received)) = &event.body else {
            return Ok(());
        };
        let reading = self.models.read(&event.tenant, &received.text).await;
        let mut reading = reading?;
        believe_the_channel(&mut reading, &received.language);
        let current = reading.language_reliable.then_some(reading.language.as_str());
        // A conversation's first message pins its language: there is none before it to read.
        let pinned = if received.starts_conversation {
            current.map(str::to_owned)
        } else {
            self.models.conversation_language(&event.tenant, &received.conversation_id, current).await?
        };
        let conversation_language = pinned.unwrap_or_else(|| reading.language.clone());
        let mut classified = classification(reading, received);
        classified.conversation_language = conversation_language;
        tracing::info!(
            message_id = received.message_id,
            intent = classified.intent,
            confidence = classified.confidence,
            out_of_scope = classified.out_of_scope,
            language = classified.language,
            "message classified"
        );
        let draft = Draft::caused_by(&event, &received.message_id, Body::MessageClassified(classified));
        let event = draft.build()?;
        self.bus.publish(&event).await?;
        Ok(())
    }
}

/// The database and the bus by the consumers' one map; the rest (the encoder, a model) is
/// tried again, then set aside.
impl From<Error> for HandlerError {
    fn from(error: Error) -> Self {
        match error {
            Error::Database(error) => error.into(),
            Error::Bus(error) => error.into(),
            other => HandlerError::Transient(other.to_string()),
        }
    }
}

/// A channel that knows the customer's language (a phone line's, an app's locale) is believed
/// over a text too short to tell; a reliable detection stands, so a customer who writes in
/// another language is answered in it.
fn believe_the_channel(reading: &mut Reading, channel_language: &str) {
    if reading.language_reliable {
        return;
    }
    if let Some(tag) = switchboard_nlu::language::tag_of(channel_language) {
        reading.language = tag.to_string();
        reading.language_reliable = true;
    }
}

fn classification(reading: Reading, received: &MessageReceived) -> MessageClassified {
    MessageClassified {
        conversation_id: received.conversation_id.clone(),
        message_id: received.message_id.clone(),
        customer_id: received.customer_id.clone(),
        channel: received.channel,
        text: received.text.clone(),
        intent: reading.intent,
        confidence: reading.confidence,
        alternatives: reading.alternatives,
        language: reading.language,
        model_version: reading.model_version,
        out_of_scope: reading.out_of_scope,
        feeling: Some(reading.feeling),
        entities: reading.entities,
        language_reliable: reading.language_reliable,
        conversation_language: String::new(),
        starts_conversation: received.starts_conversation,
        customer_verified: received.customer_verified,
    }
}
