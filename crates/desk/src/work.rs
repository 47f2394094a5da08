//! Working a conversation: replies, internal notes and reopening. Who may act is a pure
//! function of the conversation as the desk sees it; the rest publishes events.

use sqlx::PgPool;
use switchboard_auth::{Caller, Role};
use switchboard_bus::{Bus, Draft, key_id};
use switchboard_proto::events::v1::{ConversationReopened, NoteAdded, ReplyRequested, event::Body};

use crate::{Error, conversation::Conversation, store};

/// Longest reply or note, in bytes.
pub const MAX_TEXT: usize = 32 * 1024;

/// The tenant's conversation `id` as the desk sees it, or `NotFound`.
pub async fn conversation(pool: &PgPool, tenant: &str, id: &str) -> Result<Conversation, Error> {
    if !switchboard_bus::is_aggregate_id(id) {
        return Err(Error::NotFound(id.to_string()));
    }
    let mut connection = pool.acquire().await?;
    store::load(&mut connection, tenant, id).await?.ok_or_else(|| Error::NotFound(id.to_string()))
}

/// Whether `caller` may answer or change `c`: agents what they hold or nobody holds;
/// supervisors and admins anything of their tenant.
pub fn may_work(caller: &Caller, c: &Conversation) -> Result<(), Error> {
    let held_by_another = !c.assignee.is_empty() && c.assignee != caller.subject;
    if caller.role == Role::Agent && held_by_another {
        return Err(Error::HeldBy { conversation: c.conversation_id.clone(), agent: c.assignee.clone() });
    }
    Ok(())
}

pub fn checked_text(text: &str) -> Result<&str, Error> {
    let text = text.trim();
    if text.is_empty() || text.len() > MAX_TEXT || text.contains('\0') {
        return Err(Error::InvalidArgument(format!(
            "text is required, at most {MAX_TEXT} bytes, without NUL"
        )));
    }
    Ok(text)
}

/// What a reply or a note published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub id: String,
    pub sequence: u64,
}

/// Sends `text` to the customer of `c` on their channel as `caller`. The same
/// `idempotency_key` sends one reply.
pub async fn reply(
    bus: &Bus,
    caller: &Caller,
    c: &Conversation,
    text: &str,
    article_ids: &[String],
    idempotency_key: &str,
) -> Result<Published, Error> {
    let text = checked_text(text)?;
    may_work(caller, c)?;
    if c.closed {
        return Err(Error::Resolved(c.conversation_id.clone()));
    }
    if idempotency_key.len() > 256 {
        return Err(Error::InvalidArgument("idempotency_key is at most 256 bytes".into()));
    }
    let key = match idempotency_key {
        "" => format!("desk-reply/{}", uuid::Uuid::now_v7()),
        key => format!("desk-reply/{}/{}/{key}", c.conversation_id, caller.subject),
    };
    let reply_id = key_id(&key).to_string();
    let body = Body::ReplyRequested(ReplyRequested {
        reply_id: reply_id.clone(),
        conversation_id: c.conversation_id.clone(),
        customer_id: c.customer_id.clone(),
        channel: c.channel,
        text: text.to_string(),
        article_ids: article_ids.to_vec(),
        language: c.language.clone(),
        author: format!("agent:{}", caller.subject),
        ..ReplyRequested::default()
    });
    let event = Draft::new(&caller.tenant, &reply_id, body).keyed(key).build()?;
    let published = bus.publish(&event).await?;
    tracing::info!(conversation_id = %c.conversation_id, duplicate = published.duplicate, "agent reply requested");
    Ok(Published { id: reply_id, sequence: published.sequence })
}

/// An internal note on `c`, for people only. Anyone on the desk may leave one.
pub async fn add_note(bus: &Bus, caller: &Caller, c: &Conversation, text: &str) -> Result<Published, Error> {
    let text = checked_text(text)?;
    let note_id = uuid::Uuid::now_v7().to_string();
    let body = Body::NoteAdded(NoteAdded {
        note_id: note_id.clone(),
        conversation_id: c.conversation_id.clone(),
        author: format!("agent:{}", caller.subject),
        text: text.to_string(),
    });
    let published = bus.publish(&Draft::new(&caller.tenant, &note_id, body).build()?).await?;
    Ok(Published { id: note_id, sequence: published.sequence })
}

/// Opens a resolved conversation again; it waits in its queue.
pub async fn reopen(bus: &Bus, caller: &Caller, c: &Conversation, reason: &str) -> Result<u64, Error> {
    if !c.closed {
        return Err(Error::NotResolved(c.conversation_id.clone()));
    }
    let body = Body::ConversationReopened(ConversationReopened {
        conversation_id: c.conversation_id.clone(),
        author: format!("agent:{}", caller.subject),
        reason: reason.trim().chars().take(500).collect(),
        by_customer: false,
        channel: c.channel,
        // As the closing said it: people took part once it went to them.
        handled_by: if c.routed == crate::conversation::Routed::Bot { "bot" } else { "human" }.into(),
    });
    let published = bus.publish(&Draft::new(&caller.tenant, &c.conversation_id, body).build()?).await?;
    Ok(published.sequence)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(role: Role, subject: &str) -> Caller {
        Caller {
            tenant: "acme".into(),
            subject: subject.into(),
            role,
            token_id: String::new(),
            expires_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn agents_work_what_they_hold_or_nobody_holds_and_supervisors_anything() {
        let held =
            Conversation { conversation_id: "c".into(), assignee: "bob".into(), ..Conversation::default() };
        let refused = may_work(&caller(Role::Agent, "ana"), &held).expect_err("bob holds it").to_string();
        assert!(refused.contains("\"bob\""), "{refused}");
        assert!(may_work(&caller(Role::Agent, "bob"), &held).is_ok());
        assert!(may_work(&caller(Role::Supervisor, "sue"), &held).is_ok());
        assert!(may_work(&caller(Role::Agent, "ana"), &Conversation::default()).is_ok());
    }

    #[test]
    fn texts_are_required_and_bounded() {
        assert_eq!(checked_text("  Hello  ").ok(), Some("Hello"));
        for bad in ["", "   ", "a\0b", &"x".repeat(MAX_TEXT + 1)] {
            assert!(checked_text(bad).is_err(), "{bad:?}");
        }
    }
}
