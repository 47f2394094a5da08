//! What a support lead's figures are made of: one row of facts per conversation, folded from its
//! events (a pure fold; the projection loads, folds and stores). The definitions that read these
//! facts are in `docs/ANALYTICS.md` and [`crate::report`].

use chrono::{DateTime, Utc};
use switchboard_proto::{
    events::v1::{Channel, Event, RouteAction, event::Body},
    time::to_datetime,
};

/// The facts of one conversation, as far as its events have told.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    pub conversation_id: String,
    /// The customer's first message.
    pub started_at: Option<DateTime<Utc>>,
    /// Channel slug, e.g. `web`.
    pub channel: String,
    /// Who wrote its first message (what a search by the same customer names, for deflection).
    pub customer_id: String,
    /// The conversation's language (BCP 47 primary subtag), from its first classification.
    pub language: String,
    /// The intent of its first classified message.
    pub intent: String,
    /// The queue its last hand-off went to.
    pub queue: String,
    /// The last agent it was assigned to or claimed by.
    pub agent: String,
    /// When a person first took it (assigned, claimed or transferred to them).
    pub assigned_at: Option<DateTime<Utc>>,
    /// Handed to a person at least once (queued or escalated).
    pub handed_off: bool,
    /// Why, as the first hand-off's packet says (`customer_asked`, `missing_knowledge`, ...).
    pub handoff_reason: String,
    /// Automation answered at least once.
    pub bot_replied: bool,
    /// When a person first replied.
    pub first_human_reply_at: Option<DateTime<Utc>>,
    /// When it was last closed; `None` while open (a reopen clears it).
    pub closed_at: Option<DateTime<Utc>>,
    /// Who the last closing says handled it: `bot` or `human`.
    pub closed_by: String,
    pub reopens: u32,
    /// The answers to its surveys: CSAT 1-5, NPS 0-10.
    pub csat: Option<u8>,
    pub nps: Option<u8>,
    pub surveys_sent: u32,
    /// How each SLA target ended: `met` or `breached` (empty: none ran or still running).
    pub first_response_sla: String,
    pub resolution_sla: String,
    /// The business hours of the last SLA policy a hand-off chose (JSON of a calendar spec);
    /// empty: around the clock.
    pub calendar: String,
    /// Open seconds (in `calendar`) from the first message to the first reply by a person, and
    /// to the last closing.
    pub first_response_open_seconds: Option<i64>,
    pub resolution_open_seconds: Option<i64>,
}

impl Facts {
    fn taken_by(&mut self, agent: &str, at: DateTime<Utc>) {
        self.agent = agent.to_string();
        self.assigned_at.get_or_insert(at);
    }

    /// Open seconds from the start to `at` in the conversation's business hours; all of them
    /// without a calendar (or with one that does not read).
    fn open_seconds_until(&self, at: DateTime<Utc>) -> Option<i64> {
        let started = self.started_at?;
        let calendar = serde_json::from_str::<switchboard_calendar::Spec>(&self.calendar)
            .ok()
            .and_then(|spec| switchboard_calendar::Calendar::new(&spec).ok());
        let open = match calendar {
            Some(calendar) => calendar.open_time_between(started, at),
            None => (at - started).max(chrono::TimeDelta::zero()),
        };
        Some(open.num_seconds())
    }
}

/// The conversation an event tells something about, if it is one the facts fold.
pub fn conversation_of(event: &Event) -> Option<&str> {
    let id = match event.body.as_ref()? {
        Body::MessageReceived(m) => &m.conversation_id,
        Body::MessageClassified(c) => &c.conversation_id,
        Body::MessageRouted(r) => &r.conversation_id,
        Body::ReplyRequested(r) => &r.conversation_id,
        Body::ConversationAssigned(a) => &a.conversation_id,
        Body::ConversationClaimed(c) => &c.conversation_id,
        Body::ConversationTransferred(t) => &t.conversation_id,
        Body::ConversationClosed(c) => &c.conversation_id,
        Body::ConversationReopened(r) => &r.conversation_id,
        Body::SurveySent(s) => &s.conversation_id,
        Body::SurveyAnswered(a) => &a.conversation_id,
        Body::SlaMet(m) => &m.conversation_id,
        Body::SlaBreached(b) => &b.conversation_id,
        _ => return None,
    };
    (!id.is_empty()).then_some(id.as_str())
}

