//! `/console/api/…` for the supervisor's dashboard: the report, trends, content gaps and
//! deflection per article (Analytics), and an article written for a gap (Knowledge). Each
//! handler turns the query into one gRPC call (deflections also read the articles' titles) as
//! the signed-in person.

use axum::{
    Json,
    extract::{Query, State},
};
use chrono::{DateTime, NaiveDate, Utc};
use futures::{StreamExt as _, stream};
use prost_types::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_proto::{
    analytics::v1::{
        Bucket, GetReportRequest, ListArticleDeflectionsRequest, ListContentGapsRequest, ListTrendsRequest,
    },
    knowledge::v1::{GetArticleRequest, PublishArticleRequest, SaveDraftRequest},
    time::to_timestamp,
};

use crate::{
    api::Answer,
    backend::{Backend, Bearer},
    error::ApiError,
    json,
};

/// Articles' titles read at once for the deflection table.
const TITLES_AT_ONCE: usize = 8;

/// A moment as the browser sends it: RFC 3339, or a date (its start, UTC); empty: unset.
fn moment(field: &str, text: &str) -> Result<Option<Timestamp>, ApiError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let at = DateTime::parse_from_rfc3339(text).map(|at| at.with_timezone(&Utc)).or_else(|_| {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").map(|day| day.and_time(chrono::NaiveTime::MIN).and_utc())
    });
    at.map(|at| Some(to_timestamp(at))).map_err(|_| {
        ApiError::invalid(format!("{field}: {text:?} is neither a date (2026-11-30) nor an RFC 3339 time"))
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReportQuery {
    pub from: String,
    pub to: String,
    /// `hour`, `day` or `week`; empty: day.
    pub bucket: String,
    pub channel: String,
    pub queue: String,
    pub intent: String,
    pub language: String,
    pub agent: String,
}

impl ReportQuery {
    fn request(self) -> Result<GetReportRequest, ApiError> {
        let bucket = match self.bucket.as_str() {
            "hour" => Bucket::Hour,
            "" | "day" => Bucket::Day,
            "week" => Bucket::Week,
            other => {
                return Err(ApiError::invalid(format!("bucket: unknown {other:?}; one of hour, day, week")));
            }
        };
        Ok(GetReportRequest {
            from: moment("from", &self.from)?,
            to: moment("to", &self.to)?,
            bucket: bucket.into(),
            channel: self.channel,
            queue: self.queue,
            intent: self.intent,
            language: self.language,
            agent: self.agent,
            min_sequence: 0,
        })
    }
}

pub async fn report(
    State(backend): State<Backend>,
    bearer: Bearer,
    Query(query): Query<ReportQuery>,
) -> Answer {
    let report = backend.analytics(&bearer).get_report(query.request()?).await?.into_inner();
    Ok(Json(json::report(&report)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TrendsQuery {
    pub window_hours: u32,
    pub weeks: u32,
}

pub async fn trends(
    State(backend): State<Backend>,
    bearer: Bearer,
    Query(query): Query<TrendsQuery>,
) -> Answer {
    let request =
        ListTrendsRequest { window_hours: query.window_hours, weeks: query.weeks, ..Default::default() };
    let listed = backend.analytics(&bearer).list_trends(request).await?.into_inner();
    Ok(Json(json::trends(&listed)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct GapsQuery {
    pub since: String,
    pub locale: String,
    pub limit: u32,
}

pub async fn gaps(State(backend): State<Backend>, bearer: Bearer, Query(query): Query<GapsQuery>) -> Answer {
    let request = ListContentGapsRequest {
        since: moment("since", &query.since)?,
        locale: query.locale,
        limit: query.limit,
        min_sequence: 0,
    };
    let listed = backend.analytics(&bearer).list_content_gaps(request).await?.into_inner();
    let gaps: Vec<Value> = listed.gaps.iter().map(json::gap).collect();
    Ok(Json(json!({ "gaps": gaps })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DeflectionsQuery {
    pub from: String,
    pub to: String,
    pub limit: u32,
}

/// Deflection per article, with each article's title (its id where it cannot be read).
pub async fn deflections(
    State(backend): State<Backend>,
    bearer: Bearer,
    Query(query): Query<DeflectionsQuery>,
) -> Answer {
    let request = ListArticleDeflectionsRequest {
        limit: query.limit,
        min_sequence: 0,
        from: moment("from", &query.from)?,
        to: moment("to", &query.to)?,
    };
    let listed = backend.analytics(&bearer).list_article_deflections(request).await?.into_inner();
    let clients: Vec<_> = listed
        .articles
        .iter()
        .map(|article| {
            (
                backend.knowledge(&bearer),
                GetArticleRequest { article_id: article.article_id.clone(), version: 0 },
            )
        })
        .collect();
    let titles: Vec<Option<String>> = stream::iter(clients)
        .map(|(mut knowledge, request)| async move {
            knowledge.get_article(request).await.map(|found| found.into_inner().title).ok()
        })
        .buffered(TITLES_AT_ONCE)
        .collect()
        .await;
    let articles: Vec<Value> =
        listed.articles.iter().zip(titles).map(|(article, title)| json::deflection(article, title)).collect();
    Ok(Json(json!({ "articles": articles })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ArticleForm {
    pub title: String,
    /// Markdown.
    pub body: String,
    pub locale: String,
    pub example_questions: Vec<String>,
    /// Publish at once; otherwise a draft.
    pub publish: bool,
}

/// A new article (a draft, or published), as written for a content gap.
pub async fn write_article(
    State(backend): State<Backend>,
    bearer: Bearer,
    Json(form): Json<ArticleForm>,
) -> Answer {
    let (title, body) = (form.title.trim().to_string(), form.body.trim().to_string());
    if title.is_empty() || body.is_empty() {
        return Err(ApiError::invalid("an article needs a title and a body"));
    }
    let questions: Vec<String> =
        form.example_questions.iter().map(|q| q.trim().to_string()).filter(|q| !q.is_empty()).collect();
    let mut knowledge = backend.knowledge(&bearer);
    let article = if form.publish {
        let request = PublishArticleRequest {
            title,
            body,
            locale: form.locale,
            example_questions: questions,
            wait: true,
            ..Default::default()
        };
        knowledge.publish_article(request).await?.into_inner()
    } else {
        let request = SaveDraftRequest {
            title,
            body,
            locale: form.locale,
            example_questions: questions,
            wait: true,
            ..Default::default()
        };
        knowledge.save_draft(request).await?.into_inner()
    };
    Ok(Json(json::article(&article)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_are_dates_or_rfc3339_and_anything_else_is_refused() {
        let day = moment("from", "2026-11-30").ok().flatten().map(|at| at.seconds);
        assert_eq!(day, Some(1_795_996_800));
        let time = moment("to", "2026-11-30T01:00:00+01:00").ok().flatten().map(|at| at.seconds);
        assert_eq!(time, Some(1_795_996_800));
        assert_eq!(moment("from", " ").ok(), Some(None));
        assert!(moment("from", "yesterday").is_err());
    }
}
