//! Turns each `MessageClassified` into a `MessageRouted` decision and, for answers, a `ReplyRequested`.

use std::sync::Arc;

use async_nats::jetstream::consumer::PullConsumer;
use chrono::{DateTime, Utc};
use switchboard_bus::{Bus, Delivery, Draft, Handler, HandlerError, process, tenant_of};
use switchboard_projection::{Task, wait_for_checkpoint};
use switchboard_proto::{
    events::v1::{
        Channel, Event, MessageClassified, MessageRouted, Priority as WirePriority, ReplyRequested,
        RouteAction, event::Body,
    },
    knowledge::v1::{Alternative, AnswerRequest},
};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

mod asking;
mod returns;
mod sessions;
mod sim;

use crate::{
    CONSUMER,
    customers::Directory,
    facts::{Context, conversation_language, facts_of, routed_for},
    handoff,
    knowledge::Knowledge,
    playbooks::{
        Playbook, account, after_hours, clarify, identity, in_other_language, local_time, orders,
        orders::Lookup, password_reset,
    },
    rules::{Action, Decision, HandoffReason, Rules},
    store::RuleStore,
};

/// Characters of a message asked as the question at most (knowledge takes up to 1000).
const MAX_QUESTION_CHARS: usize = 1000;

/// How long a hand-off waits for the conversation's earlier turns in the read model.
const HISTORY_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Messages handled at once.
pub(crate) const CONCURRENCY: usize = 64;

pub(crate) fn spawn(bus: Bus, consumer: PullConsumer, decider: Decider, shutdown: CancellationToken) -> Task {
    tokio::spawn(async move {
        process(&bus, &consumer, CONSUMER, &decider, CONCURRENCY, &shutdown).await.map_err(Into::into)
    })
}

pub(crate) struct Decider {
    bus: Bus,
    rules: Arc<RuleStore>,
    directory: Directory,
    knowledge: Knowledge,
    min_answer_confidence: f32,
    /// The router projection's checkpoint: hand-offs wait for it to hold the conversation so far.
    checkpoint: watch::Receiver<u64>,
}

/// A reply of the bot: an answer found in the knowledge base, or a playbook's text.
struct Answer {
    article_ids: Vec<String>,
    text: String,
    /// Quick replies the customer may pick.
    options: Vec<String>,
}

impl Answer {
    /// A reply that cites no article.
    fn said(text: String) -> Self {
        Self { article_ids: Vec::new(), text, options: Vec::new() }
    }
}

/// What a question found: an answer, articles to ask the customer to choose between, or nothing.
enum Found {
    Answer(Answer),
    Choose(Vec<Alternative>),
    Nothing,
}

impl Found {
    /// The answer, if there is one (a playbook that cannot ask takes only that).
    fn answer(self) -> Option<Answer> {
        match self {
            Found::Answer(answer) => Some(answer),
            Found::Choose(_) | Found::Nothing => None,
        }
    }
}

impl From<Option<Answer>> for Found {
    fn from(answer: Option<Answer>) -> Self {
        answer.map_or(Found::Nothing, Found::Answer)
    }
}

impl Decider {
    pub(crate) fn new(
        bus: Bus,
        rules: Arc<RuleStore>,
        directory: Directory,
        knowledge: Knowledge,
        min_answer_confidence: f32,
        checkpoint: watch::Receiver<u64>,
    ) -> Self {
        Self { bus, rules, directory, knowledge, min_answer_confidence, checkpoint }
    }

    async fn publish(&self, cause: &Event, aggregate_id: &str, body: Body) -> Result<(), HandlerError> {
        let event = Draft::caused_by(cause, aggregate_id, body).build()?;
        self.bus.publish(&event).await?;
        Ok(())
    }

