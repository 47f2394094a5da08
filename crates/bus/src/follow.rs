//! Following the last event per subject: what every replica needs of a setting kept as events
//! (the active model per tenant, the rule set in force): the current ones at once, then each new
//! one as it is published.

use std::{
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use async_nats::jetstream::consumer::{DeliverPolicy, pull::OrderedConfig};
use futures::{Stream, StreamExt as _};
use switchboard_proto::events::v1::Event;

use crate::{Bus, EVENTS_STREAM, Error};

/// Events published after the current ones, with their stream sequences; undecodable ones are
/// logged and skipped.
pub type LiveEvents = Pin<Box<dyn Stream<Item = Result<(Event, u64), Error>> + Send>>;

impl Bus {
    /// The last event of every subject matching `filter` (oldest first), and the stream of
    /// those that follow.
    pub async fn follow_last(&self, filter: &str) -> Result<(Vec<(Event, u64)>, LiveEvents), Error> {
        self.follow_from(&[filter], DeliverPolicy::LastPerSubject).await
    }

    /// Every event on subjects matching any of `filters` so far (oldest first), and the stream
    /// of those that follow: a fold's history, then its live feed.
    pub async fn read_then_follow(&self, filters: &[&str]) -> Result<(Vec<(Event, u64)>, LiveEvents), Error> {
        self.follow_from(filters, DeliverPolicy::All).await
    }

    /// [`read_then_follow`](Self::read_then_follow) from after stream sequence `after` (a
    /// fold's snapshot); from the start when it is 0.
    pub async fn read_then_follow_after(
        &self,
        filters: &[&str],
        after: u64,
    ) -> Result<(Vec<(Event, u64)>, LiveEvents), Error> {
        let policy = match after {
            0 => DeliverPolicy::All,
            after => DeliverPolicy::ByStartSequence { start_sequence: after + 1 },
        };
        self.follow_from(filters, policy).await
    }

    /// The events on subjects matching any of `filters` from now on (live views such as chat).
    pub async fn follow_new(&self, filters: &[&str]) -> Result<LiveEvents, Error> {
        Ok(self.follow_from(filters, DeliverPolicy::New).await?.1)
    }

    async fn follow_from(
        &self,
        filters: &[&str],
        deliver_policy: DeliverPolicy,
    ) -> Result<(Vec<(Event, u64)>, LiveEvents), Error> {
        let stream =
            self.jetstream.get_stream(EVENTS_STREAM).await.map_err(|e| Error::jetstream("get stream", e))?;
        let mut config = OrderedConfig { deliver_policy, ..Default::default() };
        match filters {
            [one] => config.filter_subject = (*one).to_string(),
            many => config.filter_subjects = many.iter().map(|f| (*f).to_string()).collect(),
        }
        let mut consumer =
            stream.create_consumer(config).await.map_err(|e| Error::jetstream("create consumer", e))?;
        let initial = consumer.info().await.map_err(|e| Error::jetstream("consumer info", e))?.num_pending;
        let mut messages = consumer.messages().await.map_err(|e| Error::jetstream("consume", e))?;
        let mut current = Vec::new();
        for _ in 0..initial {
            match messages.next().await {
                Some(message) => current.extend(decoded(message)?),
                None => break,
            }
        }
        // Nothing at or before what is read already, nor what the stream held at the start, comes
        // again as live: an ordered consumer recreated before its first message (NATS restarted)
        // starts over from the stream's beginning, whatever the policy asked.
        let floor = stream.cached_info().state.last_sequence.max(current.last().map_or(0, |(_, s)| *s));
        let seen = Arc::new(AtomicU64::new(floor));
        let live: LiveEvents = Box::pin(messages.filter_map(move |message| {
            let seen = seen.clone();
            async move {
                match decoded(message).transpose()? {
                    Ok((_, sequence)) if sequence <= seen.load(Ordering::Relaxed) => None,
                    Ok((event, sequence)) => {
                        seen.store(sequence, Ordering::Relaxed);
                        Some(Ok((event, sequence)))
                    }
                    Err(error) => Some(Err(error)),
                }
            }
        }));
        Ok((current, live))
    }
}

impl Bus {
    /// Every event on subjects matching `filter` from `since` (or the start of the stream) up to
    /// now, oldest first.
    pub async fn read_events(
        &self,
        filter: &str,
        since: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Vec<(Event, u64)>, Error> {
        let deliver_policy = match since {
            Some(at) => DeliverPolicy::ByStartTime {
                start_time: time::OffsetDateTime::from_unix_timestamp(at.timestamp())
                    .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
            },
            None => DeliverPolicy::All,
        };
        Ok(self.follow_from(&[filter], deliver_policy).await?.0)
    }
}

/// Applies each event of `live` as it comes, until `shutdown` or the end of the stream; a
/// stream error is logged under `what` and following goes on.
pub async fn apply_live(
    mut live: LiveEvents,
    shutdown: tokio_util::sync::CancellationToken,
    what: &'static str,
    mut apply: impl FnMut(&Event, u64),
) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            next = live.next() => match next {
                Some(Ok((event, sequence))) => apply(&event, sequence),
                Some(Err(error)) => tracing::warn!(%error, stream = what, "followed stream error"),
                None => return,
            },
        }
    }
}

type Message = Result<async_nats::jetstream::Message, async_nats::jetstream::consumer::pull::OrderedError>;

/// The event and its sequence; `None` (logged) for a payload that is not an event.
fn decoded(message: Message) -> Result<Option<(Event, u64)>, Error> {
    let message = message.map_err(|error| Error::jetstream("follow", error))?;
    let sequence = message.info().map(|info| info.stream_sequence).unwrap_or_default();
    match <Event as prost::Message>::decode(message.payload.as_ref()) {
        Ok(event) => Ok(Some((event, sequence))),
        Err(error) => {
            tracing::warn!(sequence, %error, "undecodable event skipped");
            Ok(None)
        }
    }
}
