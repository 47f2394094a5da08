//! Asking which article the customer means, and taking the answer (see `playbooks::clarify`).

use switchboard_bus::HandlerError;
use switchboard_proto::{
    events::v1::{IntentCorrected, MessageRouted, PlaybookProgressed, RouteAction, event::Body},
    knowledge::v1::Alternative,
};

use super::{Answer, Decider, Turn};
use crate::facts::conversation_language;
use crate::playbooks::clarify::{self, Choice, NAME, Offered, Question};
use crate::rules::HandoffReason;

/// Who an intent learned from a customer's choice is credited to.
const CHOSEN_BY: &str = "customer";

impl Decider {
    /// Asks the customer which of `alternatives` they mean: the question's state, the decision
    /// (an automated reply) and the question, numbered, with quick replies.
    pub(super) async fn ask_to_choose(
        &self,
        turn: &Turn<'_>,
        mut routed: MessageRouted,
        alternatives: Vec<Alternative>,
    ) -> Result<(), HandlerError> {
        let classified = turn.classified;
        let offered: Vec<Offered> = alternatives.into_iter().map(offered_from).collect();
        let question = Question {
            message_id: classified.message_id.clone(),
            text: classified.text.clone(),
            intent: classified.intent.clone(),
            queue: routed.queue.clone(),
            language: conversation_language(classified).to_string(),
        };
        let state = clarify::start(&classified.conversation_id, &question, &offered);
        let titles: Vec<&str> = offered.iter().map(|option| option.title.as_str()).collect();
        let (text, options) = clarify::prompt(&question.language, &titles);
        routed.action = RouteAction::AutoReply.into();
        routed.reason = format!(
            "{}; the knowledge base has no confident answer, so the customer is asked which of {} articles \
             they mean",
            routed.reason,
            offered.len()
        );
        routed.collected = clarify::shown(&state);
        self.publish_state(turn, state).await?;
        self.conclude(turn, routed, Some(Answer { article_ids: Vec::new(), text, options })).await
    }

    /// The customer's answer to the question `state` asks: the chosen article's answer (and what
    /// it teaches the classifier), or a person when none fits. `false` when the message answers
    /// nothing: the question is dropped and the message is decided as any other.
    pub(super) async fn take_choice(
        &self,
        turn: &Turn<'_>,
        state: PlaybookProgressed,
        mut routed: MessageRouted,
    ) -> Result<bool, HandlerError> {
        let (offered, question) = (clarify::offered(&state), clarify::question(&state));
        let titles: Vec<&str> = offered.iter().map(|option| option.title.as_str()).collect();
        let choice = clarify::choice(&turn.classified.text, &titles);
        let shown = clarify::shown(&state);
        self.end_session(turn.tenant, state).await?;
        routed.rule = format!("playbook:{NAME}");
        routed.rule_action = "answer".into();
        routed.collected = shown;
        match choice {
            Choice::Other => Ok(false),
            Choice::Article(at) => {
                let Some(chosen) = offered.get(at) else { return Ok(false) };
                routed.action = RouteAction::AutoReply.into();
                routed.reason = format!("{NAME}: the customer chose article {}", chosen.article_id);
                routed.article_ids = vec![chosen.article_id.clone()];
                if !chosen.intent.is_empty() {
                    routed.intent.clone_from(&chosen.intent);
                    self.learn(turn, &question, chosen).await?;
                }
                let answer = Answer {
                    article_ids: vec![chosen.article_id.clone()],
                    text: clarify::answer(chosen),
                    options: Vec::new(),
                };
                self.conclude(turn, routed, Some(answer)).await?;
                Ok(true)
            }
            Choice::NoneOfThese => {
                routed.action = RouteAction::Queue.into();
                if !question.queue.is_empty() {
                    routed.queue = question.queue;
                }
                routed.reason = format!("{NAME}: none of the articles offered fits, so a human takes it");
                self.hand_off(turn, &mut routed, HandoffReason::MissingKnowledge, false).await?;
                if let Some(packet) = routed.handoff.as_mut() {
                    // What the question was about, not what "none of these" reads as.
                    packet.intent = question.intent;
                    packet.question = question.text;
                    let ids: Vec<&str> = offered.iter().map(|option| option.article_id.as_str()).collect();
                    packet.bot_attempts.push(format!("offered articles {}; none fits", ids.join(", ")));
                }
                self.conclude(turn, routed, None).await?;
                Ok(true)
            }
        }
    }

    async fn publish_state(&self, turn: &Turn<'_>, state: PlaybookProgressed) -> Result<(), HandlerError> {
        let conversation_id = state.conversation_id.clone();
        self.publish(turn.event, &conversation_id, Body::PlaybookProgressed(state)).await
    }

    /// The intent of the article the customer chose, as feedback for the next training of the
    /// question's classification (when it differs from what the classifier said).
    async fn learn(
        &self,
        turn: &Turn<'_>,
        question: &Question,
        chosen: &Offered,
    ) -> Result<(), HandlerError> {
        if chosen.intent == question.intent || question.message_id.is_empty() {
            return Ok(());
        }
        let corrected = IntentCorrected {
            message_id: question.message_id.clone(),
            text: question.text.clone(),
            intent: chosen.intent.clone(),
            previous_intent: question.intent.clone(),
            agent_id: CHOSEN_BY.into(),
        };
        self.publish(turn.event, &question.message_id, Body::IntentCorrected(corrected)).await
    }
}

fn offered_from(alternative: Alternative) -> Offered {
    Offered {
        intent: clarify::intent_of(&alternative.tags),
        article_id: alternative.article_id,
        title: alternative.title,
        passage: alternative.passage,
        version: alternative.version,
    }
}
