//! Who a conversation is with, and the `ConversationClosed` that ends it: an agent resolved it,
//! or it waited on the customer too long.

use sqlx::PgPool;
use switchboard_bus::Bus;
use switchboard_proto::events::v1::{ConversationClosed, event::Body};

use crate::{Error, conversation::Routed, store};

/// Whether `tenant` has a conversation `conversation_id` (from the stream, so one that started a
/// moment ago counts); another tenant's conversation of the same id does not.
pub async fn exists(bus: &Bus, tenant: &str, conversation_id: &str) -> Result<bool, Error> {
    match bus.last_event_of("conversation", tenant, conversation_id).await {
        Ok(last) => Ok(last.is_some()),
        Err(switchboard_bus::Error::InvalidAggregateId(_)) => Ok(false),
        Err(error) => Err(error.into()),
    }
}

/// The conversation's customer and channel, as its first message gave them (from the stream:
/// an agent may resolve a conversation before the desk's read model has it).
pub async fn contact(bus: &Bus, tenant: &str, conversation_id: &str) -> Result<Option<(String, i32)>, Error> {
    let history = bus.events_of("conversation", tenant, conversation_id).await?;
    Ok(history.into_iter().find_map(|(event, _)| match event.body {
        Some(Body::MessageReceived(m)) => Some((m.customer_id, m.channel)),
        _ => None,
    }))
}

/// The `ConversationClosed` of a conversation, with who it was with and who handled it: `human`
/// when an agent closes it or a person had it, else `bot`.
pub async fn closed(
    bus: &Bus,
    pool: &PgPool,
    tenant: &str,
    conversation_id: &str,
    reason: &str,
    by_agent: bool,
) -> Result<ConversationClosed, Error> {
    let (customer_id, channel) = contact(bus, tenant, conversation_id).await?.unwrap_or_default();
    let human = by_agent || {
        let mut connection = pool.acquire().await?;
        let row = store::load(&mut connection, tenant, conversation_id).await?;
        row.is_some_and(|c| c.routed != Routed::Bot || !c.assignee.is_empty())
    };
    Ok(ConversationClosed {
        conversation_id: conversation_id.into(),
        reason: reason.into(),
        customer_id,
        channel,
        handled_by: if human { "human" } else { "bot" }.into(),
    })
}
