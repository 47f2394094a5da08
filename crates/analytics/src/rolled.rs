//! `analytics.rollups`: kept as conversations' facts change, and summed back for a period.
//! A period is read in tiers: whole UTC days from the day rows, whole hours at its edges from
//! the hour rows, and the minutes at its very ends from the facts themselves, each through the
//! one contribution function ([`crate::rollup::contributions`]), so the sums are exact.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Row as _};

use crate::{
    conversations,
    facts::Facts,
    rollup::{self, RowKey, Side, Span},
};

/// What one side of a period sums to: all conversations, each dimension's keys, and all
/// conversations per bucket of the series.
#[derive(Debug, Default)]
pub struct Sums {
    pub totals: Vec<i64>,
    pub keyed: BTreeMap<(String, String), Vec<i64>>,
    pub buckets: BTreeMap<DateTime<Utc>, Vec<i64>>,
}

impl Sums {
    fn add(&mut self, unit: Span, start: DateTime<Utc>, dim: &str, key: &str, m: &[i64]) {
        if dim.is_empty() {
            rollup::add(&mut self.totals, m);
            rollup::add(self.buckets.entry(unit.start_of(start)).or_default(), m);
        } else {
            rollup::add(self.keyed.entry((dim.to_string(), key.to_string())).or_default(), m);
        }
    }
}

/// Changes to rows, by tenant and row.
type Changes = BTreeMap<(String, RowKey), Vec<i64>>;

/// Adds what the changed conversations now contribute, less what they did, to their rows.
/// `changes`: tenant, facts before (if any), facts after.
pub(crate) async fn keep(
    tx: &mut PgConnection,
    changes: &[(&str, Option<&Facts>, &Facts)],
) -> Result<(), sqlx::Error> {
    let mut rows = Changes::new();
    for (tenant, before, after) in changes {
        gain(&mut rows, tenant, rollup::delta(*before, after));
    }
    write(tx, rows).await
}

fn gain(rows: &mut Changes, tenant: &str, change: BTreeMap<RowKey, Vec<i64>>) {
    for (key, by) in change {
        rollup::add(rows.entry((tenant.to_string(), key)).or_default(), &by);
    }
}

/// Rows written by one statement at most.
const ROWS_AT_ONCE: usize = 2_000;

/// Adds `rows` to the table, a statement per [`ROWS_AT_ONCE`]; rows back to nothing go.
async fn write(tx: &mut PgConnection, mut rows: Changes) -> Result<(), sqlx::Error> {
    rows.retain(|_, row| row.iter().any(|&value| value != 0));
    let rows: Vec<_> = rows.into_iter().collect();
    for part in rows.chunks(ROWS_AT_ONCE) {
        let mut columns = Columns::default();
        for ((tenant, (span, start, dim, key)), m) in part {
            columns.push(tenant, *span, *start, dim, key.clone(), m);
        }
        add_rows(tx, &columns).await?;
    }
    Ok(())
}

async fn add_rows(tx: &mut PgConnection, columns: &Columns<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO analytics.rollups (tenant, span, start, dim, key, m)
         SELECT r.tenant, r.span, r.start, r.dim, r.key, ($8::bigint[])[r.o + 1 : r.o + r.n]
         FROM UNNEST($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::int[], $7::int[])
             AS r (tenant, span, start, dim, key, o, n)
         ON CONFLICT (tenant, span, start, dim, key) DO UPDATE SET m = (
             SELECT array_agg(COALESCE(a, 0) + COALESCE(b, 0) ORDER BY i)
             FROM unnest(analytics.rollups.m, EXCLUDED.m) WITH ORDINALITY AS t (a, b, i))",
    )
    .bind(&columns.tenants)
    .bind(&columns.spans)
    .bind(&columns.starts)
    .bind(&columns.dims)
    .bind(&columns.keys)
    .bind(&columns.offsets)
    .bind(&columns.lengths)
    .bind(&columns.values)
    .execute(&mut *tx)
    .await?;
    // A row back to nothing goes: the rows are the same however the events were batched.
    sqlx::query(
        "DELETE FROM analytics.rollups r
         USING UNNEST($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[])
             AS k (tenant, span, start, dim, key)
         WHERE r.tenant = k.tenant AND r.span = k.span AND r.start = k.start AND r.dim = k.dim
             AND r.key = k.key AND 0 = ALL (r.m)",
    )
    .bind(&columns.tenants)
    .bind(&columns.spans)
    .bind(&columns.starts)
    .bind(&columns.dims)
    .bind(&columns.keys)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Conversations read at a time when filling the rollups from the facts.
const FILL_CHUNK: i64 = 10_000;
/// Rows summed in memory before they are written, at most (then written, and summing goes on).
const FILL_ROWS: usize = 200_000;

