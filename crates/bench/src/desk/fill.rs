//! The desk's read model filled as the product fills it: each conversation is the sequence of
//! events the product publishes for it (the customer writes, routing decides, SLA clocks start
//! and are met or missed, the router assigns or an agent claims, the agent replies, the
//! conversation waits on the customer or closes), published on a real bus and projected by the
//! desk service's own projection runner. The bench writes no row itself: the read model's
//! columns, SLA targets and derived status are what the desk's fold makes of the events, so
//! the listing is measured over the model the product builds, not over rows shaped by the bench.
//!
//! The mix is fixed by a seed, so runs compare: four tenants (one with 80 % of the rows); most
//! conversations resolved (history), the rest with the bot, queued, escalated, assigned or
//! waiting on the customer; SLA due times from none to long breached; six queues, six channels,
//! nine languages, four priorities, a hundred agents in the largest tenant.

use chrono::{DateTime, Duration, Utc};
use switchboard_bus::Draft;
use switchboard_proto::{
    events::v1::{
        Channel, ConversationAssigned, ConversationClaimed, ConversationClosed, ConversationReleased, Event,
        HandoffPacket, MessageReceived, MessageRouted, PausedTarget, Priority, ReplyRequested, RouteAction,
        SlaBreached, SlaMet, SlaPaused, SlaStarted, event::Body,
    },
    time::to_timestamp,
};
use uuid::Uuid;

use super::{
    mix::{
        CHANNELS, FATES, Fate, HANDOFF_REASONS, LANGUAGES, QUEUES, Tenant, agent, channel_slug, draw_tenant,
        first_response_target, resolution_target,
    },
    texts,
};
use crate::seeded::Seeded;

const FIRST_RESPONSE: &str = "first_response";
const RESOLUTION: &str = "resolution";

/// The conversations' events, one conversation at a time, in the order the product publishes them.
pub(crate) struct Conversations {
    rng: Seeded,
    now: DateTime<Utc>,
    left: usize,
    /// Conversations per tenant, to draw returning customers from.
    total: usize,
}

impl Conversations {
    /// `count` conversations as they stand at `now`.
    pub(crate) fn new(count: usize, now: DateTime<Utc>) -> Self {
        Self { rng: Seeded::new(13), now, left: count, total: count }
    }
}

impl Iterator for Conversations {
    type Item = anyhow::Result<Vec<Event>>;

    fn next(&mut self) -> Option<Self::Item> {
        self.left = self.left.checked_sub(1)?;
        let tenant = draw_tenant(&mut self.rng);
        let customers = (self.total * tenant.share as usize / 1000 / 2).max(1);
        let mut script = Script {
            customer_id: format!("cus-{}", self.rng.below(customers)),
            conversation_id: Uuid::now_v7().to_string(),
            channel: self.rng.weighted(&CHANNELS),
            language: self.rng.weighted(&LANGUAGES),
            tenant,
            rng: &mut self.rng,
            now: self.now,
            events: Vec::new(),
        };
        Some(script.play().map(|()| script.events))
    }
}

/// What routing decides for a message handed to people.
struct Route {
    action: RouteAction,
    queue: &'static str,
    priority: Priority,
    handoff: Option<&'static str>,
}

/// One conversation being written.
struct Script<'a> {
    rng: &'a mut Seeded,
    now: DateTime<Utc>,
    tenant: &'static Tenant,
    conversation_id: String,
    customer_id: String,
    channel: Channel,
    language: &'static str,
    events: Vec<Event>,
}

