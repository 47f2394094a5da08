//! The projection's statements for a whole batch of events: each table is read once and written
//! once (`UNNEST` over one array per column), whatever the number of conversations the batch
//! touches. Arrays of arrays cannot be ragged, so a row's own list (tags, article ids) travels
//! as JSON and is turned back into `TEXT[]` by the statement.

use std::collections::HashMap;

use prost::Message as _;
use serde_json::Value;
use sqlx::{PgConnection, Row as _};

use crate::{
    conversation::Conversation,
    details::Details,
    records::{details_of, timers_to_json},
    store::{COLUMNS, conversation_of, targets_to_json},
    timeline::{Change, Entry},
};

/// A conversation of a tenant: (tenant, conversation id).
pub type Key = (String, String);

fn key_columns(keys: &[Key]) -> (Vec<&str>, Vec<&str>) {
    keys.iter().map(|(tenant, id)| (tenant.as_str(), id.as_str())).unzip()
}

fn big(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The stored conversations among `keys`.
pub async fn load_conversations(
    tx: &mut PgConnection,
    keys: &[Key],
) -> Result<HashMap<Key, Conversation>, sqlx::Error> {
    let (tenants, ids) = key_columns(keys);
    let sql = format!(
        "SELECT {COLUMNS} FROM desk.conversations
         JOIN UNNEST($1::text[], $2::text[]) AS k (tenant, conversation_id) USING (tenant, conversation_id)"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenants).bind(ids).fetch_all(&mut *tx).await?;
    rows.iter()
        .map(|row| conversation_of(row).map(|c| ((c.tenant.clone(), c.conversation_id.clone()), c)))
        .collect()
}

/// The stored details among `keys`.
pub async fn load_details(tx: &mut PgConnection, keys: &[Key]) -> Result<HashMap<Key, Details>, sqlx::Error> {
    let (tenants, ids) = key_columns(keys);
    let rows = sqlx::query(
        "SELECT tenant, conversation_id, routing, handoff, tags, timers, verified, closed_by, close_reason
         FROM desk.details
         JOIN UNNEST($1::text[], $2::text[]) AS k (tenant, conversation_id) USING (tenant, conversation_id)",
    )
    .bind(tenants)
    .bind(ids)
    .fetch_all(&mut *tx)
    .await?;
    rows.iter()
        .map(|row| Ok(((row.try_get("tenant")?, row.try_get("conversation_id")?), details_of(row)?)))
        .collect()
}

/// Stores `all` (one row each: the caller folds a conversation's events first).
pub async fn save_conversations(tx: &mut PgConnection, all: &[Conversation]) -> Result<(), sqlx::Error> {
    if all.is_empty() {
        return Ok(());
    }
    let text = |field: fn(&Conversation) -> &str| all.iter().map(field).collect::<Vec<&str>>();
    let flag = |field: fn(&Conversation) -> bool| all.iter().map(field).collect::<Vec<bool>>();
    let number = |field: fn(&Conversation) -> u64| all.iter().map(|c| big(field(c))).collect::<Vec<i64>>();
    sqlx::query(
        "INSERT INTO desk.conversations (tenant, conversation_id, customer_id, channel, status, routed,
             paused, closed, queue, priority, assignee, preview, sla_targets, sla_due_at, sla_breached,
             handoff_reason, language, created_at, updated_at, sequence, last_change, waiting_since, arrived_at,
             assigned_at)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[],
             $7::bool[], $8::bool[], $9::text[], $10::int[], $11::text[], $12::text[], $13::jsonb[],
             $14::timestamptz[], $15::bool[], $16::text[], $17::text[], $18::timestamptz[], $19::timestamptz[],
             $20::bigint[], $21::text[], $22::timestamptz[], $23::bigint[], $24::bigint[])
         ON CONFLICT (tenant, conversation_id) DO UPDATE SET
             customer_id = EXCLUDED.customer_id, channel = EXCLUDED.channel, status = EXCLUDED.status,
             routed = EXCLUDED.routed, paused = EXCLUDED.paused, closed = EXCLUDED.closed,
             queue = EXCLUDED.queue, priority = EXCLUDED.priority, assignee = EXCLUDED.assignee,
             preview = EXCLUDED.preview, sla_targets = EXCLUDED.sla_targets,
             sla_due_at = EXCLUDED.sla_due_at, sla_breached = EXCLUDED.sla_breached,
             handoff_reason = EXCLUDED.handoff_reason, language = EXCLUDED.language,
             updated_at = EXCLUDED.updated_at, sequence = EXCLUDED.sequence,
             last_change = EXCLUDED.last_change, waiting_since = EXCLUDED.waiting_since,
             arrived_at = EXCLUDED.arrived_at, assigned_at = EXCLUDED.assigned_at",
    )
    .bind(text(|c| &c.tenant))
    .bind(text(|c| &c.conversation_id))
    .bind(text(|c| &c.customer_id))
    .bind(all.iter().map(|c| c.channel).collect::<Vec<i32>>())
    .bind(text(|c| c.status().as_str()))
    .bind(text(|c| c.routed.as_str()))
    .bind(flag(|c| c.paused))
    .bind(flag(|c| c.closed))
    .bind(text(|c| &c.queue))
    .bind(all.iter().map(|c| c.priority).collect::<Vec<i32>>())
    .bind(text(|c| &c.assignee))
    .bind(text(|c| &c.preview))
    .bind(all.iter().map(|c| targets_to_json(&c.sla)).collect::<Vec<Value>>())
    .bind(all.iter().map(Conversation::sla_due_at).collect::<Vec<_>>())
    .bind(flag(Conversation::sla_breached))
    .bind(text(|c| &c.handoff_reason))
    .bind(text(|c| &c.language))
    .bind(all.iter().map(|c| c.created_at).collect::<Vec<_>>())
    .bind(all.iter().map(|c| c.updated_at).collect::<Vec<_>>())
    .bind(number(|c| c.sequence))
    .bind(text(|c| c.last_change.as_str()))
    .bind(all.iter().map(|c| c.waiting_since).collect::<Vec<_>>())
    .bind(number(|c| c.arrived_at))
    .bind(number(|c| c.assigned_at))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Stores the details of the conversations in `all` (one row each).
pub async fn save_details(tx: &mut PgConnection, all: &[(Key, Details)]) -> Result<(), sqlx::Error> {
    if all.is_empty() {
        return Ok(());
    }
    let (tenants, ids): (Vec<&str>, Vec<&str>) =
        all.iter().map(|((tenant, id), _)| (tenant.as_str(), id.as_str())).unzip();
    let text = |field: fn(&Details) -> &str| all.iter().map(|(_, d)| field(d)).collect::<Vec<&str>>();
    sqlx::query(
        "INSERT INTO desk.details (tenant, conversation_id, routing, handoff, tags, timers, verified,
             closed_by, close_reason)
         SELECT tenant, conversation_id, routing, handoff, ARRAY(SELECT jsonb_array_elements_text(tags)),
             timers, verified, closed_by, close_reason
         FROM UNNEST($1::text[], $2::text[], $3::bytea[], $4::bytea[], $5::jsonb[], $6::jsonb[], $7::bool[],
             $8::text[], $9::text[])
             AS d (tenant, conversation_id, routing, handoff, tags, timers, verified, closed_by, close_reason)
         ON CONFLICT (tenant, conversation_id) DO UPDATE SET routing = EXCLUDED.routing,
             handoff = EXCLUDED.handoff, tags = EXCLUDED.tags, timers = EXCLUDED.timers,
             verified = EXCLUDED.verified, closed_by = EXCLUDED.closed_by, close_reason = EXCLUDED.close_reason",
    )
    .bind(tenants)
    .bind(ids)
    .bind(all.iter().map(|(_, d)| d.routing.as_ref().map(|r| r.encode_to_vec())).collect::<Vec<_>>())
    .bind(all.iter().map(|(_, d)| d.handoff.as_ref().map(|h| h.encode_to_vec())).collect::<Vec<_>>())
    .bind(all.iter().map(|(_, d)| Value::from_iter(d.tags.iter().cloned())).collect::<Vec<Value>>())
    .bind(all.iter().map(|(_, d)| timers_to_json(&d.timers)).collect::<Vec<Value>>())
    .bind(all.iter().map(|(_, d)| d.verified).collect::<Vec<bool>>())
    .bind(text(|d| &d.closed_by))
    .bind(text(|d| &d.close_reason))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The batch's timeline changes, `(tenant, change)` in stream order: entries are added first,
/// then classifications and deliveries set (the last of each for one entry), which always
/// follow the entry they change on the stream. An entry already stored (a replayed sequence) is
/// kept.
pub async fn record(tx: &mut PgConnection, changes: &[(String, Change)]) -> Result<(), sqlx::Error> {
    let mut added: Vec<(&str, &Entry)> = Vec::new();
    let mut classified: HashMap<(&str, &str, &str), &Value> = HashMap::new();
    let mut delivered: HashMap<(&str, &str, &str), &str> = HashMap::new();
    for (tenant, change) in changes {
        match change {
            Change::Add(entry) => added.push((tenant.as_str(), entry)),
            Change::Classify { conversation_id, message_id, classification } => {
                classified
                    .insert((tenant.as_str(), conversation_id.as_str(), message_id.as_str()), classification);
            }
            Change::Deliver { conversation_id, reply_id, delivery } => {
                delivered.insert(
                    (tenant.as_str(), conversation_id.as_str(), reply_id.as_str()),
                    delivery.as_str(),
                );
            }
        }
    }
    add_entries(tx, &added).await?;
    set_entries(tx, "classification", "jsonb", "'customer'", classified).await?;
    set_entries(tx, "delivery", "text", "'bot', 'agent'", delivered).await
}

async fn add_entries(tx: &mut PgConnection, added: &[(&str, &Entry)]) -> Result<(), sqlx::Error> {
    if added.is_empty() {
        return Ok(());
    }
    let text = |field: fn(&Entry) -> &str| added.iter().map(|(_, e)| field(e)).collect::<Vec<&str>>();
    sqlx::query(
        "INSERT INTO desk.entries (tenant, conversation_id, sequence, kind, entry_id, author, text, at,
             article_ids, classification, delivery)
         SELECT tenant, conversation_id, sequence, kind, entry_id, author, text, at,
             ARRAY(SELECT jsonb_array_elements_text(article_ids)), classification, delivery
         FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[],
             $8::timestamptz[], $9::jsonb[], $10::jsonb[], $11::text[])
             AS e (tenant, conversation_id, sequence, kind, entry_id, author, text, at, article_ids,
                 classification, delivery)
         ON CONFLICT DO NOTHING",
    )
    .bind(added.iter().map(|(tenant, _)| *tenant).collect::<Vec<&str>>())
    .bind(text(|e| &e.conversation_id))
    .bind(added.iter().map(|(_, e)| big(e.sequence)).collect::<Vec<i64>>())
    .bind(text(|e| e.kind.as_str()))
    .bind(text(|e| &e.entry_id))
    .bind(text(|e| &e.author))
    .bind(text(|e| &e.text))
    .bind(added.iter().map(|(_, e)| e.at).collect::<Vec<_>>())
    .bind(added.iter().map(|(_, e)| Value::from_iter(e.article_ids.iter().cloned())).collect::<Vec<Value>>())
    .bind(added.iter().map(|(_, e)| e.classification.clone()).collect::<Vec<Option<Value>>>())
    .bind(text(|e| &e.delivery))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Sets `column` (of SQL type `kind`) on the entries of the given kinds named by each key
/// (tenant, conversation, entry id).
async fn set_entries<'a, T>(
    tx: &mut PgConnection,
    column: &str,
    kind: &str,
    entry_kinds: &str,
    values: HashMap<(&'a str, &'a str, &'a str), T>,
) -> Result<(), sqlx::Error>
where
    T: for<'q> sqlx::Encode<'q, sqlx::Postgres>
        + sqlx::Type<sqlx::Postgres>
        + sqlx::postgres::PgHasArrayType
        + Send,
{
    if values.is_empty() {
        return Ok(());
    }
    let (mut tenants, mut conversations, mut entries, mut set) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for ((tenant, conversation, entry), value) in values {
        tenants.push(tenant);
        conversations.push(conversation);
        entries.push(entry);
        set.push(value);
    }
    let sql = format!(
        "UPDATE desk.entries SET {column} = u.value
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::{kind}[]) AS u (tenant, conversation_id, entry_id, value)
         WHERE entries.tenant = u.tenant AND entries.conversation_id = u.conversation_id
             AND entries.entry_id = u.entry_id AND entries.kind IN ({entry_kinds})"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenants)
        .bind(conversations)
        .bind(entries)
        .bind(set)
        .execute(&mut *tx)
        .await?;
    Ok(())
}
