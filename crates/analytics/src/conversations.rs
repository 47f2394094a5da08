//! The conversation facts read model (`analytics.conversations`): for a batch of new events,
//! load the facts of the conversations they touch, fold the events in stream order, store the
//! facts that changed.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, PgConnection, Row as _, postgres::PgRow};
use switchboard_proto::events::v1::Event;

use crate::{
    facts::{self, Facts},
    rolled,
};

/// (tenant, conversation id).
type Key = (String, String);

/// Folds `events` (new ones only, in stream order) into their conversations' facts.
pub(crate) async fn apply<'a>(
    tx: &mut PgConnection,
    events: impl Iterator<Item = &'a Event>,
) -> Result<(), sqlx::Error> {
    let touching: Vec<(Key, &Event)> = events
        .filter_map(|event| {
            facts::conversation_of(event).map(|id| ((event.tenant.clone(), id.to_string()), event))
        })
        .collect();
    if touching.is_empty() {
        return Ok(());
    }
    let mut folded = load(tx, touching.iter().map(|(key, _)| key)).await?;
    let before = folded.clone();
    for (key, event) in touching {
        let current = folded.remove(&key);
        if let Some(next) = facts::fold(current, event) {
            folded.insert(key, next);
        }
    }
    let mut changes = Vec::new();
    for (key, facts) in &folded {
        if before.get(key) != Some(facts) {
            store(tx, &key.0, facts).await?;
            changes.push((key.0.as_str(), before.get(key), facts));
        }
    }
    rolled::keep(tx, &changes).await
}

async fn load(
    tx: &mut PgConnection,
    keys: impl Iterator<Item = &Key>,
) -> Result<BTreeMap<Key, Facts>, sqlx::Error> {
    let (tenants, ids): (Vec<&str>, Vec<&str>) = keys.map(|(t, c)| (t.as_str(), c.as_str())).unzip();
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM analytics.conversations c
         JOIN (SELECT DISTINCT * FROM UNNEST($1::text[], $2::text[])) AS k (tenant, conversation_id)
           ON c.tenant = k.tenant AND c.conversation_id = k.conversation_id"
    )))
    .bind(tenants)
    .bind(ids)
    .fetch_all(&mut *tx)
    .await?;
    rows.iter().map(|row| Ok(((row.try_get(0)?, row.try_get(1)?), facts_of(row)?))).collect()
}

/// What [`facts_of`] reads, in its order.
const COLUMNS: &str = "c.tenant, c.conversation_id, started_at, channel, language, intent, queue, agent,
    handed_off, handoff_reason, bot_replied, first_human_reply_at, closed_at, closed_by, reopens, csat,
    nps, surveys_sent, first_response_sla, resolution_sla, calendar, first_response_open_seconds,
    resolution_open_seconds, assigned_at, customer_id";

/// The facts of the tenant's conversations whose `column` (`started_at` or `closed_at`) falls in
/// `[from, to)`.
pub(crate) async fn within(
    db: &mut PgConnection,
    tenant: &str,
    column: &'static str,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
) -> Result<Vec<Facts>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM analytics.conversations c WHERE tenant = $1 AND {column} >= $2 AND {column} < $3"
    );
    let rows = sqlx::query(AssertSqlSafe(sql)).bind(tenant).bind(from).bind(to).fetch_all(&mut *db).await?;
    rows.iter().map(facts_of).collect()
}

/// Up to `limit` conversations' facts after `after` (tenant, id) in that order, with their keys.
pub(crate) async fn page(
    tx: &mut PgConnection,
    after: &Key,
    limit: i64,
) -> Result<Vec<(Key, Facts)>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM analytics.conversations c WHERE (tenant, conversation_id) > ($1, $2)
         ORDER BY tenant, conversation_id LIMIT $3"
    );
    let rows =
        sqlx::query(AssertSqlSafe(sql)).bind(&after.0).bind(&after.1).bind(limit).fetch_all(&mut *tx).await?;
    rows.iter().map(|row| Ok(((row.try_get(0)?, row.try_get(1)?), facts_of(row)?))).collect()
}

