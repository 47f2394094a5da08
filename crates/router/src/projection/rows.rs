//! The router projection's rows written once per batch: a conversation's start, a classified
//! turn and a routing decision come with nearly every message, so a batch writes each kind with
//! one statement (arrays unnested) instead of one statement per event.
//!
//! Contacts and turns are written once (a copy changes nothing); a decision made again replaces
//! the earlier one, so of one message's decisions in a batch the last is kept.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use switchboard_projection::last_of_each;
use switchboard_proto::events::v1::{MessageClassified, MessageReceived, MessageRouted};

#[derive(Default)]
pub(super) struct Rows {
    contacts: Contacts,
    turns: Turns,
    decisions: Decisions,
}

#[derive(Default)]
struct Contacts {
    tenants: Vec<String>,
    conversations: Vec<String>,
    customers: Vec<String>,
    started: Vec<DateTime<Utc>>,
    channels: Vec<i32>,
}

#[derive(Default)]
struct Turns {
    messages: Vec<String>,
    conversations: Vec<String>,
    texts: Vec<String>,
    intents: Vec<String>,
    sentiment_scores: Vec<f32>,
    entities: Vec<serde_json::Value>,
    at: Vec<DateTime<Utc>>,
    tenants: Vec<String>,
}

/// Decisions in the order of the batch.
#[derive(Default)]
struct Decisions(Vec<(String, MessageRouted, DateTime<Utc>)>);

impl Rows {
    pub(super) fn contact(&mut self, tenant: &str, received: &MessageReceived, at: DateTime<Utc>) {
        let contacts = &mut self.contacts;
        contacts.tenants.push(tenant.to_owned());
        contacts.conversations.push(received.conversation_id.clone());
        contacts.customers.push(received.customer_id.clone());
        contacts.started.push(at);
        contacts.channels.push(received.channel);
    }

    pub(super) fn turn(&mut self, tenant: &str, classified: &MessageClassified, at: DateTime<Utc>) {
        let entities: Vec<serde_json::Value> = classified
            .entities
            .iter()
            .map(|e| serde_json::json!({"kind": e.kind, "text": e.text, "value": e.value}))
            .collect();
        let turns = &mut self.turns;
        turns.messages.push(classified.message_id.clone());
        turns.conversations.push(classified.conversation_id.clone());
        turns.texts.push(classified.text.clone());
        turns.intents.push(classified.intent.clone());
        turns.sentiment_scores.push(classified.feeling.as_ref().map_or(0.0, |f| f.sentiment_score));
        turns.entities.push(serde_json::Value::Array(entities));
        turns.at.push(at);
        turns.tenants.push(tenant.to_owned());
    }

    pub(super) fn decision(&mut self, tenant: &str, routed: &MessageRouted, at: DateTime<Utc>) {
        self.decisions.0.push((tenant.to_owned(), routed.clone(), at));
    }

    /// Writes what the batch gathered: at most one statement per kind.
    pub(super) async fn write(self, tx: &mut PgConnection) -> Result<(), sqlx::Error> {
        if !self.contacts.tenants.is_empty() {
            self.contacts.write(tx).await?;
        }
        if !self.turns.messages.is_empty() {
            self.turns.write(tx).await?;
        }
        if !self.decisions.0.is_empty() {
            self.decisions.write(tx).await?;
        }
        Ok(())
    }
}

impl Contacts {
    async fn write(self, tx: &mut PgConnection) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO router.contacts (tenant, conversation_id, customer_id, started_at, channel)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::int[])
             ON CONFLICT (tenant, conversation_id) DO NOTHING",
        )
        .bind(self.tenants)
        .bind(self.conversations)
        .bind(self.customers)
        .bind(self.started)
        .bind(self.channels)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
}

impl Turns {
    async fn write(self, tx: &mut PgConnection) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO router.turns
                 (message_id, conversation_id, text, intent, sentiment_score, entities, at, tenant)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::real[],
                 $6::jsonb[], $7::timestamptz[], $8::text[])
             ON CONFLICT (tenant, message_id) DO NOTHING",
        )
        .bind(self.messages)
        .bind(self.conversations)
        .bind(self.texts)
        .bind(self.intents)
        .bind(self.sentiment_scores)
        .bind(self.entities)
        .bind(self.at)
        .bind(self.tenants)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
}