    /// `tenant`'s knowledge base's cited answer in the conversation's language, if it has one;
    /// else up to `offer` relevant articles to ask about; else, where the rules allow it, the
    /// answer from another language's article on the same (sure) intent, said to be so.
    async fn answer(
        &self,
        tenant: &str,
        classified: &MessageClassified,
        offer: u32,
        rules: &Rules,
    ) -> Result<Found, tonic::Status> {
        let language = conversation_language(classified);
        let sure_intent = if classified.out_of_scope { "" } else { classified.intent.as_str() };
        let request = AnswerRequest {
            question: classified.text.chars().take(MAX_QUESTION_CHARS).collect(),
            locale: language.to_string(),
            conversation_id: classified.conversation_id.clone(),
            min_confidence: self.min_answer_confidence,
            max_alternatives: offer,
            intent: sure_intent.to_string(),
            other_locales: rules.playbooks().other_languages.allowed().to_vec(),
            // A message decided again (redelivered) is one question to the knowledge base.
            request_key: classified.message_id.clone(),
        };
        let answer = self.knowledge.answer(tenant, request).await?;
        if !answer.answered {
            return Ok(if answer.alternatives.len() >= 2 {
                Found::Choose(answer.alternatives)
            } else {
                Found::Nothing
            });
        }
        let mut text = format!("{}\n\n({})", answer.passage.trim(), answer.title);
        if answered_elsewhere(&answer.locale, language) {
            text = in_other_language(&text, &answer.locale, language);
        }
        Ok(Found::Answer(Answer { article_ids: vec![answer.article_id], text, options: Vec::new() }))
    }

    /// The rule's playbook: an order's status, the password-reset path, or a cited answer.
    async fn resolve(
        &self,
        tenant: &str,
        classified: &MessageClassified,
        rules: &Rules,
        playbook: Playbook,
    ) -> Result<Found, tonic::Status> {
        let language = conversation_language(classified);
        // Articles to ask about when unsure, where asking is on.
        let offer = if rules.playbooks().clarify.ask { clarify::MAX_OPTIONS } else { 0 };
        let channel = Channel::try_from(classified.channel).unwrap_or(Channel::Unspecified);
        let verify_first = || Some(Answer::said(identity::verify_first(channel, language)));
        match playbook {
            // Multi-turn playbooks are taken before a single answer is looked for.
            Playbook::Faq | Playbook::LeadQualification | Playbook::Returns | Playbook::Booking => {
                self.answer(tenant, classified, offer, rules).await
            }
            Playbook::SimActivation if !classified.customer_verified => Ok(verify_first().into()),
            Playbook::SimActivation => self.answer(tenant, classified, offer, rules).await,
            Playbook::AccountBalance | Playbook::DataUsage if !classified.customer_verified => {
                Ok(verify_first().into())
            }
            Playbook::AccountBalance | Playbook::DataUsage => {
                let found = account::find(self.directory.pool(), tenant, &classified.customer_id)
                    .await
                    .map_err(|error| tonic::Status::unavailable(format!("router read model: {error}")))?;
                // Without an account a person takes it (the reply would be a guess).
                Ok(Found::from(found.map(|account| {
                    let text = if playbook == Playbook::DataUsage {
                        account::usage_reply(&account, language)
                    } else {
                        account::balance_reply(&account, language)
                    };
                    Answer::said(text)
                })))
            }
            Playbook::PasswordReset => Ok(rules
                .playbooks()
                .password_reset
                .as_ref()
                .map(|settings| Answer::said(password_reset(settings, language)))
                .into()),
            // How tracking works, from the knowledge base, but no one's order: else the way to be
            // verified (never a dead end).
            Playbook::OrderStatus if !classified.customer_verified => {
                Ok(self.answer(tenant, classified, 0, rules).await?.answer().or_else(verify_first).into())
            }
            Playbook::OrderStatus => {
                let said = |text: String| Ok(Found::Answer(Answer::said(text)));
                match orders::find(&self.bus, self.directory.pool(), tenant, classified).await {
                    Ok(Lookup::Found(order)) => said(orders::reply(&order, language)),
                    Ok(Lookup::Unknown(number)) => said(orders::not_found(Some(&number), language)),
                    // No order to tell: the knowledge base may answer how tracking works; else
                    // the customer is asked for the number.
                    Ok(Lookup::NoOrder) => match self.answer(tenant, classified, 0, rules).await?.answer() {
                        Some(answer) => Ok(Found::Answer(answer)),
                        None => said(orders::not_found(None, language)),
                    },
                    Err(error) => Err(tonic::Status::unavailable(format!("router read model: {error}"))),
                }
            }
        }
    }

