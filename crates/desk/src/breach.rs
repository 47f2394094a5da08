//! What an SLA breach does when the conversation's policy says (the rule set's `on_breach`):
//! raise its priority (never lower it), and move it to a queue, unassigned, for someone else to
//! take. Every replica's timers may tell the same breach: the priority change is keyed on the
//! breach, and a move to the queue it is already in is nothing. The actions follow the breach
//! in memory: a desk that stops between publishing a breach and acting on it does not act on it
//! after a restart (the breach itself is kept and shown).

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use switchboard_bus::Draft;
use switchboard_projection::TaskResult;
use switchboard_proto::events::v1::{ConversationUpdated, event::Body};

use crate::{
    Error,
    handover::{self, Move},
    people::People,
    work,
};

/// A breach to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breach {
    pub tenant: String,
    pub conversation_id: String,
    /// `events.v1.Priority` to raise to; 0: none.
    pub priority: i32,
    /// The queue it goes to; empty: none.
    pub queue: String,
    /// The breach event's key (the priority change's key derives from it).
    pub key: String,
}

/// Whether the priority is to be raised from `now`.
pub fn raises(now: i32, to: i32) -> bool {
    to != 0 && to > now
}

/// Acts on each breach told, until the desk stops.
pub async fn act(
    people: People,
    mut breaches: mpsc::UnboundedReceiver<Breach>,
    shutdown: CancellationToken,
) -> TaskResult {
    loop {
        let breach = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            told = breaches.recv() => match told {
                Some(breach) => breach,
                None => return Ok(()),
            },
        };
        if let Err(error) = act_on(&people, &breach).await {
            tracing::warn!(%error, tenant = breach.tenant, conversation_id = breach.conversation_id, "sla breach actions not taken");
        }
    }
}

async fn act_on(people: &People, breach: &Breach) -> Result<(), Error> {
    let (tenant, id) = (breach.tenant.as_str(), breach.conversation_id.as_str());
    let c = work::conversation(&people.pool, tenant, id).await?;
    if raises(c.priority, breach.priority) {
        let body = Body::ConversationUpdated(ConversationUpdated {
            conversation_id: id.into(),
            add_tags: vec!["sla-breached".into()],
            priority: breach.priority,
            author: "desk".into(),
        });
        let event = Draft::new(tenant, id, body).keyed(format!("{}/raise", breach.key)).build()?;
        people.bus.publish(&event).await?;
    }
    if !breach.queue.is_empty() && breach.queue != c.queue {
        let asked = Move {
            queue: breach.queue.clone(),
            by: "desk".into(),
            note: "SLA breached".into(),
            queue_from_rules: true,
            ..Move::default()
        };
        // Another change of hands at the same moment: read again and move it still.
        for attempt in 1..=3 {
            let (bus, pool, assigner) = (&people.bus, &people.pool, &people.assigner);
            match handover::hand_over(bus, pool, assigner, tenant, id, &asked, |_| Ok(())).await {
                Ok(_) | Err(Error::Resolved(_)) => break,
                Err(Error::Contended(_)) if attempt < 3 => continue,
                Err(error) => return Err(error),
            }
        }
    }
    tracing::info!(tenant, conversation_id = id, "sla breach actions taken");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_breach_raises_the_priority_and_never_lowers_it() {
        assert!(raises(2, 4));
        assert!(!raises(4, 2), "an urgent conversation stays urgent");
        assert!(!raises(2, 0), "no priority action");
    }
}
