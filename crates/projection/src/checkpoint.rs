//! A projection's place and its writer's fence in PostgreSQL: one row per projection in
//! `<schema>.projection_checkpoints` holds the last stream sequence applied and the epoch of the
//! writer that may apply; the writer holds an advisory lock on a session of its own.
//!
//! The lock decides who should write; the epoch makes sure no one else does. A writer that lost
//! its lock session (a restart of the database, a network cut) does not know it; once another
//! replica takes the lock and claims the next epoch, the first one's next transaction finds an
//! epoch not its own and writes nothing.

use sqlx::{AssertSqlSafe, ConnectOptions as _, PgConnection, PgPool};

use crate::Projection;

/// The stored checkpoint (0 when there is none).
pub(crate) async fn load<P: Projection>(pool: &PgPool, projection: &P) -> Result<u64, sqlx::Error> {
    let sequence: Option<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT sequence FROM {}.projection_checkpoints WHERE projection = $1",
        projection.schema()
    )))
    .bind(projection.name())
    .fetch_optional(pool)
    .await?;
    Ok(sequence.map_or(0, sequence_of))
}

/// Makes the caller the projection's writer: creates the checkpoint row (at 0) if there is none,
/// so that every transaction's `FOR UPDATE` locks a row from the start, and moves the epoch on.
/// Returns the caller's epoch.
pub(crate) async fn claim<P: Projection>(pool: &PgPool, projection: &P) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(AssertSqlSafe(format!(
        "INSERT INTO {schema}.projection_checkpoints (projection, sequence, epoch) VALUES ($1, 0, 1)
         ON CONFLICT (projection) DO UPDATE SET epoch = {schema}.projection_checkpoints.epoch + 1
         RETURNING epoch",
        schema = projection.schema()
    )))
    .bind(projection.name())
    .fetch_one(pool)
    .await
}

/// The stored checkpoint and the epoch of the writer that may write, locked until the
/// transaction ends.
pub(crate) async fn lock<P: Projection>(
    tx: &mut PgConnection,
    projection: &P,
) -> Result<(u64, i64), sqlx::Error> {
    let row: Option<(i64, i64)> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT sequence, epoch FROM {}.projection_checkpoints WHERE projection = $1 FOR UPDATE",
        projection.schema()
    )))
    .bind(projection.name())
    .fetch_optional(&mut *tx)
    .await?;
    Ok(row.map_or((0, 0), |(sequence, epoch)| (sequence_of(sequence), epoch)))
}

/// Stores `sequence` as the checkpoint (never moving it back).
pub(crate) async fn save<P: Projection>(
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

/// Moves the checkpoint to `last` if the writer of `epoch` may write and the stored checkpoint is
/// `committed`, the one that writer last committed (the batch applied is the next one); `false`,
/// with nothing changed, otherwise. One statement where [`lock`] and [`save`] are two: the row
/// stays locked until the transaction ends, so the check holds at commit.
pub(crate) async fn advance_to<P: Projection>(
    tx: &mut PgConnection,
    projection: &P,
    epoch: i64,
    (committed, last): (u64, u64),
) -> Result<bool, sqlx::Error> {
    let as_stored = |sequence: u64| i64::try_from(sequence).unwrap_or(i64::MAX);
    let advanced = sqlx::query(AssertSqlSafe(format!(
        "UPDATE {}.projection_checkpoints SET sequence = $3
         WHERE projection = $1 AND epoch = $2 AND sequence = $4",
        projection.schema()
    )))
    .bind(projection.name())
    .bind(epoch)
    .bind(as_stored(last))
    .bind(as_stored(committed))
    .execute(tx)
    .await?;
    Ok(advanced.rows_affected() == 1)
}

/// A session for a writer lock, outside the pool: the lock is the session's for as long as the
/// writer runs, and must neither take a handler's connection nor go back to the pool with it.
pub(crate) async fn lock_session(pool: &PgPool) -> Result<PgConnection, sqlx::Error> {
    pool.connect_options().connect().await
}

/// Takes the projection's writer lock if free; it is held as long as `connection` lives.
pub(crate) async fn try_lock<P: Projection>(
    connection: &mut PgConnection,
    projection: &P,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtext($1))")
        .bind(format!("switchboard-projection:{}", projection.name()))
        .fetch_one(connection)
        .await
}

fn sequence_of(stored: i64) -> u64 {
    u64::try_from(stored).unwrap_or(0)
}
