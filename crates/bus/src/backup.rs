//! Backup and restore of the events stream, the source of truth: every message read in order
//! with its subject, headers and payload, and put back in the same order into an empty stream,
//! keeping each message's `Nats-Msg-Id` (deduplication holds across a restore) and checking
//! with an expected last sequence that nothing else is written meanwhile.

use async_nats::{
    HeaderMap,
    jetstream::{
        consumer::{AckPolicy, DeliverPolicy, pull, pull::OrderedConfig},
        context::PublishErrorKind,
        message::PublishMessage as Publish,
    },
};
use bytes::Bytes;
use futures::StreamExt as _;

use crate::{Bus, EVENTS_STREAM, Error};

/// One message of the events stream as it was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub sequence: u64,
    pub subject: String,
    /// Every header, `Nats-Msg-Id` included, in order.
    pub headers: Vec<(String, String)>,
    pub payload: Bytes,
}

impl Bus {
    /// Hands every message of the events stream up to its last sequence at the call, oldest
    /// first, to `each`; how many were read.
    pub async fn read_stored(&self, mut each: impl FnMut(Stored) -> Result<(), Error>) -> Result<u64, Error> {
        let last = self.last_sequence(EVENTS_STREAM).await?;
        if last == 0 {
            return Ok(0);
        }
        let stream = self.events_stream().await?;
        let consumer = stream
            .create_consumer(OrderedConfig { deliver_policy: DeliverPolicy::All, ..Default::default() })
            .await
            .map_err(|source| Error::jetstream("create ordered consumer", source))?;
        let mut messages =
            consumer.messages().await.map_err(|source| Error::jetstream("read the events", source))?;
        let mut read = 0;
        while let Some(message) = messages.next().await {
            let message = message.map_err(|source| Error::jetstream("read the events", source))?;
            let info =
                message.info().map_err(|source| Error::JetStream { operation: "read info", source })?;
            let (sequence, pending) = (info.stream_sequence, info.pending);
            let headers = message.headers.iter().flat_map(HeaderMap::iter).flat_map(|(name, values)| {
                values.iter().map(move |value| (name.to_string(), value.as_str().to_string()))
            });
            each(Stored {
                sequence,
                subject: message.subject.to_string(),
                headers: headers.collect(),
                payload: message.payload.clone(),
            })?;
            read += 1;
            // The last message of the call, or none left (the last was deleted meanwhile).
            if sequence >= last || pending == 0 {
                break;
            }
        }
        Ok(read)
    }

    /// Appends `stored` to the events stream, which must end at `after` (0: empty), so that
    /// a restore keeps the order and nothing interleaves. Returns its new sequence. A message
    /// whose id the server has just seen (the original stream stored it twice, more than the
    /// duplicate window apart) is appended again without its id: nothing is left out.
    pub async fn restore_event(&self, stored: &Stored, after: u64) -> Result<u64, Error> {
        let id = stored.headers.iter().find(|(name, _)| name.eq_ignore_ascii_case("Nats-Msg-Id"));
        let appended = self.append_stored(stored, after, id.map(|(_, id)| id.as_str())).await?;
        match appended {
            (sequence, false) => Ok(sequence),
            (_, true) => Ok(self.append_stored(stored, after, None).await?.0),
        }
    }

    /// Appends with the stored headers (less the server's instructions) and `id`; the sequence
    /// and whether it was a duplicate.
    async fn append_stored(
        &self,
        stored: &Stored,
        after: u64,
        id: Option<&str>,
    ) -> Result<(u64, bool), Error> {
        let mut headers = HeaderMap::new();
        for (name, value) in &stored.headers {
            if !crate::consume::is_server_instruction(name) {
                headers.append(name.as_str(), value.as_str());
            }
        }
        let mut publish =
            Publish::build().payload(stored.payload.clone()).headers(headers).expected_last_sequence(after);
        if let Some(id) = id {
            publish = publish.message_id(id);
        }
        let ack = self
            .jetstream
            .send_publish(stored.subject.clone(), publish)
            .await
            .map_err(|source| Error::jetstream("restore an event", source))?
            .await
            .map_err(|source| match source.kind() {
                PublishErrorKind::WrongLastSequence => Error::NotEmpty { after },
                _ => Error::jetstream("restore an event", source),
            })?;
        Ok((ack.sequence, ack.duplicate))
    }

    /// Creates the durable consumers `durables` of the events stream to start after `sequence`
    /// (a restore's last event), so that services started on a restored stream do not act again
    /// on its history (send replies twice, publish what is there already). Their services bring
    /// them to their own settings at start and keep that place. One that exists is left alone.
    pub async fn start_consumers_after(&self, durables: &[&str], sequence: u64) -> Result<(), Error> {
        let stream = self.events_stream().await?;
        for durable in durables {
            if stream.consumer_info(*durable).await.is_ok() {
                continue;
            }
            let config = pull::Config {
                durable_name: Some(durable.to_string()),
                ack_policy: AckPolicy::Explicit,
                deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: sequence + 1 },
                ..Default::default()
            };
            stream
                .create_consumer(config)
                .await
                .map_err(|source| Error::jetstream("create consumer", source))?;
        }
        Ok(())
    }
}
