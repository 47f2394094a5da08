//! Claiming a conversation. The decision is a pure function of what the stream says about the
//! conversation; the append is guarded by the `claim` aggregate's last sequence, so of two
//! simultaneous claims exactly one is stored and the other learns who won. The `claim`
//! aggregate holds every change of hands made on the desk (claims and transfers, see
//! [`crate::handover`]), so every such change races on the same guard.

use sqlx::PgPool;
use switchboard_bus::{Bus, Draft, Expected};
use switchboard_proto::events::v1::{Channel, ConversationClaimed, Event, event::Body};

use crate::{Error, assign::Assigner, handover, store};

/// The aggregate of claims, id = conversation id.
pub const CLAIM: &str = "claim";

/// What the stream (and, for the router's assignments, the read model) says about a conversation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// Sequence of its last customer message; `None`: the tenant has no such conversation.
    pub last_message: Option<u64>,
    /// Sequence of its last closing, or of its reopening when a person reopened it since.
    pub last_closed: Option<u64>,
    /// A person reopened it after its last closing.
    pub reopened: bool,
    /// The last change of hands on the desk: who holds it since (empty: nobody), at which
    /// sequence.
    pub last_claim: Option<(String, u64)>,
    /// The agent the read model says holds it (automatic assignment gives conversations too).
    pub assignee: Option<String>,
    /// The sequence the read model's row is at: its assignee only counts when it is newer than
    /// the last change of hands.
    pub row_sequence: u64,
    /// The conversation's channel slug and queue, as the read model has them.
    pub channel: String,
    pub queue: String,
    /// The agent the desk's live assignment fold says holds it (it follows the stream closer
    /// than the read model), when the rest names nobody.
    pub live_holder: Option<String>,
}

impl Facts {
    /// Whether the conversation is closed (and not reopened by a person since).
    pub fn closed(&self) -> bool {
        let closed_at = self.last_closed.unwrap_or(0);
        self.last_message.is_some_and(|message| closed_at > message) && !self.reopened
    }

    /// Who holds the conversation now, and the guard of the next change of hands.
    pub fn holder(&self) -> (Option<&str>, Expected) {
        let closed_at = self.last_closed.unwrap_or(0);
        let read_model = self.assignee.as_deref().filter(|holder| !holder.is_empty());
        match &self.last_claim {
            Some((holder, at)) if *at > closed_at => {
                let newer = read_model.filter(|_| self.row_sequence > *at);
                let holder = Some(holder.as_str()).filter(|h| !h.is_empty()).or(newer);
                (holder, Expected::Sequence(*at))
            }
            Some((_, at)) => (read_model.or(self.live_holder.as_deref()), Expected::Sequence(*at)),
            None => (read_model.or(self.live_holder.as_deref()), Expected::Empty),
        }
    }
}

/// What to do about a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The caller holds it already.
    AlreadyHeld,
    /// Append a claim, expecting the claim aggregate as it was read.
    Append(Expected),
}

/// Whether `agent` may claim the conversation `id` given `facts`. A claim holds until the
/// conversation closes; a closed one cannot be claimed until the customer writes again.
pub fn decide(id: &str, agent: &str, facts: &Facts) -> Result<Decision, Error> {
    if facts.last_message.is_none() {
        return Err(Error::NotFound(id.to_string()));
    }
    if facts.closed() {
        return Err(Error::Resolved(id.to_string()));
    }
    match facts.holder() {
        (Some(holder), _) => held(id, agent, holder),
        (None, expected) => Ok(Decision::Append(expected)),
    }
}

fn held(id: &str, agent: &str, holder: &str) -> Result<Decision, Error> {
    if holder == agent {
        Ok(Decision::AlreadyHeld)
    } else {
        Err(Error::HeldBy { conversation: id.to_string(), agent: holder.to_string() })
    }
}

/// What a claim did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claimed {
    pub sequence: u64,
    pub already_held: bool,
}

/// Claims the tenant's conversation `id` for `agent`, if they are available and have room.
pub async fn claim(
    bus: &Bus,
    pool: &PgPool,
    assigner: &Assigner,
    tenant: &str,
    id: &str,
    agent: &str,
) -> Result<Claimed, Error> {
    if !switchboard_bus::is_aggregate_id(id) {
        return Err(Error::InvalidArgument(format!("conversation_id {id:?} is not a conversation id")));
    }
    let facts = facts_of(bus, pool, assigner, tenant, id).await?;
    let expected = match decide(id, agent, &facts)? {
        Decision::AlreadyHeld => {
            let sequence = facts.last_claim.map_or(0, |(_, at)| at);
            return Ok(Claimed { sequence, already_held: true });
        }
        Decision::Append(expected) => expected,
    };
    handover::may_take(agent, assigner.agent(tenant, agent).as_ref(), &facts.channel, true)?;
    let body = Body::ConversationClaimed(ConversationClaimed {
        conversation_id: id.into(),
        agent_id: agent.into(),
        channel: facts.channel.clone(),
    });
    let event = Draft::new(tenant, id, body).build()?;
    match bus.append(&event, expected, None).await {
        Ok(published) => {
            tracing::info!(
                tenant,
                conversation_id = id,
                sequence = published.sequence,
                "conversation claimed"
            );
            Ok(Claimed { sequence: published.sequence, already_held: false })
        }
        Err(switchboard_bus::Error::Conflict { .. }) => lost_the_race(bus, tenant, id, agent).await,
        Err(error) => Err(error.into()),
    }
}

