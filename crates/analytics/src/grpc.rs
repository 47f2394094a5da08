//! The thin tonic adapter: counts from the read model.

use sqlx::{PgPool, Row as _};
use switchboard_proto::{
    analytics::v1::{Count, GetCountsRequest, GetCountsResponse, analytics_server},
    to_status,
};
use tonic::{Request, Response, Status};

use crate::{Error, projection::METRICS};

pub struct AnalyticsApi {
    pool: PgPool,
}

impl AnalyticsApi {
    pub(crate) fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    async fn counts(&self, metric: &str) -> Result<Vec<Count>, Error> {
        if !metric.is_empty() && !METRICS.contains(&metric) {
            return Err(Error::UnknownMetric(metric.to_string()));
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
    async fn get_counts(&self, request: Request<GetCountsRequest>) -> Result<Response<GetCountsResponse>, Status> {
        let counts = self.counts(&request.into_inner().metric).await.map_err(|e| to_status(&e))?;
        Ok(Response::new(GetCountsResponse { counts }))
    }
}