    /// Waits until the read model holds everything before this message (the projection applies
    /// this very event too).
    async fn caught_up(&self, delivery: &Delivery, classified: &MessageClassified) {
        if !wait_for_checkpoint(&self.checkpoint, delivery.stream_sequence, HISTORY_WAIT).await {
            tracing::warn!(message_id = classified.message_id, "deciding on a lagging read model");
        }
    }
}

impl Handler<Event> for Decider {
    async fn handle(&self, event: Event, delivery: &Delivery) -> Result<(), HandlerError> {
        let Some(Body::MessageClassified(classified)) = &event.body else {
            return Ok(());
        };
        let at = switchboard_proto::time::to_datetime(event.occurred_at.as_ref());
        let tenant = tenant_of(&event);
        let active = self.rules.current(tenant);
        let context = Context::read(&self.directory, tenant, &active.rules, classified, at).await?;
        let decision = active.rules.evaluate(&facts_of(classified, &context, at));
        let tier = context.customer.as_ref().map_or("", |c| c.tier.as_str());
        let turn = Turn {
            event: &event,
            tenant,
            delivery,
            classified,
            decision: &decision,
            rules: &active.rules,
            tier,
            at,
        };
        let customer_asked = decision.rule.then.handoff == Some(HandoffReason::CustomerAsked);
        let under_way = match self.under_way(tenant, classified, &active.rules).await? {
            // An answer to the bot's question, unless the customer asks for a person instead.
            Some(state) if state.playbook == clarify::NAME && !customer_asked => {
                let routed = routed_for(classified, &decision, active.version);
                if self.take_choice(&turn, state, routed).await? {
                    return Ok(());
                }
                None
            }
            other => other,
        };
        let step = self.playbook_step(tenant, classified, &decision, &active.rules, (at, under_way)).await?;
        if let Some(step) = step {
            return self.follow(step, turn, routed_for(classified, &decision, active.version)).await;
        }
        if decision.rule.then.action == Some(Action::Answer)
            && decision.rule.then.playbook == Some(Playbook::Returns)
        {
            return self.open_return(turn, routed_for(classified, &decision, active.version)).await;
        }
        let mut routed = routed_for(classified, &decision, active.version);
        let mut reply = None;
        let mut answer_failed = false;
        let mut after_hours_reply = None;
        if decision.rule.then.action == Some(Action::Answer) {
            let playbook = decision.rule.then.playbook.unwrap_or_default();
            match self.resolve(tenant, classified, &active.rules, playbook).await {
                Ok(Found::Answer(answer)) => {
                    routed.article_ids.clone_from(&answer.article_ids);
                    reply = Some(answer);
                }
                Ok(Found::Choose(alternatives)) => {
                    return self.ask_to_choose(&turn, routed, alternatives).await;
                }
                Ok(Found::Nothing) => {
                    fall_back(&mut routed, "the knowledge base has no confident answer".into())
                }
                Err(status) if status.code() == tonic::Code::InvalidArgument => {
                    fall_back(
                        &mut routed,
                        format!("the knowledge base cannot search it: {}", status.message()),
                    );
                }
                Err(status) if delivery.deliveries < self.bus.config().max_deliver => {
                    return Err(HandlerError::Transient(format!(
                        "knowledge answer failed: {}",
                        status.message()
                    )));
                }
                Err(status) => fall_back(&mut routed, format!("knowledge unavailable: {}", status.message())),
            }
            answer_failed = reply.is_none();
        }
        if reply.is_none()
            && let Some(calendar) =
                decision.after_hours.as_deref().and_then(|name| active.rules.calendar(name))
        {
            let opens = calendar.next_open(at);
            routed.expected_response = opens.map(switchboard_proto::time::to_timestamp);
            let language = conversation_language(classified);
            let text = after_hours(opens.map(|at| local_time(calendar, at, language)).as_deref(), language);
            after_hours_reply = Some(Answer::said(text));
        }
        if reply.is_none() {
            let reason = handoff::reason(&decision, classified, answer_failed);
            self.hand_off(&turn, &mut routed, reason, answer_failed).await?;
        }
        self.conclude(&turn, routed, reply.or(after_hours_reply)).await
    }
}