/// Fills the rollups from the facts in `tx`, unless done before (or `again`): every row
/// recomputed, the rollups locked meanwhile. The projection calls it in its first batch, as the
/// fenced writer, so no writer without rollups can change the facts after it. Returns how many
/// conversations were read, `None` when they were filled before.
pub async fn fill(tx: &mut PgConnection, again: bool) -> Result<Option<u64>, sqlx::Error> {
    sqlx::query("LOCK TABLE analytics.rollups, analytics.rollups_built IN EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await?;
    let built: Option<DateTime<Utc>> =
        sqlx::query_scalar("SELECT max(built_at) FROM analytics.rollups_built").fetch_one(&mut *tx).await?;
    if built.is_some() && !again {
        return Ok(None);
    }
    sqlx::query("DELETE FROM analytics.rollups").execute(&mut *tx).await?;
    let (mut after, mut read, mut rows) = ((String::new(), String::new()), 0u64, Changes::new());
    loop {
        let page = conversations::page(&mut *tx, &after, FILL_CHUNK).await?;
        let Some(((tenant, id), _)) = page.last() else { break };
        after = (tenant.clone(), id.clone());
        read += page.len() as u64;
        for ((tenant, _), facts) in &page {
            gain(&mut rows, tenant, rollup::contributions(facts, None));
        }
        if rows.len() >= FILL_ROWS {
            write(&mut *tx, std::mem::take(&mut rows)).await?;
        }
    }
    write(&mut *tx, rows).await?;
    sqlx::query("DELETE FROM analytics.rollups_built").execute(&mut *tx).await?;
    sqlx::query("INSERT INTO analytics.rollups_built (built_at) VALUES (now())").execute(&mut *tx).await?;
    Ok(Some(read))
}

/// Rows as columns, their vectors laid end to end.
#[derive(Default)]
struct Columns<'a> {
    tenants: Vec<&'a str>,
    spans: Vec<&'static str>,
    starts: Vec<DateTime<Utc>>,
    dims: Vec<&'static str>,
    keys: Vec<String>,
    offsets: Vec<i32>,
    lengths: Vec<i32>,
    values: Vec<i64>,
}

impl<'a> Columns<'a> {
    fn push(
        &mut self,
        tenant: &'a str,
        span: Span,
        start: DateTime<Utc>,
        dim: &'static str,
        key: String,
        m: &[i64],
    ) {
        self.tenants.push(tenant);
        self.spans.push(span.name());
        self.starts.push(start);
        self.dims.push(dim);
        self.keys.push(key);
        self.offsets.push(i32::try_from(self.values.len()).unwrap_or(i32::MAX));
        self.lengths.push(i32::try_from(m.len()).unwrap_or(i32::MAX));
        self.values.extend_from_slice(m);
    }
}

/// Where a part of a period is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Facts,
    Rows(Span),
}

/// `[from, to)` cut into parts to read: the longest spans up to `top` in the middle, shorter
/// ones toward the ends, and the minutes at the very ends from the facts.
pub fn tiers(from: DateTime<Utc>, to: DateTime<Utc>, top: Span) -> Vec<(Tier, DateTime<Utc>, DateTime<Utc>)> {
    let spans: Vec<Span> = Span::ALL.into_iter().filter(|span| *span <= top).collect();
    let mut parts = Vec::new();
    ladder(from, to, &spans, &mut parts);
    parts
}

/// `[from, to)` in the longest of `spans` that fit, the rest in the shorter ones.
fn ladder(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    spans: &[Span],
    parts: &mut Vec<(Tier, DateTime<Utc>, DateTime<Utc>)>,
) {
    if from >= to {
        return;
    }
    let Some((&span, shorter)) = spans.split_last() else {
        parts.push((Tier::Facts, from, to));
        return;
    };
    let start = span.start_of(from);
    let first = if start == from { from } else { start + span.length() };
    let last = span.start_of(to);
    if first >= last {
        return ladder(from, to, shorter, parts);
    }
    ladder(from, first, shorter, parts);
    parts.push((Tier::Rows(span), first, last));
    ladder(last, to, shorter, parts);
}

/// What a read of a period takes: everything (both sides, all rows), or only the closings'
/// all-conversation figures (the part of a period inside the reopen window).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    Everything,
    ClosingTotals,
}

