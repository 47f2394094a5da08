//! Given agents and events, when the plan is asked, then conversations go to these agents.

use switchboard_bus::Draft;
use switchboard_proto::events::v1::{
    AgentPresenceChanged, ConversationAssigned, ConversationClaimed, ConversationReleased,
};

use super::*;

fn agent(id: &str, capacity: u32, last: u64) -> (Scoped, Agent) {
    agent_of("acme", id, capacity, last)
}

fn agent_of(tenant: &str, id: &str, capacity: u32, last: u64) -> (Scoped, Agent) {
    let profile = AgentUpdated {
        agent_id: id.into(),
        available: true,
        queues: vec!["billing".into()],
        languages: vec!["en".into()],
        skills: vec![],
        capacity: [("web".to_string(), capacity)].into(),
    };
    (scoped(tenant, id), Agent { profile, last_assigned: last, ..Agent::default() })
}

fn waiting(id: &str, strategy: &str) -> Waiting {
    Waiting {
        tenant: "acme".into(),
        conversation_id: id.into(),
        queue: "billing".into(),
        channel: "web".into(),
        language: "en".into(),
        skills: vec![],
        strategy: strategy.into(),
        since: 0,
    }
}

#[test]
fn round_robin_takes_the_agent_assigned_longest_ago_and_capacity_holds() {
    let mut state = State::default();
    state.agents.extend([agent("a", 1, 5), agent("b", 1, 2)]);
    state.waiting =
        vec![waiting("c1", "round_robin"), waiting("c2", "round_robin"), waiting("c3", "round_robin")];
    let plans: Vec<(String, String)> =
        state.plan().into_iter().map(|(w, a, _)| (w.conversation_id, a)).collect();
    assert_eq!(plans, [("c1".to_string(), "b".to_string()), ("c2".to_string(), "a".to_string())], "c3 waits");
}

#[test]
fn least_loaded_language_and_skills_are_respected() {
    let mut state = State::default();
    let (a, mut busy) = agent("busy", 3, 0);
    busy.active.insert("x".into(), "web".into());
    state.agents.insert(a, busy);
    state.agents.extend([agent("idle", 3, 9)]);
    state.waiting = vec![waiting("c1", "least_loaded")];
    assert_eq!(state.plan()[0].1, "idle");
    let mut german = waiting("c2", "least_loaded");
    german.language = "de".into();
    state.waiting = vec![german];
    assert!(state.plan().is_empty(), "nobody speaks German");
}

#[test]
fn given_agents_of_one_name_in_two_tenants_when_a_conversation_waits_then_only_its_tenants_agent_takes_it() {
    let mut state = State::default();
    state.agents.extend([agent_of("acme", "ana", 1, 0), agent_of("globex", "ana", 1, 9)]);
    let globex = Waiting { tenant: "globex".into(), ..waiting("c1", "round_robin") };
    state.waiting = vec![globex];
    let plans = state.plan();
    assert_eq!(plans.len(), 1);
    assert_eq!(plans[0].0.tenant, "globex");
    let chosen = scoped(&plans[0].0.tenant, &plans[0].1);
    assert_eq!(chosen, scoped("globex", "ana"), "not acme's ana, though assigned longer ago");
    state.agents.retain(|(tenant, _), _| tenant == "acme");
    assert!(state.plan().is_empty(), "acme's agent never takes globex's conversation");
}