impl Script<'_> {
    fn play(&mut self) -> anyhow::Result<()> {
        match self.rng.weighted(&FATES) {
            Fate::WithTheBot => {
                let start = self.recent();
                self.with_the_bot(start)
            }
            Fate::Queued => self.waiting(false),
            Fate::Escalated => self.waiting(true),
            Fate::Assigned => self.assigned(),
            Fate::Pending => self.pending(),
            Fate::Resolved => {
                let start = self.past();
                self.resolved(start)
            }
            Fate::Reopened => self.reopened(),
        }
    }

    fn with_the_bot(&mut self, start: DateTime<Utc>) -> anyhow::Result<()> {
        let message = self.customer_writes(start)?;
        self.bot_answers(&message, start + Duration::seconds(3))
    }

    fn waiting(&mut self, escalated: bool) -> anyhow::Result<()> {
        let start = self.recent();
        let route = self.route(escalated);
        let due = self.handed_off(start, &route)?;
        self.breached_if_due(FIRST_RESPONSE, due)
    }

    fn assigned(&mut self) -> anyhow::Result<()> {
        let start = self.recent();
        let escalated = self.rng.chance(25);
        let route = self.route(escalated);
        let first_due = self.handed_off(start, &route)?;
        let (agent, taken) = self.taken(start)?;
        if self.rng.chance(60) {
            self.answered(&agent, &route, start, first_due, taken)?;
            Ok(())
        } else {
            self.breached_if_due(FIRST_RESPONSE, first_due)
        }
    }

    fn pending(&mut self) -> anyhow::Result<()> {
        let start = self.recent();
        let escalated = self.rng.chance(25);
        let route = self.route(escalated);
        let first_due = self.handed_off(start, &route)?;
        let (agent, taken) = self.taken(start)?;
        let replied = self.answered(&agent, &route, start, first_due, taken)?;
        let body = Body::SlaPaused(SlaPaused {
            conversation_id: self.conversation_id.clone(),
            targets: vec![PausedTarget {
                metric: RESOLUTION.into(),
                policy: "standard".into(),
                remaining_seconds: 3600,
            }],
        });
        self.on_conversation(body, replied + Duration::seconds(1))
    }

    fn resolved(&mut self, start: DateTime<Utc>) -> anyhow::Result<()> {
        if self.rng.chance(30) {
            // The bot's conversations close after a day without a word.
            self.with_the_bot(start)?;
            return self.closed(start + Duration::hours(24), "bot", None);
        }
        let escalated = self.rng.chance(20);
        let route = self.route(escalated);
        let first_due = self.handed_off(start, &route)?;
        let (agent, taken) = self.taken(start)?;
        let replied = self.answered(&agent, &route, start, first_due, taken)?;
        let solved = replied + Duration::minutes(5 + self.rng.below(600) as i64);
        let body =
            Body::SlaMet(SlaMet { conversation_id: self.conversation_id.clone(), metric: RESOLUTION.into() });
        self.on_conversation(body, solved)?;
        self.closed(solved, "human", Some(&agent))
    }

    fn reopened(&mut self) -> anyhow::Result<()> {
        let first = self.now - Duration::days(2 + self.rng.below(10) as i64);
        self.resolved(first)?;
        let again = self.now - Duration::minutes(self.rng.below(360) as i64);
        let route = self.route(false);
        let due = self.handed_off(again, &route)?;
        self.breached_if_due(FIRST_RESPONSE, due)
    }

    /// The customer writes, routing hands the conversation to people and the first-response
    /// clock starts; returns when it is due.
    fn handed_off(&mut self, start: DateTime<Utc>, route: &Route) -> anyhow::Result<DateTime<Utc>> {
        let message = self.customer_writes(start)?;
        self.routed(&message, start + Duration::seconds(2), route)?;
        let due = start + first_response_target(route.priority);
        self.sla_started(FIRST_RESPONSE, due, start + Duration::seconds(2))?;
        Ok(due)
    }

    /// The router assigns (60 %) or an agent claims (40 %) a few minutes in; returns who and when.
    fn taken(&mut self, start: DateTime<Utc>) -> anyhow::Result<(String, DateTime<Utc>)> {
        let agent = agent(self.rng.below(self.tenant.agents));
        let at = (start + Duration::seconds(30 + self.rng.below(1800) as i64)).min(self.now);
        let conversation_id = self.conversation_id.clone();
        if self.rng.chance(60) {
            let body = Body::ConversationAssigned(ConversationAssigned {
                conversation_id,
                agent_id: agent.clone(),
                queue: String::new(),
                channel: channel_slug(self.channel).into(),
                strategy: "least_loaded".into(),
            });
            self.emit(&agent, body, at)?;
        } else {
            let channel = channel_slug(self.channel).into();
            let body = Body::ConversationClaimed(ConversationClaimed {
                conversation_id,
                agent_id: agent.clone(),
                channel,
            });
            self.on_conversation(body, at)?;
        }
        Ok((agent, at))
    }

    /// The agent replies: the first response is met (or was missed before), and the resolution
    /// clock starts. Returns when the agent replied.
    fn answered(
        &mut self,
        agent: &str,
        route: &Route,
        start: DateTime<Utc>,
        first_due: DateTime<Utc>,
        taken: DateTime<Utc>,
    ) -> anyhow::Result<DateTime<Utc>> {
        let replied = (taken + Duration::seconds(60 + self.rng.below(2400) as i64)).min(self.now);
        if first_due < replied {
            self.sla_breached(FIRST_RESPONSE, first_due)?;
        }
        let text = self.text(texts::AGENT);
        let reply = ReplyRequested {
            reply_id: Uuid::now_v7().to_string(),
            conversation_id: self.conversation_id.clone(),
            customer_id: self.customer_id.clone(),
            channel: self.channel.into(),
            text,
            language: self.language.into(),
            author: format!("agent:{agent}"),
            ..Default::default()
        };
        self.emit(&reply.reply_id.clone(), Body::ReplyRequested(reply), replied)?;
        if first_due >= replied {
            let met = SlaMet { conversation_id: self.conversation_id.clone(), metric: FIRST_RESPONSE.into() };
            self.on_conversation(Body::SlaMet(met), replied)?;
        }
        let resolution_due = start + resolution_target(route.priority);
        self.sla_started(RESOLUTION, resolution_due, replied)?;
        self.breached_if_due(RESOLUTION, resolution_due)?;
        Ok(replied)
    }

    fn customer_writes(&mut self, at: DateTime<Utc>) -> anyhow::Result<String> {
        let message_id = Uuid::now_v7().to_string();
        let text = self.text(texts::customer(self.language));
        let body = Body::MessageReceived(MessageReceived {
            conversation_id: self.conversation_id.clone(),
            message_id: message_id.clone(),
            customer_id: self.customer_id.clone(),
            channel: self.channel.into(),
            idempotency_key: message_id.clone(),
            starts_conversation: self.events.is_empty(),
            text,
            ..Default::default()
        });
        self.on_conversation(body, at)?;
        Ok(message_id)
    }

    fn bot_answers(&mut self, message_id: &str, at: DateTime<Utc>) -> anyhow::Result<()> {
        let routed = MessageRouted {
            action: RouteAction::AutoReply.into(),
            priority: Priority::Normal.into(),
            reason: "answered from the knowledge base".into(),
            ..self.decision(message_id, "faq")
        };
        self.emit(message_id, Body::MessageRouted(routed), at)?;
        let reply = ReplyRequested {
            reply_id: Uuid::now_v7().to_string(),
            conversation_id: self.conversation_id.clone(),
            in_reply_to: message_id.into(),
            customer_id: self.customer_id.clone(),
            channel: self.channel.into(),
            text: self.text(texts::BOT),
            language: self.language.into(),
            ..Default::default()
        };
        self.emit(&reply.reply_id.clone(), Body::ReplyRequested(reply), at + Duration::seconds(1))
    }

    fn routed(&mut self, message_id: &str, at: DateTime<Utc>, route: &Route) -> anyhow::Result<()> {
        let handoff = route.handoff.map(|reason| HandoffPacket {
            reason: reason.into(),
            summary: "The customer asks about an order and wants a person.".into(),
            customer_messages: 1 + self.rng.below(4) as u32,
            ..Default::default()
        });
        let routed = MessageRouted {
            action: route.action.into(),
            queue: route.queue.into(),
            priority: route.priority.into(),
            reason: format!("rule {} matched", route.queue),
            handoff,
            ..self.decision(message_id, route.queue)
        };
        self.emit(message_id, Body::MessageRouted(routed), at)
    }

    fn decision(&self, message_id: &str, rule: &str) -> MessageRouted {
        MessageRouted {
            conversation_id: self.conversation_id.clone(),
            message_id: message_id.into(),
            channel: self.channel.into(),
            intent: "order_status".into(),
            rule: rule.into(),
            language: self.language.into(),
            ..Default::default()
        }
    }

    /// Escalations are urgent or high; queued messages mostly normal; the VIP queue high.
    fn route(&mut self, escalated: bool) -> Route {
        let queue = self.rng.weighted(&QUEUES);
        let priority = match (escalated, queue) {
            (true, _) => self.rng.weighted(&[(Priority::Urgent, 30), (Priority::High, 70)]),
            (false, "vip") => Priority::High,
            (false, _) => {
                self.rng.weighted(&[(Priority::Low, 20), (Priority::Normal, 70), (Priority::High, 10)])
            }
        };
        let (action, handoff) = if escalated {
            (RouteAction::Escalate, Some(self.rng.pick(&HANDOFF_REASONS)))
        } else {
            (RouteAction::Queue, None)
        };
        Route { action, queue, priority, handoff }
    }

    fn sla_started(&mut self, metric: &str, due: DateTime<Utc>, at: DateTime<Utc>) -> anyhow::Result<()> {
        let started = SlaStarted {
            conversation_id: self.conversation_id.clone(),
            policy: "standard".into(),
            metric: metric.into(),
            due_at: Some(to_timestamp(due)),
            warn_at: Some(to_timestamp(due - Duration::minutes(10))),
        };
        self.on_conversation(Body::SlaStarted(started), at)
    }

    /// The router's timer fires at `due` if that has passed.
    fn breached_if_due(&mut self, metric: &str, due: DateTime<Utc>) -> anyhow::Result<()> {
        if due < self.now { self.sla_breached(metric, due) } else { Ok(()) }
    }

    fn sla_breached(&mut self, metric: &str, due: DateTime<Utc>) -> anyhow::Result<()> {
        let breached = SlaBreached {
            conversation_id: self.conversation_id.clone(),
            metric: metric.into(),
            due_at: Some(to_timestamp(due)),
        };
        self.on_conversation(Body::SlaBreached(breached), due)
    }

    /// Closes the conversation; the router releases the agent who held it.
    fn closed(&mut self, at: DateTime<Utc>, handled_by: &str, agent: Option<&str>) -> anyhow::Result<()> {
        let closed = ConversationClosed {
            conversation_id: self.conversation_id.clone(),
            reason: if handled_by == "bot" { "idle" } else { "resolved" }.into(),
            customer_id: self.customer_id.clone(),
            channel: self.channel.into(),
            handled_by: handled_by.into(),
        };
        self.on_conversation(Body::ConversationClosed(closed), at)?;
        let Some(agent) = agent else { return Ok(()) };
        let released =
            ConversationReleased { conversation_id: self.conversation_id.clone(), agent_id: agent.into() };
        self.emit(agent, Body::ConversationReleased(released), at)
    }

    /// An event of an aggregate whose id is the conversation's.
    fn on_conversation(&mut self, body: Body, at: DateTime<Utc>) -> anyhow::Result<()> {
        let id = self.conversation_id.clone();
        self.emit(&id, body, at)
    }

    /// Stamps the event at `at` (never later than now) and keeps it.
    fn emit(&mut self, aggregate_id: &str, body: Body, at: DateTime<Utc>) -> anyhow::Result<()> {
        let mut event = Draft::new(self.tenant.name, aggregate_id, body).build()?;
        event.occurred_at = Some(to_timestamp(at.min(self.now)));
        self.events.push(event);
        Ok(())
    }

    /// One of `texts`, with an order number filled in.
    fn text(&mut self, texts: &[&str]) -> String {
        let text = self.rng.pick(texts);
        text.replace("{order}", &(100_000 + self.rng.below(900_000)).to_string())
    }

    /// When a conversation still open started: mostly in the last hours, some days ago.
    fn recent(&mut self) -> DateTime<Utc> {
        let minutes = match self.rng.below(10) {
            0..7 => self.rng.below(4 * 60),
            7..9 => 4 * 60 + self.rng.below(20 * 60),
            _ => 24 * 60 + self.rng.below(48 * 60),
        };
        self.now - Duration::minutes(minutes as i64)
    }

    /// When a resolved conversation started: in the last 60 days.
    fn past(&mut self) -> DateTime<Utc> {
        self.now - Duration::minutes((2 * 24 * 60 + self.rng.below(58 * 24 * 60)) as i64)
    }
}
