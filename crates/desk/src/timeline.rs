//! What a conversation's events add to its timeline, as a pure function: customer messages,
//! the bot's and agents' replies, internal notes, and what happened (routed, claimed, resolved,
//! ...). Classifications and deliveries amend the entry they are about. The projection stores
//! what [`changes_of`] returns.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use switchboard_proto::{
    events::v1::{
        ConversationTransferred, Event, MessageClassified, MessageRouted, Priority, RouteAction, event::Body,
    },
    time::to_datetime,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Customer,
    Bot,
    Agent,
    Note,
    Event,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Bot => "bot",
            Self::Agent => "agent",
            Self::Note => "note",
            Self::Event => "event",
        }
    }

    pub fn parse(text: &str) -> Self {
        match text {
            "customer" => Self::Customer,
            "bot" => Self::Bot,
            "agent" => Self::Agent,
            "note" => Self::Note,
            _ => Self::Event,
        }
    }
}

/// One line of the timeline. For events, `entry_id` says what happened and `text` its particulars.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub conversation_id: String,
    pub sequence: u64,
    pub kind: Kind,
    pub entry_id: String,
    pub author: String,
    pub text: String,
    pub at: DateTime<Utc>,
    pub article_ids: Vec<String>,
    pub classification: Option<Value>,
    pub delivery: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Add(Entry),
    /// The customer message `message_id` was classified.
    Classify {
        conversation_id: String,
        message_id: String,
        classification: Value,
    },
    /// The reply `reply_id` was delivered (`delivered`) or not (`failed: <reason>`).
    Deliver {
        conversation_id: String,
        reply_id: String,
        delivery: String,
    },
}

/// What `event` (at stream `sequence`) changes in its conversation's timeline.
pub fn changes_of(event: &Event, sequence: u64) -> Option<Change> {
    let at = to_datetime(event.occurred_at.as_ref());
    let entry = |conversation_id: &str, kind, entry_id: &str, author: &str, text: &str| Entry {
        conversation_id: conversation_id.to_string(),
        sequence,
        kind,
        entry_id: entry_id.to_string(),
        author: author.to_string(),
        text: text.to_string(),
        at,
        article_ids: Vec::new(),
        classification: None,
        delivery: String::new(),
    };
    let happened = |conversation_id: &str, what: &str, text: String| {
        Some(Change::Add(entry(conversation_id, Kind::Event, what, "", &text)))
    };
    match event.body.as_ref()? {
        Body::MessageReceived(m) => {
            let author = format!("customer:{}", m.customer_id);
            Some(Change::Add(entry(&m.conversation_id, Kind::Customer, &m.message_id, &author, &m.text)))
        }
        Body::MessageClassified(c) => Some(Change::Classify {
            conversation_id: c.conversation_id.clone(),
            message_id: c.message_id.clone(),
            classification: classification_of(c),
        }),
        Body::ReplyRequested(r) => {
            let kind = if r.author.starts_with("agent:") { Kind::Agent } else { Kind::Bot };
            let author = if r.author.is_empty() { "bot" } else { &r.author };
            let mut reply = entry(&r.conversation_id, kind, &r.reply_id, author, &r.text);
            reply.article_ids.clone_from(&r.article_ids);
            reply.delivery = "requested".into();
            Some(Change::Add(reply))
        }
        Body::ReplyDelivered(d) => Some(Change::Deliver {
            conversation_id: d.conversation_id.clone(),
            reply_id: d.reply_id.clone(),
            delivery: "delivered".into(),
        }),
        Body::DeliveryFailed(f) => Some(Change::Deliver {
            conversation_id: f.conversation_id.clone(),
            reply_id: f.reply_id.clone(),
            delivery: format!("failed: {}", f.reason),
        }),
        Body::NoteAdded(n) => {
            Some(Change::Add(entry(&n.conversation_id, Kind::Note, &n.note_id, &n.author, &n.text)))
        }
        Body::MessageRouted(r) => routed(r).and_then(|text| happened(&r.conversation_id, "routed", text)),
        Body::ConversationClaimed(c) => happened(&c.conversation_id, "claimed", c.agent_id.clone()),
        Body::ConversationTransferred(t) => happened(&t.conversation_id, "transferred", transferred(t)),
        Body::ConversationAssigned(a) => happened(&a.conversation_id, "assigned", a.agent_id.clone()),
        Body::ConversationReleased(r) => happened(&r.conversation_id, "released", r.agent_id.clone()),
        Body::ConversationClosed(c) => happened(&c.conversation_id, "resolved", c.reason.clone()),
        Body::ConversationReopened(r) => {
            happened(&r.conversation_id, "reopened", format!("{} {}", r.author, r.reason).trim().to_string())
        }
        Body::ConversationUpdated(u) => {
            let priority = Priority::try_from(u.priority).ok().filter(|p| *p != Priority::Unspecified);
            let mut said: Vec<String> = u.add_tags.iter().map(|tag| format!("#{tag}")).collect();
            said.extend(priority.map(|p| {
                format!("priority {}", p.as_str_name().trim_start_matches("PRIORITY_").to_lowercase())
            }));
            happened(
                &u.conversation_id,
                "updated",
                format!("{} {}", u.author, said.join(" ")).trim().to_string(),
            )
        }
        Body::SlaBreached(b) => happened(&b.conversation_id, "sla_breached", b.metric.clone()),
        Body::SlaWarning(w) => happened(&w.conversation_id, "sla_warning", w.metric.clone()),
        _ => None,
    }
}

