//! The knowledge service's commands on articles: each folds the article's events, decides, and
//! appends guarded by the article's last sequence. Reads are in `reads`, queries in `queries`.
//! Every command acts on one tenant's article (`tenant` is always the caller's): its history is
//! `events_of("article", tenant, id)`, so two tenants' articles of one id never meet.

use std::sync::Arc;
use std::time::Duration;

use switchboard_bus::Expected;
use switchboard_projection::{Deps, wait_for_checkpoint};
use switchboard_proto::{
    ErrorKind, ServiceError,
    events::v1::event::Body,
    knowledge::v1::{Article, ArticleStatus},
};
use tokio::sync::watch;
use uuid::Uuid;

use crate::article::{self, ArticleState, Content, Refusal};
use crate::index::SharedIndex;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    NotAllowed(String),
    #[error("{0} not found")]
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
            Self::Conflict(_) | Self::NotAllowed(_) => ErrorKind::FailedPrecondition,
            Self::NotCaughtUp(_) => ErrorKind::Unavailable,
            Self::Database(error) if switchboard_bus::is_transient(error) => ErrorKind::Unavailable,
            Self::Bus(_) | Self::Projection(_) | Self::Database(_) | Self::Index(_) => ErrorKind::Internal,
        }
    }
}

impl From<Refusal> for Error {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Invalid(message) => Self::InvalidArgument(message),
            Refusal::NotAllowed(message) => Self::NotAllowed(message),
        }
    }
}

pub struct Knowledge {
    pub(crate) deps: Deps,
    checkpoint: watch::Receiver<u64>,
    index: Arc<SharedIndex>,
    read_wait: Duration,
    /// Lowest confidence `Answer` and `Deflect` stand behind, unless the caller asks otherwise;
    /// `None`: the threshold calibrated for the search's mode.
    min_confidence: Option<f32>,
}

/// An article's history: its state and the guard for the next append.
struct History {
    tenant: String,
    article_id: String,
    state: ArticleState,
    expected: Expected,
}

impl Knowledge {
    pub fn new(
        deps: Deps,
        checkpoint: watch::Receiver<u64>,
        index: Arc<SharedIndex>,
        read_wait: Duration,
        min_confidence: Option<f32>,
    ) -> Self {
        Self { deps, checkpoint, index, read_wait, min_confidence }
    }

    pub(crate) fn index(&self) -> &Arc<SharedIndex> {
        &self.index
    }

