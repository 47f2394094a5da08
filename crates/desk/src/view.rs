//! `GetConversation`: the desk's view of one conversation, assembled from the read model, with
//! the knowledge base's suggestions (asked as the conversation's tenant; the view still loads,
//! without them, when knowledge does not answer).

use sqlx::PgPool;
use switchboard_auth::{Authorized, TenantPeer};
use switchboard_proto::{
    desk::v1::{
        Classification, ConversationView, CustomerCard, EarlierConversation, Entry as WireEntry, EntryKind,
        OrderCard, RoutingDecision, SlaTimer, SuggestedArticle,
    },
    events::v1::{Entity, OrderStatus},
    knowledge::v1::{AssistRequest, knowledge_client::KnowledgeClient},
    time::to_timestamp,
};

use crate::{
    Error,
    details::Details,
    grpc::wire,
    listing::wire_status,
    macro_calls, records,
    timeline::{Entry, Kind},
    work,
};

/// The most timeline entries a view shows (the latest).
const MAX_ENTRIES: i64 = 500;
/// Customer messages the knowledge base is asked about.
const ASSIST_MESSAGES: usize = 3;

pub struct Views {
    pub pool: PgPool,
    pub knowledge: TenantPeer,
    /// Links to articles: `{id}` is replaced by the article id; empty: no links.
    pub article_url: String,
}

impl Views {
    pub async fn view(&self, tenant: &str, id: &str) -> Result<ConversationView, Error> {
        let c = work::conversation(&self.pool, tenant, id).await?;
        let entries = records::entries(&self.pool, tenant, id, MAX_ENTRIES).await?;
        let details = records::details(&self.pool, tenant, id).await?;
        let suggestions = self.suggestions(tenant, &c.language, &entries).await;
        let mut macros = macro_calls::list(&self.pool, tenant, "").await?;
        let language = c.language.split('-').next().unwrap_or_default().to_lowercase();
        macros.sort_by_key(|m| !m.body.texts.keys().any(|l| l.to_lowercase().starts_with(&language)));
        Ok(ConversationView {
            customer: Some(self.card(tenant, &c.customer_id, id, &details).await?),
            conversation: Some(wire(&c)),
            entries: entries.iter().map(wire_entry).collect(),
            routing: details.routing.as_ref().map(|r| RoutingDecision {
                rule: r.rule.clone(),
                action: r.action,
                queue: r.queue.clone(),
                priority: r.priority,
                reason: r.reason.clone(),
                tags: r.tags.clone(),
                skills: r.skills.clone(),
            }),
            handoff: details.handoff.clone(),
            sla_timers: timers(&details),
            suggestions,
            macros: macros.iter().map(macro_calls::wire).collect(),
            tags: details.tags.iter().cloned().collect(),
        })
    }

    async fn card(
        &self,
        tenant: &str,
        customer: &str,
        id: &str,
        details: &Details,
    ) -> Result<CustomerCard, Error> {
        let profile = records::customer(&self.pool, tenant, customer).await?.unwrap_or_default();
        let attribute = |names: &[&str]| {
            names.iter().find_map(|n| profile.attributes.get(*n).cloned()).unwrap_or_default()
        };
        let orders = records::orders(&self.pool, tenant, customer).await?;
        let earlier = records::earlier(&self.pool, tenant, customer, id).await?;
        Ok(CustomerCard {
            customer_id: customer.to_string(),
            name: attribute(&["name", "full_name", "first_name"]),
            email: attribute(&["email"]),
            tier: profile.tier.clone(),
            plan: profile.plan.clone(),
            country: profile.country.clone(),
            verified: details.verified,
            orders: orders
                .into_iter()
                .map(|(o, at)| OrderCard {
                    status: OrderStatus::try_from(o.status).map(order_status).unwrap_or_default().into(),
                    order_id: o.order_id,
                    carrier: o.carrier,
                    tracking_number: o.tracking_number,
                    updated_at: Some(to_timestamp(at)),
                })
                .collect(),
            earlier: earlier
                .into_iter()
                .map(|e| EarlierConversation {
                    conversation_id: e.conversation.conversation_id.clone(),
                    created_at: Some(to_timestamp(e.conversation.created_at)),
                    status: wire_status(e.conversation.status()).into(),
                    handled_by: e.closed_by,
                    close_reason: e.close_reason,
                    preview: e.conversation.preview,
                })
                .collect(),
            attributes: profile.attributes.into_iter().collect(),
        })
    }

