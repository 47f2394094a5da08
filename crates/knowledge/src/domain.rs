//! Article commands: publish a version, archive; and reads.

use std::sync::Arc;
use std::time::Duration;

use sqlx::Row as _;
use switchboard_bus::{DEFAULT_TENANT, Expected};
use switchboard_projection::{Deps, wait_for_checkpoint};

use crate::index::SharedIndex;
use switchboard_proto::{
    ErrorKind, ServiceError,
    events::v1::{ArticleArchived, ArticlePublished, event::Body},
    knowledge::v1::Article,
};
use tokio::sync::watch;
use uuid::Uuid;

const MAX_TITLE_CHARS: usize = 300;
const MAX_BODY_BYTES: usize = 100 * 1024;
const MAX_TAGS: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidArgument(String),
    #[error("article {0} not found")]
    NotFound(String),
    #[error("article {0} was changed meanwhile; try again")]
    Conflict(String),
    #[error("the read model has not reached sequence {0} yet")]
    NotCaughtUp(u64),
    #[error(transparent)]
    Bus(switchboard_bus::Error),
    #[error(transparent)]
    Projection(#[from] switchboard_projection::Error),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("search index: {0}")]
    Index(String),
}

impl From<switchboard_bus::Error> for Error {
    fn from(error: switchboard_bus::Error) -> Self {
        match error {
            switchboard_bus::Error::Conflict { subject, .. } => Self::Conflict(subject),
            other => Self::Bus(other),
        }
    }
}

impl ServiceError for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::InvalidArgument(_) => ErrorKind::InvalidArgument,
            Self::NotFound(_) => ErrorKind::NotFound,
            Self::Conflict(_) => ErrorKind::FailedPrecondition,
            Self::NotCaughtUp(_) => ErrorKind::Unavailable,
            Self::Bus(_) | Self::Projection(_) | Self::Database(_) | Self::Index(_) => ErrorKind::Internal,
        }
    }
}

/// A version of an article to publish.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    /// Empty publishes a new article with a new id; an unknown id creates that article.
    pub article_id: String,
    pub title: String,
    pub body: String,
    pub locale: String,
    pub tags: Vec<String>,
}

pub struct Knowledge {
    deps: Deps,
    checkpoint: watch::Receiver<u64>,
    index: Arc<SharedIndex>,
    read_wait: Duration,
}

impl Knowledge {
    pub fn new(
        deps: Deps,
        checkpoint: watch::Receiver<u64>,
        index: Arc<SharedIndex>,
        read_wait: Duration,
    ) -> Self {
        Self { deps, checkpoint, index, read_wait }
    }

    pub(crate) fn index(&self) -> &Arc<SharedIndex> {
        &self.index
    }

    pub(crate) fn pool(&self) -> &sqlx::PgPool {
        &self.deps.pool
    }

    /// Publishes a new version; returns it and the stream sequence of its event.
    pub async fn publish(&self, mut draft: Draft) -> Result<(Article, u64), Error> {
        validate(&mut draft)?;
        let (article_id, version, expected) = match draft.article_id.as_str() {
            "" => (Uuid::now_v7().to_string(), 1, Expected::Empty),
            id => match self.last_event(id).await? {
                Some((body, sequence)) => {
                    (id.to_string(), version_of(&body) + 1, Expected::Sequence(sequence))
                }
                None => (id.to_string(), 1, Expected::Empty),
            },
        };
        let published = ArticlePublished {
            article_id: article_id.clone(),
            version,
            title: draft.title,
            body: draft.body,
            locale: draft.locale,
            tags: draft.tags,
        };
        let event = switchboard_bus::Draft::new(
            DEFAULT_TENANT,
            &article_id,
            Body::ArticlePublished(published.clone()),
        )
        .build()?;
        let sequence = self.deps.bus.append(&event, expected, None).await?.sequence;
        tracing::info!(article_id, version, "article published");
        Ok((article(published, false), sequence))
    }

    /// Withdraws an article from search; archiving an archived article changes nothing.
    pub async fn archive(&self, article_id: &str) -> Result<u64, Error> {
        let (event, sequence) =
            self.last_event(article_id).await?.ok_or_else(|| Error::NotFound(article_id.to_string()))?;
        if let Body::ArticleArchived(_) = event {
            return Ok(sequence);
        }
        let version = version_of(&event);
        let body = Body::ArticleArchived(ArticleArchived { article_id: article_id.to_string(), version });
        let event = switchboard_bus::Draft::new(DEFAULT_TENANT, article_id, body).build()?;
        let published = self.deps.bus.append(&event, Expected::Sequence(sequence), None).await?;
        Ok(published.sequence)
    }