/// The sums over `[from, to)` for `tenant`, bucketed by `unit` (the series' buckets).
pub async fn gather(
    db: &mut PgConnection,
    tenant: &str,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    unit: Span,
    reading: Reading,
    sums: &mut Sums,
) -> Result<(), sqlx::Error> {
    // All-conversation rows make the series, so they come in spans no longer than its buckets;
    // the keyed rows make only the period's totals, so they come by the week where they can.
    // Where both come in the same spans, one read takes both.
    let (keyed, top) = (reading == Reading::Everything, unit);
    let together = keyed && top == Span::Week;
    let totals = if together { Rows::All } else { Rows::Totals };
    for (tier, start, end) in tiers(from, to, top) {
        if let Tier::Rows(span) = tier {
            rows(db, tenant, span, (start, end), totals, unit, sums).await?;
        }
    }
    let sides: &[Side] = if keyed { &[Side::Started, Side::Closed] } else { &[Side::Closed] };
    for (tier, start, end) in tiers(from, to, Span::Week) {
        match tier {
            Tier::Rows(span) if keyed && !together => {
                rows(db, tenant, span, (start, end), Rows::Keyed, unit, sums).await?
            }
            Tier::Rows(_) => {}
            Tier::Facts => {
                for side in sides {
                    edge(db, tenant, *side, (start, end), unit, reading, sums).await?;
                }
            }
        }
    }
    Ok(())
}

/// Which rows of a span to read: all-conversation ones, keyed ones, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rows {
    Totals,
    Keyed,
    All,
}

async fn rows(
    db: &mut PgConnection,
    tenant: &str,
    span: Span,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    which: Rows,
    unit: Span,
    sums: &mut Sums,
) -> Result<(), sqlx::Error> {
    let found = sqlx::query(
        "SELECT start, dim, key, m FROM analytics.rollups
         WHERE tenant = $1 AND span = $2 AND start >= $3 AND start < $4
             AND ($5 OR (dim = '') = $6)",
    )
    .bind(tenant)
    .bind(span.name())
    .bind(from)
    .bind(to)
    .bind(which == Rows::All)
    .bind(which == Rows::Totals)
    .fetch_all(&mut *db)
    .await?;
    for row in found {
        let (start, dim, key): (DateTime<Utc>, String, String) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        let m: Vec<i64> = row.try_get(3)?;
        sums.add(unit, start, &dim, &key, &m);
    }
    Ok(())
}

/// The minutes at an end of the period, summed from the facts of the conversations that started
/// (or closed) in them.
async fn edge(
    db: &mut PgConnection,
    tenant: &str,
    side: Side,
    period: (DateTime<Utc>, DateTime<Utc>),
    unit: Span,
    reading: Reading,
    sums: &mut Sums,
) -> Result<(), sqlx::Error> {
    let column = if side == Side::Started { "started_at" } else { "closed_at" };
    for facts in conversations::within(db, tenant, column, period).await? {
        for ((span, start, dim, key), m) in rollup::contributions(&facts, Some(side)) {
            if span == Span::Hour && (reading == Reading::Everything || dim.is_empty()) {
                sums.add(unit, start, dim, &key, &m);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap_or_default()
    }

    #[test]
    fn a_period_is_read_from_the_facts_at_its_ends_shorter_spans_near_them_and_longer_between() {
        // 2026-11-01 is a Sunday; the week from Monday 2026-11-02 fits, 2026-11-09 does not.
        let parts = tiers(at("2026-11-01T10:30:00Z"), at("2026-11-11T05:15:00Z"), Span::Week);
        assert_eq!(
            parts,
            vec![
                (Tier::Facts, at("2026-11-01T10:30:00Z"), at("2026-11-01T11:00:00Z")),
                (Tier::Rows(Span::Hour), at("2026-11-01T11:00:00Z"), at("2026-11-02T00:00:00Z")),
                (Tier::Rows(Span::Week), at("2026-11-02T00:00:00Z"), at("2026-11-09T00:00:00Z")),
                (Tier::Rows(Span::Day), at("2026-11-09T00:00:00Z"), at("2026-11-11T00:00:00Z")),
                (Tier::Rows(Span::Hour), at("2026-11-11T00:00:00Z"), at("2026-11-11T05:00:00Z")),
                (Tier::Facts, at("2026-11-11T05:00:00Z"), at("2026-11-11T05:15:00Z")),
            ]
        );
        let hourly = tiers(at("2026-11-01T00:00:00Z"), at("2026-11-03T00:00:00Z"), Span::Hour);
        assert_eq!(
            hourly,
            vec![(Tier::Rows(Span::Hour), at("2026-11-01T00:00:00Z"), at("2026-11-03T00:00:00Z"))]
        );
        let short = tiers(at("2026-11-01T10:05:00Z"), at("2026-11-01T10:55:00Z"), Span::Week);
        assert_eq!(short, vec![(Tier::Facts, at("2026-11-01T10:05:00Z"), at("2026-11-01T10:55:00Z"))]);
    }

    #[test]
    fn weeks_start_on_monday() {
        assert_eq!(Span::Week.start_of(at("2026-12-06T13:00:00Z")), at("2026-11-30T00:00:00Z"));
    }
}
