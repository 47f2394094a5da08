//! Assignment: conversations a rule asks to assign wait for an available agent who works the
//! queue, speaks the conversation's language, has the rule's skills and free capacity on the
//! channel; `round_robin` picks the one assigned longest ago, `least_loaded` the one with the
//! fewest conversations. Every replica folds agent, assignment and routing events; a change
//! (an agent coming online, capacity freed, a new waiting conversation) assigns at once — no
//! polling. Assignments append to the agent's `agent-load` subject guarded by its last sequence,
//! with an id per conversation, so replicas never overbook an agent nor assign twice.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use switchboard_bus::{Bus, DEFAULT_TENANT, Draft, Expected, LiveEvents, apply_live};
use switchboard_projection::{Task, TaskResult};
use switchboard_proto::events::v1::{
    AgentUpdated, Channel, ConversationAssigned, ConversationReleased, Event, MessageRouted, RouteAction,
    event::Body,
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::Error;

const SUBJECTS: [&str; 4] = [
    "switchboard.events.agent.>",
    "switchboard.events.agent-load.>",
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
    conversation_id: String,
    queue: String,
    channel: String,
    language: String,
    skills: Vec<String>,
    strategy: String,
}

#[derive(Debug, Default)]
struct State {
    agents: BTreeMap<String, Agent>,
    waiting: Vec<Waiting>,
    assigned: HashMap<String, String>,
    /// Closed conversations still holding an agent: (conversation, agent, the closing event's id).
    to_release: Vec<(String, String, String)>,
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

    /// The agent holding a conversation.
    pub fn agent_of(&self, conversation_id: &str) -> Option<String> {
        self.lock().assigned.get(conversation_id).cloned()
    }

    /// Publishes an agent's profile.
    pub async fn put_agent(&self, agent: AgentUpdated) -> Result<u64, Error> {
        let id = agent.agent_id.clone();
        if !switchboard_bus::is_aggregate_id(&id) {
            return Err(Error::Invalid(format!(
                "agent id {id:?}: use up to 128 letters, digits, '-' and '_'"
            )));
        }
        Ok(self
            .bus
            .publish(&Draft::new(DEFAULT_TENANT, id, Body::AgentUpdated(agent)).build()?)
            .await?
            .sequence)
    }

    /// Frees the agent's capacity held by a conversation.
    pub async fn release(&self, conversation_id: &str) -> Result<bool, Error> {
        let Some(agent_id) = self.agent_of(conversation_id) else { return Ok(false) };
        let body = Body::ConversationReleased(ConversationReleased {
            conversation_id: conversation_id.into(),
            agent_id: agent_id.clone(),
        });
        self.bus.publish(&Draft::new(DEFAULT_TENANT, agent_id, body).build()?).await?;
        Ok(true)
    }

    fn apply(&self, event: &Event, sequence: u64) {
        let mut state = self.lock();
        match &event.body {
            Some(Body::AgentUpdated(profile)) => {
                state.agents.entry(profile.agent_id.clone()).or_default().profile = profile.clone();
            }
            Some(Body::ConversationAssigned(a)) => {
                let agent = state.agents.entry(a.agent_id.clone()).or_default();
                agent.active.insert(a.conversation_id.clone(), a.channel.clone());
                agent.last_assigned = sequence;
                agent.load_sequence = sequence;
                state.assigned.insert(a.conversation_id.clone(), a.agent_id.clone());
                state.waiting.retain(|w| w.conversation_id != a.conversation_id);
            }
            Some(Body::ConversationReleased(r)) => {
                let agent = state.agents.entry(r.agent_id.clone()).or_default();
                agent.active.remove(&r.conversation_id);
                agent.load_sequence = sequence;
                state.assigned.remove(&r.conversation_id);
                state.to_release.retain(|(conversation, ..)| *conversation != r.conversation_id);
            }
            Some(Body::ConversationClosed(closed)) => {
                state.waiting.retain(|w| w.conversation_id != closed.conversation_id);
                if let Some(agent) = state.assigned.get(&closed.conversation_id).cloned() {
                    state.to_release.push((closed.conversation_id.clone(), agent, event.id.clone()));
                }
            }
            Some(Body::MessageRouted(routed)) => wait(&mut state, routed),
            _ => return,
        }
        drop(state);
        self.wake.notify_one();
    }

    /// Frees the agents of closed conversations: one release per closing, whichever replica.
    async fn release_closed(&self) {
        let closings = std::mem::take(&mut self.lock().to_release);
        for (conversation_id, agent_id, closing) in closings {
            let body = Body::ConversationReleased(ConversationReleased {
                conversation_id,
                agent_id: agent_id.clone(),
            });
            let published = async {
                let event =
                    Draft::new(DEFAULT_TENANT, agent_id, body).keyed(format!("release/{closing}")).build()?;
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
                let key = format!("assign/{}", waiting.conversation_id);
                let event = Draft::new(DEFAULT_TENANT, agent_id.clone(), body).keyed(key).build()?;
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

/// A routed message that asks for assignment waits, unless its conversation is held or waiting.
fn wait(state: &mut State, routed: &MessageRouted) {
    let human = routed.action() != RouteAction::AutoReply;
    let known = state.assigned.contains_key(&routed.conversation_id)
        || state.waiting.iter().any(|w| w.conversation_id == routed.conversation_id);
    if routed.assignment.is_empty() || !human || known {
        return;
    }
    state.waiting.push(Waiting {
        conversation_id: routed.conversation_id.clone(),
        queue: routed.queue.clone(),
        channel: Channel::try_from(routed.channel).unwrap_or(Channel::Unspecified).slug().to_string(),
        language: routed.language.split('-').next().unwrap_or_default().to_ascii_lowercase(),
        skills: routed.skills.clone(),
        strategy: routed.assignment.clone(),
    });
}

impl State {
    /// Waiting conversations, oldest first, with the agent each goes to and that agent's guard;
    /// loads planned here count for the ones after.
    fn plan(&self) -> Vec<(Waiting, String, u64)> {
        let mut planned: HashMap<String, u32> = HashMap::new();
        let mut taken: Vec<String> = Vec::new();
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
                    && !taken.contains(id)
            });
            let chosen = match waiting.strategy.as_str() {
                "least_loaded" => fits.min_by_key(|(id, a)| {
                    (a.active.len() as u32 + planned.get(*id).copied().unwrap_or(0), a.last_assigned)
                }),
                _ => fits.min_by_key(|(_, a)| a.last_assigned),
            };
            if let Some((id, agent)) = chosen {
                *planned.entry(id.clone()).or_default() += 1;
                // One assignment per agent per round: the next needs the guard this one moves.
                taken.push(id.clone());
                plans.push((waiting.clone(), id.clone(), agent.load_sequence));
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

    fn agent(id: &str, capacity: u32, last: u64) -> (String, Agent) {
        let profile = AgentUpdated {
            agent_id: id.into(),
            available: true,
            queues: vec!["billing".into()],
            languages: vec!["en".into()],
            skills: vec![],
            capacity: [("web".to_string(), capacity)].into(),
        };
        (id.into(), Agent { profile, last_assigned: last, ..Agent::default() })
    }

    fn waiting(id: &str, strategy: &str) -> Waiting {
        Waiting {
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
}
