//! The SLA clocks as a pure fold of the `sla` and `routing` events, per tenant's conversation,
//! and what is due from them: [`Clocks::apply`] folds one event; [`plan`] says which events
//! should follow from a conversation's state (a target to start when a person takes it, paused
//! targets to resume and the closing clock to stop when the customer wrote). Each planned event
//! has an id derived from what caused it, so every replica plans and publishes the same one, and
//! once it is folded back its cause no longer plans anything. Because the plan reads state, not
//! single events, a restart (or a new release reading an old stream) plans only what is really
//! missing.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use switchboard_proto::{
    events::v1::{
        ConversationClosed, Event, MessageRouted, PausedTarget, PendingPolicy, RouteAction, SlaMet,
        SlaPolicy, SlaResumed, SlaStarted, event::Body,
    },
    time::{to_datetime, to_timestamp},
};

use serde::{Deserialize, Serialize};

use super::policy::Policy;
use crate::{
    snapshot,
    tenancy::{Scoped, scoped, tenant_of},
};

/// The clock that closes a conversation waiting on the customer: not a target anyone works to.
pub const PENDING_CLOSE: &str = "pending_close";
/// Metrics that start once per conversation.
const ONCE: [&str; 2] = ["first_response", "resolution"];
pub const NEXT_RESPONSE: &str = "next_response";

/// A target not met, missed or paused yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Running {
    pub policy: String,
    #[serde(with = "snapshot::time")]
    pub due: DateTime<Utc>,
    #[serde(with = "snapshot::time")]
    pub warn: DateTime<Utc>,
    pub warned: bool,
    /// Stream sequence of its start.
    pub since: u64,
}

/// The last customer message routing decided on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Wrote {
    /// The decision's event id (planned ids derive from it).
    decision: String,
    sequence: u64,
    #[serde(with = "snapshot::time")]
    at: DateTime<Utc>,
    /// A person takes it (queue or escalate).
    human: bool,
}

/// The conversation waits on the customer: its targets paused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Paused {
    /// The pause's event id and stream sequence, and when it happened.
    id: String,
    sequence: u64,
    #[serde(with = "snapshot::time")]
    at: DateTime<Utc>,
    #[serde(with = "snapshot::proto_vec")]
    targets: Vec<PausedTarget>,
}

/// Paused targets starting again with the time they had left.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Resuming {
    #[serde(with = "snapshot::proto_vec")]
    targets: Vec<PausedTarget>,
    #[serde(with = "snapshot::time")]
    from: DateTime<Utc>,
    decision: String,
}

/// One conversation's clocks, from its first event that concerned them until it closes (a
/// conversation reopened later starts its clocks anew).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Clocks {
    /// Stream sequence of the event these clocks began with: the ids of what they plan derive
    /// from it, so that a later life of the conversation plans new events, not ones JetStream
    /// has seen.
    pub born: u64,
    pub running: BTreeMap<String, Running>,
    /// Metrics ever started.
    started: BTreeSet<String>,
    /// Next-response targets started (their ids count them).
    next_responses: u32,
    /// Sequence of the last next-response start.
    next_started_at: u64,
    /// Sequence of an agent's first answer (next-response targets apply to messages after it).
    answered_at: Option<u64>,
    paused: Option<Paused>,
    /// Sequence of the last `SlaResumed` (a pause after it is another pause).
    resumed_at: u64,
    /// Sequence of the last start of the closing clock.
    closing_started_at: u64,
    resuming: Option<Resuming>,
    /// The SLA policy and the pending policy of the last decisions that named them.
    #[serde(with = "snapshot::proto_option")]
    pub policy: Option<SlaPolicy>,
    #[serde(with = "snapshot::proto_option")]
    pub pending: Option<PendingPolicy>,
    wrote: Option<Wrote>,
}

