//! Durable pull consumers: explicit acks, bounded redelivery with backoff, and dead letters.
//!
//! Redelivery is bounded by the client, not the server: a server-side `max_deliver` would drop a
//! message silently (only an advisory is emitted). Here a message delivered more than
//! [`Config::max_deliver`](crate::Config) times, or failing permanently, is copied to the
//! dead-letter stream with its reason before it is terminated. Nothing is acked and dropped.

use std::{future::Future, time::Duration};

use async_nats::{
    HeaderMap,
    jetstream::{
        self, AckKind,
        consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull},
        message::PublishMessage as Publish,
    },
};
use futures::{StreamExt, stream::FuturesUnordered};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::{Bus, DEAD_LETTER_SUBJECT_PREFIX, Error, trace};

/// A durable consumer to create (or find) on a stream; a new one starts at the stream's start.
#[derive(Debug, Clone)]
pub struct ConsumerSpec {
    pub stream: &'static str,
    pub durable: String,
    pub filter_subjects: Vec<String>,
    /// Messages handed out and not yet acknowledged, at most: the handler's concurrency, so that
    /// no message waits unseen in a client buffer while its ack timer runs out.
    pub max_ack_pending: usize,
}

impl ConsumerSpec {
    /// A consumer of domain events on one subject filter, from the start of the stream, for a
    /// handler of the given concurrency.
    pub fn events(durable: &str, filter_subject: &str, concurrency: usize) -> Self {
        Self {
            stream: crate::EVENTS_STREAM,
            durable: durable.to_string(),
            filter_subjects: vec![filter_subject.to_string()],
            max_ack_pending: concurrency,
        }
    }
}

/// Why a handler did not finish a message.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Might work later (a database or peer unavailable): delivered again with backoff.
    #[error("{0}")]
    Transient(String),
    /// Will never work (malformed, violates a contract): dead-lettered now.
    #[error("{0}")]
    Permanent(String),
    /// A dependency (database, bus) is down: the message is held and tried again, with backoff,
    /// until it is back; this never counts toward dead-lettering.
    #[error("{0}")]
    Unavailable(String),
    /// A later delivery of the message holds its work now (this handler was stopped past its
    /// lease, and the server handed the message on): neither acked nor refused here, it is left
    /// to that delivery.
    #[error("{0}")]
    Superseded(String),
}

/// What to do with a delivered message.
#[derive(Debug)]
pub enum Disposition {
    Ack,
    Retry(String),
    DeadLetter(String),
}

/// Handles one decoded message of type `T`.
pub trait Handler<T>: Send + Sync {
    fn handle(
        &self,
        message: T,
        delivery: &Delivery,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

/// A message delivered by a durable consumer.
pub struct Delivery {
    message: jetstream::Message,
    /// The message's sequence in its stream; for a dead letter put back, the original's.
    pub stream_sequence: u64,
    /// How many times this message has been delivered, this time included.
    pub deliveries: i64,
    /// Messages the server still holds for this consumer after this one.
    pub pending: u64,
    /// When the server stored the message (its clock).
    pub published: std::time::SystemTime,
    /// Set when this is a dead letter put back (`switchboard dlq replay`).
    replayed: Option<crate::dead_letters::Replayed>,
}

impl Delivery {
    pub fn new(message: jetstream::Message) -> Result<Self, Error> {
        let (own_sequence, deliveries, pending, published) = {
            let info = message
                .info()
                .map_err(|source| Error::JetStream { operation: "read delivery info", source })?;
            (info.stream_sequence, info.delivered, info.pending, info.published.into())
        };
        let replayed = crate::dead_letters::Replayed::of(&message, own_sequence);
        let stream_sequence = replayed.as_ref().map_or(own_sequence, |replayed| replayed.sequence);
        Ok(Self { message, stream_sequence, deliveries, pending, published, replayed })
    }

    pub fn payload(&self) -> &[u8] {
        &self.message.payload
    }

    /// The subject the message was published on (for a dead letter put back, the original's).
    pub fn subject(&self) -> &str {
        self.replayed.as_ref().map_or(self.message.subject.as_str(), |replayed| replayed.subject.as_str())
    }

    pub fn headers(&self) -> Option<&HeaderMap> {
        self.message.headers.as_ref()
    }

    /// The value of a header, if present. A dead letter put back answers `Nats-Msg-Id` with its
    /// original's id, so that what the handler keys on it is the original's key.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = match self.replayed {
            Some(_) if name.eq_ignore_ascii_case(NATS_MSG_ID) => ORIGINAL_MSG_ID,
            _ => name,
        };
        self.headers().and_then(|headers| headers.get(name)).map(|value| value.as_str())
    }

