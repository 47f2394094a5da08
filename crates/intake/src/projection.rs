//! The conversation view: conversations, messages, classifications and routing decisions.

use sqlx::PgConnection;
use switchboard_projection::{Applied, Projection};
use switchboard_proto::{
    events::v1::{
        DeliveryFailed, MessageClassified, MessageReceived, MessageRouted, ReplyDelivered,
        RouteAction, event::Body,
    },
    intake::v1::{Author, ConversationStatus},
    time::to_datetime,
};

type At = chrono::DateTime<chrono::Utc>;

/// Projects conversation, classification, routing and delivery events into schema `intake`.
pub struct IntakeProjection;

impl Projection for IntakeProjection {
    fn name(&self) -> &'static str {
        "intake-projection"
    }

    fn schema(&self) -> &'static str {
        "intake"
    }

    fn subjects(&self) -> Vec<String> {
        ["conversation", "classification", "routing", "delivery"]
            .iter()
            .map(|aggregate| format!("switchboard.events.{aggregate}.>"))
            .collect()
    }

    fn tables(&self) -> &'static [&'static str] {
        &["intake.conversations", "intake.messages", "intake.classifications", "intake.routings"]
    }

    async fn apply(&self, tx: &mut PgConnection, events: &[Applied]) -> Result<(), sqlx::Error> {
        for applied in events {
            let at = to_datetime(applied.event.occurred_at.as_ref());
            match &applied.event.body {
                Some(Body::MessageReceived(received)) => {
                    received_message(tx, &applied.event.tenant, received, at, applied.sequence).await?;
                }
                Some(Body::MessageClassified(classified)) => classification(tx, classified).await?,
                Some(Body::MessageRouted(routed)) => routing(tx, routed, at).await?,
                Some(Body::ReplyDelivered(delivered)) => reply(tx, delivered, at, applied.sequence).await?,
                Some(Body::DeliveryFailed(failed)) => failure(tx, failed, at).await?,
                _ => {}
            }
        }
        Ok(())
    }
}

async fn received_message(
    tx: &mut PgConnection,
    tenant: &str,
    received: &MessageReceived,
    at: At,
    sequence: u64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO intake.conversations
             (conversation_id, tenant, customer_id, channel, status, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (conversation_id) DO NOTHING",
    )
    .bind(&received.conversation_id)
    .bind(tenant)
    .bind(&received.customer_id)
    .bind(received.channel)
    .bind(ConversationStatus::Open as i32)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    set_status(tx, &received.conversation_id, ConversationStatus::Open, at).await?;
    insert_message(tx, tenant, received, at, sequence).await
}

async fn insert_message(
    tx: &mut PgConnection,
    tenant: &str,
    received: &MessageReceived,
    at: At,
    sequence: u64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO intake.messages
             (message_id, conversation_id, tenant, author, text, idempotency_key, at, sequence)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
    )
    .bind(&received.message_id)
    .bind(&received.conversation_id)
    .bind(tenant)
    .bind(Author::Customer as i32)
    .bind(&received.text)
    .bind(&received.idempotency_key)
    .bind(at)
    .bind(sequence_i64(sequence))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn classification(tx: &mut PgConnection, classified: &MessageClassified) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO intake.classifications (message_id, intent, confidence, language, model_version)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (message_id) DO UPDATE SET intent = EXCLUDED.intent,
             confidence = EXCLUDED.confidence, language = EXCLUDED.language,
             model_version = EXCLUDED.model_version",
    )
    .bind(&classified.message_id)
    .bind(&classified.intent)
    .bind(classified.confidence)
    .bind(&classified.language)
    .bind(&classified.model_version)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn routing(tx: &mut PgConnection, routed: &MessageRouted, at: At) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO intake.routings (message_id, action, queue, priority, rule, reason)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (message_id) DO UPDATE SET action = EXCLUDED.action, queue = EXCLUDED.queue,
             priority = EXCLUDED.priority, rule = EXCLUDED.rule, reason = EXCLUDED.reason",
    )
    .bind(&routed.message_id)
    .bind(routed.action)
    .bind(&routed.queue)
    .bind(routed.priority)
    .bind(&routed.rule)
    .bind(&routed.reason)
    .execute(&mut *tx)
    .await?;
    let status = match routed.action() {
        RouteAction::Escalate => ConversationStatus::Escalated,
        RouteAction::Queue => ConversationStatus::Queued,
        RouteAction::AutoReply | RouteAction::Unspecified => return Ok(()),
    };
    set_status(tx, &routed.conversation_id, status, at).await
}

async fn reply(
    tx: &mut PgConnection,
    delivered: &ReplyDelivered,
    at: At,
    sequence: u64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO intake.messages (message_id, conversation_id, tenant, author, text, at, sequence)
         SELECT $1, conversation_id, tenant, $3, $4, $5, $6
         FROM intake.conversations WHERE conversation_id = $2
         ON CONFLICT DO NOTHING",
    )
    .bind(&delivered.reply_id)
    .bind(&delivered.conversation_id)
    .bind(Author::Bot as i32)
    .bind(&delivered.text)
    .bind(at)
    .bind(sequence_i64(sequence))
    .execute(&mut *tx)
    .await?;
    set_status(tx, &delivered.conversation_id, ConversationStatus::Answered, at).await
}

/// A reply that could not be delivered leaves the conversation to a human.
async fn failure(tx: &mut PgConnection, failed: &DeliveryFailed, at: At) -> Result<(), sqlx::Error> {
    set_status(tx, &failed.conversation_id, ConversationStatus::Queued, at).await
}

async fn set_status(
    tx: &mut PgConnection,
    conversation_id: &str,
    status: ConversationStatus,
    at: At,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE intake.conversations SET status = $2, updated_at = GREATEST(updated_at, $3)
         WHERE conversation_id = $1",
    )
    .bind(conversation_id)
    .bind(status as i32)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

fn sequence_i64(sequence: u64) -> i64 {
    i64::try_from(sequence).unwrap_or(i64::MAX)
}