/// The facts after `event`. A conversation's facts begin with its first message; events of a
/// conversation whose start was never seen leave it unknown (`None`).
pub fn fold(facts: Option<Facts>, event: &Event) -> Option<Facts> {
    let at = to_datetime(event.occurred_at.as_ref());
    let Some(body) = event.body.as_ref() else { return facts };
    if let Body::MessageReceived(received) = body {
        let mut facts = facts.unwrap_or_else(|| Facts {
            conversation_id: received.conversation_id.clone(),
            channel: slug(received.channel).into(),
            customer_id: received.customer_id.clone(),
            ..Facts::default()
        });
        facts.started_at = Some(facts.started_at.map_or(at, |started| started.min(at)));
        return Some(facts);
    }
    let mut facts = facts?;
    match body {
        Body::MessageClassified(classified) if facts.intent.is_empty() => {
            facts.intent = classified.intent.clone();
            let language = if classified.conversation_language.is_empty() {
                &classified.language
            } else {
                &classified.conversation_language
            };
            facts.language = primary_language(language);
        }
        Body::MessageRouted(routed) => hand_off(&mut facts, routed),
        // A person's reply earlier than any seen (events of one conversation come in order).
        Body::ReplyRequested(reply)
            if reply.author.starts_with("agent:")
                && facts.first_human_reply_at.is_none_or(|first| at < first) =>
        {
            facts.first_human_reply_at = Some(at);
            facts.first_response_open_seconds = facts.open_seconds_until(at);
        }
        Body::ReplyRequested(reply) if reply.author.is_empty() => facts.bot_replied = true,
        Body::ConversationAssigned(assigned) => facts.taken_by(&assigned.agent_id, at),
        Body::ConversationClaimed(claimed) => facts.taken_by(&claimed.agent_id, at),
        Body::ConversationTransferred(moved) => {
            if !moved.queue.is_empty() {
                facts.queue = moved.queue.clone();
            }
            if !moved.to_agent.is_empty() {
                facts.taken_by(&moved.to_agent, at);
            }
        }
        Body::ConversationClosed(closed) => {
            facts.closed_at = Some(at);
            facts.closed_by = closed.handled_by.clone();
            facts.resolution_open_seconds = facts.open_seconds_until(at);
        }
        Body::ConversationReopened(_) => {
            facts.closed_at = None;
            facts.resolution_open_seconds = None;
            facts.reopens += 1;
        }
        Body::SurveySent(_) => facts.surveys_sent += 1,
        Body::SurveyAnswered(answered) => {
            // A score out of its scale is no answer.
            let score = u8::try_from(answered.score).ok();
            match answered.kind.as_str() {
                "nps" => facts.nps = score.filter(|score| *score <= 10).or(facts.nps),
                _ => facts.csat = score.filter(|score| (1..=5).contains(score)).or(facts.csat),
            }
        }
        Body::SlaMet(met) => set_sla(&mut facts, &met.metric, "met"),
        Body::SlaBreached(breached) => set_sla(&mut facts, &breached.metric, "breached"),
        _ => {}
    }
    Some(facts)
}

/// A decision that hands the conversation to a person: queued or escalated.
fn hand_off(facts: &mut Facts, routed: &switchboard_proto::events::v1::MessageRouted) {
    if !matches!(routed.action(), RouteAction::Queue | RouteAction::Escalate) {
        return;
    }
    if !facts.handed_off {
        facts.handoff_reason =
            routed.handoff.as_ref().map(|packet| packet.reason.clone()).unwrap_or_default();
        if facts.handoff_reason.is_empty() {
            facts.handoff_reason = "policy".into();
        }
    }
    facts.handed_off = true;
    if !routed.queue.is_empty() {
        facts.queue = routed.queue.clone();
    }
    if let Some(hours) = routed.sla.as_ref().and_then(|policy| policy.calendar.as_ref()) {
        let spec = serde_json::json!({
            "timezone": hours.timezone,
            "hours": hours.hours.iter().collect::<std::collections::BTreeMap<_, _>>(),
            "holidays": hours.holidays,
        });
        facts.calendar = spec.to_string();
    }
}

/// A breach stays a breach: a target met after it was breached does not count as met.
fn set_sla(facts: &mut Facts, metric: &str, ending: &str) {
    let slot = match metric {
        "first_response" => &mut facts.first_response_sla,
        "resolution" => &mut facts.resolution_sla,
        _ => return,
    };
    if slot != "breached" {
        *slot = ending.to_string();
    }
}