    /// Whether this is a dead letter put back (`switchboard dlq replay`).
    pub fn is_replayed(&self) -> bool {
        self.replayed.is_some()
    }

    /// A span for handling this message, parented by the trace context it carries. It names
    /// the tenant, the event type and the conversation, never what the message says.
    pub fn span(&self, consumer: &str) -> tracing::Span {
        let header = |name| self.header(name).unwrap_or_default();
        let span = tracing::info_span!(
            "handle",
            consumer,
            sequence = self.stream_sequence,
            subject = self.subject(),
            tenant = header("Switchboard-Tenant"),
            event_type = header("Switchboard-Event-Type"),
            conversation = header("Switchboard-Conversation"),
        );
        let _ = span.set_parent(trace::extract_context(self.headers()));
        span
    }

    pub(crate) async fn ack_with(&self, kind: AckKind) -> Result<(), Error> {
        self.message.ack_with(kind).await.map_err(|source| Error::JetStream { operation: "ack", source })
    }
}

impl Bus {
    /// Creates the durable consumer, or brings an existing one to `spec` and the bus's settings
    /// (subjects, `ack_wait`, `max_ack_pending`): it keeps its place in the stream and where it
    /// started from, so nothing it has acknowledged is handed over again.
    pub async fn durable_consumer(&self, spec: &ConsumerSpec) -> Result<PullConsumer, Error> {
        let stream = self
            .jetstream
            .get_stream_no_info(spec.stream)
            .await
            .map_err(|source| Error::jetstream("get stream", source))?;
        let mut config = pull::Config {
            durable_name: Some(spec.durable.clone()),
            filter_subjects: spec.filter_subjects.clone(),
            ack_policy: AckPolicy::Explicit,
            ack_wait: self.config.ack_wait,
            max_deliver: -1,
            deliver_policy: DeliverPolicy::All,
            max_ack_pending: i64::try_from(spec.max_ack_pending.max(1)).unwrap_or(i64::MAX),
            ..Default::default()
        };
        if let Ok(existing) = stream.consumer_info(&spec.durable).await {
            config.deliver_policy = existing.config.deliver_policy;
        }
        stream
            .create_consumer(config)
            .await
            .map_err(|source| Error::jetstream("create or update consumer", source))
    }

    /// Settles a message the way `disposition` says; repeated failures end in the dead-letter stream.
    pub async fn settle(
        &self,
        delivery: &Delivery,
        consumer: &str,
        disposition: Disposition,
    ) -> Result<(), Error> {
        match disposition {
            Disposition::Ack => delivery.ack_with(AckKind::Ack).await,
            Disposition::DeadLetter(reason) => self.dead_letter(delivery, consumer, &reason).await,
            Disposition::Retry(reason) if delivery.deliveries >= self.config.max_deliver => {
                let reason = format!("{reason} (gave up after {} deliveries)", delivery.deliveries);
                self.dead_letter(delivery, consumer, &reason).await
            }
            Disposition::Retry(reason) => {
                let delay = backoff(delivery.deliveries);
                tracing::warn!(consumer, sequence = delivery.stream_sequence, %reason, ?delay, "retrying message");
                delivery.ack_with(AckKind::Nak(Some(delay))).await
            }
        }
    }

    /// True when a message has been delivered more often than allowed without an outcome
    /// (the handler crashed or timed out each time); it is then dead-lettered.
    async fn dead_letter_if_exhausted(&self, delivery: &Delivery, consumer: &str) -> Result<bool, Error> {
        if delivery.deliveries <= self.config.max_deliver {
            return Ok(false);
        }
        let reason = format!(
            "delivered {} times without being acknowledged (handler crashed or timed out)",
            delivery.deliveries
        );
        self.dead_letter(delivery, consumer, &reason).await?;
        Ok(true)
    }

