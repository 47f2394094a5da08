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

/// What entitles a delivery of a message to take the work over: its JetStream delivery count
/// (the server counts up each time it hands the message on), and how long a holder's claim
/// stays fresh (a consumer made anew counts from 1 again). Only a higher count takes over a
/// fresh claim: a server restarted from consumer state older than its last delivery hands the
/// message on again under the same count while the first holder is still at work.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lease {
    pub count: i64,
    pub expiry: std::time::Duration,
}

/// The claim of one attempt: the lease it started under and its attempt number, which every
/// takeover counts up, so a holder overtaken logs nothing whatever the counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Claim {
    pub lease: i64,
    pub attempt: u32,
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

    /// Logs a delivery that has no effect outside the conversation (nothing is sent, so there
    /// is no attempt to claim) as delivered, in one statement: the outcome, and whether this
    /// logged it (`false`: a redelivery, the outcome logged before).
    pub(crate) async fn delivered_in_place(
        &self,
        job: &Job,
        destination: &str,
    ) -> Result<(Outcome, bool), sqlx::Error> {
        let inserted = sqlx::query(
            "INSERT INTO notifier.delivery_log
                 (tenant, delivery_id, conversation_id, status, attempts, lease, destination, external_id)
             VALUES ($1, $2, $3, 'delivered', 1, 0, $4, '')
             ON CONFLICT (tenant, delivery_id) DO NOTHING",
        )
        .bind(&job.tenant)
        .bind(&job.delivery_id)
        .bind(&job.conversation_id)
        .bind(destination)
        .execute(&self.pool)
        .await?;
        let delivered = || Outcome::Delivered {
            attempts: 1,
            destination: destination.to_string(),
            external_id: String::new(),
        };
        if inserted.rows_affected() > 0 {
            return Ok((delivered(), true));
        }
        Ok((self.outcome(job).await?.unwrap_or_else(delivered), false))
    }

    /// Records an attempt starting under `lease` (the delivery count of the message in hand);
    /// returns its claim, or `None` when another delivery of the message holds the work (its
    /// count is not lower and its claim still fresh) or an outcome was logged since the caller
    /// looked.
    pub(crate) async fn start(&self, job: &Job, lease: Lease) -> Result<Option<Claim>, sqlx::Error> {
        let attempts: Option<i32> = sqlx::query_scalar(
            "INSERT INTO notifier.delivery_log (tenant, delivery_id, conversation_id, status, attempts, lease)
             VALUES ($1, $2, $3, 'sending', 1, $4)
             ON CONFLICT (tenant, delivery_id) DO UPDATE
                 SET attempts = notifier.delivery_log.attempts + 1, lease = EXCLUDED.lease, updated_at = now()
                 WHERE notifier.delivery_log.status = 'sending'
                   AND (notifier.delivery_log.lease < EXCLUDED.lease
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
        Ok(attempts
            .map(|attempts| Claim { lease: lease.count, attempt: u32::try_from(attempts).unwrap_or(0) }))
    }

    /// Notes why an attempt will be tried again; `false` when another delivery took the work over.
    pub(crate) async fn retry(&self, job: &Job, claim: Claim, reason: &str) -> Result<bool, sqlx::Error> {
        let updated = sqlx::query(
            "UPDATE notifier.delivery_log SET last_error = $3, updated_at = now()
             WHERE tenant = $1 AND delivery_id = $2 AND lease = $4 AND attempts = $5",
        )
        .bind(&job.tenant)
        .bind(&job.delivery_id)
        .bind(reason)
        .bind(claim.lease)
        .bind(attempt_column(claim))
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected() > 0)
    }

    /// Logs how the attempt under `claim` ended; `false` (nothing logged) when another delivery
    /// took the work over, which logs its own. Logging the same outcome again is harmless.
    pub(crate) async fn finish(
        &self,
        job: &Job,
        claim: Claim,
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
             WHERE tenant = $1 AND delivery_id = $2 AND lease = $7 AND attempts = $8",
        )
        .bind(&job.tenant)
        .bind(&job.delivery_id)
        .bind(status)
        .bind(destination)
        .bind(error)
        .bind(external_id)
        .bind(claim.lease)
        .bind(attempt_column(claim))
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected() > 0)
    }
}

