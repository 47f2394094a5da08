//! Publishing events: idempotent by `Nats-Msg-Id`, optionally guarded by the aggregate's version.

use async_nats::{
    HeaderMap,
    jetstream::{
        context::PublishErrorKind,
        message::{PublishMessage as Publish, StreamMessage},
    },
};
use bytes::Bytes;
use prost::Message as _;
use switchboard_proto::events::v1::Event;

use crate::{
    Bus, EVENTS_STREAM, Error,
    envelope::{event_subject, validate_aggregate_id, validate_tenant},
    trace,
};

/// What the aggregate's subject must look like for an append to succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// No check.
    Any,
    /// The aggregate has no events yet.
    Empty,
    /// The aggregate's last event is at this stream sequence.
    Sequence(u64),
}

/// Where a publish landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    pub sequence: u64,
    /// The `Nats-Msg-Id` was seen before: nothing new was stored, `sequence` is the original's.
    pub duplicate: bool,
}

impl Bus {
    /// Publishes an event without a version check. Its id is the `Nats-Msg-Id`.
    pub async fn publish(&self, event: &Event) -> Result<Published, Error> {
        self.append(event, Expected::Any, None).await
    }

    /// Publishes an event if its aggregate is at `expected`, else [`Error::Conflict`].
    /// `message_id` overrides the deduplication key (a channel-natural key); default the event id.
    pub async fn append(
        &self,
        event: &Event,
        expected: Expected,
        message_id: Option<&str>,
    ) -> Result<Published, Error> {
        if event.body.is_none() {
            return Err(Error::MissingBody(event.id.clone()));
        }
        let subject = event_subject(&event.aggregate, &event.tenant, &event.aggregate_id);
        let mut publish = Publish::build()
            .payload(Bytes::from(event.encode_to_vec()))
            .headers(event_headers(event))
            .message_id(message_id.unwrap_or(&event.id));
        publish = match expected {
            Expected::Any => publish,
            Expected::Empty => publish.expected_last_subject_sequence(0),
            Expected::Sequence(sequence) => publish.expected_last_subject_sequence(sequence),
        };
        let ack = self
            .jetstream
            .send_publish(subject.clone(), publish)
            .await
            .map_err(|source| Error::jetstream("publish", source))?
            .await
            .map_err(|source| match source.kind() {
                PublishErrorKind::WrongLastSequence => Error::Conflict { subject, expected },
                _ => Error::jetstream("publish", source),
            })?;
        Ok(Published { sequence: ack.sequence, duplicate: ack.duplicate })
    }

    /// Publishes a channel's inbound message to `switchboard.inbound.<channel>`, deduplicated by
    /// `message_id`: the root of the message's trace (a span `inbound` naming the channel and the
    /// tenant, never the text).
    pub async fn publish_inbound(
        &self,
        channel: &str,
        tenant: &str,
        payload: Bytes,
        message_id: &str,
    ) -> Result<Published, Error> {
        use tracing::Instrument as _;
        let span = tracing::info_span!("inbound", channel, tenant);
        let subject = format!("{}.{channel}", crate::INBOUND_SUBJECT_PREFIX);
        let mut headers = HeaderMap::new();
        headers.insert("Switchboard-Tenant", tenant);
        self.publish_with(subject, headers, payload, message_id).instrument(span).await
    }

    /// Publishes raw bytes to a subject (inbound messages, tests), deduplicated by `message_id`.
    pub async fn publish_raw(
        &self,
        subject: String,
        payload: Bytes,
        message_id: &str,
    ) -> Result<Published, Error> {
        self.publish_with(subject, HeaderMap::new(), payload, message_id).await
    }

    /// Publishes with `headers` and the current trace context.
    async fn publish_with(
        &self,
        subject: String,
        mut headers: HeaderMap,
        payload: Bytes,
        message_id: &str,
    ) -> Result<Published, Error> {
        trace::inject_context(&mut headers);
        let publish = Publish::build().payload(payload).headers(headers).message_id(message_id);
        let ack = self
            .jetstream
            .send_publish(subject, publish)
            .await
            .map_err(|source| Error::jetstream("publish", source))?
            .await
            .map_err(|source| Error::jetstream("publish", source))?;
        Ok(Published { sequence: ack.sequence, duplicate: ack.duplicate })
    }

