//! Given the events so far, when the plan is asked, then these events should follow.

use prost_types::Timestamp;
use switchboard_proto::events::v1::{SlaBreached, SlaPaused};

use super::*;

const C: &str = "c-1";
/// 2026-12-02T10:00:00Z.
const T0: i64 = 1_796_205_600;

fn event(id: &str, seconds: i64, body: Body) -> Event {
    Event {
        id: id.into(),
        tenant: "acme".into(),
        occurred_at: Some(Timestamp { seconds, nanos: 0 }),
        body: Some(body),
        ..Event::default()
    }
}

fn policy() -> SlaPolicy {
    SlaPolicy {
        name: "standard".into(),
        first_response_seconds: 3600,
        next_response_seconds: 1800,
        resolution_seconds: 86_400,
        ..SlaPolicy::default()
    }
}

fn routed(action: RouteAction, sla: Option<SlaPolicy>) -> Body {
    Body::MessageRouted(MessageRouted {
        conversation_id: C.into(),
        action: action.into(),
        sla,
        pending: Some(PendingPolicy { close_after_seconds: 600, last_notice_before_seconds: 60 }),
        ..MessageRouted::default()
    })
}

/// The clocks after `events`, each at sequence 1, 2, ...
fn given(events: &[Event]) -> State {
    let mut state = State::default();
    for (i, event) in events.iter().enumerate() {
        state.apply(event, i as u64 + 1);
    }
    state
}

fn when_planned(state: &State) -> Vec<Planned> {
    state.clocks.get(&scoped("acme", C)).map(|clocks| plan("acme", C, clocks)).unwrap_or_default()
}

fn metrics(planned: &[Planned]) -> Vec<String> {
    planned
        .iter()
        .map(|p| match &p.body {
            Body::SlaStarted(s) => format!("start {}", s.metric),
            Body::SlaMet(m) => format!("met {}", m.metric),
            Body::SlaResumed(_) => "resume".into(),
            other => format!("{other:?}"),
        })
        .collect()
}

/// The planned events, as published (with the ids their keys give).
fn published(planned: &[Planned], at: i64) -> Vec<Event> {
    planned.iter().map(|p| event(&p.key, at, p.body.clone())).collect()
}

fn met(metric: &str) -> Event {
    event("met", T0 + 60, Body::SlaMet(SlaMet { conversation_id: C.into(), metric: metric.into() }))
}

#[test]
fn given_a_decision_a_person_takes_with_a_policy_then_first_response_and_resolution_start_once() {
    let decision = event("d1", T0, routed(RouteAction::Queue, Some(policy())));
    let state = given(std::slice::from_ref(&decision));
    let planned = when_planned(&state);
    assert_eq!(metrics(&planned), ["start first_response", "start resolution"]);
    let Body::SlaStarted(first) = &planned[0].body else { panic!("a start") };
    assert_eq!(to_datetime(first.due_at.as_ref()).timestamp() - T0, 3600, "due an hour after the message");
    let mut history = vec![decision];
    history.extend(published(&planned, T0 + 1));
    assert!(when_planned(&given(&history)).is_empty(), "started: nothing more to do");
    history.push(event("d2", T0 + 5, routed(RouteAction::Queue, Some(policy()))));
    assert!(when_planned(&given(&history)).is_empty(), "once per conversation, not per message");
}

#[test]
fn given_no_policy_or_the_bot_answering_then_nothing_starts() {
    assert!(when_planned(&given(&[event("d1", T0, routed(RouteAction::Queue, None))])).is_empty());
    let bot = event("d1", T0, routed(RouteAction::AutoReply, Some(policy())));
    assert!(when_planned(&given(&[bot])).is_empty());
}

#[test]
fn given_an_agent_answered_when_the_customer_writes_again_then_a_next_response_starts() {
    let first = event("d1", T0, routed(RouteAction::Queue, Some(policy())));
    let mut history = vec![first.clone()];
    history.extend(published(&when_planned(&given(&history)), T0));
    history.push(met("first_response"));
    assert!(
        when_planned(&given(&history)).is_empty(),
        "the agent answered; the customer has not written since"
    );
    history.push(event("d2", T0 + 120, routed(RouteAction::Queue, Some(policy()))));
    let planned = when_planned(&given(&history));
    assert_eq!(metrics(&planned), ["start next_response"]);
    history.extend(published(&planned, T0 + 121));
    assert!(when_planned(&given(&history)).is_empty());
    history.push(met("next_response"));
    assert!(when_planned(&given(&history)).is_empty(), "met, and the customer has not written since");
}

