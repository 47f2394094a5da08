//! The support lead's report: figures over the conversation facts (`analytics.conversations`)
//! for a period and filters, as `docs/ANALYTICS.md` defines them. Conversations count in the
//! period they started in (volume, escalation, first response, SLAs) or were closed in
//! (containment, resolution, reopens, satisfaction).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, PgPool, Postgres, Row as _, postgres::PgArguments, query::Query};
use switchboard_proto::{
    analytics::v1::{
        AgentFigure, Bucket, GetReportRequest, Point, Report, SatisfactionFigure, Share, SlaFigure,
    },
    time::{to_datetime, to_timestamp},
};

use crate::{Error, rollup::Span, summed};

/// The longest period a report covers, and an hourly series.
const LONGEST: chrono::TimeDelta = chrono::TimeDelta::days(366);
const LONGEST_HOURLY: chrono::TimeDelta = chrono::TimeDelta::days(31);

/// `[from, to)` as asked: unset `to` is `now`, unset `from` `default_days` before `to`; a period
/// backwards or longer than 366 days is refused.
pub fn period(
    from: Option<&prost_types::Timestamp>,
    to: Option<&prost_types::Timestamp>,
    default_days: i64,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), Error> {
    let to = to.map_or(now, |at| to_datetime(Some(at)));
    let from = match from {
        Some(at) => to_datetime(Some(at)),
        None => to.checked_sub_signed(chrono::TimeDelta::days(default_days)).unwrap_or(DateTime::UNIX_EPOCH),
    };
    let latest = DateTime::UNIX_EPOCH + chrono::TimeDelta::days(365 * 1000);
    if from < DateTime::UNIX_EPOCH || to > latest {
        return Err(Error::InvalidArgument("a period lies between 1970 and 2969".into()));
    }
    if from >= to {
        return Err(Error::InvalidArgument("`from` must be before `to`".into()));
    }
    if to - from > LONGEST {
        return Err(Error::InvalidArgument("a period covers at most 366 days".into()));
    }
    Ok((from, to))
}

/// What a report is about: the tenant's conversations in `[from, to)` that pass the filters.
#[derive(Debug, Clone)]
pub struct Scope {
    pub tenant: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub bucket: Bucket,
    /// channel, queue, intent, language, agent; empty: any.
    pub filters: [String; 5],
}

impl Scope {
    /// The scope a request asks for, at `now`; a period backwards or too long is refused.
    pub fn of(tenant: &str, request: &GetReportRequest, now: DateTime<Utc>) -> Result<Self, Error> {
        let (from, to) = period(request.from.as_ref(), request.to.as_ref(), 7, now)?;
        let bucket = Bucket::try_from(request.bucket)
            .map_err(|_| Error::InvalidArgument(format!("unknown bucket {}", request.bucket)))?;
        if bucket == Bucket::Hour && to - from > LONGEST_HOURLY {
            return Err(Error::InvalidArgument("an hourly series covers at most 31 days".into()));
        }
        let filters = [&request.channel, &request.queue, &request.intent, &request.language, &request.agent]
            .map(|filter| filter.trim().to_string());
        Ok(Self { tenant: tenant.to_string(), from, to, bucket, filters })
    }

    /// The series' buckets.
    pub fn series_unit(&self) -> Span {
        match self.bucket {
            Bucket::Hour => Span::Hour,
            Bucket::Week => Span::Week,
            Bucket::Day | Bucket::Unspecified => Span::Day,
        }
    }

    /// The series' buckets as `date_trunc` names them.
    fn unit(&self) -> &'static str {
        self.series_unit().name()
    }
}

/// Reports over at most this many conversations (started and closed in the period) are read
/// from the facts, with exact times; bigger ones from the rollups.
pub const EXACT_UP_TO: u64 = 20_000;

