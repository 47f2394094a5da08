//! What-if: one tenant's past classified messages from the event stream through a candidate rule
//! set, without side effects, compared with the decisions the router made. Customer profiles and
//! contacts are read from the tenant's read model as they are now.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use switchboard_bus::{Bus, is_tenant};
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

/// Simulates `candidate` (YAML or JSON) over `tenant`'s messages classified since `since`.
pub async fn simulate_for(
    bus: &Bus,
    directory: &Directory,
    tenant: &str,
    candidate: &str,
    since: Option<DateTime<Utc>>,
) -> Result<Report, Error> {
    let (classifications, decisions) = subjects_of(tenant)?;
    let rules = Rules::parse(candidate).map_err(Error::Rules)?;
    let classified = bus.read_events(&classifications, since).await?;
    let decided: BTreeMap<String, MessageRouted> = bus
        .read_events(&decisions, since)
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
        let context = Context::read(directory, tenant, &rules, message, at).await?;
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

/// The subjects of `tenant`'s classified messages and of its decisions (a tenant that is not a
/// plain subject token, such as `*`, is refused rather than read as a wildcard).
fn subjects_of(tenant: &str) -> Result<(String, String), Error> {
    if !is_tenant(tenant) {
        return Err(Error::Invalid(format!("tenant {tenant:?}: use up to 64 letters, digits, '-' and '_'")));
    }
    Ok((
        format!("switchboard.events.classification.{tenant}.>"),
        format!("switchboard.events.routing.{tenant}.>"),
    ))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_simulation_reads_only_its_tenants_subjects() {
        let (classified, decided) = subjects_of("acme").expect("a tenant");
        assert_eq!(classified, "switchboard.events.classification.acme.>");
        assert_eq!(decided, "switchboard.events.routing.acme.>");
        for not_a_tenant in ["*", ">", "acme.globex", ""] {
            assert!(subjects_of(not_a_tenant).is_err(), "{not_a_tenant:?}");
        }
    }
}
