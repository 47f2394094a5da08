//! Telling a customer something unprompted (an order update, a device alert, an outage, a survey,
//! an onboarding step): into the conversation they last wrote in, on its channel (a
//! `ReplyRequested`, which the reply path delivers and logs once); without one, by email to the
//! address in their profile (`email` attribute; a `NotificationRequested`). In the language they
//! last wrote in (else their profile's `language`, else English). Every message is keyed by what
//! caused it, so the same cause never tells the customer twice. A customer is a tenant's: the
//! message goes to that tenant's customer of that id, and its events are that tenant's.

use sqlx::{PgPool, Row as _};
use switchboard_bus::{Bus, Draft, key_id};
use switchboard_proto::events::v1::{Event, NotificationRequested, ReplyRequested, event::Body};

use crate::{templates::Templates, tenancy::tenant_key};

/// A message for a tenant's customer: a template (`<name>` and `<name>_subject`) and its variables.
pub(crate) struct Message<'a> {
    pub tenant: &'a str,
    /// Names the message for good within its tenant, e.g. `order/12345/shipped`.
    pub key: String,
    pub customer_id: &'a str,
    pub template: &'a str,
    pub vars: &'a [(&'a str, &'a str)],
}

/// How a customer can be reached now, and in which language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reach {
    pub way: Way,
    pub language: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Way {
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

/// The consumers' one map for the database and the bus; a customer nobody can reach yet is tried
/// again (they may write first).
impl From<Error> for switchboard_bus::HandlerError {
    fn from(error: Error) -> Self {
        match error {
            Error::Database(error) => error.into(),
            Error::Bus(error) => error.into(),
            unreachable @ Error::Unreachable(_) => Self::Transient(unreachable.to_string()),
        }
    }
}

pub(crate) async fn reach(pool: &PgPool, tenant: &str, customer_id: &str) -> Result<Reach, sqlx::Error> {
    // A call is over once it ends: nobody can be told anything on it afterwards.
    let contact = sqlx::query(
        "SELECT conversation_id, channel, language FROM notifier.contacts
         WHERE tenant = $1 AND customer_id = $2 AND channel <> $3",
    )
    .bind(tenant)
    .bind(customer_id)
    .bind(switchboard_proto::events::v1::Channel::Voice as i32)
    .fetch_optional(pool)
    .await?;
    let profile = sqlx::query(
        "SELECT attributes->>'email', attributes->>'language' FROM notifier.customers
         WHERE tenant = $1 AND customer_id = $2",
    )
    .bind(tenant)
    .bind(customer_id)
    .fetch_optional(pool)
    .await?;
    let (email, profile_language): (Option<String>, Option<String>) =
        profile.map_or((None, None), |row| (row.get(0), row.get(1)));
    let spoken = contact.as_ref().map(|row| row.get::<String, _>(2)).filter(|l| !l.is_empty());
    let language = spoken.or(profile_language).unwrap_or_else(|| "en".into());
    let way = match (contact, email.filter(|email| email.contains('@'))) {
        (Some(row), _) => Way::Conversation { conversation_id: row.get(0), channel: row.get(1) },
        (None, Some(email)) => Way::Email(email),
        (None, None) => Way::Unknown,
    };
    Ok(Reach { way, language })
}

/// Publishes `message` for its customer; `cause` (of the message's tenant) links it to what
/// asked, when there is one.
pub(crate) async fn tell(
    pool: &PgPool,
    bus: &Bus,
    templates: &Templates,
    cause: Option<&Event>,
    message: Message<'_>,
) -> Result<(), Error> {
    let key = tenant_key(message.tenant, &message.key);
    let id = key_id(&key).to_string();
    let Reach { way, language } = reach(pool, message.tenant, message.customer_id).await?;
    let text = templates.render(message.template, &language, message.vars);
    let body = match way {
        Way::Conversation { conversation_id, channel } => Body::ReplyRequested(ReplyRequested {
            reply_id: id.clone(),
            conversation_id,
            customer_id: message.customer_id.into(),
            channel,
            text,
            language,
            ..ReplyRequested::default()
        }),
        Way::Email(address) => Body::NotificationRequested(NotificationRequested {
            notification_id: id.clone(),
            target: format!("email:{address}"),
            subject: templates.render(&format!("{}_subject", message.template), &language, message.vars),
            text,
            conversation_id: String::new(),
        }),
        Way::Unknown => return Err(Error::Unreachable(message.customer_id.into())),
    };
    let draft = match cause {
        Some(cause) => Draft::caused_by(cause, &id, body),
        None => Draft::new(message.tenant, &id, body),
    };
    bus.publish(&draft.keyed(key).build()?).await?;
    Ok(())
}
