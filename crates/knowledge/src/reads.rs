//! Reads from the read model: articles, their versions, and pages of articles for export; each
//! of one tenant's rows only (another tenant's article is not found).

use sqlx::{AssertSqlSafe, Row as _, postgres::PgRow};
use switchboard_proto::{
    knowledge::v1::{Article, ArticleStatus, ArticleVersion, Translation},
    time::to_timestamp,
};

use crate::domain::{Error, Knowledge};

/// Formatted into queries (a constant, so safe).
const ARTICLE_COLUMNS: &str = "article_id, version, title, body, locale, tags, status, product_area,
    example_questions, translation_of, draft_version, translation_group";

impl Knowledge {
    /// The tenant's current article (`version` 0) or one of its versions, with its translations.
    pub async fn article(&self, tenant: &str, article_id: &str, version: u32) -> Result<Article, Error> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {ARTICLE_COLUMNS} FROM knowledge.articles WHERE tenant = $1 AND article_id = $2"
        )))
        .bind(tenant)
        .bind(article_id)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| Error::NotFound(format!("article {article_id}")))?;
        let mut article = article_of(&row);
        article.translations = self.translations(tenant, article_id, &row.get::<String, _>(11)).await?;
        if version != 0 && version != article.version {
            self.replace_with_version(tenant, &mut article, version).await?;
        }
        Ok(article)
    }

    async fn replace_with_version(
        &self,
        tenant: &str,
        article: &mut Article,
        version: u32,
    ) -> Result<(), Error> {
        let row = sqlx::query(
            "SELECT title, body, locale, tags, product_area, example_questions, translation_of, published_at
             FROM knowledge.article_versions WHERE tenant = $3 AND article_id = $1 AND version = $2",
        )
        .bind(&article.article_id)
        .bind(i32::try_from(version).unwrap_or(i32::MAX))
        .bind(tenant)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| Error::NotFound(format!("version {version} of article {}", article.article_id)))?;
        article.version = version;
        article.title = row.get(0);
        article.body = row.get(1);
        article.locale = row.get(2);
        article.tags = row.get(3);
        article.product_area = row.get(4);
        article.example_questions = row.get(5);
        article.translation_of = row.get(6);
        Ok(())
    }

    async fn translations(
        &self,
        tenant: &str,
        article_id: &str,
        group: &str,
    ) -> Result<Vec<Translation>, Error> {
        let rows = sqlx::query(
            "SELECT article_id, locale FROM knowledge.articles
             WHERE tenant = $3 AND translation_group = $1 AND article_id <> $2 AND status <> 'archived'
             ORDER BY locale",
        )
        .bind(group)
        .bind(article_id)
        .bind(tenant)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(|row| Translation { article_id: row.get(0), locale: row.get(1) }).collect())
    }

    /// Every version of the tenant's article, oldest first.
    pub async fn versions(&self, tenant: &str, article_id: &str) -> Result<Vec<ArticleVersion>, Error> {
        let rows = sqlx::query(
            "SELECT version, title, saved_at, published_at FROM knowledge.article_versions
             WHERE tenant = $1 AND article_id = $2 ORDER BY version",
        )
        .bind(tenant)
        .bind(article_id)
        .fetch_all(self.pool())
        .await?;
        if rows.is_empty() {
            return Err(Error::NotFound(format!("article {article_id}")));
        }
        Ok(rows
            .iter()
            .map(|row| {
                let published_at: Option<chrono::DateTime<chrono::Utc>> = row.get(3);
                ArticleVersion {
                    version: u32::try_from(row.get::<i32, _>(0)).unwrap_or(0),
                    title: row.get(1),
                    state: if published_at.is_some() { "published" } else { "draft" }.into(),
                    saved_at: Some(to_timestamp(row.get(2))),
                    published_at: published_at.map(to_timestamp),
                }
            })
            .collect())
    }

    /// A page of the tenant's articles in id order, and the id to continue after (empty on the
    /// last page).
    pub async fn list(
        &self,
        tenant: &str,
        after: &str,
        limit: u32,
        include_archived: bool,
    ) -> Result<(Vec<Article>, String), Error> {
        let limit = match limit {
            0 => 500,
            limit if limit > 1000 => return Err(Error::InvalidArgument("limit is at most 1000".into())),
            limit => limit,
        };
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {ARTICLE_COLUMNS} FROM knowledge.articles
             WHERE tenant = $4 AND article_id > $1 AND ($2 OR status <> 'archived')
             ORDER BY article_id LIMIT $3"
        )))
        .bind(after)
        .bind(include_archived)
        .bind(i64::from(limit) + 1)
        .bind(tenant)
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
}

fn article_of(row: &PgRow) -> Article {
    let status = match row.get::<&str, _>(6) {
        "draft" => ArticleStatus::Draft,
        "published" => ArticleStatus::Published,
        "unpublished" => ArticleStatus::Unpublished,
        "archived" => ArticleStatus::Archived,
        _ => ArticleStatus::Unspecified,
    };
    Article {
        article_id: row.get(0),
        version: u32::try_from(row.get::<i32, _>(1)).unwrap_or(0),
        title: row.get(2),
        body: row.get(3),
        locale: row.get(4),
        tags: row.get(5),
        archived: status == ArticleStatus::Archived,
        status: status.into(),
        product_area: row.get(7),
        example_questions: row.get(8),
        translation_of: row.get(9),
        translations: Vec::new(),
        draft_version: u32::try_from(row.get::<i32, _>(10)).unwrap_or(0),
    }
}
