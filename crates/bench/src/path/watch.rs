//! Watches the events stream for the end of each bench message: its reply delivered, or its
//! hand-off to a person. Messages are told apart by their idempotency keys, which the bench
//! chooses; times are the events' own (`occurred_at`, the wall clock of the service that
//! published them).

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::SystemTime,
};

use anyhow::Context as _;
use async_nats::jetstream::consumer::{DeliverPolicy, pull::OrderedConfig};
use futures::StreamExt as _;
use prost::Message as _;
use switchboard_bus::{Bus, EVENTS_STREAM};
use switchboard_proto::events::v1::{Event, RouteAction, event::Body};
use tokio::sync::mpsc;

/// How a message's automated path ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    Replied,
    HandedOff,
}

/// One message's end: its idempotency key, when, and how.
#[derive(Debug, Clone)]
pub(crate) struct Finished {
    pub key: String,
    pub at: SystemTime,
    pub end: End,
}

/// The ends of one run's messages, as they come; the watcher stops when this is dropped.
pub(crate) struct Watch {
    ends: mpsc::UnboundedReceiver<Finished>,
    /// Events the watcher received (its own bus hops, not the product's).
    pub seen: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts watching events published from now on for messages whose keys start with `prefix`.
pub(crate) async fn start(bus: &Bus, prefix: String) -> anyhow::Result<Watch> {
    let stream = bus.jetstream().get_stream(EVENTS_STREAM).await?;
    let consumer = stream
        .create_consumer(OrderedConfig {
            filter_subjects: ["conversation", "routing", "delivery"]
                .map(|aggregate| format!("switchboard.events.{aggregate}.>"))
                .to_vec(),
            deliver_policy: DeliverPolicy::New,
            ..Default::default()
        })
        .await?;
    let mut messages = consumer.messages().await?;
    let (sender, ends) = mpsc::unbounded_channel();
    let seen = Arc::new(AtomicU64::new(0));
    let counted = seen.clone();
    let task = tokio::spawn(async move {
        let mut keys = HashMap::new();
        while let Some(Ok(message)) = messages.next().await {
            counted.fetch_add(1, Ordering::Relaxed);
            let Ok(event) = Event::decode(message.payload.as_ref()) else { continue };
            if let Some(finished) = read(&event, &prefix, &mut keys)
                && sender.send(finished).is_err()
            {
                return;
            }
        }
    });
    Ok(Watch { ends, seen, task })
}

/// The end `event` marks, if it is one of a bench message (whose conversation `keys` learns).
fn read(event: &Event, prefix: &str, keys: &mut HashMap<String, String>) -> Option<Finished> {
    let at = SystemTime::from(switchboard_proto::time::to_datetime(event.occurred_at.as_ref()));
    let (conversation, end) = match event.body.as_ref()? {
        Body::MessageReceived(received) => {
            if received.idempotency_key.starts_with(prefix) {
                keys.insert(received.conversation_id.clone(), received.idempotency_key.clone());
            }
            return None;
        }
        Body::MessageRouted(routed) if routed.action() != RouteAction::AutoReply => {
            (&routed.conversation_id, End::HandedOff)
        }
        Body::ReplyDelivered(delivered) => (&delivered.conversation_id, End::Replied),
        _ => return None,
    };
    let key = keys.remove(conversation)?;
    Some(Finished { key, at, end })
}

impl Watch {
    /// Collects `wanted` ends, or those that came by `deadline`.
    pub(crate) async fn collect(
        &mut self,
        wanted: usize,
        deadline: tokio::time::Instant,
    ) -> anyhow::Result<Vec<Finished>> {
        let mut finished = Vec::with_capacity(wanted);
        while finished.len() < wanted {
            match tokio::time::timeout_at(deadline, self.ends.recv()).await {
                Ok(Some(end)) => finished.push(end),
                Ok(None) => return Err(anyhow::anyhow!("the event watcher stopped")).context("watching"),
                Err(_) => break,
            }
        }
        Ok(finished)
    }
}