/// The report for `scope`, at `now`; closings within `reopen_window` of `now` are pending. A
/// report without filters is read from the rollups ([`crate::summed`]) unless it covers at most
/// `exact_up_to` conversations; one with filters, or a small one, from the facts.
pub async fn report(
    pool: &PgPool,
    scope: &Scope,
    now: DateTime<Utc>,
    reopen_window: Duration,
    exact_up_to: u64,
) -> Result<Report, sqlx::Error> {
    let settled_before = now - chrono::TimeDelta::from_std(reopen_window).unwrap_or(chrono::TimeDelta::MAX);
    if scope.filters.iter().all(String::is_empty) {
        let period = (scope.from, scope.to);
        let summed = summed::report(pool, &scope.tenant, period, scope.series_unit(), settled_before).await?;
        if summed.conversations + summed.closed > exact_up_to {
            return Ok(summed);
        }
    }
    from_facts(pool, scope, settled_before).await
}

/// The report for `scope` from the conversation facts.
pub async fn from_facts(
    pool: &PgPool,
    scope: &Scope,
    settled_before: DateTime<Utc>,
) -> Result<Report, sqlx::Error> {
    let mut report = Report {
        from: Some(to_timestamp(scope.from)),
        to: Some(to_timestamp(scope.to)),
        ..Report::default()
    };
    started(pool, scope, &mut report).await?;
    closed(pool, scope, settled_before, &mut report).await?;
    shares(pool, scope, &mut report).await?;
    report.sla = sla(pool, scope).await?;
    report.satisfaction = satisfaction(pool, scope).await?;
    report.series = series(pool, scope, settled_before).await?;
    Ok(report)
}

/// A closing that counts as contained: the bot's alone, never reopened, and older than the
/// reopen window (`$9`: the moment before which closings are settled).
const CONTAINED: &str = "NOT human AND reopens = 0 AND closed_at < $9";
/// As contained, but still inside the reopen window.
const PENDING: &str = "NOT human AND reopens = 0 AND closed_at >= $9";

/// The tenant's conversations passing the filters, with `human` (a person took part), that
/// started (`started_at`) or closed (`closed_at`) in the period: `$1` to `$8`.
fn within(column: &str) -> String {
    format!(
        "WITH f AS (
            SELECT *, (handed_off OR first_human_reply_at IS NOT NULL) AS human
            FROM analytics.conversations
            WHERE tenant = $1 AND {column} >= $2 AND {column} < $3
              AND ($4 = '' OR channel = $4) AND ($5 = '' OR queue = $5) AND ($6 = '' OR intent = $6)
              AND ($7 = '' OR language = $7) AND ($8 = '' OR agent = $8))"
    )
}

/// The query `sql` (built here from constants only) with the scope bound as `$1` to `$8`.
fn scoped(sql: String, scope: &Scope) -> Query<'_, Postgres, PgArguments> {
    let mut query = sqlx::query(AssertSqlSafe(sql)).bind(&scope.tenant).bind(scope.from).bind(scope.to);
    for filter in &scope.filters {
        query = query.bind(filter);
    }
    query
}

async fn started(pool: &PgPool, scope: &Scope, report: &mut Report) -> Result<(), sqlx::Error> {
    let sql = format!(
        "{} SELECT count(*), count(*) FILTER (WHERE handed_off),
            percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM first_human_reply_at - started_at)::float8),
            percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM first_human_reply_at - started_at)::float8),
            count(*) FILTER (WHERE first_response_sla = 'met') + count(*) FILTER (WHERE resolution_sla = 'met'),
            count(*) FILTER (WHERE first_response_sla = 'breached') + count(*) FILTER (WHERE resolution_sla = 'breached'),
            percentile_cont(0.5) WITHIN GROUP (ORDER BY first_response_open_seconds::float8),
            percentile_cont(0.9) WITHIN GROUP (ORDER BY first_response_open_seconds::float8)
         FROM f",
        within("started_at")
    );
    let row = scoped(sql, scope).fetch_one(pool).await?;
    report.conversations = count(row.try_get(0)?);
    report.escalated = count(row.try_get(1)?);
    report.escalation_rate = rate(report.escalated, report.conversations);
    report.first_response_seconds_p50 = row.try_get(2)?;
    report.first_response_seconds_p90 = row.try_get(3)?;
    report.sla_met = count(row.try_get(4)?);
    report.sla_breached = count(row.try_get(5)?);
    report.sla_attainment = rate(report.sla_met, report.sla_met + report.sla_breached);
    report.first_response_business_seconds_p50 = row.try_get(6)?;
    report.first_response_business_seconds_p90 = row.try_get(7)?;
    Ok(())
}

