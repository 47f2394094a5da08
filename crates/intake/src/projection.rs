//! The conversation view: conversations, messages, classifications and routing decisions.
//!
//! A batch is folded in memory in stream order into rows per table, then written with one
//! statement per table (`UNNEST`): new conversations and messages are inserted, the latest
//! classification and routing of each message and the final status of each conversation win.
//! The result does not depend on where batches begin or end.

use std::collections::BTreeMap;

use sqlx::PgConnection;
use switchboard_projection::{Applied, Projection};
use switchboard_proto::{
    events::v1::{MessageClassified, MessageRouted, RouteAction, event::Body},
    intake::v1::{Author, ConversationStatus},
    time::to_datetime,
};

type At = chrono::DateTime<chrono::Utc>;
/// A row's key: its tenant, then its id.
type Key = (String, String);

/// Projects conversation, classification, routing and delivery events into schema `intake`.
pub struct IntakeProjection;

impl Projection for IntakeProjection {
    fn name(&self) -> &'static str {
        "intake-projection"
    }

    fn schema(&self) -> &'static str {
        "intake"
    }

    fn subjects(&self) -> Vec<String> {
        switchboard_bus::CONVERSATION_VIEW
            .iter()
            .map(|aggregate| format!("switchboard.events.{aggregate}.>"))
            .collect()
    }

    fn tables(&self) -> &'static [&'static str] {
        &["intake.conversations", "intake.messages", "intake.classifications", "intake.routings"]
    }

    async fn apply(&self, tx: &mut PgConnection, events: &[Applied]) -> Result<(), sqlx::Error> {
        let mut batch = Batch::default();
        for applied in events {
            batch.fold(applied);
        }
        batch.write(tx).await
    }
}

/// What a batch does to one conversation's status. A closed conversation stays closed until the
/// customer writes (the closing notice's delivery does not reopen it), so a batch of nothing but
/// deliveries keeps a status that was closed before it; any other batch sets its last status.
#[derive(Clone, Copy)]
struct StatusChange {
    status: ConversationStatus,
    /// The latest time of a change.
    at: At,
    /// Every change in the batch was a delivery.
    only_answers: bool,
}

impl StatusChange {
    /// This change, then `next`.
    fn then(self, next: Self) -> Self {
        let keep_closed =
            self.status == ConversationStatus::Closed && next.status == ConversationStatus::Answered;
        Self {
            status: if keep_closed { self.status } else { next.status },
            at: self.at.max(next.at),
            only_answers: self.only_answers && next.only_answers,
        }
    }
}

struct NewConversation {
    customer_id: String,
    channel: i32,
    at: At,
}

struct NewMessage {
    message_id: String,
    conversation_id: String,
    tenant: String,
    author: Author,
    text: String,
    idempotency_key: Option<String>,
    at: At,
    sequence: i64,
}

/// The rows one batch writes.
#[derive(Default)]
struct Batch {
    conversations: BTreeMap<Key, NewConversation>,
    messages: Vec<NewMessage>,
    classifications: BTreeMap<Key, MessageClassified>,
    routings: BTreeMap<Key, MessageRouted>,
    /// Each conversation's change of status in the batch.
    statuses: BTreeMap<Key, StatusChange>,
    /// Each conversation's language, as its latest classification in the batch gives it.
    languages: BTreeMap<Key, String>,
}

