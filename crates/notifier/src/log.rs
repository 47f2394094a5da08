//! The delivery log: what the notifier has done about each delivery, written before the event
//! that asked is acked, keyed by (tenant, delivery id). Not a projection: replay leaves it alone.

use sqlx::{PgPool, Row as _};

use crate::jobs::Job;

/// How a delivery ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Delivered { attempts: u32, destination: String, external_id: String },
    Failed { attempts: u32, destination: String, reason: String },
}

/// The fencing token of an attempt: the JetStream delivery count of the message that started
/// it (the server counts up each time it hands the message on), and how long a lease stays
/// fresh (a consumer made anew counts from 1 again).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lease {
    pub count: i64,
    pub expiry: std::time::Duration,
}

pub(crate) struct Log {
    pool: PgPool,
}

impl Log {
    pub(crate) fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The outcome logged for a delivery, if it has one.
    pub(crate) async fn outcome(&self, job: &Job) -> Result<Option<Outcome>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT status, attempts, last_error, destination, external_id
             FROM notifier.delivery_log WHERE tenant = $1 AND delivery_id = $2",
        )
        .bind(&job.tenant)
        .bind(&job.delivery_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.and_then(|row| {
            let attempts = u32::try_from(row.get::<i32, _>(1)).unwrap_or(0);
            let destination: String = row.get(3);
            match row.get::<String, _>(0).as_str() {
                "delivered" => Some(Outcome::Delivered { attempts, destination, external_id: row.get(4) }),
                "failed" => Some(Outcome::Failed { attempts, destination, reason: row.get(2) }),
                _ => None,
            }
        }))
    }

    /// Records an attempt starting under `lease` (the delivery count of the message in hand);
    /// returns the attempt number, or `None` when a later delivery of the message holds the
    /// work (its lease is higher and still fresh: this handler was stopped past its own) or an
    /// outcome was logged since the caller looked.
    pub(crate) async fn start(&self, job: &Job, lease: Lease) -> Result<Option<u32>, sqlx::Error> {
        let attempts: Option<i32> = sqlx::query_scalar(
            "INSERT INTO notifier.delivery_log (tenant, delivery_id, conversation_id, status, attempts, lease)
             VALUES ($1, $2, $3, 'sending', 1, $4)
             ON CONFLICT (tenant, delivery_id) DO UPDATE
                 SET attempts = notifier.delivery_log.attempts + 1, lease = EXCLUDED.lease, updated_at = now()
                 WHERE notifier.delivery_log.status = 'sending'
                   AND (notifier.delivery_log.lease <= EXCLUDED.lease
                        OR notifier.delivery_log.updated_at < now() - make_interval(secs => $5))
             RETURNING attempts",
        )
        .bind(&job.tenant)
        .bind(&job.delivery_id)
        .bind(&job.conversation_id)
        .bind(lease.count)
        .bind(lease.expiry.as_secs_f64())
        .fetch_optional(&self.pool)
        .await?;
        Ok(attempts.map(|attempts| u32::try_from(attempts).unwrap_or(0)))
    }

    /// Notes why an attempt will be tried again; `false` when a later delivery holds the work.
    pub(crate) async fn retry(&self, job: &Job, lease: Lease, reason: &str) -> Result<bool, sqlx::Error> {
        let updated = sqlx::query(
            "UPDATE notifier.delivery_log SET last_error = $3, updated_at = now()
             WHERE tenant = $1 AND delivery_id = $2 AND lease = $4",
        )
        .bind(&job.tenant)
        .bind(&job.delivery_id)
        .bind(reason)
        .bind(lease.count)
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected() > 0)
    }

    /// Logs how the attempt under `lease` ended; `false` (nothing logged) when a later delivery
    /// holds the work, which logs its own.
    pub(crate) async fn finish(
        &self,
        job: &Job,
        lease: Lease,
        outcome: &Outcome,
    ) -> Result<bool, sqlx::Error> {
        let (status, destination, error, external_id) = match outcome {
            Outcome::Delivered { destination, external_id, .. } => {
                ("delivered", destination, "", external_id.as_str())
            }
            Outcome::Failed { destination, reason, .. } => ("failed", destination, reason.as_str(), ""),
        };
        let updated = sqlx::query(
            "UPDATE notifier.delivery_log SET status = $3, destination = $4, last_error = $5,
                 external_id = $6, updated_at = now()
             WHERE tenant = $1 AND delivery_id = $2 AND lease = $7",
        )
        .bind(&job.tenant)
        .bind(&job.delivery_id)
        .bind(status)
        .bind(destination)
        .bind(error)
        .bind(external_id)
        .bind(lease.count)
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected() > 0)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::jobs::Work;

    type Result = std::result::Result<(), Box<dyn std::error::Error>>;

    /// A delivery that looked for an outcome before another logged one does not start a send:
    /// a reply logged failed (or sent) is never sent again.
    #[tokio::test]
    async fn an_attempt_does_not_start_once_an_outcome_is_logged() -> Result {
        let database = switchboard_testkit::TestDatabase::create().await?;
        let pool = database.pool().await?;
        crate::migrate_schema(&pool).await?;
        let log = Log::new(pool.clone());
        let job = Job {
            tenant: "default".into(),
            delivery_id: "r-1".into(),
            source_id: "r-1".into(),
            conversation_id: "c-1".into(),
            work: Work::Reply(Default::default()),
        };
        let expiry = Duration::from_secs(300);
        let first = Lease { count: 1, expiry };
        assert_eq!(log.start(&job, first).await?, Some(1));
        let failed = Outcome::Failed { attempts: 1, destination: "email".into(), reason: "refused".into() };
        assert!(log.finish(&job, first, &failed).await?);

        assert_eq!(log.start(&job, Lease { count: 2, expiry }).await?, None, "no second send");
        assert!(matches!(log.outcome(&job).await?, Some(Outcome::Failed { .. })));
        pool.close().await;
        database.drop_database().await?;
        Ok(())
    }
}
