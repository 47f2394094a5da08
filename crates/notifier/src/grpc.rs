//! The thin tonic adapter: deliveries of a conversation, from the read model.

use sqlx::{PgPool, Row as _};
use switchboard_proto::{
    notifier::v1::{Delivery, ListDeliveriesRequest, ListDeliveriesResponse, notifier_server},
    time::to_timestamp,
    to_status,
};
use tonic::{Request, Response, Status};

pub struct NotifierApi {
    pool: PgPool,
}

impl NotifierApi {
    pub(crate) fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[tonic::async_trait]
impl notifier_server::Notifier for NotifierApi {
    async fn list_deliveries(
        &self,
        request: Request<ListDeliveriesRequest>,
    ) -> Result<Response<ListDeliveriesResponse>, Status> {
        let conversation_id = request.into_inner().conversation_id;
        if conversation_id.is_empty() {
            return Err(Status::invalid_argument("conversation_id is required"));
        }
        let rows = sqlx::query(
            "SELECT reply_id, conversation_id, channel, status, destination, attempts, failure_reason, at
             FROM notifier.deliveries WHERE conversation_id = $1 ORDER BY at, reply_id",
        )
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
            })
            .collect();
        Ok(Response::new(ListDeliveriesResponse { deliveries }))
    }
}