impl Batch {
    fn fold(&mut self, applied: &Applied) {
        let at = to_datetime(applied.event.occurred_at.as_ref());
        let sequence = i64::try_from(applied.sequence).unwrap_or(i64::MAX);
        let tenant = switchboard_bus::tenant_of(&applied.event);
        let key = |id: &str| (tenant.to_string(), id.to_string());
        match &applied.event.body {
            Some(Body::MessageReceived(received)) => {
                self.conversations.entry(key(&received.conversation_id)).or_insert_with(|| NewConversation {
                    customer_id: received.customer_id.clone(),
                    channel: received.channel,
                    at,
                });
                self.messages.push(NewMessage {
                    message_id: received.message_id.clone(),
                    conversation_id: received.conversation_id.clone(),
                    tenant: tenant.to_string(),
                    author: Author::Customer,
                    text: received.text.clone(),
                    idempotency_key: Some(received.idempotency_key.clone()),
                    at,
                    sequence,
                });
                self.status(key(&received.conversation_id), ConversationStatus::Open, at);
            }
            Some(Body::MessageClassified(classified)) => {
                self.classifications.insert(key(&classified.message_id), classified.clone());
                let language = &classified.conversation_language;
                if !language.is_empty() && language != "und" {
                    self.languages.insert(key(&classified.conversation_id), language.clone());
                }
            }
            Some(Body::MessageRouted(routed)) => {
                self.routings.insert(key(&routed.message_id), routed.clone());
                match routed.action() {
                    RouteAction::Escalate => {
                        self.status(key(&routed.conversation_id), ConversationStatus::Escalated, at)
                    }
                    RouteAction::Queue => {
                        self.status(key(&routed.conversation_id), ConversationStatus::Queued, at)
                    }
                    RouteAction::AutoReply | RouteAction::Unspecified => {}
                }
            }
            Some(Body::ReplyDelivered(delivered)) => {
                self.messages.push(NewMessage {
                    message_id: delivered.reply_id.clone(),
                    conversation_id: delivered.conversation_id.clone(),
                    tenant: tenant.to_string(),
                    author: if delivered.author.starts_with("agent:") { Author::Agent } else { Author::Bot },
                    text: delivered.text.clone(),
                    idempotency_key: None,
                    at,
                    sequence,
                });
                self.status(key(&delivered.conversation_id), ConversationStatus::Answered, at);
            }
            Some(Body::ConversationClosed(closed)) => {
                self.status(key(&closed.conversation_id), ConversationStatus::Closed, at)
            }
            // A reply that could not be delivered leaves the conversation to a human.
            Some(Body::DeliveryFailed(failed)) => {
                self.status(key(&failed.conversation_id), ConversationStatus::Queued, at)
            }
            _ => {}
        }
    }

    fn status(&mut self, conversation: Key, status: ConversationStatus, at: At) {
        let change = StatusChange { status, at, only_answers: status == ConversationStatus::Answered };
        self.statuses
            .entry(conversation)
            .and_modify(|before| *before = before.then(change))
            .or_insert(change);
    }

    async fn write(self, tx: &mut PgConnection) -> Result<(), sqlx::Error> {
        insert_conversations(tx, &self.conversations).await?;
        insert_messages(tx, &self.messages).await?;
        upsert_classifications(tx, &self.classifications).await?;
        update_languages(tx, &self.languages).await?;
        upsert_routings(tx, &self.routings).await?;
        update_statuses(tx, &self.statuses).await
    }
}

