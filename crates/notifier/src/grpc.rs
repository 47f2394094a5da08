//! The thin tonic adapter: deliveries of a conversation of the caller's tenant, from the read
//! model; outages and device alerts the company's systems report for the caller's tenant.

use std::time::Duration;

use sqlx::{PgPool, Row as _};
use switchboard_auth::Caller;
use switchboard_projection::wait_for_checkpoint;
use switchboard_proto::{
    notifier::v1::{
        DeclareOutageRequest, Delivery, ListDeliveriesRequest, ListDeliveriesResponse, Published,
        RaiseDeviceAlertRequest, notifier_server,
    },
    time::to_timestamp,
    to_status,
};
use tokio::sync::watch;
use tonic::{Request, Response, Status};

/// How long `ListDeliveries` waits for a requested sequence.
const READ_WAIT: Duration = Duration::from_secs(5);

pub struct NotifierApi {
    bus: switchboard_bus::Bus,
    pool: PgPool,
    checkpoint: watch::Receiver<u64>,
}

impl NotifierApi {
    pub(crate) fn new(bus: switchboard_bus::Bus, pool: PgPool, checkpoint: watch::Receiver<u64>) -> Self {
        Self { bus, pool, checkpoint }
    }
}

#[tonic::async_trait]
impl notifier_server::Notifier for NotifierApi {
    async fn declare_outage(
        &self,
        request: Request<DeclareOutageRequest>,
    ) -> Result<Response<Published>, Status> {
        let tenant = Caller::of(&request)?.tenant;
        let outage =
            request.into_inner().outage.ok_or_else(|| Status::invalid_argument("outage is required"))?;
        let sequence =
            crate::reports::declare_outage(&self.bus, &tenant, outage).await.map_err(|e| to_status(&e))?;
        Ok(Response::new(Published { sequence }))
    }

    async fn raise_device_alert(
        &self,
        request: Request<RaiseDeviceAlertRequest>,
    ) -> Result<Response<Published>, Status> {
        let tenant = Caller::of(&request)?.tenant;
        let alert =
            request.into_inner().alert.ok_or_else(|| Status::invalid_argument("alert is required"))?;
        let sequence =
            crate::reports::raise_device_alert(&self.bus, &tenant, alert).await.map_err(|e| to_status(&e))?;
        Ok(Response::new(Published { sequence }))
    }

    async fn list_deliveries(
        &self,
        request: Request<ListDeliveriesRequest>,
    ) -> Result<Response<ListDeliveriesResponse>, Status> {
        let tenant = Caller::of(&request)?.tenant;
        let ListDeliveriesRequest { conversation_id, min_sequence } = request.into_inner();
        if conversation_id.is_empty() {
            return Err(Status::invalid_argument("conversation_id is required"));
        }
        if !wait_for_checkpoint(&self.checkpoint, min_sequence, READ_WAIT).await {
            return Err(to_status(&crate::Error::NotCaughtUp(min_sequence)));
        }
        let rows = sqlx::query(
            "SELECT delivery_id, conversation_id, channel, status, destination, attempts, failure_reason, at,
                 kind, target, external_id
             FROM notifier.deliveries WHERE tenant = $1 AND conversation_id = $2 ORDER BY at, delivery_id",
        )
        .bind(&tenant)
        .bind(&conversation_id)
        .fetch_all(&self.pool)
        .await
        .map_err(|error| to_status(&crate::Error::Database(error)))?;
        let deliveries = rows
            .iter()
            .map(|row| Delivery {
                reply_id: row.get(0),
                conversation_id: row.get(1),
                channel: row.get(2),
                status: row.get(3),
                destination: row.get(4),
                attempts: u32::try_from(row.get::<i32, _>(5)).unwrap_or(0),
                failure_reason: row.get(6),
                at: Some(to_timestamp(row.get(7))),
                kind: row.get(8),
                // Deliveries logged before targets were shown by origin only hold whole URLs.
                target: switchboard_bus::shown_target(row.get(9)),
                external_id: row.get(10),
            })
            .collect();
        Ok(Response::new(ListDeliveriesResponse { deliveries }))
    }
}
