//! Durable timers: rows of `notifier.schedule` fire once when due. The clock task sleeps until the
//! earliest due row and wakes early on PostgreSQL `NOTIFY notifier_schedule` (sent with every new
//! row, by any replica), so nothing polls. Rows are claimed with `FOR UPDATE SKIP LOCKED`: replicas
//! share the work; a crash before `done_at` is written fires the row again, and what it publishes
//! is keyed, so that repeat is harmless. Rows are keyed by (tenant, key) and fire for their tenant.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row as _, postgres::PgListener};
use switchboard_projection::{Task, TaskResult};
use tokio_util::sync::CancellationToken;

use crate::proactive::Proactive;

const CHANNEL: &str = "notifier_schedule";
/// Pause after a failed firing before trying again.
const RETRY: Duration = Duration::from_secs(1);

/// Adds a `tenant`'s timer once: a key the tenant already scheduled is left as it is.
pub(crate) async fn add(
    pool: &PgPool,
    tenant: &str,
    key: &str,
    due_at: DateTime<Utc>,
    kind: &str,
    payload: serde_json::Value,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO notifier.schedule (tenant, key, due_at, kind, payload) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant, key) DO NOTHING",
    )
    .bind(tenant)
    .bind(key)
    .bind(due_at)
    .bind(kind)
    .bind(payload)
    .execute(&mut *tx)
    .await?;
    sqlx::query("SELECT pg_notify($1, '')").bind(CHANNEL).execute(&mut *tx).await?;
    tx.commit().await
}

pub(crate) fn spawn(pool: PgPool, proactive: Proactive, shutdown: CancellationToken) -> Task {
    tokio::spawn(async move { run(pool, proactive, shutdown).await })
}

async fn run(pool: PgPool, proactive: Proactive, shutdown: CancellationToken) -> TaskResult {
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.listen(CHANNEL).await?;
    loop {
        let pause = match fire_due(&pool, &proactive).await {
            Ok(()) => until_next(&pool).await.unwrap_or(RETRY),
            Err(error) => {
                tracing::warn!(%error, "scheduled messages not fired; trying again");
                RETRY
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(pause) => {}
            woken = listener.recv() => if let Err(error) = woken {
                tracing::warn!(%error, "schedule notifications interrupted");
                tokio::time::sleep(RETRY).await;
            },
        }
    }
}

/// How long until the earliest pending row is due (a day when none is).
async fn until_next(pool: &PgPool) -> Result<Duration, sqlx::Error> {
    let next: Option<DateTime<Utc>> =
        sqlx::query_scalar("SELECT min(due_at) FROM notifier.schedule WHERE done_at IS NULL")
            .fetch_one(pool)
            .await?;
    Ok(next.map_or(Duration::from_secs(86_400), |due| (due - Utc::now()).to_std().unwrap_or(Duration::ZERO)))
}

/// Fires every due row (in batches), each once.
async fn fire_due(
    pool: &PgPool,
    proactive: &Proactive,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    loop {
        let mut tx = pool.begin().await?;
        let rows = sqlx::query(
            "SELECT tenant, key, kind, payload FROM notifier.schedule
             WHERE done_at IS NULL AND due_at <= now() ORDER BY due_at LIMIT 50 FOR UPDATE SKIP LOCKED",
        )
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(());
        }
        for row in &rows {
            let (tenant, key, kind): (String, String, String) = (row.get(0), row.get(1), row.get(2));
            proactive.fire(&tenant, &kind, &row.get::<serde_json::Value, _>(3)).await?;
            sqlx::query("UPDATE notifier.schedule SET done_at = now() WHERE tenant = $1 AND key = $2")
                .bind(&tenant)
                .bind(&key)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    }
}
