//! When the knowledge base has no confident answer but a few relevant articles, the bot asks
//! which one the customer means instead of handing off: the titles, numbered, and "none of
//! these". The next message picks one (its number, its title, or "none"); anything else is a new
//! question. The state is a `PlaybookProgressed` of the conversation, so the question survives a
//! restart and a replay.

use std::collections::HashMap;

use serde::Deserialize;
use switchboard_phrases::{languages, say};
use switchboard_proto::events::v1::PlaybookProgressed;

pub const NAME: &str = "clarify";

/// Most articles offered (the customer reads them all, then "none of these").
pub const MAX_OPTIONS: u32 = 3;

/// Tag prefix naming the intent an article answers: choosing it teaches the classifier.
pub const INTENT_TAG: &str = "intent:";

/// `playbooks: clarify:` in the rule set.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Ask the customer to choose between relevant articles instead of handing off (default).
    #[serde(default = "yes")]
    pub ask: bool,
}

fn yes() -> bool {
    true
}

impl Default for Settings {
    fn default() -> Self {
        Self { ask: true }
    }
}

/// An article offered.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Offered {
    pub article_id: String,
    pub title: String,
    pub passage: String,
    pub version: u32,
    /// From an `intent:` tag; empty without one.
    pub intent: String,
}

/// The customer's message the question is about.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Question {
    pub message_id: String,
    pub text: String,
    /// What the classifier said.
    pub intent: String,
    /// Where a person takes it when none fits.
    pub queue: String,
    pub language: String,
}

/// What the customer's answer picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// The offered article at this index (0-based).
    Article(usize),
    NoneOfThese,
    /// Not an answer to the question: a new message.
    Other,
}

/// The state that asks `question` with `offered`.
pub fn start(conversation_id: &str, question: &Question, offered: &[Offered]) -> PlaybookProgressed {
    let mut collected: HashMap<String, String> = HashMap::from([
        ("question".into(), question.text.clone()),
        ("message_id".into(), question.message_id.clone()),
        ("intent".into(), question.intent.clone()),
        ("queue".into(), question.queue.clone()),
        ("language".into(), question.language.clone()),
    ]);
    for (n, option) in offered.iter().enumerate() {
        let key = |field: &str| format!("option.{}.{field}", n + 1);
        collected.insert(key("article"), option.article_id.clone());
        collected.insert(key("title"), option.title.clone());
        collected.insert(key("passage"), option.passage.clone());
        collected.insert(key("version"), option.version.to_string());
        collected.insert(key("intent"), option.intent.clone());
    }
    PlaybookProgressed {
        conversation_id: conversation_id.into(),
        playbook: NAME.into(),
        asking: "choice".into(),
        collected,
        misses: 0,
        done: false,
    }
}

/// The question a state asks.
pub fn question(state: &PlaybookProgressed) -> Question {
    let field = |name: &str| state.collected.get(name).cloned().unwrap_or_default();
    Question {
        message_id: field("message_id"),
        text: field("question"),
        intent: field("intent"),
        queue: field("queue"),
        language: field("language"),
    }
}

/// The articles a state offers, in order.
pub fn offered(state: &PlaybookProgressed) -> Vec<Offered> {
    (1..=MAX_OPTIONS as usize)
        .map_while(|n| {
            let field = |name: &str| state.collected.get(&format!("option.{n}.{name}")).cloned();
            Some(Offered {
                article_id: field("article")?,
                title: field("title").unwrap_or_default(),
                passage: field("passage").unwrap_or_default(),
                version: field("version").and_then(|v| v.parse().ok()).unwrap_or(0),
                intent: field("intent").unwrap_or_default(),
            })
        })
        .collect()
}

