//! Threading: which conversation an email continues. By its `In-Reply-To` and `References` first,
//! then by the ticket token in its subject; never across senders, so a stranger quoting a
//! subject (or a colleague replying in the thread) starts a conversation of their own.

use sqlx::{PgConnection, PgPool, Row as _};
use switchboard_projection::{Applied, Projection};
use switchboard_proto::events::v1::{Channel, EmailMeta, event::Body};

/// The token a conversation's email subjects carry, e.g. `SB-3F9A0C12D4`: the random tail of
/// its id, so that it says nothing about when or how many.
pub fn ticket_token(conversation_id: &str) -> String {
    let hex: String = conversation_id.chars().filter(char::is_ascii_hexdigit).collect();
    let tail = &hex[hex.len().saturating_sub(10)..];
    format!("SB-{}", tail.to_uppercase())
}

/// `subject` with the conversation's token, unless it has it already.
pub fn tokened_subject(subject: &str, conversation_id: &str) -> String {
    let token = ticket_token(conversation_id);
    if subject.contains(&token) {
        subject.to_string()
    } else {
        format!("{subject} [#{token}]").trim().to_string()
    }
}

/// The token in a subject, if any.
fn token_in(subject: &str) -> Option<&str> {
    let start = subject.find("[#SB-")? + 2;
    let token = subject.get(start..start + 13)?;
    let well_formed =
        token[3..].chars().all(|c| c.is_ascii_hexdigit()) && subject[start + 13..].starts_with(']');
    well_formed.then_some(token)
}

/// Where an inbound email goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Threading {
    Continues(String),
    Starts,
}

/// The conversation `meta` continues, for its sender.
pub async fn thread(pool: &PgPool, tenant: &str, meta: &EmailMeta) -> Result<Threading, sqlx::Error> {
    let mut candidates: Vec<&str> = meta.references.iter().map(String::as_str).collect();
    candidates.push(&meta.in_reply_to);
    candidates.retain(|id| !id.is_empty());
    // The newest reference first: the message replied to.
    for id in candidates.iter().rev() {
        let row = sqlx::query(
            "SELECT conversation_id, customer_id FROM channels.email_messages WHERE tenant = $1 AND message_id = $2",
        )
        .bind(tenant)
        .bind(*id)
        .fetch_optional(pool)
        .await?;
        if let Some(row) = row {
            let customer: String = row.get(1);
            if customer == meta.from {
                return Ok(Threading::Continues(row.get(0)));
            }
            tracing::info!("reply in a thread from another sender starts its own conversation");
            return Ok(Threading::Starts);
        }
    }
    let Some(token) = token_in(&meta.subject) else { return Ok(Threading::Starts) };
    let found: Option<String> = sqlx::query_scalar(
        "SELECT conversation_id FROM channels.conversations WHERE tenant = $1 AND token = $2 AND customer_id = $3",
    )
    .bind(tenant)
    .bind(token)
    .bind(&meta.from)
    .fetch_optional(pool)
    .await?;
    Ok(found.map_or(Threading::Starts, Threading::Continues))
}

/// Projects email Message-IDs and conversation tokens.
pub struct ThreadsProjection;

impl Projection for ThreadsProjection {
    fn name(&self) -> &'static str {
        "channels-projection"
    }

    fn schema(&self) -> &'static str {
        "channels"
    }

    fn subjects(&self) -> Vec<String> {
        vec![
            "switchboard.events.conversation.>".into(),
            "switchboard.events.delivery.>".into(),
            "switchboard.events.account.>".into(),
        ]
    }

    fn tables(&self) -> &'static [&'static str] {
        &["channels.email_messages", "channels.conversations", "channels.voice_pins"]
    }

    /// New conversations are gathered and written with one statement, before anything reads
    /// them (an outbound email's owner) and at the end of the batch.
    async fn apply(&self, tx: &mut PgConnection, events: &[Applied]) -> Result<(), sqlx::Error> {
        let mut started = Started::default();
        for applied in events {
            let tenant = applied.event.tenant.as_str();
            match &applied.event.body {
                Some(Body::MessageReceived(received)) => {
                    if received.starts_conversation {
                        started.push(tenant, &received.conversation_id, &received.customer_id);
                    }
                    if let Some(email) = &received.email {
                        let ids = (email.message_id.as_str(), received.conversation_id.as_str());
                        remember_message(tx, tenant, ids, &received.customer_id, "inbound").await?;
                    }
                }
                Some(Body::ReplyDelivered(delivered))
                    if delivered.channel == Channel::Email as i32 && !delivered.external_id.is_empty() =>
                {
                    started.write(tx).await?;
                    let owner = owner(tx, tenant, &delivered.conversation_id).await?;
                    let ids = (delivered.external_id.as_str(), delivered.conversation_id.as_str());
                    remember_message(tx, tenant, ids, &owner, "outbound").await?;
                }
                Some(Body::AccountUpdated(account)) => {
                    crate::voice::pin::project(tx, tenant, &account.customer_id, &account.pin_hash).await?;
                }
                _ => {}
            }
        }
        started.write(tx).await
    }
}

