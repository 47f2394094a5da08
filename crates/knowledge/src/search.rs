//! Full-text search over published articles, with each article's language rules.

use sqlx::Row as _;
use switchboard_proto::knowledge::v1::SearchHit;

use crate::domain::{Error, Knowledge};

const MAX_QUERY_CHARS: usize = 1000;
const DEFAULT_LIMIT: u32 = 5;
const MAX_LIMIT: u32 = 50;

impl Knowledge {
    /// Articles matching any word of `query`, best first; relevance in 0..1.
    pub async fn search(&self, query: &str, locale: &str, limit: u32) -> Result<Vec<SearchHit>, Error> {
        let terms = terms(query)?;
        let limit = match limit {
            0 => DEFAULT_LIMIT,
            limit if limit > MAX_LIMIT => {
                return Err(Error::InvalidArgument(format!("limit is at most {MAX_LIMIT}")));
            }
            limit => limit,
        };
        let rows = sqlx::query(
            "SELECT article_id, title,
                    ts_headline(ts_config, body, query, 'MaxWords=35, MinWords=12') AS snippet,
                    ts_rank_cd(search, query, 32) AS score
             FROM knowledge.articles, LATERAL to_tsquery(ts_config, $1) AS query
             WHERE NOT archived AND search @@ query
               AND ($2 = '' OR locale = $2 OR locale LIKE $2 || '-%')
             ORDER BY score DESC, article_id LIMIT $3",
        )
        .bind(terms)
        .bind(locale)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|row| SearchHit {
                article_id: row.get(0),
                title: row.get(1),
                snippet: row.get(2),
                score: row.get(3),
            })
            .collect())
    }
}

/// The query's words joined by OR, in `to_tsquery` syntax; only letters and digits survive.
fn terms(query: &str) -> Result<String, Error> {
    if query.chars().count() > MAX_QUERY_CHARS {
        return Err(Error::InvalidArgument(format!("query is longer than {MAX_QUERY_CHARS} characters")));
    }
    let words: Vec<String> = query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect();
    if words.is_empty() {
        return Err(Error::InvalidArgument("query has no words to search for".into()));
    }
    Ok(words.join(" | "))
}

/// PostgreSQL text search configuration for a locale: stemming where PostgreSQL has it.
pub(crate) fn text_search_config(locale: &str) -> &'static str {
    let language = locale.split('-').next().unwrap_or_default().to_ascii_lowercase();
    match language.as_str() {
        "en" => "english",
        "es" => "spanish",
        "fr" => "french",
        "de" => "german",
        "pt" => "portuguese",
        "it" => "italian",
        "nl" => "dutch",
        "ru" => "russian",
        "sv" => "swedish",
        "da" => "danish",
        "fi" => "finnish",
        "nb" | "no" => "norwegian",
        "hu" => "hungarian",
        "ro" => "romanian",
        "tr" => "turkish",
        _ => "simple",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_words_with_or_and_drops_query_syntax() {
        assert_eq!(
            terms("Where is my order #12345?").ok().as_deref(),
            Some("where | is | my | order | 12345")
        );
        assert_eq!(terms("a & !b | c:*").ok().as_deref(), Some("a | b | c"));
    }

    #[test]
    fn refuses_empty_and_huge_queries() {
        assert!(terms("  ?! ").is_err());
        assert!(terms(&"x".repeat(MAX_QUERY_CHARS + 1)).is_err());
    }

    #[test]
    fn picks_stemming_by_language() {
        assert_eq!(text_search_config("en-GB"), "english");
        assert_eq!(text_search_config("zh-Hant"), "simple");
    }
}