#[test]
fn given_two_tenants_assigning_one_conversation_id_when_folded_then_each_is_held_by_its_own_agent() {
    let mut state = State::default();
    let assigned = |tenant: &str, agent: &str| {
        let body = Body::ConversationAssigned(ConversationAssigned {
            conversation_id: "c1".into(),
            agent_id: agent.into(),
            queue: "billing".into(),
            channel: "web".into(),
            strategy: "round_robin".into(),
        });
        Draft::new(tenant, agent, body).build().expect("a valid event")
    };
    assert!(state.apply(&assigned("acme", "ana"), 1));
    assert!(state.apply(&assigned("globex", "ben"), 2));
    assert_eq!(state.assigned.get(&scoped("acme", "c1")).map(String::as_str), Some("ana"));
    assert_eq!(state.assigned.get(&scoped("globex", "c1")).map(String::as_str), Some("ben"));
    let released = Body::ConversationReleased(ConversationReleased {
        conversation_id: "c1".into(),
        agent_id: "ana".into(),
    });
    state.apply(&Draft::new("acme", "ana", released).build().expect("a valid event"), 3);
    assert!(!state.assigned.contains_key(&scoped("acme", "c1")));
    assert!(state.assigned.contains_key(&scoped("globex", "c1")), "globex's stays held");
}

/// `agent` claims acme's web conversation `c1`.
fn claimed_by(agent: &str) -> Event {
    let claimed = Body::ConversationClaimed(ConversationClaimed {
        conversation_id: "c1".into(),
        agent_id: agent.into(),
        channel: "web".into(),
    });
    Draft::new("acme", "c1", claimed).build().expect("a valid event")
}

#[test]
fn given_a_waiting_conversation_when_an_agent_claims_it_then_it_waits_no_more_and_is_held() {
    let mut state = State { waiting: vec![waiting("c1", "round_robin")], ..State::default() };
    state.agents.extend([agent("ana", 1, 0)]);
    assert!(state.apply(&claimed_by("bob"), 1));
    assert!(state.plan().is_empty(), "a claimed conversation is not assigned again");
    assert_eq!(state.assigned.get(&scoped("acme", "c1")).map(String::as_str), Some("bob"));
}

#[test]
fn given_a_claim_when_folded_then_it_counts_against_the_claimants_capacity() {
    let mut state = State { waiting: vec![waiting("c2", "round_robin")], ..State::default() };
    state.agents.extend([agent("ana", 1, 0)]);
    state.apply(&claimed_by("ana"), 1);
    assert!(state.plan().is_empty(), "ana's one web seat is taken by her claim");
}

fn transferred(from: &str, to: &str, queue: &str) -> Event {
    let body = Body::ConversationTransferred(ConversationTransferred {
        conversation_id: "c1".into(),
        from_agent: from.into(),
        to_agent: to.into(),
        queue: queue.into(),
        channel: "web".into(),
        by: "agent:sue".into(),
        note: String::new(),
    });
    Draft::new("acme", "c1", body).build().expect("a valid event")
}

fn routed_for_assignment() -> Event {
    let body = Body::MessageRouted(MessageRouted {
        conversation_id: "c1".into(),
        action: RouteAction::Queue.into(),
        queue: "billing".into(),
        channel: Channel::Web.into(),
        language: "en".into(),
        assignment: "round_robin".into(),
        ..MessageRouted::default()
    });
    Draft::new("acme", "c1", body).build().expect("a valid event")
}

#[test]
fn given_a_held_conversation_when_transferred_then_capacity_moves_with_it() {
    let mut state = State::default();
    state.agents.extend([agent("ana", 1, 0), agent("bob", 1, 0)]);
    state.apply(&transferred("", "ana", "billing"), 1);
    assert_eq!(state.agents[&scoped("acme", "ana")].load_on("web"), 1);
    state.apply(&transferred("ana", "bob", "billing"), 2);
    assert_eq!(state.agents[&scoped("acme", "ana")].load_on("web"), 0);
    assert_eq!(state.agents[&scoped("acme", "bob")].load_on("web"), 1);
    assert_eq!(state.assigned.get(&scoped("acme", "c1")).map(String::as_str), Some("bob"));
}

#[test]
fn given_a_conversation_routed_for_assignment_when_sent_back_to_a_queue_then_it_waits_there_again() {
    let mut state = State::default();
    state.apply(&routed_for_assignment(), 1);
    state.apply(&transferred("", "ana", "billing"), 2);
    assert!(state.waiting.is_empty(), "ana has it");
    state.apply(&transferred("ana", "", "returns"), 3);
    assert_eq!(state.waiting.iter().map(|w| w.queue.as_str()).collect::<Vec<_>>(), ["returns"]);
    assert!(!state.assigned.contains_key(&scoped("acme", "c1")));
}