/// Conversations started in a batch and not yet written.
#[derive(Default)]
struct Started<'a> {
    tenants: Vec<&'a str>,
    conversations: Vec<&'a str>,
    tokens: Vec<String>,
    customers: Vec<&'a str>,
}

impl<'a> Started<'a> {
    fn push(&mut self, tenant: &'a str, conversation_id: &'a str, customer_id: &'a str) {
        self.tenants.push(tenant);
        self.conversations.push(conversation_id);
        self.tokens.push(ticket_token(conversation_id));
        self.customers.push(customer_id);
    }

    /// Writes the conversations gathered so far (a copy changes nothing), and forgets them.
    async fn write(&mut self, tx: &mut PgConnection) -> Result<(), sqlx::Error> {
        if self.tenants.is_empty() {
            return Ok(());
        }
        let written = std::mem::take(self);
        sqlx::query(
            "INSERT INTO channels.conversations (tenant, conversation_id, token, customer_id)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[]) ON CONFLICT DO NOTHING",
        )
        .bind(written.tenants)
        .bind(written.conversations)
        .bind(written.tokens)
        .bind(written.customers)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
}

async fn remember_message(
    tx: &mut PgConnection,
    tenant: &str,
    (message_id, conversation_id): (&str, &str),
    customer_id: &str,
    direction: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO channels.email_messages (tenant, message_id, conversation_id, customer_id, direction)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(tenant)
    .bind(message_id)
    .bind(conversation_id)
    .bind(customer_id)
    .bind(direction)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn owner(tx: &mut PgConnection, tenant: &str, conversation_id: &str) -> Result<String, sqlx::Error> {
    let owner: Option<String> = sqlx::query_scalar(
        "SELECT customer_id FROM channels.conversations WHERE tenant = $1 AND conversation_id = $2",
    )
    .bind(tenant)
    .bind(conversation_id)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(owner.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_come_from_the_id_and_are_found_in_subjects() {
        let id = "0193f1b2-7c4e-7a11-9d2e-3f9a0c12d4ab";
        assert_eq!(ticket_token(id), "SB-9A0C12D4AB");
        let subject = tokened_subject("Re: Where is my order?", id);
        assert_eq!(subject, "Re: Where is my order? [#SB-9A0C12D4AB]");
        assert_eq!(tokened_subject(&subject, id), subject);
        assert_eq!(token_in(&subject), Some("SB-9A0C12D4AB"));
        assert_eq!(token_in("Re: [#SB-9A0C12D4A] short"), None);
        assert_eq!(token_in("Re: [#SB-XYZXYZXYZX]"), None);
        assert_eq!(token_in("nothing"), None);
    }

    /// Given one batch in which a customer's email starts a conversation and the reply to it is
    /// delivered, when it is applied, then the conversation is written once with its token and
    /// the reply's message is the customer's (the conversation was written before it was read).
    #[tokio::test]
    async fn a_reply_in_the_batch_that_started_its_conversation_finds_its_owner()
    -> Result<(), Box<dyn std::error::Error>> {
        use switchboard_proto::events::v1::{Event, MessageReceived, ReplyDelivered};
        let database = switchboard_testkit::TestDatabase::create().await?;
        let pool = database.pool().await?;
        crate::migrate_schema(&pool).await?;
        let event = |sequence, body| Applied {
            sequence,
            event: Event { tenant: "acme".into(), body: Some(body), ..Event::default() },
        };
        let received = MessageReceived {
            conversation_id: "c-1".into(),
            customer_id: "ana@example.com".into(),
            starts_conversation: true,
            ..MessageReceived::default()
        };
        let delivered = ReplyDelivered {
            conversation_id: "c-1".into(),
            channel: Channel::Email as i32,
            external_id: "<r-1@switchboard>".into(),
            ..ReplyDelivered::default()
        };
        let batch = [
            event(1, Body::MessageReceived(received.clone())),
            event(2, Body::ReplyDelivered(delivered)),
            event(3, Body::MessageReceived(received)),
        ];

        let mut tx = pool.begin().await?;
        ThreadsProjection.apply(&mut tx, &batch).await?;
        tx.commit().await?;

        let conversations: Vec<(String, String)> =
            sqlx::query_as("SELECT token, customer_id FROM channels.conversations").fetch_all(&pool).await?;
        assert_eq!(conversations, [(ticket_token("c-1"), "ana@example.com".into())]);
        let owner: String = sqlx::query_scalar(
            "SELECT customer_id FROM channels.email_messages WHERE message_id = '<r-1@switchboard>'",
        )
        .fetch_one(&pool)
        .await?;
        assert_eq!(owner, "ana@example.com");
        pool.close().await;
        database.drop_database().await?;
        Ok(())
    }
}
