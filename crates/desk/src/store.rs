//! The SQL edge: a folded conversation in and out of `desk.conversations`, and the listing.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder, Row as _, postgres::PgRow};

use crate::{
    conversation::{Change, Conversation, Routed, Target},
    listing::{Assignee, Query, SortKey},
};

pub(crate) const COLUMNS: &str =
    "tenant, conversation_id, customer_id, channel, routed, paused, closed, queue, priority,
     assignee, preview, sla_targets, handoff_reason, language, created_at, updated_at, sequence, last_change, waiting_since, arrived_at, assigned_at";

/// The tenant's conversation, if the desk has seen it.
pub async fn load(
    tx: &mut PgConnection,
    tenant: &str,
    id: &str,
) -> Result<Option<Conversation>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM desk.conversations WHERE tenant = $1 AND conversation_id = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant).bind(id).fetch_optional(&mut *tx).await?;
    row.map(|row| conversation_of(&row)).transpose()
}

/// The tenant's conversations changed after stream `sequence`, in stream order (at most `limit`).
pub async fn changed_after(
    pool: &PgPool,
    tenant: &str,
    sequence: u64,
    limit: i64,
) -> Result<Vec<Conversation>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM desk.conversations WHERE tenant = $1 AND sequence > $2 ORDER BY sequence LIMIT $3"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant)
        .bind(i64::try_from(sequence).unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(pool)
        .await?;
    rows.iter().map(conversation_of).collect()
}

/// Open conversations (every tenant's) only the bot has had, untouched since `before`.
pub async fn idle_bot_conversations(
    pool: &PgPool,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Conversation>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM desk.conversations
         WHERE NOT closed AND NOT paused AND routed = '' AND assignee = '' AND updated_at <= $1
         ORDER BY updated_at LIMIT $2"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(before).bind(limit).fetch_all(pool).await?;
    rows.iter().map(conversation_of).collect()
}

/// Whether a conversation of the tenant is (or was) in `queue`.
pub async fn has_queue(pool: &PgPool, tenant: &str, queue: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM desk.conversations WHERE tenant = $1 AND queue = $2)")
        .bind(tenant)
        .bind(queue)
        .fetch_one(pool)
        .await
}

/// The tenant's last stream sequence on the desk (0: none).
pub async fn last_sequence(pool: &PgPool, tenant: &str) -> Result<u64, sqlx::Error> {
    let last: Option<i64> =
        sqlx::query_scalar("SELECT max(sequence) FROM desk.conversations WHERE tenant = $1")
            .bind(tenant)
            .fetch_one(pool)
            .await?;
    Ok(last.and_then(|s| u64::try_from(s).ok()).unwrap_or(0))
}

/// The listing's order, as the `conversations_by_*` indexes hold it after their equality columns.
const SORT_KEY: &str =
    "COALESCE(sla_due_at, 'infinity'::timestamptz), -priority, created_at, conversation_id";

/// One page of the tenant's conversations (`page_size + 1` rows, to tell whether more follow).
///
/// The statement names only the filters set, each as a plain comparison, so that each shape is
/// planned for itself and reads a page in order from the index that leads with its filter (see
/// migration 020), starting at the cursor; a statement with every filter optional (`$n IS NULL
/// OR ...`) can use none of them once PostgreSQL caches its generic plan.
pub async fn list(pool: &PgPool, tenant: &str, query: &Query) -> Result<Vec<Conversation>, sqlx::Error> {
    let mut sql = QueryBuilder::new(format!("SELECT {COLUMNS} FROM desk.conversations WHERE tenant = "));
    sql.push_bind(tenant);
    push_filters(&mut sql, query);
    if let Some(after) = &query.after {
        sql.push(format!(" AND ({SORT_KEY}) > (COALESCE("));
        sql.push_bind(after.sla_due_at).push("::timestamptz, 'infinity'::timestamptz), ");
        sql.push_bind(after.priority.saturating_neg()).push(", ");
        sql.push_bind(after.created_at).push(", ");
        sql.push_bind(after.conversation_id.as_str()).push(")");
    }
    sql.push(format!(" ORDER BY {SORT_KEY} LIMIT "));
    sql.push_bind(i64::from(query.page_size) + 1);
    let rows = sql.build().fetch_all(pool).await?;
    rows.iter().map(conversation_of).collect()
}

