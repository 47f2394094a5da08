//! Deliveries and failures, per conversation (replies, notifications and decision webhooks), and
//! what proactive messages need: each customer's latest conversation and profile attributes.
//! Every row is the event's tenant's, keyed by tenant first.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use switchboard_projection::{Applied, Projection, last_of_each};
use switchboard_proto::{events::v1::event::Body, time::to_datetime};

pub struct NotifierProjection;

/// One row of `notifier.deliveries`.
struct Row<'a> {
    tenant: &'a str,
    delivery_id: &'a str,
    conversation_id: &'a str,
    channel: i32,
    kind: &'a str,
    target: String,
    status: &'a str,
    destination: &'a str,
    attempts: u32,
    failure_reason: &'a str,
    external_id: &'a str,
}

impl Projection for NotifierProjection {
    fn name(&self) -> &'static str {
        "notifier-projection"
    }

    fn schema(&self) -> &'static str {
        "notifier"
    }

    fn subjects(&self) -> Vec<String> {
        // The business events too, applied as nothing: the checkpoint then passes them, and the
        // proactive handler can wait for everything before one of them to be in the read model.
        [
            "delivery",
            "conversation",
            "classification",
            "customer",
            "order",
            "device",
            "outage",
            "conversation-lifecycle",
        ]
        .iter()
        .map(|a| format!("switchboard.events.{a}.>"))
        .collect()
    }

    fn tables(&self) -> &'static [&'static str] {
        &["notifier.deliveries", "notifier.contacts", "notifier.customers"]
    }

    /// A batch's deliveries are written with one statement (see [`upsert`]); the other tables
    /// event by event, in order (a contact's language follows its contact).
    async fn apply(&self, tx: &mut PgConnection, events: &[Applied]) -> Result<(), sqlx::Error> {
        let mut deliveries = Vec::new();
        for applied in events {
            let (tenant, at) =
                (applied.event.tenant.as_str(), to_datetime(applied.event.occurred_at.as_ref()));
            match &applied.event.body {
                Some(Body::MessageReceived(received)) => contact(tx, tenant, received, at).await?,
                Some(Body::CustomerProfileUpdated(profile)) => customer(tx, tenant, profile).await?,
                Some(Body::MessageClassified(classified)) => language(tx, tenant, classified).await?,
                _ => {
                    deliveries.extend(row_of(applied).map(|row| (row, at)));
                }
            }
        }
        if !deliveries.is_empty() {
            upsert(tx, deliveries).await?;
        }
        Ok(())
    }
}

fn row_of(applied: &Applied) -> Option<Row<'_>> {
    let reply = |delivery_id, conversation_id, channel| Row {
        tenant: applied.event.tenant.as_str(),
        delivery_id,
        conversation_id,
        channel,
        kind: "reply",
        target: String::new(),
        status: "delivered",
        destination: "",
        attempts: 0,
        failure_reason: "",
        external_id: "",
    };
    Some(match applied.event.body.as_ref()? {
        Body::ReplyDelivered(d) => Row {
            destination: &d.destination,
            attempts: d.attempts,
            external_id: &d.external_id,
            ..reply(&d.reply_id, &d.conversation_id, d.channel)
        },
        Body::DeliveryFailed(f) => Row {
            status: "failed",
            attempts: f.attempts,
            failure_reason: &f.reason,
            ..reply(&f.reply_id, &f.conversation_id, f.channel)
        },
        Body::NotificationDelivered(d) => Row {
            kind: kind_of(&d.target),
            target: d.target.clone(),
            attempts: d.attempts,
            external_id: &d.external_id,
            ..reply(&d.delivery_id, &d.conversation_id, 0)
        },
        Body::NotificationFailed(f) => Row {
            kind: kind_of(&f.target),
            target: f.target.clone(),
            status: "failed",
            attempts: f.attempts,
            failure_reason: &f.reason,
            ..reply(&f.delivery_id, &f.conversation_id, 0)
        },
        _ => return None,
    })
}

