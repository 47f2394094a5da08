//! Projection writers on real NATS and PostgreSQL: one replica writes at a time, and a writer
//! that lost its lock without knowing it writes nothing once another has taken over.

mod common;

use std::{sync::Arc, time::Duration};

use anyhow::Context as _;
use common::{Backing, WAIT};
use sqlx::{PgConnection, PgPool};
use switchboard_bus::{Bus, Draft};
use switchboard_projection::{Applied, Migration, Projection, Runner, migrate};
use switchboard_proto::events::v1::{OrderUpdated, event::Body};
use tokio_util::sync::CancellationToken;

/// Records which writer applied each order event.
struct Recorder {
    writer: &'static str,
}

impl Projection for Recorder {
    fn name(&self) -> &'static str {
        "fence-projection"
    }

    fn schema(&self) -> &'static str {
        "fence"
    }

    fn subjects(&self) -> Vec<String> {
        vec!["switchboard.events.order.>".into()]
    }

    fn tables(&self) -> &'static [&'static str] {
        &["fence.applied"]
    }

    async fn apply(&self, tx: &mut PgConnection, events: &[Applied]) -> Result<(), sqlx::Error> {
        for applied in events {
            sqlx::query("INSERT INTO fence.applied (sequence, writer) VALUES ($1, $2)")
                .bind(i64::try_from(applied.sequence).unwrap_or(i64::MAX))
                .bind(self.writer)
                .execute(&mut *tx)
                .await?;
        }
        Ok(())
    }
}

const SCHEMA: &[Migration] = &[Migration {
    version: 1,
    name: "applied",
    sql: "CREATE TABLE fence.applied (sequence BIGINT PRIMARY KEY, writer TEXT NOT NULL)",
}];

async fn publish_orders(bus: &Bus, range: std::ops::Range<u32>) -> anyhow::Result<()> {
    for n in range {
        let update =
            OrderUpdated { order_id: format!("o-{n}"), customer_id: "c-1".into(), ..Default::default() };
        bus.publish(&Draft::new("", format!("o-{n}"), Body::OrderUpdated(update)).build()?).await?;
    }
    Ok(())
}

