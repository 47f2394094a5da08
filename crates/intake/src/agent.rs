//! Agents' replies: published as `ReplyRequested` with `author` = `agent:<id>`, so they reach the
//! customer on the conversation's channel through the notifier like any reply, once per key,
//! marked with the conversation's language for the channel's templates.

use switchboard_bus::{Draft, key_id, tenant_of};
use switchboard_proto::events::v1::{ReplyRequested, event::Body};

use crate::domain::{Error, Intake, MAX_TEXT_BYTES};

/// What became of an agent's reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentReplied {
    pub reply_id: String,
    pub duplicate: bool,
}

impl Intake {
    /// Replies in a conversation of `tenant` (another tenant's is not found) as `agent_id`.
    pub async fn send_agent_reply(
        &self,
        tenant: &str,
        conversation_id: &str,
        agent_id: &str,
        text: &str,
        idempotency_key: &str,
    ) -> Result<AgentReplied, Error> {
        validate(conversation_id, agent_id, text, idempotency_key)?;
        let not_found = || Error::ConversationNotFound(conversation_id.into());
        let (last, _) = match self.bus().last_event_of("conversation", tenant, conversation_id).await {
            Ok(found) => found.ok_or_else(not_found)?,
            Err(switchboard_bus::Error::InvalidAggregateId(_)) => return Err(not_found()),
            Err(error) => return Err(error.into()),
        };
        let Some(Body::MessageReceived(received)) = &last.body else { return Err(not_found()) };
        let owner = tenant_of(&last);
        if owner != tenant {
            return Err(not_found());
        }
        let language = self.language_of(tenant, conversation_id).await?;
        // Per agent: another agent's reply with the same key is not taken for a duplicate.
        let key = format!("agent-reply/{conversation_id}/{agent_id}/{idempotency_key}");
        let reply_id = key_id(&key).to_string();
        let body = Body::ReplyRequested(ReplyRequested {
            reply_id: reply_id.clone(),
            conversation_id: conversation_id.into(),
            customer_id: received.customer_id.clone(),
            channel: received.channel,
            text: text.trim().into(),
            author: format!("agent:{agent_id}"),
            language,
            ..ReplyRequested::default()
        });
        let event = Draft::new(tenant, &reply_id, body).keyed(key).build()?;
        let published = self.bus().publish(&event).await?;
        tracing::info!(conversation_id, duplicate = published.duplicate, "agent reply requested");
        Ok(AgentReplied { reply_id, duplicate: published.duplicate })
    }
}

impl Intake {
    /// The conversation's language as the read model has it; empty until it is classified.
    async fn language_of(&self, tenant: &str, conversation_id: &str) -> Result<String, Error> {
        let language: Option<String> = sqlx::query_scalar(
            "SELECT language FROM intake.conversations WHERE tenant = $1 AND conversation_id = $2",
        )
        .bind(tenant)
        .bind(conversation_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(language.unwrap_or_default())
    }
}

fn validate(conversation_id: &str, agent_id: &str, text: &str, key: &str) -> Result<(), Error> {
    let invalid = |message: &str| Err(Error::InvalidArgument(message.into()));
    if conversation_id.is_empty() {
        return invalid("conversation_id is required");
    }
    // The same rule as the router's agent ids, which name the agents' aggregates.
    if !switchboard_bus::is_aggregate_id(agent_id) {
        return invalid("agent_id is required: up to 128 letters, digits, '-' and '_'");
    }
    if text.trim().is_empty() || text.len() > MAX_TEXT_BYTES || text.contains('\0') {
        return invalid("text is required, at most 32 KiB, without NUL characters");
    }
    if key.is_empty() || key.len() > 256 {
        return invalid("idempotency_key is required, at most 256 bytes");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_incomplete_replies_with_a_reason() {
        assert!(validate("c", "ana", "Hello", "k").is_ok());
        for (conversation, agent, text, key, expected) in [
            ("", "ana", "Hello", "k", "conversation_id"),
            ("c", "ana smith", "Hello", "k", "agent_id"),
            ("c", "ana", "  ", "k", "text"),
            ("c", "ana", "Hello", "", "idempotency_key"),
        ] {
            let error = validate(conversation, agent, text, key).expect_err(expected).to_string();
            assert!(error.contains(expected), "{error}");
        }
    }
}
