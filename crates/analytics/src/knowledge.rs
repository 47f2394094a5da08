//! Knowledge queries in the read model, and the two views on them: content gaps (questions
//! nobody could answer, grouped by similar wording) and deflections per article; each tenant's
//! apart.

use std::borrow::Cow;
use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, Row as _};
use switchboard_proto::{
    analytics::v1::{ArticleDeflection, ContentGap},
    events::v1::{DeflectionRecorded, DeflectionResult, KnowledgeQueried, KnowledgeQueryKind, MessageRouted},
    time::to_timestamp,
};

use crate::wording::{merge, wording};

pub(crate) fn kind_slug(kind: KnowledgeQueryKind) -> &'static str {
    match kind {
        KnowledgeQueryKind::Search => "search",
        KnowledgeQueryKind::Suggest => "suggest",
        KnowledgeQueryKind::Deflect => "deflect",
        KnowledgeQueryKind::Answer => "answer",
        KnowledgeQueryKind::Assist => "assist",
        KnowledgeQueryKind::Unspecified => "unspecified",
    }
}

/// A question to keep: a knowledge query's (borrowed from its event), or a hand-off's (`kind`),
/// of `tenant`.
pub(crate) struct Asked<'a> {
    tenant: &'a str,
    kind: &'static str,
    query: Cow<'a, KnowledgeQueried>,
    at: DateTime<Utc>,
}

/// A knowledge query, to keep.
pub(crate) fn asked<'a>(tenant: &'a str, q: &'a KnowledgeQueried, at: DateTime<Utc>) -> Asked<'a> {
    Asked { tenant, kind: kind_slug(q.kind()), query: Cow::Borrowed(q), at }
}

/// Keeps questions once by their ids (a replayed one is kept as it was), in one statement. A
/// row's article ids travel as JSON: arrays of arrays cannot be ragged.
pub(crate) async fn keep(tx: &mut PgConnection, all: &[Asked<'_>]) -> Result<(), sqlx::Error> {
    if all.is_empty() {
        return Ok(());
    }
    let text = |field: for<'b> fn(&'b Asked<'_>) -> &'b str| all.iter().map(field).collect::<Vec<&str>>();
    let language =
        |a: &Asked<'_>| a.query.locale.split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase();
    sqlx::query(
        "INSERT INTO analytics.knowledge_queries (query_id, kind, query, wording, locale, language,
             result_count, top_score, answered, article_ids, conversation_id, asked_at, tenant,
             customer_id)
         SELECT query_id, kind, query, wording, locale, language, result_count, top_score, answered,
             ARRAY(SELECT jsonb_array_elements_text(article_ids)), conversation_id, asked_at, tenant,
             customer_id
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[],
             $8::real[], $9::bool[], $10::jsonb[], $11::text[], $12::timestamptz[], $13::text[], $14::text[])
             AS q (query_id, kind, query, wording, locale, language, result_count, top_score, answered,
                 article_ids, conversation_id, asked_at, tenant, customer_id)
         ON CONFLICT (tenant, query_id) DO NOTHING",
    )
    .bind(text(|a| &a.query.query_id))
    .bind(text(|a| a.kind))
    .bind(text(|a| &a.query.query))
    .bind(all.iter().map(|a| wording(&a.query.query)).collect::<Vec<String>>())
    .bind(text(|a| &a.query.locale))
    .bind(all.iter().map(language).collect::<Vec<String>>())
    .bind(all.iter().map(|a| i32::try_from(a.query.result_count).unwrap_or(i32::MAX)).collect::<Vec<i32>>())
    .bind(all.iter().map(|a| a.query.top_score).collect::<Vec<f32>>())
    .bind(all.iter().map(|a| a.query.answered).collect::<Vec<bool>>())
    .bind(all.iter().map(|a| serde_json::Value::from(a.query.article_ids.clone())).collect::<Vec<_>>())
    .bind(text(|a| &a.query.conversation_id))
    .bind(all.iter().map(|a| a.at).collect::<Vec<_>>())
    .bind(text(|a| a.tenant))
    .bind(text(|a| &a.query.customer_id))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Where a routing decision leaves a content gap: a hand-off for missing knowledge, as