    async fn dead_letter(&self, delivery: &Delivery, consumer: &str, reason: &str) -> Result<(), Error> {
        crate::observe::dead_lettered(consumer);
        let mut headers = letter_headers(delivery.headers());
        headers.insert("Switchboard-Dlq-Reason", header_safe(reason).as_str());
        headers.insert("Switchboard-Dlq-Consumer", consumer);
        headers.insert("Switchboard-Dlq-Subject", delivery.subject());
        headers.insert("Switchboard-Dlq-Stream-Sequence", delivery.stream_sequence.to_string().as_str());
        headers.insert("Switchboard-Dlq-Deliveries", delivery.deliveries.to_string().as_str());
        // A letter put back and failing again is a new letter, not a duplicate of the first.
        let id = match &delivery.replayed {
            Some(replayed) => format!("dlq:{consumer}:{}:{}", delivery.stream_sequence, replayed.letter),
            None => format!("dlq:{consumer}:{}", delivery.stream_sequence),
        };
        let publish =
            Publish::build().payload(delivery.message.payload.clone()).headers(headers).message_id(id);
        self.jetstream
            .send_publish(format!("{DEAD_LETTER_SUBJECT_PREFIX}.{consumer}"), publish)
            .await
            .map_err(|source| Error::jetstream("publish dead letter", source))?
            .await
            .map_err(|source| Error::jetstream("publish dead letter", source))?;
        tracing::warn!(consumer, sequence = delivery.stream_sequence, reason, "message dead-lettered");
        delivery.ack_with(AckKind::Term).await
    }
}

/// Whether a header is one the server acts on (`Nats-*`: expected sequences, rollups, the
/// message id): a copy of a message published again must not carry it.
pub(crate) fn is_server_instruction(name: &str) -> bool {
    name.get(..5).is_some_and(|prefix| prefix.eq_ignore_ascii_case("nats-"))
}

const NATS_MSG_ID: &str = "Nats-Msg-Id";
const ORIGINAL_MSG_ID: &str = "Switchboard-Dlq-Msg-Id";

/// The original's headers that describe it, for its dead letter. Headers the server acts on
/// (`Nats-*`: expected sequences, rollups, the message id) are left behind: copied onto the
/// dead-letter subject they would get the letter refused or deduplicated away. The original's
/// `Nats-Msg-Id` is kept as `Switchboard-Dlq-Msg-Id`.
fn letter_headers(original: Option<&HeaderMap>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    // A letter put back and failing again keeps its first original's id, not the redrive's.
    let kept_id = original.is_some_and(|original| original.get(ORIGINAL_MSG_ID).is_some());
    for (name, values) in original.into_iter().flat_map(HeaderMap::iter) {
        let name: &str = name.as_ref();
        if name.eq_ignore_ascii_case(NATS_MSG_ID) && kept_id {
            continue;
        } else if name.eq_ignore_ascii_case(NATS_MSG_ID) {
            values.iter().for_each(|value| headers.append(ORIGINAL_MSG_ID, value.as_str()));
        } else if !is_server_instruction(name) {
            values.iter().for_each(|value| headers.append(name, value.as_str()));
        }
    }
    headers
}

/// Delay before the n-th redelivery: 200 ms doubling, at most 30 s.
fn backoff(deliveries: i64) -> Duration {
    let exponent = u32::try_from(deliveries.clamp(1, 8) - 1).unwrap_or(0);
    Duration::from_millis(200 * 2u64.pow(exponent)).min(Duration::from_secs(30))
}

fn header_safe(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).take(1000).collect()
}

/// Runs `handler` on the messages of a durable consumer, up to `concurrency` at a time, until
/// `shutdown`. Messages in hand when shutdown comes are finished and settled first. With a
/// concurrency of 1 messages are handled in stream order.
/// Dead letters of `name` put back (`switchboard dlq replay`) reach the same handler.
pub async fn process<T, H>(
    bus: &Bus,
    consumer: &PullConsumer,
    name: &str,
    handler: &H,
    concurrency: usize,
    shutdown: &CancellationToken,
) -> Result<(), Error>
where
    T: prost::Message + Default + Clone,
    H: Handler<T>,
{
    let own = consume(bus, consumer, name, handler, concurrency, shutdown);
    let replayed = crate::dead_letters::take_back(bus, name, handler, shutdown);
    // Boxed: the two loops' state would make every caller's future large.
    futures::try_join!(Box::pin(own), Box::pin(replayed)).map(|_| ())
}