fn facts_of(row: &PgRow) -> Result<Facts, sqlx::Error> {
    let small = |index: usize| -> Result<Option<u8>, sqlx::Error> {
        Ok(row.try_get::<Option<i16>, _>(index)?.and_then(|score| u8::try_from(score).ok()))
    };
    let count = |index: usize| -> Result<u32, sqlx::Error> {
        Ok(u32::try_from(row.try_get::<i32, _>(index)?).unwrap_or(0))
    };
    Ok(Facts {
        conversation_id: row.try_get(1)?,
        started_at: Some(row.try_get(2)?),
        channel: row.try_get(3)?,
        language: row.try_get(4)?,
        intent: row.try_get(5)?,
        queue: row.try_get(6)?,
        agent: row.try_get(7)?,
        handed_off: row.try_get(8)?,
        handoff_reason: row.try_get(9)?,
        bot_replied: row.try_get(10)?,
        first_human_reply_at: row.try_get(11)?,
        closed_at: row.try_get(12)?,
        closed_by: row.try_get(13)?,
        reopens: count(14)?,
        csat: small(15)?,
        nps: small(16)?,
        surveys_sent: count(17)?,
        first_response_sla: row.try_get(18)?,
        resolution_sla: row.try_get(19)?,
        calendar: row.try_get(20)?,
        first_response_open_seconds: row.try_get(21)?,
        resolution_open_seconds: row.try_get(22)?,
        assigned_at: row.try_get(23)?,
        customer_id: row.try_get(24)?,
    })
}

async fn store(tx: &mut PgConnection, tenant: &str, facts: &Facts) -> Result<(), sqlx::Error> {
    let Some(started_at) = facts.started_at else { return Ok(()) };
    let count = |value: u32| i32::try_from(value).unwrap_or(i32::MAX);
    sqlx::query(
        "INSERT INTO analytics.conversations (tenant, conversation_id, started_at, channel, language,
             intent, queue, agent, handed_off, handoff_reason, bot_replied, first_human_reply_at,
             closed_at, closed_by, reopens, csat, nps, surveys_sent, first_response_sla, resolution_sla,
             calendar, first_response_open_seconds, resolution_open_seconds, assigned_at, customer_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
             $21, $22, $23, $24, $25)
         ON CONFLICT (tenant, conversation_id) DO UPDATE SET
             started_at = EXCLUDED.started_at, channel = EXCLUDED.channel,
             language = EXCLUDED.language, intent = EXCLUDED.intent, queue = EXCLUDED.queue,
             agent = EXCLUDED.agent, handed_off = EXCLUDED.handed_off,
             handoff_reason = EXCLUDED.handoff_reason, bot_replied = EXCLUDED.bot_replied,
             first_human_reply_at = EXCLUDED.first_human_reply_at, closed_at = EXCLUDED.closed_at,
             closed_by = EXCLUDED.closed_by, reopens = EXCLUDED.reopens, csat = EXCLUDED.csat,
             nps = EXCLUDED.nps, surveys_sent = EXCLUDED.surveys_sent,
             first_response_sla = EXCLUDED.first_response_sla, resolution_sla = EXCLUDED.resolution_sla,
             calendar = EXCLUDED.calendar, first_response_open_seconds = EXCLUDED.first_response_open_seconds,
             resolution_open_seconds = EXCLUDED.resolution_open_seconds, assigned_at = EXCLUDED.assigned_at,
             customer_id = EXCLUDED.customer_id",
    )
    .bind(tenant)
    .bind(&facts.conversation_id)
    .bind(started_at)
    .bind(&facts.channel)
    .bind(&facts.language)
    .bind(&facts.intent)
    .bind(&facts.queue)
    .bind(&facts.agent)
    .bind(facts.handed_off)
    .bind(&facts.handoff_reason)
    .bind(facts.bot_replied)
    .bind(facts.first_human_reply_at)
    .bind(facts.closed_at)
    .bind(&facts.closed_by)
    .bind(count(facts.reopens))
    .bind(facts.csat.map(i16::from))
    .bind(facts.nps.map(i16::from))
    .bind(count(facts.surveys_sent))
    .bind(&facts.first_response_sla)
    .bind(&facts.resolution_sla)
    .bind(&facts.calendar)
    .bind(facts.first_response_open_seconds)
    .bind(facts.resolution_open_seconds)
    .bind(facts.assigned_at)
    .bind(&facts.customer_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
