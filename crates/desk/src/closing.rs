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

/// Who a conversation is with: the customer and channel of its first message, and the language
/// its messages were routed in (empty before any was).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Contact {
    pub customer_id: String,
    pub channel: i32,
    pub language: String,
}

/// The conversation's contact, from the stream (an agent may resolve a conversation before the
/// desk's read model has it); `None` before its first message.
pub async fn contact(bus: &Bus, tenant: &str, conversation_id: &str) -> Result<Option<Contact>, Error> {
    let history = bus.events_of("conversation", tenant, conversation_id).await?;
    let mut found: Option<Contact> = None;
    for (event, _) in history {
        match (event.body, &mut found) {
            (Some(Body::MessageReceived(m)), None) => {
                found =
                    Some(Contact { customer_id: m.customer_id, channel: m.channel, ..Contact::default() });
            }
            (Some(Body::MessageRouted(r)), Some(contact)) if !r.language.is_empty() => {
                contact.language = r.language
            }
            _ => {}
        }
    }
    Ok(found)
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
    let Contact { customer_id, channel, .. } =
        contact(bus, tenant, conversation_id).await?.unwrap_or_default();
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