/// `AND` one comparison per filter set.
fn push_filters(sql: &mut QueryBuilder<Postgres>, query: &Query) {
    if let Some(queue) = &query.queue {
        sql.push(" AND queue = ").push_bind(queue.as_str());
    }
    if let Some(status) = query.status {
        sql.push(" AND status = ").push_bind(status.as_str());
    }
    match &query.assignee {
        Assignee::Anyone => {}
        Assignee::Unassigned => {
            sql.push(" AND assignee = ''");
        }
        Assignee::Agent(agent) => {
            sql.push(" AND assignee = ").push_bind(agent.as_str());
        }
    }
    if let Some(channel) = query.channel {
        sql.push(" AND channel = ").push_bind(channel);
    }
    if let Some(priority) = query.priority {
        sql.push(" AND priority = ").push_bind(priority);
    }
    if let Some(language) = &query.language {
        push_language(sql, language);
    }
    if let Some(due_before) = query.due_before {
        // A missed target keeps the due time it missed, which has passed; so "due before" takes
        // in the breached ones, and reads as a range of the sort's first column.
        sql.push(" AND COALESCE(sla_due_at, 'infinity'::timestamptz) <= ").push_bind(due_before);
    }
}

/// `en` matches `en` and `en-GB`; `en-gb` matches `en-GB` only. Either way the primary subtag
/// is compared, as the language index holds it; a whole tag is compared too.
fn push_language(sql: &mut QueryBuilder<Postgres>, language: &str) {
    let primary = language.split('-').next().unwrap_or(language);
    sql.push(" AND lower(split_part(language, '-', 1)) = ").push_bind(primary);
    if primary != language {
        sql.push(" AND lower(language) = ").push_bind(language);
    }
}

/// Where a stored conversation sorts.
pub fn sort_key_of(c: &Conversation) -> SortKey {
    SortKey {
        sla_due_at: c.sla_due_at(),
        priority: c.priority,
        created_at: c.created_at,
        conversation_id: c.conversation_id.clone(),
    }
}

pub(crate) fn conversation_of(row: &PgRow) -> Result<Conversation, sqlx::Error> {
    Ok(Conversation {
        tenant: row.try_get("tenant")?,
        conversation_id: row.try_get("conversation_id")?,
        customer_id: row.try_get("customer_id")?,
        channel: row.try_get("channel")?,
        routed: Routed::parse(row.try_get("routed")?),
        paused: row.try_get("paused")?,
        closed: row.try_get("closed")?,
        queue: row.try_get("queue")?,
        priority: row.try_get("priority")?,
        assignee: row.try_get("assignee")?,
        preview: row.try_get("preview")?,
        sla: targets_from_json(&row.try_get::<Value, _>("sla_targets")?),
        handoff_reason: row.try_get("handoff_reason")?,
        language: row.try_get("language")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        sequence: u64::try_from(row.try_get::<i64, _>("sequence")?).unwrap_or(0),
        last_change: Change::parse(row.try_get("last_change")?),
        waiting_since: row.try_get("waiting_since")?,
        arrived_at: u64::try_from(row.try_get::<i64, _>("arrived_at")?).unwrap_or(0),
        assigned_at: u64::try_from(row.try_get::<i64, _>("assigned_at")?).unwrap_or(0),
    })
}

pub(crate) fn targets_to_json(targets: &BTreeMap<String, Target>) -> Value {
    let entries = targets.iter().map(|(metric, target)| {
        (metric.clone(), json!({"due_at": target.due_at.to_rfc3339(), "breached": target.breached}))
    });
    Value::Object(entries.collect())
}

/// What [`targets_to_json`] wrote; an entry that does not read back is dropped.
fn targets_from_json(value: &Value) -> BTreeMap<String, Target> {
    let Some(entries) = value.as_object() else { return BTreeMap::new() };
    entries
        .iter()
        .filter_map(|(metric, target)| {
            let due_at =
                DateTime::parse_from_rfc3339(target.get("due_at")?.as_str()?).ok()?.with_timezone(&Utc);
            let breached = target.get("breached")?.as_bool()?;
            Some((metric.clone(), Target { due_at, breached }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sla_targets_round_trip_through_json() {
        let due_at = DateTime::from_timestamp(1_700_000_000, 123_000).expect("a time");
        let targets = BTreeMap::from([
            ("first_response".to_string(), Target { due_at, breached: true }),
            ("resolution".to_string(), Target { due_at, breached: false }),
        ]);
        assert_eq!(targets_from_json(&targets_to_json(&targets)), targets);
    }
}
