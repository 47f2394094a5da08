//! Evaluating the rule set against the facts of a message.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::{Assignment, Hours, Priority, Rule, Rules, When};

/// What the company's systems know about a customer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Customer {
    pub tier: String,
    pub plan: String,
    pub country: String,
    pub attributes: BTreeMap<String, String>,
}

/// The facts rules look at.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub text: &'a str,
    pub intent: &'a str,
    pub confidence: f32,
    /// BCP 47; `und` or empty when unknown.
    pub language: &'a str,
    /// Channel slug, e.g. `web`.
    pub channel: &'a str,
    pub sentiment: &'a str,
    pub sentiment_score: f32,
    pub urgency: &'a str,
    pub customer: Option<&'a Customer>,
    /// When the customer's earlier conversations started.
    pub previous_contacts: &'a [DateTime<Utc>],
    pub at: DateTime<Utc>,
}

/// The outcome: the deciding rule, everything the fired rules add, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision<'a> {
    pub rule: &'a Rule,
    pub reason: String,
    /// Rules that fired, in order; the deciding one last.
    pub fired: Vec<String>,
    pub priority: Priority,
    pub tags: Vec<String>,
    pub notify: Vec<String>,
    pub webhooks: Vec<String>,
    pub assignment: Option<Assignment>,
    /// The calendar of a fired rule asking for an after-hours reply.
    pub after_hours: Option<String>,
    /// The facts the fired rules' conditions looked at.
    pub inputs: BTreeMap<String, String>,
}

type Inputs = Vec<(String, String)>;

impl Rules {
    /// Evaluates every rule in order until one decides (see the module's documentation).
    pub fn evaluate(&self, facts: &Facts<'_>) -> Decision<'_> {
        let words = words(facts.text);
        let mut decision = Decision {
            rule: self.last(),
            reason: String::new(),
            fired: Vec::new(),
            priority: Priority::Low,
            tags: Vec::new(),
            notify: Vec::new(),
            webhooks: Vec::new(),
            assignment: None,
            after_hours: None,
            inputs: BTreeMap::new(),
        };
        let mut reasons = Vec::new();
        for rule in &self.rules {
            let Some(inputs) = self.matches(&rule.when, facts, &words) else { continue };
            let described: Vec<String> = inputs.iter().map(|(key, value)| format!("{key} {value}")).collect();
            reasons.push(if described.is_empty() {
                format!("rule {} matched: catch-all", rule.name)
            } else {
                format!("rule {} matched: {}", rule.name, described.join(", "))
            });
            decision.inputs.extend(inputs);
            decision.fired.push(rule.name.clone());
            decision.tags.extend(
                rule.then.tags.iter().filter(|t| !decision.tags.contains(t)).cloned().collect::<Vec<_>>(),
            );
            decision.notify.extend(rule.then.notify.iter().cloned());
            decision.webhooks.extend(rule.then.webhook.iter().cloned());
            if rule.then.after_hours_reply && decision.after_hours.is_none() {
                decision.after_hours = Some(rule.when.calendar.clone().unwrap_or_else(|| "default".into()));
            }
            decision.priority = decision.priority.max(rule.then.priority.unwrap_or(Priority::Low));
            if !rule.continues {
                decision.rule = rule;
                decision.assignment = rule.then.assign;
                if rule.then.priority.is_none() {
                    decision.priority = decision.priority.max(Priority::Normal);
                }
                break;
            }
        }
        decision.reason = reasons.join("; ");
        decision
    }

    fn last(&self) -> &Rule {
        // Validation guarantees at least one rule.
        &self.rules[self.rules.len() - 1]
    }

    /// The inputs that made every condition hold, or `None` when one does not.
    fn matches(&self, when: &When, facts: &Facts<'_>, words: &str) -> Option<Inputs> {
        let mut inputs: Inputs = Vec::new();
        let mut note = |key: &str, value: String| inputs.push((key.to_string(), value));
        if !when.intents.is_empty() {
            if !when.intents.iter().any(|i| i == facts.intent) || facts.confidence < when.min_confidence {
                return None;
            }
            note("intent", format!("{} at confidence {:.2}", facts.intent, facts.confidence));
        }
        if !when.keywords.is_empty() {
            let keyword = when.keywords.iter().find(|keyword| contains_phrase(words, keyword))?;
            note("keyword", format!("{keyword:?}"));
        }
        if !when.languages.is_empty() {
            let language = facts.language.split('-').next().unwrap_or_default().to_ascii_lowercase();
            when.languages.iter().find(|l| l.eq_ignore_ascii_case(&language))?;
            note("language", language);
        }
        one_of(&when.channels, facts.channel, "channel", &mut note)?;
        one_of(&when.sentiment, facts.sentiment, "sentiment", &mut note)?;
        if let Some(most) = when.max_sentiment {
            if facts.sentiment_score > most {
                return None;
            }
            note("sentiment_score", format!("{:.2}", facts.sentiment_score));
        }
        one_of(&when.urgency, facts.urgency, "urgency", &mut note)?;
        let customer = facts.customer.cloned().unwrap_or_default();
        one_of(&when.customer.tier, &customer.tier, "customer.tier", &mut note)?;
        one_of(&when.customer.plan, &customer.plan, "customer.plan", &mut note)?;
        one_of(&when.customer.country, &customer.country, "customer.country", &mut note)?;
        if let Some(hours) = when.business_hours {
            let name = when.calendar.as_deref().unwrap_or("default");
            let open = self.calendar(name).is_some_and(|calendar| calendar.is_open(facts.at));
            if open != (hours == Hours::Open) {
                return None;
            }
            note("business_hours", format!("{} ({name})", if open { "open" } else { "closed" }));
        }
        if let Some(wanted) = when.previous_contacts {
            let since = facts.at - Duration::days(i64::from(wanted.within_days));
            let count = facts.previous_contacts.iter().filter(|at| **at >= since && **at < facts.at).count();
            if count < wanted.min as usize {
                return None;
            }
            note("previous_contacts", format!("{count} in {} days", wanted.within_days));
        }
        Some(inputs)
    }
}

/// With a list given, the fact must be one of it (case-insensitive).
fn one_of(list: &[String], fact: &str, key: &str, note: &mut impl FnMut(&str, String)) -> Option<()> {
    if list.is_empty() {
        return Some(());
    }
    list.iter().find(|value| value.eq_ignore_ascii_case(fact))?;
    note(key, fact.to_string());
    Some(())
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
pub(crate) fn contains_phrase(words: &str, phrase: &str) -> bool {
    let phrase = phrase.to_lowercase();
    if phrase.chars().any(|c| c as u32 >= 0x3000) {
        return words.contains(phrase.as_str());
    }
    words.contains(&format!(" {} ", phrase.split_whitespace().collect::<Vec<_>>().join(" ")))
}

#[cfg(test)]
pub(crate) fn test_words(text: &str) -> String {
    words(text)
}
