//! Assignment: conversations a rule asks to assign wait for an available agent who works the
//! queue, speaks the conversation's language, has the rule's skills and free capacity on the
//! channel; `round_robin` picks the one assigned longest ago, `least_loaded` the one with the
//! fewest conversations. Every replica folds agent, assignment and routing events; a change
//! (an agent coming online, capacity freed, a new waiting conversation) assigns at once — no
//! polling. Assignments append to the agent's `agent-load` subject guarded by its last sequence,
//! with an id per conversation, so replicas never overbook an agent nor assign twice. Agents and
//! conversations are per tenant: agent `ana` of one tenant is not `ana` of another, and a
//! conversation only ever goes to an agent of its own tenant.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use switchboard_bus::{Bus, Draft, Expected, LiveEvents, apply_live};
use switchboard_projection::{Task, TaskResult};
use switchboard_proto::events::v1::{
    AgentUpdated, Channel, ConversationAssigned, ConversationReleased, Event, MessageRouted, RouteAction,
    event::Body,
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::{
    Error,
    tenancy::{Scoped, scoped, tenant_of},
};

const SUBJECTS: [&str; 5] = [
    "switchboard.events.agent.>",
    "switchboard.events.agent-load.>",
    "switchboard.events.claim.>",
    "switchboard.events.routing.>",
    "switchboard.events.conversation-lifecycle.>",
];

#[derive(Debug, Clone, Default)]
struct Agent {
    profile: AgentUpdated,
    /// Conversations held, with their channel.
    active: BTreeMap<String, String>,
    /// Stream sequence of the last assignment (round robin order).
    last_assigned: u64,
    /// Last sequence on the agent's `agent-load` subject (the append guard).
    load_sequence: u64,
}

#[derive(Debug, Clone, PartialEq)]
struct Waiting {
    tenant: String,
    conversation_id: String,
    queue: String,
    channel: String,
    language: String,
    skills: Vec<String>,
    strategy: String,
}

/// A closed conversation still holding an agent.
#[derive(Debug, Clone, PartialEq)]
struct Release {
    tenant: String,
    conversation_id: String,
    agent_id: String,
    /// The closing event's id.
    closing: String,
}

#[derive(Debug, Default)]
struct State {
    /// By (tenant, agent id).
    agents: BTreeMap<Scoped, Agent>,
    waiting: Vec<Waiting>,
    /// (tenant, conversation id) to the agent holding it.
    assigned: HashMap<Scoped, String>,
    to_release: Vec<Release>,
}

pub struct Assigner {
    bus: Bus,
    state: Mutex<State>,
    wake: Notify,
}

impl Assigner {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The agent of `tenant` holding its conversation.
    pub fn agent_of(&self, tenant: &str, conversation_id: &str) -> Option<String> {
        self.lock().assigned.get(&scoped(tenant, conversation_id)).cloned()
    }

    /// Publishes the profile of an agent of `tenant`.
    pub async fn put_agent(&self, tenant: &str, agent: AgentUpdated) -> Result<u64, Error> {
        let id = agent.agent_id.clone();
        if !switchboard_bus::is_aggregate_id(&id) {
            return Err(Error::Invalid(format!(
                "agent id {id:?}: use up to 128 letters, digits, '-' and '_'"
            )));
        }
        Ok(self.bus.publish(&Draft::new(tenant, id, Body::AgentUpdated(agent)).build()?).await?.sequence)
    }

    /// Frees the agent's capacity held by a conversation of `tenant`.
    pub async fn release(&self, tenant: &str, conversation_id: &str) -> Result<bool, Error> {
        let Some(agent_id) = self.agent_of(tenant, conversation_id) else { return Ok(false) };
        let body = Body::ConversationReleased(ConversationReleased {
            conversation_id: conversation_id.into(),
            agent_id: agent_id.clone(),
        });
        self.bus.publish(&Draft::new(tenant, agent_id, body).build()?).await?;
        Ok(true)
    }

    fn apply(&self, event: &Event, sequence: u64) {
        if self.lock().apply(event, sequence) {
            self.wake.notify_one();
        }
    }

    /// Frees the agents of closed conversations: one release per closing, whichever replica.
    async fn release_closed(&self) {
        let closings = std::mem::take(&mut self.lock().to_release);
        for Release { tenant, conversation_id, agent_id, closing } in closings {
            let body = Body::ConversationReleased(ConversationReleased {
                conversation_id,
                agent_id: agent_id.clone(),
            });
            let published = async {
                let key = format!("{tenant}/release/{closing}");
                let event = Draft::new(&tenant, agent_id, body).keyed(key).build()?;
                self.bus.publish(&event).await
            }
            .await;
            if let Err(error) = published {
                tracing::warn!(%error, "release of a closed conversation not published; the next closing retries");
            }
        }
    }

    /// Assigns what can be assigned now.
    async fn assign(&self) {
        self.release_closed().await;
        let plans = self.lock().plan();
        for (waiting, agent_id, guard) in plans {
            let body = Body::ConversationAssigned(ConversationAssigned {
                conversation_id: waiting.conversation_id.clone(),
                agent_id: agent_id.clone(),
                queue: waiting.queue.clone(),
                channel: waiting.channel.clone(),
                strategy: waiting.strategy.clone(),
            });
            let result = async {
                let key = format!("{}/assign/{}", waiting.tenant, waiting.conversation_id);
                let event = Draft::new(&waiting.tenant, agent_id.clone(), body).keyed(key).build()?;
                let expected = if guard == 0 { Expected::Empty } else { Expected::Sequence(guard) };
                self.bus.append(&event, expected, None).await
            }
            .await;
            match result {
                Ok(published) if !published.duplicate => {
                    tracing::info!(queue = waiting.queue, "conversation assigned")
                }
                Ok(_) => {}
                // Another replica changed the agent's load first; the fold brings it and wakes us.
                Err(switchboard_bus::Error::Conflict { .. }) => {}
                Err(error) => tracing::warn!(%error, "assignment not published"),
            }
        }
    }
}

/// A routed message of `tenant` that asks for assignment waits, unless its conversation is held
/// or waiting.
fn wait(state: &mut State, tenant: &str, routed: &MessageRouted) {
    let human = routed.action() != RouteAction::AutoReply;
    let known = state.assigned.contains_key(&scoped(tenant, &routed.conversation_id))
        || state.waiting.iter().any(|w| w.tenant == tenant && w.conversation_id == routed.conversation_id);
    if routed.assignment.is_empty() || !human || known {
        return;
    }
    state.waiting.push(Waiting {
        tenant: tenant.to_string(),
        conversation_id: routed.conversation_id.clone(),
        queue: routed.queue.clone(),
        channel: Channel::try_from(routed.channel).unwrap_or(Channel::Unspecified).slug().to_string(),
        language: routed.language.split('-').next().unwrap_or_default().to_ascii_lowercase(),
        skills: routed.skills.clone(),
        strategy: routed.assignment.clone(),
    });
}

impl State {
    /// Folds an agent, assignment or routing event of its tenant; `false` for other events.
    fn apply(&mut self, event: &Event, sequence: u64) -> bool {
        let tenant = tenant_of(event);
        match &event.body {
            Some(Body::AgentUpdated(profile)) => {
                self.agents.entry(scoped(tenant, &profile.agent_id)).or_default().profile = profile.clone();
            }
            Some(Body::ConversationAssigned(a)) => {
                let agent = self.agents.entry(scoped(tenant, &a.agent_id)).or_default();
                agent.active.insert(a.conversation_id.clone(), a.channel.clone());
                agent.last_assigned = sequence;
                agent.load_sequence = sequence;
                self.assigned.insert(scoped(tenant, &a.conversation_id), a.agent_id.clone());
                self.waiting.retain(|w| w.tenant != tenant || w.conversation_id != a.conversation_id);
            }
            Some(Body::ConversationClaimed(c)) => {
                // An agent took it from the desk: it waits no more, and its closing releases them.
                // (A claim does not count against the agent's capacity yet.)
                self.assigned.insert(scoped(tenant, &c.conversation_id), c.agent_id.clone());
                self.waiting.retain(|w| w.tenant != tenant || w.conversation_id != c.conversation_id);
            }
            Some(Body::ConversationReleased(r)) => {
                let agent = self.agents.entry(scoped(tenant, &r.agent_id)).or_default();
                agent.active.remove(&r.conversation_id);
                agent.load_sequence = sequence;
                self.assigned.remove(&scoped(tenant, &r.conversation_id));
                self.to_release.retain(|release| {
                    release.tenant != tenant || release.conversation_id != r.conversation_id
                });
            }
            Some(Body::ConversationClosed(closed)) => {
                let conversation = scoped(tenant, &closed.conversation_id);
                self.waiting.retain(|w| w.tenant != tenant || w.conversation_id != closed.conversation_id);
                if let Some(agent_id) = self.assigned.get(&conversation).cloned() {
                    self.to_release.push(Release {
                        tenant: tenant.to_string(),
                        conversation_id: closed.conversation_id.clone(),
                        agent_id,
                        closing: event.id.clone(),
                    });
                }
            }
            Some(Body::MessageRouted(routed)) => wait(self, tenant, routed),
            _ => return false,
        }
        true
    }

    /// Waiting conversations, oldest first, with the agent of their tenant each goes to and that
    /// agent's guard; loads planned here count for the ones after.
    fn plan(&self) -> Vec<(Waiting, String, u64)> {
        let mut planned: HashMap<&Scoped, u32> = HashMap::new();
        let mut taken: Vec<&Scoped> = Vec::new();
        let mut plans = Vec::new();
        for waiting in &self.waiting {
            let fits = self.agents.iter().filter(|(id, agent)| {
                let on_channel = agent.active.values().filter(|c| **c == waiting.channel).count() as u32
                    + planned.get(*id).copied().unwrap_or(0);
                let capacity = agent.profile.capacity.get(&waiting.channel).copied().unwrap_or(0);
                agent.profile.available
                    && agent.profile.queues.contains(&waiting.queue)
                    && (agent.profile.languages.is_empty()
                        || waiting.language.is_empty()
                        || agent.profile.languages.iter().any(|l| l.eq_ignore_ascii_case(&waiting.language)))
                    && waiting.skills.iter().all(|s| agent.profile.skills.contains(s))
                    && on_channel < capacity
                    && id.0 == waiting.tenant
                    && !taken.contains(id)
            });
            let chosen = match waiting.strategy.as_str() {
                "least_loaded" => fits.min_by_key(|(id, a)| {
                    (a.active.len() as u32 + planned.get(*id).copied().unwrap_or(0), a.last_assigned)
                }),
                _ => fits.min_by_key(|(_, a)| a.last_assigned),
            };
            if let Some((id, agent)) = chosen {
                *planned.entry(id).or_default() += 1;
                // One assignment per agent per round: the next needs the guard this one moves.
                taken.push(id);
                plans.push((waiting.clone(), id.1.clone(), agent.load_sequence));
            }
        }
        plans
    }
}

/// Folds what exists, then follows changes and assigns on each.
pub async fn start(bus: &Bus, shutdown: CancellationToken) -> Result<(Arc<Assigner>, Vec<Task>), Error> {
    let (history, live) = bus.read_then_follow(&SUBJECTS).await?;
    let assigner =
        Arc::new(Assigner { bus: bus.clone(), state: Mutex::new(State::default()), wake: Notify::new() });
    for (event, sequence) in &history {
        assigner.apply(event, *sequence);
    }
    let follower = tokio::spawn(follow(assigner.clone(), live, shutdown.clone()));
    let worker = tokio::spawn(work(assigner.clone(), shutdown));
    Ok((assigner, vec![follower, worker]))
}

async fn follow(assigner: Arc<Assigner>, live: LiveEvents, shutdown: CancellationToken) -> TaskResult {
    apply_live(live, shutdown, "assignment", |event, sequence| assigner.apply(event, sequence)).await;
    Ok(())
}

async fn work(assigner: Arc<Assigner>, shutdown: CancellationToken) -> TaskResult {
    loop {
        assigner.assign().await;
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = assigner.wake.notified() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_proto::events::v1::ConversationClaimed;

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
        assert_eq!(
            plans,
            [("c1".to_string(), "b".to_string()), ("c2".to_string(), "a".to_string())],
            "c3 waits"
        );
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
    fn given_agents_of_one_name_in_two_tenants_when_a_conversation_waits_then_only_its_tenants_agent_takes_it()
     {
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

    #[test]
    fn given_a_waiting_conversation_when_an_agent_claims_it_then_it_waits_no_more_and_is_held() {
        let mut state = State { waiting: vec![waiting("c1", "round_robin")], ..State::default() };
        state.agents.extend([agent("ana", 1, 0)]);
        let claimed = Body::ConversationClaimed(ConversationClaimed {
            conversation_id: "c1".into(),
            agent_id: "bob".into(),
        });
        assert!(state.apply(&Draft::new("acme", "c1", claimed).build().expect("a valid event"), 1));
        assert!(state.plan().is_empty(), "a claimed conversation is not assigned again");
        assert_eq!(state.assigned.get(&scoped("acme", "c1")).map(String::as_str), Some("bob"));
    }
}
