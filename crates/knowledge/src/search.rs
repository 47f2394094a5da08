//! Search and suggestions over one tenant's published articles (the tantivy index), each search
//! recorded as a `KnowledgeQueried` event of that tenant.

use switchboard_proto::{
    events::v1::KnowledgeQueryKind,
    knowledge::v1::{SearchHit, Suggestion},
};

use crate::domain::{Error, Knowledge};
use crate::index::{Filters, IndexError, IndexHit, Reading, SharedIndex};
use crate::locale;
use crate::queries::Asked;

pub(crate) const MAX_QUERY_CHARS: usize = 1000;
const DEFAULT_LIMIT: u32 = 5;
const MAX_LIMIT: u32 = 50;
const MAX_SUGGESTIONS: u32 = 20;

/// What a search asks for.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    pub query: String,
    pub locale: String,
    pub tags: Vec<String>,
    pub product_area: String,
    pub limit: u32,
    /// Who searched, when the caller knows; empty: anonymous.
    pub customer_id: String,
}

impl Knowledge {
    /// The tenant's published articles for the query, best first (relevance in 0..1), and the
    /// query's id.
    pub async fn search(&self, tenant: &str, query: SearchQuery) -> Result<(Vec<SearchHit>, String), Error> {
        check_query("query", &query.query)?;
        check_locale(&query.locale)?;
        check_customer(&query.customer_id)?;
        let limit = limit_of(query.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
        let hits = self.find(tenant, &query, limit, Reading::LISTED).await?;
        let hits: Vec<SearchHit> = hits.into_iter().map(search_hit).collect();
        let scored: Vec<(&str, f32)> = hits.iter().map(|h| (h.article_id.as_str(), h.score)).collect();
        let asked = Asked::new(tenant, KnowledgeQueryKind::Search, &query.query, &query.locale)
            .by_customer(&query.customer_id);
        let query_id = self.record(&asked, &scored, !hits.is_empty()).await;
        Ok((hits, query_id))
    }

    /// Raw index hits among the tenant's articles for a checked query, each read as `reading`
    /// asks.
    pub(crate) async fn find(
        &self,
        tenant: &str,
        query: &SearchQuery,
        limit: u32,
        reading: Reading,
    ) -> Result<Vec<IndexHit>, Error> {
        let (tenant, query) = (tenant.to_owned(), query.clone());
        self.on_index(move |index| search(index, &tenant, &query, limit, reading)).await
    }

    /// As [`Self::find`] read for an answer, with the passage of the best hit when its confidence
    /// reaches `threshold` (the hit that answers): the search and the passage in one trip to the
    /// blocking pool.
    pub(crate) async fn find_answer(
        &self,
        tenant: &str,
        query: &SearchQuery,
        limit: u32,
        threshold: f32,
    ) -> Result<(Vec<IndexHit>, Option<String>), Error> {
        let (tenant, query) = (tenant.to_owned(), query.clone());
        self.on_index(move |index| {
            let hits = search(index, &tenant, &query, limit, Reading::ANSWER)?;
            let passage = match hits.first() {
                Some(best) if best.confidence >= threshold => {
                    Some(index.passage(&best.locale, &query.query, &best.body)?)
                }
                _ => None,
            };
            Ok::<_, IndexError>((hits, passage))
        })
        .await
    }

    /// Titles of the tenant's articles for what has been typed so far, best first, and the
    /// query's id.
    pub async fn suggest(
        &self,
        tenant: &str,
        typed: &str,
        locale: &str,
        limit: u32,
    ) -> Result<(Vec<Suggestion>, String), Error> {
        if typed.chars().count() > MAX_QUERY_CHARS {
            return Err(Error::InvalidArgument(format!(
                "prefix is longer than {MAX_QUERY_CHARS} characters"
            )));
        }
        check_locale(locale)?;
        let limit = limit_of(limit, DEFAULT_LIMIT, MAX_SUGGESTIONS)?;
        let suggestions = if typed.chars().any(char::is_alphanumeric) {
            let (tenant, typed, locale) = (tenant.to_owned(), typed.to_owned(), locale.to_owned());
            self.on_index(move |index| {
                let filters = Filters { tenant: &tenant, locale: &locale, ..Filters::default() };
                index.suggest(&typed, &filters, limit as usize)
            })
            .await?
        } else {
            Vec::new()
        };
        let suggestions: Vec<Suggestion> =
            suggestions.into_iter().map(|(article_id, title)| Suggestion { article_id, title }).collect();
        // Not recorded: a customer typing makes one call a keystroke, and a flood of them must
        // not become a flood of durable events. The question finally asked (search, deflect,
        // answer) is what analytics and content gaps read.
        Ok((suggestions, uuid::Uuid::now_v7().to_string()))
    }
}

pub(crate) fn search_hit(hit: IndexHit) -> SearchHit {
    SearchHit {
        score: hit.relevance,
        article_id: hit.article_id,
        title: hit.title,
        snippet: hit.snippet,
        locale: hit.locale,
    }
}

/// `requested`, or `default` for 0; more than `max` is refused.
pub(crate) fn limit_of(requested: u32, default: u32, max: u32) -> Result<u32, Error> {
    match requested {
        0 => Ok(default),
        limit if limit > max => Err(Error::InvalidArgument(format!("limit is at most {max}"))),
        limit => Ok(limit),
    }
}

/// Refuses texts that are too long or have no letters or digits to search for.
pub(crate) fn check_query(what: &str, query: &str) -> Result<(), Error> {
    if query.chars().count() > MAX_QUERY_CHARS {
        return Err(Error::InvalidArgument(format!("{what} is longer than {MAX_QUERY_CHARS} characters")));
    }
    if !query.chars().any(char::is_alphanumeric) {
        return Err(Error::InvalidArgument(format!("{what} has no words to search for")));
    }
    Ok(())
}

/// An empty locale asks every language; any other must be a known one.
pub(crate) fn check_locale(tag: &str) -> Result<(), Error> {
    if tag.is_empty() { Ok(()) } else { locale::check(tag).map_err(Error::InvalidArgument) }
}

/// Characters of a searching customer's id at most.
const MAX_CUSTOMER_CHARS: usize = 256;

pub(crate) fn check_customer(customer_id: &str) -> Result<(), Error> {
    if customer_id.chars().count() > MAX_CUSTOMER_CHARS || customer_id.contains(char::is_control) {
        return Err(Error::InvalidArgument(format!(
            "customer_id must be at most {MAX_CUSTOMER_CHARS} characters, without control characters"
        )));
    }
    Ok(())
}

/// The tenant's hits for a checked query, on a blocking thread.
fn search(
    index: &SharedIndex,
    tenant: &str,
    query: &SearchQuery,
    limit: u32,
    reading: Reading,
) -> Result<Vec<IndexHit>, IndexError> {
    let filters =
        Filters { tenant, locale: &query.locale, tags: &query.tags, product_area: &query.product_area };
    index.search_reading(&query.query, &filters, limit as usize, reading)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_empty_and_huge_queries_and_unknown_locales() {
        assert!(check_query("query", "  ?! ").is_err());
        assert!(check_query("query", &"x".repeat(100 * 1024)).is_err());
        assert!(check_query("query", "退貨").is_ok());
        assert!(check_customer("web:shop:visitor-1").is_ok() && check_customer("").is_ok());
        assert!(check_customer(&"x".repeat(300)).is_err() && check_customer("a\nb").is_err());
        assert!(check_locale("").is_ok());
        assert!(check_locale("tlh").is_err());
    }
}
