//! Articles as customers see them (`knowledge.articles`) and every version
//! (`knowledge.article_versions`), for reads. Search reads the index, a projection of its own.

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, PgConnection};
use switchboard_projection::{Applied, Projection};
use switchboard_proto::{events::v1::event::Body, time::to_datetime};

use crate::article::{Content, content_of_draft, content_of_published};

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
        &["knowledge.articles", "knowledge.article_versions"]
    }

    async fn apply(&self, tx: &mut PgConnection, events: &[Applied]) -> Result<(), sqlx::Error> {
        for applied in events {
            let at = to_datetime(applied.event.occurred_at.as_ref());
            match &applied.event.body {
                Some(Body::ArticleDrafted(d)) => {
                    let content = content_of_draft(d);
                    save_version(tx, &d.article_id, d.version, &content, at, None).await?;
                    drafted(tx, &d.article_id, d.version, &content, at).await?;
                }
                Some(Body::ArticlePublished(p)) => {
                    let content = content_of_published(p);
                    save_version(tx, &p.article_id, p.version, &content, at, Some(at)).await?;
                    published(tx, &p.article_id, p.version, &content, at).await?;
                }
                Some(Body::ArticleUnpublished(u)) => set_status(tx, &u.article_id, "unpublished", at).await?,
                Some(Body::ArticleArchived(a)) => set_status(tx, &a.article_id, "archived", at).await?,
                _ => {}
            }
        }
        Ok(())
    }
}

async fn save_version(
    tx: &mut PgConnection,
    article_id: &str,
    version: u32,
    content: &Content,
    saved_at: DateTime<Utc>,
    published_at: Option<DateTime<Utc>>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO knowledge.article_versions (article_id, version, title, body, locale, tags,
             product_area, example_questions, translation_of, saved_at, published_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (article_id, version) DO UPDATE
         SET published_at = COALESCE(knowledge.article_versions.published_at, EXCLUDED.published_at)",
    )
    .bind(article_id)
    .bind(i32::try_from(version).unwrap_or(i32::MAX))
    .bind(&content.title)
    .bind(&content.body)
    .bind(&content.locale)
    .bind(&content.tags)
    .bind(&content.product_area)
    .bind(&content.example_questions)
    .bind(&content.translation_of)
    .bind(saved_at)
    .bind(published_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A never-published article shows its latest draft; any other records the newer draft.
async fn drafted(
    tx: &mut PgConnection,
    article_id: &str,
    version: u32,
    content: &Content,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE knowledge.articles SET draft_version = $2, updated_at = $3
         WHERE article_id = $1 AND status <> 'draft'",
    )
    .bind(article_id)
    .bind(i32::try_from(version).unwrap_or(i32::MAX))
    .bind(at)
    .execute(&mut *tx)
    .await?;
    upsert(tx, article_id, version, content, "draft", at, "WHERE knowledge.articles.status = 'draft'").await
}

async fn published(
    tx: &mut PgConnection,
    article_id: &str,
    version: u32,
    content: &Content,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    upsert(tx, article_id, version, content, "published", at, "").await
}

/// Writes the article's row, `guard` limiting which existing rows are overwritten.
async fn upsert(
    tx: &mut PgConnection,
    article_id: &str,
    version: u32,
    content: &Content,
    status: &str,
    at: DateTime<Utc>,
    guard: &str,
) -> Result<(), sqlx::Error> {
    let statement = format!(
        "INSERT INTO knowledge.articles (article_id, version, title, body, locale, tags, archived,
             updated_at, status, product_area, example_questions, translation_of, translation_group,
             draft_version)
         VALUES ($1, $2, $3, $4, $5, $6, false, $7, $8, $9, $10, $11,
             CASE WHEN $11 = '' THEN $1 ELSE COALESCE(
                 (SELECT translation_group FROM knowledge.articles WHERE article_id = $11), $11) END,
             0)
         ON CONFLICT (article_id) DO UPDATE SET version = EXCLUDED.version, title = EXCLUDED.title,
             body = EXCLUDED.body, locale = EXCLUDED.locale, tags = EXCLUDED.tags, archived = false,
             updated_at = EXCLUDED.updated_at, status = EXCLUDED.status,
             product_area = EXCLUDED.product_area, example_questions = EXCLUDED.example_questions,
             translation_of = EXCLUDED.translation_of, translation_group = EXCLUDED.translation_group,
             draft_version = CASE WHEN knowledge.articles.draft_version > EXCLUDED.version
                 THEN knowledge.articles.draft_version ELSE 0 END
         {guard}"
    );
    // Only the constant guards above are formatted in.
    sqlx::query(AssertSqlSafe(statement))
        .bind(article_id)
        .bind(i32::try_from(version).unwrap_or(i32::MAX))
        .bind(&content.title)
        .bind(&content.body)
        .bind(&content.locale)
        .bind(&content.tags)
        .bind(at)
        .bind(status)
        .bind(&content.product_area)
        .bind(&content.example_questions)
        .bind(&content.translation_of)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

async fn set_status(
    tx: &mut PgConnection,
    article_id: &str,
    status: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE knowledge.articles SET status = $2, archived = ($2 = 'archived'), updated_at = $3
         WHERE article_id = $1",
    )
    .bind(article_id)
    .bind(status)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
