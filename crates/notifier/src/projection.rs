//! Deliveries and failures, per conversation.

use sqlx::PgConnection;
use switchboard_projection::{Applied, Projection};
use switchboard_proto::{events::v1::event::Body, time::to_datetime};

pub struct NotifierProjection;

/// One row of `notifier.deliveries`.
struct Row<'a> {
    reply_id: &'a str,
    conversation_id: &'a str,
    channel: i32,
    status: &'a str,
    destination: &'a str,
    attempts: u32,
    failure_reason: &'a str,
}

impl Projection for NotifierProjection {
    fn name(&self) -> &'static str {
        "notifier-projection"
    }

    fn schema(&self) -> &'static str {
        "notifier"
    }

    fn subjects(&self) -> Vec<String> {
        vec!["switchboard.events.delivery.>".into()]
    }

    fn tables(&self) -> &'static [&'static str] {
        &["notifier.deliveries"]
    }

    async fn apply(&self, tx: &mut PgConnection, events: &[Applied]) -> Result<(), sqlx::Error> {
        for applied in events {
            let row = match &applied.event.body {
                Some(Body::ReplyDelivered(d)) => Row {
                    reply_id: &d.reply_id,
                    conversation_id: &d.conversation_id,
                    channel: d.channel,
                    status: "delivered",
                    destination: &d.destination,
                    attempts: d.attempts,
                    failure_reason: "",
                },
                Some(Body::DeliveryFailed(f)) => Row {
                    reply_id: &f.reply_id,
                    conversation_id: &f.conversation_id,
                    channel: f.channel,
                    status: "failed",
                    destination: "",
                    attempts: f.attempts,
                    failure_reason: &f.reason,
                },
                _ => continue,
            };
            upsert(tx, &row, to_datetime(applied.event.occurred_at.as_ref())).await?;
        }
        Ok(())
    }
}

async fn upsert(
    tx: &mut PgConnection,
    row: &Row<'_>,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO notifier.deliveries
             (reply_id, conversation_id, channel, status, destination, attempts, failure_reason, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (reply_id) DO UPDATE SET status = EXCLUDED.status,
             destination = EXCLUDED.destination, attempts = EXCLUDED.attempts,
             failure_reason = EXCLUDED.failure_reason, at = EXCLUDED.at",
    )
    .bind(row.reply_id)
    .bind(row.conversation_id)
    .bind(row.channel)
    .bind(row.status)
    .bind(row.destination)
    .bind(i32::try_from(row.attempts).unwrap_or(i32::MAX))
    .bind(row.failure_reason)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
