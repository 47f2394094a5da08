//! Multi-turn playbooks: a conversation with a playbook under way goes on with it (unless the
//! customer asks for a human, which ends it); a rule may start one. The state is the last
//! `PlaybookProgressed` of the tenant's conversation; booking slots are the tenant's own.

use chrono::{DateTime, Utc};
use switchboard_bus::{Draft, Expected, HandlerError};
use switchboard_proto::events::v1::{
    BookingConfirmed, MessageClassified, MessageRouted, PlaybookProgressed, Priority as WirePriority,
    RouteAction, event::Body,
};
use switchboard_proto::time::to_timestamp;

use super::{Answer, Decider, Turn};
use crate::facts::conversation_language;
use crate::playbooks::{Playbook, Step, account, booking, leads};
use crate::rules::{Action, Decision, HandoffReason, Rules};

impl Decider {
    /// The playbook under way in the tenant's conversation, if one can be: none is without a
    /// multi-turn playbook or clarifying questions configured, nor in a new conversation.
    pub(super) async fn under_way(
        &self,
        tenant: &str,
        classified: &MessageClassified,
        rules: &Rules,
    ) -> Result<Option<PlaybookProgressed>, HandlerError> {
        let playbooks = rules.playbooks();
        let configured = playbooks.lead_qualification.is_some()
            || playbooks.booking.is_some()
            || playbooks.sim_activation.is_some()
            || playbooks.clarify.ask;
        if !configured || classified.starts_conversation {
            return Ok(None);
        }
        self.session(tenant, &classified.conversation_id).await
    }

    /// The playbook step this message takes, if a playbook is `under_way` or the rule starts one.
    pub(super) async fn playbook_step(
        &self,
        tenant: &str,
        classified: &MessageClassified,
        decision: &Decision<'_>,
        rules: &Rules,
        (at, under_way): (DateTime<Utc>, Option<PlaybookProgressed>),
    ) -> Result<Option<Step>, HandlerError> {
        let conversation = &classified.conversation_id;
        let language = conversation_language(classified);
        let customer_asked = decision.rule.then.handoff == Some(HandoffReason::CustomerAsked);
        if let Some(state) = under_way {
            if customer_asked {
                self.end_session(tenant, state).await?;
                return Ok(None);
            }
            return self.continue_session(tenant, state, classified, rules, at).await;
        }
        if decision.rule.then.action != Some(Action::Answer) {
            return Ok(None);
        }
        match decision.rule.then.playbook {
            Some(Playbook::LeadQualification) => {
                Ok(rules.playbooks().lead_qualification.as_ref().map(|s| leads::start(s, conversation)))
            }
            Some(Playbook::Booking) => self.booking_offer(tenant, rules, conversation, at, 0, language).await,
            // An unverified customer is told how to be verified instead (see `resolve`).
            Some(Playbook::SimActivation) if classified.customer_verified => {
                Ok(rules.playbooks().sim_activation.as_ref().map(|_| account::start(conversation, language)))
            }
            _ => Ok(None),
        }
    }

    /// The next step of the playbook under way; `None` (and the playbook ended) when the rule
    /// set no longer has it.
    async fn continue_session(
        &self,
        tenant: &str,
        state: PlaybookProgressed,
        classified: &MessageClassified,
        rules: &Rules,
        at: DateTime<Utc>,
    ) -> Result<Option<Step>, HandlerError> {
        let playbooks = rules.playbooks();
        let language = conversation_language(classified);
        if let (account::SIM_ACTIVATION, Some(settings)) =
            (state.playbook.as_str(), &playbooks.sim_activation)
        {
            if !classified.customer_verified {
                // Verification is per message's channel proof: an unverified turn ends it.
                self.end_session(tenant, state).await?;
                return Ok(None);
            }
            return self.sim_answer(tenant, settings, state, classified).await.map(Some);
        }
        match (state.playbook.as_str(), &playbooks.lead_qualification, &playbooks.booking) {
            (leads::NAME, Some(settings), _) => {
                Ok(Some(leads::answer(settings, state, &classified.text, language)))
            }
            (booking::NAME, _, Some(settings)) => {
                let Some(calendar) = rules.calendar(&settings.calendar) else {
                    self.end_session(tenant, state).await?;
                    return Ok(None);
                };
                let Some(start) = booking::chosen(&state, &classified.text) else {
                    return Ok(Some(booking::missed(settings, state, language)));
                };
                if self.book(tenant, settings, classified, start).await? {
                    Ok(Some(booking::confirmed(settings, calendar, state, start, language)))
                } else {
                    // Taken meanwhile by another conversation: a fresh offer.
                    self.booking_offer(tenant, rules, &classified.conversation_id, at, state.misses, language)
                        .await
                }
            }
            _ => {
                self.end_session(tenant, state).await?;
                Ok(None)
            }
        }
    }

