//! Knowledge queries in the read model, and the two views on them: content gaps (questions
//! nobody could answer, grouped by similar wording) and deflections per article; each tenant's
//! apart.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, Row as _};
use switchboard_proto::{
    analytics::v1::{ArticleDeflection, ContentGap},
    events::v1::{DeflectionRecorded, DeflectionResult, KnowledgeQueried, KnowledgeQueryKind},
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

pub(crate) async fn record_query(
    tx: &mut PgConnection,
    tenant: &str,
    q: &KnowledgeQueried,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let language = q.locale.split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase();
    sqlx::query(
        "INSERT INTO analytics.knowledge_queries (query_id, kind, query, wording, locale, language,
             result_count, top_score, answered, article_ids, conversation_id, asked_at, tenant)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT (tenant, query_id) DO NOTHING",
    )
    .bind(&q.query_id)
    .bind(kind_slug(q.kind()))
    .bind(&q.query)
    .bind(wording(&q.query))
    .bind(&q.locale)
    .bind(language)
    .bind(i32::try_from(q.result_count).unwrap_or(i32::MAX))
    .bind(q.top_score)
    .bind(q.answered)
    .bind(&q.article_ids)
    .bind(&q.conversation_id)
    .bind(at)
    .bind(tenant)
    .execute(&mut *tx)
    .await?;
    Ok(())
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
        "SELECT wording, count(*), (array_agg(query ORDER BY asked_at DESC))[1:5],
             array_agg(DISTINCT locale), array_agg(DISTINCT kind), max(asked_at)
         FROM analytics.knowledge_queries
         WHERE NOT answered AND kind <> 'suggest' AND ($1::timestamptz IS NULL OR asked_at >= $1)
             AND ($2 = '' OR language = $2) AND tenant = $4
         GROUP BY wording ORDER BY count(*) DESC, wording LIMIT $3",
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
            let (mut locales, mut kinds) = (BTreeSet::new(), BTreeSet::new());
            let mut last: Option<DateTime<Utc>> = None;
            for member in members {
                let row = &rows[member];
                gap.count += keys[member].1;
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

/// Per article of a tenant: deflections that offered it, and those it led (or was named in) that
/// helped or ended in a ticket. Most helpful first.
pub(crate) async fn deflections(
    pool: &PgPool,
    tenant: &str,
    limit: i64,
) -> Result<Vec<ArticleDeflection>, sqlx::Error> {
    let rows = sqlx::query(
        "WITH offered AS (
             SELECT unnest(article_ids) AS article_id, count(*) AS offered
             FROM analytics.knowledge_queries WHERE tenant = $2 AND kind = 'deflect' GROUP BY 1),
         credited AS (
             SELECT COALESCE(outcome_article, article_ids[1]) AS article_id,
                 count(*) FILTER (WHERE outcome = 'helped') AS helped,
                 count(*) FILTER (WHERE outcome = 'ticket_opened') AS tickets
             FROM analytics.knowledge_queries
             WHERE tenant = $2 AND kind = 'deflect' AND outcome IS NOT NULL
                 AND cardinality(article_ids) > 0
             GROUP BY 1)
         SELECT o.article_id, o.offered, COALESCE(c.helped, 0), COALESCE(c.tickets, 0)
         FROM offered o LEFT JOIN credited c USING (article_id)
         ORDER BY 3 DESC, 2 DESC, 1 LIMIT $1",
    )
    .bind(limit)
    .bind(tenant)
    .fetch_all(pool)
    .await?;
    let count = |row: &sqlx::postgres::PgRow, i: usize| u64::try_from(row.get::<i64, _>(i)).unwrap_or(0);
    Ok(rows
        .iter()
        .map(|row| ArticleDeflection {
            article_id: row.get(0),
            offered: count(row, 1),
            helped: count(row, 2),
            tickets_opened: count(row, 3),
        })
        .collect())
}