/// A hand-off to people, in words (`queue: reason`); automated answers are their replies.
fn routed(r: &MessageRouted) -> Option<String> {
    match r.action() {
        RouteAction::Queue | RouteAction::Escalate => Some(format!("{}: {}", r.queue, r.reason)),
        RouteAction::AutoReply | RouteAction::Unspecified => None,
    }
}

fn transferred(t: &ConversationTransferred) -> String {
    let to = if t.to_agent.is_empty() {
        format!("queue {}", t.queue)
    } else {
        format!("{} ({})", t.to_agent, t.queue)
    };
    let from = if t.from_agent.is_empty() { String::new() } else { format!(" from {}", t.from_agent) };
    let note = if t.note.is_empty() { String::new() } else { format!(": {}", t.note) };
    format!("to {to}{from} by {}{note}", t.by)
}

fn classification_of(c: &MessageClassified) -> Value {
    let feeling = c.feeling.clone().unwrap_or_default();
    let entities: Vec<Value> = c
        .entities
        .iter()
        .map(|e| json!({"kind": e.kind, "text": e.text, "start": e.start, "end": e.end, "value": e.value}))
        .collect();
    json!({
        "intent": c.intent,
        "confidence": c.confidence,
        "language": c.language,
        "sentiment": feeling.sentiment,
        "sentiment_score": feeling.sentiment_score,
        "urgency": feeling.urgency,
        "entities": entities,
    })
}

#[cfg(test)]
mod tests {
    use prost_types::Timestamp;
    use switchboard_proto::events::v1::{
        Feeling, MessageReceived, NoteAdded, ReplyDelivered, ReplyRequested,
    };

    use super::*;

    fn event(body: Body) -> Event {
        Event {
            occurred_at: Some(Timestamp { seconds: 1_700_000_000, nanos: 0 }),
            body: Some(body),
            ..Event::default()
        }
    }

    fn added(body: Body) -> Entry {
        match changes_of(&event(body), 7) {
            Some(Change::Add(entry)) => entry,
            other => panic!("expected an entry, got {other:?}"),
        }
    }

    #[test]
    fn messages_replies_and_notes_are_told_apart() {
        let customer = added(Body::MessageReceived(MessageReceived {
            conversation_id: "c".into(),
            message_id: "m-1".into(),
            customer_id: "pat".into(),
            text: "Where is my parcel?".into(),
            ..Default::default()
        }));
        assert_eq!(
            (customer.kind, customer.author.as_str(), customer.sequence),
            (Kind::Customer, "customer:pat", 7)
        );
        let bot =
            added(Body::ReplyRequested(ReplyRequested { conversation_id: "c".into(), ..Default::default() }));
        assert_eq!((bot.kind, bot.author.as_str(), bot.delivery.as_str()), (Kind::Bot, "bot", "requested"));
        let agent = added(Body::ReplyRequested(ReplyRequested {
            conversation_id: "c".into(),
            author: "agent:ana".into(),
            ..Default::default()
        }));
        assert_eq!(agent.kind, Kind::Agent);
        let note = added(Body::NoteAdded(NoteAdded {
            conversation_id: "c".into(),
            note_id: "n-1".into(),
            author: "agent:ana".into(),
            text: "VIP, be quick".into(),
        }));
        assert_eq!((note.kind, note.entry_id.as_str()), (Kind::Note, "n-1"));
    }

    #[test]
    fn a_classification_and_a_delivery_amend_their_entries() {
        let classified = MessageClassified {
            conversation_id: "c".into(),
            message_id: "m-1".into(),
            intent: "order_status".into(),
            feeling: Some(Feeling {
                sentiment: "negative".into(),
                urgency: "high".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let Some(Change::Classify { message_id, classification, .. }) =
            changes_of(&event(Body::MessageClassified(classified)), 8)
        else {
            panic!("a classification")
        };
        assert_eq!(message_id, "m-1");
        assert_eq!(
            (classification["intent"].as_str(), classification["urgency"].as_str()),
            (Some("order_status"), Some("high"))
        );
        let delivered =
            ReplyDelivered { conversation_id: "c".into(), reply_id: "r-1".into(), ..Default::default() };
        assert_eq!(
            changes_of(&event(Body::ReplyDelivered(delivered)), 9),
            Some(Change::Deliver {
                conversation_id: "c".into(),
                reply_id: "r-1".into(),
                delivery: "delivered".into()
            })
        );
    }

    #[test]
    fn a_hand_off_is_an_event_and_an_automated_answer_is_not() {
        let to_people = MessageRouted {
            conversation_id: "c".into(),
            action: RouteAction::Escalate.into(),
            queue: "general".into(),
            reason: "asked for a person".into(),
            ..Default::default()
        };
        let entry = added(Body::MessageRouted(to_people.clone()));
        assert_eq!(
            (entry.kind, entry.entry_id.as_str(), entry.text.as_str()),
            (Kind::Event, "routed", "general: asked for a person")
        );
        let answered = MessageRouted { action: RouteAction::AutoReply.into(), ..to_people };
        assert_eq!(changes_of(&event(Body::MessageRouted(answered)), 3), None);
    }
}