impl Decider {
    /// A human takes it: escalates when automation failed in this conversation before, and
    /// attaches the hand-off packet.
    async fn hand_off(
        &self,
        turn: &Turn<'_>,
        routed: &mut MessageRouted,
        reason: HandoffReason,
        answer_failed: bool,
    ) -> Result<(), HandlerError> {
        let classified = turn.classified;
        // A conversation's first message has no history: nothing to wait for or read.
        let (earlier, attempts) = if classified.starts_conversation {
            (Vec::new(), Vec::new())
        } else {
            self.caught_up(turn.delivery, classified).await;
            let (pool, tenant) = (self.directory.pool(), turn.tenant);
            handoff::history(pool, tenant, &classified.conversation_id, &classified.message_id).await?
        };
        if answer_failed && attempts.iter().any(|attempt| !attempt.answered) {
            routed.action = RouteAction::Escalate.into();
            routed.priority = routed.priority.max(WirePriority::High.into());
            routed.reason.push_str("; automation failed twice in this conversation, so it escalates");
        }
        routed.handoff = Some(handoff::packet(reason, classified, routed, &earlier, &attempts));
        Ok(())
    }

    /// Names the SLA policy when a human takes it (the desk starts its targets) and the rule
    /// set's `pending`, then publishes the decision and the reply.
    async fn conclude(
        &self,
        turn: &Turn<'_>,
        mut routed: MessageRouted,
        reply: Option<Answer>,
    ) -> Result<(), HandlerError> {
        if routed.action() != RouteAction::AutoReply {
            routed.sla = turn.rules.sla_on_the_wire(turn.decision.priority, turn.tier);
        }
        routed.pending = turn.rules.pending_on_the_wire();
        tracing::info!(
            message_id = turn.classified.message_id,
            rule = routed.rule,
            action = routed.action,
            queue = routed.queue,
            "message routed"
        );
        self.publish(turn.event, &turn.classified.message_id, Body::MessageRouted(routed)).await?;
        if let Some(answer) = reply {
            let requested = reply_request(turn.classified, answer);
            self.publish(turn.event, &requested.reply_id.clone(), Body::ReplyRequested(requested)).await?;
        }
        Ok(())
    }
}

/// One message being decided, and what it is decided with.
struct Turn<'a> {
    event: &'a Event,
    /// The event's tenant: everything the decision reads and writes is that tenant's.
    tenant: &'a str,
    delivery: &'a Delivery,
    classified: &'a MessageClassified,
    decision: &'a Decision<'a>,
    rules: &'a Rules,
    tier: &'a str,
    at: DateTime<Utc>,
}

/// Automation could not answer: the message waits for a human in the rule's queue.
/// Whether the article that answered is in another language than the conversation's (a
/// language the bot serves: an undetermined one searched every language).
fn answered_elsewhere(article_locale: &str, conversation_language: &str) -> bool {
    let primary = |tag: &str| tag.split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase();
    !article_locale.is_empty()
        && switchboard_phrases::served_as_named(conversation_language).is_some()
        && primary(article_locale) != primary(conversation_language)
}

fn fall_back(routed: &mut MessageRouted, why: String) {
    routed.action = RouteAction::Queue.into();
    routed.reason = format!("{}; {why}, so a human takes it", routed.reason);
}

fn reply_request(classified: &MessageClassified, answer: Answer) -> ReplyRequested {
    // One reply per message, whatever the redeliveries: its id derives from the message id.
    let reply_id = switchboard_bus::key_id(&format!("reply/{}", classified.message_id));
    ReplyRequested {
        reply_id: reply_id.to_string(),
        conversation_id: classified.conversation_id.clone(),
        in_reply_to: classified.message_id.clone(),
        customer_id: classified.customer_id.clone(),
        channel: classified.channel,
        text: answer.text,
        article_ids: answer.article_ids,
        language: conversation_language(classified).to_string(),
        author: String::new(),
        options: answer.options,
    }
}
