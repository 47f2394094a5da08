//! Multi-turn playbooks: a conversation with a playbook under way goes on with it (unless the
//! customer asks for a human, which ends it); a rule may start one. The state is the last
//! `PlaybookProgressed` of the conversation.

use switchboard_bus::{DEFAULT_TENANT, Draft, HandlerError};
use switchboard_proto::events::v1::{
    MessageClassified, MessageRouted, PlaybookProgressed, Priority as WirePriority, RouteAction, event::Body,
};

use super::{Answer, Decider, Turn};
use crate::playbooks::{Playbook, leads};
use crate::rules::{Action, Decision, HandoffReason, Rules};

impl Decider {
    /// The playbook step this message takes, if a playbook is under way or the rule starts one.
    pub(super) async fn playbook_step(
        &self,
        classified: &MessageClassified,
        decision: &Decision<'_>,
        rules: &Rules,
    ) -> Result<Option<leads::Step>, HandlerError> {
        let Some(settings) = rules.playbooks().lead_qualification.as_ref() else { return Ok(None) };
        let customer_asked = decision.rule.then.handoff == Some(HandoffReason::CustomerAsked);
        if let Some(state) = self.session(&classified.conversation_id).await? {
            if customer_asked {
                self.end_session(state).await?;
                return Ok(None);
            }
            return Ok(Some(leads::answer(settings, state, &classified.text)));
        }
        let starts = decision.rule.then.action == Some(Action::Answer)
            && decision.rule.then.playbook == Some(Playbook::LeadQualification);
        Ok(starts.then(|| leads::start(settings, &classified.conversation_id)))
    }

    /// The conversation's playbook state, if one is under way.
    async fn session(&self, conversation_id: &str) -> Result<Option<PlaybookProgressed>, HandlerError> {
        let last = self
            .bus
            .last_event_of("playbook", conversation_id)
            .await
            .map_err(|error| HandlerError::Unavailable(error.to_string()))?;
        Ok(last.and_then(|(event, _)| match event.body {
            Some(Body::PlaybookProgressed(state)) if !state.done => Some(state),
            _ => None,
        }))
    }

    async fn end_session(&self, mut state: PlaybookProgressed) -> Result<(), HandlerError> {
        state.done = true;
        state.asking.clear();
        let conversation = state.conversation_id.clone();
        let event = Draft::new(DEFAULT_TENANT, conversation, Body::PlaybookProgressed(state))
            .build()
            .map_err(|error| HandlerError::Permanent(error.to_string()))?;
        self.bus.publish(&event).await.map_err(|error| HandlerError::Unavailable(error.to_string()))?;
        Ok(())
    }

    /// Publishes the step: the playbook's state, the decision, and the bot's reply.
    pub(super) async fn follow(
        &self,
        step: leads::Step,
        turn: Turn<'_>,
        mut routed: MessageRouted,
    ) -> Result<(), HandlerError> {
        let queue =
            turn.rules.playbooks().lead_qualification.as_ref().map(|s| s.queue.clone()).unwrap_or_default();
        routed.queue = queue;
        routed.rule_action = "answer".into();
        if turn.decision.rule.then.playbook != Some(Playbook::LeadQualification) {
            routed.rule = format!("playbook:{}", leads::NAME);
        }
        let (state, reply) = match step {
            leads::Step::Ask { reply, state } => {
                routed.action = RouteAction::AutoReply.into();
                routed.reason = format!("lead qualification: asking for {}", state.asking);
                (state, Some(reply))
            }
            leads::Step::Qualified { reply, state } => {
                routed.action = RouteAction::Queue.into();
                routed.reason = format!(
                    "lead qualification: qualified\n{}",
                    leads::summary(&state.collected.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                );
                routed.tags.push("qualified-lead".into());
                routed.collected = state.collected.clone();
                self.hand_off(&turn, &mut routed, HandoffReason::Policy, false).await?;
                (state, Some(reply))
            }
            leads::Step::HandOff { state } => {
                routed.action = RouteAction::Escalate.into();
                routed.priority = routed.priority.max(WirePriority::High.into());
                routed.reason =
                    "lead qualification: two answers in a row did not fit, so a human takes over".into();
                routed.collected = state.collected.clone();
                self.hand_off(&turn, &mut routed, HandoffReason::LowConfidence, false).await?;
                (state, None)
            }
        };
        let progressed =
            Draft::caused_by(turn.event, state.conversation_id.clone(), Body::PlaybookProgressed(state))
                .build()
                .map_err(|error| HandlerError::Permanent(error.to_string()))?;
        self.bus.publish(&progressed).await.map_err(|error| HandlerError::Unavailable(error.to_string()))?;
        let reply = reply.map(|text| Answer { article_ids: Vec::new(), text });
        self.conclude(&turn, routed, reply).await
    }
}
