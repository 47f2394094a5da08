//! From a classified message (and what the router knows of its customer) to the facts the rules
//! read, and from a decision to the `MessageRouted` event.

use chrono::{DateTime, Utc};
use switchboard_proto::events::v1::{Channel, MessageClassified, MessageRouted};

use crate::customers::Directory;
use crate::rules::{Action, Customer, Decision, Facts, Rules};

/// The customer's profile and earlier conversations.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub customer: Option<Customer>,
    pub contacts: Vec<DateTime<Utc>>,
}

impl Context {
    /// What `rules` can look at, of `tenant`'s customer: the profile always (conditions and SLA
    /// tiers), the earlier conversations only when a rule counts them.
    pub async fn read(
        directory: &Directory,
        tenant: &str,
        rules: &Rules,
        classified: &MessageClassified,
        at: DateTime<Utc>,
    ) -> Result<Self, sqlx::Error> {
        let contacts = if rules.reads_previous_contacts() {
            directory.contacts(tenant, &classified.customer_id, &classified.conversation_id, at).await?
        } else {
            Vec::new()
        };
        Ok(Self { customer: directory.customer(tenant, &classified.customer_id).await?, contacts })
    }
}

pub fn facts_of<'a>(classified: &'a MessageClassified, context: &'a Context, at: DateTime<Utc>) -> Facts<'a> {
    let feeling = classified.feeling.as_ref();
    let language = conversation_language(classified);
    Facts {
        text: &classified.text,
        intent: &classified.intent,
        confidence: classified.confidence,
        language,
        channel: Channel::try_from(classified.channel).unwrap_or(Channel::Unspecified).slug(),
        sentiment: feeling.map_or("neutral", |f| f.sentiment.as_str()),
        sentiment_score: feeling.map_or(0.0, |f| f.sentiment_score),
        urgency: feeling.map_or("normal", |f| f.urgency.as_str()),
        customer: context.customer.as_ref(),
        previous_contacts: &context.contacts,
        at,
    }
}

/// The conversation's language, else the message's, else empty.
pub fn conversation_language(classified: &MessageClassified) -> &str {
    [&classified.conversation_language, &classified.language]
        .into_iter()
        .find(|tag| !tag.is_empty() && tag.as_str() != "und")
        .map_or("", |tag| tag.as_str())
}

/// The decision as an event (automated answers are filled in by the caller).
pub fn routed_for(classified: &MessageClassified, decision: &Decision<'_>, version: u32) -> MessageRouted {
    let then = &decision.rule.then;
    MessageRouted {
        conversation_id: classified.conversation_id.clone(),
        message_id: classified.message_id.clone(),
        channel: classified.channel,
        intent: classified.intent.clone(),
        action: then.action.unwrap_or(Action::Queue).wire().into(),
        queue: then.queue.clone().unwrap_or_default(),
        priority: decision.priority.wire().into(),
        rule: decision.rule.name.clone(),
        reason: decision.reason.clone(),
        article_ids: Vec::new(),
        tags: decision.tags.clone(),
        inputs: decision.inputs.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        rules_version: version,
        fired: decision.fired.clone(),
        notify: decision.notify.clone(),
        webhooks: decision.webhooks.clone(),
        assignment: decision.assignment.map(|a| a.name().to_string()).unwrap_or_default(),
        rule_action: then.action.unwrap_or(Action::Queue).name().to_string(),
        handoff: None,
        expected_response: None,
        collected: Default::default(),
        skills: then.skills.clone(),
        language: conversation_language(classified).to_string(),
        sla: None,
        pending: None,
    }
}
