//! Turns each `MessageClassified` into a `MessageRouted` decision and, for answers, a `ReplyRequested`.

use std::sync::Arc;

use async_nats::jetstream::consumer::PullConsumer;
use switchboard_bus::{Bus, Delivery, Draft, Handler, HandlerError, process};
use switchboard_projection::Task;
use switchboard_proto::{
    events::v1::{Event, MessageClassified, MessageRouted, ReplyRequested, RouteAction, event::Body},
    knowledge::v1::{GetArticleRequest, SearchRequest, knowledge_client::KnowledgeClient},
};
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use uuid::Uuid;

use crate::{
    CONSUMER,
    rules::{Action, Facts, Rule, Rules},
};

/// Characters of an article an automated reply quotes at most.
const MAX_REPLY_CHARS: usize = 700;
/// Characters of a message used as the search query at most (knowledge takes up to 1000).
const MAX_QUERY_CHARS: usize = 500;

/// Messages handled at once.
pub(crate) const CONCURRENCY: usize = 64;

pub(crate) fn spawn(bus: Bus, consumer: PullConsumer, decider: Decider, shutdown: CancellationToken) -> Task {
    tokio::spawn(async move {
        process(&bus, &consumer, CONSUMER, &decider, CONCURRENCY, &shutdown).await.map_err(Into::into)
    })
}

pub(crate) struct Decider {
    bus: Bus,
    rules: Arc<Rules>,
    knowledge: KnowledgeClient<Channel>,
    min_answer_score: f32,
}

/// An answer found in the knowledge base.
struct Answer {
    article_id: String,
    text: String,
}

impl Decider {
    pub(crate) fn new(
        bus: Bus,
        rules: Arc<Rules>,
        knowledge: KnowledgeClient<Channel>,
        min_answer_score: f32,
    ) -> Self {
        Self { bus, rules, knowledge, min_answer_score }
    }

    async fn publish(&self, cause: &Event, aggregate_id: &str, body: Body) -> Result<(), HandlerError> {
        let event = Draft::caused_by(cause, aggregate_id, body)
            .build()
            .map_err(|error| HandlerError::Permanent(error.to_string()))?;
        self.bus.publish(&event).await.map_err(|error| HandlerError::Unavailable(error.to_string()))?;
        Ok(())
    }

    /// The best article for the text, if one is relevant enough.
    async fn answer(&self, text: &str) -> Result<Option<Answer>, tonic::Status> {
        let mut knowledge = self.knowledge.clone();
        let query = text.chars().take(MAX_QUERY_CHARS).collect();
        let search = SearchRequest { query, locale: String::new(), limit: 1 };
        let hits = knowledge.search(search).await?.into_inner().hits;
        let Some(hit) = hits.into_iter().find(|hit| hit.score >= self.min_answer_score) else {
            return Ok(None);
        };
        let article = knowledge
            .get_article(GetArticleRequest { article_id: hit.article_id.clone() })
            .await?
            .into_inner();
        let body: String = article.body.chars().take(MAX_REPLY_CHARS).collect();
        Ok(Some(Answer { article_id: hit.article_id, text: format!("{}\n\n{}", article.title, body.trim()) }))
    }
}

impl Handler<Event> for Decider {
    async fn handle(&self, event: Event, delivery: &Delivery) -> Result<(), HandlerError> {
        let Some(Body::MessageClassified(classified)) = &event.body else {
            return Ok(());
        };
        let facts =
            Facts { text: &classified.text, intent: &classified.intent, confidence: classified.confidence };
        let (rule, reason) = self.rules.evaluate(&facts);
        let mut routed = decision(classified, rule, reason);
        let mut reply = None;
        if rule.action == Action::Answer {
            match self.answer(&classified.text).await {
                Ok(Some(answer)) => {
                    routed.article_ids = vec![answer.article_id.clone()];
                    reply = Some(answer);
                }
                Ok(None) => fall_back(&mut routed, "no article answers it confidently".into()),
                Err(status) if status.code() == tonic::Code::InvalidArgument => {
                    fall_back(
                        &mut routed,
                        format!("the knowledge base cannot search it: {}", status.message()),
                    );
                }
                Err(status) if delivery.deliveries < self.bus.config().max_deliver => {
                    return Err(HandlerError::Transient(format!(
                        "knowledge search failed: {}",
                        status.message()
                    )));
                }
                Err(status) => fall_back(&mut routed, format!("knowledge unavailable: {}", status.message())),
            }
        }
        tracing::info!(
            message_id = classified.message_id,
            rule = routed.rule,
            action = routed.action,
            queue = routed.queue,
            "message routed"
        );
        self.publish(&event, &classified.message_id, Body::MessageRouted(routed)).await?;
        if let Some(answer) = reply {
            let requested = reply_request(classified, answer);
            self.publish(&event, &requested.reply_id.clone(), Body::ReplyRequested(requested)).await?;
        }
        Ok(())
    }
}

fn decision(classified: &MessageClassified, rule: &Rule, reason: String) -> MessageRouted {
    MessageRouted {
        conversation_id: classified.conversation_id.clone(),
        message_id: classified.message_id.clone(),
        channel: classified.channel,
        intent: classified.intent.clone(),
        action: rule.action.wire().into(),
        queue: rule.queue.clone(),
        priority: rule.priority.wire().into(),
        rule: rule.name.clone(),
        reason,
        article_ids: Vec::new(),
    }
}

/// Automation could not answer: the message waits for a human in the rule's queue.
fn fall_back(routed: &mut MessageRouted, why: String) {
    routed.action = RouteAction::Queue.into();
    routed.reason = format!("{}; {why}, so a human takes it", routed.reason);
}

fn reply_request(classified: &MessageClassified, answer: Answer) -> ReplyRequested {
    // One reply per message, whatever the redeliveries: its id derives from the message id.
    let reply_id = Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("reply/{}", classified.message_id).as_bytes());
    ReplyRequested {
        reply_id: reply_id.to_string(),
        conversation_id: classified.conversation_id.clone(),
        in_reply_to: classified.message_id.clone(),
        customer_id: classified.customer_id.clone(),
        channel: classified.channel,
        text: answer.text,
        article_ids: vec![answer.article_id],
    }
}
