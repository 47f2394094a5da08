//! What a customer's message to a closed conversation does, as a pure function of the
//! conversation's last lifecycle event: within the reopen window it reopens the conversation
//! (and the reopening is counted); later it starts a new conversation, so that an old thread
//! does not bring back a case closed long ago.

use std::time::Duration;

use chrono::{DateTime, Utc};
use switchboard_proto::{
    events::v1::{ConversationClosed, ConversationReopened, Event, event::Body},
    time::to_datetime,
};

/// Where a message to an existing conversation goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Continuation {
    /// The conversation is open: the message joins it.
    Joins,
    /// It closed within the window: the message joins and reopens it. `closing` is the closing
    /// event's id (a closing is reopened once, however many messages come).
    Reopens { closed: ConversationClosed, closing: String },
    /// It closed longer ago than the window: the message goes to the conversation that continues
    /// it, [`continued_id`], which the first such message starts.
    StartsAnew { closing: String },
}

/// Where a message goes, given the conversation's last lifecycle event (closed or reopened).
pub fn continuation(last_lifecycle: Option<&Event>, now: DateTime<Utc>, window: Duration) -> Continuation {
    let Some(event) = last_lifecycle else { return Continuation::Joins };
    let Some(Body::ConversationClosed(closed)) = &event.body else { return Continuation::Joins };
    let closed_at = to_datetime(event.occurred_at.as_ref());
    let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
    let closing = event.id.clone();
    if now.signed_duration_since(closed_at) <= window {
        Continuation::Reopens { closed: closed.clone(), closing }
    } else {
        Continuation::StartsAnew { closing }
    }
}

/// The conversation that continues `conversation_id` after its closing `closing`: the same for
/// every message that comes after the window (so they all land in one new conversation, retries
/// and several replicas included).
pub fn continued_id(tenant: &str, conversation_id: &str, closing: &str) -> String {
    switchboard_bus::key_id(&format!("{tenant}/continued/{conversation_id}/{closing}")).to_string()
}

/// The reopening a customer's message made.
pub fn reopened_by(customer_id: &str, closed: &ConversationClosed) -> ConversationReopened {
    ConversationReopened {
        conversation_id: closed.conversation_id.clone(),
        author: format!("customer:{customer_id}"),
        reason: "the customer wrote again".into(),
        by_customer: true,
        channel: closed.channel,
        handled_by: closed.handled_by.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_bus::Draft;
    use switchboard_proto::time::to_timestamp;

    const WEEK: Duration = Duration::from_secs(7 * 24 * 3600);

    fn closed_at(at: DateTime<Utc>) -> Event {
        let closed = ConversationClosed {
            conversation_id: "c".into(),
            handled_by: "bot".into(),
            ..ConversationClosed::default()
        };
        let mut event = Draft::new("acme", "c", Body::ConversationClosed(closed)).build().expect("an event");
        event.occurred_at = Some(to_timestamp(at));
        event
    }

    #[test]
    fn given_an_open_conversation_then_the_message_joins_it() {
        assert_eq!(continuation(None, Utc::now(), WEEK), Continuation::Joins);
        let reopened =
            ConversationReopened { conversation_id: "c".into(), ..ConversationReopened::default() };
        let event = Draft::new("acme", "c", Body::ConversationReopened(reopened)).build().expect("an event");
        assert_eq!(continuation(Some(&event), Utc::now(), WEEK), Continuation::Joins);
    }

    #[test]
    fn given_a_closing_within_the_window_then_the_message_reopens_and_beyond_it_starts_anew() {
        let now = Utc::now();
        let recent = closed_at(now - chrono::Duration::days(2));
        let Continuation::Reopens { closed, closing } = continuation(Some(&recent), now, WEEK) else {
            panic!("reopens")
        };
        assert_eq!(closing, recent.id);
        let reopened = reopened_by("pat", &closed);
        assert!(reopened.by_customer && reopened.author == "customer:pat" && reopened.handled_by == "bot");
        let old = closed_at(now - chrono::Duration::days(8));
        assert_eq!(continuation(Some(&old), now, WEEK), Continuation::StartsAnew { closing: old.id.clone() });
    }

    #[test]
    fn every_message_after_the_window_goes_to_one_continuation_per_closing() {
        let first = continued_id("acme", "c", "closing-1");
        assert_eq!(first, continued_id("acme", "c", "closing-1"));
        assert_ne!(first, continued_id("acme", "c", "closing-2"));
        assert_ne!(first, continued_id("globex", "c", "closing-1"));
        assert!(switchboard_bus::is_aggregate_id(&first));
    }
}