async fn closed(
    pool: &PgPool,
    scope: &Scope,
    settled_before: DateTime<Utc>,
    report: &mut Report,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "{} SELECT count(*),
            count(*) FILTER (WHERE {CONTAINED}),
            count(*) FILTER (WHERE {PENDING}),
            count(*) FILTER (WHERE reopens > 0),
            count(*) FILTER (WHERE reopens = 0 AND closed_at < $9),
            count(*) FILTER (WHERE closed_at < $9),
            percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM closed_at - started_at)::float8),
            percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM closed_at - started_at)::float8),
            (avg((csat >= 4)::int) FILTER (WHERE NOT human))::float8,
            (avg((csat >= 4)::int) FILTER (WHERE human))::float8,
            avg((csat >= 4)::int)::float8, count(csat),
            count(nps) FILTER (WHERE nps >= 9) - count(nps) FILTER (WHERE nps <= 6), count(nps),
            coalesce(sum(surveys_sent), 0)::bigint,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY resolution_open_seconds::float8),
            percentile_cont(0.9) WITHIN GROUP (ORDER BY resolution_open_seconds::float8)
         FROM f",
        within("closed_at")
    );
    let row = scoped(sql, scope).bind(settled_before).fetch_one(pool).await?;
    report.closed = count(row.try_get(0)?);
    report.contained = count(row.try_get(1)?);
    report.containment_pending = count(row.try_get(2)?);
    report.containment_rate = rate(report.contained, report.closed);
    report.reopened = count(row.try_get(3)?);
    report.reopen_rate = rate(report.reopened, report.closed);
    report.first_contact_resolution_rate = rate(count(row.try_get(4)?), count(row.try_get(5)?));
    report.resolution_seconds_p50 = row.try_get(6)?;
    report.resolution_seconds_p90 = row.try_get(7)?;
    report.csat_bot = row.try_get(8)?;
    report.csat_human = row.try_get(9)?;
    report.csat = row.try_get(10)?;
    report.csat_answers = count(row.try_get(11)?);
    let net: i64 = row.try_get(12)?;
    report.nps_answers = count(row.try_get(13)?);
    report.nps = (report.nps_answers > 0).then(|| net as f64 * 100.0 / report.nps_answers as f64);
    report.surveys_sent = count(row.try_get(14)?);
    report.survey_response_rate = rate(report.csat_answers + report.nps_answers, report.surveys_sent);
    report.resolution_business_seconds_p50 = row.try_get(15)?;
    report.resolution_business_seconds_p90 = row.try_get(16)?;
    Ok(())
}

