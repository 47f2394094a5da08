//! The projection runner: a durable consumer on the events stream feeding batched transactions.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use async_nats::jetstream::{self, consumer::PullConsumer};
use futures::StreamExt;
use prost::Message as _;
use sqlx::{AssertSqlSafe, PgConnection, PgPool};
use switchboard_bus::{Bus, ConsumerSpec, Delivery, Disposition, EVENTS_STREAM};
use switchboard_proto::events::v1::Event;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::Error;

/// An event to apply, with its position in the stream.
#[derive(Debug, Clone)]
pub struct Applied {
    pub sequence: u64,
    pub event: Event,
}

/// A read model built from events.
pub trait Projection: Send + Sync + 'static {
    /// Names the durable consumer and the checkpoint, e.g. `intake-projection`.
    fn name(&self) -> &'static str;
    /// The PostgreSQL schema the read model lives in.
    fn schema(&self) -> &'static str;
    /// Event subjects the projection reads, e.g. `switchboard.events.conversation.>`.
    fn subjects(&self) -> Vec<String>;
    /// Tables (schema-qualified) that a replay empties before rebuilding.
    fn tables(&self) -> &'static [&'static str];
    /// Applies a batch of events, in stream order, inside the caller's transaction.
    /// Must be idempotent: an event may come again after a crash before the ack.
    fn apply(
        &self,
        tx: &mut PgConnection,
        events: &[Applied],
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;
}

/// Runs one projection: started with [`Runner::start`], driven by [`Runner::run`].
pub struct Runner<P> {
    projection: Arc<P>,
    bus: Bus,
    pool: PgPool,
    consumer: PullConsumer,
    batch_size: usize,
    checkpoint: watch::Sender<u64>,
    applied: AtomicU64,
}

/// What a replay did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayReport {
    pub events: u64,
    pub checkpoint: u64,
}

enum Outcome {
    Applied,
    Rejected(sqlx::Error),
    Interrupted,
}

impl<P: Projection> Runner<P> {
    /// Reads the checkpoint and finds or creates the durable consumer (starting after it).
    pub async fn start(
        bus: Bus,
        pool: PgPool,
        projection: Arc<P>,
        batch_size: usize,
    ) -> Result<Self, Error> {
        let checkpoint = load_checkpoint(&pool, &*projection).await?;
        let spec = ConsumerSpec {
            stream: EVENTS_STREAM,
            durable: projection.name().to_string(),
            filter_subjects: projection.subjects(),
            start_after: checkpoint,
        };
        let consumer = bus.durable_consumer(&spec).await?;
        Ok(Self {
            projection,
            bus,
            pool,
            consumer,
            batch_size: batch_size.max(1),
            checkpoint: watch::channel(checkpoint).0,
            applied: AtomicU64::new(0),
        })
    }

    /// The last applied stream sequence, updated after each commit.
    pub fn checkpoint(&self) -> watch::Receiver<u64> {
        self.checkpoint.subscribe()
    }

