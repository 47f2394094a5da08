//! A conversation as the desk sees it: a pure fold of its events (`apply(state, event) ->
//! state`). The projection loads the row, folds, and stores it; nothing here touches I/O.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use switchboard_proto::{
    events::v1::{Event, MessageReceived, MessageRouted, RouteAction, event::Body},
    time::to_datetime,
};

/// Characters of the last message kept as the preview.
pub const PREVIEW_CHARS: usize = 140;

/// The router's clock that closes conversations left waiting on the customer: not a target
/// anyone works to, so not a due time.
const PENDING_CLOSE: &str = "pending_close";

/// What routing decided for the conversation last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Routed {
    /// Automation has it.
    #[default]
    Bot,
    Queued,
    Escalated,
}

impl Routed {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bot => "",
            Self::Queued => "queued",
            Self::Escalated => "escalated",
        }
    }

    pub fn parse(text: &str) -> Self {
        match text {
            "queued" => Self::Queued,
            "escalated" => Self::Escalated,
            _ => Self::Bot,
        }
    }
}

/// Where a conversation stands, derived from the folded facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Open,
    Queued,
    Escalated,
    Assigned,
    Pending,
    Resolved,
}

impl Status {
    pub const ALL: [Self; 6] =
        [Self::Open, Self::Queued, Self::Escalated, Self::Assigned, Self::Pending, Self::Resolved];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Queued => "queued",
            Self::Escalated => "escalated",
            Self::Assigned => "assigned",
            Self::Pending => "pending",
            Self::Resolved => "resolved",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }
}

/// What the last event folded in changed, for the people watching their inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Change {
    /// It came to people (routed to a queue, or reopened).
    New,
    /// Someone took it or was given it.
    Assigned,
    CustomerReplied,
    SlaWarning,
    SlaBreached,
    #[default]
    Updated,
}

impl Change {
    pub const ALL: [Self; 6] = [
        Self::New,
        Self::Assigned,
        Self::CustomerReplied,
        Self::SlaWarning,
        Self::SlaBreached,
        Self::Updated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Assigned => "assigned",
            Self::CustomerReplied => "customer_replied",
            Self::SlaWarning => "sla_warning",
            Self::SlaBreached => "sla_breached",
            Self::Updated => "updated",
        }
    }

    pub fn parse(text: &str) -> Self {
        Self::ALL.into_iter().find(|change| change.as_str() == text).unwrap_or_default()
    }
}

/// An SLA target not met yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub due_at: DateTime<Utc>,
    pub breached: bool,
}

/// One tenant's conversation, as the desk lists it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Conversation {
    pub tenant: String,
    pub conversation_id: String,
    pub customer_id: String,
    /// `events.v1.Channel` value.
    pub channel: i32,
    pub routed: Routed,
    /// Waits on the customer (its SLA targets are paused).
    pub paused: bool,
    pub closed: bool,
    pub queue: String,
    /// `events.v1.Priority` value; higher is more urgent.
    pub priority: i32,
    /// The agent holding it; empty: nobody.
    pub assignee: String,
    pub preview: String,
    /// Targets not met, by metric.
    pub sla: BTreeMap<String, Target>,
    pub handoff_reason: String,
    pub language: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Stream sequence of the last event folded in.
    pub sequence: u64,
    /// What that event changed.
    pub last_change: Change,
    /// Since when it waits for a person (with people, held by nobody); `None`: it does not.
    pub waiting_since: Option<DateTime<Utc>>,
    /// Stream sequence at which it last came to people (a `New` change), so that a watcher who
    /// has not seen that is told it is new even when something else changed since.
    pub arrived_at: u64,
    /// Stream sequence at which it was last assigned (an `Assigned` change), so that a watcher
    /// who has not seen that is told it was assigned to them even when something else changed
    /// since.
    pub assigned_at: u64,
}

impl Conversation {
    fn started_by(tenant: &str, received: &MessageReceived, at: DateTime<Utc>) -> Self {
        Self {
            tenant: tenant.to_string(),
            conversation_id: received.conversation_id.clone(),
            customer_id: received.customer_id.clone(),
            channel: received.channel,
            created_at: at,
            ..Self::default()
        }
    }

