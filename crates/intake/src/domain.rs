//! Accepting messages and reading conversations.

use std::time::Duration;

use sqlx::Row as _;
use switchboard_bus::{Bus, DEFAULT_TENANT, Draft, Expected};
use switchboard_projection::{Deps, wait_for_checkpoint};
use switchboard_proto::{
    ErrorKind, ServiceError,
    events::v1::{Channel, ConversationClosed, EmailMeta, MessageReceived, event::Body},
};

use crate::reopening::{Continuation, continuation, continued_id, reopened_by};
use tokio::sync::watch;
use uuid::Uuid;

/// Longest customer message accepted, in bytes.
pub const MAX_TEXT_BYTES: usize = 32 * 1024;
const MAX_KEY_BYTES: usize = 256;
/// Appends retried when another writer moved the conversation on meanwhile.
const APPEND_ATTEMPTS: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidArgument(String),
    #[error("conversation {0} not found")]
    ConversationNotFound(String),
    #[error("conversation {0} belongs to another customer")]
    ForeignConversation(String),
    #[error("the read model has not reached sequence {0} yet; try again")]
    NotCaughtUp(u64),
    #[error("conversation {0} is busy; try again")]
    Busy(String),
    #[error(transparent)]
    Bus(#[from] switchboard_bus::Error),
    #[error(transparent)]
    Projection(#[from] switchboard_projection::Error),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl ServiceError for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::InvalidArgument(_) => ErrorKind::InvalidArgument,
            Self::ConversationNotFound(_) => ErrorKind::NotFound,
            Self::ForeignConversation(_) => ErrorKind::FailedPrecondition,
            Self::NotCaughtUp(_) | Self::Busy(_) => ErrorKind::Unavailable,
            Self::Database(error) if switchboard_bus::is_transient(error) => ErrorKind::Unavailable,
            Self::Bus(_) | Self::Projection(_) | Self::Database(_) => ErrorKind::Internal,
        }
    }
}

/// A customer's message as a channel or caller hands it in.
#[derive(Debug, Clone)]
pub struct Submission {
    pub tenant: String,
    pub channel: Channel,
    pub customer_id: String,
    pub text: String,
    pub idempotency_key: String,
    pub conversation_id: Option<String>,
    /// Channel email: the headers threading and replies need.
    pub email: Option<EmailMeta>,
    /// The channel or caller proved who the customer is.
    pub customer_verified: bool,
    /// The language the channel knows the customer uses (BCP 47); empty when it does not.
    pub language: String,
}

/// Where a submitted message went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    pub conversation_id: String,
    pub message_id: String,
    pub duplicate: bool,
    pub sequence: u64,
}

/// The intake domain: shared by the gRPC adapter and the inbound consumer.
pub struct Intake {
    deps: Deps,
    checkpoint: watch::Receiver<u64>,
    read_wait: Duration,
    reopen_window: Duration,
}

impl Intake {
    pub fn new(
        deps: Deps,
        checkpoint: watch::Receiver<u64>,
        read_wait: Duration,
        reopen_window: Duration,
    ) -> Self {
        Self { deps, checkpoint, read_wait, reopen_window }
    }

    pub(crate) fn pool(&self) -> &sqlx::PgPool {
        &self.deps.pool
    }

    pub(crate) fn bus(&self) -> &Bus {
        &self.deps.bus
    }

    /// Records a customer's message once: a repeated idempotency key returns the first result.
    pub async fn submit(&self, mut submission: Submission) -> Result<Submitted, Error> {
        validate(&mut submission)?;
        if let Some(known) = self.known_message(&submission).await? {
            self.recount_reopening(&submission, &known).await?;
            return Ok(known);
        }
        let message_id = Uuid::now_v7().to_string();
        for _ in 0..APPEND_ATTEMPTS {
            let (conversation_id, expected, continuation) = self.position(&submission).await?;
            let starts = expected == Expected::Empty;
            let event = message_event(&submission, &conversation_id, &message_id, starts)?;
            let dedup_key = dedup_key(&submission.tenant, &submission.idempotency_key);
            match self.bus().append(&event, expected, Some(&dedup_key)).await {
                Ok(published) if published.duplicate => {
                    let original = self.original(published.sequence).await?;
                    self.recount_reopening(&submission, &original).await?;
                    return Ok(original);
                }
                Ok(published) => {
                    if let Continuation::Reopens { closed, closing } = &continuation {
                        self.count_reopening(&submission, closed, closing).await;
                    }
                    tracing::info!(
                        conversation_id,
                        message_id,
                        channel = submission.channel.slug(),
                        "message received"
                    );
                    metrics::counter!("switchboard_inbound_messages_total", "channel" => submission.channel.slug())
                        .increment(1);
                    return Ok(Submitted {
                        conversation_id,
                        message_id,
                        duplicate: false,
                        sequence: published.sequence,
                    });
                }
                Err(switchboard_bus::Error::Conflict { .. }) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(Error::Busy(submission.conversation_id.unwrap_or_default()))
    }

    /// A message already recorded under this key, from the read model.
    async fn known_message(&self, submission: &Submission) -> Result<Option<Submitted>, Error> {
        let row = sqlx::query(
            "SELECT conversation_id, message_id, sequence FROM intake.messages
             WHERE tenant = $1 AND idempotency_key = $2",
        )
        .bind(&submission.tenant)
        .bind(&submission.idempotency_key)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|row| Submitted {
            conversation_id: row.get(0),
            message_id: row.get(1),
            duplicate: true,
            sequence: u64::try_from(row.get::<i64, _>(2)).unwrap_or(0),
        }))
    }

