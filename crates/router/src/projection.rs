//! Every routing decision, by queue; customer profiles and when each customer's conversations
//! started, for the rules. Every row carries its event's tenant and keys on it.

use sqlx::PgConnection;
use switchboard_projection::{Applied, Projection};
use switchboard_proto::{
    events::v1::{
        CustomerProfileUpdated, MessageClassified, MessageReceived, MessageRouted, OrderUpdated, event::Body,
    },
    time::to_datetime,
};

use switchboard_bus::tenant_of;

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
            let tenant = tenant_of(&applied.event);
            match &applied.event.body {
                Some(Body::MessageRouted(routed)) => decision(tx, tenant, routed, at).await?,
                Some(Body::CustomerProfileUpdated(profile)) => customer(tx, tenant, profile, at).await?,
                Some(Body::MessageClassified(classified)) => turn(tx, tenant, classified, at).await?,
                Some(Body::OrderUpdated(order)) => order_updated(tx, tenant, order, at).await?,
                Some(Body::AccountUpdated(account)) => {
                    crate::playbooks::account::project(tx, tenant, account).await?
                }
                Some(Body::SimActivated(activated)) => {
                    crate::playbooks::account::activated(tx, tenant, activated).await?
                }
                Some(Body::SimActivationRefused(refused)) => {
                    crate::playbooks::account::refused(tx, tenant, &applied.event.id, refused, at).await?
                }
                Some(Body::MessageReceived(received)) if received.starts_conversation => {
                    contact(tx, tenant, received, at).await?
                }
                _ => {}
            }
        }
        Ok(())
    }
}

async fn contact(
    tx: &mut PgConnection,
    tenant: &str,
    received: &MessageReceived,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO router.contacts (tenant, conversation_id, customer_id, started_at, channel)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant, conversation_id) DO NOTHING",
    )
    .bind(tenant)
    .bind(&received.conversation_id)
    .bind(&received.customer_id)
    .bind(at)
    .bind(received.channel)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn decision(
    tx: &mut PgConnection,
    tenant: &str,
    routed: &MessageRouted,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO router.decisions
             (message_id, conversation_id, intent, action, queue, priority, rule, at, tags, rules_version,
              rule_action, article_ids, tenant)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT (tenant, message_id) DO UPDATE SET action = EXCLUDED.action,
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
    .bind(tenant)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn turn(
    tx: &mut PgConnection,
    tenant: &str,
    classified: &MessageClassified,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), sqlx::Error> {
    let entities: Vec<serde_json::Value> = classified
        .entities
        .iter()
        .map(|e| serde_json::json!({"kind": e.kind, "text": e.text, "value": e.value}))
        .collect();
    sqlx::query(
        "INSERT INTO router.turns
             (message_id, conversation_id, text, intent, sentiment_score, entities, at, tenant)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (tenant, message_id) DO NOTHING",
    )
    .bind(&classified.message_id)
    .bind(&classified.conversation_id)
    .bind(&classified.text)
    .bind(&classified.intent)
    .bind(classified.feeling.as_ref().map_or(0.0, |f| f.sentiment_score))
    .bind(serde_json::Value::Array(entities))
    .bind(at)
    .bind(tenant)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Empty fields keep what an earlier event said.
async fn order_updated(
    tx: &mut PgConnection,
    tenant: &str,
    order: &OrderUpdated,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), sqlx::Error> {
    let status = order.status().as_str_name().trim_start_matches("ORDER_STATUS_").to_lowercase();
    sqlx::query(
        "INSERT INTO router.orders (order_id, customer_id, status, carrier, tracking_number, tracking_url,
             expected_delivery, summary, updated_at, delivered_at, tenant)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, CASE WHEN $3 = 'delivered' THEN $9 END, $10)
         ON CONFLICT (tenant, order_id) DO UPDATE SET
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
    .bind(tenant)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn customer(
    tx: &mut PgConnection,
    tenant: &str,
    profile: &CustomerProfileUpdated,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO router.customers (customer_id, tier, plan, country, attributes, updated_at, tenant)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (tenant, customer_id) DO UPDATE SET tier = EXCLUDED.tier, plan = EXCLUDED.plan,
             country = EXCLUDED.country, attributes = EXCLUDED.attributes, updated_at = EXCLUDED.updated_at",
    )
    .bind(&profile.customer_id)
    .bind(&profile.tier)
    .bind(&profile.plan)
    .bind(&profile.country)
    .bind(serde_json::to_value(&profile.attributes).unwrap_or_default())
    .bind(at)
    .bind(tenant)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
