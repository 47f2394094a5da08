//! What the knowledge base serves beyond search: deflection on the contact form, answers for
//! the bot, articles for agents; and the `KnowledgeQueried` event each one leaves for analytics,
//! an aggregate (`knowledge-query`) of the asking tenant.

use std::collections::HashMap;

use switchboard_bus::Expected;
use switchboard_proto::{
    events::v1::{DeflectionRecorded, DeflectionResult, KnowledgeQueried, KnowledgeQueryKind, event::Body},
    knowledge::v1::{Alternative, AnswerResponse, DeflectedArticle, SearchHit},
};
use uuid::Uuid;

use crate::clarify::{HYBRID_FLOOR, LEXICAL_FLOOR, MAX_ALTERNATIVES, alternatives};
use crate::domain::{Error, Knowledge};
use crate::index::{IndexHit, Reading};
use crate::search::{
    MAX_QUERY_CHARS, SearchQuery, check_customer, check_locale, check_query, limit_of, search_hit,
};

/// An `Answer` request's question and how it is to be answered.
#[derive(Debug, Clone, Copy, Default)]
pub struct AnswerAsked<'a> {
    pub question: &'a str,
    pub locale: &'a str,
    pub conversation_id: &'a str,
    /// Lowest confidence to answer at, 0..1; 0: the service's threshold.
    pub min_confidence: f32,
    /// Without an answer, offer at most this many articles (0: none).
    pub max_alternatives: u32,
    /// The classifier's intent, when sure: with `other_locales`, the article tagged with it
    /// answers from another language when nothing in `locale` answers or fits.
    pub intent: &'a str,
    /// Languages answers may come from besides `locale`, in order.
    pub other_locales: &'a [String],
    /// Names the asking: asked again under the same key, the query is recorded once.
    pub request_key: &'a str,
}

/// Characters of a request key at most.
const MAX_REQUEST_KEY: usize = 200;

/// A query as recorded.
pub(crate) struct Asked<'a> {
    tenant: &'a str,
    kind: KnowledgeQueryKind,
    query: &'a str,
    locale: &'a str,
    conversation_id: &'a str,
    customer_id: &'a str,
    /// Names the asking; empty: a query of its own.
    key: &'a str,
}

impl<'a> Asked<'a> {
    pub(crate) fn new(tenant: &'a str, kind: KnowledgeQueryKind, query: &'a str, locale: &'a str) -> Self {
        Self { tenant, kind, query, locale, conversation_id: "", customer_id: "", key: "" }
    }

    fn keyed(mut self, key: &'a str) -> Self {
        self.key = key;
        self
    }

    fn in_conversation(mut self, conversation_id: &'a str) -> Self {
        self.conversation_id = conversation_id;
        self
    }

    pub(crate) fn by_customer(mut self, customer_id: &'a str) -> Self {
        self.customer_id = customer_id;
        self
    }
}

/// Messages of a conversation `Assist` reads at most, latest first.
const ASSIST_MESSAGES: usize = 10;

impl Knowledge {
    /// Records a query and what it found; returns its id, derived from the asking's key when
    /// it has one (recorded again, the same event: JetStream keeps one, analytics count one). A
    /// bus failure is logged, not returned: the asker still gets the results.
    pub(crate) async fn record(&self, asked: &Asked<'_>, found: &[(&str, f32)], answered: bool) -> String {
        let key = (!asked.key.is_empty())
            .then(|| format!("{}/knowledge-query/{}/{}", asked.tenant, asked.kind.as_str_name(), asked.key));
        let query_id = key.as_deref().map_or_else(Uuid::now_v7, switchboard_bus::key_id).to_string();
        let body = Body::KnowledgeQueried(KnowledgeQueried {
            query_id: query_id.clone(),
            kind: asked.kind.into(),
            query: asked.query.to_string(),
            locale: asked.locale.to_string(),
            result_count: u32::try_from(found.len()).unwrap_or(u32::MAX),
            top_score: found.first().map_or(0.0, |(_, score)| *score),
            article_ids: found.iter().map(|(id, _)| (*id).to_string()).collect(),
            answered,
            conversation_id: asked.conversation_id.to_string(),
            customer_id: asked.customer_id.to_string(),
        });
        let mut draft = switchboard_bus::Draft::new(asked.tenant, &query_id, body);
        if let Some(key) = key {
            draft = draft.keyed(key);
        }
        let published = match draft.build() {
            Ok(event) => self.deps.bus.publish(&event).await.map(|_| ()),
            Err(error) => Err(error),
        };
        if let Err(error) = published {
            tracing::warn!(query_id, %error, kind = asked.kind.as_str_name(), "knowledge query not recorded");
        }
        query_id
    }

