//! Delivering a `ReplyRequested`: log, send, log the outcome, publish it, then ack.
//!
//! Redelivery after a crash: a logged outcome is republished (same derived event id, so the bus
//! drops the copy) and nothing is sent again; a delivery logged as `sending` (the crash came
//! mid-request) is sent again with the same `Idempotency-Key`.

use async_nats::jetstream::consumer::PullConsumer;
use sqlx::Row as _;
use switchboard_bus::{Bus, Delivery, Draft, Handler, HandlerError, process};
use switchboard_projection::{Deps, Task, is_outage};
use switchboard_proto::events::v1::{DeliveryFailed, Event, ReplyDelivered, ReplyRequested, event::Body};
use tokio_util::sync::CancellationToken;

use crate::{
    CONSUMER,
    webhook::{Attempt, Webhook},
};

/// Messages handled at once.
pub(crate) const CONCURRENCY: usize = 32;

pub(crate) fn spawn(
    bus: Bus,
    consumer: PullConsumer,
    deliverer: Deliverer,
    shutdown: CancellationToken,
) -> Task {
    tokio::spawn(async move {
        process(&bus, &consumer, CONSUMER, &deliverer, CONCURRENCY, &shutdown).await.map_err(Into::into)
    })
}

pub(crate) struct Deliverer {
    deps: Deps,
    webhook: Webhook,
}

/// What became of a reply.
enum Outcome {
    Delivered { attempts: u32 },
    Failed { attempts: u32, reason: String },
}

impl Deliverer {
    pub(crate) fn new(deps: Deps, webhook: Webhook) -> Self {
        Self { deps, webhook }
    }

    fn destination(&self) -> &'static str {
        if self.webhook.is_configured() { "conversation+webhook" } else { "conversation" }
    }

    /// The outcome already logged for this reply, if any.
    async fn logged(&self, reply_id: &str) -> Result<Option<Outcome>, sqlx::Error> {
        let row =
            sqlx::query("SELECT status, attempts, last_error FROM notifier.delivery_log WHERE reply_id = $1")
                .bind(reply_id)
                .fetch_optional(&self.deps.pool)
                .await?;
        Ok(row.and_then(|row| {
            let attempts = u32::try_from(row.get::<i32, _>(1)).unwrap_or(0);
            match row.get::<String, _>(0).as_str() {
                "delivered" => Some(Outcome::Delivered { attempts }),
                "failed" => Some(Outcome::Failed { attempts, reason: row.get(2) }),
                _ => None,
            }
        }))
    }

    /// Records an attempt starting; returns the attempt number.
    async fn log_attempt(&self, reply: &ReplyRequested) -> Result<u32, sqlx::Error> {
        let attempts: i32 = sqlx::query_scalar(
            "INSERT INTO notifier.delivery_log (reply_id, conversation_id, status, attempts)
             VALUES ($1, $2, 'sending', 1)
             ON CONFLICT (reply_id) DO UPDATE SET attempts = notifier.delivery_log.attempts + 1,
                 updated_at = now()
             RETURNING attempts",
        )
        .bind(&reply.reply_id)
        .bind(&reply.conversation_id)
        .fetch_one(&self.deps.pool)
        .await?;
        Ok(u32::try_from(attempts).unwrap_or(0))
    }

    async fn log(&self, reply_id: &str, status: &str, error: &str) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE notifier.delivery_log SET status = $2, last_error = $3, updated_at = now() WHERE reply_id = $1")
            .bind(reply_id)
            .bind(status)
            .bind(error)
            .execute(&self.deps.pool)
            .await?;
        Ok(())
    }

    /// Sends once more; `None` means try again later.
    async fn send(&self, reply: &ReplyRequested, last_chance: bool) -> Result<Option<Outcome>, HandlerError> {
        let attempts = self.log_attempt(reply).await.map_err(transient)?;
        let outcome = match self.webhook.send(reply).await {
            Attempt::Sent => Outcome::Delivered { attempts },
            Attempt::Refused(reason) => Outcome::Failed { attempts, reason },
            Attempt::Retry(reason) if last_chance => Outcome::Failed { attempts, reason },
            Attempt::Retry(reason) => {
                self.log(&reply.reply_id, "sending", &reason).await.map_err(transient)?;
                return Err(HandlerError::Transient(reason));
            }
        };
        let (status, error) = match &outcome {
            Outcome::Delivered { .. } => ("delivered", ""),
            Outcome::Failed { reason, .. } => ("failed", reason.as_str()),
        };
        self.log(&reply.reply_id, status, error).await.map_err(transient)?;
        Ok(Some(outcome))
    }

    async fn publish(
        &self,
        cause: &Event,
        reply: &ReplyRequested,
        outcome: Outcome,
    ) -> Result<(), HandlerError> {
        let body = match outcome {
            Outcome::Delivered { attempts } => Body::ReplyDelivered(ReplyDelivered {
                reply_id: reply.reply_id.clone(),
                conversation_id: reply.conversation_id.clone(),
                channel: reply.channel,
                text: reply.text.clone(),
                destination: self.destination().into(),
                attempts,
            }),
            Outcome::Failed { attempts, reason } => Body::DeliveryFailed(DeliveryFailed {
                reply_id: reply.reply_id.clone(),
                conversation_id: reply.conversation_id.clone(),
                channel: reply.channel,
                reason,
                attempts,
            }),
        };
        let event = Draft::caused_by(cause, &reply.reply_id, body)
            .build()
            .map_err(|error| HandlerError::Permanent(error.to_string()))?;
        self.deps.bus.publish(&event).await.map_err(|error| HandlerError::Unavailable(error.to_string()))?;
        Ok(())
    }
}

impl Handler<Event> for Deliverer {
    async fn handle(&self, event: Event, delivery: &Delivery) -> Result<(), HandlerError> {
        let Some(Body::ReplyRequested(reply)) = &event.body else {
            return Ok(());
        };
        let outcome = match self.logged(&reply.reply_id).await.map_err(transient)? {
            Some(outcome) => outcome,
            None => {
                let last_chance = delivery.deliveries >= self.deps.bus.config().max_deliver;
                match self.send(reply, last_chance).await? {
                    Some(outcome) => outcome,
                    None => return Ok(()),
                }
            }
        };
        if let Outcome::Failed { reason, .. } = &outcome {
            tracing::warn!(reply_id = reply.reply_id, reason, "reply delivery failed");
        } else {
            tracing::info!(reply_id = reply.reply_id, "reply delivered");
        }
        self.publish(&event, reply, outcome).await
    }
}

/// A database failure: held until the database is back if it is down, else retried.
fn transient(error: sqlx::Error) -> HandlerError {
    if is_outage(&error) {
        HandlerError::Unavailable(error.to_string())
    } else {
        HandlerError::Transient(error.to_string())
    }
}