/// The conversation a customer last wrote in is where they hear from us unprompted.
async fn contact(
    tx: &mut PgConnection,
    tenant: &str,
    received: &switchboard_proto::events::v1::MessageReceived,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO notifier.contacts (tenant, customer_id, conversation_id, channel, at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant, customer_id) DO UPDATE SET conversation_id = EXCLUDED.conversation_id,
             channel = EXCLUDED.channel, at = EXCLUDED.at
         WHERE notifier.contacts.at <= EXCLUDED.at
             AND notifier.contacts.conversation_id <> EXCLUDED.conversation_id",
    )
    .bind(tenant)
    .bind(&received.customer_id)
    .bind(&received.conversation_id)
    .bind(received.channel)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The language the customer writes in, from their latest conversation.
async fn language(
    tx: &mut PgConnection,
    tenant: &str,
    classified: &switchboard_proto::events::v1::MessageClassified,
) -> Result<(), sqlx::Error> {
    let language = classified.conversation_language.as_str();
    if language.is_empty() || language == "und" {
        return Ok(());
    }
    // Most messages keep their conversation's language: those rows are left unwritten.
    sqlx::query(
        "UPDATE notifier.contacts SET language = $4
         WHERE tenant = $1 AND customer_id = $2 AND conversation_id = $3 AND language <> $4",
    )
    .bind(tenant)
    .bind(&classified.customer_id)
    .bind(&classified.conversation_id)
    .bind(language)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A profile's attributes, with its tier, plan and country among them.
async fn customer(
    tx: &mut PgConnection,
    tenant: &str,
    profile: &switchboard_proto::events::v1::CustomerProfileUpdated,
) -> Result<(), sqlx::Error> {
    let mut attributes: serde_json::Map<String, serde_json::Value> =
        profile.attributes.iter().map(|(k, v)| (k.clone(), v.clone().into())).collect();
    for (key, value) in [("tier", &profile.tier), ("plan", &profile.plan), ("country", &profile.country)] {
        if !value.is_empty() {
            attributes.insert(key.into(), value.clone().into());
        }
    }
    sqlx::query(
        "INSERT INTO notifier.customers (tenant, customer_id, attributes) VALUES ($1, $2, $3)
         ON CONFLICT (tenant, customer_id) DO UPDATE SET attributes = EXCLUDED.attributes",
    )
    .bind(tenant)
    .bind(&profile.customer_id)
    .bind(serde_json::Value::Object(attributes))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A decision webhook's target is `webhook:URL`; every other notification is a notice.
fn kind_of(target: &str) -> &'static str {
    if target.starts_with("webhook:") { "webhook" } else { "notification" }
}

/// The batch's delivery rows, one statement; of a delivery told twice (failed, then
/// delivered) the last is kept, as one upsert each would have left.
async fn upsert(tx: &mut PgConnection, rows: Vec<(Row<'_>, DateTime<Utc>)>) -> Result<(), sqlx::Error> {
    let mut columns = Columns::default();
    for (row, at) in last_of_each(rows, |(row, _)| (row.tenant, row.delivery_id)) {
        columns.push(row, at);
    }
    sqlx::query(
        "INSERT INTO notifier.deliveries (delivery_id, conversation_id, channel, status, destination,
             attempts, failure_reason, at, kind, target, external_id, tenant)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::int[],
             $7::text[], $8::timestamptz[], $9::text[], $10::text[], $11::text[], $12::text[])
         ON CONFLICT (tenant, delivery_id) DO UPDATE SET status = EXCLUDED.status,
             destination = EXCLUDED.destination, attempts = EXCLUDED.attempts,
             failure_reason = EXCLUDED.failure_reason, at = EXCLUDED.at, kind = EXCLUDED.kind,
             target = EXCLUDED.target, external_id = EXCLUDED.external_id",
    )
    .bind(columns.delivery_ids)
    .bind(columns.conversation_ids)
    .bind(columns.channels)
    .bind(columns.statuses)
    .bind(columns.destinations)
    .bind(columns.attempts)
    .bind(columns.failure_reasons)
    .bind(columns.at)
    .bind(columns.kinds)
    .bind(columns.targets)
    .bind(columns.external_ids)
    .bind(columns.tenants)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Delivery rows as one array per column.
#[derive(Default)]
struct Columns<'a> {
    delivery_ids: Vec<&'a str>,
    conversation_ids: Vec<&'a str>,
    channels: Vec<i32>,
    statuses: Vec<&'a str>,
    destinations: Vec<&'a str>,
    attempts: Vec<i32>,
    failure_reasons: Vec<&'a str>,
    at: Vec<DateTime<Utc>>,
    kinds: Vec<&'a str>,
    targets: Vec<String>,
    external_ids: Vec<&'a str>,
    tenants: Vec<&'a str>,
}

