//! The JetStream event bus: streams, idempotent and optimistic publishing, durable pull consumers
//! with bounded redelivery and a dead-letter stream, and W3C trace context on every message.
//!
//! Streams (created idempotently at connect):
//! - `SWITCHBOARD_EVENTS` on `switchboard.events.<aggregate>.<tenant>.<id>`: domain events, the source of truth;
//! - `SWITCHBOARD_INBOUND` on `switchboard.inbound.<channel>`: what channel adapters publish;
//! - `SWITCHBOARD_DLQ` on `switchboard.dlq.<consumer>`: messages a consumer gave up on, with the
//!   reason; and on `switchboard.redrive.<consumer>`, those put back into their consumer.

#![forbid(unsafe_code)]

mod backup;
mod connect;
mod consume;
mod dead_letters;
mod envelope;
mod error;
mod failure;
mod follow;
mod keyed;
pub mod observe;
mod publish;
mod trace;

use std::time::Duration;

pub use async_nats;
pub use backup::Stored;
pub use connect::{MINIMUM_SERVER_VERSION, check_server_version, redacted_url, shown_target, shown_webhook};
pub use consume::{ConsumerSpec, Delivery, Disposition, Handler, HandlerError, process};
pub use dead_letters::{DeadLetter, REDRIVE_SUBJECT_PREFIX};
pub use envelope::{
    DEFAULT_TENANT, Draft, aggregate_of, conversation_of, event_subject, event_type_of, is_aggregate_id,
    is_tenant, key_id, tenant_of,
};
pub use error::Error;
pub use failure::{is_outage, is_refusal, is_transient};
pub use follow::{LiveEvents, apply_live};
pub use keyed::process_keyed;
pub use publish::{Expected, Published};
pub use trace::{current_context, extract_context, extract_context_with, inject_context};

/// Stream of domain events.
pub const EVENTS_STREAM: &str = "SWITCHBOARD_EVENTS";
/// The aggregates a conversation's view is made of (intake's read model projects them): a reader
/// of that view waits for their last sequence, [`Bus::last_sequence_of`].
pub const CONVERSATION_VIEW: [&str; 5] =
    ["conversation", "classification", "routing", "delivery", "conversation-lifecycle"];
/// Typing signals, on core NATS (not kept): `switchboard.typing.<tenant>.<conversation id>`, a
/// JSON body `{"author": "customer" | "agent" | "bot"}`.
pub const TYPING_SUBJECT_PREFIX: &str = "switchboard.typing";

/// The subject of typing in the tenant's conversation.
pub fn typing_subject(tenant: &str, conversation_id: &str) -> String {
    format!("{TYPING_SUBJECT_PREFIX}.{tenant}.{conversation_id}")
}

/// The (tenant, conversation id) a typing subject is about.
pub fn typing_conversation(subject: &str) -> Option<(&str, &str)> {
    let rest = subject.strip_prefix(TYPING_SUBJECT_PREFIX)?.strip_prefix('.')?;
    let (tenant, conversation) = rest.split_once('.')?;
    (!tenant.is_empty() && !conversation.is_empty() && !conversation.contains('.'))
        .then_some((tenant, conversation))
}
/// Stream of inbound channel messages.
pub const INBOUND_STREAM: &str = "SWITCHBOARD_INBOUND";
/// Stream of dead letters.
pub const DEAD_LETTER_STREAM: &str = "SWITCHBOARD_DLQ";
/// Subject prefix of inbound messages: `switchboard.inbound.<channel>`.
pub const INBOUND_SUBJECT_PREFIX: &str = "switchboard.inbound";
/// Subject prefix of domain events: `switchboard.events.<aggregate>.<tenant>.<id>`.
pub const EVENTS_SUBJECT_PREFIX: &str = "switchboard.events";
/// Subject prefix of dead letters: `switchboard.dlq.<consumer>`.
pub const DEAD_LETTER_SUBJECT_PREFIX: &str = "switchboard.dlq";