async fn consume<T, H>(
    bus: &Bus,
    consumer: &PullConsumer,
    name: &str,
    handler: &H,
    concurrency: usize,
    shutdown: &CancellationToken,
) -> Result<(), Error>
where
    T: prost::Message + Default + Clone,
    H: Handler<T>,
{
    let concurrency = concurrency.max(1);
    let mut messages = pulled(consumer, concurrency).await?;
    let mut in_flight = FuturesUnordered::new();
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            Some(done) = in_flight.next(), if !in_flight.is_empty() => done?,
            next = messages.next(), if in_flight.len() < concurrency => match next {
                Some(Ok(message)) => {
                    let delivery = Delivery::new(message)?;
                    let span = delivery.span(name);
                    in_flight.push(async move {
                        handle_one(bus, &delivery, name, handler, OnTransient::Redeliver, shutdown)
                            .instrument(span)
                            .await
                    });
                }
                Some(Err(error)) => tracing::warn!(consumer = name, %error, "consumer stream error"),
                None => return Err(Error::jetstream("consume", ConsumerClosed)),
            },
        }
    }
    while let Some(done) = in_flight.next().await {
        done?;
    }
    Ok(())
}

/// How long a pull request stays at the server. A consumer whose request the server holds
/// without delivering asks again after this long (with async-nats's default, 30 s, the notifier's
/// outbox sat that long at times under load).
const PULL_EXPIRY: Duration = Duration::from_secs(5);

/// The consumer's messages, pulled at most `concurrency` at a time.
pub(crate) async fn pulled(consumer: &PullConsumer, concurrency: usize) -> Result<pull::Stream, Error> {
    consumer
        .stream()
        .max_messages_per_batch(concurrency)
        .expires(PULL_EXPIRY)
        .messages()
        .await
        .map_err(|source| Error::jetstream("consume", source))
}

/// What a transient failure leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnTransient {
    /// Handed back to the server, delivered again after a backoff (later messages go on).
    Redeliver,
    /// Tried again here after the backoff, the message kept leased, so that nothing handled
    /// after it overtakes it; dead-lettered after the bus's `max_deliver` tries.
    RetryInPlace,
}

pub(crate) async fn handle_one<T, H>(
    bus: &Bus,
    delivery: &Delivery,
    name: &str,
    handler: &H,
    on_transient: OnTransient,
    shutdown: &CancellationToken,
) -> Result<(), Error>
where
    T: prost::Message + Default + Clone,
    H: Handler<T>,
{
    if bus.dead_letter_if_exhausted(delivery, name).await? {
        return Ok(());
    }
    let message = match T::decode(delivery.payload()) {
        Ok(message) => message,
        Err(error) => {
            let disposition = Disposition::DeadLetter(format!("undecodable message: {error}"));
            return bus.settle(delivery, name, disposition).await;
        }
    };
    // A letter put back says nothing of the consumer's own lag; a redelivery's wait is its
    // backoff's.
    if !delivery.is_replayed() {
        crate::observe::progressed(name, delivery.pending);
        if delivery.deliveries == 1 {
            crate::observe::waited(bus, name, delivery.published);
        }
    }
    let mut delay = Duration::from_millis(200).min(hold_limit(bus));
    let mut tries = delivery.deliveries;
    loop {
        let started = std::time::Instant::now();
        let handled = leased(delivery, hold_limit(bus), handler.handle(message.clone(), delivery)).await;
        crate::observe::handled(name, outcome_of(&handled), started.elapsed());
        let disposition = match handled {
            Ok(()) => Disposition::Ack,
            Err(HandlerError::Transient(reason))
                if on_transient == OnTransient::RetryInPlace && tries < bus.config.max_deliver =>
            {
                let wait = backoff(tries).min(hold_limit(bus));
                tracing::warn!(consumer = name, sequence = delivery.stream_sequence, %reason, ?wait, "retrying message in place");
                if !hold(delivery, wait, shutdown).await? {
                    return delivery.ack_with(AckKind::Nak(None)).await;
                }
                tries += 1;
                continue;
            }
            Err(HandlerError::Transient(reason)) if on_transient == OnTransient::RetryInPlace => {
                Disposition::DeadLetter(format!("{reason} (gave up after {tries} tries)"))
            }
            Err(HandlerError::Transient(reason)) => Disposition::Retry(reason),
            Err(HandlerError::Permanent(reason)) => Disposition::DeadLetter(reason),
            Err(HandlerError::Unavailable(reason)) => {
                tracing::warn!(consumer = name, sequence = delivery.stream_sequence, %reason, "dependency unavailable; holding message");
                if !hold(delivery, delay, shutdown).await? {
                    return delivery.ack_with(AckKind::Nak(None)).await;
                }
                delay = (delay * 2).min(hold_limit(bus));
                continue;
            }
            Err(HandlerError::Superseded(reason)) => {
                tracing::info!(consumer = name, sequence = delivery.stream_sequence, %reason, "a later delivery holds the message; leaving it");
                return Ok(());
            }
        };
        return bus.settle(delivery, name, disposition).await;
    }
}

