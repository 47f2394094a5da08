//! Changing hands: a supervisor assigns a conversation to an agent, a person transfers it to a
//! queue or an agent, it is unassigned back to its queue, or it goes back on its own when its
//! agent stays offline. Each is a `ConversationTransferred` on the conversation's `claim`
//! aggregate, appended guarded by that aggregate's last sequence like claims, so of two changes
//! at once one wins. Whether it may happen is a pure function of the conversation's facts and
//! the agent's state ([`may_take`], [`decide`]). The SLA clocks are not touched: they keep running.

use sqlx::PgPool;
use switchboard_bus::{Bus, Draft, Expected};
use switchboard_proto::events::v1::{ConversationTransferred, event::Body};

use crate::{
    Error,
    assign::{Agent, Assigner},
    claim::{self, Facts},
    store,
};

/// Longest transfer note, in bytes.
const MAX_NOTE: usize = 4 * 1024;

/// Whether `agent_id` may be given (or take, `by_self`) a conversation on `channel`: away and
/// offline agents take none; an agent whose profile sets capacities takes no more than the
/// channel's. Someone the desk knows nothing of may take one themself (no limits declared) but
/// is not given one by others: a misspelt id would leave the conversation with nobody.
pub fn may_take(agent_id: &str, agent: Option<&Agent>, channel: &str, by_self: bool) -> Result<(), Error> {
    let unavailable = |why: &str| Error::Unavailable { agent: agent_id.to_string(), why: why.to_string() };
    let Some(agent) = agent.filter(|agent| agent.known()) else {
        return if by_self {
            Ok(())
        } else {
            Err(Error::InvalidArgument(format!(
                "agent {agent_id:?} is not known to the desk: add them with PutAgent first"
            )))
        };
    };
    if !agent.available() {
        let presence = agent.presence.map_or("not available", |(presence, _)| presence.as_str());
        return Err(unavailable(presence));
    }
    match agent.capacity_on(channel) {
        Some(capacity) if agent.load_on(channel) >= capacity => {
            Err(Error::AtCapacity { agent: agent_id.to_string(), channel: channel.to_string(), capacity })
        }
        _ => Ok(()),
    }
}

/// A change of hands asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Move {
    /// Who gets it; empty: nobody (it waits in its queue).
    pub to_agent: String,
    /// The queue it goes to; empty: the one it is in.
    pub queue: String,
    /// `agent:<id>`, or `desk`.
    pub by: String,
    pub note: String,
    /// The queue comes from the rule set (a breach's), not from a person: it need not be known.
    pub queue_from_rules: bool,
}

/// What to do about a move.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// It is where it was asked to be already.
    Nothing {
        holder: String,
        queue: String,
    },
    Append(ConversationTransferred, Expected),
}

/// Whether the conversation `id` can move as asked, given its facts.
pub fn decide(id: &str, facts: &Facts, asked: &Move) -> Result<Decision, Error> {
    if facts.last_message.is_none() {
        return Err(Error::NotFound(id.to_string()));
    }
    if facts.closed() {
        return Err(Error::Resolved(id.to_string()));
    }
    if asked.note.len() > MAX_NOTE || asked.note.contains('\0') {
        return Err(Error::InvalidArgument(format!("note: at most {MAX_NOTE} bytes, without NUL")));
    }
    let (holder, expected) = facts.holder();
    let holder = holder.unwrap_or_default().to_string();
    let queue = if asked.queue.is_empty() { facts.queue.clone() } else { asked.queue.clone() };
    if holder == asked.to_agent && queue == facts.queue {
        return Ok(Decision::Nothing { holder, queue });
    }
    let moved = ConversationTransferred {
        conversation_id: id.to_string(),
        from_agent: holder,
        to_agent: asked.to_agent.clone(),
        queue,
        channel: facts.channel.clone(),
        by: asked.by.clone(),
        note: asked.note.trim().to_string(),
    };
    Ok(Decision::Append(moved, expected))
}

/// Where a conversation is after a move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub holder: String,
    pub queue: String,
    pub sequence: u64,
}

/// Moves the tenant's conversation `id` as asked, once `allowed` approves of its current holder.
pub async fn hand_over(
    bus: &Bus,
    pool: &PgPool,
    assigner: &Assigner,
    tenant: &str,
    id: &str,
    asked: &Move,
    allowed: impl FnOnce(Option<&str>) -> Result<(), Error>,
) -> Result<Moved, Error> {
    if !switchboard_bus::is_aggregate_id(id) {
        return Err(Error::NotFound(id.to_string()));
    }
    let facts = claim::facts_of(bus, pool, assigner, tenant, id).await?;
    allowed(facts.holder().0)?;
    let (moved, expected) = match decide(id, &facts, asked)? {
        Decision::Nothing { holder, queue } => {
            let sequence = facts.last_claim.map_or(facts.row_sequence, |(_, at)| at);
            return Ok(Moved { holder, queue, sequence });
        }
        Decision::Append(moved, expected) => (moved, expected),
    };
    if !moved.to_agent.is_empty() && moved.to_agent != moved.from_agent {
        let by_self = asked.by == format!("agent:{}", moved.to_agent);
        may_take(&moved.to_agent, assigner.agent(tenant, &moved.to_agent).as_ref(), &moved.channel, by_self)?;
    }
    if moved.queue != facts.queue && !asked.queue_from_rules {
        known_queue(pool, assigner, tenant, &moved.queue).await?;
    }
    let (holder, queue) = (moved.to_agent.clone(), moved.queue.clone());
    let event = Draft::new(tenant, id, Body::ConversationTransferred(moved)).build()?;
    match bus.append(&event, expected, None).await {
        Ok(published) => {
            tracing::info!(tenant, conversation_id = id, sequence = published.sequence, "conversation moved");
            Ok(Moved { holder, queue, sequence: published.sequence })
        }
        Err(switchboard_bus::Error::Conflict { .. }) => Err(Error::Contended(format!("conversation {id:?}"))),
        Err(error) => Err(error.into()),
    }
}

/// Refuses a queue of the tenant that no agent works and no conversation is in (a misspelling
/// would leave conversations where nobody looks).
pub async fn known_queue(pool: &PgPool, assigner: &Assigner, tenant: &str, queue: &str) -> Result<(), Error> {
    if assigner.works_queue(tenant, queue) || store::has_queue(pool, tenant, queue).await? {
        return Ok(());
    }
    Err(Error::InvalidArgument(format!(
        "queue {queue:?} is unknown: no agent works it and no conversation is in it"
    )))
}

#[cfg(test)]
#[path = "handover_tests.rs"]
mod tests;