    pub fn status(&self) -> Status {
        if self.closed {
            Status::Resolved
        } else if self.paused {
            Status::Pending
        } else if !self.assignee.is_empty() {
            Status::Assigned
        } else {
            match self.routed {
                Routed::Bot => Status::Open,
                Routed::Queued => Status::Queued,
                Routed::Escalated => Status::Escalated,
            }
        }
    }

    /// The earliest target not met; a breached one counts (it is overdue).
    pub fn sla_due_at(&self) -> Option<DateTime<Utc>> {
        self.sla.values().map(|target| target.due_at).min()
    }

    pub fn sla_breached(&self) -> bool {
        self.sla.values().any(|target| target.breached)
    }
}

/// The conversation an event is about, for the events the desk folds.
pub fn conversation_of(body: &Body) -> Option<&str> {
    Some(match body {
        Body::MessageReceived(e) => &e.conversation_id,
        Body::MessageRouted(e) => &e.conversation_id,
        Body::ReplyRequested(e) => &e.conversation_id,
        Body::ConversationAssigned(e) => &e.conversation_id,
        Body::ConversationReleased(e) => &e.conversation_id,
        Body::ConversationClaimed(e) => &e.conversation_id,
        Body::ConversationTransferred(e) => &e.conversation_id,
        Body::ConversationClosed(e) => &e.conversation_id,
        Body::ConversationReopened(e) => &e.conversation_id,
        Body::ConversationUpdated(e) => &e.conversation_id,
        Body::SlaStarted(e) => &e.conversation_id,
        Body::SlaBreached(e) => &e.conversation_id,
        Body::SlaWarning(e) => &e.conversation_id,
        Body::SlaMet(e) => &e.conversation_id,
        Body::SlaPaused(e) => &e.conversation_id,
        Body::SlaResumed(e) => &e.conversation_id,
        _ => return None,
    })
}

/// Folds one event at stream `sequence` into the conversation's state. A conversation starts
/// with its first customer message; other events of an unknown conversation are ignored, as
/// are events already folded (at or below the state's sequence).
pub fn apply(state: Option<Conversation>, event: &Event, sequence: u64) -> Option<Conversation> {
    let Some(body) = event.body.as_ref() else { return state };
    let at = to_datetime(event.occurred_at.as_ref());
    let mut conversation = match (state, body) {
        (Some(conversation), _) => conversation,
        (None, Body::MessageReceived(received)) => Conversation::started_by(&event.tenant, received, at),
        (None, _) => return None,
    };
    if sequence <= conversation.sequence {
        return Some(conversation);
    }
    let waited_for_people = conversation.routed != Routed::Bot && !conversation.closed;
    if fold(&mut conversation, body) {
        conversation.updated_at = at;
        conversation.sequence = sequence;
        conversation.last_change = change_of(body, waited_for_people, &conversation);
        match conversation.last_change {
            Change::New => conversation.arrived_at = sequence,
            Change::Assigned => conversation.assigned_at = sequence,
            _ => {}
        }
        let waits =
            conversation.routed != Routed::Bot && !conversation.closed && conversation.assignee.is_empty();
        conversation.waiting_since = if waits { conversation.waiting_since.or(Some(at)) } else { None };
    }
    Some(conversation)
}

