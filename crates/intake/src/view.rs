//! Reading a conversation from the read model.

use sqlx::{Row as _, postgres::PgRow};
use switchboard_proto::{
    intake::v1::{Classification, Conversation, Message, RoutingDecision},
    time::to_timestamp,
};

use crate::domain::{Error, Intake};

type At = chrono::DateTime<chrono::Utc>;

impl Intake {
    /// The conversation with its messages in order, once the read model has applied `min_sequence`;
    /// another tenant's conversation is not found.
    pub async fn conversation(
        &self,
        tenant: &str,
        id: &str,
        min_sequence: u64,
    ) -> Result<Conversation, Error> {
        self.catch_up(min_sequence).await?;
        let row = sqlx::query(
            "SELECT conversation_id, tenant, customer_id, channel, status, created_at, updated_at, language
             FROM intake.conversations WHERE conversation_id = $1 AND tenant = $2",
        )
        .bind(id)
        .bind(tenant)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| Error::ConversationNotFound(id.to_string()))?;
        let messages = self.messages(tenant, id).await?;
        Ok(Conversation {
            conversation_id: row.get(0),
            tenant: row.get(1),
            customer_id: row.get(2),
            channel: row.get(3),
            status: row.get(4),
            messages,
            created_at: Some(to_timestamp(row.get::<At, _>(5))),
            updated_at: Some(to_timestamp(row.get::<At, _>(6))),
            language: row.get(7),
        })
    }

    async fn messages(&self, tenant: &str, conversation_id: &str) -> Result<Vec<Message>, Error> {
        let rows = sqlx::query(
            "SELECT m.message_id, m.author, m.text, m.at,
                    c.intent, c.confidence, c.language, c.model_version,
                    r.action, r.queue, r.priority, r.rule, r.reason
             FROM intake.messages m
             LEFT JOIN intake.classifications c ON c.tenant = m.tenant AND c.message_id = m.message_id
             LEFT JOIN intake.routings r ON r.tenant = m.tenant AND r.message_id = m.message_id
             WHERE m.conversation_id = $1 AND m.tenant = $2 ORDER BY m.sequence",
        )
        .bind(conversation_id)
        .bind(tenant)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(message).collect())
    }
}

fn message(row: &PgRow) -> Message {
    let classification = row.get::<Option<String>, _>(4).map(|intent| Classification {
        intent,
        confidence: row.get(5),
        language: row.get(6),
        model_version: row.get(7),
    });
    let routing = row.get::<Option<i32>, _>(8).map(|action| RoutingDecision {
        action,
        queue: row.get(9),
        priority: row.get(10),
        rule: row.get(11),
        reason: row.get(12),
    });
    Message {
        message_id: row.get(0),
        author: row.get(1),
        text: row.get(2),
        at: Some(to_timestamp(row.get::<At, _>(3))),
        classification,
        routing,
    }
}