/// What the decision shows of the question (no passages).
pub fn shown(state: &PlaybookProgressed) -> HashMap<String, String> {
    state
        .collected
        .iter()
        .filter(|(key, _)| !key.ends_with(".passage"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The intent an article's tags name, if any.
pub fn intent_of(tags: &[String]) -> String {
    tags.iter().find_map(|tag| tag.strip_prefix(INTENT_TAG)).map(str::trim).unwrap_or_default().to_string()
}

/// The question in `language`: the text (titles numbered, then "none of these") and the quick
/// replies (the titles, then "none of these").
pub fn prompt(language: &str, titles: &[&str]) -> (String, Vec<String>) {
    let mut options: Vec<String> = titles.iter().map(|title| (*title).to_string()).collect();
    options.push(say(language, "clarify.none", &[]));
    let mut text = say(language, "clarify.question", &[]);
    for (n, option) in options.iter().enumerate() {
        text.push_str(&format!("\n{}. {option}", n + 1));
    }
    (text, options)
}

/// The reply that answers with the chosen article.
pub fn answer(chosen: &Offered) -> String {
    format!("{}\n\n({})", chosen.passage.trim(), chosen.title)
}

/// What `text` picks among `titles` (numbered from 1, then "none of these").
pub fn choice(text: &str, titles: &[&str]) -> Choice {
    let said = normalized(text);
    let said = said.trim_start_matches('#').trim_end_matches(['.', ')', '!', '?', '。', '！', '？']).trim();
    if let Some(number) = number_of(said) {
        return match number {
            0 => Choice::NoneOfThese,
            n if n <= titles.len() => Choice::Article(n - 1),
            n if n == titles.len() + 1 => Choice::NoneOfThese,
            _ => Choice::Other,
        };
    }
    // A quick reply, or the title typed: the title, with or without its number.
    let without_number =
        said.trim_start_matches(|c: char| c.is_ascii_digit()).trim_start_matches(['.', ')']).trim();
    if let Some(at) = titles.iter().position(|title| normalized(title) == without_number) {
        return Choice::Article(at);
    }
    let none =
        languages().into_iter().any(|tag| normalized(&say(tag, "clarify.none", &[])) == without_number)
            || NONE_WORDS.contains(&without_number);
    if none { Choice::NoneOfThese } else { Choice::Other }
}

/// Lowercased, trimmed, full-width digits as ASCII, inner spaces collapsed.
fn normalized(text: &str) -> String {
    let mapped: String = text
        .chars()
        .map(|c| match c {
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
            other => other,
        })
        .collect();
    mapped.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// A bare number, as the whole answer.
fn number_of(said: &str) -> Option<usize> {
    (!said.is_empty() && said.len() <= 2 && said.chars().all(|c| c.is_ascii_digit()))
        .then(|| said.parse().ok())
        .flatten()
}

/// Other ways to say none fits.
const NONE_WORDS: &[&str] =
    &["none", "neither", "no", "nope", "nothing", "not these", "都不是", "都不对", "都不對"];

#[cfg(test)]
mod tests {
    use super::*;

    const TITLES: [&str; 3] = ["Recover your password", "Change your password", "Close your account"];

    #[test]
    fn a_number_a_title_or_none_is_a_choice() {
        assert_eq!(choice("2", &TITLES), Choice::Article(1));
        assert_eq!(choice(" #1. ", &TITLES), Choice::Article(0));
        assert_eq!(choice("３", &TITLES), Choice::Article(2));
        assert_eq!(choice("change your PASSWORD", &TITLES), Choice::Article(1));
        assert_eq!(choice("1. Recover your password", &TITLES), Choice::Article(0));
        assert_eq!(choice("4", &TITLES), Choice::NoneOfThese);
        assert_eq!(choice("0", &TITLES), Choice::NoneOfThese);
        assert_eq!(choice("None of these", &TITLES), Choice::NoneOfThese);
        assert_eq!(choice("以上都不是", &TITLES), Choice::NoneOfThese);
        assert_eq!(choice("Keines davon", &TITLES), Choice::NoneOfThese);
    }

    #[test]
    fn anything_else_is_a_new_message() {
        assert_eq!(choice("5", &TITLES), Choice::Other);
        assert_eq!(choice("I want to talk about my invoice", &TITLES), Choice::Other);
        assert_eq!(choice("", &TITLES), Choice::Other);
        assert_eq!(choice("2024", &TITLES), Choice::Other);
    }

    #[test]
    fn the_question_lists_the_titles_then_none_in_the_customers_language() {
        let (text, options) = prompt("de-AT", &TITLES[..2]);
        assert_eq!(options, ["Recover your password", "Change your password", "Keines davon"]);
        assert!(text.starts_with("Ich bin nicht sicher"), "{text}");
        assert!(
            text.ends_with("\n1. Recover your password\n2. Change your password\n3. Keines davon"),
            "{text}"
        );
        assert!(prompt("zh-TW", &TITLES).0.starts_with("我不太確定"));
        assert!(prompt("zh", &TITLES).0.starts_with("我不太确定"));
        assert!(prompt("", &TITLES).0.starts_with("I am not sure"));
    }

    #[test]
    fn the_state_keeps_the_question_and_the_offered_articles() {
        let question = Question {
            message_id: "m-1".into(),
            text: "I cannot get in".into(),
            intent: "login_problem".into(),
            queue: "general".into(),
            language: "en".into(),
        };
        let offered = vec![
            Offered {
                article_id: "a".into(),
                title: "A".into(),
                passage: "pa".into(),
                version: 2,
                intent: "x".into(),
            },
            Offered {
                article_id: "b".into(),
                title: "B".into(),
                passage: "pb".into(),
                version: 1,
                intent: String::new(),
            },
        ];
        let state = start("c-1", &question, &offered);
        assert_eq!(super::question(&state), question);
        assert_eq!(super::offered(&state), offered);
        assert!(shown(&state).keys().all(|key| !key.ends_with(".passage")));
        assert_eq!(intent_of(&["orders".into(), "intent:track_order".into()]), "track_order");
        assert_eq!(intent_of(&["orders".into()]), "");
    }

    #[test]
    fn none_of_these_is_understood_in_every_language() {
        for tag in languages() {
            let (_, options) = prompt(tag, &TITLES);
            assert_eq!(choice(&options[3], &TITLES), Choice::NoneOfThese, "{tag}");
        }
    }
}