#[test]
fn given_targets_paused_when_the_customer_writes_then_they_resume_with_the_time_left_and_the_closing_clock_stops()
 {
    let mut history = vec![event("d1", T0, routed(RouteAction::Queue, Some(policy())))];
    history.extend(published(&when_planned(&given(&history)), T0));
    history.push(met("first_response"));
    let state = given(&history);
    let clocks = &state.clocks[&scoped("acme", C)];
    let left = clocks.to_pause(DateTime::from_timestamp(T0 + 3600, 0).expect("a time"), &[]);
    assert_eq!(left.len(), 1);
    assert_eq!((left[0].metric.as_str(), left[0].remaining_seconds), ("resolution", 86_400 - 3600));
    history.push(event(
        "p",
        T0 + 3600,
        Body::SlaPaused(SlaPaused { conversation_id: C.into(), targets: left }),
    ));
    let planned = when_planned(&given(&history));
    assert_eq!(metrics(&planned), ["start pending_close"], "the clock that closes it if they never answer");
    let Body::SlaStarted(closing) = &planned[0].body else { panic!("a start") };
    let (due, warn) = (closing.due_at.as_ref(), closing.warn_at.as_ref());
    assert_eq!((to_datetime(due).timestamp(), to_datetime(warn).timestamp()), (T0 + 4200, T0 + 4140));
    history.extend(published(&planned, T0 + 3601));
    assert!(when_planned(&given(&history)).is_empty(), "waiting on the customer");

    history.push(event("d2", T0 + 4000, routed(RouteAction::Queue, Some(policy()))));
    let planned = when_planned(&given(&history));
    assert_eq!(metrics(&planned), ["met pending_close", "resume"]);
    history.extend(published(&planned, T0 + 4001));
    let planned = when_planned(&given(&history));
    assert_eq!(metrics(&planned), ["start resolution", "start next_response"]);
    let Body::SlaStarted(resolution) = &planned[0].body else { panic!("a start") };
    assert_eq!(
        to_datetime(resolution.due_at.as_ref()).timestamp(),
        T0 + 4000 + 86_400 - 3600,
        "the time it had left, from when the customer wrote"
    );
    history.extend(published(&planned, T0 + 4002));
    assert!(when_planned(&given(&history)).is_empty());
}

#[test]
fn given_a_breach_then_the_target_no_longer_runs_and_timers_know_the_next_moment() {
    let mut history = vec![event("d1", T0, routed(RouteAction::Queue, Some(policy())))];
    history.extend(published(&when_planned(&given(&history)), T0));
    let state = given(&history);
    assert_eq!(state.next().map(|at| at.timestamp()), Some(T0 + 3600 - 720), "the first warning");
    let due_at = Some(Timestamp { seconds: T0 + 3600, nanos: 0 });
    let breached = SlaBreached { conversation_id: C.into(), metric: "first_response".into(), due_at };
    history.push(event("b", T0 + 3600, Body::SlaBreached(breached)));
    let state = given(&history);
    let running: Vec<&String> = state.running().map(|(_, metric, _)| metric).collect();
    assert_eq!(running, ["resolution"]);
}

#[test]
fn given_two_tenants_with_one_conversation_id_then_each_has_its_own_clocks() {
    let acme = event("d1", T0, routed(RouteAction::Queue, Some(policy())));
    let globex = Event { tenant: "globex".into(), id: "d2".into(), ..acme.clone() };
    let mut state = given(&[acme]);
    state.apply(&globex, 2);
    let started = published(&when_planned(&state), T0);
    for (event, sequence) in started.iter().zip(3..) {
        state.apply(event, sequence);
    }
    assert!(when_planned(&state).is_empty(), "acme's started");
    let globex_clocks = &state.clocks[&scoped("globex", C)];
    assert_eq!(plan("globex", C, globex_clocks).len(), 2, "globex's still to start");
}

#[test]
fn given_targets_paused_when_a_person_resumes_then_they_run_from_then_with_the_time_left() {
    let mut history = vec![event("d1", T0, routed(RouteAction::Queue, Some(policy())))];
    history.extend(published(&when_planned(&given(&history)), T0));
    history.push(met("first_response"));
    let left = given(&history).clocks[&scoped("acme", C)]
        .to_pause(DateTime::from_timestamp(T0 + 3600, 0).expect("a time"), &[]);
    history.push(event(
        "p",
        T0 + 3600,
        Body::SlaPaused(SlaPaused { conversation_id: C.into(), targets: left }),
    ));
    history.push(event("r", T0 + 5000, Body::SlaResumed(SlaResumed { conversation_id: C.into() })));
    let planned = when_planned(&given(&history));
    let resolution = planned.iter().find_map(|p| match &p.body {
        Body::SlaStarted(started) if started.metric == "resolution" => Some(started.clone()),
        _ => None,
    });
    let due = resolution.expect("resolution runs again").due_at;
    assert_eq!(
        to_datetime(due.as_ref()).timestamp(),
        T0 + 5000 + 86_400 - 3600,
        "from the resume, not the last message"
    );
}

