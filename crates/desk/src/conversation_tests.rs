//! Given events, when one more comes, then the conversation stands so.

use prost_types::Timestamp;
use switchboard_proto::events::v1::{
    Channel, ConversationAssigned, ConversationClaimed, ConversationClosed, ConversationReleased,
    HandoffPacket, Priority, ReplyRequested, SlaBreached, SlaMet, SlaPaused, SlaResumed, SlaStarted,
};

use super::*;

const C: &str = "c-1";

fn event(body: Body) -> Event {
    Event {
        tenant: "acme".into(),
        occurred_at: Some(Timestamp { seconds: 1_700_000_000, nanos: 0 }),
        body: Some(body),
        ..Event::default()
    }
}

/// Folds `bodies` in order, at sequences 1, 2, ...
fn given(bodies: Vec<Body>) -> Option<Conversation> {
    bodies.into_iter().enumerate().fold(None, |state, (i, body)| apply(state, &event(body), i as u64 + 1))
}

fn received(text: &str) -> Body {
    Body::MessageReceived(MessageReceived {
        conversation_id: C.into(),
        customer_id: "cus-1".into(),
        channel: Channel::Web.into(),
        text: text.into(),
        ..Default::default()
    })
}

fn routed(action: RouteAction, handoff_reason: &str) -> Body {
    Body::MessageRouted(MessageRouted {
        conversation_id: C.into(),
        action: action.into(),
        queue: "general".into(),
        priority: Priority::High.into(),
        reason: "rule human-request matched".into(),
        language: "en".into(),
        handoff: (!handoff_reason.is_empty())
            .then(|| HandoffPacket { reason: handoff_reason.into(), ..Default::default() }),
        ..Default::default()
    })
}

fn sla_started(metric: &str, due_seconds: i64) -> Body {
    Body::SlaStarted(SlaStarted {
        conversation_id: C.into(),
        metric: metric.into(),
        due_at: Some(Timestamp { seconds: due_seconds, nanos: 0 }),
        ..Default::default()
    })
}

fn claimed(agent: &str) -> Body {
    Body::ConversationClaimed(ConversationClaimed {
        conversation_id: C.into(),
        agent_id: agent.into(),
        ..ConversationClaimed::default()
    })
}

fn closed() -> Body {
    Body::ConversationClosed(ConversationClosed { conversation_id: C.into(), ..Default::default() })
}

fn status(bodies: Vec<Body>) -> Status {
    given(bodies).expect("a conversation").status()
}

#[test]
fn a_first_message_opens_a_conversation_with_its_preview() {
    let c = given(vec![received(&"x".repeat(200))]).expect("a conversation");
    assert_eq!((c.status(), c.customer_id.as_str(), c.channel), (Status::Open, "cus-1", Channel::Web as i32));
    assert_eq!(c.preview.chars().count(), PREVIEW_CHARS);
    assert_eq!((c.sequence, c.created_at.timestamp()), (1, 1_700_000_000));
}

#[test]
fn events_of_an_unknown_conversation_are_ignored() {
    assert_eq!(given(vec![claimed("ana")]), None);
}

#[test]
fn routing_to_a_person_queues_or_escalates_with_the_handoff_reason() {
    let c = given(vec![received("a person please"), routed(RouteAction::Escalate, "customer_asked")])
        .expect("a conversation");
    assert_eq!(c.status(), Status::Escalated);
    assert_eq!(
        (c.handoff_reason.as_str(), c.queue.as_str(), c.language.as_str()),
        ("customer_asked", "general", "en")
    );
    assert_eq!(c.priority, Priority::High as i32);
    let queued = given(vec![received("hi"), routed(RouteAction::Queue, "")]).expect("a conversation");
    assert_eq!(
        (queued.status(), queued.handoff_reason.as_str()),
        (Status::Queued, "rule human-request matched")
    );
}

#[test]
fn an_automated_answer_does_not_take_a_conversation_from_the_queue() {
    let bodies = vec![received("hi"), routed(RouteAction::Queue, ""), routed(RouteAction::AutoReply, "")];
    assert_eq!(status(bodies), Status::Queued);
}

#[test]
fn replies_update_the_preview() {
    let reply = Body::ReplyRequested(ReplyRequested {
        conversation_id: C.into(),
        text: "On its way".into(),
        ..Default::default()
    });
    assert_eq!(given(vec![received("where?"), reply]).expect("a conversation").preview, "On its way");
}

