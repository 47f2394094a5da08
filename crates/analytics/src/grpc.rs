//! The thin tonic adapter: counts from the read model.

use std::time::Duration;

use sqlx::{PgPool, Row as _};
use switchboard_projection::wait_for_checkpoint;
use switchboard_proto::{
    analytics::v1::{Count, GetCountsRequest, GetCountsResponse, analytics_server},
    to_status,
};
use tokio::sync::watch;
use tonic::{Request, Response, Status};

use crate::{Error, projection::METRICS};

/// How long `GetCounts` waits for a requested sequence.
const READ_WAIT: Duration = Duration::from_secs(5);

pub struct AnalyticsApi {
    pool: PgPool,
    checkpoint: watch::Receiver<u64>,
}

impl AnalyticsApi {
    pub(crate) fn new(pool: PgPool, checkpoint: watch::Receiver<u64>) -> Self {
        Self { pool, checkpoint }
    }

    async fn counts(&self, metric: &str, min_sequence: u64) -> Result<Vec<Count>, Error> {
        if !metric.is_empty() && !METRICS.contains(&metric) {
            return Err(Error::UnknownMetric(metric.to_string()));
        }
        if !wait_for_checkpoint(&self.checkpoint, min_sequence, READ_WAIT).await {
            return Err(Error::NotCaughtUp(min_sequence));
        }
        let rows = sqlx::query(
            "SELECT metric, channel, intent, value FROM analytics.counts
             WHERE $1 = '' OR metric = $1 ORDER BY metric, channel, intent",
        )
        .bind(metric)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|row| Count {
                metric: row.get(0),
                channel: row.get(1),
                intent: row.get(2),
                value: u64::try_from(row.get::<i64, _>(3)).unwrap_or(0),
            })
            .collect())
    }
}

#[tonic::async_trait]
impl analytics_server::Analytics for AnalyticsApi {
    async fn get_counts(
        &self,
        request: Request<GetCountsRequest>,
    ) -> Result<Response<GetCountsResponse>, Status> {
        let request = request.into_inner();
        let counts = self.counts(&request.metric, request.min_sequence).await.map_err(|e| to_status(&e))?;
        Ok(Response::new(GetCountsResponse { counts }))
    }
}