    /// Applies events until `shutdown`; the batch in hand is committed and acked first.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), Error> {
        self.consume(&shutdown, false).await
    }

    async fn consume(&self, shutdown: &CancellationToken, until_caught_up: bool) -> Result<(), Error> {
        let mut chunks = self
            .consumer
            .stream()
            .max_messages_per_batch(self.batch_size)
            .messages()
            .await
            .map_err(|source| bus_error("consume", source))?
            .ready_chunks(self.batch_size);
        loop {
            let next = tokio::select! {
                biased;
                () = shutdown.cancelled() => return Ok(()),
                next = tokio::time::timeout(Duration::from_millis(500), chunks.next()) => next,
            };
            match next {
                Err(_idle) if until_caught_up && self.caught_up().await? => return Ok(()),
                Err(_idle) => {}
                Ok(None) => return Err(bus_error("consume", ConsumerClosed)),
                Ok(Some(chunk)) => self.handle_chunk(chunk, shutdown).await?,
            }
        }
    }

    async fn caught_up(&self) -> Result<bool, Error> {
        let info = self
            .consumer
            .get_info()
            .await
            .map_err(|source| bus_error("consumer info", source))?;
        Ok(info.num_pending == 0 && info.num_ack_pending == 0)
    }

    async fn handle_chunk<E: std::fmt::Display>(
        &self,
        chunk: Vec<Result<jetstream::Message, E>>,
        shutdown: &CancellationToken,
    ) -> Result<(), Error> {
        let name = self.projection.name();
        let checkpoint = *self.checkpoint.borrow();
        let mut deliveries = Vec::with_capacity(chunk.len());
        let mut events = Vec::with_capacity(chunk.len());
        for message in chunk {
            let delivery = match message {
                Ok(message) => Delivery::new(message)?,
                Err(error) => {
                    tracing::warn!(projection = name, %error, "consumer stream error");
                    continue;
                }
            };
            if self.bus.dead_letter_if_exhausted(&delivery, name).await? {
                continue;
            }
            if delivery.stream_sequence <= checkpoint {
                self.bus.settle(&delivery, name, Disposition::Ack).await?;
                continue;
            }
            match Event::decode(delivery.payload()) {
                Ok(event) => {
                    events.push(Applied {
                        sequence: delivery.stream_sequence,
                        event,
                    });
                    deliveries.push(delivery);
                }
                Err(error) => {
                    let reason = format!("undecodable event: {error}");
                    self.bus.settle(&delivery, name, Disposition::DeadLetter(reason)).await?;
                }
            }
        }
        self.apply_batch(&deliveries, &events, shutdown).await
    }

    /// Applies a batch in one transaction; if the data is refused, applies event by event
    /// so that only the offending event is dead-lettered.
    async fn apply_batch(
        &self,
        deliveries: &[Delivery],
        events: &[Applied],
        shutdown: &CancellationToken,
    ) -> Result<(), Error> {
        if events.is_empty() {
            return Ok(());
        }
        match self.transact_patiently(deliveries, events, shutdown).await {
            Outcome::Applied => self.ack_all(deliveries).await,
            Outcome::Interrupted => nak_all(deliveries).await,
            Outcome::Rejected(_) if events.len() > 1 => {
                for (delivery, event) in deliveries.iter().zip(events) {
                    self.apply_one(delivery, event, shutdown).await?;
                }
                Ok(())
            }
            Outcome::Rejected(error) => self.reject(&deliveries[0], &error).await,
        }
    }

    async fn apply_one(
        &self,
        delivery: &Delivery,
        event: &Applied,
        shutdown: &CancellationToken,
    ) -> Result<(), Error> {
        let (delivery, event) = (std::slice::from_ref(delivery), std::slice::from_ref(event));
        match self.transact_patiently(delivery, event, shutdown).await {
            Outcome::Applied => self.ack_all(delivery).await,
            Outcome::Interrupted => nak_all(delivery).await,
            Outcome::Rejected(error) => self.reject(&delivery[0], &error).await,
        }
    }

    async fn reject(&self, delivery: &Delivery, error: &sqlx::Error) -> Result<(), Error> {
        let reason = format!("projection {} refused the event: {error}", self.projection.name());
        let disposition = Disposition::DeadLetter(reason);
        Ok(self.bus.settle(delivery, self.projection.name(), disposition).await?)
    }

    /// Commits the batch; while the database is unreachable, holds the batch (keeping the
    /// messages alive) and tries again, so an outage never exhausts redeliveries.
    async fn transact_patiently(
        &self,
        deliveries: &[Delivery],
        events: &[Applied],
        shutdown: &CancellationToken,
    ) -> Outcome {
        let mut delay = Duration::from_millis(200);
        loop {
            match self.transact(events).await {
                Ok(()) => return Outcome::Applied,
                Err(error) if !is_outage(&error) => return Outcome::Rejected(error),
                Err(error) => {
                    tracing::warn!(projection = self.projection.name(), %error, "database unavailable; holding batch");
                    for delivery in deliveries {
                        let _ = delivery.progress().await;
                    }
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => return Outcome::Interrupted,
                () = tokio::time::sleep(delay) => delay = (delay * 2).min(Duration::from_secs(5)),
            }
        }
    }

    async fn transact(&self, events: &[Applied]) -> Result<(), sqlx::Error> {
        let last = events.iter().map(|applied| applied.sequence).max().unwrap_or(0);
        let mut tx = self.pool.begin().await?;
        self.projection.apply(&mut tx, events).await?;
        save_checkpoint(&mut tx, &*self.projection, last).await?;
        tx.commit().await?;
        self.checkpoint.send_if_modified(|current| {
            let advanced = last > *current;
            *current = (*current).max(last);
            advanced
        });
        self.applied.fetch_add(events.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    async fn ack_all(&self, deliveries: &[Delivery]) -> Result<(), Error> {
        for delivery in deliveries {
            self.bus.settle(delivery, self.projection.name(), Disposition::Ack).await?;
        }
        Ok(())
    }
}

async fn nak_all(deliveries: &[Delivery]) -> Result<(), Error> {
    for delivery in deliveries {
        delivery.nak().await?;
    }
    Ok(())
}

/// Drops the read model of `projection` and rebuilds it from the whole stream, then returns.
/// Refuses while a running service consumes the projection.
pub async fn replay<P: Projection>(
    bus: Bus,
    pool: PgPool,
    projection: Arc<P>,
    batch_size: usize,
) -> Result<ReplayReport, Error> {
    let name = projection.name();
    if let Some(info) = bus.consumer_info(EVENTS_STREAM, name).await?
        && info.num_waiting > 0
    {
        return Err(Error::ReplayWhileRunning {
            projection: name.to_string(),
        });
    }
    bus.delete_consumer(EVENTS_STREAM, name).await?;
    reset(&pool, &*projection).await?;
    let runner = Runner::start(bus, pool, projection, batch_size).await?;
    runner.consume(&CancellationToken::new(), true).await?;
    let report = ReplayReport {
        events: runner.applied.load(Ordering::Relaxed),
        checkpoint: *runner.checkpoint.borrow(),
    };
    Ok(report)
}

async fn reset<P: Projection>(pool: &PgPool, projection: &P) -> Result<(), Error> {
    let mut tx = pool.begin().await?;
    if !projection.tables().is_empty() {
        let tables = projection.tables().join(", ");
        sqlx::query(AssertSqlSafe(format!("TRUNCATE {tables}")))
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(AssertSqlSafe(format!(
        "DELETE FROM {}.projection_checkpoints WHERE projection = $1",
        projection.schema()
    )))
    .bind(projection.name())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn load_checkpoint<P: Projection>(pool: &PgPool, projection: &P) -> Result<u64, Error> {
    let sequence: Option<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT sequence FROM {}.projection_checkpoints WHERE projection = $1",
        projection.schema()
    )))
    .bind(projection.name())
    .fetch_optional(pool)
    .await?;
    Ok(sequence.map_or(0, |sequence| u64::try_from(sequence).unwrap_or(0)))
}

async fn save_checkpoint<P: Projection>(
    tx: &mut PgConnection,
    projection: &P,
    sequence: u64,
) -> Result<(), sqlx::Error> {
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO {schema}.projection_checkpoints (projection, sequence) VALUES ($1, $2)
         ON CONFLICT (projection) DO UPDATE
         SET sequence = GREATEST({schema}.projection_checkpoints.sequence, EXCLUDED.sequence)",
        schema = projection.schema()
    )))
    .bind(projection.name())
    .bind(i64::try_from(sequence).unwrap_or(i64::MAX))
    .execute(tx)
    .await?;
    Ok(())
}

/// True for failures of the database's availability rather than of the data.
fn is_outage(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(database) => database.code().is_some_and(|code| {
            ["08", "53", "57", "40"].iter().any(|class| code.starts_with(class))
        }),
        _ => false,
    }
}

fn bus_error(
    operation: &'static str,
    source: impl std::error::Error + Send + Sync + 'static,
) -> Error {
    Error::Bus(switchboard_bus::Error::JetStream {
        operation,
        source: Box::new(source),
    })
}

#[derive(Debug, thiserror::Error)]
#[error("the consumer's message stream ended")]
struct ConsumerClosed;
