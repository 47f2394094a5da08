//! Every routing decision, by queue; customer profiles and when each customer's conversations
//! started, for the rules. Every row carries its event's tenant and keys on it.

use sqlx::PgConnection;
use switchboard_projection::{Applied, Projection};
use switchboard_proto::{
    events::v1::{CustomerProfileUpdated, OrderUpdated, event::Body},
    time::to_datetime,
};

use switchboard_bus::tenant_of;

mod rows;

use rows::Rows;

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

    /// Contacts, turns and decisions are gathered and written once for the batch (see
    /// [`rows`]); they are tables no other event of the batch writes or reads.
    async fn apply(&self, tx: &mut PgConnection, events: &[Applied]) -> Result<(), sqlx::Error> {
        let mut rows = Rows::default();
        for applied in events {
            let at = to_datetime(applied.event.occurred_at.as_ref());
            let tenant = tenant_of(&applied.event);
            match &applied.event.body {
                Some(Body::MessageRouted(routed)) => rows.decision(tenant, routed, at),
                Some(Body::CustomerProfileUpdated(profile)) => customer(tx, tenant, profile, at).await?,
                Some(Body::MessageClassified(classified)) => rows.turn(tenant, classified, at),
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
                    rows.contact(tenant, received, at)
                }
                _ => {}
            }
        }
        rows.write(tx).await
    }
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

#[cfg(test)]
mod tests {
    use switchboard_proto::events::v1::{Event, MessageClassified, MessageReceived, MessageRouted};

    use super::*;

    type Result = std::result::Result<(), Box<dyn std::error::Error>>;

    fn applied(sequence: u64, tenant: &str, body: Body) -> Applied {
        let event = Event { tenant: tenant.into(), body: Some(body), ..Event::default() };
        Applied { sequence, event }
    }

    fn routed(message_id: &str, queue: &str, tags: &[&str]) -> Body {
        Body::MessageRouted(MessageRouted {
            message_id: message_id.into(),
            conversation_id: "c-1".into(),
            queue: queue.into(),
            tags: tags.iter().map(|tag| (*tag).to_string()).collect(),
            article_ids: vec!["a-1".into(), "a-2".into()],
            ..MessageRouted::default()
        })
    }

    /// Given one batch with a conversation's start, a turn twice and a message decided twice
    /// (a redelivery decided again), when it is applied, then each row is written once, the
    /// decision is the later one with its arrays whole, and the other tenant's rows stay apart.
    #[tokio::test]
    async fn a_batch_writes_each_row_once_and_keeps_the_later_decision() -> Result {
        let database = switchboard_testkit::TestDatabase::create().await?;
        let pool = database.pool().await?;
        crate::migrate_schema(&pool).await?;
        let received = MessageReceived {
            conversation_id: "c-1".into(),
            customer_id: "u-1".into(),
            starts_conversation: true,
            ..MessageReceived::default()
        };
        let classified = MessageClassified {
            message_id: "m-1".into(),
            conversation_id: "c-1".into(),
            text: "where is my order".into(),
            ..MessageClassified::default()
        };
        let batch = [
            applied(1, "acme", Body::MessageReceived(received.clone())),
            applied(2, "acme", Body::MessageClassified(classified.clone())),
            applied(3, "acme", Body::MessageClassified(classified)),
            applied(4, "acme", routed("m-1", "billing", &["first"])),
            applied(5, "acme", routed("m-1", "orders", &["second", "again"])),
            applied(6, "globex", routed("m-1", "sales", &[])),
            applied(7, "globex", Body::MessageReceived(received)),
        ];

        let mut tx = pool.begin().await?;
        RouterProjection.apply(&mut tx, &batch).await?;
        tx.commit().await?;

        let decisions: Vec<(String, String, Vec<String>, Vec<String>)> = sqlx::query_as(
            "SELECT tenant, queue, tags, article_ids FROM router.decisions ORDER BY tenant, message_id",
        )
        .fetch_all(&pool)
        .await?;
        let both = vec!["a-1".to_string(), "a-2".to_string()];
        assert_eq!(
            decisions,
            [
                ("acme".into(), "orders".into(), vec!["second".into(), "again".into()], both.clone()),
                ("globex".into(), "sales".into(), vec![], both),
            ]
        );
        let turns: i64 = sqlx::query_scalar("SELECT count(*) FROM router.turns").fetch_one(&pool).await?;
        assert_eq!(turns, 1);
        let contacts: Vec<String> =
            sqlx::query_scalar("SELECT tenant FROM router.contacts ORDER BY tenant").fetch_all(&pool).await?;
        assert_eq!(contacts, ["acme", "globex"]);
        pool.close().await;
        database.drop_database().await?;
        Ok(())
    }
}
