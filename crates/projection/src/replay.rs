//! Rebuilding a read model from the stream ([`replay`]) and bringing it up to date
//! ([`catch_up`]), each as the projection's one writer while no service runs it.

use std::sync::Arc;

use sqlx::{AssertSqlSafe, PgConnection, PgPool};
use switchboard_bus::Bus;
use tokio_util::sync::CancellationToken;

use crate::{
    Error, Projection, Runner,
    checkpoint::{lock_session, try_lock},
};

/// What a replay did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayReport {
    pub events: u64,
    pub checkpoint: u64,
}

/// Drops the read model of `projection` and rebuilds it from the whole stream, then returns.
/// Refuses while a running service consumes the projection.
pub async fn replay<P: Projection>(
    bus: Bus,
    pool: PgPool,
    projection: Arc<P>,
    batch_size: usize,
) -> Result<ReplayReport, Error> {
    let writer = idle_writer(&pool, &*projection).await?;
    reset(&pool, &*projection).await?;
    let report = catch_up_locked(bus, pool, projection, batch_size).await?;
    drop(writer);
    Ok(report)
}

/// Applies what the stream holds beyond the checkpoint, then returns (as a running service
/// would, incrementally). Refuses while a running service consumes the projection.
pub async fn catch_up<P: Projection>(
    bus: Bus,
    pool: PgPool,
    projection: Arc<P>,
    batch_size: usize,
) -> Result<ReplayReport, Error> {
    let writer = idle_writer(&pool, &*projection).await?;
    let report = catch_up_locked(bus, pool, projection, batch_size).await?;
    drop(writer);
    Ok(report)
}

/// The projection's writer lock, held while the returned connection lives; an error if a
/// running service holds it.
async fn idle_writer<P: Projection>(pool: &PgPool, projection: &P) -> Result<PgConnection, Error> {
    let mut writer = lock_session(pool).await?;
    if !try_lock(&mut writer, projection).await? {
        return Err(Error::ReplayWhileRunning { projection: projection.name().to_string() });
    }
    Ok(writer)
}

async fn catch_up_locked<P: Projection>(
    bus: Bus,
    pool: PgPool,
    projection: Arc<P>,
    batch_size: usize,
) -> Result<ReplayReport, Error> {
    let runner = Runner::start(bus, pool, projection, batch_size).await?;
    runner.claim().await?;
    runner.consume(&CancellationToken::new(), true).await?;
    let report = ReplayReport { events: runner.applied(), checkpoint: *runner.checkpoint().borrow() };
    Ok(report)
}

async fn reset<P: Projection>(pool: &PgPool, projection: &P) -> Result<(), Error> {
    let mut tx = pool.begin().await?;
    if !projection.tables().is_empty() {
        let tables = projection.tables().join(", ");
        sqlx::query(AssertSqlSafe(format!("TRUNCATE {tables}"))).execute(&mut *tx).await?;
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