/// `fallback` when automation meant to answer and could not, else `handoff`; with the question.
pub(crate) fn gap_of(routed: &MessageRouted) -> Option<(&'static str, &str)> {
    let packet = routed.handoff.as_ref()?;
    if packet.reason != "missing_knowledge" || packet.question.trim().is_empty() {
        return None;
    }
    let kind = if routed.rule_action == "answer" { "fallback" } else { "handoff" };
    Some((kind, packet.question.as_str()))
}

/// A hand-off for missing knowledge, as an unanswered question of its conversation to keep (once
/// per message).
pub(crate) fn gap<'a>(tenant: &'a str, routed: &MessageRouted, at: DateTime<Utc>) -> Option<Asked<'a>> {
    let (kind, question) = gap_of(routed)?;
    let unanswered = KnowledgeQueried {
        query_id: format!("routed:{}", routed.message_id),
        query: question.to_string(),
        locale: routed.language.clone(),
        article_ids: routed.article_ids.clone(),
        conversation_id: routed.conversation_id.clone(),
        ..KnowledgeQueried::default()
    };
    Some(Asked { tenant, kind, query: Cow::Owned(unanswered), at })
}

pub(crate) async fn record_outcome(
    tx: &mut PgConnection,
    tenant: &str,
    d: &DeflectionRecorded,
) -> Result<(), sqlx::Error> {
    let outcome = match d.result() {
        DeflectionResult::Helped => "helped",
        DeflectionResult::TicketOpened => "ticket_opened",
        DeflectionResult::Unspecified => return Ok(()),
    };
    sqlx::query(
        "UPDATE analytics.knowledge_queries SET outcome = $2, outcome_article = NULLIF($3, '')
         WHERE query_id = $1 AND tenant = $4",
    )
    .bind(&d.query_id)
    .bind(outcome)
    .bind(&d.article_id)
    .bind(tenant)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Wordings read before merging, at most.
const MAX_WORDINGS: i64 = 5000;

/// A tenant's unanswered questions (suggestions, being half-typed, aside) grouped by similar
/// wording.
pub(crate) async fn content_gaps(
    pool: &PgPool,
    tenant: &str,
    since: Option<DateTime<Utc>>,
    language: &str,
    limit: usize,
) -> Result<Vec<ContentGap>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT wording, count(DISTINCT asker), (array_agg(query ORDER BY asked_at DESC))[1:5],
             array_agg(DISTINCT locale), array_agg(DISTINCT kind), max(asked_at), array_agg(DISTINCT asker)
         FROM (SELECT *, CASE WHEN conversation_id = '' THEN 'q:' || query_id ELSE conversation_id END AS asker
               FROM analytics.knowledge_queries) AS q
         WHERE NOT answered AND kind <> 'suggest' AND ($1::timestamptz IS NULL OR asked_at >= $1)
             AND ($2 = '' OR language = $2) AND tenant = $4
         GROUP BY wording ORDER BY 2 DESC, wording LIMIT $3",
    )
    .bind(since)
    .bind(language)
    .bind(MAX_WORDINGS)
    .bind(tenant)
    .fetch_all(pool)
    .await?;
    let keys: Vec<(String, u64)> =
        rows.iter().map(|row| (row.get(0), u64::try_from(row.get::<i64, _>(1)).unwrap_or(0))).collect();
    let mut gaps: Vec<ContentGap> = merge(&keys)
        .into_iter()
        .map(|members| {
            let mut gap = ContentGap { wording: keys[members[0]].0.clone(), ..ContentGap::default() };
            let (mut locales, mut kinds, mut askers) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
            let mut last: Option<DateTime<Utc>> = None;
            for member in members {
                let row = &rows[member];
                // A conversation asking in two wordings of one gap counts once.
                askers.extend(row.get::<Vec<String>, _>(6));
                let examples: Vec<String> = row.get(2);
                for example in examples {
                    if !gap.examples.contains(&example) {
                        gap.examples.push(example);
                    }
                }
                locales.extend(row.get::<Vec<String>, _>(3));
                kinds.extend(row.get::<Vec<String>, _>(4));
                last = last.max(Some(row.get(5)));
            }
            gap.count = askers.len() as u64;
            gap.examples.truncate(5);
            gap.locales = locales.into_iter().filter(|l| !l.is_empty()).collect();
            gap.kinds = kinds.into_iter().collect();
            gap.last_asked = last.map(to_timestamp);
            gap
        })
        .collect();
    gaps.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.wording.cmp(&b.wording)));
    gaps.truncate(limit);
    Ok(gaps)
}