    /// The tenant's articles most likely to solve what a customer typed into the contact form.
    pub async fn deflect(
        &self,
        tenant: &str,
        text: &str,
        locale: &str,
        limit: u32,
        customer_id: &str,
    ) -> Result<(Vec<DeflectedArticle>, bool, String), Error> {
        check_query("text", text)?;
        check_customer(customer_id)?;
        check_locale(locale)?;
        let limit = limit_of(limit, 3, 10)?;
        let query =
            SearchQuery { query: text.to_string(), locale: locale.to_string(), ..SearchQuery::default() };
        let hits = self.find(tenant, &query, limit, Reading::SCORED).await?;
        let confidences: Vec<f32> = hits.iter().map(|hit| hit.confidence).collect();
        let articles: Vec<DeflectedArticle> = hits
            .into_iter()
            .zip(&confidences)
            .map(|(hit, confidence)| DeflectedArticle {
                article_id: hit.article_id,
                title: hit.title,
                snippet: hit.snippet,
                confidence: *confidence,
            })
            .collect();
        let confident = confidences.first().is_some_and(|top| *top >= self.threshold_for(locale));
        let scored: Vec<(&str, f32)> =
            articles.iter().map(|a| (a.article_id.as_str(), a.confidence)).collect();
        let asked = Asked::new(tenant, KnowledgeQueryKind::Deflect, text, locale).by_customer(customer_id);
        let deflection_id = self.record(&asked, &scored, confident).await;
        Ok((articles, confident, deflection_id))
    }

    /// How one of the tenant's deflections ended (another tenant's is not found); recording the
    /// same outcome twice changes nothing.
    pub async fn record_deflection(
        &self,
        tenant: &str,
        deflection_id: &str,
        result: DeflectionResult,
        article_id: &str,
        ticket_id: &str,
    ) -> Result<(), Error> {
        if result == DeflectionResult::Unspecified {
            return Err(Error::InvalidArgument("outcome is required: helped or ticket opened".into()));
        }
        let history = match self.deps.bus.events_of("knowledge-query", tenant, deflection_id).await {
            Err(switchboard_bus::Error::InvalidAggregateId(_)) => Vec::new(),
            other => other?,
        };
        let shown = match history.first().and_then(|(event, _)| event.body.as_ref()) {
            Some(Body::KnowledgeQueried(q)) if q.kind() == KnowledgeQueryKind::Deflect => &q.article_ids,
            _ => return Err(Error::NotFound(format!("deflection {deflection_id}"))),
        };
        if let Some(Body::DeflectionRecorded(earlier)) =
            history.last().and_then(|(event, _)| event.body.as_ref())
        {
            return if earlier.result() == result {
                Ok(())
            } else {
                Err(Error::NotAllowed(format!("deflection {deflection_id} already has an outcome")))
            };
        }
        if !article_id.is_empty() && !shown.iter().any(|id| id == article_id) {
            return Err(Error::InvalidArgument(format!(
                "article {article_id} was not offered by this deflection"
            )));
        }
        let body = Body::DeflectionRecorded(DeflectionRecorded {
            query_id: deflection_id.to_string(),
            result: result.into(),
            article_id: article_id.to_string(),
            ticket_id: ticket_id.to_string(),
        });
        let event = switchboard_bus::Draft::new(tenant, deflection_id, body).build()?;
        let last = history.last().map_or(Expected::Empty, |(_, sequence)| Expected::Sequence(*sequence));
        self.deps.bus.append(&event, last, None).await?;
        Ok(())
    }

