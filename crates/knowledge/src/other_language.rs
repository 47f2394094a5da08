//! Answers from another language: when nothing in the customer's language answers, the article
//! tagged `intent:<name>` with the classifier's intent answers from the first of the tenant's
//! other languages that has one. The classifier bridges the languages (it reads twenty); the
//! search cannot, its words and sentence encoder being one language's.

use switchboard_proto::knowledge::v1::AnswerResponse;

use crate::domain::{Error, Knowledge};
use crate::index::language_of;

/// Other languages an `Answer` may fall back to, at most.
pub const MAX_OTHER_LOCALES: usize = 5;

/// An article found by its intent tag.
#[derive(Debug, Clone, PartialEq)]
struct Tagged {
    article_id: String,
    title: String,
    body: String,
    locale: String,
    version: i32,
}

/// `Ok` for an intent as the classifier names them (letters, digits, `_`, `-`; at most 64).
pub(crate) fn check_intent(intent: &str) -> Result<(), Error> {
    let named =
        intent.len() <= 64 && intent.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if named {
        Ok(())
    } else {
        Err(Error::InvalidArgument("intent is at most 64 letters, digits, '_' or '-'".into()))
    }
}

/// The first of `wanted` (languages, in order) that `articles` (newest first) has, skipping the
/// customer's own language; the newest article of that language.
fn pick<'a>(articles: &'a [Tagged], wanted: &[String], own: &str) -> Option<&'a Tagged> {
    let own = language_of(own);
    wanted
        .iter()
        .map(|locale| language_of(locale))
        .filter(|language| *language != own)
        .find_map(|language| articles.iter().find(|article| language_of(&article.locale) == language))
}

impl Knowledge {
    /// Fills `response` from the article tagged with `intent` in the first of `other_locales`
    /// that has one; leaves it unanswered without one.
    pub(crate) async fn answer_in_other_language(
        &self,
        tenant: &str,
        (intent, own_locale, other_locales): (&str, &str, &[String]),
        response: &mut AnswerResponse,
    ) -> Result<(), Error> {
        let tag = format!("intent:{intent}");
        let articles: Vec<(String, String, String, String, i32)> = sqlx::query_as(
            "SELECT article_id, title, body, locale, version FROM knowledge.articles
             WHERE tenant = $1 AND status = 'published' AND $2 = ANY(tags) ORDER BY updated_at DESC",
        )
        .bind(tenant)
        .bind(&tag)
        .fetch_all(self.pool())
        .await?;
        let articles: Vec<Tagged> = articles
            .into_iter()
            .map(|(article_id, title, body, locale, version)| Tagged {
                article_id,
                title,
                body,
                locale,
                version,
            })
            .collect();
        let Some(found) = pick(&articles, other_locales, own_locale) else {
            return Ok(());
        };
        // The question is in another language: the article's lead answers it.
        let (locale, title, body) = (found.locale.clone(), found.title.clone(), found.body.clone());
        let passage = self.on_index(move |index| index.passage(&locale, &title, &body)).await?;
        response.answered = true;
        response.passage = passage;
        response.article_id.clone_from(&found.article_id);
        response.title.clone_from(&found.title);
        response.version = u32::try_from(found.version).unwrap_or_default();
        response.locale.clone_from(&found.locale);
        response.reason = format!("answered in {} by the article tagged {tag}", found.locale);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tagged(article_id: &str, locale: &str) -> Tagged {
        Tagged {
            article_id: article_id.into(),
            title: String::new(),
            body: String::new(),
            locale: locale.into(),
            version: 1,
        }
    }

    #[test]
    fn picks_the_first_wanted_language_that_has_the_article_never_the_customers_own() {
        let articles = [tagged("newest-de", "de"), tagged("en-us", "en-US"), tagged("older-de", "de-AT")];
        let wanted = |tags: &[&str]| tags.iter().map(|t| t.to_string()).collect::<Vec<_>>();
        let id = |found: Option<&Tagged>| found.map(|a| a.article_id.clone());
        assert_eq!(id(pick(&articles, &wanted(&["fr", "en", "de"]), "es")), Some("en-us".into()));
        assert_eq!(id(pick(&articles, &wanted(&["de", "en"]), "es")), Some("newest-de".into()));
        assert_eq!(id(pick(&articles, &wanted(&["de", "en"]), "de-CH")), Some("en-us".into()));
        assert_eq!(id(pick(&articles, &wanted(&["fr"]), "es")), None);
    }

    #[test]
    fn intents_are_named_as_the_classifier_names_them() {
        assert!(check_intent("return_refund").is_ok());
        assert!(check_intent("").is_ok());
        assert!(check_intent("a b").is_err());
        assert!(check_intent(&"x".repeat(65)).is_err());
    }
}
