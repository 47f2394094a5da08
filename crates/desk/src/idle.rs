//! Closing what only the bot handled once the customer has gone quiet: resolved by the bot, so
//! it gets its survey and counts toward containment. A customer who writes again opens the same
//! conversation again. Which conversations are due is a pure function; a timer publishes.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use switchboard_bus::{Bus, Draft};
use switchboard_proto::events::v1::{ConversationClosed, event::Body};
use tokio_util::sync::CancellationToken;

use crate::{
    Error,
    conversation::{Conversation, Routed},
    store,
};

/// Conversations closed per pass, at most.
const BATCH: i64 = 500;

/// Whether `c` has been the bot's alone, untouched, for `idle` at `now`.
pub fn due(c: &Conversation, idle: Duration, now: DateTime<Utc>) -> bool {
    let idle = chrono::Duration::from_std(idle).unwrap_or(chrono::Duration::MAX);
    !c.closed && !c.paused && c.routed == Routed::Bot && c.assignee.is_empty() && c.updated_at + idle <= now
}

/// Closes the due conversations every `idle / 4` (at most every minute), until `shutdown`.
pub async fn run(bus: Bus, pool: PgPool, idle: Duration, shutdown: CancellationToken) -> Result<(), Error> {
    let every = (idle / 4).clamp(Duration::from_millis(250), Duration::from_secs(60));
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(every) => {}
        }
        if let Err(error) = close_due(&bus, &pool, idle).await {
            tracing::warn!(%error, "closing idle bot conversations failed; retrying on the next pass");
        }
    }
}

async fn close_due(bus: &Bus, pool: &PgPool, idle: Duration) -> Result<(), Error> {
    let now = Utc::now();
    let cutoff = now - chrono::Duration::from_std(idle).unwrap_or(chrono::Duration::MAX);
    for c in store::idle_bot_conversations(pool, cutoff, BATCH).await?.iter().filter(|c| due(c, idle, now)) {
        let body = Body::ConversationClosed(ConversationClosed {
            conversation_id: c.conversation_id.clone(),
            reason: "idle".into(),
            customer_id: c.customer_id.clone(),
            channel: c.channel,
            handled_by: "bot".into(),
        });
        // Keyed by the conversation's state: replicas closing it at once store one closing.
        let key = format!("idle-close/{}/{}/{}", c.tenant, c.conversation_id, c.sequence);
        bus.publish(&Draft::new(&c.tenant, &c.conversation_id, body).keyed(key).build()?).await?;
        tracing::info!(conversation_id = %c.conversation_id, "idle bot conversation closed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(24 * 3600);

    fn at(hours: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + hours * 3600, 0).unwrap_or_default()
    }

    #[test]
    fn only_the_bot_s_quiet_conversations_are_due() {
        let quiet = Conversation { updated_at: at(0), ..Conversation::default() };
        assert!(due(&quiet, DAY, at(24)));
        assert!(!due(&quiet, DAY, at(23)), "not quiet long enough");
        for busy in [
            Conversation { routed: Routed::Queued, ..quiet.clone() },
            Conversation { assignee: "ana".into(), ..quiet.clone() },
            Conversation { closed: true, ..quiet.clone() },
            Conversation { paused: true, ..quiet.clone() },
        ] {
            assert!(!due(&busy, DAY, at(48)), "{busy:?}");
        }
    }
}