impl Clocks {
    /// Folds one event at stream `sequence`; `false` when it says nothing to the clocks.
    pub fn apply(&mut self, event: &Event, sequence: u64) -> bool {
        match &event.body {
            Some(Body::MessageRouted(routed)) => self.routed(event, routed, sequence),
            Some(Body::SlaStarted(started)) => self.started(started, sequence),
            Some(Body::SlaWarning(w)) => {
                if let Some(target) = self.running.get_mut(&w.metric) {
                    target.warned = true;
                }
            }
            Some(Body::SlaBreached(b)) => {
                self.running.remove(&b.metric);
            }
            Some(Body::SlaMet(met)) => {
                self.running.remove(&met.metric);
                if met.metric == "first_response" || met.metric == NEXT_RESPONSE {
                    self.answered_at = self.answered_at.or(Some(sequence));
                }
            }
            Some(Body::SlaPaused(paused)) => {
                self.running.retain(|metric, _| metric == PENDING_CLOSE);
                let (id, at) = (event.id.clone(), to_datetime(event.occurred_at.as_ref()));
                self.paused = Some(Paused { id, sequence, at, targets: paused.targets.clone() });
            }
            Some(Body::SlaResumed(_)) => {
                self.resumed_at = sequence;
                if let (Some(paused), Some(wrote)) = (self.paused.take(), &self.wrote) {
                    // From when the customer wrote after the pause, else from when a person
                    // took it off waiting.
                    let from = if wrote.sequence > paused.sequence {
                        wrote.at
                    } else {
                        to_datetime(event.occurred_at.as_ref())
                    };
                    let targets = paused.targets;
                    self.resuming = Some(Resuming { targets, from, decision: wrote.decision.clone() });
                }
            }
            _ => return false,
        }
        true
    }

    fn routed(&mut self, event: &Event, routed: &MessageRouted, sequence: u64) {
        if routed.sla.is_some() {
            self.policy.clone_from(&routed.sla);
        }
        if routed.pending.is_some() {
            self.pending = routed.pending;
        }
        let human = matches!(routed.action(), RouteAction::Queue | RouteAction::Escalate);
        let at = to_datetime(event.occurred_at.as_ref());
        self.wrote = Some(Wrote { decision: event.id.clone(), sequence, at, human });
    }

    fn started(&mut self, started: &SlaStarted, sequence: u64) {
        if started.metric == PENDING_CLOSE {
            self.closing_started_at = sequence;
        }
        if started.metric == NEXT_RESPONSE && !self.running.contains_key(NEXT_RESPONSE) {
            self.next_responses += 1;
            self.next_started_at = sequence;
        }
        self.started.insert(started.metric.clone());
        if let Some(resuming) = &mut self.resuming {
            resuming.targets.retain(|target| target.metric != started.metric);
            if resuming.targets.is_empty() {
                self.resuming = None;
            }
        }
        let target = Running {
            policy: started.policy.clone(),
            due: to_datetime(started.due_at.as_ref()),
            warn: to_datetime(started.warn_at.as_ref()),
            warned: false,
            since: sequence,
        };
        self.running.entry(started.metric.clone()).or_insert(target);
    }

    /// Holds nothing that folding on from a fresh start would not give back: a conversation only
    /// the bot has answered, whose pending policy is its tenant's latest (`tenant_pending`).
    /// Such clocks are not kept (most conversations are the bot's alone).
    fn is_idle(&self, tenant_pending: Option<PendingPolicy>) -> bool {
        // Cheap tests first: a conversation people work on is never cloned to be compared.
        let bot_only = self.wrote.as_ref().is_none_or(|wrote| !wrote.human);
        bot_only
            && self.pending == tenant_pending
            && Clocks { wrote: None, pending: None, born: 0, ..self.clone() } == Clocks::default()
    }

    pub fn is_paused(&self) -> bool {
        self.paused.is_some()
    }

    /// What names the next pause: the last resume before it (0: none yet).
    pub fn resumed_at(&self) -> u64 {
        self.resumed_at
    }

    /// The id of the `SlaPaused` the conversation waits under, when it waits.
    pub fn paused_id(&self) -> Option<&str> {
        self.paused.as_ref().map(|paused| paused.id.as_str())
    }

    /// The policy named `name`, if the conversation's decisions carried it.
    fn policy_named(&self, name: &str) -> Option<Policy> {
        self.policy.as_ref().filter(|policy| policy.name == name).map(Policy::of)
    }

