//! What the desk's view shows of a conversation beyond its list row, as a pure fold: the last
//! hand-off decision and packet, tags, SLA timers (running, paused, missed, met), whether the
//! customer was verified, and how it ended.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use switchboard_proto::{
    events::v1::{HandoffPacket, MessageRouted, RouteAction, event::Body},
    time::to_datetime,
};

/// The router's clock that closes conversations left waiting: not a target people work to.
const PENDING_CLOSE: &str = "pending_close";

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Timer {
    pub policy: String,
    pub due_at: Option<DateTime<Utc>>,
    pub paused: bool,
    pub breached: bool,
    pub met: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Details {
    /// The last decision that handed the conversation to people.
    pub routing: Option<MessageRouted>,
    pub handoff: Option<HandoffPacket>,
    pub tags: BTreeSet<String>,
    /// By metric.
    pub timers: BTreeMap<String, Timer>,
    /// The customer's last message came from a verified sender.
    pub verified: bool,
    /// How it ended: `bot` or `human`; empty while open.
    pub closed_by: String,
    pub close_reason: String,
}

/// Folds one event body into the details; `false` when it says nothing to them.
pub fn apply(d: &mut Details, body: &Body) -> bool {
    match body {
        Body::MessageReceived(m) => {
            d.verified = m.customer_verified;
            d.closed_by.clear();
            d.close_reason.clear();
        }
        Body::MessageRouted(r) => routed(d, r),
        Body::SlaStarted(s) if s.metric != PENDING_CLOSE => {
            let due_at = Some(to_datetime(s.due_at.as_ref()));
            d.timers.insert(s.metric.clone(), Timer { policy: s.policy.clone(), due_at, ..Timer::default() });
        }
        Body::SlaBreached(b) if b.metric != PENDING_CLOSE => {
            let timer = d.timers.entry(b.metric.clone()).or_default();
            timer.breached = true;
            timer.due_at = Some(to_datetime(b.due_at.as_ref()));
        }
        Body::SlaMet(m) => d.timers.entry(m.metric.clone()).or_default().met = true,
        Body::SlaPaused(p) => {
            for target in &p.targets {
                let timer = d.timers.entry(target.metric.clone()).or_default();
                timer.policy.clone_from(&target.policy);
                timer.paused = true;
            }
        }
        Body::SlaResumed(_) => d.timers.values_mut().for_each(|timer| timer.paused = false),
        Body::ConversationClosed(c) => {
            d.closed_by.clone_from(&c.handled_by);
            d.close_reason.clone_from(&c.reason);
            d.timers.values_mut().for_each(|timer| timer.paused = false);
        }
        Body::ConversationUpdated(updated) => d.tags.extend(updated.add_tags.iter().cloned()),
        Body::ConversationReopened(_) => {
            d.closed_by.clear();
            d.close_reason.clear();
        }
        _ => return false,
    }
    true
}

fn routed(d: &mut Details, r: &MessageRouted) {
    d.tags.extend(r.tags.iter().cloned());
    if matches!(r.action(), RouteAction::Queue | RouteAction::Escalate) {
        d.routing = Some(MessageRouted { handoff: None, ..r.clone() });
        if r.handoff.is_some() {
            d.handoff.clone_from(&r.handoff);
        }
    }
}

#[cfg(test)]
mod tests {
    use prost_types::Timestamp;
    use switchboard_proto::events::v1::{PausedTarget, SlaMet, SlaPaused, SlaResumed, SlaStarted};

    use super::*;

    fn given(bodies: &[Body]) -> Details {
        let mut details = Details::default();
        for body in bodies {
            apply(&mut details, body);
        }
        details
    }

    fn started(metric: &str) -> Body {
        Body::SlaStarted(SlaStarted {
            metric: metric.into(),
            policy: "standard".into(),
            due_at: Some(Timestamp { seconds: 1_700_000_000, nanos: 0 }),
            ..Default::default()
        })
    }

    #[test]
    fn timers_run_pause_resume_and_are_met() {
        let paused = Body::SlaPaused(SlaPaused {
            targets: vec![PausedTarget {
                metric: "resolution".into(),
                policy: "standard".into(),
                ..Default::default()
            }],
            ..Default::default()
        });
        let d = given(&[started("first_response"), started("resolution"), paused.clone()]);
        assert!(d.timers["resolution"].paused && !d.timers["first_response"].paused);
        let met = Body::SlaMet(SlaMet { metric: "first_response".into(), ..Default::default() });
        let d = given(&[
            started("first_response"),
            started("resolution"),
            paused,
            Body::SlaResumed(SlaResumed::default()),
            met,
        ]);
        assert!(d.timers["first_response"].met && !d.timers["resolution"].paused);
        assert!(given(&[started(PENDING_CLOSE)]).timers.is_empty(), "the pending clock is no target");
    }

    #[test]
    fn the_hand_off_is_kept_and_an_automated_answer_does_not_replace_it() {
        let escalated = MessageRouted {
            action: RouteAction::Escalate.into(),
            rule: "human-request".into(),
            tags: vec!["vip".into()],
            handoff: Some(HandoffPacket { reason: "asked for a person".into(), ..Default::default() }),
            ..Default::default()
        };
        let answered = MessageRouted {
            action: RouteAction::AutoReply.into(),
            tags: vec!["faq".into()],
            ..Default::default()
        };
        let d = given(&[Body::MessageRouted(escalated), Body::MessageRouted(answered)]);
        assert_eq!(d.routing.as_ref().map(|r| r.rule.as_str()), Some("human-request"));
        assert_eq!(d.handoff.as_ref().map(|h| h.reason.as_str()), Some("asked for a person"));
        assert_eq!(d.tags.iter().map(String::as_str).collect::<Vec<_>>(), ["faq", "vip"]);
    }
}