    /// The event stored at a stream sequence.
    pub async fn event_at(&self, sequence: u64) -> Result<Event, Error> {
        let stream = self.events_stream().await?;
        let message = stream.get_raw_message(sequence).await.map_err(|_| Error::NotFound(sequence))?;
        decode_event(&message)
    }

    /// The last event of an aggregate and its stream sequence, or `None` if it has none.
    pub async fn last_event_of(
        &self,
        aggregate: &str,
        tenant: &str,
        aggregate_id: &str,
    ) -> Result<Option<(Event, u64)>, Error> {
        use async_nats::jetstream::stream::LastRawMessageErrorKind;
        validate_aggregate_id(aggregate_id)?;
        validate_tenant(tenant)?;
        let stream = self.events_stream().await?;
        match stream.get_last_raw_message_by_subject(&event_subject(aggregate, tenant, aggregate_id)).await {
            Ok(message) => Ok(Some((decode_event(&message)?, message.sequence))),
            Err(error) if error.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(None),
            Err(error) => Err(Error::jetstream("get last message", error)),
        }
    }

    /// The stream sequence of the last event of `tenant` on any of `aggregates`, 0 when there is
    /// none: what a read of a projection of those aggregates waits for to see all there is now
    /// (the whole stream's last sequence may be another aggregate's, which it never reaches).
    pub async fn last_sequence_of(&self, aggregates: &[&str], tenant: &str) -> Result<u64, Error> {
        use async_nats::jetstream::stream::LastRawMessageErrorKind;
        validate_tenant(tenant)?;
        let stream = self.events_stream().await?;
        let mut last = 0;
        for aggregate in aggregates {
            match stream.get_last_raw_message_by_subject(&event_subject(aggregate, tenant, ">")).await {
                Ok(message) => last = last.max(message.sequence),
                Err(error) if error.kind() == LastRawMessageErrorKind::NoMessageFound => {}
                Err(error) => return Err(Error::jetstream("get last message", error)),
            }
        }
        Ok(last)
    }

    /// Every event of a tenant's aggregate with its stream sequence, oldest first: its history,
    /// to fold into its state before a command (for aggregates of a few dozen events).
    pub async fn events_of(
        &self,
        aggregate: &str,
        tenant: &str,
        aggregate_id: &str,
    ) -> Result<Vec<(Event, u64)>, Error> {
        use async_nats::jetstream::stream::DirectGetErrorKind;
        validate_aggregate_id(aggregate_id)?;
        validate_tenant(tenant)?;
        let stream = self.events_stream().await?;
        let subject = event_subject(aggregate, tenant, aggregate_id);
        let mut history = Vec::new();
        let mut from = 1;
        loop {
            match stream.direct_get_next_for_subject(subject.as_str(), Some(from)).await {
                Ok(message) => {
                    from = message.sequence + 1;
                    history.push((decode_event(&message)?, message.sequence));
                }
                Err(error) if error.kind() == DirectGetErrorKind::NotFound => return Ok(history),
                Err(error) => return Err(Error::jetstream("get next message", error)),
            }
        }
    }

    /// The sequence of the last message in a stream (0 when empty).
    pub async fn last_sequence(&self, stream: &str) -> Result<u64, Error> {
        let mut stream = self
            .jetstream
            .get_stream(stream)
            .await
            .map_err(|source| Error::jetstream("get stream", source))?;
        let info = stream.info().await.map_err(|source| Error::jetstream("stream info", source))?;
        Ok(info.state.last_sequence)
    }

    pub(crate) async fn events_stream(&self) -> Result<async_nats::jetstream::stream::Stream<()>, Error> {
        self.jetstream
            .get_stream_no_info(EVENTS_STREAM)
            .await
            .map_err(|source| Error::jetstream("get stream", source))
    }
}

fn event_headers(event: &Event) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("Switchboard-Event-Type", event.r#type.as_str());
    headers.insert("Switchboard-Tenant", event.tenant.as_str());
    if let Some(conversation) = crate::conversation_of(event) {
        headers.insert("Switchboard-Conversation", conversation);
    }
    if !event.traceparent.is_empty() {
        headers.insert("traceparent", event.traceparent.as_str());
    }
    if !event.tracestate.is_empty() {
        headers.insert("tracestate", event.tracestate.as_str());
    }
    headers
}

fn decode_event(message: &StreamMessage) -> Result<Event, Error> {
    Event::decode(message.payload.as_ref())
        .map_err(|error| Error::Undecodable { sequence: message.sequence, reason: error.to_string() })
}
