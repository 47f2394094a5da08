//! Published articles for `GetArticle`; archived ones kept and marked. Search reads the index.

use sqlx::PgConnection;
use switchboard_projection::{Applied, Projection};
use switchboard_proto::{
    events::v1::{ArticlePublished, event::Body},
    time::to_datetime,
};

pub struct KnowledgeProjection;

impl Projection for KnowledgeProjection {
    fn name(&self) -> &'static str {
        "knowledge-projection"
    }

    fn schema(&self) -> &'static str {
        "knowledge"
    }

    fn subjects(&self) -> Vec<String> {
        vec!["switchboard.events.article.>".into()]
    }

    fn tables(&self) -> &'static [&'static str] {
        &["knowledge.articles"]
    }

    async fn apply(&self, tx: &mut PgConnection, events: &[Applied]) -> Result<(), sqlx::Error> {
        for applied in events {
            let at = to_datetime(applied.event.occurred_at.as_ref());
            match &applied.event.body {
                Some(Body::ArticlePublished(published)) => upsert(tx, published, at).await?,
                Some(Body::ArticleArchived(archived)) => {
                    sqlx::query("UPDATE knowledge.articles SET archived = true, updated_at = $2 WHERE article_id = $1")
                        .bind(&archived.article_id)
                        .bind(at)
                        .execute(&mut *tx)
                        .await?;
                }
                _ => {}
            }
        }
        Ok(())
    }
}

async fn upsert(
    tx: &mut PgConnection,
    published: &ArticlePublished,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO knowledge.articles
             (article_id, version, title, body, locale, tags, archived, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, false, $7)
         ON CONFLICT (article_id) DO UPDATE SET version = EXCLUDED.version, title = EXCLUDED.title,
             body = EXCLUDED.body, locale = EXCLUDED.locale, tags = EXCLUDED.tags, archived = false,
             updated_at = EXCLUDED.updated_at
         WHERE knowledge.articles.version < EXCLUDED.version",
    )
    .bind(&published.article_id)
    .bind(i32::try_from(published.version).unwrap_or(i32::MAX))
    .bind(&published.title)
    .bind(&published.body)
    .bind(&published.locale)
    .bind(&published.tags)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
