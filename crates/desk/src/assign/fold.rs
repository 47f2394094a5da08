//! Assignment as a pure fold: agents (profile, the conversations they hold and on which
//! channel, when they were last given one), conversations waiting for an agent, who holds what,
//! and closed conversations still holding someone. [`State::plan`] says which waiting
//! conversation goes to whom: an available agent who works the queue, speaks the conversation's
//! language, has the rule's skills and free capacity on the channel; `round_robin` picks the one
//! assigned longest ago, `least_loaded` the one with the fewest conversations. Agents and
//! conversations are per tenant: agent `ana` of one tenant is not `ana` of another.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use switchboard_proto::{
    events::v1::{
        AgentUpdated, Channel, ConversationTransferred, Event, MessageRouted, RouteAction, event::Body,
    },
    time::to_datetime,
};

use serde::{Deserialize, Serialize};

use crate::{
    snapshot,
    tenancy::{Scoped, scoped, tenant_of},
};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    #[serde(with = "snapshot::proto")]
    pub profile: AgentUpdated,
    /// Conversations held, with their channel.
    pub active: BTreeMap<String, String>,
    /// Stream sequence of the last assignment (round robin order).
    pub last_assigned: u64,
    /// Last sequence on the agent's `agent-load` subject (the append guard).
    pub load_sequence: u64,
    /// What the agent last said of themself, and since when; `None`: never said.
    #[serde(with = "said")]
    pub presence: Option<(Presence, DateTime<Utc>)>,
}

/// An agent's presence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Presence {
    Online,
    Away,
    Offline,
}

impl Presence {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Online => "online",
            Self::Away => "away",
            Self::Offline => "offline",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Online, Self::Away, Self::Offline].into_iter().find(|p| p.as_str() == text)
    }
}

impl Agent {
    /// Takes conversations: online, or, having never said, as the profile says.
    pub fn available(&self) -> bool {
        match self.presence {
            Some((presence, _)) => presence == Presence::Online,
            None => self.profile.available,
        }
    }

    /// Whether anything is known of the agent (a profile or a presence).
    pub fn known(&self) -> bool {
        !self.profile.agent_id.is_empty() || self.presence.is_some()
    }

    /// Conversations held on `channel`.
    pub fn load_on(&self, channel: &str) -> u32 {
        self.active.values().filter(|c| *c == channel).count() as u32
    }

    /// Conversations at once on `channel`; `None`: no limit (the profile sets no capacity).
    pub fn capacity_on(&self, channel: &str) -> Option<u32> {
        let capacity = &self.profile.capacity;
        (!capacity.is_empty()).then(|| capacity.get(channel).copied().unwrap_or(0))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Waiting {
    pub tenant: String,
    pub conversation_id: String,
    pub queue: String,
    pub channel: String,
    pub language: String,
    pub skills: Vec<String>,
    pub strategy: String,
    /// Stream sequence of what made it wait (its routing, or its return to a queue): each
    /// wait is assigned once, and a later wait again.
    pub since: u64,
}

/// A closed conversation still holding an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Release {
    pub tenant: String,
    pub conversation_id: String,
    pub agent_id: String,
    /// The closing event's id.
    pub closing: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// By (tenant, agent id).
    #[serde(with = "snapshot::pairs")]
    pub agents: BTreeMap<Scoped, Agent>,
    pub waiting: Vec<Waiting>,
    /// (tenant, conversation id) to the agent holding it.
    #[serde(with = "snapshot::pairs")]
    pub assigned: HashMap<Scoped, String>,
    pub to_release: Vec<Release>,
    /// (tenant, conversation id) to the assignment its routing asked for, so that a
    /// conversation sent back to a queue waits for an agent there again.
    #[serde(with = "snapshot::pairs")]
    pub asked: HashMap<Scoped, Waiting>,
    /// The stream sequence of the last event folded.
    pub folded: u64,
}

impl snapshot::Snapshot for State {
    const FOLD: &'static str = "assignment";
    const VERSION: i32 = 1;
}

/// Serde for a presence and since when.
mod said {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize as _, Deserializer, Serialize as _, Serializer, de::Error as _};

    use super::Presence;