    /// What the running targets (but those in `except`) have left at `now`, to pause them.
    pub fn to_pause(&self, now: DateTime<Utc>, except: &[&str]) -> Vec<PausedTarget> {
        self.running
            .iter()
            .filter(|(metric, _)| metric.as_str() != PENDING_CLOSE && !except.contains(&metric.as_str()))
            .map(|(metric, target)| {
                let left = match self.policy_named(&target.policy) {
                    Some(policy) => policy.left(now, target.due),
                    None => target.due - now,
                };
                PausedTarget {
                    metric: metric.clone(),
                    policy: target.policy.clone(),
                    remaining_seconds: left.num_seconds().max(0),
                }
            })
            .collect()
    }
}

/// An event that should be published, under a key every replica derives alike.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub key: String,
    pub body: Body,
}

/// What should follow from one conversation's clocks: when it waits on the customer, the clock
/// that closes it starts (if its decisions carried the rule set's `pending`); when the customer
/// wrote, that clock stops and paused targets resume; when a person takes the conversation, the
/// policy's targets start (first response and resolution once, a next response after an agent
/// answered).
pub fn plan(tenant: &str, conversation: &str, clocks: &Clocks) -> Vec<Planned> {
    let mut planned: Vec<Planned> = closing_clock(tenant, conversation, clocks).into_iter().collect();
    let Some(wrote) = &clocks.wrote else { return planned };
    let key = |what: &str| format!("{tenant}/sla/{conversation}/{what}/{}", wrote.decision);
    if clocks.running.get(PENDING_CLOSE).is_some_and(|clock| clock.since < wrote.sequence) {
        let met = SlaMet { conversation_id: conversation.into(), metric: PENDING_CLOSE.into() };
        planned.push(Planned { key: key("customer-wrote"), body: Body::SlaMet(met) });
    }
    if clocks.paused.as_ref().is_some_and(|paused| paused.sequence < wrote.sequence) {
        let resumed = SlaResumed { conversation_id: conversation.into() };
        planned.push(Planned { key: key("resumed"), body: Body::SlaResumed(resumed) });
    }
    planned.extend(resumed_targets(tenant, conversation, clocks));
    if wrote.human && clocks.paused.is_none() {
        planned.extend(targets_to_start(tenant, conversation, clocks, wrote));
    }
    planned
}

/// The clock that closes a conversation waiting on the customer, if it should start now.
fn closing_clock(tenant: &str, conversation: &str, clocks: &Clocks) -> Option<Planned> {
    let (paused, pending) = (clocks.paused.as_ref()?, clocks.pending?);
    if clocks.running.contains_key(PENDING_CLOSE) || clocks.closing_started_at > paused.sequence {
        return None;
    }
    let due = paused.at + chrono::Duration::seconds(pending.close_after_seconds);
    let warn = due - chrono::Duration::seconds(pending.last_notice_before_seconds);
    let key = format!("{tenant}/sla/{conversation}/pending-close/{}", paused.id);
    Some(Planned { key, body: started(conversation, "pending", PENDING_CLOSE, due, warn) })
}

fn resumed_targets(tenant: &str, conversation: &str, clocks: &Clocks) -> Vec<Planned> {
    let Some(resuming) = &clocks.resuming else { return Vec::new() };
    resuming
        .targets
        .iter()
        .filter_map(|target| {
            let policy = clocks.policy_named(&target.policy)?;
            let left = chrono::Duration::seconds(target.remaining_seconds);
            let (due, warn) = policy.deadline(left, resuming.from)?;
            let key = format!("{tenant}/sla/{conversation}/resume/{}/{}", target.metric, resuming.decision);
            Some(Planned { key, body: started(conversation, &target.policy, &target.metric, due, warn) })
        })
        .collect()
}

fn targets_to_start(tenant: &str, conversation: &str, clocks: &Clocks, wrote: &Wrote) -> Vec<Planned> {
    let Some(policy) = clocks.policy.as_ref().map(Policy::of) else { return Vec::new() };
    let due_now = |metric: &str| {
        if clocks.running.contains_key(metric) {
            false
        } else if ONCE.contains(&metric) {
            !clocks.started.contains(metric)
        } else {
            clocks.answered_at.is_some_and(|answered| answered < wrote.sequence)
                && clocks.next_started_at < wrote.sequence
        }
    };
    [ONCE[0], NEXT_RESPONSE, ONCE[1]]
        .into_iter()
        .filter(|metric| due_now(metric))
        .filter_map(|metric| {
            let (due, warn) = policy.deadline(policy.target(metric)?, wrote.at)?;
            let key = format!(
                "{tenant}/sla-start/{conversation}/{metric}/{}-{}",
                clocks.born, clocks.next_responses
            );
            Some(Planned { key, body: started(conversation, policy.name(), metric, due, warn) })
        })
        .collect()
}

