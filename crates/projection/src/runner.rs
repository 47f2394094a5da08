//! The projection runner: an ordered read of the events stream from the checkpoint, feeding batched transactions.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicI64, AtomicU64, Ordering},
    },
    time::Duration,
};

use async_nats::jetstream::{
    self,
    consumer::{DeliverPolicy, pull::OrderedConfig},
};
use futures::StreamExt;
use prost::Message as _;
use sqlx::{Connection as _, PgConnection, PgPool};
use switchboard_bus::{Bus, Delivery, Disposition, EVENTS_STREAM, is_outage, is_refusal};
use switchboard_proto::events::v1::Event;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::{
    Error,
    checkpoint::{self, lock_session, try_lock},
};

/// How often a standby replica tries for the writer lock and reads the writer's checkpoint.
const STANDBY_POLL: Duration = Duration::from_secs(1);
/// How long a batch smaller than the batch size waits for more events before it is applied.
const LINGER: Duration = Duration::from_millis(5);

/// How a batch's transaction starts: committed without waiting for the WAL to reach the disk.
/// A read model and its checkpoint are derived from the stream and commit together, so a crash
/// of PostgreSQL can lose only a consistent tail of batches (at most about three WAL writer
/// delays). The writer notices at its next batch (the stored checkpoint is behind what it
/// committed) and reads the stream again from the stored checkpoint.
const BEGIN_BATCH: &str = "BEGIN; SET LOCAL synchronous_commit TO OFF";

/// An event to apply, with its position in the stream.
#[derive(Debug, Clone)]
pub struct Applied {
    pub sequence: u64,
    pub event: Event,
}

/// A read model built from events.
pub trait Projection: Send + Sync + 'static {
    /// Names the checkpoint, the writer lock and the dead letters, e.g. `intake-projection`.
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
///
/// The checkpoint in PostgreSQL is the projection's only position: each run reads the stream
/// in order from the checkpoint on, through an ordered consumer (gap-free, in sequence order),
/// so no event is skipped or applied twice whatever crashed before. One replica at a time
/// writes, under a PostgreSQL advisory lock; the others wait for it.
pub struct Runner<P> {
    projection: Arc<P>,
    bus: Bus,
    pool: PgPool,
    batch_size: usize,
    checkpoint: watch::Sender<u64>,
    applied: AtomicU64,
    /// The epoch this runner claimed when it became the writer (0: none); a transaction that
    /// finds another in the checkpoint row writes nothing.
    epoch: AtomicI64,
}

enum Outcome {
    Applied,
    Rejected(sqlx::Error),
    Interrupted,
    /// Nothing written, and this runner may not go on from where it is: another replica took
    /// over ([`Error::Superseded`]), or the database lost commits ([`Error::CommitsLost`]).
    Fenced(Error),
}

impl<P: Projection> Runner<P> {
    /// Reads the checkpoint; the schema must be migrated.
    pub async fn start(bus: Bus, pool: PgPool, projection: Arc<P>, batch_size: usize) -> Result<Self, Error> {
        let checkpoint = checkpoint::load(&pool, &*projection).await?;
        Ok(Self {
            projection,
            bus,
            pool,
            batch_size: batch_size.max(1),
            checkpoint: watch::channel(checkpoint).0,
            applied: AtomicU64::new(0),
            epoch: AtomicI64::new(0),
        })
    }

    /// How many events this runner applied.
    pub(crate) fn applied(&self) -> u64 {
        self.applied.load(Ordering::Relaxed)
    }

    /// The last applied stream sequence, updated after each commit.
    pub fn checkpoint(&self) -> watch::Receiver<u64> {
        self.checkpoint.subscribe()
    }

