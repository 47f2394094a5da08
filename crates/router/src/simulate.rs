//! What-if: past classified messages from the event stream through a candidate rule set, without
//! side effects, compared with the decisions the router made. Customer profiles and contacts are
//! read from the router's read model as they are now.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use switchboard_bus::Bus;
use switchboard_proto::{
    events::v1::{MessageRouted, event::Body},
    time::to_datetime,
};

use crate::{
    Error,
    customers::Directory,
    facts::{Context, facts_of, routed_for},
    rules::Rules,
};

/// Examples kept of the changed decisions.
const EXAMPLES: usize = 10;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Classified messages in the window.
    pub messages: usize,
    /// Of those, the ones with a recorded decision to compare with.
    pub compared: usize,
    /// Decisions whose action, queue or priority would change.
    pub changed: usize,
    /// `from -> to` (each `action/queue/priority`) and how often.
    pub changes: BTreeMap<String, usize>,
    /// Per queue: decisions there now, and with the candidate rules.
    pub queues: BTreeMap<String, QueueCount>,
    pub examples: Vec<Example>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct QueueCount {
    pub now: usize,
    pub candidate: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Example {
    pub message_id: String,
    /// The message, cut to 100 characters.
    pub text: String,
    pub from: String,
    pub to: String,
    pub from_rule: String,
    pub to_rule: String,
}

/// Simulates `candidate` (YAML or JSON) over the messages classified since `since`.
pub async fn simulate(
    bus: &Bus,
    directory: &Directory,
    candidate: &str,
    since: Option<DateTime<Utc>>,
) -> Result<Report, Error> {
    let rules = Rules::parse(candidate).map_err(Error::Rules)?;
    let classified = bus.read_events("switchboard.events.classification.>", since).await?;
    let decided: BTreeMap<String, MessageRouted> = bus
        .read_events("switchboard.events.routing.>", since)
        .await?
        .into_iter()
        .filter_map(|(event, _)| match event.body {
            Some(Body::MessageRouted(routed)) => Some((routed.message_id.clone(), routed)),
            _ => None,
        })
        .collect();
    let mut report = Report {
        messages: 0,
        compared: 0,
        changed: 0,
        changes: BTreeMap::new(),
        queues: BTreeMap::new(),
        examples: Vec::new(),
    };
    for (event, _) in classified {
        let Some(Body::MessageClassified(message)) = &event.body else { continue };
        report.messages += 1;
        let Some(actual) = decided.get(&message.message_id) else { continue };
        report.compared += 1;
        let at = to_datetime(event.occurred_at.as_ref());
        let context = Context::read(directory, &rules, message, at).await?;
        let decision = rules.evaluate(&facts_of(message, &context, at));
        let candidate = routed_for(message, &decision, 0);
        report.queues.entry(actual.queue.clone()).or_default().now += 1;
        report.queues.entry(candidate.queue.clone()).or_default().candidate += 1;
        let (from, to) = (outcome(actual), outcome(&candidate));
        if from != to {
            report.changed += 1;
            *report.changes.entry(format!("{from} -> {to}")).or_default() += 1;
            if report.examples.len() < EXAMPLES {
                report.examples.push(Example {
                    message_id: message.message_id.clone(),
                    text: message.text.chars().take(100).collect(),
                    from,
                    to,
                    from_rule: actual.rule.clone(),
                    to_rule: candidate.rule.clone(),
                });
            }
        }
    }
    Ok(report)
}

/// `action/queue/priority` as the rule decided it (an answer that fell back counts as answer).
fn outcome(routed: &MessageRouted) -> String {
    let action = if routed.rule_action.is_empty() {
        match routed.action() {
            switchboard_proto::events::v1::RouteAction::Escalate => "escalate",
            switchboard_proto::events::v1::RouteAction::AutoReply => "answer",
            _ => "queue",
        }
        .to_string()
    } else {
        routed.rule_action.clone()
    };
    let priority = routed.priority().as_str_name().trim_start_matches("PRIORITY_").to_lowercase();
    format!("{action}/{}/{priority}", routed.queue)
}