/// How to reach NATS and how consumers behave.
#[derive(Debug, Clone)]
pub struct Config {
    pub url: String,
    /// How long JetStream remembers a `Nats-Msg-Id` to drop duplicates.
    pub duplicate_window: Duration,
    /// How long a delivered message may stay unacknowledged before it is delivered again.
    pub ack_wait: Duration,
    /// Deliveries of one message before it goes to the dead-letter stream.
    pub max_deliver: i64,
    /// Credentials and TLS.
    pub access: Access,
    /// How long and how much the inbound and dead-letter streams keep (the events stream,
    /// the source of truth, keeps everything).
    pub inbound_retention: Retention,
    pub dead_letter_retention: Retention,
    /// Copies of each stream in a NATS cluster (1 on a single server; at most 5).
    pub replicas: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            url: "nats://127.0.0.1:4222".into(),
            duplicate_window: Duration::from_secs(3600),
            ack_wait: Duration::from_secs(30),
            max_deliver: 5,
            access: Access::default(),
            inbound_retention: Retention { max_age: Duration::from_secs(7 * 86_400), max_bytes: 1 << 30 },
            dead_letter_retention: Retention {
                max_age: Duration::from_secs(30 * 86_400),
                max_bytes: 1 << 30,
            },
            replicas: 1,
        }
    }
}

/// A stream's limits: messages older than `max_age` or beyond `max_bytes` (oldest first) go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub max_age: Duration,
    pub max_bytes: i64,
}

/// How to prove who we are to NATS, and whether to speak TLS. Credentials may also sit in the
/// URL (`nats://user:pass@host`).
#[derive(Clone, Default)]
pub struct Access {
    /// A `.creds` file (JWT and NKey seed).
    pub credentials_file: Option<std::path::PathBuf>,
    pub user_and_password: Option<(String, String)>,
    pub token: Option<String>,
    /// Refuse to talk without TLS.
    pub require_tls: bool,
    /// CA certificates (PEM) to trust besides the system's.
    pub root_certificates: Option<std::path::PathBuf>,
    /// A client certificate and key (PEM) for mutual TLS.
    pub client_certificate: Option<(std::path::PathBuf, std::path::PathBuf)>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("credentials_file", &self.credentials_file)
            .field("user", &self.user_and_password.as_ref().map(|(user, _)| user))
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("require_tls", &self.require_tls)
            .field("root_certificates", &self.root_certificates)
            .field("client_certificate", &self.client_certificate)
            .finish()
    }
}

/// A connection to the bus. Cheap to clone.
#[derive(Clone)]
pub struct Bus {
    client: async_nats::Client,
    jetstream: async_nats::jetstream::Context,
    config: Config,
    /// When the connection was made: a message stored before it waited for this process to
    /// start, which is not a consumer's wait (see [`observe::waited`]).
    connected_at: std::time::SystemTime,
}

impl Bus {
    /// Connects, refuses servers older than [`MINIMUM_SERVER_VERSION`], and creates the streams.
    pub async fn connect(config: Config) -> Result<Self, Error> {
        connect::connect(config, true).await
    }

    /// Connects without changing the settings of streams that exist (missing ones are created):
    /// for operator commands, whose own stream settings may not be the cluster's.
    pub async fn connect_existing(config: Config) -> Result<Self, Error> {
        connect::connect(config, false).await
    }

    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    pub fn jetstream(&self) -> &async_nats::jetstream::Context {
        &self.jetstream
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Sends everything buffered (acks included) to the server.
    pub async fn flush(&self) -> Result<(), Error> {
        self.client.flush().await.map_err(|source| Error::jetstream("flush", source))
    }
}

#[cfg(test)]
mod typing_tests {
    use super::*;

    #[test]
    fn a_typing_subject_names_its_tenant_and_conversation() {
        let subject = typing_subject("acme", "c-1");
        assert_eq!(subject, "switchboard.typing.acme.c-1");
        assert_eq!(typing_conversation(&subject), Some(("acme", "c-1")));
        assert_eq!(typing_conversation("switchboard.typing.c-1"), None, "no tenant, no conversation");
        assert_eq!(typing_conversation("switchboard.typing.acme.c.1"), None);
    }
}