/// Volume by channel, language, first intent, queue and hour of day; hand-off reasons; and the
/// closings by agent: most first.
async fn shares(pool: &PgPool, scope: &Scope, report: &mut Report) -> Result<(), sqlx::Error> {
    let sql = format!(
        "{} SELECT 'channel', channel, count(*) FROM f GROUP BY 2
         UNION ALL SELECT 'language', language, count(*) FROM f GROUP BY 2
         UNION ALL SELECT 'intent', intent, count(*) FROM f GROUP BY 2
         UNION ALL SELECT 'queue', queue, count(*) FROM f WHERE queue <> '' GROUP BY 2
         UNION ALL SELECT 'hour', to_char(started_at AT TIME ZONE 'UTC', 'HH24'), count(*) FROM f GROUP BY 2
         UNION ALL SELECT 'reason', handoff_reason, count(*) FROM f WHERE handed_off GROUP BY 2
         ORDER BY 1, 3 DESC, 2",
        within("started_at")
    );
    for row in scoped(sql, scope).fetch_all(pool).await? {
        let dimension: String = row.try_get(0)?;
        let share = Share { key: row.try_get(1)?, count: count(row.try_get(2)?) };
        match dimension.as_str() {
            "channel" => report.channels.push(share),
            "language" => report.languages.push(share),
            "intent" => report.intents.push(share),
            "queue" => report.queues.push(share),
            "hour" => report.hours.push(share),
            _ => report.handoff_reasons.push(share),
        }
    }
    report.hours.sort_by(|a, b| a.key.cmp(&b.key));
    agents(pool, scope, report).await
}

/// Closings a person took, per agent and in all, with their handle time.
async fn agents(pool: &PgPool, scope: &Scope, report: &mut Report) -> Result<(), sqlx::Error> {
    let handle = "extract(epoch FROM closed_at - assigned_at)::float8";
    let sql = format!(
        "{} SELECT agent, count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY {handle})
         FROM f WHERE human AND agent <> '' GROUP BY 1 ORDER BY 2 DESC, 1",
        within("closed_at")
    );
    for row in scoped(sql, scope).fetch_all(pool).await? {
        report.agent_figures.push(AgentFigure {
            agent: row.try_get(0)?,
            closed: count(row.try_get(1)?),
            handle_seconds_p50: row.try_get(2)?,
        });
    }
    let sql = format!(
        "{} SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY {handle}),
             percentile_cont(0.9) WITHIN GROUP (ORDER BY {handle})
         FROM f WHERE assigned_at IS NOT NULL",
        within("closed_at")
    );
    let row = scoped(sql, scope).fetch_one(pool).await?;
    report.handle_seconds_p50 = row.try_get(0)?;
    report.handle_seconds_p90 = row.try_get(1)?;
    Ok(())
}

/// How SLA targets ended, per queue and target.
async fn sla(pool: &PgPool, scope: &Scope) -> Result<Vec<SlaFigure>, sqlx::Error> {
    let sql = format!(
        "{} SELECT queue, metric, count(*) FILTER (WHERE ending = 'met'), count(*) FILTER (WHERE ending = 'breached')
         FROM f, LATERAL (VALUES ('first_response', first_response_sla), ('resolution', resolution_sla))
             AS targets (metric, ending)
         WHERE ending <> '' GROUP BY 1, 2 ORDER BY 1, 2",
        within("started_at")
    );
    let rows = scoped(sql, scope).fetch_all(pool).await?;
    rows.iter()
        .map(|row| {
            Ok(SlaFigure {
                queue: row.try_get(0)?,
                metric: row.try_get(1)?,
                met: count(row.try_get(2)?),
                breached: count(row.try_get(3)?),
            })
        })
        .collect()
}

/// CSAT by agent, queue and first intent, of the conversations closed in the period.
async fn satisfaction(pool: &PgPool, scope: &Scope) -> Result<Vec<SatisfactionFigure>, sqlx::Error> {
    let sql = format!(
        "{} SELECT 'agent', agent, count(csat), avg((csat >= 4)::int)::float8 FROM f
             WHERE agent <> '' AND csat IS NOT NULL GROUP BY 2
         UNION ALL SELECT 'queue', queue, count(csat), avg((csat >= 4)::int)::float8 FROM f
             WHERE queue <> '' AND csat IS NOT NULL GROUP BY 2
         UNION ALL SELECT 'intent', intent, count(csat), avg((csat >= 4)::int)::float8 FROM f
             WHERE csat IS NOT NULL GROUP BY 2
         ORDER BY 1, 3 DESC, 2",
        within("closed_at")
    );
    let rows = scoped(sql, scope).fetch_all(pool).await?;
    rows.iter()
        .map(|row| {
            Ok(SatisfactionFigure {
                dimension: row.try_get(0)?,
                key: row.try_get(1)?,
                answers: count(row.try_get(2)?),
                csat: row.try_get(3)?,
            })
        })
        .collect()
}