/// Applies what `body` says; `false` when it says nothing to the desk.
fn fold(c: &mut Conversation, body: &Body) -> bool {
    match body {
        Body::MessageReceived(received) => {
            if c.closed {
                reopen(c);
            }
            c.preview = preview_of(&received.text);
        }
        Body::MessageRouted(routed) => routed_to(c, routed),
        Body::ReplyRequested(reply) => c.preview = preview_of(&reply.text),
        Body::ConversationAssigned(assigned) => {
            c.assignee.clone_from(&assigned.agent_id);
            if !assigned.queue.is_empty() {
                c.queue.clone_from(&assigned.queue);
            }
        }
        Body::ConversationReleased(released) if released.agent_id == c.assignee => c.assignee.clear(),
        Body::ConversationClaimed(claimed) => c.assignee.clone_from(&claimed.agent_id),
        Body::ConversationTransferred(moved) => {
            c.assignee.clone_from(&moved.to_agent);
            if !moved.queue.is_empty() {
                c.queue.clone_from(&moved.queue);
            }
            if c.routed == Routed::Bot {
                c.routed = Routed::Queued;
            }
        }
        Body::ConversationClosed(_) => {
            c.closed = true;
            c.paused = false;
            c.sla.clear();
        }
        // The customer's message reopened it already (and it starts over with the bot).
        Body::ConversationReopened(reopened) if reopened.by_customer => {}
        Body::ConversationReopened(_) => {
            // A person opened it again: it waits for people, whoever held it keeps it.
            c.closed = false;
            c.paused = false;
            if c.routed == Routed::Bot {
                c.routed = Routed::Queued;
            }
        }
        Body::SlaStarted(started) if started.metric != PENDING_CLOSE => {
            let target = Target { due_at: to_datetime(started.due_at.as_ref()), breached: false };
            c.sla.insert(started.metric.clone(), target);
        }
        Body::SlaBreached(breached) if breached.metric != PENDING_CLOSE => {
            let due_at = to_datetime(breached.due_at.as_ref());
            c.sla.insert(breached.metric.clone(), Target { due_at, breached: true });
        }
        Body::SlaMet(met) => {
            c.sla.remove(&met.metric);
        }
        Body::SlaPaused(_) => {
            // Running targets stop; the router starts them again on resume. Misses stay.
            c.paused = true;
            c.sla.retain(|_, target| target.breached);
        }
        Body::SlaResumed(_) => c.paused = false,
        Body::ConversationUpdated(updated) if updated.priority != 0 => c.priority = updated.priority,
        Body::ConversationUpdated(_) => {}
        // Nothing to keep but the change itself, for the inbox.
        Body::SlaWarning(_) => {}
        _ => return false,
    }
    true
}

/// What `body` changed, for the inbox: a conversation reaching people is new to them.
fn change_of(body: &Body, waited_for_people: bool, now: &Conversation) -> Change {
    let reaches_people = !waited_for_people && now.routed != Routed::Bot && !now.closed;
    match body {
        Body::MessageRouted(_) | Body::ConversationReopened(_) if reaches_people => Change::New,
        Body::ConversationAssigned(_) | Body::ConversationClaimed(_) => Change::Assigned,
        Body::ConversationTransferred(moved) if !moved.to_agent.is_empty() => Change::Assigned,
        Body::ConversationTransferred(_) => Change::New,
        Body::MessageReceived(_) => Change::CustomerReplied,
        Body::SlaWarning(_) => Change::SlaWarning,
        Body::SlaBreached(_) => Change::SlaBreached,
        _ => Change::Updated,
    }
}

fn routed_to(c: &mut Conversation, routed: &MessageRouted) {
    let wants_a_person = match routed.action() {
        RouteAction::Queue => Some(Routed::Queued),
        RouteAction::Escalate => Some(Routed::Escalated),
        // An automated answer does not take a conversation back from the people's queue.
        RouteAction::AutoReply | RouteAction::Unspecified => None,
    };
    if let Some(routed_to) = wants_a_person {
        c.routed = routed_to;
        c.handoff_reason = routed
            .handoff
            .as_ref()
            .map(|packet| packet.reason.clone())
            .filter(|reason| !reason.is_empty())
            .unwrap_or_else(|| routed.reason.clone());
    }
    if !routed.queue.is_empty() {
        c.queue.clone_from(&routed.queue);
    }
    if routed.priority != 0 {
        c.priority = routed.priority;
    }
    if !routed.language.is_empty() {
        c.language.clone_from(&routed.language);
    }
}

/// A customer wrote to a closed conversation: it starts over, with no one holding it.
fn reopen(c: &mut Conversation) {
    c.closed = false;
    c.paused = false;
    c.routed = Routed::Bot;
    c.assignee.clear();
    c.handoff_reason.clear();
    c.sla.clear();
}

pub fn preview_of(text: &str) -> String {
    text.chars().take(PREVIEW_CHARS).collect()
}

#[cfg(test)]
#[path = "conversation_tests.rs"]
mod tests;
