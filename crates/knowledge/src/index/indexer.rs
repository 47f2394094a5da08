//! Keeps the search index a projection of the article events: an ordered read of
//! `switchboard.events.article.>` from the index's own checkpoint (stored in its commit), applied
//! in batches, each committed with the sequence it reached. Each event changes its own tenant's
//! article only.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use async_nats::jetstream::consumer::{DeliverPolicy, pull::OrderedConfig};
use futures::StreamExt as _;
use switchboard_bus::{Bus, EVENTS_STREAM};
use switchboard_projection::Task;
use switchboard_proto::events::v1::{Event, event::Body};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{ArticleIndex, Filters, IndexError, IndexHit, IndexedArticle, Ranking, Reading};
use switchboard_nlu::embed::SentenceEncoder;

const SUBJECT: &str = "switchboard.events.article.>";
const BATCH: usize = 500;

/// The index shared by the indexer (writes) and searches (reads), with its checkpoint.
pub struct SharedIndex {
    index: RwLock<ArticleIndex>,
    checkpoint: watch::Sender<u64>,
}

impl SharedIndex {
    pub fn checkpoint(&self) -> watch::Receiver<u64> {
        self.checkpoint.subscribe()
    }

    pub fn search(
        &self,
        query: &str,
        filters: &Filters<'_>,
        limit: usize,
    ) -> Result<Vec<IndexHit>, IndexError> {
        self.read().search(query, filters, limit)
    }

    /// As `search`, reading of each hit what `reading` asks for.
    pub fn search_reading(
        &self,
        query: &str,
        filters: &Filters<'_>,
        limit: usize,
        reading: Reading,
    ) -> Result<Vec<IndexHit>, IndexError> {
        self.read().search_reading(query, filters, limit, reading)
    }