fn slug(channel: i32) -> &'static str {
    Channel::try_from(channel).unwrap_or(Channel::Unspecified).slug()
}

/// `pt-BR` is `pt`; `und` and empty are unknown (empty).
fn primary_language(tag: &str) -> String {
    let primary = tag.split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase();
    if primary == "und" { String::new() } else { primary }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;
    use switchboard_proto::events::v1::{
        ConversationClosed, ConversationReopened, HandoffPacket, MessageClassified, MessageReceived,
        MessageRouted, ReplyRequested, SlaBreached, SlaMet, SurveyAnswered,
    };

    use super::*;

    fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 2, 9, minute, 0).single().expect("a valid time")
    }

    fn event(minute: u32, body: Body) -> Event {
        Event {
            id: format!("e-{minute}"),
            tenant: "acme".into(),
            occurred_at: Some(switchboard_proto::time::to_timestamp(at(minute))),
            body: Some(body),
            ..Event::default()
        }
    }

    fn received(minute: u32) -> Event {
        event(
            minute,
            Body::MessageReceived(MessageReceived {
                conversation_id: "c-1".into(),
                channel: Channel::Web.into(),
                starts_conversation: minute == 0,
                ..Default::default()
            }),
        )
    }

    fn given(events: &[Event]) -> Option<Facts> {
        events.iter().fold(None, fold)
    }

    fn routed(minute: u32, action: RouteAction, reason: &str) -> Event {
        event(
            minute,
            Body::MessageRouted(MessageRouted {
                conversation_id: "c-1".into(),
                action: action.into(),
                queue: "billing".into(),
                handoff: Some(HandoffPacket { reason: reason.into(), ..Default::default() }),
                ..Default::default()
            }),
        )
    }

    fn reply(minute: u32, author: &str) -> Event {
        event(
            minute,
            Body::ReplyRequested(ReplyRequested {
                conversation_id: "c-1".into(),
                author: author.into(),
                ..Default::default()
            }),
        )
    }

    fn closed(minute: u32, handled_by: &str) -> Event {
        event(
            minute,
            Body::ConversationClosed(ConversationClosed {
                conversation_id: "c-1".into(),
                handled_by: handled_by.into(),
                ..Default::default()
            }),
        )
    }

    #[test]
    fn a_conversation_the_bot_answered_and_closed_is_the_bots_alone() {
        let classified = event(
            1,
            Body::MessageClassified(MessageClassified {
                conversation_id: "c-1".into(),
                intent: "order_status".into(),
                language: "de".into(),
                conversation_language: "de-AT".into(),
                ..Default::default()
            }),
        );
        let facts = given(&[
            received(0),
            classified,
            routed(1, RouteAction::AutoReply, ""),
            reply(1, ""),
            closed(30, "bot"),
        ])
        .expect("facts");
        assert_eq!(facts.started_at, Some(at(0)));
        assert_eq!((facts.channel.as_str(), facts.language.as_str()), ("web", "de"));
        assert_eq!(facts.intent, "order_status");
        assert!(facts.bot_replied && !facts.handed_off && facts.first_human_reply_at.is_none());
        assert_eq!(facts.closed_at, Some(at(30)));
    }

    #[test]
    fn a_hand_off_keeps_its_first_reason_and_the_first_human_reply() {
        let facts = given(&[
            received(0),
            routed(1, RouteAction::Escalate, "customer_asked"),
            reply(2, ""),
            routed(3, RouteAction::Queue, "negative_sentiment"),
            reply(9, "agent:ana"),
            reply(12, "agent:ana"),
        ])
        .expect("facts");
        assert!(facts.handed_off);
        assert_eq!((facts.handoff_reason.as_str(), facts.queue.as_str()), ("customer_asked", "billing"));
        assert_eq!(facts.first_human_reply_at, Some(at(9)));
        let taken = |minute, agent: &str| {
            event(
                minute,
                Body::ConversationAssigned(switchboard_proto::events::v1::ConversationAssigned {
                    conversation_id: "c-1".into(),
                    agent_id: agent.into(),
                    ..Default::default()
                }),
            )
        };
        let facts = given(&[received(0), taken(4, "ana"), taken(7, "bo")]).expect("facts");
        assert_eq!(
            (facts.agent.as_str(), facts.assigned_at),
            ("bo", Some(at(4))),
            "first taken, last holder"
        );
    }

    #[test]
    fn a_reopen_undoes_the_closing_and_is_counted() {
        let reopened = event(
            40,
            Body::ConversationReopened(ConversationReopened {
                conversation_id: "c-1".into(),
                by_customer: true,
                ..Default::default()
            }),
        );
        let facts = given(&[received(0), closed(30, "bot"), reopened.clone()]).expect("facts");
        assert_eq!((facts.closed_at, facts.reopens), (None, 1));
        let facts = given(&[received(0), closed(30, "bot"), reopened, closed(50, "human")]).expect("facts");
        assert_eq!((facts.closed_at, facts.closed_by.as_str(), facts.reopens), (Some(at(50)), "human", 1));
    }

    #[test]
    fn surveys_keep_their_scores_and_a_breach_stays_a_breach() {
        let answer = |kind: &str, score| {
            event(
                45,
                Body::SurveyAnswered(SurveyAnswered {
                    conversation_id: "c-1".into(),
                    kind: kind.into(),
                    score,
                    ..Default::default()
                }),
            )
        };
        let breached = event(
            20,
            Body::SlaBreached(SlaBreached {
                conversation_id: "c-1".into(),
                metric: "first_response".into(),
                ..Default::default()
            }),
        );
        let met = |metric: &str| {
            event(25, Body::SlaMet(SlaMet { conversation_id: "c-1".into(), metric: metric.into() }))
        };
        let facts = given(&[
            received(0),
            breached,
            met("first_response"),
            met("resolution"),
            answer("csat", 4),
            answer("nps", 10),
            answer("csat", 9),
        ])
        .expect("facts");
        assert_eq!((facts.first_response_sla.as_str(), facts.resolution_sla.as_str()), ("breached", "met"));
        assert_eq!((facts.csat, facts.nps), (Some(4), Some(10)), "a CSAT of 9 is no answer");
    }

    /// Given a hand-off under a policy open 09:00-17:00 on weekdays (UTC), a conversation begun
    /// Monday 16:30 and answered by a person Tuesday 09:30 waited one open hour (17 on the clock);
    /// closed Tuesday 10:00, it took 1.5 open hours.
    #[test]
    fn response_and_resolution_count_open_hours_of_the_policys_calendar() {
        use switchboard_proto::events::v1::{BusinessHours, SlaPolicy};
        let on = |day: u32, hour: u32, minute: u32, body: Body| Event {
            occurred_at: Some(switchboard_proto::time::to_timestamp(
                Utc.with_ymd_and_hms(2026, 11, day, hour, minute, 0).single().expect("a valid time"),
            )),
            ..event(0, body)
        };
        let calendar = BusinessHours {
            timezone: "UTC".into(),
            hours: [("mon-fri".to_string(), "09:00-17:00".to_string())].into(),
            ..Default::default()
        };
        let Some(Body::MessageRouted(mut routed)) = routed(0, RouteAction::Queue, "customer_asked").body
        else {
            unreachable!("a routing decision")
        };
        routed.sla = Some(SlaPolicy { calendar: Some(calendar), ..Default::default() });
        let Some(Body::MessageReceived(first)) = received(0).body else { unreachable!("a message") };
        let Some(Body::ReplyRequested(answer)) = reply(0, "agent:ana").body else { unreachable!("a reply") };
        let Some(Body::ConversationClosed(closing)) = closed(0, "human").body else {
            unreachable!("a closing")
        };
        let facts = given(&[
            on(2, 16, 30, Body::MessageReceived(first)),
            on(2, 16, 31, Body::MessageRouted(routed)),
            on(3, 9, 30, Body::ReplyRequested(answer)),
            on(3, 10, 0, Body::ConversationClosed(closing)),
        ])
        .expect("facts");
        assert_eq!(facts.first_response_open_seconds, Some(3600));
        assert_eq!(facts.resolution_open_seconds, Some(5400));
        let around_the_clock =
            given(&[received(0), reply(9, "agent:ana"), closed(30, "human")]).expect("facts");
        assert_eq!(
            (around_the_clock.first_response_open_seconds, around_the_clock.resolution_open_seconds),
            (Some(540), Some(1800))
        );
    }

    #[test]
    fn events_of_a_conversation_never_started_are_not_folded() {
        assert_eq!(given(&[closed(30, "bot"), reply(31, "agent:ana")]), None);
    }
}
