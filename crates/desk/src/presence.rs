//! Agents' presence: online, away or offline, as they say it. Away and offline agents get no
//! conversations (see [`crate::assign`]); the conversations of an agent who stays offline past
//! the grace period go back to their queues, still running their SLA clocks.

use std::time::Duration;

use switchboard_auth::Caller;
use switchboard_projection::TaskResult;
use switchboard_proto::desk::v1::{Agent as WireAgent, Presence as WirePresence};
use tokio_util::sync::CancellationToken;

use crate::{
    Error,
    assign::Presence,
    handover::{self, Move},
    overview::wire_agent,
    people::People,
};

/// The presence a request names.
pub fn presence_of(wire: WirePresence) -> Result<Presence, Error> {
    match wire {
        WirePresence::Online => Ok(Presence::Online),
        WirePresence::Away => Ok(Presence::Away),
        WirePresence::Offline => Ok(Presence::Offline),
        WirePresence::Unspecified => {
            Err(Error::InvalidArgument("presence is required: online, away or offline".into()))
        }
    }
}

/// Sets the caller's presence; the caller as the desk sees them now.
pub async fn set(people: &People, caller: &Caller, wire: WirePresence) -> Result<WireAgent, Error> {
    let presence = presence_of(wire)?;
    let (tenant, agent_id) = (caller.tenant.as_str(), caller.subject.as_str());
    people.assigner.set_presence(tenant, agent_id, presence).await?;
    tracing::info!(presence = presence.as_str(), "presence set");
    let mut agent = people.assigner.agent(tenant, agent_id).unwrap_or_default();
    agent.presence = Some((presence, chrono::Utc::now()));
    Ok(wire_agent(agent_id, &agent))
}

/// How often the desk looks for agents gone offline past the grace period.
fn tick(grace: Duration) -> Duration {
    (grace / 4).clamp(Duration::from_secs(1), Duration::from_secs(30))
}

/// Sends back to their queues the conversations of agents offline for longer than `grace`.
pub async fn release_the_gone(people: People, grace: Duration, shutdown: CancellationToken) -> TaskResult {
    let grace_span = chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(tick(grace)) => {}
        }
        for (tenant, agent, conversation) in
            people.assigner.held_while_offline(chrono::Utc::now(), grace_span)
        {
            send_back(&people, &tenant, &agent, &conversation).await;
        }
    }
}

async fn send_back(people: &People, tenant: &str, agent: &str, conversation: &str) {
    let asked = Move { by: "desk".into(), note: format!("{agent} went offline"), ..Move::default() };
    let still_offline = || {
        let now = people.assigner.agent(tenant, agent).and_then(|a| a.presence).map(|(presence, _)| presence);
        now == Some(Presence::Offline)
    };
    let still_theirs = |holder: Option<&str>| match holder {
        Some(holder) if holder == agent && still_offline() => Ok(()),
        _ => Err(Error::Stale(format!("{conversation} changed hands, or {agent} came back"))),
    };
    let moved = handover::hand_over(
        &people.bus,
        &people.pool,
        &people.assigner,
        tenant,
        conversation,
        &asked,
        still_theirs,
    )
    .await;
    match moved {
        Ok(moved) => tracing::info!(
            tenant,
            conversation_id = conversation,
            sequence = moved.sequence,
            "offline agent's conversation back in its queue"
        ),
        // Another replica did it, it changed hands, or it closed: nothing to send back.
        Err(Error::Stale(_) | Error::Contended(_) | Error::Resolved(_)) => {}
        Err(error) => {
            tracing::warn!(%error, tenant, conversation_id = conversation, "offline agent's conversation not sent back; the next round retries")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_presence_must_be_named_and_the_desk_looks_often_but_not_constantly() {
        assert!(matches!(presence_of(WirePresence::Unspecified), Err(Error::InvalidArgument(_))));
        assert_eq!(presence_of(WirePresence::Away).ok(), Some(Presence::Away));
        assert_eq!(tick(Duration::from_secs(2)), Duration::from_secs(1));
        assert_eq!(tick(Duration::from_secs(60)), Duration::from_secs(15));
        assert_eq!(tick(Duration::from_secs(3600)), Duration::from_secs(30));
    }
}