#[test]
fn assignment_claims_and_releases_set_the_assignee() {
    let assigned = Body::ConversationAssigned(ConversationAssigned {
        conversation_id: C.into(),
        agent_id: "bob".into(),
        ..Default::default()
    });
    let release = |agent: &str| {
        Body::ConversationReleased(ConversationReleased { conversation_id: C.into(), agent_id: agent.into() })
    };
    let c = given(vec![received("hi"), routed(RouteAction::Queue, ""), assigned.clone()]).expect("one");
    assert_eq!((c.status(), c.assignee.as_str()), (Status::Assigned, "bob"));
    let c = given(vec![received("hi"), claimed("ana"), release("bob")]).expect("one");
    assert_eq!(c.assignee, "ana", "another agent's release leaves the holder");
    let c =
        given(vec![received("hi"), routed(RouteAction::Queue, ""), assigned, release("bob")]).expect("one");
    assert_eq!((c.status(), c.assignee.as_str()), (Status::Queued, ""));
}

#[test]
fn waiting_on_the_customer_is_pending_until_they_write_or_it_closes() {
    let paused = || Body::SlaPaused(SlaPaused { conversation_id: C.into(), targets: vec![] });
    let resumed = Body::SlaResumed(SlaResumed { conversation_id: C.into() });
    assert_eq!(status(vec![received("hi"), claimed("ana"), paused()]), Status::Pending);
    assert_eq!(status(vec![received("hi"), claimed("ana"), paused(), resumed]), Status::Assigned);
    assert_eq!(status(vec![received("hi"), claimed("ana"), paused(), closed()]), Status::Resolved);
}

#[test]
fn a_message_to_a_resolved_conversation_opens_it_again_for_anyone() {
    let c = given(vec![
        received("hi"),
        routed(RouteAction::Escalate, "customer_asked"),
        claimed("ana"),
        closed(),
        received("again"),
    ])
    .expect("one");
    assert_eq!((c.status(), c.assignee.as_str(), c.handoff_reason.as_str()), (Status::Open, "", ""));
}

#[test]
fn the_due_time_is_the_earliest_target_not_met() {
    let met = Body::SlaMet(SlaMet { conversation_id: C.into(), metric: "first_response".into() });
    let c =
        given(vec![received("hi"), sla_started("resolution", 2_000), sla_started("first_response", 1_000)])
            .expect("one");
    assert_eq!(c.sla_due_at().map(|at| at.timestamp()), Some(1_000));
    let c = given(vec![
        received("hi"),
        sla_started("resolution", 2_000),
        sla_started("first_response", 1_000),
        met,
    ])
    .expect("one");
    assert_eq!(c.sla_due_at().map(|at| at.timestamp()), Some(2_000));
    let pending_close = given(vec![received("hi"), sla_started("pending_close", 500)]).expect("one");
    assert_eq!(pending_close.sla_due_at(), None, "the auto-close clock is no target");
}

#[test]
fn a_breach_stays_overdue_until_met_and_pausing_stops_the_running_targets() {
    let breached = Body::SlaBreached(SlaBreached {
        conversation_id: C.into(),
        metric: "first_response".into(),
        due_at: Some(Timestamp { seconds: 1_000, nanos: 0 }),
    });
    let paused = Body::SlaPaused(SlaPaused { conversation_id: C.into(), targets: vec![] });
    let c = given(vec![
        received("hi"),
        sla_started("first_response", 1_000),
        sla_started("resolution", 9_000),
        breached,
        paused,
    ])
    .expect("one");
    assert!(c.sla_breached());
    assert_eq!(c.sla.keys().collect::<Vec<_>>(), ["first_response"]);
}

#[test]
fn an_event_folded_twice_changes_nothing() {
    let once = given(vec![received("hi"), claimed("ana")]).expect("one");
    let again = apply(Some(once.clone()), &event(claimed("bob")), 2);
    assert_eq!(again, Some(once));
}

#[test]
fn a_person_reopens_a_resolved_conversation_into_the_people_s_queue() {
    let reopened = Body::ConversationReopened(switchboard_proto::events::v1::ConversationReopened {
        conversation_id: C.into(),
        author: "agent:ana".into(),
        ..Default::default()
    });
    // Automation had resolved it: reopened, it waits for people.
    assert_eq!(status(vec![received("hi"), closed(), reopened.clone()]), Status::Queued);
    let escalated = vec![received("a person"), routed(RouteAction::Escalate, "asked"), closed(), reopened];
    assert_eq!(status(escalated), Status::Escalated);
}
