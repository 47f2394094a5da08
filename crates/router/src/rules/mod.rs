//! The rule set: YAML or JSON (JSON is read as YAML), validated with errors that name the line.
//!
//! Evaluation order: rules are evaluated top to bottom. Within a rule every condition given in
//! `when` must hold. A matching rule with `continue: true` adds its tags, notifications,
//! webhooks and priority (as a floor) and evaluation goes on; the first matching rule without it
//! decides action, queue, priority and assignment, and evaluation stops. The last rule has no
//! conditions and does not continue, so every message is decided.

mod evaluate;
mod sla;

use std::collections::BTreeMap;

use serde::Deserialize;
use switchboard_calendar as calendar;
use switchboard_proto::events::v1::{
    PendingPolicy, Priority as WirePriority, RouteAction, SlaPolicy as WireSlaPolicy,
};

pub use calendar::Calendar;

use crate::playbooks::{Playbook, Settings};
pub use evaluate::{Customer, Decision, Facts};
pub use sla::{SlaPolicy, SlaWhen, parse_duration};

/// What a deciding rule does with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Wait in `queue` for a human.
    Queue,
    /// Hand off to a human in `queue` now.
    Escalate,
    /// Resolve automatically from the knowledge base; without a confident answer, `queue`.
    #[serde(alias = "resolve")]
    Answer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
    Urgent,
}

/// How a human is chosen for a queued conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Assignment {
    RoundRobin,
    LeastLoaded,
}

/// Why a human takes a conversation over, as the hand-off packet says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandoffReason {
    CustomerAsked,
    NegativeSentiment,
    MissingKnowledge,
    LowConfidence,
    Policy,
}

impl HandoffReason {
    pub fn name(self) -> &'static str {
        match self {
            Self::CustomerAsked => "customer_asked",
            Self::NegativeSentiment => "negative_sentiment",
            Self::MissingKnowledge => "missing_knowledge",
            Self::LowConfidence => "low_confidence",
            Self::Policy => "policy",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Hours {
    Open,
    Closed,
}

/// Conditions; every one given must hold.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct When {
    #[serde(default)]
    pub intents: Vec<String>,
    /// With `intents`: the classifier's confidence at least this.
    #[serde(default)]
    pub min_confidence: f32,
    /// A phrase from the list (whole words; anywhere in Chinese and Japanese).
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Primary language subtags, e.g. `en`, `zh`.
    #[serde(default)]
    pub languages: Vec<String>,
    /// `web`, `email`, `voice`, `social`, `api`, `sms`.
    #[serde(default)]
    pub channels: Vec<String>,
    /// `negative`, `neutral`, `positive`.
    #[serde(default)]
    pub sentiment: Vec<String>,
    /// Sentiment score (-1..1) at most this.
    pub max_sentiment: Option<f32>,
    /// `low`, `normal`, `high`, `critical`.
    #[serde(default)]
    pub urgency: Vec<String>,
    #[serde(default)]
    pub customer: CustomerWhen,
    /// Whether the message arrives within the calendar's business hours.
    pub business_hours: Option<Hours>,
    /// The calendar `business_hours` reads; `default` when unset.
    pub calendar: Option<String>,
    pub previous_contacts: Option<PreviousContacts>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerWhen {
    #[serde(default)]
    pub tier: Vec<String>,
    #[serde(default)]
    pub plan: Vec<String>,
    #[serde(default)]
    pub country: Vec<String>,
}

/// At least `min` earlier conversations of the customer in the last `within_days` days.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviousContacts {
    pub min: u32,
    #[serde(default = "thirty")]
    pub within_days: u32,
}

fn thirty() -> u32 {
    30
}

/// Actions.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Then {
    pub action: Option<Action>,
    /// The queue (team) that takes it.
    pub queue: Option<String>,
    pub priority: Option<Priority>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub notify: Vec<String>,
    pub webhook: Option<String>,
    pub assign: Option<Assignment>,
    /// With `assign`: skills the agent needs besides the queue and the conversation's language.
    #[serde(default)]
    pub skills: Vec<String>,
    /// Reply at once that the team is closed and when it answers (the rule's calendar).
    #[serde(default)]
    pub after_hours_reply: bool,
    /// With `action: answer`: how the bot answers (`faq` when unset).
    pub playbook: Option<Playbook>,
    /// The reason a hand-off packet gives when this rule sends the conversation to a human;
    /// derived from the facts when unset.
    pub handoff: Option<HandoffReason>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub name: String,
    #[serde(default)]
    pub when: When,
    pub then: Then,
    #[serde(default, rename = "continue")]
    pub continues: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    calendars: BTreeMap<String, calendar::Spec>,
    #[serde(default)]
    playbooks: Settings,
    #[serde(default)]
    slas: Vec<sla::Spec>,
    pending: Option<PendingSpec>,
    rules: Vec<Rule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PendingSpec {
    close_after: String,
    #[serde(default = "one_day")]
    last_notice_before: String,
}

fn one_day() -> String {
    "1d".into()
}

/// Conversations waiting on the customer close after `close_after`, with a last notice
/// `last_notice_before` that.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pending {
    pub close_after: chrono::Duration,
    pub last_notice_before: chrono::Duration,
}

