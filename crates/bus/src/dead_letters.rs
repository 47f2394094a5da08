//! Dead letters as an operator handles them: listed, put back into their consumer once the cause
//! is fixed, or purged.
//!
//! A letter is put back by publishing it to `switchboard.redrive.<consumer>` (a subject of the
//! dead-letter stream) and then deleting it. Each consumer run by [`process`](crate::process) or
//! [`process_keyed`](crate::process_keyed) also reads its own redrive subject through a durable
//! consumer `<consumer>-redrive`, and hands what it finds to the same handler under the original's
//! subject and sequence. Only the consumer named gets the message again; the other consumers of
//! its stream never see it twice. Projections fold the stream in order and take no letters back:
//! their read model is rebuilt by replay instead.

use async_nats::jetstream::{
    self, consumer::PullConsumer, message::PublishMessage as Publish, message::StreamMessage,
    stream::RawMessageErrorKind,
};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{
    Bus, ConsumerSpec, DEAD_LETTER_STREAM, DEAD_LETTER_SUBJECT_PREFIX, Delivery, Error, Handler,
    consume::{ConsumerClosed, OnTransient, handle_one, pulled},
};

/// Subject prefix of dead letters put back: `switchboard.redrive.<consumer>`.
pub const REDRIVE_SUBJECT_PREFIX: &str = "switchboard.redrive";

/// A message a consumer gave up on, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Its sequence in the dead-letter stream: what `replay` and the listing name it by.
    pub id: u64,
    pub consumer: String,
    pub reason: String,
    /// Where the original was published, and its sequence in that stream.
    pub subject: String,
    pub sequence: u64,
    /// Deliveries to the consumer before it gave up.
    pub deliveries: i64,
    pub dead_lettered_at: DateTime<Utc>,
}

impl DeadLetter {
    fn of(message: &StreamMessage) -> Option<Self> {
        let consumer = message.subject.strip_prefix(DEAD_LETTER_SUBJECT_PREFIX)?.strip_prefix('.')?;
        let header = |name: &str| message.headers.get(name).map(|value| value.as_str().to_string());
        let number = |name: &str| header(name).and_then(|text| text.parse::<u64>().ok());
        Some(Self {
            id: message.sequence,
            consumer: consumer.to_string(),
            reason: header("Switchboard-Dlq-Reason").unwrap_or_default(),
            subject: header("Switchboard-Dlq-Subject").unwrap_or_default(),
            sequence: number("Switchboard-Dlq-Stream-Sequence").unwrap_or_default(),
            deliveries: number("Switchboard-Dlq-Deliveries")
                .map_or(0, |n| i64::try_from(n).unwrap_or(i64::MAX)),
            dead_lettered_at: DateTime::from_timestamp(
                message.time.unix_timestamp(),
                message.time.nanosecond(),
            )
            .unwrap_or_default(),
        })
    }
}

/// What a delivery that is a dead letter put back carries about its original.
pub(crate) struct Replayed {
    pub subject: String,
    pub sequence: u64,
    /// The delivery's own sequence in the dead-letter stream.
    pub letter: u64,
}

impl Replayed {
    pub(crate) fn of(message: &jetstream::Message, own_sequence: u64) -> Option<Self> {
        message.subject.strip_prefix(REDRIVE_SUBJECT_PREFIX)?;
        let headers = message.headers.as_ref()?;
        let subject = headers.get("Switchboard-Dlq-Subject")?.as_str().to_string();
        let sequence = headers.get("Switchboard-Dlq-Stream-Sequence")?.as_str().parse().ok()?;
        Some(Self { subject, sequence, letter: own_sequence })
    }
}

fn letters_subject(consumer: Option<&str>) -> String {
    format!("{DEAD_LETTER_SUBJECT_PREFIX}.{}", consumer.unwrap_or(">"))
}

fn redrive_consumer(consumer: &str) -> String {
    format!("{consumer}-redrive")
}

impl Bus {
    async fn dead_letter_stream(&self) -> Result<jetstream::stream::Stream, Error> {
        self.jetstream
            .get_stream(DEAD_LETTER_STREAM)
            .await
            .map_err(|source| Error::jetstream("get dead-letter stream", source))
    }