    /// Applies events until `shutdown`; the batch in hand is committed first.
    /// A writer that another replica superseded stands by again.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), Error> {
        loop {
            let Some(writer) = self.writer_lock(&shutdown).await? else {
                return Ok(());
            };
            let result = self.consume(&shutdown, false).await;
            if let Err(error) = writer.close().await {
                tracing::warn!(projection = self.projection.name(), %error, "closing the writer connection failed");
            }
            match result {
                Err(Error::Superseded { .. }) => {
                    tracing::warn!(
                        projection = self.projection.name(),
                        "another replica writes now; standing by"
                    );
                }
                // Taking the lock again reads the stored checkpoint, and the stream from it.
                Err(Error::CommitsLost { stored, .. }) => {
                    tracing::warn!(
                        projection = self.projection.name(),
                        stored,
                        "the database lost commits (a crash); applying again from its checkpoint"
                    );
                }
                other => return other,
            }
        }
    }

    /// Becomes the writer of record: the next epoch is this runner's.
    pub(crate) async fn claim(&self) -> Result<(), sqlx::Error> {
        let epoch = checkpoint::claim(&self.pool, &*self.projection).await?;
        self.epoch.store(epoch, Ordering::Relaxed);
        Ok(())
    }

    /// Waits to be the projection's one writer, with the checkpoint as it stands then;
    /// meanwhile follows the writer's checkpoint, so reads that wait for a sequence work on a
    /// standby replica too. The database's trouble (lost sessions, a restart) is waited out.
    /// `None` if shut down first.
    async fn writer_lock(&self, shutdown: &CancellationToken) -> Result<Option<PgConnection>, Error> {
        let mut session = None;
        loop {
            match self.try_to_write(&mut session).await {
                Ok(true) => return Ok(session),
                Ok(false) => {}
                Err(error) if is_outage(&error) => {
                    tracing::warn!(projection = self.projection.name(), %error, "database unavailable; standing by");
                }
                Err(error) => return Err(error.into()),
            }
            tokio::select! {
                () = shutdown.cancelled() => return Ok(None),
                () = tokio::time::sleep(STANDBY_POLL) => {}
            }
        }
    }

    /// One try for the writer lock on `session`, a session of its own (opened when there is
    /// none; dropped on an error, as it may be lost); the checkpoint is read either way.
    async fn try_to_write(&self, session: &mut Option<PgConnection>) -> Result<bool, sqlx::Error> {
        let tried = async {
            let connection = match session {
                Some(connection) => connection,
                None => session.insert(lock_session(&self.pool).await?),
            };
            let writes = try_lock(connection, &*self.projection).await?;
            if writes {
                self.claim().await?;
            }
            let checkpoint = checkpoint::load(&self.pool, &*self.projection).await?;
            self.checkpoint.send_replace(checkpoint);
            Ok(writes)
        };
        let tried = tried.await;
        if tried.is_err()
            && let Some(lost) = session.take()
        {
            let _ = lost.close().await;
        }
        tried
    }

    /// Reads the stream in order from the checkpoint on; with `until_caught_up`, returns once
    /// nothing is pending.
    pub(crate) async fn consume(
        &self,
        shutdown: &CancellationToken,
        until_caught_up: bool,
    ) -> Result<(), Error> {
        let consumer = self.ordered_consumer().await?;
        let mut pending = consumer.cached_info().num_pending;
        let mut chunks = consumer
            .messages()
            .await
            .map_err(|source| bus_error("consume", source))?
            .ready_chunks(self.batch_size);
        loop {
            if until_caught_up && pending == 0 {
                return Ok(());
            }
            let next = tokio::select! {
                biased;
                () = shutdown.cancelled() => return Ok(()),
                next = tokio::time::timeout(Duration::from_millis(500), chunks.next()) => next,
            };
            match next {
                Err(_idle) => {}
                Ok(None) => return Err(bus_error("consume", ConsumerClosed)),
                Ok(Some(mut chunk)) => {
                    self.linger(&mut chunks, &mut chunk).await;
                    // A rebuild's waits are the stream's age, not the projection's lag.
                    let timed = !until_caught_up;
                    pending = self.handle_chunk(chunk, timed, shutdown).await?.unwrap_or(pending);
                }
            }
        }
    }

    /// Gives a small batch [`LINGER`] to fill up: under steady traffic a projection then commits
    /// once for a few events instead of once for each (a transaction is several round trips and a
    /// WAL flush); a reader waiting for a sequence waits at most that much longer.
    async fn linger<S, T>(&self, chunks: &mut S, chunk: &mut Vec<T>)
    where
        S: futures::Stream<Item = Vec<T>> + Unpin,
    {
        let until = tokio::time::Instant::now() + LINGER;
        while chunk.len() < self.batch_size {
            match tokio::time::timeout_at(until, chunks.next()).await {
                Ok(Some(more)) => chunk.extend(more),
                Ok(None) | Err(_) => break,
            }
        }
    }

    async fn ordered_consumer(&self) -> Result<jetstream::consumer::Consumer<OrderedConfig>, Error> {
        let stream = self
            .bus
            .jetstream()
            .get_stream(EVENTS_STREAM)
            .await
            .map_err(|source| bus_error("get stream", source))?;
        let config = OrderedConfig {
            filter_subjects: self.projection.subjects(),
            deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: *self.checkpoint.borrow() + 1 },
            ..Default::default()
        };
        stream.create_consumer(config).await.map_err(|source| bus_error("create consumer", source))
    }

    /// Applies a chunk of messages; returns how many the server still holds after it. With
    /// `timed`, each event's wait (from stored to its batch starting) is recorded.
    async fn handle_chunk<E: std::fmt::Display>(
        &self,
        chunk: Vec<Result<jetstream::Message, E>>,
        timed: bool,
        shutdown: &CancellationToken,
    ) -> Result<Option<u64>, Error> {
        let name = self.projection.name();
        let checkpoint = *self.checkpoint.borrow();
        let mut deliveries = Vec::with_capacity(chunk.len());
        let mut events = Vec::with_capacity(chunk.len());
        let mut pending = None;
        for message in chunk {
            let delivery = match message {
                Ok(message) => Delivery::new(message)?,
                Err(error) => {
                    tracing::warn!(projection = name, %error, "consumer stream error");
                    continue;
                }
            };
            pending = Some(delivery.pending);
            if delivery.stream_sequence <= checkpoint {
                continue;
            }
            if timed {
                switchboard_bus::observe::waited(&self.bus, name, delivery.published);
            }
            match Event::decode(delivery.payload()) {
                Ok(event) => {
                    events.push(Applied { sequence: delivery.stream_sequence, event });
                    deliveries.push(delivery);
                }
                Err(error) => {
                    let reason = format!("undecodable event: {error}");
                    self.bus.settle(&delivery, name, Disposition::DeadLetter(reason)).await?;
                }
            }
        }
        let started = std::time::Instant::now();
        self.apply_batch(&deliveries, &events, shutdown).await?;
        observe(name, events.len(), pending, started.elapsed());
        Ok(pending)
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
        match self.transact_patiently(events, shutdown).await {
            Outcome::Applied | Outcome::Interrupted => Ok(()),
            Outcome::Fenced(error) => Err(error),
            Outcome::Rejected(_) if events.len() > 1 => {
                for (delivery, event) in deliveries.iter().zip(events) {
                    if shutdown.is_cancelled() {
                        break;
                    }
                    self.apply_one(delivery, event, shutdown).await?;
                }
                Ok(())
            }
            Outcome::Rejected(error) => self.reject(&deliveries[0], events[0].sequence, &error).await,
        }
    }

    async fn apply_one(
        &self,
        delivery: &Delivery,
        event: &Applied,
        shutdown: &CancellationToken,
    ) -> Result<(), Error> {
        match self.transact_patiently(std::slice::from_ref(event), shutdown).await {
            Outcome::Applied | Outcome::Interrupted => Ok(()),
            Outcome::Fenced(error) => Err(error),
            Outcome::Rejected(error) => self.reject(delivery, event.sequence, &error).await,
        }
    }

    /// Dead-letters an event the read model refuses, and moves the checkpoint past it.
    async fn reject(&self, delivery: &Delivery, sequence: u64, error: &sqlx::Error) -> Result<(), Error> {
        let mut tx = self.pool.begin().await?;
        self.locked_checkpoint(&mut tx).await??;
        let reason = format!("projection {} refused the event: {error}", self.projection.name());
        let disposition = Disposition::DeadLetter(reason);
        self.bus.settle(delivery, self.projection.name(), disposition).await?;
        checkpoint::save(&mut tx, &*self.projection, sequence).await?;
        tx.commit().await?;
        self.advance(sequence);
        Ok(())
    }

    /// Commits the batch; while the database is unreachable, holds the batch and tries again.
    async fn transact_patiently(&self, events: &[Applied], shutdown: &CancellationToken) -> Outcome {
        let mut delay = Duration::from_millis(200);
        loop {
            match self.transact(events).await {
                Ok(outcome) => return outcome,
                Err(error) if is_refusal(&error) => return Outcome::Rejected(error),
                Err(error) => {
                    tracing::warn!(projection = self.projection.name(), %error, "database unavailable; holding batch");
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => return Outcome::Interrupted,
                () = tokio::time::sleep(delay) => delay = (delay * 2).min(Duration::from_secs(5)),
            }
        }
    }

    /// Applies the events after the stored checkpoint and stores the new checkpoint with them;
    /// nothing is written when the checkpoint names another writer's epoch, or is behind what
    /// this writer committed (the database lost commits: the stream must be read again).
    ///
    /// The stored checkpoint is normally the one this writer last committed, so the batch is
    /// applied and the checkpoint moved in one statement that checks both; only when that check
    /// fails (another writer, a commit this writer did not hear back from, commits lost) is the
    /// checkpoint read first.
    async fn transact(&self, events: &[Applied]) -> Result<Outcome, sqlx::Error> {
        let last = events.iter().map(|applied| applied.sequence).max().unwrap_or(0);
        let committed = *self.checkpoint.borrow();
        let mut tx = self.pool.begin_with(BEGIN_BATCH).await?;
        self.projection.apply(&mut tx, events).await?;
        let epoch = self.epoch.load(Ordering::Relaxed);
        if checkpoint::advance_to(&mut tx, &*self.projection, epoch, (committed, last)).await? {
            tx.commit().await?;
            self.advance(last);
            self.applied.fetch_add(events.len() as u64, Ordering::Relaxed);
            return Ok(Outcome::Applied);
        }
        tx.rollback().await?;
        self.transact_after_reading(events).await
    }

    /// As [`transact`](Self::transact), reading and locking the stored checkpoint first: the
    /// events at or before it are not applied again.
    async fn transact_after_reading(&self, events: &[Applied]) -> Result<Outcome, sqlx::Error> {
        let last = events.iter().map(|applied| applied.sequence).max().unwrap_or(0);
        let mut tx = self.pool.begin_with(BEGIN_BATCH).await?;
        let stored = match self.locked_checkpoint(&mut tx).await? {
            Ok(stored) => stored,
            Err(fence) => return Ok(Outcome::Fenced(fence)),
        };
        let start = events.partition_point(|applied| applied.sequence <= stored);
        if start < events.len() {
            self.projection.apply(&mut tx, &events[start..]).await?;
            checkpoint::save(&mut tx, &*self.projection, last).await?;
        }
        tx.commit().await?;
        self.advance(last.max(stored));
        self.applied.fetch_add((events.len() - start) as u64, Ordering::Relaxed);
        Ok(Outcome::Applied)
    }

    /// The stored checkpoint, locked for the transaction, if this writer may write after it;
    /// else why not: another writer's epoch is stored (this runner was fenced off), or a
    /// checkpoint behind the one this writer committed (the database lost commits).
    async fn locked_checkpoint(
        &self,
        tx: &mut sqlx::PgConnection,
    ) -> Result<Result<u64, Error>, sqlx::Error> {
        let (stored, epoch) = checkpoint::lock(tx, &*self.projection).await?;
        let projection = || self.projection.name().to_string();
        Ok(if epoch != self.epoch.load(Ordering::Relaxed) {
            Err(Error::Superseded { projection: projection() })
        } else if stored < *self.checkpoint.borrow() {
            Err(Error::CommitsLost { projection: projection(), stored })
        } else {
            Ok(stored)
        })
    }

    fn advance(&self, sequence: u64) {
        self.checkpoint.send_if_modified(|current| {
            let advanced = sequence > *current;
            *current = (*current).max(sequence);
            advanced
        });
    }
}

fn bus_error(operation: &'static str, source: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Bus(switchboard_bus::Error::JetStream { operation, source: Box::new(source) })
}

#[derive(Debug, thiserror::Error)]
#[error("the consumer's message stream ended")]
struct ConsumerClosed;

/// What a projection records for operators: events applied, batch time, and its lag.
fn observe(projection: &'static str, applied: usize, pending: Option<u64>, took: std::time::Duration) {
    metrics::counter!("switchboard_projection_events_applied_total", "projection" => projection)
        .increment(applied as u64);
    metrics::histogram!("switchboard_projection_batch_duration_seconds", "projection" => projection)
        .record(took.as_secs_f64());
    if let Some(pending) = pending {
        switchboard_bus::observe::progressed(projection, pending);
    }
}