#[test]
fn given_agents_who_went_away_or_offline_then_they_are_given_nothing() {
    let mut state = State { waiting: vec![waiting("c1", "round_robin")], ..State::default() };
    state.agents.extend([agent("ana", 1, 0)]);
    let presence = |said: &str| {
        let body = Body::AgentPresenceChanged(AgentPresenceChanged {
            agent_id: "ana".into(),
            presence: said.into(),
        });
        Draft::new("acme", "ana", body).build().expect("a valid event")
    };
    state.apply(&presence("away"), 1);
    assert!(state.plan().is_empty(), "ana is away");
    state.apply(&presence("online"), 2);
    assert_eq!(state.plan().len(), 1);
}

fn assigned_to(agent: &str) -> Event {
    let body = Body::ConversationAssigned(ConversationAssigned {
        conversation_id: "c1".into(),
        agent_id: agent.into(),
        queue: "billing".into(),
        channel: "web".into(),
        strategy: "round_robin".into(),
    });
    Draft::new("acme", agent, body).build().expect("a valid event")
}

#[test]
fn given_an_assigned_conversation_when_another_agent_claims_it_then_the_first_gets_their_seat_back() {
    let mut state = State::default();
    state.agents.extend([agent("ana", 1, 0), agent("bob", 1, 0)]);
    state.apply(&assigned_to("bob"), 1);
    state.apply(&claimed_by("ana"), 2);
    assert_eq!(state.agents[&scoped("acme", "bob")].load_on("web"), 0, "bob's seat is free again");
    assert_eq!(state.agents[&scoped("acme", "ana")].load_on("web"), 1);
    // A late release naming bob leaves ana holding it.
    let released = Body::ConversationReleased(ConversationReleased {
        conversation_id: "c1".into(),
        agent_id: "bob".into(),
    });
    state.apply(&Draft::new("acme", "bob", released).build().expect("a valid event"), 3);
    assert_eq!(state.assigned.get(&scoped("acme", "c1")).map(String::as_str), Some("ana"));
}

#[test]
fn given_a_conversation_back_in_a_queue_then_its_new_wait_is_told_apart_from_the_first() {
    let mut state = State::default();
    state.apply(&routed_for_assignment(), 1);
    assert_eq!(state.waiting[0].since, 1);
    state.apply(&assigned_to("ana"), 2);
    state.apply(&transferred("ana", "", "billing"), 5);
    assert_eq!(
        state.waiting.iter().map(|w| w.since).collect::<Vec<_>>(),
        [5],
        "a second assignment has its own key"
    );
}

#[test]
fn given_agents_holding_and_waiting_conversations_when_saved_and_read_back_then_the_fold_is_the_same()
-> Result<(), serde_json::Error> {
    let mut state = State::default();
    let (id, mut ana) = agent("ana", 2, 7);
    ana.active.insert("c1".into(), "web".into());
    ana.presence =
        Some((Presence::Away, chrono::DateTime::from_timestamp(1_796_205_600, 0).unwrap_or_default()));
    state.agents.insert(id, ana);
    state.agents.extend([agent("bo", 1, 3)]);
    state.assigned.insert(scoped("acme", "c1"), "ana".into());
    state.waiting = vec![waiting("c2", "least_loaded")];
    state.asked.insert(scoped("acme", "c2"), waiting("c2", "least_loaded"));
    let release = Release {
        tenant: "acme".into(),
        conversation_id: "c0".into(),
        agent_id: "bo".into(),
        closing: "e9".into(),
    };
    state.to_release = vec![release];
    state.folded = 42;

    let read: State = serde_json::from_slice(&serde_json::to_vec(&state)?)?;
    assert_eq!(read, state);
    assert_eq!(read.plan(), state.plan());
    Ok(())
}
