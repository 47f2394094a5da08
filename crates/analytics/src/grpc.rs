//! The thin tonic adapter: counts, content gaps and deflections from the read model, of the
//! caller's tenant only.

use std::time::Duration;

use sqlx::{PgPool, Row as _};
use switchboard_auth::Caller;
use switchboard_projection::wait_for_checkpoint;
use switchboard_proto::{
    analytics::v1::{
        Count, GetCountsRequest, GetCountsResponse, GetReportRequest, ListArticleDeflectionsRequest,
        ListArticleDeflectionsResponse, ListContentGapsRequest, ListContentGapsResponse, ListTrendsRequest,
        ListTrendsResponse, Report, analytics_server,
    },
    time::{to_datetime, to_timestamp},
    to_status,
};
use tokio::sync::watch;
use tonic::{Request, Response, Status};

use crate::{Error, knowledge, projection::METRICS, report, trends};

/// How long `GetCounts` waits for a requested sequence.
const READ_WAIT: Duration = Duration::from_secs(5);

pub struct AnalyticsApi {
    pool: PgPool,
    checkpoint: watch::Receiver<u64>,
    reopen_window: Duration,
}

impl AnalyticsApi {
    pub(crate) fn new(pool: PgPool, checkpoint: watch::Receiver<u64>, reopen_window: Duration) -> Self {
        Self { pool, checkpoint, reopen_window }
    }

    async fn caught_up(&self, min_sequence: u64) -> Result<(), Error> {
        if wait_for_checkpoint(&self.checkpoint, min_sequence, READ_WAIT).await {
            Ok(())
        } else {
            Err(Error::NotCaughtUp(min_sequence))
        }
    }

    async fn counts(&self, tenant: &str, metric: &str, min_sequence: u64) -> Result<Vec<Count>, Error> {
        if !metric.is_empty() && !METRICS.contains(&metric) {
            return Err(Error::UnknownMetric(metric.to_string()));
        }
        self.caught_up(min_sequence).await?;
        let rows = sqlx::query(
            "SELECT metric, channel, intent, value FROM analytics.counts
             WHERE tenant = $1 AND ($2 = '' OR metric = $2) ORDER BY metric, channel, intent",
        )
        .bind(tenant)
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
        let tenant = Caller::of(&request)?.tenant;
        let request = request.into_inner();
        let counts =
            self.counts(&tenant, &request.metric, request.min_sequence).await.map_err(|e| to_status(&e))?;
        Ok(Response::new(GetCountsResponse { counts }))
    }

    async fn list_content_gaps(
        &self,
        request: Request<ListContentGapsRequest>,
    ) -> Result<Response<ListContentGapsResponse>, Status> {
        let tenant = Caller::of(&request)?.tenant;
        let r = request.into_inner();
        let limit = limit_of(r.limit, 20, 200).map_err(|e| to_status(&e))?;
        self.caught_up(r.min_sequence).await.map_err(|e| to_status(&e))?;
        let since = r.since.as_ref().map(|at| to_datetime(Some(at)));
        let language = r.locale.split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase();
        let gaps = knowledge::content_gaps(&self.pool, &tenant, since, &language, limit as usize)
            .await
            .map_err(|e| to_status(&Error::Database(e)))?;
        Ok(Response::new(ListContentGapsResponse { gaps }))
    }

    async fn list_article_deflections(
        &self,
        request: Request<ListArticleDeflectionsRequest>,
    ) -> Result<Response<ListArticleDeflectionsResponse>, Status> {
        let tenant = Caller::of(&request)?.tenant;
        let r = request.into_inner();
        let limit = limit_of(r.limit, 50, 500).map_err(|e| to_status(&e))?;
        let now = chrono::Utc::now();
        let period = report::period(r.from.as_ref(), r.to.as_ref(), 30, now).map_err(|e| to_status(&e))?;
        self.caught_up(r.min_sequence).await.map_err(|e| to_status(&e))?;
        let articles = knowledge::deflections(&self.pool, &tenant, period, now, i64::from(limit))
            .await
            .map_err(|e| to_status(&Error::Database(e)))?;
        Ok(Response::new(ListArticleDeflectionsResponse { articles }))
    }

    async fn get_report(&self, request: Request<GetReportRequest>) -> Result<Response<Report>, Status> {
        let tenant = Caller::of(&request)?.tenant;
        let request = request.into_inner();
        let now = chrono::Utc::now();
        let scope = report::Scope::of(&tenant, &request, now).map_err(|e| to_status(&e))?;
        self.caught_up(request.min_sequence).await.map_err(|e| to_status(&e))?;
        let report = report::report(&self.pool, &scope, now, self.reopen_window, report::EXACT_UP_TO)
            .await
            .map_err(|e| to_status(&Error::Database(e)))?;
        Ok(Response::new(report))
    }

    async fn list_trends(
        &self,
        request: Request<ListTrendsRequest>,
    ) -> Result<Response<ListTrendsResponse>, Status> {
        let tenant = Caller::of(&request)?.tenant;
        let request = request.into_inner();
        let window = trends::Window::of(&request, chrono::Utc::now()).map_err(|e| to_status(&e))?;
        self.caught_up(request.min_sequence).await.map_err(|e| to_status(&e))?;
        let trends =
            trends::trends(&self.pool, &tenant, &window).await.map_err(|e| to_status(&Error::Database(e)))?;
        Ok(Response::new(ListTrendsResponse {
            from: Some(to_timestamp(window.from())),
            to: Some(to_timestamp(window.at)),
            trends,
        }))
    }
}

/// `requested`, or `default` for 0; more than `max` is refused.
fn limit_of(requested: u32, default: u32, max: u32) -> Result<u32, Error> {
    match requested {
        0 => Ok(default),
        limit if limit > max => Err(Error::InvalidArgument(format!("limit is at most {max}"))),
        limit => Ok(limit),
    }
}