async fn wait_applied(pool: &PgPool, count: i64) -> anyhow::Result<()> {
    tokio::time::timeout(WAIT, async {
        loop {
            let applied: i64 =
                sqlx::query_scalar("SELECT count(*) FROM fence.applied").fetch_one(pool).await?;
            if applied >= count {
                return anyhow::Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .with_context(|| format!("{count} events not applied within {WAIT:?}"))?
}

fn spawn(runner: Runner<Recorder>, shutdown: &CancellationToken) -> tokio::task::JoinHandle<()> {
    let shutdown = shutdown.clone();
    tokio::spawn(async move {
        if let Err(error) = runner.run(shutdown).await {
            panic!("a writer failed: {error}");
        }
    })
}

/// One writer running with a batch size of 100, ten order events applied, the last at `last`.
struct OneWriter {
    _backing: Backing,
    bus: Bus,
    pool: PgPool,
    shutdown: CancellationToken,
    runner: tokio::task::JoinHandle<()>,
    last: i64,
}

impl OneWriter {
    async fn with_ten_applied() -> anyhow::Result<Self> {
        let backing = Backing::start().await?;
        let bus = backing.bus().await?;
        let pool = PgPool::connect(&backing.config().database_url).await?;
        migrate(&pool, "fence", SCHEMA).await?;
        let shutdown = CancellationToken::new();
        let runner =
            Runner::start(bus.clone(), pool.clone(), Arc::new(Recorder { writer: "only" }), 100).await?;
        let runner = spawn(runner, &shutdown);
        publish_orders(&bus, 0..10).await?;
        wait_applied(&pool, 10).await?;
        let last = sqlx::query_scalar("SELECT max(sequence) FROM fence.applied").fetch_one(&pool).await?;
        Ok(Self { _backing: backing, bus, pool, shutdown, runner, last })
    }
}

async fn stored_checkpoint(pool: &PgPool) -> anyhow::Result<i64> {
    let stored = sqlx::query_scalar(
        "SELECT sequence FROM fence.projection_checkpoints WHERE projection = 'fence-projection'",
    )
    .fetch_one(pool)
    .await?;
    Ok(stored)
}

/// Given a writer whose lock session the database ended (it cannot tell), when another replica
/// takes the lock, then every event after the takeover is the new writer's: the first applies
/// nothing more (before the epoch fence, both went on applying, each skipping the other's batches).
#[tokio::test]
async fn a_writer_that_lost_its_lock_writes_nothing_once_another_took_over() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let bus = backing.bus().await?;
    let pool = PgPool::connect(&backing.config().database_url).await?;
    migrate(&pool, "fence", SCHEMA).await?;
    let shutdown = CancellationToken::new();
    let first = Runner::start(bus.clone(), pool.clone(), Arc::new(Recorder { writer: "first" }), 10).await?;
    let first = spawn(first, &shutdown);
    publish_orders(&bus, 0..20).await?;
    wait_applied(&pool, 20).await?;

    let ended: i64 = sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_locks
         WHERE locktype = 'advisory' AND granted
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .fetch_one(&pool)
    .await?;
    assert_eq!(ended, 1, "the first writer's lock session");
    let second =
        Runner::start(bus.clone(), pool.clone(), Arc::new(Recorder { writer: "second" }), 10).await?;
    let second = spawn(second, &shutdown);
    tokio::time::timeout(WAIT, async {
        loop {
            let epoch: i64 = sqlx::query_scalar(
                "SELECT epoch FROM fence.projection_checkpoints WHERE projection = 'fence-projection'",
            )
            .fetch_one(&pool)
            .await?;
            if epoch >= 2 {
                return anyhow::Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .context("the second writer never took over")??;
    publish_orders(&bus, 20..400).await?;
    wait_applied(&pool, 400).await?;

    let (last_of_first, first_of_second): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT max(sequence) FROM fence.applied WHERE writer = 'first'),
                (SELECT min(sequence) FROM fence.applied WHERE writer = 'second')",
    )
    .fetch_one(&pool)
    .await?;
    assert!(
        last_of_first < first_of_second,
        "the first writer applied {last_of_first} after the second's first, {first_of_second}"
    );
    shutdown.cancel();
    first.await?;
    second.await?;
    Ok(())
}

/// Given a writer whose stored checkpoint is ahead of what it knows (a commit it never heard
/// back from), when the next events come, then only those after the stored checkpoint are
/// applied: the batch is not applied twice.
#[tokio::test]
async fn a_batch_behind_the_stored_checkpoint_applies_only_what_follows_it() -> anyhow::Result<()> {
    let OneWriter { _backing, bus, pool, shutdown, runner, last } = OneWriter::with_ten_applied().await?;

    // As if the writer's next commit, of the next three events, went through unheard.
    sqlx::query(
        "UPDATE fence.projection_checkpoints SET sequence = $1 WHERE projection = 'fence-projection'",
    )
    .bind(last + 3)
    .execute(&pool)
    .await?;
    publish_orders(&bus, 10..20).await?;
    wait_applied(&pool, 17).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT sequence FROM fence.applied WHERE sequence > $1 ORDER BY sequence")
            .bind(last)
            .fetch_all(&pool)
            .await?;
    let expected: Vec<i64> = (last + 4..=last + 10).collect();
    assert_eq!(applied, expected, "the three the stored checkpoint holds are not applied again");
    let stored = stored_checkpoint(&pool).await?;
    assert_eq!(stored, last + 10);
    shutdown.cancel();
    runner.await?;
    Ok(())
}

/// Given a writer whose last commits the database lost (PostgreSQL stopped by a crash before its
/// asynchronous commits reached the WAL: the rows and the checkpoint went back together), when
/// the next events come, then the lost ones are read from the stream and applied again, each
/// once (before, the writer went on from where it was and the lost events were never applied).
#[tokio::test]
async fn commits_the_database_lost_are_applied_again_from_the_stream() -> anyhow::Result<()> {
    let OneWriter { _backing, bus, pool, shutdown, runner, last } = OneWriter::with_ten_applied().await?;

    // As if the database lost the writer's last three commits, rows and checkpoint together.
    let mut lost = pool.begin().await?;
    sqlx::query("DELETE FROM fence.applied WHERE sequence > $1").bind(last - 3).execute(&mut *lost).await?;
    sqlx::query(
        "UPDATE fence.projection_checkpoints SET sequence = $1 WHERE projection = 'fence-projection'",
    )
    .bind(last - 3)
    .execute(&mut *lost)
    .await?;
    lost.commit().await?;
    publish_orders(&bus, 10..20).await?;
    wait_applied(&pool, 20).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT sequence FROM fence.applied ORDER BY sequence").fetch_all(&pool).await?;
    let expected: Vec<i64> = (last - 9..=last + 10).collect();
    assert_eq!(applied, expected, "every event once, the three lost ones again");
    let stored = stored_checkpoint(&pool).await?;
    assert_eq!(stored, last + 10);
    shutdown.cancel();
    runner.await?;
    Ok(())
}
