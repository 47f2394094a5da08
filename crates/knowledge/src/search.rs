//! Search over published articles (the tantivy index), with each article's language rules.

use switchboard_proto::knowledge::v1::{SearchHit, Suggestion};

use crate::domain::{Error, Knowledge};

const MAX_QUERY_CHARS: usize = 1000;
const DEFAULT_LIMIT: u32 = 5;
const MAX_LIMIT: u32 = 50;

impl Knowledge {
    /// Published articles for `query` from the search index, best first; relevance in 0..1.
    pub async fn search(&self, query: &str, locale: &str, limit: u32) -> Result<Vec<SearchHit>, Error> {
        check_query(query)?;
        let limit = match limit {
            0 => DEFAULT_LIMIT,
            limit if limit > MAX_LIMIT => {
                return Err(Error::InvalidArgument(format!("limit is at most {MAX_LIMIT}")));
            }
            limit => limit,
        };
        let index = self.index().clone();
        let (query, locale) = (query.to_owned(), locale.to_owned());
        let hits = tokio::task::spawn_blocking(move || index.search(&query, &locale, limit as usize))
            .await
            .map_err(|e| Error::Index(e.to_string()))?
            .map_err(|e| Error::Index(e.to_string()))?;
        Ok(hits
            .into_iter()
            .map(|hit| SearchHit {
                article_id: hit.article_id,
                title: hit.title,
                snippet: hit.snippet,
                score: relevance(hit.score),
            })
            .collect())
    }
}

impl Knowledge {
    /// Article titles for what has been typed so far, best first.
    pub async fn suggest(&self, typed: &str, locale: &str, limit: u32) -> Result<Vec<Suggestion>, Error> {
        if typed.chars().count() > MAX_QUERY_CHARS {
            return Err(Error::InvalidArgument(format!(
                "prefix is longer than {MAX_QUERY_CHARS} characters"
            )));
        }
        let limit = match limit {
            0 => DEFAULT_LIMIT,
            limit if limit > MAX_SUGGESTIONS => {
                return Err(Error::InvalidArgument(format!("limit is at most {MAX_SUGGESTIONS}")));
            }
            limit => limit,
        };
        if !typed.chars().any(char::is_alphanumeric) {
            return Ok(Vec::new());
        }
        let index = self.index().clone();
        let (typed, locale) = (typed.to_owned(), locale.to_owned());
        let found = tokio::task::spawn_blocking(move || index.suggest(&typed, &locale, limit as usize))
            .await
            .map_err(|e| Error::Index(e.to_string()))?
            .map_err(|e| Error::Index(e.to_string()))?;
        Ok(found.into_iter().map(|(article_id, title)| Suggestion { article_id, title }).collect())
    }
}

const MAX_SUGGESTIONS: u32 = 20;

/// BM25 scores are unbounded; callers compare against thresholds in 0..1.
fn relevance(score: f32) -> f32 {
    1.0 - (-score / RELEVANCE_SCALE).exp()
}

/// A BM25 score of this size maps to a relevance of about 0.63.
const RELEVANCE_SCALE: f32 = 5.0;

/// Refuses queries that are too long or have no letters or digits to search for.
fn check_query(query: &str) -> Result<(), Error> {
    if query.chars().count() > MAX_QUERY_CHARS {
        return Err(Error::InvalidArgument(format!("query is longer than {MAX_QUERY_CHARS} characters")));
    }
    if !query.chars().any(char::is_alphanumeric) {
        return Err(Error::InvalidArgument("query has no words to search for".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_empty_and_huge_queries() {
        assert!(check_query("  ?! ").is_err());
        assert!(check_query(&"x".repeat(MAX_QUERY_CHARS + 1)).is_err());
        assert!(check_query("退貨").is_ok());
    }

    #[test]
    fn relevance_stays_between_zero_and_one() {
        assert_eq!(relevance(0.0), 0.0);
        assert!(relevance(5.0) > 0.6 && relevance(5.0) < 0.7);
        assert!(relevance(1000.0) <= 1.0);
    }
}