    /// The next free slots, or a hand-off when none is free in the next four weeks.
    async fn booking_offer(
        &self,
        tenant: &str,
        rules: &Rules,
        conversation_id: &str,
        at: DateTime<Utc>,
        misses: u32,
        language: &str,
    ) -> Result<Option<Step>, HandlerError> {
        let Some(settings) = rules.playbooks().booking.as_ref() else { return Ok(None) };
        let Some(calendar) = rules.calendar(&settings.calendar) else { return Ok(None) };
        let wanted = settings.offer as usize;
        let mut free = Vec::with_capacity(wanted);
        for start in booking::candidates(settings, calendar, at, wanted * 4) {
            if free.len() == wanted {
                break;
            }
            let taken = self
                .bus
                .last_event_of("booking", tenant, &booking::slot_id(&settings.calendar, start))
                .await?;
            if taken.is_none() {
                free.push(start);
            }
        }
        if free.is_empty() {
            let state = PlaybookProgressed {
                conversation_id: conversation_id.to_string(),
                playbook: booking::NAME.into(),
                done: true,
                ..PlaybookProgressed::default()
            };
            return Ok(Some(Step::HandOff { state, queue: settings.queue.clone() }));
        }
        Ok(Some(booking::offer(settings, calendar, conversation_id, &free, misses, language)))
    }

    /// Books the tenant's slot unless another of its conversations has; `false` when taken.
    async fn book(
        &self,
        tenant: &str,
        settings: &booking::Settings,
        classified: &MessageClassified,
        start: DateTime<Utc>,
    ) -> Result<bool, HandlerError> {
        let slot_id = booking::slot_id(&settings.calendar, start);
        let end = start + chrono::Duration::minutes(i64::from(settings.slot_minutes));
        let body = Body::BookingConfirmed(BookingConfirmed {
            slot_id: slot_id.clone(),
            conversation_id: classified.conversation_id.clone(),
            customer_id: classified.customer_id.clone(),
            calendar: settings.calendar.clone(),
            start: Some(to_timestamp(start)),
            end: Some(to_timestamp(end)),
        });
        let event = Draft::new(tenant, slot_id, body).build()?;
        match self.bus.append(&event, Expected::Empty, None).await {
            Ok(_) => Ok(true),
            Err(switchboard_bus::Error::Conflict { .. }) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// The tenant's conversation's playbook state, if one is under way.
    async fn session(
        &self,
        tenant: &str,
        conversation_id: &str,
    ) -> Result<Option<PlaybookProgressed>, HandlerError> {
        let last = self.bus.last_event_of("playbook", tenant, conversation_id).await?;
        Ok(last.and_then(|(event, _)| match event.body {
            Some(Body::PlaybookProgressed(state)) if !state.done => Some(state),
            _ => None,
        }))
    }

    pub(super) async fn end_session(
        &self,
        tenant: &str,
        mut state: PlaybookProgressed,
    ) -> Result<(), HandlerError> {
        state.done = true;
        state.asking.clear();
        let conversation = state.conversation_id.clone();
        let event = Draft::new(tenant, conversation, Body::PlaybookProgressed(state)).build()?;
        self.bus.publish(&event).await?;
        Ok(())
    }

    /// Publishes the step: the playbook's state, the decision, and the bot's reply.
    pub(super) async fn follow(
        &self,
        step: Step,
        turn: Turn<'_>,
        mut routed: MessageRouted,
    ) -> Result<(), HandlerError> {
        routed.rule_action = "answer".into();
        let playbook = match &step {
            Step::Ask { state, .. } | Step::Done { state, .. } | Step::HandOff { state, .. } => {
                state.playbook.clone()
            }
        };
        if turn.decision.rule.then.playbook.is_none_or(|p| p.name() != playbook) {
            routed.rule = format!("playbook:{playbook}");
        }
        let (state, reply) = match step {
            Step::Ask { reply, state } => {
                routed.action = RouteAction::AutoReply.into();
                routed.reason = format!("{playbook}: asking for {}", state.asking);
                (state, Some(reply))
            }
            Step::Done { reply, state, handover: Some((queue, tag)) } => {
                routed.action = RouteAction::Queue.into();
                routed.queue = queue;
                routed.reason = format!("{playbook}: done, a human takes it over");
                routed.tags.push(tag);
                routed.collected = state.collected.clone();
                self.hand_off(&turn, &mut routed, HandoffReason::Policy, false).await?;
                (state, Some(reply))
            }
            Step::Done { reply, state, handover: None } => {
                routed.action = RouteAction::AutoReply.into();
                routed.reason = format!("{playbook}: done");
                routed.collected = state.collected.clone();
                (state, Some(reply))
            }
            Step::HandOff { state, queue } => {
                routed.action = RouteAction::Escalate.into();
                routed.queue = queue;
                routed.priority = routed.priority.max(WirePriority::High.into());
                routed.reason =
                    format!("{playbook}: two answers in a row did not fit, so a human takes over");
                routed.collected = state.collected.clone();
                self.hand_off(&turn, &mut routed, HandoffReason::LowConfidence, false).await?;
                (state, None)
            }
        };
        let conversation_id = state.conversation_id.clone();
        self.publish(turn.event, &conversation_id, Body::PlaybookProgressed(state)).await?;
        let reply = reply.map(Answer::said);
        self.conclude(&turn, routed, reply).await
    }
}