async fn insert_conversations(
    tx: &mut PgConnection,
    rows: &BTreeMap<Key, NewConversation>,
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO intake.conversations
             (conversation_id, tenant, customer_id, channel, status, created_at, updated_at)
         SELECT id, tenant, customer, channel, $5, at, at
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int[], $6::timestamptz[])
             AS t(id, tenant, customer, channel, at)
         ON CONFLICT (tenant, conversation_id) DO NOTHING",
    )
    .bind(rows.keys().map(|(_, id)| id.as_str()).collect::<Vec<_>>())
    .bind(rows.keys().map(|(tenant, _)| tenant.as_str()).collect::<Vec<_>>())
    .bind(rows.values().map(|c| c.customer_id.as_str()).collect::<Vec<_>>())
    .bind(rows.values().map(|c| c.channel).collect::<Vec<_>>())
    .bind(ConversationStatus::Open as i32)
    .bind(rows.values().map(|c| c.at).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Inserts messages; a reply to a conversation this tenant does not have is dropped.
async fn insert_messages(tx: &mut PgConnection, rows: &[NewMessage]) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO intake.messages
             (message_id, conversation_id, tenant, author, text, idempotency_key, at, sequence)
         SELECT m.id, m.conversation, m.tenant, m.author, m.text, m.key, m.at, m.seq
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[],
                     $7::timestamptz[], $8::bigint[])
             AS m(id, conversation, tenant, author, text, key, at, seq)
         JOIN intake.conversations c ON c.tenant = m.tenant AND c.conversation_id = m.conversation
         ON CONFLICT DO NOTHING",
    )
    .bind(rows.iter().map(|m| m.message_id.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|m| m.conversation_id.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|m| m.tenant.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|m| m.author as i32).collect::<Vec<_>>())
    .bind(rows.iter().map(|m| m.text.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|m| m.idempotency_key.as_deref()).collect::<Vec<_>>())
    .bind(rows.iter().map(|m| m.at).collect::<Vec<_>>())
    .bind(rows.iter().map(|m| m.sequence).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn upsert_classifications(
    tx: &mut PgConnection,
    rows: &BTreeMap<Key, MessageClassified>,
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO intake.classifications (message_id, intent, confidence, language, model_version, tenant)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::real[], $4::text[], $5::text[], $6::text[])
         ON CONFLICT (tenant, message_id) DO UPDATE SET intent = EXCLUDED.intent,
             confidence = EXCLUDED.confidence, language = EXCLUDED.language,
             model_version = EXCLUDED.model_version",
    )
    .bind(rows.keys().map(|(_, id)| id.as_str()).collect::<Vec<_>>())
    .bind(rows.values().map(|c| c.intent.as_str()).collect::<Vec<_>>())
    .bind(rows.values().map(|c| c.confidence).collect::<Vec<_>>())
    .bind(rows.values().map(|c| c.language.as_str()).collect::<Vec<_>>())
    .bind(rows.values().map(|c| c.model_version.as_str()).collect::<Vec<_>>())
    .bind(rows.keys().map(|(tenant, _)| tenant.as_str()).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn update_languages(tx: &mut PgConnection, rows: &BTreeMap<Key, String>) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    // Most classifications keep their conversation's language: those rows are left unwritten.
    sqlx::query(
        "UPDATE intake.conversations c SET language = t.language
         FROM UNNEST($1::text[], $2::text[], $3::text[]) AS t(tenant, id, language)
         WHERE c.tenant = t.tenant AND c.conversation_id = t.id AND c.language <> t.language",
    )
    .bind(rows.keys().map(|(tenant, _)| tenant.as_str()).collect::<Vec<_>>())
    .bind(rows.keys().map(|(_, id)| id.as_str()).collect::<Vec<_>>())
    .bind(rows.values().map(String::as_str).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn upsert_routings(
    tx: &mut PgConnection,
    rows: &BTreeMap<Key, MessageRouted>,
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO intake.routings (message_id, action, queue, priority, rule, reason, tenant)
         SELECT * FROM UNNEST($1::text[], $2::int[], $3::text[], $4::int[], $5::text[], $6::text[],
                              $7::text[])
         ON CONFLICT (tenant, message_id) DO UPDATE SET action = EXCLUDED.action, queue = EXCLUDED.queue,
             priority = EXCLUDED.priority, rule = EXCLUDED.rule, reason = EXCLUDED.reason",
    )
    .bind(rows.keys().map(|(_, id)| id.as_str()).collect::<Vec<_>>())
    .bind(rows.values().map(|r| r.action).collect::<Vec<_>>())
    .bind(rows.values().map(|r| r.queue.as_str()).collect::<Vec<_>>())
    .bind(rows.values().map(|r| r.priority).collect::<Vec<_>>())
    .bind(rows.values().map(|r| r.rule.as_str()).collect::<Vec<_>>())
    .bind(rows.values().map(|r| r.reason.as_str()).collect::<Vec<_>>())
    .bind(rows.keys().map(|(tenant, _)| tenant.as_str()).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn update_statuses(
    tx: &mut PgConnection,
    rows: &BTreeMap<Key, StatusChange>,
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE intake.conversations c
         SET status = CASE WHEN c.status = $4 AND s.only_answers THEN c.status ELSE s.status END,
             updated_at = GREATEST(c.updated_at, s.at)
         FROM UNNEST($1::text[], $2::int[], $3::timestamptz[], $5::bool[], $6::text[])
              AS s(id, status, at, only_answers, tenant)
         WHERE c.tenant = s.tenant AND c.conversation_id = s.id",
    )
    .bind(rows.keys().map(|(_, id)| id.as_str()).collect::<Vec<_>>())
    .bind(rows.values().map(|change| change.status as i32).collect::<Vec<_>>())
    .bind(rows.values().map(|change| change.at).collect::<Vec<_>>())
    .bind(ConversationStatus::Closed as i32)
    .bind(rows.values().map(|change| change.only_answers).collect::<Vec<_>>())
    .bind(rows.keys().map(|(tenant, _)| tenant.as_str()).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    Ok(())
}
