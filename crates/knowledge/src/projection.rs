//! Articles as customers see them (`knowledge.articles`) and every version
//! (`knowledge.article_versions`), for reads. Search reads the index, a projection of its own.

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, PgConnection};
use switchboard_projection::{Applied, Projection};
use switchboard_proto::{events::v1::event::Body, time::to_datetime};

use crate::article::{Content, content_of_draft, content_of_published};

pub struct KnowledgeProjection;

/// Which article's rows an event changes.
#[derive(Clone, Copy)]
struct Key<'a> {
    tenant: &'a str,
    article_id: &'a str,
}

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
            let tenant = crate::tenant_of(&applied.event);
            let key = |article_id| Key { tenant, article_id };
            match &applied.event.body {
                Some(Body::ArticleDrafted(d)) => {
                    let content = content_of_draft(d);
                    save_version(tx, key(&d.article_id), d.version, &content, at, None).await?;
                    drafted(tx, key(&d.article_id), d.version, &content, at).await?;
                }
                Some(Body::ArticlePublished(p)) => {
                    let content = content_of_published(p);
                    save_version(tx, key(&p.article_id), p.version, &content, at, Some(at)).await?;
                    published(tx, key(&p.article_id), p.version, &content, at).await?;
                }
                Some(Body::ArticleUnpublished(u)) => {
                    set_status(tx, key(&u.article_id), "unpublished", at).await?;
                }
                Some(Body::ArticleArchived(a)) => set_status(tx, key(&a.article_id), "archived", at).await?,
                _ => {}
            }
        }
        Ok(())
    }
}

async fn save_version(
    tx: &mut PgConnection,
    key: Key<'_>,
    version: u32,
    content: &Content,
    saved_at: DateTime<Utc>,
    published_at: Option<DateTime<Utc>>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO knowledge.article_versions (article_id, version, title, body, locale, tags,
             product_area, example_questions, translation_of, saved_at, published_at, tenant)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (tenant, article_id, version) DO UPDATE
         SET published_at = COALESCE(knowledge.article_versions.published_at, EXCLUDED.published_at)",
    )
    .bind(key.article_id)
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
    .bind(key.tenant)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A never-published article shows its latest draft; any other records the newer draft.
async fn drafted(
    tx: &mut PgConnection,
    key: Key<'_>,
    version: u32,
    content: &Content,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE knowledge.articles SET draft_version = $2, updated_at = $3
         WHERE tenant = $4 AND article_id = $1 AND status <> 'draft'",
    )
    .bind(key.article_id)
    .bind(i32::try_from(version).unwrap_or(i32::MAX))
    .bind(at)
    .bind(key.tenant)
    .execute(&mut *tx)
    .await?;
    upsert(tx, key, version, content, "draft", at, "WHERE knowledge.articles.status = 'draft'").await
}

async fn published(
    tx: &mut PgConnection,
    key: Key<'_>,
    version: u32,
    content: &Content,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    upsert(tx, key, version, content, "published", at, "").await
}

/// Writes the article's row, `guard` limiting which existing rows are overwritten; a translation
/// joins the group of its original in the same tenant.
async fn upsert(
    tx: &mut PgConnection,
    key: Key<'_>,
    version: u32,
    content: &Content,
    status: &str,
    at: DateTime<Utc>,
    guard: &str,
) -> Result<(), sqlx::Error> {
    let statement = format!(
        "INSERT INTO knowledge.articles (article_id, version, title, body, locale, tags, archived,
             updated_at, status, product_area, example_questions, translation_of, translation_group,
             draft_version, tenant)
         VALUES ($1, $2, $3, $4, $5, $6, false, $7, $8, $9, $10, $11,
             CASE WHEN $11 = '' THEN $1 ELSE COALESCE(
                 (SELECT translation_group FROM knowledge.articles WHERE tenant = $12 AND article_id = $11),
                 $11) END,
             0, $12)
         ON CONFLICT (tenant, article_id) DO UPDATE SET version = EXCLUDED.version, title = EXCLUDED.title,
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
        .bind(key.article_id)
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
        .bind(key.tenant)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

async fn set_status(
    tx: &mut PgConnection,
    key: Key<'_>,
    status: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE knowledge.articles SET status = $2, archived = ($2 = 'archived'), updated_at = $3
         WHERE tenant = $4 AND article_id = $1",
    )
    .bind(key.article_id)
    .bind(status)
    .bind(at)
    .bind(key.tenant)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