#[test]
fn given_conversations_only_the_bot_answered_then_no_clocks_are_kept_for_them() {
    let answered = |id: &str, conversation: &str| {
        let mut body = routed(RouteAction::AutoReply, None);
        if let Body::MessageRouted(routed) = &mut body {
            routed.conversation_id = conversation.into();
        }
        event(id, T0, body)
    };
    let state = given(&[answered("d1", "bot-1"), answered("d2", "bot-2"), answered("d3", "bot-1")]);
    assert!(state.clocks.is_empty(), "{:?}", state.clocks.keys());

    let taken = event("d4", T0 + 60, routed(RouteAction::Queue, Some(policy())));
    let state = given(&[answered("d1", C), taken.clone()]);
    assert_eq!(state.clocks.len(), 1, "a conversation a person takes is kept");
    let bodies = |planned: Vec<Planned>| planned.into_iter().map(|p| p.body).collect::<Vec<_>>();
    assert_eq!(
        bodies(when_planned(&state)),
        bodies(when_planned(&given(&[taken]))),
        "the bot's turns before change nothing (but the sequence the ids derive from)"
    );
}

#[test]
fn given_a_bot_only_conversation_not_kept_when_a_person_sets_it_waiting_then_the_closing_clock_starts() {
    let answered = event("d1", T0, routed(RouteAction::AutoReply, None));
    let paused = SlaPaused { conversation_id: C.into(), targets: Vec::new() };
    let state = given(&[answered, event("p1", T0 + 60, Body::SlaPaused(paused))]);
    assert_eq!(metrics(&when_planned(&state)), ["start pending_close"]);
}

fn closed() -> Event {
    let closed =
        ConversationClosed { conversation_id: C.into(), reason: "resolved".into(), ..Default::default() };
    event("closed", T0 + 120, Body::ConversationClosed(closed))
}

#[test]
fn given_a_conversation_people_worked_when_it_closes_then_its_clocks_are_not_kept() {
    let decision = event("d1", T0, routed(RouteAction::Queue, Some(policy())));
    let mut events = vec![decision.clone()];
    events.extend(published(&plan("acme", C, &given(&[decision]).clocks[&scoped("acme", C)]), T0 + 1));
    events.push(met("first_response"));
    let state = given(&events);
    assert_eq!(state.running().count(), 1, "resolution runs until it closes");

    events.push(closed());
    let state = given(&events);
    assert!(state.clocks.is_empty(), "{:?}", state.clocks);
    assert_eq!(state.next(), None, "nothing of a closed conversation comes due");
}

#[test]
fn given_a_closed_conversation_when_a_late_target_event_comes_then_nothing_is_kept_for_it() {
    let decision = event("d1", T0, routed(RouteAction::Queue, Some(policy())));
    let started = published(
        &plan("acme", C, &given(std::slice::from_ref(&decision)).clocks[&scoped("acme", C)]),
        T0 + 1,
    );
    let state = given(&[decision, closed(), started[0].clone(), met("resolution")]);
    assert!(state.clocks.is_empty(), "{:?}", state.clocks);
}

#[test]
fn given_a_closed_conversation_when_the_customer_reopens_it_then_its_targets_start_under_new_ids() {
    let first = event("d1", T0, routed(RouteAction::Queue, Some(policy())));
    let first_life = plan("acme", C, &given(std::slice::from_ref(&first)).clocks[&scoped("acme", C)]);
    let mut events = vec![first];
    events.extend(published(&first_life, T0 + 1));
    events.push(closed());
    events.push(event("d2", T0 + 600, routed(RouteAction::Queue, Some(policy()))));
    let state = given(&events);

    let second_life = when_planned(&state);
    assert_eq!(metrics(&second_life), ["start first_response", "start resolution"]);
    let keys = |planned: &[Planned]| planned.iter().map(|p| p.key.clone()).collect::<Vec<_>>();
    for key in keys(&second_life) {
        assert!(!keys(&first_life).contains(&key), "{key} was the first life's: JetStream would drop it");
    }
}

#[test]
fn given_running_and_paused_clocks_when_saved_and_read_back_then_they_are_the_same()
-> Result<(), serde_json::Error> {
    let decision = event("d1", T0, routed(RouteAction::Queue, Some(policy())));
    let mut events = vec![decision.clone()];
    events.extend(published(&when_planned(&given(&[decision])), T0 + 1));
    let other = {
        let mut body = routed(RouteAction::Escalate, Some(policy()));
        if let Body::MessageRouted(routed) = &mut body {
            routed.conversation_id = "c-2".into();
        }
        event("d2", T0 + 5, body)
    };
    events.push(other);
    let target =
        PausedTarget { metric: "resolution".into(), policy: "standard".into(), remaining_seconds: 5000 };
    events.push(event(
        "p1",
        T0 + 60,
        Body::SlaPaused(SlaPaused { conversation_id: C.into(), targets: vec![target] }),
    ));
    let state = given(&events);
    assert_eq!(state.clocks.len(), 2);

    let read: State = serde_json::from_slice(&serde_json::to_vec(&state)?)?;
    assert_eq!(read, state);
    assert_eq!(when_planned(&read), when_planned(&state));
    Ok(())
}