impl<'a> Columns<'a> {
    fn push(&mut self, row: Row<'a>, at: DateTime<Utc>) {
        self.delivery_ids.push(row.delivery_id);
        self.conversation_ids.push(row.conversation_id);
        self.channels.push(row.channel);
        self.statuses.push(row.status);
        self.destinations.push(row.destination);
        self.attempts.push(i32::try_from(row.attempts).unwrap_or(i32::MAX));
        self.failure_reasons.push(row.failure_reason);
        self.at.push(at);
        self.kinds.push(row.kind);
        self.targets.push(row.target);
        self.external_ids.push(row.external_id);
        self.tenants.push(row.tenant);
    }
}

#[cfg(test)]
mod tests {
    use switchboard_proto::events::v1::{DeliveryFailed, Event, ReplyDelivered};

    use super::*;

    type Result = std::result::Result<(), Box<dyn std::error::Error>>;

    fn applied(sequence: u64, tenant: &str, body: Body) -> Applied {
        Applied { sequence, event: Event { tenant: tenant.into(), body: Some(body), ..Event::default() } }
    }

    /// Given one batch where a reply first failed and then was delivered, and another tenant's
    /// reply of the same id failed, when it is applied, then each has one row: the first
    /// delivered, the other failed with its reason.
    #[tokio::test]
    async fn a_batch_keeps_the_last_word_on_each_delivery() -> Result {
        let database = switchboard_testkit::TestDatabase::create().await?;
        let pool = database.pool().await?;
        crate::migrate_schema(&pool).await?;
        let failed = |reason: &str| {
            Body::DeliveryFailed(DeliveryFailed {
                reply_id: "r-1".into(),
                conversation_id: "c-1".into(),
                attempts: 1,
                reason: reason.into(),
                ..DeliveryFailed::default()
            })
        };
        let delivered = Body::ReplyDelivered(ReplyDelivered {
            reply_id: "r-1".into(),
            conversation_id: "c-1".into(),
            attempts: 2,
            destination: "web".into(),
            ..ReplyDelivered::default()
        });
        let batch = [
            applied(1, "acme", failed("timeout")),
            applied(2, "globex", failed("refused")),
            applied(3, "acme", delivered),
        ];

        let mut tx = pool.begin().await?;
        NotifierProjection.apply(&mut tx, &batch).await?;
        tx.commit().await?;

        let rows: Vec<(String, String, i32, String)> = sqlx::query_as(
            "SELECT tenant, status, attempts, failure_reason FROM notifier.deliveries ORDER BY tenant",
        )
        .fetch_all(&pool)
        .await?;
        assert_eq!(
            rows,
            [
                ("acme".into(), "delivered".into(), 2, String::new()),
                ("globex".into(), "failed".into(), 1, "refused".into())
            ]
        );
        pool.close().await;
        database.drop_database().await?;
        Ok(())
    }
}
