//! The rule table: loaded from JSON, validated, evaluated in file order; the first match wins.
//! Within a rule every given condition must hold: an intent from `intents` (at or above
//! `min_confidence`) and a phrase from `keywords`. The last rule, and only it, has no conditions.

use serde::Deserialize;
use switchboard_proto::events::v1::{Priority as WirePriority, RouteAction};

/// What a rule does with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Wait in `queue` for a human.
    Queue,
    /// Hand off to a human in `queue` now.
    Escalate,
    /// Answer from the knowledge base; without a confident answer, `queue`.
    Answer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
    Urgent,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub name: String,
    #[serde(default)]
    pub intents: Vec<String>,
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub min_confidence: f32,
    pub action: Action,
    pub queue: String,
    #[serde(default)]
    pub priority: Priority,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    rules: Vec<Rule>,
}

/// The facts a rule looks at.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub text: &'a str,
    pub intent: &'a str,
    pub confidence: f32,
}

/// A validated rule table.
#[derive(Debug, Clone)]
pub struct Rules {
    rules: Vec<Rule>,
}

/// The rule bundled with the project.
pub const DEFAULT_RULES: &str = include_str!("../rules.json");

impl Rules {
    /// Parses and validates a JSON rule table; errors name the line or the rule.
    pub fn parse(json: &str) -> Result<Self, String> {
        let file: File = serde_json::from_str(json).map_err(|error| format!("rules: {error}"))?;
        validate(&file.rules)?;
        Ok(Self { rules: file.rules })
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The first rule that matches, and why.
    pub fn evaluate(&self, facts: &Facts<'_>) -> (&Rule, String) {
        let words = words(facts.text);
        for rule in &self.rules {
            if let Some(reason) = matches(rule, facts, &words) {
                return (rule, reason);
            }
        }
        unreachable_catch_all(&self.rules)
    }
}

fn unreachable_catch_all(rules: &[Rule]) -> (&Rule, String) {
    // Validation guarantees a last rule without conditions, which always matches.
    let last = &rules[rules.len() - 1];
    (last, "no earlier rule matched".into())
}

fn matches(rule: &Rule, facts: &Facts<'_>, words: &str) -> Option<String> {
    let mut reasons = Vec::new();
    if !rule.intents.is_empty() {
        if !rule.intents.iter().any(|intent| intent == facts.intent) || facts.confidence < rule.min_confidence
        {
            return None;
        }
        reasons.push(format!("intent {} at confidence {:.2}", facts.intent, facts.confidence));
    }
    if !rule.keywords.is_empty() {
        let keyword = rule.keywords.iter().find(|keyword| contains_phrase(words, keyword))?;
        reasons.push(format!("keyword {keyword:?}"));
    }
    if reasons.is_empty() {
        reasons.push("catch-all".into());
    }
    Some(format!("rule {} matched: {}", rule.name, reasons.join(", ")))
}

/// The text's words in lower case, each surrounded by spaces.
fn words(text: &str) -> String {
    let mut out = String::from(" ");
    for word in text.to_lowercase().split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        out.push_str(word);
        out.push(' ');
    }
    out
}

/// Whole-word match for alphabetic scripts; substring match for ideographs (no spaces).
fn contains_phrase(words: &str, phrase: &str) -> bool {
    let phrase = phrase.to_lowercase();
    if phrase.chars().any(|c| c as u32 >= 0x3000) {
        return words.contains(phrase.as_str());
    }
    words.contains(&format!(" {} ", phrase.split_whitespace().collect::<Vec<_>>().join(" ")))
}

fn validate(rules: &[Rule]) -> Result<(), String> {
    let Some((last, earlier)) = rules.split_last() else {
        return Err("rules: the table is empty; end it with a catch-all rule".into());
    };
    for (index, rule) in rules.iter().enumerate() {
        validate_rule(index, rule)?;
        if rules[..index].iter().any(|other| other.name == rule.name) {
            return Err(format!("rules[{index}] ({}): the name is used twice", rule.name));
        }
    }
    if let Some((index, rule)) = earlier.iter().enumerate().find(|(_, rule)| is_catch_all(rule)) {
        return Err(format!(
            "rules[{index}] ({}): a rule without conditions must be last; the rules after it could never match",
            rule.name
        ));
    }
    if !is_catch_all(last) {
        return Err(format!(
            "rules: the last rule ({}) must have no conditions, so every message is routed",
            last.name
        ));
    }
    Ok(())
}