/// How a handler's run ends, as the metrics name it.
fn outcome_of(handled: &Result<(), HandlerError>) -> &'static str {
    match handled {
        Ok(()) => "ack",
        Err(HandlerError::Transient(_)) => "retry",
        Err(HandlerError::Permanent(_)) => "dead_letter",
        Err(HandlerError::Unavailable(_)) => "held",
        Err(HandlerError::Superseded(_)) => "superseded",
    }
}

/// Runs `work` on `delivery`, telling the server every `every` that it is still in hand: a
/// handler may take longer than the ack timer (a slow send), and a redelivery meanwhile would
/// run it twice at once. A progress ack that fails is logged; the work goes on.
async fn leased<F: Future>(delivery: &Delivery, every: Duration, work: F) -> F::Output {
    let mut work = std::pin::pin!(work);
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        tokio::select! {
            output = &mut work => return output,
            _ = ticks.tick() => {
                if let Err(error) = delivery.ack_with(AckKind::Progress).await {
                    tracing::warn!(sequence = delivery.stream_sequence, %error, "progress ack failed");
                }
            }
        }
    }
}

/// The longest pause between tries of a held message: well inside its ack timer.
pub(crate) fn hold_limit(bus: &Bus) -> Duration {
    (bus.config().ack_wait / 2).min(Duration::from_secs(5))
}

/// Keeps a held message alive for `delay`; `false` if shutdown came first.
pub(crate) async fn hold(
    delivery: &Delivery,
    delay: Duration,
    shutdown: &CancellationToken,
) -> Result<bool, Error> {
    delivery.ack_with(AckKind::Progress).await?;
    tokio::select! {
        () = shutdown.cancelled() => Ok(false),
        () = tokio::time::sleep(delay) => Ok(true),
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the consumer's message stream ended")]
pub(crate) struct ConsumerClosed;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_millis(200));
        assert_eq!(backoff(2), Duration::from_millis(400));
        assert!(backoff(100) <= Duration::from_secs(30));
    }

    #[test]
    fn a_dead_letter_keeps_what_describes_the_original_and_none_of_the_servers_instructions() {
        let mut original = HeaderMap::new();
        original.insert("Nats-Msg-Id", "event-7");
        original.insert("Nats-Expected-Last-Subject-Sequence", "41");
        original.insert("nats-expected-stream", "SWITCHBOARD_EVENTS");
        original.insert("Nats-Rollup", "sub");
        original.insert("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        let letter = letter_headers(Some(&original));
        let mut names: Vec<String> = letter.iter().map(|(name, _)| name.to_string()).collect();
        names.sort();
        assert_eq!(names, ["Switchboard-Dlq-Msg-Id", "traceparent"]);
        assert_eq!(letter.get("Switchboard-Dlq-Msg-Id").map(|v| v.as_str()), Some("event-7"));
        assert!(letter_headers(None).is_empty());
    }

    #[test]
    fn a_letter_put_back_that_fails_again_keeps_its_first_originals_id() {
        let mut replayed = HeaderMap::new();
        replayed.insert("Nats-Msg-Id", "redrive:12");
        replayed.insert("Switchboard-Dlq-Msg-Id", "event-7");
        let letter = letter_headers(Some(&replayed));
        let ids: Vec<&str> = letter.get_all("Switchboard-Dlq-Msg-Id").map(|value| value.as_str()).collect();
        assert_eq!(ids, ["event-7"]);
    }

    #[test]
    fn header_values_carry_no_line_breaks() {
        assert_eq!(header_safe("a\r\nb"), "a  b");
    }
}