/// Another change of hands landed between the read and the append: whoever it gave the
/// conversation to holds it.
async fn lost_the_race(bus: &Bus, tenant: &str, id: &str, agent: &str) -> Result<Claimed, Error> {
    match bus.last_event_of(CLAIM, tenant, id).await?.and_then(|(event, at)| Some((holder_of(&event)?, at))) {
        Some((holder, sequence)) if holder == agent => Ok(Claimed { sequence, already_held: true }),
        Some((holder, _)) if !holder.is_empty() => {
            Err(Error::HeldBy { conversation: id.to_string(), agent: holder })
        }
        Some(_) => Err(Error::Contended(format!("conversation {id:?}"))),
        None => Err(Error::Busy(id.to_string())),
    }
}

/// What the stream and the read model say about the tenant's conversation `id`.
pub async fn facts_of(
    bus: &Bus,
    pool: &PgPool,
    assigner: &Assigner,
    tenant: &str,
    id: &str,
) -> Result<Facts, Error> {
    let sequence_of = |last: Option<(Event, u64)>| last.map(|(_, at)| at);
    let last_claim = bus.last_event_of(CLAIM, tenant, id).await?;
    // Claims made before a reopening held the conversation before; they hold nothing now.
    let lifecycle = bus.last_event_of("conversation-lifecycle", tenant, id).await?;
    let reopened =
        matches!(lifecycle.as_ref().and_then(|(e, _)| e.body.as_ref()), Some(Body::ConversationReopened(_)));
    let mut connection = pool.acquire().await?;
    let row = store::load(&mut connection, tenant, id).await?;
    let message = bus.last_event_of("conversation", tenant, id).await?;
    // The channel from the stream (the read model may not have the conversation yet); the queue
    // from the read model, else from the last routing decision.
    let channel = match message.as_ref().and_then(|(e, _)| e.body.as_ref()) {
        Some(Body::MessageReceived(received)) => channel_slug(received.channel),
        _ => String::new(),
    };
    let queue = match &row {
        Some(c) => c.queue.clone(),
        None => match bus.last_event_of("routing", tenant, id).await?.and_then(|(e, _)| e.body) {
            Some(Body::MessageRouted(routed)) => routed.queue,
            _ => String::new(),
        },
    };
    let last_message = sequence_of(message);
    Ok(Facts {
        last_message,
        live_holder: assigner.agent_of(tenant, id),
        last_closed: sequence_of(lifecycle),
        reopened,
        last_claim: last_claim.and_then(|(event, at)| Some((holder_of(&event)?, at))),
        row_sequence: row.as_ref().map_or(0, |c| c.sequence),
        channel,
        queue,
        // Closed rows keep no holder worth naming.
        assignee: row.filter(|c| !c.closed).map(|c| c.assignee),
    })
}

/// The slug of an `events.v1.Channel` value (`web`, `email`, ...).
pub fn channel_slug(channel: i32) -> String {
    Channel::try_from(channel).unwrap_or(Channel::Unspecified).slug().to_string()
}

/// Who a change of hands left holding the conversation (empty: nobody).
fn holder_of(event: &Event) -> Option<String> {
    match &event.body {
        Some(Body::ConversationClaimed(claimed)) => Some(claimed.agent_id.clone()),
        Some(Body::ConversationTransferred(moved)) => Some(moved.to_agent.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> Facts {
        Facts { last_message: Some(10), ..Facts::default() }
    }

    #[test]
    fn the_first_claim_expects_no_claim_before_it() {
        assert_eq!(decide("c", "ana", &open()).ok(), Some(Decision::Append(Expected::Empty)));
    }

    #[test]
    fn a_held_conversation_names_its_holder_and_is_idempotent_for_them() {
        let held = Facts { last_claim: Some(("bob".into(), 12)), ..open() };
        let refused = decide("c", "ana", &held).expect_err("bob has it");
        assert!(refused.to_string().contains("\"bob\""), "{refused}");
        assert_eq!(decide("c", "bob", &held).ok(), Some(Decision::AlreadyHeld));
        let assigned = Facts { assignee: Some("carl".into()), ..open() };
        assert!(matches!(decide("c", "ana", &assigned), Err(Error::HeldBy { agent, .. }) if agent == "carl"));
    }

    #[test]
    fn unknown_and_resolved_conversations_are_refused() {
        assert!(matches!(decide("c", "ana", &Facts::default()), Err(Error::NotFound(_))));
        let closed = Facts { last_closed: Some(11), ..open() };
        assert!(matches!(decide("c", "ana", &closed), Err(Error::Resolved(_))));
    }

    #[test]
    fn a_conversation_a_person_reopened_can_be_claimed_again() {
        let reopened = Facts {
            last_message: Some(10),
            last_closed: Some(14),
            reopened: true,
            last_claim: Some(("bob".into(), 12)),
            ..Facts::default()
        };
        assert_eq!(decide("c", "ana", &reopened).ok(), Some(Decision::Append(Expected::Sequence(12))));
    }

    #[test]
    fn a_claim_before_the_conversation_closed_and_reopened_no_longer_holds() {
        let reopened = Facts {
            last_message: Some(20),
            last_closed: Some(15),
            last_claim: Some(("bob".into(), 12)),
            ..Facts::default()
        };
        assert_eq!(decide("c", "ana", &reopened).ok(), Some(Decision::Append(Expected::Sequence(12))));
    }
}