fn started(conversation: &str, policy: &str, metric: &str, due: DateTime<Utc>, warn: DateTime<Utc>) -> Body {
    Body::SlaStarted(SlaStarted {
        conversation_id: conversation.into(),
        policy: policy.into(),
        metric: metric.into(),
        due_at: Some(to_timestamp(due)),
        warn_at: Some(to_timestamp(warn)),
    })
}

/// Every tenant's conversations' clocks, but those idle (see [`Clocks::is_idle`]) and those
/// closed: memory holds the open conversations people work on, not every conversation there
/// ever was.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    #[serde(with = "snapshot::pairs")]
    pub clocks: BTreeMap<Scoped, Clocks>,
    /// Each tenant's pending policy as its latest decision named it: what a conversation's
    /// clocks start from when they were not kept.
    #[serde(with = "snapshot::proto_map")]
    pending: BTreeMap<String, PendingPolicy>,
    /// The stream sequence of the last event folded.
    pub folded: u64,
}

impl snapshot::Snapshot for State {
    const FOLD: &'static str = "sla";
    const VERSION: i32 = 1;
}

impl State {
    /// Folds an event into its conversation's clocks; the conversation, if it concerned one.
    /// A closing ends the clocks. Only a decision or a pause begins them: the rest of a target's
    /// events concern clocks that run, and arrive late for a conversation already closed.
    /// An event at or before the last one folded is not folded again (a feed that started over,
    /// as an ordered consumer recreated before its first message does).
    pub fn apply(&mut self, event: &Event, sequence: u64) -> Option<Scoped> {
        if sequence <= self.folded {
            return None;
        }
        self.folded = sequence;
        let (conversation, begins) = match event.body.as_ref()? {
            Body::MessageRouted(e) => (&e.conversation_id, true),
            Body::SlaPaused(e) => (&e.conversation_id, true),
            Body::SlaStarted(e) => (&e.conversation_id, false),
            Body::SlaWarning(e) => (&e.conversation_id, false),
            Body::SlaBreached(e) => (&e.conversation_id, false),
            Body::SlaMet(e) => (&e.conversation_id, false),
            Body::SlaResumed(e) => (&e.conversation_id, false),
            Body::ConversationClosed(ConversationClosed { conversation_id, .. }) => {
                self.clocks.remove(&scoped(tenant_of(event), conversation_id));
                return None;
            }
            _ => return None,
        };
        let tenant = tenant_of(event);
        if let Some(Body::MessageRouted(MessageRouted { pending: Some(pending), .. })) = &event.body {
            self.pending.insert(tenant.to_string(), *pending);
        }
        let tenant_pending = self.pending.get(tenant).copied();
        let key = scoped(tenant, conversation);
        if !begins && !self.clocks.contains_key(&key) {
            return None;
        }
        let clocks = self.clocks.entry(key.clone()).or_insert_with(|| Clocks {
            born: sequence,
            pending: tenant_pending,
            ..Clocks::default()
        });
        let applied = clocks.apply(event, sequence);
        if clocks.is_idle(tenant_pending) {
            self.clocks.remove(&key);
        }
        applied.then_some(key)
    }

    /// The next moment a warning or a due time comes, if anything runs.
    pub fn next(&self) -> Option<DateTime<Utc>> {
        self.running().map(|(_, _, t)| if t.warned { t.due } else { t.warn.min(t.due) }).min()
    }

    /// Every running target: (conversation, metric, target).
    pub fn running(&self) -> impl Iterator<Item = (&Scoped, &String, &Running)> {
        self.clocks
            .iter()
            .flat_map(|(conversation, clocks)| clocks.running.iter().map(move |(m, t)| (conversation, m, t)))
    }
}

#[cfg(test)]
#[path = "fold_tests.rs"]
mod tests;
