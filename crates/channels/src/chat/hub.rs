//! The live hub: one feed of conversation, routing and delivery events (and of typing signals on
//! core NATS `switchboard.typing.<tenant>.<conversation>`) for every chat session and voice turn of this
//! process, dispatched to the sessions of each conversation.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use futures::StreamExt as _;
use serde::Serialize;
use switchboard_bus::{Bus, LiveEvents};
use switchboard_proto::events::v1::{Event, RouteAction, event::Body};
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use super::notices::{Handoff, handoff_text};

/// Core NATS subjects of typing signals: `switchboard.typing.<tenant>.<conversation>`, JSON `{"author"}`.
pub const TYPING_PREFIX: &str = switchboard_bus::TYPING_SUBJECT_PREFIX;

/// What a chat session is told.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Outgoing {
    /// The session's conversation, once it has one.
    Welcome {
        conversation_id: String,
    },
    Message {
        id: String,
        author: String,
        text: String,
        /// Answers the customer may pick with one tap (sent back as the message's text).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        options: Vec<String>,
        /// The conversation's language (BCP 47) where known: the widget's own strings follow it.
        #[serde(skip_serializing_if = "String::is_empty")]
        language: String,
    },
    Typing {
        author: String,
    },
    /// A person takes over; `open` is false outside business hours (a person answers later).
    Handoff {
        queue: String,
        text: String,
        open: bool,
        #[serde(skip_serializing_if = "String::is_empty")]
        language: String,
    },
    Suggestions {
        articles: Vec<Article>,
    },
    Error {
        message: String,
        /// What the widget words in the customer's language: `slow_down`, `not_sent`,
        /// `starting_anew`, `wait`; empty for errors only a developer meets.
        #[serde(skip_serializing_if = "String::is_empty")]
        code: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Article {
    pub id: String,
    pub title: String,
}

/// A session as the hub sees it: where its messages go, and how it is told it fell behind (its
/// queue was full, so it must re-read the conversation rather than miss a message).
#[derive(Clone)]
pub struct Sender {
    tx: mpsc::Sender<Outgoing>,
    lagged: Arc<Notify>,
}

impl Sender {
    pub fn new(tx: mpsc::Sender<Outgoing>, lagged: Arc<Notify>) -> Self {
        Self { tx, lagged }
    }

    /// Queues `outgoing`; `false` once the session is gone.
    fn offer(&self, outgoing: Outgoing) -> bool {
        match self.tx.try_send(outgoing) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.lagged.notify_one();
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

#[derive(Default)]
struct Routes {
    /// Sessions by conversation.
    conversations: HashMap<String, Vec<Sender>>,
    /// Sessions waiting for the conversation their first message starts, by its idempotency key.
    pending: HashMap<String, Sender>,
}

#[derive(Default, Clone)]
pub struct Hub {
    routes: Arc<Mutex<Routes>>,
}

impl Hub {
    fn lock(&self) -> std::sync::MutexGuard<'_, Routes> {
        self.routes.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds a session to a conversation (once, however often it joins).
    pub fn join(&self, conversation_id: &str, session: Sender) {
        let mut routes = self.lock();
        let sessions = routes.conversations.entry(conversation_id.to_string()).or_default();
        if !sessions.iter().any(|known| known.tx.same_channel(&session.tx)) {
            sessions.push(session);
        }
    }

    /// The session learns its conversation when intake records the message with this key.
    pub fn await_key(&self, key: &str, session: Sender) {
        let mut routes = self.lock();
        // Keys whose message never came (a duplicate, a refusal) go with their session.
        routes.pending.retain(|_, waiting| !waiting.tx.is_closed());
        routes.pending.insert(key.to_string(), session);
    }

    /// Takes a session that ended out of the hub: its conversation is forgotten once no session
    /// of it is left, and a key it waited on is dropped. (A conversation that is quiet for good
    /// would otherwise be held until the process ends.)
    pub fn leave(&self, conversation_id: Option<&str>, session: &Sender) {
        let mut routes = self.lock();
        if let Some(id) = conversation_id
            && let Some(sessions) = routes.conversations.get_mut(id)
        {
            sessions.retain(|known| !known.tx.same_channel(&session.tx));
            if sessions.is_empty() {
                routes.conversations.remove(id);
            }
        }
        routes.pending.retain(|_, waiting| !waiting.tx.same_channel(&session.tx));
    }

    /// Sends to every live session of a conversation; closed ones are dropped.
    pub fn tell(&self, conversation_id: &str, outgoing: &Outgoing) {
        let mut routes = self.lock();
        let Some(sessions) = routes.conversations.get_mut(conversation_id) else { return };
        sessions.retain(|session| session.offer(outgoing.clone()));
        if sessions.is_empty() {
            routes.conversations.remove(conversation_id);
        }
    }

    fn apply(&self, event: &Event) {
        match &event.body {
            Some(Body::MessageReceived(m)) => {
                let waiting = self.lock().pending.remove(&m.idempotency_key);
                if let Some(session) = waiting {
                    let welcome = Outgoing::Welcome { conversation_id: m.conversation_id.clone() };
                    if session.offer(welcome) {
                        self.join(&m.conversation_id, session);
                    }
                }
                let message = Outgoing::Message {
                    id: m.message_id.clone(),
                    author: "customer".into(),
                    text: m.text.clone(),
                    options: Vec::new(),
                    language: String::new(),
                };
                self.tell(&m.conversation_id, &message);
            }
            Some(Body::ReplyDelivered(d)) => {
                let author = if d.author.starts_with("agent:") { "agent" } else { "bot" };
                let message = Outgoing::Message {
                    id: d.reply_id.clone(),
                    author: author.into(),
                    text: d.text.clone(),
                    options: d.options.clone(),
                    language: d.language.clone(),
                };
                self.tell(&d.conversation_id, &message);
            }
            Some(Body::MessageRouted(r))
                if matches!(r.action(), RouteAction::Queue | RouteAction::Escalate) =>
            {
                self.tell(&r.conversation_id, &handoff(&r.queue, r.expected_response.is_none(), &r.language));
            }
            _ => {}
        }
    }
}

/// The notice that a person takes over (now, or when the team is back), in the conversation's
/// language.
pub fn handoff(queue: &str, open: bool, language: &str) -> Outgoing {
    let notice = if open { Handoff::Now } else { Handoff::WhenOpen };
    Outgoing::Handoff {
        queue: queue.into(),
        text: handoff_text(notice, language),
        open,
        language: language.into(),
    }
}

/// The hand-off notice for a conversation resumed while it waits for a person (whether the team
/// is open is not known there), in the conversation's language.
pub fn handoff_under_way(queue: &str, language: &str) -> Outgoing {
    let text = handoff_text(Handoff::UnderWay, language);
    Outgoing::Handoff { queue: queue.into(), text, open: true, language: language.into() }
}

/// Follows the live events and typing signals until `shutdown`.
pub async fn run(hub: Hub, bus: Bus, shutdown: CancellationToken) -> switchboard_projection::TaskResult {
    let filters = [
        "switchboard.events.conversation.>",
        "switchboard.events.routing.>",
        "switchboard.events.delivery.>",
    ];
    let mut live: LiveEvents = bus.follow_new(&filters).await?;
    let mut typing = bus.client().subscribe(format!("{TYPING_PREFIX}.>")).await?;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            next = live.next() => match next {
                Some(Ok((event, _))) => hub.apply(&event),
                Some(Err(error)) => tracing::warn!(%error, "chat feed error"),
                None => return Ok(()),
            },
            Some(signal) = typing.next() => {
                let Some((_, conversation)) = switchboard_bus::typing_conversation(signal.subject.as_str()) else { continue };
                let author = serde_json::from_slice::<serde_json::Value>(&signal.payload)
                    .ok()
                    .and_then(|v| v["author"].as_str().map(str::to_string))
                    .unwrap_or_default();
                if matches!(author.as_str(), "agent" | "bot") {
                    hub.tell(conversation, &Outgoing::Typing { author });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(n: usize) -> Outgoing {
        Outgoing::Message {
            id: format!("m-{n}"),
            author: "bot".into(),
            text: "hello".into(),
            options: Vec::new(),
            language: String::new(),
        }
    }

    /// A session's queue is bounded: past it nothing more is held for it, and it is told it fell
    /// behind (it re-reads its conversation); a closed session leaves the hub.
    #[tokio::test]
    async fn a_slow_session_is_told_it_fell_behind_instead_of_buffering_without_bound() {
        let hub = Hub::default();
        let (tx, mut rx) = mpsc::channel(2);
        let lagged = Arc::new(Notify::new());
        hub.join("c-1", Sender::new(tx, lagged.clone()));
        for n in 0..10 {
            hub.tell("c-1", &message(n));
        }
        let told = tokio::time::timeout(std::time::Duration::from_secs(1), lagged.notified()).await;
        assert!(told.is_ok(), "the session was not told it fell behind");
        let mut held = 0;
        while rx.try_recv().is_ok() {
            held += 1;
        }
        assert_eq!(held, 2, "only the queue's room is held");
        drop(rx);
        hub.tell("c-1", &message(11));
        assert!(!hub.lock().conversations.contains_key("c-1"), "a closed session stays in the hub");
    }

    /// A session that ends leaves the hub with whatever it held: nothing of a quiet
    /// conversation stays behind it.
    #[test]
    fn a_session_that_ends_leaves_nothing_behind() {
        let hub = Hub::default();
        let (tx, _rx) = mpsc::channel(2);
        let (other, _other_rx) = mpsc::channel(2);
        let (session, staying) = (Sender::new(tx, Arc::default()), Sender::new(other, Arc::default()));
        hub.join("c-1", session.clone());
        hub.join("c-2", session.clone());
        hub.join("c-2", staying);
        hub.await_key("key-1", session.clone());

        hub.leave(Some("c-1"), &session);
        hub.leave(Some("c-2"), &session);

        let routes = hub.lock();
        assert!(!routes.conversations.contains_key("c-1"));
        assert_eq!(routes.conversations.get("c-2").map(Vec::len), Some(1), "the other session stays");
        assert!(routes.pending.is_empty());
    }
}