    /// The passage of the tenant's articles that answers `question`, cited, when its confidence
    /// reaches `asked.min_confidence` (0: the service's threshold); else, when asked for, the
    /// relevant articles the customer may choose between.
    pub async fn answer(&self, tenant: &str, asked: &AnswerAsked<'_>) -> Result<AnswerResponse, Error> {
        let AnswerAsked { question, locale, conversation_id, min_confidence, max_alternatives, .. } = *asked;
        check_query("question", question)?;
        check_locale(locale)?;
        check_other_languages(asked)?;
        if asked.request_key.chars().count() > MAX_REQUEST_KEY {
            return Err(Error::InvalidArgument(format!(
                "request_key is at most {MAX_REQUEST_KEY} characters"
            )));
        }
        if !(0.0..=1.0).contains(&min_confidence) {
            return Err(Error::InvalidArgument("min_confidence is between 0 and 1".into()));
        }
        if max_alternatives > MAX_ALTERNATIVES {
            return Err(Error::InvalidArgument(format!("max_alternatives is at most {MAX_ALTERNATIVES}")));
        }
        let threshold = if min_confidence > 0.0 { min_confidence } else { self.threshold_for(locale) };
        let query =
            SearchQuery { query: question.to_string(), locale: locale.to_string(), ..SearchQuery::default() };
        let (hits, passage) = self.find_answer(tenant, &query, max_alternatives.max(2), threshold).await?;
        let confidence = hits.first().map_or(0.0, |hit| hit.confidence);
        let mut response = AnswerResponse { confidence, ..AnswerResponse::default() };
        // The passage is there exactly when the best hit is sure enough to answer.
        match (hits.first(), passage) {
            (None, _) => response.reason = "no article matches the question".into(),
            (Some(_), None) => {
                response.reason =
                    format!("the best article's confidence {confidence:.2} is below {threshold:.2}");
                let floor = if self.index().hybrid_for(locale) { HYBRID_FLOOR } else { LEXICAL_FLOOR };
                let offered = alternatives(&hits, floor, max_alternatives as usize);
                response.alternatives = self.offer(tenant, question, offered).await?;
            }
            (Some(best), Some(passage)) => {
                response.passage = passage;
                response.answered = true;
                response.version = self.live_version(tenant, &best.article_id).await?;
                response.article_id.clone_from(&best.article_id);
                response.title.clone_from(&best.title);
                response.locale.clone_from(&best.locale);
            }
        }
        let nothing_fits = !response.answered && response.alternatives.is_empty();
        if nothing_fits && !asked.intent.is_empty() && !asked.other_locales.is_empty() {
            let wanted = (asked.intent, locale, asked.other_locales);
            self.answer_in_other_language(tenant, wanted, &mut response).await?;
        }
        let found: Vec<(&str, f32)> = if response.article_id.is_empty() {
            Vec::new()
        } else {
            vec![(response.article_id.as_str(), confidence)]
        };
        let asked = Asked::new(tenant, KnowledgeQueryKind::Answer, question, locale)
            .in_conversation(conversation_id)
            .keyed(asked.request_key);
        response.query_id = self.record(&asked, &found, response.answered).await;
        Ok(response)
    }

    /// The passage of `hit`'s article that best answers `question`.
    async fn passage(&self, question: &str, hit: &IndexHit) -> Result<String, Error> {
        let (question, locale, body) = (question.to_string(), hit.locale.clone(), hit.body.clone());
        self.on_index(move |index| index.passage(&locale, &question, &body)).await
    }

    /// The articles of `hits` to offer, each with its passage, live version and tags.
    async fn offer(
        &self,
        tenant: &str,
        question: &str,
        hits: &[IndexHit],
    ) -> Result<Vec<Alternative>, Error> {
        let mut offered = Vec::with_capacity(hits.len());
        for hit in hits {
            let live: Option<(i32, Vec<String>)> = sqlx::query_as(
                "SELECT version, tags FROM knowledge.articles WHERE tenant = $1 AND article_id = $2",
            )
            .bind(tenant)
            .bind(&hit.article_id)
            .fetch_optional(self.pool())
            .await?;
            // Archived since it was indexed: not worth offering.
            let Some((version, tags)) = live else { continue };
            offered.push(Alternative {
                article_id: hit.article_id.clone(),
                title: hit.title.clone(),
                passage: self.passage(question, hit).await?,
                version: u32::try_from(version).unwrap_or(0),
                relevance: hit.relevance,
                tags,
            });
        }
        // Fewer than two left is no choice.
        if offered.len() < 2 {
            offered.clear();
        }
        Ok(offered)
    }