    /// Publishes that the customer's message reopened the conversation, once per closing
    /// (keyed on it). The message is in either way; a reopening not published is only not
    /// counted, and a retry of the message publishes it ([`Self::recount_reopening`]).
    async fn count_reopening(&self, submission: &Submission, closed: &ConversationClosed, closing: &str) {
        let body = Body::ConversationReopened(reopened_by(&submission.customer_id, closed));
        let key = format!("{}/reopened/{closing}", submission.tenant);
        let published = async {
            let event = Draft::new(&submission.tenant, &closed.conversation_id, body).keyed(key).build()?;
            self.bus().publish(&event).await
        }
        .await;
        if let Err(error) = published {
            tracing::warn!(%error, "a customer's reopening was not recorded");
        }
    }

    /// A retried message that had reopened its conversation: the reopening is published if it
    /// was not (the conversation is still closed by the closing the message came after).
    async fn recount_reopening(&self, submission: &Submission, recorded: &Submitted) -> Result<(), Error> {
        let tenant = &submission.tenant;
        let lifecycle =
            self.bus().last_event_of("conversation-lifecycle", tenant, &recorded.conversation_id).await?;
        if let Some((event, closed_at)) = lifecycle
            && let Some(Body::ConversationClosed(closed)) = &event.body
            && closed_at < recorded.sequence
        {
            self.count_reopening(submission, closed, &event.id).await;
        }
        Ok(())
    }

    /// The conversation to append to, the version it must be at, and what the message does to
    /// it (a closed one reopens within the window; later the conversation that continues it).
    async fn position(&self, submission: &Submission) -> Result<(String, Expected, Continuation), Error> {
        let Some(id) = &submission.conversation_id else {
            return Ok((Uuid::now_v7().to_string(), Expected::Empty, Continuation::Joins));
        };
        let not_found = || Error::ConversationNotFound(id.clone());
        let (last, sequence) = match self.bus().last_event_of("conversation", &submission.tenant, id).await {
            Ok(found) => found.ok_or_else(not_found)?,
            Err(switchboard_bus::Error::InvalidAggregateId(_)) => return Err(not_found()),
            Err(error) => return Err(error.into()),
        };
        let owner = match &last.body {
            Some(Body::MessageReceived(received)) => received.customer_id.as_str(),
            _ => "",
        };
        if last.tenant != submission.tenant || owner != submission.customer_id {
            return Err(Error::ForeignConversation(id.clone()));
        }
        self.continue_from(&submission.tenant, id.clone(), sequence).await
    }

    /// Follows closings older than the window to the conversations that continue them (a few
    /// hops at most: each continuation is a conversation of its own).
    async fn continue_from(
        &self,
        tenant: &str,
        mut id: String,
        mut sequence: u64,
    ) -> Result<(String, Expected, Continuation), Error> {
        for _ in 0..8 {
            let lifecycle = self.bus().last_event_of("conversation-lifecycle", tenant, &id).await?;
            let last = lifecycle.as_ref().map(|(event, _)| event);
            let closing = match continuation(last, chrono::Utc::now(), self.reopen_window) {
                Continuation::StartsAnew { closing } => closing,
                joins_or_reopens => return Ok((id, Expected::Sequence(sequence), joins_or_reopens)),
            };
            id = continued_id(tenant, &id, &closing);
            match self.bus().last_event_of("conversation", tenant, &id).await? {
                Some((_, at)) => sequence = at,
                None => return Ok((id, Expected::Empty, Continuation::StartsAnew { closing })),
            }
        }
        Err(Error::Busy(id))
    }

    /// The ids of the message first published under a duplicate key.
    async fn original(&self, sequence: u64) -> Result<Submitted, Error> {
        let event = self.bus().event_at(sequence).await?;
        let Some(Body::MessageReceived(received)) = event.body else {
            return Err(Error::InvalidArgument(
                "idempotency key was already used for another kind of event".into(),
            ));
        };
        Ok(Submitted {
            conversation_id: received.conversation_id,
            message_id: received.message_id,
            duplicate: true,
            sequence,
        })
    }