    /// The dead letters kept, oldest first; only `consumer`'s when given.
    pub async fn dead_letters(&self, consumer: Option<&str>) -> Result<Vec<DeadLetter>, Error> {
        let stream = self.dead_letter_stream().await?;
        let subject = letters_subject(consumer);
        let mut letters = Vec::new();
        let mut next = 1;
        while let Some(message) = next_message(&stream, &subject, next).await? {
            next = message.sequence + 1;
            letters.extend(DeadLetter::of(&message));
        }
        Ok(letters)
    }

    /// Puts the letter `id` back into its consumer and deletes it from the list. Refused when
    /// its consumer takes no letters back (a projection) or has never run here.
    pub async fn replay_dead_letter(&self, id: u64) -> Result<DeadLetter, Error> {
        let stream = self.dead_letter_stream().await?;
        let message = match next_message(&stream, &letters_subject(None), id).await? {
            Some(message) if message.sequence == id => message,
            _ => return Err(Error::NoDeadLetter(id)),
        };
        let letter = DeadLetter::of(&message).ok_or(Error::NoDeadLetter(id))?;
        if stream.consumer_info(redrive_consumer(&letter.consumer)).await.is_err() {
            return Err(Error::TakesNoLetters(letter.consumer));
        }
        let publish = Publish::build()
            .payload(message.payload.clone())
            .headers(message.headers.clone())
            .message_id(format!("redrive:{id}"));
        self.jetstream
            .send_publish(format!("{REDRIVE_SUBJECT_PREFIX}.{}", letter.consumer), publish)
            .await
            .map_err(|source| Error::jetstream("put back a dead letter", source))?
            .await
            .map_err(|source| Error::jetstream("put back a dead letter", source))?;
        stream.delete_message(id).await.map_err(|source| Error::jetstream("delete a dead letter", source))?;
        Ok(letter)
    }

    /// Deletes the dead letters (only `consumer`'s when given) for good; how many went.
    pub async fn purge_dead_letters(&self, consumer: Option<&str>) -> Result<u64, Error> {
        let stream = self.dead_letter_stream().await?;
        let purged = stream
            .purge()
            .filter(letters_subject(consumer))
            .await
            .map_err(|source| Error::jetstream("purge dead letters", source))?;
        Ok(purged.purged)
    }
}

/// The first message on `subject` at or after `sequence`, from the stream's leader.
async fn next_message(
    stream: &jetstream::stream::Stream,
    subject: &str,
    sequence: u64,
) -> Result<Option<StreamMessage>, Error> {
    match stream.raw_message_builder().sequence(sequence).next_by_subject(subject).send().await {
        Ok(message) => Ok(Some(message)),
        Err(error) if error.kind() == RawMessageErrorKind::NoMessageFound => Ok(None),
        Err(error) => Err(Error::jetstream("read dead letters", error)),
    }
}

/// Hands `name`'s dead letters put back to `handler`, one at a time, until `shutdown`.
pub(crate) async fn take_back<T, H>(
    bus: &Bus,
    name: &str,
    handler: &H,
    shutdown: &CancellationToken,
) -> Result<(), Error>
where
    T: prost::Message + Default + Clone,
    H: Handler<T>,
{
    let consumer = redrive(bus, name).await?;
    let mut messages = pulled(&consumer, 1).await?;
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return Ok(()),
            next = messages.next() => match next {
                Some(Ok(message)) => {
                    let delivery = Delivery::new(message)?;
                    let span = delivery.span(name);
                    handle_one(bus, &delivery, name, handler, OnTransient::Redeliver, shutdown)
                        .instrument(span)
                        .await?;
                }
                Some(Err(error)) => tracing::warn!(consumer = name, %error, "redrive stream error"),
                None => return Err(Error::jetstream("consume", ConsumerClosed)),
            },
        }
    }
}

async fn redrive(bus: &Bus, name: &str) -> Result<PullConsumer, Error> {
    bus.durable_consumer(&ConsumerSpec {
        stream: DEAD_LETTER_STREAM,
        durable: redrive_consumer(name),
        filter_subjects: vec![format!("{REDRIVE_SUBJECT_PREFIX}.{name}")],
        max_ack_pending: 1,
    })
    .await
}
