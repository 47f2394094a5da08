//! Given a conversation's facts and an agent's state, when a change of hands is asked, then it
//! is appended with the right guard, or refused with a reason a person understands.

use switchboard_proto::events::v1::AgentUpdated;

use super::*;
use crate::assign::Presence;

fn open() -> Facts {
    Facts {
        last_message: Some(10),
        channel: "web".into(),
        queue: "billing".into(),
        row_sequence: 11,
        ..Facts::default()
    }
}

fn ana(capacity: u32) -> Agent {
    let profile = AgentUpdated {
        agent_id: "ana".into(),
        available: true,
        queues: vec!["billing".into()],
        capacity: [("web".to_string(), capacity)].into(),
        ..AgentUpdated::default()
    };
    Agent { profile, ..Agent::default() }
}

fn to(agent: &str, queue: &str) -> Move {
    Move {
        to_agent: agent.into(),
        queue: queue.into(),
        by: "agent:sue".into(),
        note: "VIP".into(),
        ..Move::default()
    }
}

#[test]
fn given_an_unheld_conversation_when_assigned_then_the_transfer_expects_no_change_of_hands_before() {
    let Ok(Decision::Append(moved, expected)) = decide("c", &open(), &to("ana", "")) else {
        panic!("an assignment is appended")
    };
    assert_eq!(expected, Expected::Empty);
    assert_eq!((moved.from_agent.as_str(), moved.to_agent.as_str()), ("", "ana"));
    assert_eq!(
        (moved.queue.as_str(), moved.channel.as_str(), moved.note.as_str()),
        ("billing", "web", "VIP")
    );
}

#[test]
fn given_a_claimed_conversation_when_sent_to_a_queue_then_it_leaves_its_holder_guarded_by_the_claim() {
    let held = Facts { last_claim: Some(("bob".into(), 12)), ..open() };
    let Ok(Decision::Append(moved, expected)) = decide("c", &held, &to("", "returns")) else {
        panic!("a transfer is appended")
    };
    assert_eq!(expected, Expected::Sequence(12));
    assert_eq!(
        (moved.from_agent.as_str(), moved.to_agent.as_str(), moved.queue.as_str()),
        ("bob", "", "returns")
    );
}

#[test]
fn given_a_conversation_already_where_asked_then_nothing_is_appended() {
    let held = Facts { last_claim: Some(("bob".into(), 12)), ..open() };
    assert!(matches!(decide("c", &held, &to("bob", "billing")), Ok(Decision::Nothing { .. })));
    assert!(matches!(decide("c", &open(), &to("", "")), Ok(Decision::Nothing { .. })));
}

#[test]
fn given_an_unknown_or_closed_conversation_then_it_is_refused() {
    assert!(matches!(decide("c", &Facts::default(), &to("ana", "")), Err(Error::NotFound(_))));
    let closed = Facts { last_closed: Some(11), ..open() };
    assert!(matches!(decide("c", &closed, &to("ana", "")), Err(Error::Resolved(_))));
}

#[test]
fn given_an_automatic_assignment_newer_than_the_last_transfer_then_its_agent_holds_it() {
    let reassigned = Facts {
        last_claim: Some((String::new(), 12)),
        assignee: Some("carl".into()),
        row_sequence: 14,
        ..open()
    };
    assert_eq!(reassigned.holder().0, Some("carl"));
    let stale = Facts { row_sequence: 11, ..reassigned };
    assert_eq!(stale.holder().0, None, "the read model has not seen the transfer yet");
}

#[test]
fn an_agent_with_room_takes_one_and_one_at_capacity_is_refused_with_the_figures() {
    assert!(may_take("ana", Some(&ana(1)), "web", false).is_ok());
    let mut full = ana(1);
    full.active.insert("c-9".into(), "web".into());
    let refused = may_take("ana", Some(&full), "web", true).expect_err("at capacity");
    assert!(refused.to_string().contains("no room for another web conversation (capacity 1)"), "{refused}");
    let refused = may_take("ana", Some(&ana(1)), "email", false).expect_err("no email capacity");
    assert!(matches!(refused, Error::AtCapacity { capacity: 0, .. }), "{refused}");
}

#[test]
fn away_and_offline_agents_take_nothing_and_unknown_ones_are_not_given_anything() {
    let mut away = ana(3);
    away.presence = Some((Presence::Away, chrono::Utc::now()));
    let refused = may_take("ana", Some(&away), "web", true).expect_err("away");
    assert!(refused.to_string().contains("away"), "{refused}");
    let unknown = may_take("zed", None, "web", false).expect_err("unknown");
    assert!(unknown.to_string().contains("PutAgent"), "{unknown}");
    assert!(may_take("zed", None, "web", true).is_ok(), "someone unknown may take one themself");
    let mut back = away;
    back.presence = Some((Presence::Online, chrono::Utc::now()));
    back.profile.available = false;
    assert!(may_take("ana", Some(&back), "web", false).is_ok(), "presence says more than the profile");
}