    /// Waits until the read model has applied `sequence` (0: no wait).
    pub(crate) async fn catch_up(&self, sequence: u64) -> Result<(), Error> {
        if sequence == 0 || wait_for_checkpoint(&self.checkpoint, sequence, self.read_wait).await {
            return Ok(());
        }
        Err(Error::NotCaughtUp(sequence))
    }
}

fn validate(submission: &mut Submission) -> Result<(), Error> {
    let invalid = |message: &str| Err(Error::InvalidArgument(message.into()));
    if submission.tenant.is_empty() {
        submission.tenant = DEFAULT_TENANT.into();
    }
    if submission.tenant.len() > 64
        || !submission.tenant.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return invalid("tenant must be at most 64 letters, digits, '-' or '_'");
    }
    let fields = [&submission.customer_id, &submission.text, &submission.idempotency_key];
    if fields.iter().any(|field| field.contains('\0')) {
        return invalid("customer_id, text and idempotency_key may not contain NUL characters");
    }
    if submission.channel == Channel::Unspecified {
        return invalid("channel is required (e.g. CHANNEL_WEB)");
    }
    if submission.customer_id.trim().is_empty() || submission.customer_id.len() > MAX_KEY_BYTES {
        return invalid("customer_id is required, at most 256 bytes");
    }
    if submission.text.trim().is_empty() {
        return invalid("text is empty");
    }
    if submission.text.len() > MAX_TEXT_BYTES {
        return Err(Error::InvalidArgument(format!(
            "text is {} bytes; at most {MAX_TEXT_BYTES} are accepted",
            submission.text.len()
        )));
    }
    if submission.idempotency_key.is_empty() || submission.idempotency_key.len() > MAX_KEY_BYTES {
        return invalid("idempotency_key is required, at most 256 bytes");
    }
    let tag = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if submission.language.len() > 35 || !submission.language.chars().all(tag) {
        return invalid("language must be a BCP 47 tag such as de or pt-BR, or empty");
    }
    if submission.conversation_id.as_deref() == Some("") {
        submission.conversation_id = None;
    }
    Ok(())
}

fn message_event(
    submission: &Submission,
    conversation_id: &str,
    message_id: &str,
    starts_conversation: bool,
) -> Result<switchboard_proto::events::v1::Event, Error> {
    let body = Body::MessageReceived(MessageReceived {
        conversation_id: conversation_id.into(),
        message_id: message_id.into(),
        customer_id: submission.customer_id.clone(),
        channel: submission.channel.into(),
        text: submission.text.clone(),
        idempotency_key: submission.idempotency_key.clone(),
        starts_conversation,
        email: submission.email.clone(),
        customer_verified: submission.customer_verified,
        language: submission.language.clone(),
    });
    Ok(Draft::new(&submission.tenant, conversation_id, body).build()?)
}

/// `Nats-Msg-Id` of a message: the caller's key, hashed to a header-safe token, per tenant.
fn dedup_key(tenant: &str, idempotency_key: &str) -> String {
    let name = format!("{tenant}\u{0}{idempotency_key}");
    format!("message:{}", Uuid::new_v5(&Uuid::NAMESPACE_OID, name.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn submission() -> Submission {
        Submission {
            tenant: String::new(),
            channel: Channel::Web,
            customer_id: "c1".into(),
            text: "Where is my order 12345?".into(),
            idempotency_key: "k1".into(),
            conversation_id: Some(String::new()),
            email: None,
            customer_verified: false,
            language: String::new(),
        }
    }

    #[test]
    fn defaults_the_tenant_and_drops_an_empty_conversation_id() {
        let mut given = submission();
        validate(&mut given).expect("valid");
        assert_eq!(given.tenant, DEFAULT_TENANT);
        assert_eq!(given.conversation_id, None);
    }

    #[test]
    fn refuses_bad_input_with_a_reason() {
        type Spoil = fn(&mut Submission);
        let cases: [(Spoil, &str); 7] = [
            (|s| s.text = "a\0b".into(), "NUL"),
            (|s| s.channel = Channel::Unspecified, "channel"),
            (|s| s.text = "  ".into(), "text is empty"),
            (|s| s.text = "x".repeat(MAX_TEXT_BYTES + 1), "at most"),
            (|s| s.idempotency_key.clear(), "idempotency_key"),
            (|s| s.tenant = "a.b".into(), "tenant"),
            (|s| s.language = "de DE".into(), "language"),
        ];
        for (spoil, expected) in cases {
            let mut given = submission();
            spoil(&mut given);
            let error = validate(&mut given).expect_err(expected).to_string();
            assert!(error.contains(expected), "{error}");
        }
    }

    #[test]
    fn dedup_keys_are_per_tenant_and_header_safe() {
        let key = dedup_key("t1", "line\r\nbreak");
        assert!(!key.contains('\n'));
        assert_ne!(key, dedup_key("t2", "line\r\nbreak"));
        assert_eq!(key, dedup_key("t1", "line\r\nbreak"));
    }
}