/// A point per bucket that has something: conversations started and escalated in it, closings
/// (contained, pending) in it.
async fn series(
    pool: &PgPool,
    scope: &Scope,
    settled_before: DateTime<Utc>,
) -> Result<Vec<Point>, sqlx::Error> {
    let mut points: BTreeMap<DateTime<Utc>, Point> = BTreeMap::new();
    let bucket = |column: &str| {
        format!("date_trunc('{}', {column} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'", scope.unit())
    };
    let sql = format!(
        "{} SELECT {}, count(*), count(*) FILTER (WHERE handed_off),
            count(*) FILTER (WHERE first_response_sla = 'met') + count(*) FILTER (WHERE resolution_sla = 'met'),
            count(*) FILTER (WHERE first_response_sla = 'breached') + count(*) FILTER (WHERE resolution_sla = 'breached'),
            percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM first_human_reply_at - started_at)::float8)
         FROM f GROUP BY 1",
        within("started_at"),
        bucket("started_at")
    );
    for row in scoped(sql, scope).fetch_all(pool).await? {
        let point = points.entry(row.try_get(0)?).or_default();
        point.conversations = count(row.try_get(1)?);
        point.escalated = count(row.try_get(2)?);
        point.sla_met = count(row.try_get(3)?);
        point.sla_breached = count(row.try_get(4)?);
        point.first_response_seconds_p50 = row.try_get(5)?;
    }
    let sql = format!(
        "{} SELECT {}, count(*), count(*) FILTER (WHERE {CONTAINED}), count(*) FILTER (WHERE {PENDING}),
            avg((csat >= 4)::int)::float8,
            (count(nps) FILTER (WHERE nps >= 9) - count(nps) FILTER (WHERE nps <= 6)) * 100.0::float8
                / NULLIF(count(nps), 0),
            percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM closed_at - started_at)::float8)
         FROM f GROUP BY 1",
        within("closed_at"),
        bucket("closed_at")
    );
    for row in scoped(sql, scope).bind(settled_before).fetch_all(pool).await? {
        let point = points.entry(row.try_get(0)?).or_default();
        point.closed = count(row.try_get(1)?);
        point.contained = count(row.try_get(2)?);
        point.containment_pending = count(row.try_get(3)?);
        point.csat = row.try_get(4)?;
        point.nps = row.try_get(5)?;
        point.resolution_seconds_p50 = row.try_get(6)?;
    }
    Ok(points
        .into_iter()
        .map(|(start, point)| Point {
            start: Some(to_timestamp(start)),
            containment_rate: rate(point.contained, point.closed),
            escalation_rate: rate(point.escalated, point.conversations),
            sla_attainment: rate(point.sla_met, point.sla_met + point.sla_breached),
            ..point
        })
        .collect())
}

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// `part / whole`, unset when there is no whole.
fn rate(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Option<prost_types::Timestamp> {
        Some(prost_types::Timestamp { seconds, nanos: 0 })
    }

    #[test]
    fn periods_out_of_range_backwards_or_too_long_are_refused() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        assert!(period(None, None, 7, now).is_ok());
        assert!(period(at(i64::MIN / 4).as_ref(), None, 7, now).is_err(), "before 1970");
        assert!(period(None, at(-62_135_596_800).as_ref(), 7, now).is_err(), "year 1, no panic");
        assert!(period(None, at(253_402_300_799).as_ref(), 7, now).is_err(), "year 9999");
        assert!(period(at(1_800_000_000).as_ref(), at(1_700_000_000).as_ref(), 7, now).is_err());
        assert!(
            period(at(1_700_000_000).as_ref(), at(1_800_000_000).as_ref(), 7, now).is_err(),
            "over 366 days"
        );
    }
}