fn validate_rule(index: usize, rule: &Rule) -> Result<(), String> {
    let fail = |message: &str| Err(format!("rules[{index}] ({}): {message}", rule.name));
    if rule.name.trim().is_empty() {
        return fail("name is empty");
    }
    if !(0.0..=1.0).contains(&rule.min_confidence) {
        return fail("min_confidence must be between 0 and 1");
    }
    if rule.queue.is_empty() || !rule.queue.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return fail("queue must be letters, digits, '-' or '_'");
    }
    if rule.keywords.iter().chain(&rule.intents).any(|entry| entry.trim().is_empty()) {
        return fail("intents and keywords may not be empty strings");
    }
    Ok(())
}

fn is_catch_all(rule: &Rule) -> bool {
    rule.intents.is_empty() && rule.keywords.is_empty()
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Self::Queue => "queue",
            Self::Escalate => "escalate",
            Self::Answer => "answer",
        }
    }

    /// The wire action when the rule is followed as written (an answer is an automated reply).
    pub fn wire(self) -> RouteAction {
        match self {
            Self::Queue => RouteAction::Queue,
            Self::Escalate => RouteAction::Escalate,
            Self::Answer => RouteAction::AutoReply,
        }
    }
}

impl Priority {
    pub fn wire(self) -> WirePriority {
        match self {
            Self::Low => WirePriority::Low,
            Self::Normal => WirePriority::Normal,
            Self::High => WirePriority::High,
            Self::Urgent => WirePriority::Urgent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Rules {
        Rules::parse(DEFAULT_RULES).expect("bundled rules are valid")
    }

    fn facts<'a>(text: &'a str, intent: &'a str) -> Facts<'a> {
        Facts { text, intent, confidence: 0.9 }
    }

    #[test]
    fn given_a_request_for_a_human_when_evaluated_then_it_escalates() {
        let rules = rules();
        let (rule, reason) = rules.evaluate(&facts("Can I talk to an agent please?", "order_status"));
        assert_eq!(rule.action, Action::Escalate);
        assert!(reason.contains("keyword \"agent\""), "{reason}");
    }

    #[test]
    fn given_an_order_question_when_evaluated_then_it_is_answered() {
        let rules = rules();
        let (rule, reason) = rules.evaluate(&facts("Where is my order 12345?", "order_status"));
        assert_eq!((rule.action, rule.queue.as_str()), (Action::Answer, "orders"));
        assert!(reason.contains("intent order_status"), "{reason}");
    }

    #[test]
    fn given_low_confidence_when_evaluated_then_the_answer_rule_is_skipped() {
        let rules = rules();
        let facts = Facts { text: "order?", intent: "order_status", confidence: 0.1 };
        assert_eq!(rules.evaluate(&facts).0.name, "everything-else");
    }

    #[test]
    fn keywords_match_whole_words_and_chinese_anywhere() {
        assert!(contains_phrase(&words("I want a REAL person!"), "real person"));
        assert!(!contains_phrase(&words("the agenda"), "agent"));
        assert!(contains_phrase(&words("我要人工服务"), "人工"));
    }

    #[test]
    fn refuses_bad_tables_with_a_pointed_reason() {
        let cases = [
            (r#"{"rules": []}"#, "empty"),
            (
                r#"{"rules": [{"name": "a", "action": "queue", "queue": "q", "intents": ["x"]}]}"#,
                "must have no conditions",
            ),
            (
                r#"{"rules": [{"name": "a", "action": "queue", "queue": "q"}, {"name": "b", "action": "queue", "queue": "q"}]}"#,
                "must be last",
            ),
            (r#"{"rules": [{"name": "a", "action": "fly", "queue": "q"}]}"#, "unknown variant"),
            (
                "{\"rules\": [\n{\"name\": \"a\",\n\"action\": \"queue\", \"queue\": \"q\", \"colour\": 1}]}",
                "line 3",
            ),
            (
                r#"{"rules": [{"name": "a", "action": "queue", "queue": "q", "min_confidence": 2}]}"#,
                "min_confidence",
            ),
        ];
        for (json, expected) in cases {
            let error = Rules::parse(json).expect_err(expected);
            assert!(error.contains(expected), "{expected}: {error}");
        }
    }
}
