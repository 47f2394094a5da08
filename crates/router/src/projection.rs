//! Every routing decision, by queue; customer profiles and when each customer's conversations
//! started, for the rules.

use sqlx::PgConnection;
use switchboard_projection::{Applied, Projection};
use switchboard_proto::{
    events::v1::{CustomerProfileUpdated, MessageClassified, MessageRouted, OrderUpdated, event::Body},
    time::to_datetime,
};

pub struct RouterProjection;

impl Projection for RouterProjection {
    fn name(&self) -> &'static str {
        "router-projection"
    }

    fn schema(&self) -> &'static str {
        "router"
    }

    fn subjects(&self) -> Vec<String> {
        vec![
            "switchboard.events.routing.>".into(),
            "switchboard.events.customer.>".into(),
            "switchboard.events.conversation.>".into(),
            "switchboard.events.classification.>".into(),
            "switchboard.events.order.>".into(),
            "switchboard.events.account.>".into(),
        ]
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "router.decisions",
            "router.customers",
            "router.contacts",
            "router.turns",
            "router.orders",
            "router.accounts",
            "router.sim_refusals",
        ]
    }

    async fn apply(&self, tx: &mut PgConnection, events: &[Applied]) -> Result<(), sqlx::Error> {
        for applied in events {
            let at = to_datetime(applied.event.occurred_at.as_ref());
            match &applied.event.body {
                Some(Body::MessageRouted(routed)) => decision(tx, routed, at).await?,
                Some(Body::CustomerProfileUpdated(profile)) => customer(tx, profile, at).await?,
                Some(Body::MessageClassified(classified)) => turn(tx, classified, at).await?,
                Some(Body::OrderUpdated(order)) => order_updated(tx, order, at).await?,
                Some(Body::AccountUpdated(account)) => {
                    crate::playbooks::account::project(tx, account).await?
                }
                Some(Body::SimActivated(activated)) => {
                    crate::playbooks::account::activated(tx, activated).await?
                }
                Some(Body::SimActivationRefused(refused)) => {
                    crate::playbooks::account::refused(tx, &applied.event.id, refused, at).await?
                }
                Some(Body::MessageReceived(received)) if received.starts_conversation => {
                    sqlx::query(
                        "INSERT INTO router.contacts (conversation_id, customer_id, started_at, channel)
                         VALUES ($1, $2, $3, $4) ON CONFLICT (conversation_id) DO NOTHING",
                    )
                    .bind(&received.conversation_id)
                    .bind(&received.customer_id)
                    .bind(at)
                    .bind(received.channel)
                    .execute(&mut *tx)
                    .await?;
                }
                _ => {}
            }
        }
        Ok(())
    }
}

async fn decision(
    tx: &mut PgConnection,
    routed: &MessageRouted,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO router.decisions
             (message_id, conversation_id, intent, action, queue, priority, rule, at, tags, rules_version,
              rule_action, article_ids)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (message_id) DO UPDATE SET action = EXCLUDED.action,
             queue = EXCLUDED.queue, priority = EXCLUDED.priority, rule = EXCLUDED.rule,
             tags = EXCLUDED.tags, rules_version = EXCLUDED.rules_version,
             rule_action = EXCLUDED.rule_action, article_ids = EXCLUDED.article_ids",
    )
    .bind(&routed.message_id)
    .bind(&routed.conversation_id)
    .bind(&routed.intent)
    .bind(routed.action)
    .bind(&routed.queue)
    .bind(routed.priority)
    .bind(&routed.rule)
    .bind(at)
    .bind(&routed.tags)
    .bind(i32::try_from(routed.rules_version).unwrap_or(i32::MAX))
    .bind(&routed.rule_action)
    .bind(&routed.article_ids)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn turn(
    tx: &mut PgConnection,
    classified: &MessageClassified,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), sqlx::Error> {
    let entities: Vec<serde_json::Value> = classified
        .entities
        .iter()
        .map(|e| serde_json::json!({"kind": e.kind, "text": e.text, "value": e.value}))
        .collect();
    sqlx::query(
        "INSERT INTO router.turns (message_id, conversation_id, text, intent, sentiment_score, entities, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (message_id) DO NOTHING",
    )
    .bind(&classified.message_id)
    .bind(&classified.conversation_id)
    .bind(&classified.text)
    .bind(&classified.intent)
    .bind(classified.feeling.as_ref().map_or(0.0, |f| f.sentiment_score))
    .bind(serde_json::Value::Array(entities))
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Empty fields keep what an earlier event said.
async fn order_updated(
    tx: &mut PgConnection,
    order: &OrderUpdated,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), sqlx::Error> {
    let status = order.status().as_str_name().trim_start_matches("ORDER_STATUS_").to_lowercase();
    sqlx::query(
        "INSERT INTO router.orders (order_id, customer_id, status, carrier, tracking_number, tracking_url,
             expected_delivery, summary, updated_at, delivered_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, CASE WHEN $3 = 'delivered' THEN $9 END)
         ON CONFLICT (order_id) DO UPDATE SET
             customer_id = COALESCE(NULLIF(EXCLUDED.customer_id, ''), router.orders.customer_id),
             status = CASE WHEN EXCLUDED.status = 'unspecified' THEN router.orders.status ELSE EXCLUDED.status END,
             carrier = COALESCE(NULLIF(EXCLUDED.carrier, ''), router.orders.carrier),
             tracking_number = COALESCE(NULLIF(EXCLUDED.tracking_number, ''), router.orders.tracking_number),
             tracking_url = COALESCE(NULLIF(EXCLUDED.tracking_url, ''), router.orders.tracking_url),
             expected_delivery = COALESCE(EXCLUDED.expected_delivery, router.orders.expected_delivery),
             summary = COALESCE(NULLIF(EXCLUDED.summary, ''), router.orders.summary),
             delivered_at = COALESCE(router.orders.delivered_at, EXCLUDED.delivered_at),
             updated_at = EXCLUDED.updated_at",
    )
    .bind(&order.order_id)
    .bind(&order.customer_id)
    .bind(status)
    .bind(&order.carrier)
    .bind(&order.tracking_number)
    .bind(&order.tracking_url)
    .bind(order.expected_delivery.as_ref().map(|t| to_datetime(Some(t))))
    .bind(&order.summary)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn customer(
    tx: &mut PgConnection,
    profile: &CustomerProfileUpdated,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO router.customers (customer_id, tier, plan, country, attributes, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (customer_id) DO UPDATE SET tier = EXCLUDED.tier, plan = EXCLUDED.plan,
             country = EXCLUDED.country, attributes = EXCLUDED.attributes, updated_at = EXCLUDED.updated_at",
    )
    .bind(&profile.customer_id)
    .bind(&profile.tier)
    .bind(&profile.plan)
    .bind(&profile.country)
    .bind(serde_json::to_value(&profile.attributes).unwrap_or_default())
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