/// Per article of a tenant, for searches and deflections in `[from, to)`: searches by a known
/// customer that showed it (once per customer, article and UTC day, at the first showing), those
/// after which that customer started no conversation within 24 hours, and those younger than
/// 24 hours at `now` (pending); and the contact form's deflections that offered it, helped or
/// still ended in a ticket. Most searched first.
pub(crate) async fn deflections(
    pool: &PgPool,
    tenant: &str,
    period: (DateTime<Utc>, DateTime<Utc>),
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<ArticleDeflection>, sqlx::Error> {
    let rows = sqlx::query(
        "WITH period AS (
             SELECT * FROM analytics.knowledge_queries
             WHERE tenant = $2 AND asked_at >= $3 AND asked_at < $4),
         shown AS (
             SELECT DISTINCT ON (customer_id, article_id, date_trunc('day', asked_at AT TIME ZONE 'UTC'))
                 customer_id, article_id, asked_at
             FROM period, unnest(article_ids) AS article_id
             WHERE customer_id <> '' AND kind IN ('search', 'deflect')
             ORDER BY customer_id, article_id, date_trunc('day', asked_at AT TIME ZONE 'UTC'), asked_at),
         searched AS (
             SELECT article_id, count(*) AS searches,
                 count(*) FILTER (WHERE asked_at > $5) AS pending,
                 count(*) FILTER (WHERE asked_at <= $5 AND NOT EXISTS (
                     SELECT 1 FROM analytics.conversations c
                     WHERE c.tenant = $2 AND c.customer_id = shown.customer_id
                         AND c.started_at >= shown.asked_at
                         AND c.started_at < shown.asked_at + interval '24 hours')) AS deflected
             FROM shown GROUP BY 1),
         offered AS (
             SELECT unnest(article_ids) AS article_id, count(*) AS offered
             FROM period WHERE kind = 'deflect' GROUP BY 1),
         credited AS (
             SELECT COALESCE(outcome_article, article_ids[1]) AS article_id,
                 count(*) FILTER (WHERE outcome = 'helped') AS helped,
                 count(*) FILTER (WHERE outcome = 'ticket_opened') AS tickets
             FROM period
             WHERE kind = 'deflect' AND outcome IS NOT NULL AND cardinality(article_ids) > 0
             GROUP BY 1)
         SELECT article_id, COALESCE(o.offered, 0), COALESCE(c.helped, 0), COALESCE(c.tickets, 0),
             COALESCE(s.searches, 0), COALESCE(s.deflected, 0), COALESCE(s.pending, 0)
         FROM searched s FULL JOIN offered o USING (article_id) LEFT JOIN credited c USING (article_id)
         ORDER BY 5 DESC, 2 DESC, 1 LIMIT $1",
    )
    .bind(limit)
    .bind(tenant)
    .bind(period.0)
    .bind(period.1)
    .bind(now - chrono::TimeDelta::hours(24))
    .fetch_all(pool)
    .await?;
    let count = |row: &sqlx::postgres::PgRow, i: usize| u64::try_from(row.get::<i64, _>(i)).unwrap_or(0);
    Ok(rows
        .iter()
        .map(|row| {
            let (searches, deflected, pending) = (count(row, 4), count(row, 5), count(row, 6));
            let settled = searches - pending.min(searches);
            ArticleDeflection {
                article_id: row.get(0),
                offered: count(row, 1),
                helped: count(row, 2),
                tickets_opened: count(row, 3),
                searches,
                deflected,
                pending,
                deflection_rate: (settled > 0).then(|| deflected as f64 / settled as f64),
            }
        })
        .collect())
}
