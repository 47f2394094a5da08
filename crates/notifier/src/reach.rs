//! Telling a customer something unprompted (an order update, a device alert, an outage, a survey,
//! an onboarding step): into the conversation they last wrote in, on its channel (a
//! `ReplyRequested`, which the reply path delivers and logs once); without one, by email to the
//! address in their profile (`email` attribute; a `NotificationRequested`). Every message is keyed
//! by what caused it, so the same cause never tells the customer twice.

use sqlx::{PgPool, Row as _};
use switchboard_bus::{Bus, DEFAULT_TENANT, Draft, key_id};
use switchboard_proto::events::v1::{Event, NotificationRequested, ReplyRequested, event::Body};

/// A message for a customer.
pub(crate) struct Message<'a> {
    /// Names the message for good, e.g. `order/12345/shipped`.
    pub key: String,
    pub customer_id: &'a str,
    pub subject: String,
    pub text: String,
}

/// How a customer can be reached now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reach {
    Conversation { conversation_id: String, channel: i32 },
    Email(String),
    Unknown,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Bus(#[from] switchboard_bus::Error),
    #[error("no conversation and no `email` attribute known for customer {0:?}")]
    Unreachable(String),
}

pub(crate) async fn reach(pool: &PgPool, customer_id: &str) -> Result<Reach, sqlx::Error> {
    let row = sqlx::query("SELECT conversation_id, channel FROM notifier.contacts WHERE customer_id = $1")
        .bind(customer_id)
        .fetch_optional(pool)
        .await?;
    if let Some(row) = row {
        return Ok(Reach::Conversation { conversation_id: row.get(0), channel: row.get(1) });
    }
    let email: Option<String> =
        sqlx::query_scalar("SELECT attributes->>'email' FROM notifier.customers WHERE customer_id = $1")
            .bind(customer_id)
            .fetch_optional(pool)
            .await?
            .flatten();
    Ok(email.filter(|email| email.contains('@')).map_or(Reach::Unknown, Reach::Email))
}

/// Publishes `message` for its customer; `cause` links it to what asked, when there is one.
pub(crate) async fn tell(
    pool: &PgPool,
    bus: &Bus,
    cause: Option<&Event>,
    message: Message<'_>,
) -> Result<(), Error> {
    let id = key_id(&message.key).to_string();
    let body = match reach(pool, message.customer_id).await? {
        Reach::Conversation { conversation_id, channel } => Body::ReplyRequested(ReplyRequested {
            reply_id: id.clone(),
            conversation_id,
            in_reply_to: String::new(),
            customer_id: message.customer_id.into(),
            channel,
            text: message.text,
            article_ids: Vec::new(),
            language: String::new(),
            author: String::new(),
        }),
        Reach::Email(address) => Body::NotificationRequested(NotificationRequested {
            notification_id: id.clone(),
            target: format!("email:{address}"),
            subject: message.subject,
            text: message.text,
            conversation_id: String::new(),
        }),
        Reach::Unknown => return Err(Error::Unreachable(message.customer_id.into())),
    };
    let draft = match cause {
        Some(cause) => Draft::caused_by(cause, &id, body),
        None => Draft::new(DEFAULT_TENANT, &id, body),
    };
    bus.publish(&draft.keyed(message.key).build()?).await?;
    Ok(())
}