impl Decisions {
    async fn write(self, tx: &mut PgConnection) -> Result<(), sqlx::Error> {
        let mut columns = DecisionColumns::with_capacity(self.0.len());
        // One row per message (an upsert may not touch a row twice): the batch's last decision.
        let last = last_of_each(self.0, |(tenant, routed, _)| (tenant.as_str(), routed.message_id.as_str()));
        for (tenant, routed, at) in last {
            columns.push(tenant, routed, at);
        }
        // Tags and articles are arrays in each row: sent as JSON arrays, turned back into text[].
        sqlx::query(
            "INSERT INTO router.decisions
                 (message_id, conversation_id, intent, action, queue, priority, rule, at, tags,
                  rules_version, rule_action, article_ids, tenant)
             SELECT m, c, i, a, q, p, r, at, ARRAY(SELECT jsonb_array_elements_text(tg)), v, ra,
                 ARRAY(SELECT jsonb_array_elements_text(ai)), t
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::int[],
                 $7::text[], $8::timestamptz[], $9::jsonb[], $10::int[], $11::text[], $12::jsonb[],
                 $13::text[]) AS d(m, c, i, a, q, p, r, at, tg, v, ra, ai, t)
             ON CONFLICT (tenant, message_id) DO UPDATE SET action = EXCLUDED.action,
                 queue = EXCLUDED.queue, priority = EXCLUDED.priority, rule = EXCLUDED.rule,
                 tags = EXCLUDED.tags, rules_version = EXCLUDED.rules_version,
                 rule_action = EXCLUDED.rule_action, article_ids = EXCLUDED.article_ids",
        )
        .bind(columns.messages)
        .bind(columns.conversations)
        .bind(columns.intents)
        .bind(columns.actions)
        .bind(columns.queues)
        .bind(columns.priorities)
        .bind(columns.rules)
        .bind(columns.at)
        .bind(columns.tags)
        .bind(columns.rules_versions)
        .bind(columns.rule_actions)
        .bind(columns.article_ids)
        .bind(columns.tenants)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
}

/// A batch's decisions as one array per column.
struct DecisionColumns {
    messages: Vec<String>,
    conversations: Vec<String>,
    intents: Vec<String>,
    actions: Vec<i32>,
    queues: Vec<String>,
    priorities: Vec<i32>,
    rules: Vec<String>,
    at: Vec<DateTime<Utc>>,
    tags: Vec<serde_json::Value>,
    rules_versions: Vec<i32>,
    rule_actions: Vec<String>,
    article_ids: Vec<serde_json::Value>,
    tenants: Vec<String>,
}

impl DecisionColumns {
    fn with_capacity(size: usize) -> Self {
        Self {
            messages: Vec::with_capacity(size),
            conversations: Vec::with_capacity(size),
            intents: Vec::with_capacity(size),
            actions: Vec::with_capacity(size),
            queues: Vec::with_capacity(size),
            priorities: Vec::with_capacity(size),
            rules: Vec::with_capacity(size),
            at: Vec::with_capacity(size),
            tags: Vec::with_capacity(size),
            rules_versions: Vec::with_capacity(size),
            rule_actions: Vec::with_capacity(size),
            article_ids: Vec::with_capacity(size),
            tenants: Vec::with_capacity(size),
        }
    }

    fn push(&mut self, tenant: String, routed: MessageRouted, at: DateTime<Utc>) {
        self.messages.push(routed.message_id);
        self.conversations.push(routed.conversation_id);
        self.intents.push(routed.intent);
        self.actions.push(routed.action);
        self.queues.push(routed.queue);
        self.priorities.push(routed.priority);
        self.rules.push(routed.rule);
        self.at.push(at);
        self.tags.push(routed.tags.into());
        self.rules_versions.push(i32::try_from(routed.rules_version).unwrap_or(i32::MAX));
        self.rule_actions.push(routed.rule_action);
        self.article_ids.push(routed.article_ids.into());
        self.tenants.push(tenant);
    }
}