    /// The passage of `body` that best answers `question`.
    pub fn passage(&self, locale: &str, question: &str, body: &str) -> Result<String, IndexError> {
        self.read().passage(locale, question, body)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, ArticleIndex> {
        self.index.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The article with its embeddings, when this index embeds its language (under the read
    /// lock: searches go on meanwhile; this indexer is the only writer).
    fn embedded(&self, mut article: IndexedArticle) -> Result<IndexedArticle, IndexError> {
        article.vectors = self.read().vectors_of(&article)?;
        Ok(article)
    }

    /// Titles for what has been typed so far, among the articles `filters` allow.
    pub fn suggest(
        &self,
        typed: &str,
        filters: &Filters<'_>,
        limit: usize,
    ) -> Result<Vec<(String, String)>, IndexError> {
        self.read().suggest_in(typed, filters, limit)
    }

    /// Whether searches in `locale` are hybrid.
    pub fn hybrid_for(&self, locale: &str) -> bool {
        self.read().hybrid_for(locale)
    }

    /// Applies a batch of (sequence, event) and commits at the last sequence. Published articles
    /// are embedded first, so searches wait for the write lock only as long as tantivy writes.
    fn apply(&self, batch: &[(u64, Event)]) -> Result<u64, IndexError> {
        let mut published = Vec::new();
        for (_, event) in batch {
            if let Some(Body::ArticlePublished(article)) = &event.body {
                published.push(self.embedded(IndexedArticle {
                    article_id: article.article_id.clone(),
                    title: article.title.clone(),
                    body: article.body.clone(),
                    locale: article.locale.clone(),
                    tags: article.tags.clone(),
                    product_area: article.product_area.clone(),
                    example_questions: article.example_questions.clone(),
                    vectors: None,
                })?);
            }
        }
        let mut published = published.into_iter();
        let mut index = self.index.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        for (_, event) in batch {
            let tenant = crate::tenant_of(event);
            match &event.body {
                Some(Body::ArticlePublished(_)) => {
                    if let Some(article) = published.next() {
                        index.upsert_in(tenant, &article)?;
                    }
                }
                Some(Body::ArticleUnpublished(unpublished)) => index.remove(tenant, &unpublished.article_id),
                Some(Body::ArticleArchived(archived)) => index.remove(tenant, &archived.article_id),
                _ => {}
            }
        }
        let last = batch.last().map_or(0, |(sequence, _)| *sequence);
        index.commit_at(last)?;
        Ok(last)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IndexerError {
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error("search index consumer: {0}")]
    Consumer(String),
}

/// Opens the index (in `directory`, or in memory, rebuilt from the stream at every start),
/// hybrid with an encoder, and starts following the article events.
pub async fn spawn_indexer(
    bus: &Bus,
    directory: Option<PathBuf>,
    encoder: Option<Arc<SentenceEncoder>>,
    shutdown: CancellationToken,
) -> Result<(Arc<SharedIndex>, Task), IndexerError> {
    let index = tokio::task::spawn_blocking(move || {
        ArticleIndex::open_hybrid(directory.as_deref(), Ranking::Full, encoder)
    })
    .await
    .map_err(|e| IndexerError::Consumer(e.to_string()))??;
    let start = index.checkpoint()?;
    let shared = Arc::new(SharedIndex { index: RwLock::new(index), checkpoint: watch::Sender::new(start) });
    let messages = feed(bus, start).await?;
    let (bus, task_index) = (bus.clone(), shared.clone());
    let task =
        tokio::spawn(async move { follow(bus, messages, task_index, shutdown).await.map_err(Into::into) });
    Ok((shared, task))
}

type Messages = async_nats::jetstream::consumer::pull::Ordered;

/// The article events after `checkpoint`, in order.
async fn feed(bus: &Bus, checkpoint: u64) -> Result<Messages, IndexerError> {
    let stream =
        bus.jetstream().get_stream(EVENTS_STREAM).await.map_err(|e| IndexerError::Consumer(e.to_string()))?;
    let config = OrderedConfig {
        filter_subject: SUBJECT.into(),
        deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: checkpoint + 1 },
        ..Default::default()
    };
    let consumer = stream.create_consumer(config).await.map_err(|e| IndexerError::Consumer(e.to_string()))?;
    consumer.messages().await.map_err(|e| IndexerError::Consumer(e.to_string()))
}

/// Indexes the feed until shutdown; a feed that ends (NATS restarted, the consumer gone) is
/// opened again from the index's checkpoint, so nothing is skipped and the index never stops.
async fn follow(
    bus: Bus,
    mut messages: Messages,
    task_index: Arc<SharedIndex>,
    shutdown: CancellationToken,
) -> Result<(), IndexerError> {
    loop {
        if index_until_end(messages, &task_index, &shutdown).await? {
            return Ok(());
        }
        messages = loop {
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            }
            let checkpoint = *task_index.checkpoint.borrow();
            match feed(&bus, checkpoint).await {
                Ok(messages) => break messages,
                Err(error) => tracing::warn!(%error, "search index feed unavailable; trying again"),
            }
        };
    }
}

/// Indexes what the feed brings; `true` at shutdown, `false` when the feed ended. An error on
/// the feed is the ordered consumer resetting itself from the last sequence seen: logged.
async fn index_until_end(
    messages: Messages,
    task_index: &Arc<SharedIndex>,
    shutdown: &CancellationToken,
) -> Result<bool, IndexerError> {
    {
        let mut chunks = messages.ready_chunks(BATCH);
        loop {
            let chunk = tokio::select! {
                () = shutdown.cancelled() => return Ok(true),
                chunk = chunks.next() => match chunk { Some(chunk) => chunk, None => return Ok(false) },
            };
            let mut batch = Vec::with_capacity(chunk.len());
            for message in chunk {
                let message = match message {
                    Ok(message) => message,
                    Err(error) => {
                        tracing::warn!(%error, "search index feed error");
                        continue;
                    }
                };
                let sequence =
                    message.info().map_err(|e| IndexerError::Consumer(e.to_string()))?.stream_sequence;
                // A feed that started over (an ordered consumer recreated before its first
                // message starts from the stream's beginning) brings what is indexed already.
                if sequence <= *task_index.checkpoint.borrow() {
                    continue;
                }
                match <Event as prost::Message>::decode(message.payload.as_ref()) {
                    Ok(event) => batch.push((sequence, event)),
                    Err(error) => tracing::warn!(sequence, %error, "undecodable article event not indexed"),
                }
            }
            if batch.is_empty() {
                continue;
            }
            let index = task_index.clone();
            let reached = tokio::task::spawn_blocking(move || index.apply(&batch))
                .await
                .map_err(|e| IndexerError::Consumer(e.to_string()))??;
            task_index.checkpoint.send_replace(reached);
        }
    }
}