    pub fn serialize<S: Serializer>(
        said: &Option<(Presence, DateTime<Utc>)>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        said.map(|(presence, at)| (presence, at.timestamp_micros())).serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<(Presence, DateTime<Utc>)>, D::Error> {
        let said = Option::<(Presence, i64)>::deserialize(deserializer)?;
        said.map(|(presence, micros)| {
            let at = DateTime::from_timestamp_micros(micros)
                .ok_or_else(|| D::Error::custom("time out of range"))?;
            Ok((presence, at))
        })
        .transpose()
    }
}

/// A routed message of `tenant` that asks for assignment waits, unless its conversation is held
/// or waiting.
fn wait(state: &mut State, tenant: &str, routed: &MessageRouted, sequence: u64) {
    let human = routed.action() != RouteAction::AutoReply;
    let known = state.assigned.contains_key(&scoped(tenant, &routed.conversation_id))
        || state.waiting.iter().any(|w| w.tenant == tenant && w.conversation_id == routed.conversation_id);
    if routed.assignment.is_empty() || !human {
        return;
    }
    let waiting = Waiting {
        tenant: tenant.to_string(),
        conversation_id: routed.conversation_id.clone(),
        queue: routed.queue.clone(),
        channel: Channel::try_from(routed.channel).unwrap_or(Channel::Unspecified).slug().to_string(),
        language: routed.language.split('-').next().unwrap_or_default().to_ascii_lowercase(),
        skills: routed.skills.clone(),
        strategy: routed.assignment.clone(),
        since: sequence,
    };
    state.asked.insert(scoped(tenant, &routed.conversation_id), waiting.clone());
    if !known {
        state.waiting.push(waiting);
    }
}

impl State {
    /// Folds an agent, assignment or routing event of its tenant; `false` for other events.
    /// An event at or before the last one folded is not folded again (a feed that started over).
    pub fn apply(&mut self, event: &Event, sequence: u64) -> bool {
        if sequence <= self.folded {
            return false;
        }
        self.folded = sequence;
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
                self.hold(tenant, &a.conversation_id, &a.agent_id);
                self.waiting.retain(|w| w.tenant != tenant || w.conversation_id != a.conversation_id);
            }
            Some(Body::ConversationClaimed(c)) => {
                // An agent took it from the desk: it waits no more, it counts against their
                // capacity, and its closing releases them.
                self.agents
                    .entry(scoped(tenant, &c.agent_id))
                    .or_default()
                    .active
                    .insert(c.conversation_id.clone(), c.channel.clone());
                self.hold(tenant, &c.conversation_id, &c.agent_id);
                self.waiting.retain(|w| w.tenant != tenant || w.conversation_id != c.conversation_id);
            }
            Some(Body::ConversationTransferred(t)) => self.transferred(tenant, t, sequence),
            Some(Body::AgentPresenceChanged(p)) => {
                let at = to_datetime(event.occurred_at.as_ref());
                let agent = self.agents.entry(scoped(tenant, &p.agent_id)).or_default();
                agent.presence = Presence::parse(&p.presence).map(|presence| (presence, at));
            }
            Some(Body::ConversationReleased(r)) => {
                let agent = self.agents.entry(scoped(tenant, &r.agent_id)).or_default();
                agent.active.remove(&r.conversation_id);
                agent.load_sequence = sequence;
                // A late release of someone who no longer holds it frees only their seat.
                let conversation = scoped(tenant, &r.conversation_id);
                if self.assigned.get(&conversation) == Some(&r.agent_id) {
                    self.assigned.remove(&conversation);
                }
                self.to_release.retain(|release| {
                    release.tenant != tenant
                        || release.conversation_id != r.conversation_id
                        || release.agent_id != r.agent_id
                });
            }
            Some(Body::ConversationClosed(closed)) => {
                let conversation = scoped(tenant, &closed.conversation_id);
                self.asked.remove(&conversation);
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
            Some(Body::MessageRouted(routed)) => wait(self, tenant, routed, sequence),
            _ => return false,
        }
        true
    }

    /// `agent_id` holds the conversation now: whoever held it before gets their seat back.
    fn hold(&mut self, tenant: &str, conversation_id: &str, agent_id: &str) {
        let before = self.assigned.insert(scoped(tenant, conversation_id), agent_id.to_string());
        if let Some(before) = before.filter(|before| before != agent_id) {
            self.agents.entry(scoped(tenant, &before)).or_default().active.remove(conversation_id);
        }
    }

    /// A conversation changed hands: its old holder's capacity frees, the new one's counts; sent
    /// back to a queue, it waits for an agent there if its routing asked for assignment.
    fn transferred(&mut self, tenant: &str, t: &ConversationTransferred, sequence: u64) {
        let conversation = scoped(tenant, &t.conversation_id);
        if let Some(old) = self.assigned.remove(&conversation) {
            self.agents.entry(scoped(tenant, &old)).or_default().active.remove(&t.conversation_id);
        }
        self.waiting.retain(|w| w.tenant != tenant || w.conversation_id != t.conversation_id);
        if !t.to_agent.is_empty() {
            let agent = self.agents.entry(scoped(tenant, &t.to_agent)).or_default();
            agent.active.insert(t.conversation_id.clone(), t.channel.clone());
            self.assigned.insert(conversation, t.to_agent.clone());
        } else if let Some(asked) = self.asked.get(&conversation) {
            let queue = if t.queue.is_empty() { asked.queue.clone() } else { t.queue.clone() };
            self.waiting.push(Waiting { queue, since: sequence, ..asked.clone() });
        }
    }

    /// Waiting conversations, oldest first, with the agent of their tenant each goes to and that
    /// agent's guard; loads planned here count for the ones after.
    pub fn plan(&self) -> Vec<(Waiting, String, u64)> {
        let mut planned: HashMap<&Scoped, u32> = HashMap::new();
        let mut taken: Vec<&Scoped> = Vec::new();
        let mut plans = Vec::new();
        for waiting in &self.waiting {
            let fits = self.agents.iter().filter(|(id, agent)| {
                let on_channel = agent.active.values().filter(|c| **c == waiting.channel).count() as u32
                    + planned.get(*id).copied().unwrap_or(0);
                let capacity = agent.profile.capacity.get(&waiting.channel).copied().unwrap_or(0);
                agent.available()
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

#[cfg(test)]
#[path = "fold_tests.rs"]
mod tests;
