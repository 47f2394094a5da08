//! Assignment: conversations a rule asks to assign wait for an available agent ([`fold`] decides
//! who). Every replica folds agent, assignment and routing events; a change
//! (an agent coming online, capacity freed, a new waiting conversation) assigns at once — no
//! polling. Assignments append to the agent's `agent-load` subject guarded by its last sequence,
//! with an id per conversation, so replicas never overbook an agent nor assign twice. Agents and
//! conversations are per tenant: agent `ana` of one tenant is not `ana` of another, and a
//! conversation only ever goes to an agent of its own tenant.

mod fold;

pub use fold::{Agent, Presence};

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use switchboard_bus::{Bus, Draft, Expected, LiveEvents, apply_live};
use switchboard_projection::{Task, TaskResult};
use switchboard_proto::events::v1::{
    AgentPresenceChanged, AgentUpdated, ConversationAssigned, ConversationReleased, Event, event::Body,
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use fold::{Release, State};

use crate::{Error, snapshot, tenancy::scoped};

const SUBJECTS: [&str; 6] = [
    "switchboard.events.agent.>",
    "switchboard.events.agent-presence.>",
    "switchboard.events.agent-load.>",
    "switchboard.events.claim.>",
    "switchboard.events.routing.>",
    "switchboard.events.conversation-lifecycle.>",
];

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

    /// The agent `agent_id` of `tenant` as the desk knows them.
    pub fn agent(&self, tenant: &str, agent_id: &str) -> Option<Agent> {
        self.lock().agents.get(&scoped(tenant, agent_id)).cloned()
    }

    /// The agents of `tenant` the desk knows (a profile or a presence), by id.
    pub fn agents_of(&self, tenant: &str) -> Vec<(String, Agent)> {
        let state = self.lock();
        let agents = state.agents.iter().filter(|((t, _), agent)| t == tenant && agent.known());
        agents.map(|((_, id), agent)| (id.clone(), agent.clone())).collect()
    }

    /// Whether an agent of `tenant` works `queue`.
    pub fn works_queue(&self, tenant: &str, queue: &str) -> bool {
        let state = self.lock();
        state
            .agents
            .iter()
            .any(|((t, _), agent)| t == tenant && agent.profile.queues.iter().any(|q| q == queue))
    }

    /// Conversations held by agents offline since `grace` before `now`: (tenant, agent,
    /// conversation).
    pub fn held_while_offline(
        &self,
        now: DateTime<Utc>,
        grace: chrono::Duration,
    ) -> Vec<(String, String, String)> {
        let state = self.lock();
        let gone = |agent: &Agent| matches!(agent.presence, Some((Presence::Offline, since)) if since + grace <= now);
        let agents = state.agents.iter().filter(|(_, agent)| gone(agent));
        agents
            .flat_map(|((tenant, id), agent)| {
                agent.active.keys().map(|conversation| (tenant.clone(), id.clone(), conversation.clone()))
            })
            .collect()
    }

    /// Publishes the presence of an agent of `tenant`; the stream sequence.
    pub async fn set_presence(&self, tenant: &str, agent_id: &str, presence: Presence) -> Result<u64, Error> {
        if !switchboard_bus::is_aggregate_id(agent_id) {
            return Err(Error::InvalidArgument(format!("agent id {agent_id:?} cannot have a presence")));
        }
        let body = Body::AgentPresenceChanged(AgentPresenceChanged {
            agent_id: agent_id.into(),
            presence: presence.as_str().into(),
        });
        Ok(self.bus.publish(&Draft::new(tenant, agent_id, body).build()?).await?.sequence)
    }

    /// Publishes the profile of an agent of `tenant`.
    pub async fn put_agent(&self, tenant: &str, agent: AgentUpdated) -> Result<u64, Error> {
        let id = agent.agent_id.clone();
        if !switchboard_bus::is_aggregate_id(&id) {
            return Err(Error::InvalidArgument(format!(
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
    /// Publishes the release of each closed conversation still holding someone. A release stays
    /// in the fold until its `ConversationReleased` comes back (so a snapshot keeps it, and a
    /// failed publish is tried again at the next change); its id is the closing's, so a repeat
    /// is dropped by the bus.
    async fn release_closed(&self) {
        let closings = self.lock().to_release.clone();
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
                tracing::warn!(%error, "release of a closed conversation not published; the next change retries");
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
                let key = format!("{}/assign/{}/{}", waiting.tenant, waiting.conversation_id, waiting.since);
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

/// Reads the last snapshot of the fold and folds what came after it, then follows changes and
/// assigns on each, saving snapshots as it goes.
pub async fn start(
    bus: &Bus,
    pool: &PgPool,
    shutdown: CancellationToken,
) -> Result<(Arc<Assigner>, Vec<Task>), Error> {
    let state = snapshot::load::<State>(pool).await?.map(|(_, state)| state).unwrap_or_default();
    let (history, live) = bus.read_then_follow_after(&SUBJECTS, state.folded).await?;
    let assigner = Arc::new(Assigner { bus: bus.clone(), state: Mutex::new(state), wake: Notify::new() });
    for (event, sequence) in &history {
        assigner.apply(event, *sequence);
    }
    let follower = tokio::spawn(follow(assigner.clone(), live, shutdown.clone()));
    let saver = tokio::spawn(snapshot::keep_saving(assigner.clone(), pool.clone(), shutdown.clone()));
    let worker = tokio::spawn(work(assigner.clone(), shutdown));
    Ok((assigner, vec![follower, worker, saver]))
}

impl snapshot::Saved for Assigner {
    type State = State;

    fn state_after(&self, saved: u64) -> Option<(u64, State)> {
        let state = self.lock();
        (state.folded > saved).then(|| (state.folded, state.clone()))
    }
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
