//! The SQL edge of the desk's view: timeline entries, details, customers, orders and macros,
//! written by the projection and read by `GetConversation` and the macro calls.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use prost::Message as _;
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool, Row as _, postgres::PgRow};
use switchboard_proto::events::v1::{
    CustomerProfileUpdated, HandoffPacket, MacroSaved, MessageRouted, OrderUpdated,
};

use crate::{
    details::{Details, Timer},
    timeline::{Entry, Kind},
};

fn sequence_of(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The conversation's timeline, oldest first (at most the last `limit` entries).
pub async fn entries(pool: &PgPool, tenant: &str, id: &str, limit: i64) -> Result<Vec<Entry>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT * FROM (SELECT conversation_id, sequence, kind, entry_id, author, text, at, article_ids,
                 classification, delivery
             FROM desk.entries WHERE tenant = $1 AND conversation_id = $2
             ORDER BY sequence DESC LIMIT $3) last ORDER BY sequence",
    )
    .bind(tenant)
    .bind(id)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter().map(entry_of).collect()
}

fn entry_of(row: &PgRow) -> Result<Entry, sqlx::Error> {
    Ok(Entry {
        conversation_id: row.try_get("conversation_id")?,
        sequence: u64::try_from(row.try_get::<i64, _>("sequence")?).unwrap_or(0),
        kind: Kind::parse(row.try_get("kind")?),
        entry_id: row.try_get("entry_id")?,
        author: row.try_get("author")?,
        text: row.try_get("text")?,
        at: row.try_get("at")?,
        article_ids: row.try_get("article_ids")?,
        classification: row.try_get("classification")?,
        delivery: row.try_get("delivery")?,
    })
}

pub async fn load_details(
    tx: &mut PgConnection,
    tenant: &str,
    id: &str,
) -> Result<Option<Details>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT routing, handoff, tags, timers, verified, closed_by, close_reason
         FROM desk.details WHERE tenant = $1 AND conversation_id = $2",
    )
    .bind(tenant)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    row.map(|row| details_of(&row)).transpose()
}

pub(crate) fn details_of(row: &PgRow) -> Result<Details, sqlx::Error> {
    let decode_routing =
        |bytes: Option<Vec<u8>>| bytes.and_then(|b| MessageRouted::decode(b.as_slice()).ok());
    let decode_handoff =
        |bytes: Option<Vec<u8>>| bytes.and_then(|b| HandoffPacket::decode(b.as_slice()).ok());
    Ok(Details {
        routing: decode_routing(row.try_get("routing")?),
        handoff: decode_handoff(row.try_get("handoff")?),
        tags: row.try_get::<Vec<String>, _>("tags")?.into_iter().collect(),
        timers: timers_from_json(&row.try_get::<Value, _>("timers")?),
        verified: row.try_get("verified")?,
        closed_by: row.try_get("closed_by")?,
        close_reason: row.try_get("close_reason")?,
    })
}

/// The details the desk has for the tenant's conversation (none before its first event).
pub async fn details(pool: &PgPool, tenant: &str, id: &str) -> Result<Details, sqlx::Error> {
    let mut connection = pool.acquire().await?;
    Ok(load_details(&mut connection, tenant, id).await?.unwrap_or_default())
}

pub(crate) fn timers_to_json(timers: &BTreeMap<String, Timer>) -> Value {
    let entries = timers.iter().map(|(metric, t)| {
        let due_at = t.due_at.map(|at| at.to_rfc3339());
        let timer = json!({"policy": t.policy, "due_at": due_at, "paused": t.paused, "breached": t.breached, "met": t.met});
        (metric.clone(), timer)
    });
    Value::Object(entries.collect())
}

fn timers_from_json(value: &Value) -> BTreeMap<String, Timer> {
    let Some(entries) = value.as_object() else { return BTreeMap::new() };
    let flag = |t: &Value, name: &str| t.get(name).and_then(Value::as_bool).unwrap_or(false);
    entries
        .iter()
        .map(|(metric, t)| {
            let due_at = t
                .get("due_at")
                .and_then(Value::as_str)
                .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
                .map(|at| at.with_timezone(&Utc));
            let policy = t.get("policy").and_then(Value::as_str).unwrap_or_default().to_string();
            let timer = Timer {
                policy,
                due_at,
                paused: flag(t, "paused"),
                breached: flag(t, "breached"),
                met: flag(t, "met"),
            };
            (metric.clone(), timer)
        })
        .collect()
}

pub async fn put_customer(
    tx: &mut PgConnection,
    tenant: &str,
    p: &CustomerProfileUpdated,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO desk.customers (tenant, customer_id, profile) VALUES ($1, $2, $3)
         ON CONFLICT (tenant, customer_id) DO UPDATE SET profile = EXCLUDED.profile",
    )
    .bind(tenant)
    .bind(&p.customer_id)
    .bind(p.encode_to_vec())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Stores the order as this event leaves it: fields it leaves empty keep what an earlier one said.
