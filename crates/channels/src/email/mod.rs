//! Email in: a raw message from the SMTP listener or the inbound-parse webhook is read, threaded
//! and published on `switchboard.inbound.email` (`Nats-Msg-Id` = its Message-ID), or refused
//! with a reason and kept as an `InboundRefused` event. Either way it is on the stream before the
//! sender hears back, so nothing is lost. Its sender is verified when DKIM or SPF authenticates
//! the From domain ([`sender`]); that only decides `customer_verified`, never whether it is taken.

mod limits;
pub mod parse;
pub mod sender;
pub mod smtp;
pub mod threads;

pub use limits::SmtpLimits;
pub use sender::{SenderAuth, SenderCheck, SenderDns, SenderVerification, SmtpClient};

use bytes::Bytes;
use prost::Message as _;
use sha2::{Digest as _, Sha256};
use switchboard_bus::{DEFAULT_TENANT, Draft};

use crate::tenants::Tenants;
use switchboard_projection::Deps;
use switchboard_proto::events::v1::{Channel, EmailMeta, InboundMessage, InboundRefused, event::Body};

use threads::Threading;

/// Body text kept per email, in bytes: intake's limit with room for the subject line.
pub const MAX_BODY_BYTES: usize = 30 * 1024;
/// Bytes of a refused message kept on its `InboundRefused` event.
const EXCERPT_BYTES: usize = 64 * 1024;

/// What became of an email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// On the stream for intake; `duplicate` when the same Message-ID came before.
    Accepted { message_id: String, duplicate: bool },
    /// Refused for good, with the reason the sender is told.
    Refused { reason: String },
}