fn attempt_column(claim: Claim) -> i32 {
    i32::try_from(claim.attempt).unwrap_or(i32::MAX)
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
        let job = reply_job("r-1");
        let expiry = Duration::from_secs(300);
        let first = log.start(&job, Lease { count: 1, expiry }).await?.ok_or("first attempt")?;
        assert_eq!(first, Claim { lease: 1, attempt: 1 });
        let failed = Outcome::Failed { attempts: 1, destination: "email".into(), reason: "refused".into() };
        assert!(log.finish(&job, first, &failed).await?);

        assert_eq!(log.start(&job, Lease { count: 2, expiry }).await?, None, "no second send");
        assert!(matches!(log.outcome(&job).await?, Some(Outcome::Failed { .. })));
        pool.close().await;
        database.drop_database().await?;
        Ok(())
    }

    fn reply_job(delivery_id: &str) -> Job {
        Job {
            tenant: "default".into(),
            delivery_id: delivery_id.into(),
            source_id: delivery_id.into(),
            conversation_id: "c-1".into(),
            work: Work::Reply(Default::default()),
        }
    }

    /// Given an attempt at work under delivery count 2, when the message is handed on again
    /// under the same count (a server restarted from older consumer state), then the second
    /// delivery does not start a send; a higher count does, and the first holder logs nothing.
    #[tokio::test]
    async fn only_a_higher_delivery_count_takes_a_fresh_attempt_over() -> Result {
        let database = switchboard_testkit::TestDatabase::create().await?;
        let pool = database.pool().await?;
        crate::migrate_schema(&pool).await?;
        let log = Log::new(pool.clone());
        let job = reply_job("r-2");
        let expiry = Duration::from_secs(300);
        let first = log.start(&job, Lease { count: 2, expiry }).await?.ok_or("first attempt")?;
        assert_eq!(first, Claim { lease: 2, attempt: 1 });

        assert_eq!(log.start(&job, Lease { count: 2, expiry }).await?, None, "same count: no second send");
        let second = log.start(&job, Lease { count: 3, expiry }).await?.ok_or("taken over")?;
        assert_eq!(second, Claim { lease: 3, attempt: 2 });

        let sent =
            Outcome::Delivered { attempts: 1, destination: "email".into(), external_id: "<r-2@x>".into() };
        assert!(!log.retry(&job, first, "slow").await?, "the overtaken holder notes nothing");
        assert!(!log.finish(&job, first, &sent).await?, "the overtaken holder logs nothing");
        let sent =
            Outcome::Delivered { attempts: 2, destination: "email".into(), external_id: "<r-2@x>".into() };
        assert!(log.finish(&job, second, &sent).await?);
        assert!(log.finish(&job, second, &sent).await?, "logging it again is harmless");
        assert_eq!(log.outcome(&job).await?, Some(sent));
        pool.close().await;
        database.drop_database().await?;
        Ok(())
    }

    /// Given an attempt whose claim went stale, when a delivery under the same count takes it
    /// over, then the first holder, back at work, cannot log its outcome over the second's.
    #[tokio::test]
    async fn a_holder_overtaken_under_its_own_count_logs_nothing() -> Result {
        let database = switchboard_testkit::TestDatabase::create().await?;
        let pool = database.pool().await?;
        crate::migrate_schema(&pool).await?;
        let log = Log::new(pool.clone());
        let job = reply_job("r-3");
        let stale = Lease { count: 1, expiry: Duration::ZERO };
        let first = log.start(&job, stale).await?.ok_or("first attempt")?;
        tokio::time::sleep(Duration::from_millis(20)).await;
        let second = log.start(&job, stale).await?.ok_or("a stale claim is taken over")?;
        assert_eq!(second.attempt, 2);

        let sent =
            Outcome::Delivered { attempts: 1, destination: "webhook".into(), external_id: String::new() };
        assert!(!log.finish(&job, first, &sent).await?, "the first holder was overtaken");
        assert_eq!(log.outcome(&job).await?, None, "still the second holder's to log");
        pool.close().await;
        database.drop_database().await?;
        Ok(())
    }
}