    /// The version of an article the read model shows (0 if it has not caught up yet).
    async fn live_version(&self, tenant: &str, article_id: &str) -> Result<u32, Error> {
        let version: Option<i32> = sqlx::query_scalar(
            "SELECT version FROM knowledge.articles WHERE tenant = $1 AND article_id = $2",
        )
        .bind(tenant)
        .bind(article_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(version.and_then(|v| u32::try_from(v).ok()).unwrap_or(0))
    }

    /// The tenant's articles that fit a conversation: its latest message counts fully, the
    /// earlier ones (up to ten) half.
    pub async fn assist(
        &self,
        tenant: &str,
        messages: &[String],
        locale: &str,
        limit: u32,
        conversation_id: &str,
    ) -> Result<(Vec<SearchHit>, String), Error> {
        check_locale(locale)?;
        let limit = limit_of(limit, 5, 20)?;
        for message in messages {
            if message.chars().count() > MAX_QUERY_CHARS {
                return Err(Error::InvalidArgument(format!(
                    "a message is longer than {MAX_QUERY_CHARS} characters"
                )));
            }
        }
        let recent: Vec<&String> = messages
            .iter()
            .rev()
            .filter(|m| m.chars().any(char::is_alphanumeric))
            .take(ASSIST_MESSAGES)
            .collect();
        let Some(latest) = recent.first() else {
            return Err(Error::InvalidArgument("messages has no words to search for".into()));
        };
        let query =
            |text: String| SearchQuery { query: text, locale: locale.to_string(), ..SearchQuery::default() };
        let whole: String = recent.iter().rev().map(|m| m.as_str()).collect::<Vec<_>>().join("\n");
        let latest_hits = self.find(tenant, &query((*latest).clone()), limit * 2, Reading::LISTED).await?;
        let context_hits = self.find(tenant, &query(whole.clone()), limit * 2, Reading::LISTED).await?;
        let hits = merge(latest_hits, context_hits, limit as usize);
        let scored: Vec<(&str, f32)> = hits.iter().map(|h| (h.article_id.as_str(), h.score)).collect();
        let asked =
            Asked::new(tenant, KnowledgeQueryKind::Assist, &whole, locale).in_conversation(conversation_id);
        let query_id = self.record(&asked, &scored, !hits.is_empty()).await;
        Ok((hits, query_id))
    }
}

/// Hits of the latest message at full weight plus the whole conversation's at half, best first.
fn merge(latest: Vec<IndexHit>, context: Vec<IndexHit>, limit: usize) -> Vec<SearchHit> {
    let mut merged: HashMap<String, (f32, IndexHit)> = HashMap::new();
    for (weight, hits) in [(1.0, latest), (0.5, context)] {
        for hit in hits {
            let score = weight * hit.relevance;
            merged
                .entry(hit.article_id.clone())
                .and_modify(|(total, _)| *total += score)
                .or_insert((score, hit));
        }
    }
    let mut ranked: Vec<(f32, IndexHit)> = merged.into_values().collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.article_id.cmp(&b.1.article_id)));
    ranked.into_iter().take(limit).map(|(relevance, hit)| search_hit(IndexHit { relevance, ..hit })).collect()
}

/// The intent and the other languages of an `Answer`, checked.
fn check_other_languages(asked: &AnswerAsked<'_>) -> Result<(), Error> {
    crate::other_language::check_intent(asked.intent)?;
    if asked.other_locales.len() > crate::other_language::MAX_OTHER_LOCALES {
        return Err(Error::InvalidArgument(format!(
            "other_locales has at most {} languages",
            crate::other_language::MAX_OTHER_LOCALES
        )));
    }
    asked.other_locales.iter().try_for_each(|tag| check_locale(tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(id: &str, relevance: f32) -> IndexHit {
        IndexHit { article_id: id.into(), relevance, coverage: 1.0, ..IndexHit::default() }
    }

    #[test]
    fn assist_weighs_the_latest_message_over_the_conversation() {
        let merged = merge(vec![hit("latest", 4.0)], vec![hit("earlier", 6.0), hit("latest", 1.0)], 5);
        let ids: Vec<&str> = merged.iter().map(|h| h.article_id.as_str()).collect();
        assert_eq!(ids, ["latest", "earlier"]);
    }
}