pub async fn put_order(
    tx: &mut PgConnection,
    tenant: &str,
    o: &OrderUpdated,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let known: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT body FROM desk.orders WHERE tenant = $1 AND order_id = $2")
            .bind(tenant)
            .bind(&o.order_id)
            .fetch_optional(&mut *tx)
            .await?;
    let known = known.and_then(|bytes| OrderUpdated::decode(bytes.as_slice()).ok()).unwrap_or_default();
    let o = &merged(known, o);
    sqlx::query(
        "INSERT INTO desk.orders (tenant, order_id, customer_id, body, updated_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant, order_id) DO UPDATE SET customer_id = EXCLUDED.customer_id,
             body = EXCLUDED.body, updated_at = EXCLUDED.updated_at",
    )
    .bind(tenant)
    .bind(&o.order_id)
    .bind(&o.customer_id)
    .bind(o.encode_to_vec())
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

fn merged(known: OrderUpdated, new: &OrderUpdated) -> OrderUpdated {
    let or = |new: &str, known: String| if new.is_empty() { known } else { new.to_string() };
    OrderUpdated {
        order_id: new.order_id.clone(),
        customer_id: or(&new.customer_id, known.customer_id),
        status: if new.status == 0 { known.status } else { new.status },
        carrier: or(&new.carrier, known.carrier),
        tracking_number: or(&new.tracking_number, known.tracking_number),
        tracking_url: or(&new.tracking_url, known.tracking_url),
        expected_delivery: new.expected_delivery.or(known.expected_delivery),
        summary: or(&new.summary, known.summary),
    }
}

pub async fn customer(
    pool: &PgPool,
    tenant: &str,
    id: &str,
) -> Result<Option<CustomerProfileUpdated>, sqlx::Error> {
    let row: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT profile FROM desk.customers WHERE tenant = $1 AND customer_id = $2")
            .bind(tenant)
            .bind(id)
            .fetch_optional(pool)
            .await?;
    Ok(row.and_then(|bytes| CustomerProfileUpdated::decode(bytes.as_slice()).ok()))
}

/// The customer's most recently changed orders.
pub async fn orders(
    pool: &PgPool,
    tenant: &str,
    customer: &str,
) -> Result<Vec<(OrderUpdated, DateTime<Utc>)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT body, updated_at FROM desk.orders WHERE tenant = $1 AND customer_id = $2
         ORDER BY updated_at DESC LIMIT 10",
    )
    .bind(tenant)
    .bind(customer)
    .fetch_all(pool)
    .await?;
    let mut orders = Vec::new();
    for row in rows {
        if let Ok(order) = OrderUpdated::decode(row.try_get::<Vec<u8>, _>("body")?.as_slice()) {
            orders.push((order, row.try_get("updated_at")?));
        }
    }
    Ok(orders)
}

/// A macro's last save: its body, version, deletion, time.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMacro {
    pub body: MacroSaved,
    pub version: u32,
    pub deleted: bool,
    pub updated_at: DateTime<Utc>,
}

pub async fn put_macro(
    tx: &mut PgConnection,
    tenant: &str,
    stored: &StoredMacro,
    sequence: u64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO desk.macros (tenant, macro_id, body, version, deleted, updated_at, sequence)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (tenant, macro_id) DO UPDATE SET body = EXCLUDED.body, version = EXCLUDED.version,
             deleted = EXCLUDED.deleted, updated_at = EXCLUDED.updated_at, sequence = EXCLUDED.sequence",
    )
    .bind(tenant)
    .bind(&stored.body.macro_id)
    .bind(stored.body.encode_to_vec())
    .bind(i32::try_from(stored.version).unwrap_or(i32::MAX))
    .bind(stored.deleted)
    .bind(stored.updated_at)
    .bind(sequence_of(sequence))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The tenant's macros that are not deleted, by name.
pub async fn macros(pool: &PgPool, tenant: &str) -> Result<Vec<StoredMacro>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT body, version, deleted, updated_at FROM desk.macros WHERE tenant = $1 AND NOT deleted",
    )
    .bind(tenant)
    .fetch_all(pool)
    .await?;
    let mut macros: Vec<StoredMacro> = rows.iter().filter_map(|row| macro_of(row).ok().flatten()).collect();
    macros.sort_by_key(|m| m.body.name.to_lowercase());
    Ok(macros)
}

fn macro_of(row: &PgRow) -> Result<Option<StoredMacro>, sqlx::Error> {
    let Ok(body) = MacroSaved::decode(row.try_get::<Vec<u8>, _>("body")?.as_slice()) else { return Ok(None) };
    Ok(Some(StoredMacro {
        body,
        version: u32::try_from(row.try_get::<i32, _>("version")?).unwrap_or(0),
        deleted: row.try_get("deleted")?,
        updated_at: row.try_get("updated_at")?,
    }))
}

/// One of the customer's other conversations, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Earlier {
    pub conversation: crate::conversation::Conversation,
    pub closed_by: String,
    pub close_reason: String,
}

/// The customer's ten latest conversations other than `except`, with how each ended.
pub async fn earlier(
    pool: &PgPool,
    tenant: &str,
    customer: &str,
    except: &str,
) -> Result<Vec<Earlier>, sqlx::Error> {
    let ids: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT c.conversation_id, d.closed_by, d.close_reason FROM desk.conversations c
         LEFT JOIN desk.details d ON d.tenant = c.tenant AND d.conversation_id = c.conversation_id
         WHERE c.tenant = $1 AND c.customer_id = $2 AND c.conversation_id <> $3
         ORDER BY c.created_at DESC LIMIT 10",
    )
    .bind(tenant)
    .bind(customer)
    .bind(except)
    .fetch_all(pool)
    .await?;
    let mut connection = pool.acquire().await?;
    let mut earlier = Vec::new();
    for (id, closed_by, close_reason) in ids {
        if let Some(conversation) = crate::store::load(&mut connection, tenant, &id).await? {
            earlier.push(Earlier {
                conversation,
                closed_by: closed_by.unwrap_or_default(),
                close_reason: close_reason.unwrap_or_default(),
            });
        }
    }
    Ok(earlier)
}

/// The tenant's macro `id`, unless deleted.
pub async fn macro_by_id(pool: &PgPool, tenant: &str, id: &str) -> Result<Option<StoredMacro>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT body, version, deleted, updated_at FROM desk.macros
         WHERE tenant = $1 AND macro_id = $2 AND NOT deleted",
    )
    .bind(tenant)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(match row {
        Some(row) => macro_of(&row)?,
        None => None,
    })
}