    /// Runs `work` on the search index in the blocking pool (the index's work is CPU-bound and
    /// may wait for its lock); a failure of the work, or its panic, is an [`Error::Index`].
    pub(crate) async fn on_index<R, E>(
        &self,
        work: impl FnOnce(&SharedIndex) -> Result<R, E> + Send + 'static,
    ) -> Result<R, Error>
    where
        R: Send + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        let index = self.index.clone();
        tokio::task::spawn_blocking(move || work(&index))
            .await
            .map_err(|e| Error::Index(e.to_string()))?
            .map_err(|e| Error::Index(e.to_string()))
    }

    /// The confidence answers in `locale` need: the configured one, or the calibrated one of
    /// the search mode that serves the locale.
    pub(crate) fn threshold_for(&self, locale: &str) -> f32 {
        self.min_confidence.unwrap_or_else(|| {
            if self.index.hybrid_for(locale) {
                crate::HYBRID_MIN_CONFIDENCE
            } else {
                crate::DEFAULT_MIN_CONFIDENCE
            }
        })
    }

    pub(crate) fn pool(&self) -> &sqlx::PgPool {
        &self.deps.pool
    }

    /// Saves a new version as a draft; returns it and the stream sequence of its event.
    pub async fn save_draft(
        &self,
        tenant: &str,
        article_id: &str,
        content: Content,
    ) -> Result<(Article, u64), Error> {
        let history = self.history_or_new(tenant, article_id).await?;
        self.check_translation(tenant, &history.article_id, &content.translation_of).await?;
        let event = article::save_draft(&history.state, &history.article_id, content)?;
        self.append(history, event).await
    }

    /// Publishes a new version with `content`.
    pub async fn publish(
        &self,
        tenant: &str,
        article_id: &str,
        content: Content,
    ) -> Result<(Article, u64), Error> {
        let history = self.history_or_new(tenant, article_id).await?;
        self.check_translation(tenant, &history.article_id, &content.translation_of).await?;
        let event = article::publish(&history.state, &history.article_id, content)?;
        self.append(history, event).await
    }

    /// Publishes saved draft `version` as it is.
    pub async fn publish_draft(
        &self,
        tenant: &str,
        article_id: &str,
        version: u32,
    ) -> Result<(Article, u64), Error> {
        let history = self.history(tenant, article_id).await?;
        let event = article::publish_draft(&history.state, article_id, version)?;
        self.append(history, event).await
    }

    /// Takes the live version out of search; unpublishing twice changes nothing.
    pub async fn unpublish(&self, tenant: &str, article_id: &str) -> Result<u64, Error> {
        let history = self.history(tenant, article_id).await?;
        match article::unpublish(&history.state, article_id)? {
            Some(event) => Ok(self.append(history, event).await?.1),
            None => Ok(self.deps.bus.last_sequence(switchboard_bus::EVENTS_STREAM).await?),
        }
    }

    /// Withdraws an article from search and listings; archiving twice changes nothing.
    pub async fn archive(&self, tenant: &str, article_id: &str) -> Result<u64, Error> {
        let history = self.history(tenant, article_id).await?;
        match article::archive(&history.state, article_id) {
            Some(event) => Ok(self.append(history, event).await?.1),
            None => Ok(self.deps.bus.last_sequence(switchboard_bus::EVENTS_STREAM).await?),
        }
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

    async fn append(&self, history: History, body: Body) -> Result<(Article, u64), Error> {
        let returned = returned_article(&history.article_id, &body);
        let event = switchboard_bus::Draft::new(&history.tenant, &history.article_id, body).build()?;
        let sequence = self.deps.bus.append(&event, history.expected, None).await?.sequence;
        tracing::info!(
            tenant = history.tenant,
            article_id = history.article_id,
            event = event.r#type,
            "article changed"
        );
        Ok((returned, sequence))
    }

    /// An existing article's history in `tenant`.
    async fn history(&self, tenant: &str, article_id: &str) -> Result<History, Error> {
        let history = self.history_or_new(tenant, article_id).await?;
        if history.expected == Expected::Empty {
            return Err(Error::NotFound(format!("article {article_id}")));
        }
        Ok(history)
    }

    /// The article's history in `tenant`; a new article (with a new id when `article_id` is empty).
    async fn history_or_new(&self, tenant: &str, article_id: &str) -> Result<History, Error> {
        let tenant = tenant.to_string();
        if article_id.is_empty() {
            let article_id = Uuid::now_v7().to_string();
            let state = ArticleState::default();
            return Ok(History { tenant, article_id, state, expected: Expected::Empty });
        }
        let events = match self.deps.bus.events_of("article", &tenant, article_id).await {
            Err(switchboard_bus::Error::InvalidAggregateId(id)) => {
                return Err(Error::InvalidArgument(format!(
                    "article id {id:?}: use up to 128 letters, digits, '-' and '_'"
                )));
            }
            other => other?,
        };
        let expected = events.last().map_or(Expected::Empty, |(_, sequence)| Expected::Sequence(*sequence));
        let state = ArticleState::fold(events.iter().filter_map(|(event, _)| event.body.as_ref()));
        Ok(History { tenant, article_id: article_id.to_string(), state, expected })
    }

    /// A translation names another article of the same tenant that exists.
    async fn check_translation(
        &self,
        tenant: &str,
        article_id: &str,
        translation_of: &str,
    ) -> Result<(), Error> {
        if translation_of.is_empty() {
            return Ok(());
        }
        if translation_of == article_id {
            return Err(Error::InvalidArgument("an article cannot be a translation of itself".into()));
        }
        match self.deps.bus.last_event_of("article", tenant, translation_of).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) | Err(switchboard_bus::Error::InvalidAggregateId(_)) => {
                Err(Error::InvalidArgument(format!("translation_of: there is no article {translation_of:?}")))
            }
            Err(error) => Err(error.into()),
        }
    }
}

/// What a command returns: the version its event made.
fn returned_article(article_id: &str, body: &Body) -> Article {
    let (version, content, status) = match body {
        Body::ArticleDrafted(d) => (d.version, article::content_of_draft(d), ArticleStatus::Draft),
        Body::ArticlePublished(p) => (p.version, article::content_of_published(p), ArticleStatus::Published),
        _ => (0, Content::default(), ArticleStatus::Unspecified),
    };
    Article {
        article_id: article_id.to_string(),
        version,
        title: content.title,
        body: content.body,
        locale: content.locale,
        tags: content.tags,
        archived: false,
        status: status.into(),
        product_area: content.product_area,
        example_questions: content.example_questions,
        translation_of: content.translation_of,
        translations: Vec::new(),
        draft_version: 0,
    }
}