    /// Articles for the latest customer messages; none when knowledge fails (logged).
    async fn suggestions(&self, tenant: &str, language: &str, entries: &[Entry]) -> Vec<SuggestedArticle> {
        let mut messages: Vec<String> = entries
            .iter()
            .rev()
            .filter(|e| e.kind == Kind::Customer)
            .take(ASSIST_MESSAGES)
            .map(|e| e.text.clone())
            .collect();
        if messages.is_empty() {
            return Vec::new();
        }
        messages.reverse();
        let (channel, credentials) = self.knowledge.for_tenant(tenant);
        let mut client: KnowledgeClient<Authorized> = KnowledgeClient::with_interceptor(channel, credentials);
        let request =
            AssistRequest { messages, locale: language.to_string(), limit: 5, ..AssistRequest::default() };
        match client.assist(request).await {
            Ok(answer) => answer
                .into_inner()
                .hits
                .into_iter()
                .map(|hit| SuggestedArticle {
                    url: self.article_link(&hit.article_id),
                    passage: plain(&hit.snippet),
                    article_id: hit.article_id,
                    title: hit.title,
                    score: hit.score,
                })
                .collect(),
            Err(status) => {
                tracing::warn!(code = ?status.code(), "knowledge assist failed; the view has no suggestions");
                Vec::new()
            }
        }
    }

    /// The article's link, when links are configured.
    pub fn article_link(&self, article_id: &str) -> String {
        if self.article_url.is_empty() { String::new() } else { self.article_url.replace("{id}", article_id) }
    }
}

/// A snippet without the `<b>` marks of matched words.
fn plain(snippet: &str) -> String {
    snippet.replace("<b>", "").replace("</b>", "")
}

fn order_status(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::Unspecified => "",
        OrderStatus::Placed => "placed",
        OrderStatus::Paid => "paid",
        OrderStatus::Shipped => "shipped",
        OrderStatus::Delivered => "delivered",
        OrderStatus::Cancelled => "cancelled",
    }
}

fn timers(details: &Details) -> Vec<SlaTimer> {
    details
        .timers
        .iter()
        .map(|(metric, t)| SlaTimer {
            metric: metric.clone(),
            policy: t.policy.clone(),
            due_at: t.due_at.map(to_timestamp),
            paused: t.paused,
            breached: t.breached,
            met: t.met,
        })
        .collect()
}

fn wire_entry(e: &Entry) -> WireEntry {
    let kind = match e.kind {
        Kind::Customer => EntryKind::Customer,
        Kind::Bot => EntryKind::Bot,
        Kind::Agent => EntryKind::Agent,
        Kind::Note => EntryKind::Note,
        Kind::Event => EntryKind::Event,
    };
    let (id, event) = if e.kind == Kind::Event {
        (String::new(), e.entry_id.clone())
    } else {
        (e.entry_id.clone(), String::new())
    };
    WireEntry {
        kind: kind.into(),
        id,
        event,
        author: e.author.clone(),
        text: e.text.clone(),
        at: Some(to_timestamp(e.at)),
        classification: e.classification.as_ref().map(classification),
        article_ids: e.article_ids.clone(),
        delivery: e.delivery.clone(),
    }
}

fn classification(value: &serde_json::Value) -> Classification {
    let text =
        |name: &str| value.get(name).and_then(serde_json::Value::as_str).unwrap_or_default().to_string();
    let number = |name: &str| value.get(name).and_then(serde_json::Value::as_f64).unwrap_or(0.0) as f32;
    let entities =
        value.get("entities").and_then(serde_json::Value::as_array).map_or_else(Vec::new, |list| {
            list.iter()
                .map(|e| Entity {
                    kind: e.get("kind").and_then(|v| v.as_str()).unwrap_or_default().to_string(),
                    text: e.get("text").and_then(|v| v.as_str()).unwrap_or_default().to_string(),
                    start: e.get("start").and_then(serde_json::Value::as_u64).unwrap_or(0) as u32,
                    end: e.get("end").and_then(serde_json::Value::as_u64).unwrap_or(0) as u32,
                    value: e.get("value").and_then(|v| v.as_str()).unwrap_or_default().to_string(),
                })
                .collect()
        });
    Classification {
        intent: text("intent"),
        confidence: number("confidence"),
        language: text("language"),
        sentiment: text("sentiment"),
        sentiment_score: number("sentiment_score"),
        urgency: text("urgency"),
        entities,
    }
}