#[derive(Debug, thiserror::Error)]
pub enum Unavailable {
    #[error("the bus is unavailable: {0}")]
    Bus(#[from] switchboard_bus::Error),
    #[error("the database is unavailable: {0}")]
    Database(#[from] sqlx::Error),
}

/// Takes emails in; shared by the SMTP listener and the HTTP webhook.
#[derive(Clone)]
pub struct Inbox {
    deps: Deps,
    max_bytes: usize,
    tenants: Tenants,
    senders: SenderAuth,
}

/// Where a message goes once read: the [`Inbox`] in service; anything that takes mail elsewhere
/// (the fuzzer of the SMTP dialogue, which must not need a bus).
pub trait Mailroom: Sync {
    /// Whose inbound addresses are whose.
    fn tenants(&self) -> &Tenants;
    /// The largest message taken, in bytes.
    fn max_bytes(&self) -> usize;
    /// Takes a whole message for `tenant` (`smtp` is the SMTP client and envelope, when it came
    /// over SMTP); an `Err` means nothing was decided: try again later.
    fn accept(
        &self,
        raw: &[u8],
        smtp: Option<&SmtpClient>,
        tenant: &str,
    ) -> impl Future<Output = Result<Outcome, Unavailable>> + Send;
    /// Keeps the refusal of a message that was not kept in full (too large, unsafe line endings).
    fn refuse_unread(
        &self,
        size: usize,
        reason: String,
        sender: Option<&str>,
        tenant: &str,
    ) -> impl Future<Output = Result<Outcome, Unavailable>> + Send;
}

impl Mailroom for Inbox {
    fn tenants(&self) -> &Tenants {
        &self.tenants
    }

    fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Reads, checks the sender of, threads and publishes `raw`.
    async fn accept(
        &self,
        raw: &[u8],
        smtp: Option<&SmtpClient>,
        tenant: &str,
    ) -> Result<Outcome, Unavailable> {
        let envelope = smtp.map(|client| client.mail_from.as_str());
        if raw.len() > self.max_bytes {
            let reason = format!("message is {} bytes; at most {} are accepted", raw.len(), self.max_bytes);
            return self.refuse(raw, reason, envelope, tenant).await;
        }
        let parsed = match parse::parse(raw, MAX_BODY_BYTES) {
            Ok(parsed) => parsed,
            Err(refusal) => return self.refuse(raw, refusal.to_string(), envelope, tenant).await,
        };
        let check = self.senders.check(raw, &parsed.meta.from, smtp).await;
        let threading = threads::thread(&self.deps.pool, tenant, &parsed.meta).await?;
        let message = inbound(parsed, threading, tenant, check.verified());
        let payload = Bytes::from(message.encode_to_vec());
        let published = self
            .deps
            .bus
            .publish_inbound("email", &message.tenant, payload, &message.idempotency_key)
            .await?;
        tracing::info!(
            duplicate = published.duplicate,
            attachments = message.email.as_ref().map_or(0, |e| e.attachments.len()),
            dkim = check.dkim.as_str(),
            spf = check.spf.as_str(),
            aligned = check.aligned,
            "email accepted"
        );
        let message_id = message.email.map(|email| email.message_id).unwrap_or_default();
        Ok(Outcome::Accepted { message_id, duplicate: published.duplicate })
    }

    async fn refuse_unread(
        &self,
        size: usize,
        reason: String,
        sender: Option<&str>,
        tenant: &str,
    ) -> Result<Outcome, Unavailable> {
        let id = uuid::Uuid::now_v7().simple().to_string();
        self.keep(&id, reason, (sender, tenant), size, Vec::new()).await
    }
}

impl Inbox {
    pub fn new(deps: Deps, max_bytes: usize, tenants: Tenants, senders: SenderAuth) -> Self {
        Self { deps, max_bytes, tenants, senders }
    }

    /// Keeps a refused message on the stream, with its reason (once per distinct message).
    pub async fn refuse(
        &self,
        raw: &[u8],
        reason: String,
        sender: Option<&str>,
        tenant: &str,
    ) -> Result<Outcome, Unavailable> {
        let digest = hex::encode(&Sha256::digest(raw)[..16]);
        let excerpt = raw[..raw.len().min(EXCERPT_BYTES)].to_vec();
        self.keep(&digest, reason, (sender, tenant), raw.len(), excerpt).await
    }

    async fn keep(
        &self,
        id: &str,
        reason: String,
        (sender, tenant): (Option<&str>, &str),
        size: usize,
        excerpt: Vec<u8>,
    ) -> Result<Outcome, Unavailable> {
        let body = Body::InboundRefused(InboundRefused {
            channel: Channel::Email.into(),
            reason: reason.clone(),
            key: String::new(),
            size: size as u64,
            excerpt,
            sender: sender.unwrap_or_default().to_string(),
        });
        let event = Draft::new(tenant, id, body).keyed(format!("refused-email/{tenant}/{id}")).build()?;
        self.deps.bus.publish(&event).await?;
        tracing::warn!(reason, size, "email refused");
        Ok(Outcome::Refused { reason })
    }
}

/// The inbound message an email stands for; `verified` when its From domain is authenticated.
fn inbound(parsed: parse::Parsed, threading: Threading, tenant: &str, verified: bool) -> InboundMessage {
    let parse::Parsed { meta, body } = parsed;
    let (conversation_id, text) = match threading {
        Threading::Continues(id) => (id, if body.trim().is_empty() { meta.subject.clone() } else { body }),
        Threading::Starts => (String::new(), with_subject(&meta, &body)),
    };
    InboundMessage {
        channel: Channel::Email.into(),
        customer_id: meta.from.clone(),
        text,
        idempotency_key: idempotency_key(tenant, &meta.from, &meta.message_id),
        conversation_id,
        tenant: tenant.to_string(),
        email: Some(meta),
        // A From address alone proves nothing: unless DKIM or SPF authenticated its domain, the
        // bot tells no account data by email and asks the customer to sign in instead.
        customer_verified: verified,
        language: String::new(),
    }
}

/// A first message reads best with its subject on top (it often holds the question).
fn with_subject(meta: &EmailMeta, body: &str) -> String {
    let subject = meta.subject.trim();
    if subject.is_empty() || body.contains(subject) {
        return body.to_string();
    }
    if body.trim().is_empty() { subject.to_string() } else { format!("{subject}\n\n{body}") }
}

/// The key of an email: its tenant, sender and Message-ID, hashed to fit every limit (a
/// Message-ID can be long, two senders' ids can collide, and one email may reach two companies).
fn idempotency_key(tenant: &str, from: &str, message_id: &str) -> String {
    // The default tenant's keys are as they were before tenants, so a resent old email stays a duplicate.
    let named = match tenant {
        DEFAULT_TENANT => format!("{from}\0{message_id}"),
        tenant => format!("{tenant}\0{from}\0{message_id}"),
    };
    let digest = Sha256::digest(named.as_bytes());
    format!("email:{}", hex::encode(&digest[..16]))
}