    /// A page of articles in id order, and the id to continue after (empty on the last page).
    pub async fn list(
        &self,
        after: &str,
        limit: u32,
        include_archived: bool,
    ) -> Result<(Vec<Article>, String), Error> {
        let limit = match limit {
            0 => 500,
            limit if limit > 1000 => return Err(Error::InvalidArgument("limit is at most 1000".into())),
            limit => limit,
        };
        let rows = sqlx::query(
            "SELECT article_id, version, title, body, locale, tags, archived FROM knowledge.articles
             WHERE article_id > $1 AND ($2 OR NOT archived) ORDER BY article_id LIMIT $3",
        )
        .bind(after)
        .bind(include_archived)
        .bind(i64::from(limit) + 1)
        .fetch_all(self.pool())
        .await?;
        let mut articles: Vec<Article> = rows.iter().map(article_of).collect();
        let next = if articles.len() > limit as usize {
            articles.truncate(limit as usize);
            articles.last().map(|a| a.article_id.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok((articles, next))
    }

    pub async fn article(&self, article_id: &str) -> Result<Article, Error> {
        let row = sqlx::query(
            "SELECT article_id, version, title, body, locale, tags, archived
             FROM knowledge.articles WHERE article_id = $1",
        )
        .bind(article_id)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| Error::NotFound(article_id.to_string()))?;
        Ok(article_of(&row))
    }

    /// Waits until the read model and the search index have applied `sequence`.
    pub async fn catch_up(&self, sequence: u64) -> Result<(), Error> {
        let read_model = wait_for_checkpoint(&self.checkpoint, sequence, self.read_wait).await;
        if read_model && wait_for_checkpoint(&self.index.checkpoint(), sequence, self.read_wait).await {
            Ok(())
        } else {
            Err(Error::NotCaughtUp(sequence))
        }
    }

    /// The article's last event and its stream sequence; `None` for an unknown article.
    async fn last_event(&self, article_id: &str) -> Result<Option<(Body, u64)>, Error> {
        let found = match self.deps.bus.last_event_of("article", article_id).await {
            Err(switchboard_bus::Error::InvalidAggregateId(id)) => {
                return Err(Error::InvalidArgument(format!(
                    "article id {id:?}: use letters, digits, '-' and '_'"
                )));
            }
            other => other?,
        };
        Ok(found.and_then(|(event, sequence)| event.body.map(|body| (body, sequence))))
    }
}

fn article_of(row: &sqlx::postgres::PgRow) -> Article {
    Article {
        article_id: row.get(0),
        version: u32::try_from(row.get::<i32, _>(1)).unwrap_or(0),
        title: row.get(2),
        body: row.get(3),
        locale: row.get(4),
        tags: row.get(5),
        archived: row.get(6),
    }
}

/// The version an article event names.
fn version_of(body: &Body) -> u32 {
    match body {
        Body::ArticlePublished(published) => published.version,
        Body::ArticleArchived(archived) => archived.version,
        _ => 0,
    }
}

fn validate(draft: &mut Draft) -> Result<(), Error> {
    let invalid = |message: String| Err(Error::InvalidArgument(message));
    draft.title = draft.title.trim().to_string();
    if draft.title.is_empty() || draft.title.chars().count() > MAX_TITLE_CHARS {
        return invalid(format!("title is required, at most {MAX_TITLE_CHARS} characters"));
    }
    if draft.body.trim().is_empty() || draft.body.len() > MAX_BODY_BYTES {
        return invalid(format!("body is required, at most {MAX_BODY_BYTES} bytes"));
    }
    if [&draft.title, &draft.body].iter().any(|text| text.contains('\0'))
        || draft.tags.iter().any(|tag| tag.contains('\0'))
    {
        return invalid("title, body and tags may not contain NUL characters".into());
    }
    if draft.locale.is_empty() {
        draft.locale = "en".into();
    }
    let locale_ok = draft.locale.len() <= 35
        && draft
            .locale
            .split('-')
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric()));
    if !locale_ok {
        return invalid(format!("locale {:?} is not a BCP 47 tag such as en or zh-Hant", draft.locale));
    }
    if draft.tags.len() > MAX_TAGS || draft.tags.iter().any(|tag| tag.is_empty() || tag.len() > 64) {
        return invalid(format!("at most {MAX_TAGS} tags, each 1 to 64 bytes"));
    }
    Ok(())
}

fn article(published: ArticlePublished, archived: bool) -> Article {
    Article {
        article_id: published.article_id,
        version: published.version,
        title: published.title,
        body: published.body,
        locale: published.locale,
        tags: published.tags,
        archived,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> Draft {
        Draft {
            title: " Tracking your order ".into(),
            body: "Open the link in your shipping email.".into(),
            ..Draft::default()
        }
    }

    #[test]
    fn trims_the_title_and_defaults_the_locale() {
        let mut given = draft();
        validate(&mut given).expect("valid");
        assert_eq!(given.title, "Tracking your order");
        assert_eq!(given.locale, "en");
    }

    #[test]
    fn refuses_articles_without_title_or_with_a_bad_locale() {
        type Spoil = fn(&mut Draft);
        let cases: [(Spoil, &str); 3] = [
            (|d| d.title = "  ".into(), "title"),
            (|d| d.locale = "en_US!".into(), "locale"),
            (|d| d.body.clear(), "body"),
        ];
        for (spoil, expected) in cases {
            let mut given = draft();
            spoil(&mut given);
            let error = validate(&mut given).expect_err(expected).to_string();
            assert!(error.contains(expected), "{error}");
        }
    }
}
