//! Playbooks: what the bot does for a rule whose action is `answer`. `faq` answers from the
//! knowledge base; `order_status` tells where the customer's order is from the shop's order
//! events (and falls back to the knowledge base without one); `password_reset` sends the reset
//! path without ever handling a password; `account_balance`, `data_usage` and `sim_activation`
//! serve telecom customers from their account (see [`account`]).

pub mod account;
pub mod booking;
pub mod clarify;
pub mod identity;
pub mod leads;
pub mod orders;
pub mod returns;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use switchboard_calendar::Calendar;
use switchboard_phrases::say;
use switchboard_proto::events::v1::PlaybookProgressed;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Playbook {
    #[default]
    Faq,
    OrderStatus,
    PasswordReset,
    /// Multi-turn: asks the configured questions, then routes the lead with the answers.
    LeadQualification,
    /// Checks the return policy, opens the return, holds the refund for approval.
    Returns,
    /// Multi-turn: offers free slots from a calendar and confirms the one chosen.
    Booking,
    /// The account's balance and due date.
    AccountBalance,
    /// Data used this period, and what is left.
    DataUsage,
    /// Multi-turn: confirms the SIM's last four digits, then activates it.
    SimActivation,
}

impl Playbook {
    pub fn name(self) -> &'static str {
        match self {
            Self::Faq => "faq",
            Self::OrderStatus => "order_status",
            Self::PasswordReset => "password_reset",
            Self::LeadQualification => leads::NAME,
            Self::Returns => "returns",
            Self::Booking => booking::NAME,
            Self::AccountBalance => "account_balance",
            Self::DataUsage => "data_usage",
            Self::SimActivation => account::SIM_ACTIVATION,
        }
    }
}

/// What the bot does with a message in a multi-turn playbook.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Reply (a question, or the question again with a hint) and wait.
    Ask { reply: String, state: PlaybookProgressed },
    /// Finished: thank the customer; `handover` names the queue and tag when a human takes what
    /// was collected (a qualified lead), `None` when nobody needs to (a booking).
    Done { reply: String, state: PlaybookProgressed, handover: Option<(String, String)> },
    /// The answers do not fit: a human in `queue` takes over.
    HandOff { state: PlaybookProgressed, queue: String },
}

/// Playbook settings in the rule set (`playbooks:`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub password_reset: Option<PasswordReset>,
    #[serde(default)]
    pub lead_qualification: Option<leads::Settings>,
    #[serde(default)]
    pub returns: Option<returns::Settings>,
    #[serde(default)]
    pub booking: Option<booking::Settings>,
    #[serde(default)]
    pub sim_activation: Option<account::SimSettings>,
    /// Asking which article the customer means when no answer is confident (on by default).
    #[serde(default)]
    pub clarify: clarify::Settings,
    /// Answering from another language's article when none in the customer's fits (off).
    #[serde(default)]
    pub other_languages: OtherLanguages,
}

/// `playbooks: other_languages:`. When nothing in the customer's language answers or fits, the
/// article tagged `intent:<name>` with the classifier's (sure) intent answers from the first of
/// `from` that has one, after a sentence in the customer's language saying so; off, a person
/// takes the question as before.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtherLanguages {
    #[serde(default)]
    pub answer: bool,
    /// Languages to answer from, in order (BCP 47; English by default).
    #[serde(default = "english")]
    pub from: Vec<String>,
}

fn english() -> Vec<String> {
    vec!["en".into()]
}

impl Default for OtherLanguages {
    fn default() -> Self {
        Self { answer: false, from: english() }
    }
}

impl OtherLanguages {
    /// The languages an answer may come from besides the customer's: none when off.
    pub fn allowed(&self) -> &[String] {
        if self.answer { &self.from } else { &[] }
    }

    pub(crate) fn check(&self) -> Result<(), String> {
        let tag = |t: &String| {
            (1..=35).contains(&t.len())
                && t.split('-').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()))
        };
        if self.answer && self.from.is_empty() {
            return Err("playbooks.other_languages.from names no language to answer from".into());
        }
        if self.from.len() > 5 || !self.from.iter().all(tag) {
            return Err("playbooks.other_languages.from is up to 5 language tags such as en or pt-BR".into());
        }
        Ok(())
    }
}

/// The answer from another language's article: a sentence in the customer's language saying
/// which language it is in, then the cited answer.
pub fn in_other_language(answer: &str, article_locale: &str, language: &str) -> String {
    let name = switchboard_phrases::endonym(article_locale);
    let notice = say(language, "knowledge.other_language", &[("language", name)]);
    format!("{notice}\n\n{answer}")
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordReset {
    /// Where customers reset their password themselves.
    pub url: String,
}

/// The after-hours reply in the conversation's language: closed now, and when an agent answers
/// (`opens`, a local time).
pub fn after_hours(opens: Option<&str>, language: &str) -> String {
    match opens {
        Some(opens) => say(language, "after_hours.opens", &[("opens", opens)]),
        None => say(language, "after_hours.later", &[]),
    }
}

/// `at` in the calendar's local time, as the language writes it.
pub fn local_time(calendar: &Calendar, at: DateTime<Utc>, language: &str) -> String {
    switchboard_phrases::when(language, &calendar.local_time(at))
}

/// The password-reset reply: the self-service path, and the promise never to ask for it.
pub fn password_reset(settings: &PasswordReset, language: &str) -> String {
    say(language, "password_reset", &[("url", &settings.url)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_follow_the_conversation_language() {
        let reset = PasswordReset { url: "https://shop.example/reset".into() };
        let text = password_reset(&reset, "en");
        assert!(text.contains("https://shop.example/reset") && text.contains("never ask"), "{text}");
        let text = password_reset(&reset, "zh-TW");
        assert!(text.contains("https://shop.example/reset") && text.contains("密碼"), "{text}");
        assert!(after_hours(Some("Monday"), "de").contains("Monday"));
        assert_ne!(after_hours(None, "de"), after_hours(None, "en"));
    }

    #[test]
    fn answers_from_another_language_only_when_allowed_and_say_so() {
        let off = OtherLanguages::default();
        assert!(off.allowed().is_empty() && off.check().is_ok());
        let on = OtherLanguages { answer: true, from: vec!["en".into(), "pt-BR".into()] };
        assert_eq!(on.allowed(), ["en", "pt-BR"]);
        assert!(OtherLanguages { answer: true, from: Vec::new() }.check().is_err());
        assert!(OtherLanguages { answer: true, from: vec!["en us".into()] }.check().is_err());
        let text = in_other_language("Answer.\n\n(Returns)", "en-GB", "de");
        assert!(
            text.starts_with(&say("de", "knowledge.other_language", &[("language", "English")])),
            "{text}"
        );
        assert!(text.ends_with("(Returns)"), "{text}");
    }
}