/// A validated rule set.
#[derive(Debug, Clone)]
pub struct Rules {
    rules: Vec<Rule>,
    calendars: BTreeMap<String, Calendar>,
    playbooks: Settings,
    slas: Vec<SlaPolicy>,
    pending: Option<Pending>,
}

/// The rule set bundled with the project.
pub const DEFAULT_RULES: &str = include_str!("../../rules.yaml");

impl Rules {
    /// Parses and validates a rule set; errors name the line (and the rule) at fault.
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: File = serde_norway::from_str(text).map_err(|error| format!("rules: {error}"))?;
        let mut calendars = BTreeMap::new();
        for (name, spec) in &file.calendars {
            let calendar = Calendar::new(spec)
                .map_err(|error| format!("{}calendar {name}: {error}", at_line(text, name)))?;
            calendars.insert(name.clone(), calendar);
        }
        validate(&file.rules, &calendars, &file.playbooks).map_err(|(rule, message)| match rule {
            Some(name) => format!("{}rule {name}: {message}", at_line(text, &name)),
            None => format!("rules: {message}"),
        })?;
        if let Some(booking) = &file.playbooks.booking {
            booking
                .validate(|name| calendars.contains_key(name))
                .map_err(|error| format!("{}{error}", at_line(text, "booking")))?;
        }
        if let Some(returns) = &file.playbooks.returns {
            returns.validate().map_err(|error| format!("{}{error}", at_line(text, "returns")))?;
        }
        if let Some(leads) = &file.playbooks.lead_qualification {
            leads.validate().map_err(|error| format!("{}{error}", at_line(text, "lead_qualification")))?;
        }
        let mut slas = Vec::with_capacity(file.slas.len());
        for spec in &file.slas {
            let policy = SlaPolicy::new(spec, |name| calendars.contains_key(name))
                .map_err(|error| format!("{}sla {}: {error}", at_line(text, &spec.name), spec.name))?;
            slas.push(policy);
        }
        let pending = file
            .pending
            .as_ref()
            .map(|spec| {
                let close_after = parse_duration(&spec.close_after)?;
                let last_notice_before = parse_duration(&spec.last_notice_before)?;
                if last_notice_before >= close_after {
                    return Err("last_notice_before must be shorter than close_after".to_string());
                }
                Ok(Pending { close_after, last_notice_before })
            })
            .transpose()
            .map_err(|error| format!("{}pending: {error}", at_line(text, "pending")))?;
        Ok(Self { rules: file.rules, calendars, playbooks: file.playbooks, slas, pending })
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn calendar(&self, name: &str) -> Option<&Calendar> {
        self.calendars.get(name)
    }

    pub fn playbooks(&self) -> &Settings {
        &self.playbooks
    }

    /// Whether any rule counts the customer's previous contacts.
    pub fn reads_previous_contacts(&self) -> bool {
        self.rules.iter().any(|rule| rule.when.previous_contacts.is_some())
    }

    /// The first SLA policy covering a decision of `priority` for a customer of `tier`.
    pub fn sla_for(&self, priority: Priority, tier: &str) -> Option<&SlaPolicy> {
        self.slas.iter().find(|policy| policy.covers(priority, tier))
    }

    /// [`Self::sla_for`] as it travels on the decision, its calendar written out.
    pub fn sla_on_the_wire(&self, priority: Priority, tier: &str) -> Option<WireSlaPolicy> {
        let policy = self.sla_for(priority, tier)?;
        Some(policy.wire(policy.calendar.as_deref().and_then(|name| self.calendar(name))))
    }

    /// [`Self::pending`] as it travels on a decision.
    pub fn pending_on_the_wire(&self) -> Option<PendingPolicy> {
        self.pending.map(|pending| PendingPolicy {
            close_after_seconds: pending.close_after.num_seconds(),
            last_notice_before_seconds: pending.last_notice_before.num_seconds(),
        })
    }
}

