//! Every routing decision, by queue.

use sqlx::PgConnection;
use switchboard_projection::{Applied, Projection};
use switchboard_proto::{events::v1::event::Body, time::to_datetime};

pub struct RouterProjection;

impl Projection for RouterProjection {
    fn name(&self) -> &'static str {
        "router-projection"
    }

    fn schema(&self) -> &'static str {
        "router"
    }

    fn subjects(&self) -> Vec<String> {
        vec!["switchboard.events.routing.>".into()]
    }

    fn tables(&self) -> &'static [&'static str] {
        &["router.decisions"]
    }

    async fn apply(&self, tx: &mut PgConnection, events: &[Applied]) -> Result<(), sqlx::Error> {
        for applied in events {
            let Some(Body::MessageRouted(routed)) = &applied.event.body else {
                continue;
            };
            sqlx::query(
                "INSERT INTO router.decisions
                     (message_id, conversation_id, intent, action, queue, priority, rule, at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (message_id) DO UPDATE SET action = EXCLUDED.action,
                     queue = EXCLUDED.queue, priority = EXCLUDED.priority, rule = EXCLUDED.rule",
            )
            .bind(&routed.message_id)
            .bind(&routed.conversation_id)
            .bind(&routed.intent)
            .bind(routed.action)
            .bind(&routed.queue)
            .bind(routed.priority)
            .bind(&routed.rule)
            .bind(to_datetime(applied.event.occurred_at.as_ref()))
            .execute(&mut *tx)
            .await?;
        }
        Ok(())
    }
}