/// `line N: ` for the first line naming `name` as a value or key, or nothing.
fn at_line(text: &str, name: &str) -> String {
    let quoted = format!("\"{name}\"");
    text.lines()
        .position(|line| {
            let line = line.trim_start().trim_start_matches("- ");
            line.contains(&quoted)
                || line
                    .strip_prefix("name:")
                    .is_some_and(|rest| rest.trim().trim_matches(['"', '\'']) == name)
                || line.strip_prefix(name).is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
        .map(|index| format!("line {}: ", index + 1))
        .unwrap_or_default()
}

type Invalid = (Option<String>, String);

fn validate(
    rules: &[Rule],
    calendars: &BTreeMap<String, Calendar>,
    playbooks: &Settings,
) -> Result<(), Invalid> {
    let Some((last, earlier)) = rules.split_last() else {
        return Err((None, "the rule list is empty; end it with a rule without conditions".into()));
    };
    playbooks.other_languages.check().map_err(|message| (None, message))?;
    for (index, rule) in rules.iter().enumerate() {
        validate_rule(rule, calendars, playbooks).map_err(|message| (Some(rule.name.clone()), message))?;
        if rules[..index].iter().any(|other| other.name == rule.name) {
            return Err((Some(rule.name.clone()), "the name is used twice".into()));
        }
    }
    if let Some(rule) = earlier.iter().find(|rule| is_catch_all(rule)) {
        return Err((
            Some(rule.name.clone()),
            "a deciding rule without conditions must be last; the rules after it could never decide".into(),
        ));
    }
    if !is_catch_all(last) {
        return Err((
            Some(last.name.clone()),
            "the last rule must have no conditions and not continue, so every message is decided".into(),
        ));
    }
    Ok(())
}

fn validate_rule(
    rule: &Rule,
    calendars: &BTreeMap<String, Calendar>,
    playbooks: &Settings,
) -> Result<(), String> {
    if rule.name.trim().is_empty() {
        return Err("name is empty".into());
    }
    validate_when(&rule.when, calendars)?;
    let then = &rule.then;
    if rule.continues {
        if then.action.is_some() || then.queue.is_some() || then.assign.is_some() {
            return Err("a continuing rule only adds tags, notifications, webhooks and a priority floor; \
                        action, queue and assign belong to deciding rules"
                .into());
        }
    } else {
        if then.action.is_none() {
            return Err("then.action is required: queue, escalate or answer".into());
        }
        let queue = then.queue.as_deref().unwrap_or_default();
        if !is_queue_name(queue) {
            return Err("then.queue is required: letters, digits, '-' or '_'".into());
        }
    }
    if then.after_hours_reply {
        let name = rule.when.calendar.as_deref().unwrap_or("default");
        if !calendars.contains_key(name) {
            return Err(format!("after_hours_reply: calendar {name:?} is not defined under calendars"));
        }
    }
    match then.playbook {
        Some(_) if then.action != Some(Action::Answer) => {
            return Err("then.playbook needs action: answer".into());
        }
        Some(Playbook::SimActivation) if playbooks.sim_activation.is_none() => {
            return Err("the sim_activation playbook needs playbooks.sim_activation.queue".into());
        }
        Some(Playbook::PasswordReset) if playbooks.password_reset.is_none() => {
            return Err("the password_reset playbook needs playbooks.password_reset.url".into());
        }
        Some(Playbook::LeadQualification) if playbooks.lead_qualification.is_none() => {
            return Err("the lead_qualification playbook needs playbooks.lead_qualification".into());
        }
        Some(Playbook::Returns) if playbooks.returns.is_none() => {
            return Err("the returns playbook needs playbooks.returns".into());
        }
        Some(Playbook::Booking) if playbooks.booking.is_none() => {
            return Err("the booking playbook needs playbooks.booking".into());
        }
        _ => {}
    }
    if let Some(url) = &then.webhook
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        // The URL is not echoed: it may carry a credential.
        return Err("then.webhook is not an http(s) URL".into());
    }
    if then.tags.iter().chain(&then.notify).any(|entry| entry.trim().is_empty()) {
        return Err("tags and notify may not hold empty entries".into());
    }
    Ok(())
}

fn validate_when(when: &When, calendars: &BTreeMap<String, Calendar>) -> Result<(), String> {
    if !(0.0..=1.0).contains(&when.min_confidence) {
        return Err("when.min_confidence must be between 0 and 1".into());
    }
    if when.max_sentiment.is_some_and(|score| !(-1.0..=1.0).contains(&score)) {
        return Err("when.max_sentiment must be between -1 and 1".into());
    }
    let lists =
        [&when.intents, &when.keywords, &when.languages, &when.channels, &when.sentiment, &when.urgency];
    if lists.iter().any(|list| list.iter().any(|entry| entry.trim().is_empty())) {
        return Err("condition lists may not hold empty entries".into());
    }
    check_values("channels", &when.channels, &["web", "email", "voice", "social", "api", "sms"])?;
    check_values("sentiment", &when.sentiment, &["negative", "neutral", "positive"])?;
    check_values("urgency", &when.urgency, &["low", "normal", "high", "critical"])?;
    if when.business_hours.is_some() || when.calendar.is_some() {
        let name = when.calendar.as_deref().unwrap_or("default");
        if !calendars.contains_key(name) {
            return Err(format!("calendar {name:?} is not defined under calendars"));
        }
    }
    Ok(())
}

/// A queue (team) name: letters, digits, '-' and '_', not empty.
pub fn is_queue_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn check_values(what: &str, given: &[String], known: &[&str]) -> Result<(), String> {
    match given.iter().find(|value| !known.contains(&value.as_str())) {
        Some(value) => Err(format!("when.{what}: {value:?} is not one of {}", known.join(", "))),
        None => Ok(()),
    }
}

/// A rule with no conditions that decides.
fn is_catch_all(rule: &Rule) -> bool {
    rule.when == When::default() && !rule.continues
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

impl Assignment {
    pub fn name(self) -> &'static str {
        match self {
            Self::RoundRobin => "round_robin",
            Self::LeastLoaded => "least_loaded",
        }
    }
}

#[cfg(test)]
mod tests;
