//! Delivering what events ask for (see [`crate::jobs`]): for each delivery, log the attempt,
//! send, log the outcome, publish it; ack the event once every delivery has an outcome.
//!
//! Redelivery after a crash: a logged outcome is republished (same derived event id, so the bus
//! drops the copy) and nothing is sent again; a delivery logged as `sending` (the crash came
//! mid-request) is sent again under the same `Idempotency-Key` or Message-ID. Short of a crash a
//! send is never repeated: its outcome is held until the database takes it (the bus keeps the
//! message leased meanwhile); only a later delivery of the message takes a fresh attempt over,
//! and a handler overtaken while stopped logs nothing: the later one logs its own ([`Lease`],
//! [`Claim`]).

use async_nats::jetstream::consumer::PullConsumer;
use switchboard_bus::{Bus, Delivery, Draft, Handler, HandlerError, process};
use switchboard_channels::outbound::Attempt;
use switchboard_projection::{Deps, Task, is_outage};
use switchboard_proto::events::v1::{
    DeliveryFailed, Event, NotificationDelivered, NotificationFailed, ReplyDelivered, event::Body,
};
use tokio_util::sync::CancellationToken;

use crate::{
    CONSUMER, Failpoint,
    jobs::{Job, Work, jobs_of},
    log::{Claim, Lease, Log, Outcome},
    proactive::Proactive,
    send::Transports,
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
    log: Log,
    transports: Transports,
    proactive: Proactive,
    failpoint: Option<Failpoint>,
}

impl Deliverer {
    pub(crate) fn new(
        deps: Deps,
        transports: Transports,
        proactive: Proactive,
        failpoint: Option<Failpoint>,
    ) -> Self {
        Self { log: Log::new(deps.pool.clone()), deps, transports, proactive, failpoint }
    }

    /// The job's outcome: logged before, or from a new attempt (`Err` to try again later).
    async fn outcome(&self, job: &Job, last_chance: bool, lease: Lease) -> Result<Outcome, HandlerError> {
        if let Some(destination) = self.transports.in_place(job) {
            let (outcome, logged_now) = self.log.delivered_in_place(job, destination).await?;
            if logged_now {
                counted(&outcome);
            }
            return Ok(outcome);
        }
        if let Some(outcome) = self.log.outcome(job).await? {
            return Ok(outcome);
        }
        let Some(claim) = self.log.start(job, lease).await? else {
            // Another delivery of the message logged an outcome meanwhile, or holds the work.
            return self.log.outcome(job).await?.ok_or_else(|| superseded(job));
        };
        let attempts = claim.attempt;
        let (destination, attempt) = self.send(job).await;
        let outcome = match attempt {
            Attempt::Sent { external_id } => Outcome::Delivered { attempts, destination, external_id },
            Attempt::Refused(reason) => Outcome::Failed { attempts, destination, reason },
            Attempt::Retry(reason) if last_chance => Outcome::Failed { attempts, destination, reason },
            Attempt::Retry(reason) => {
                if !self.log.retry(job, claim, &reason).await? {
                    return Err(superseded(job));
                }
                tracing::info!(
                    delivery_id = job.delivery_id,
                    kind = job.kind(),
                    reason,
                    "delivery will be retried"
                );
                return Err(HandlerError::Transient(reason));
            }
        };
        self.log_sent(job, claim, &outcome).await?;
        counted(&outcome);
        Ok(outcome)
    }

    /// One send, cut short past the send timeout (it may still have arrived: it is tried again
    /// under the same `Idempotency-Key` or Message-ID, which the receiver can deduplicate by).
    async fn send(&self, job: &Job) -> (String, Attempt) {
        let limit = self.transports.send_timeout;
        match tokio::time::timeout(limit, self.transports.deliver(job)).await {
            Ok(sent) => sent,
            Err(_) => (job.target(), Attempt::Retry(format!("no answer within {limit:?}"))),
        }
    }

    /// Logs the outcome of a send made, waiting out the database's trouble: the handler must not
    /// end before it is logged, or the next run would find `sending` and send again.
    async fn log_sent(&self, job: &Job, claim: Claim, outcome: &Outcome) -> Result<(), HandlerError> {
        let mut delay = std::time::Duration::from_millis(200);
        loop {
            match self.log.finish(job, claim, outcome).await {
                Ok(true) => return Ok(()),
                Ok(false) => return Err(superseded(job)),
                Err(error) if is_outage(&error) => {
                    tracing::warn!(delivery_id = job.delivery_id, %error, "sent; holding its outcome until it is logged");
                }
                Err(error) => return Err(error.into()),
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(std::time::Duration::from_secs(5));
        }
    }

    /// The fencing token of work done for `delivery`: its delivery count, fresh for ten ack
    /// timers (the server hands a message on within one).
    fn lease(&self, delivery: &Delivery) -> Lease {
        let expiry = self.deps.bus.config().ack_wait * 10;
        Lease { count: delivery.deliveries, expiry }
    }

    async fn publish(&self, cause: &Event, job: &Job, outcome: Outcome) -> Result<(), HandlerError> {
        let body = outcome_event(job, outcome);
        let event = Draft::caused_by(cause, &job.delivery_id, body).build()?;
        self.deps.bus.publish(&event).await?;
        Ok(())
    }
}

impl Handler<Event> for Deliverer {
    async fn handle(&self, event: Event, delivery: &Delivery) -> Result<(), HandlerError> {
        let last_chance = delivery.deliveries >= self.deps.bus.config().max_deliver;
        self.proactive.handle(&event, delivery.stream_sequence, last_chance).await?;
        for job in jobs_of(&event, &self.transports.templates) {
            let outcome = self.outcome(&job, last_chance, self.lease(delivery)).await?;
            match &outcome {
                Outcome::Failed { reason, .. } => {
                    tracing::warn!(
                        delivery_id = job.delivery_id,
                        kind = job.kind(),
                        reason,
                        "delivery failed"
                    )
                }
                Outcome::Delivered { destination, .. } => {
                    tracing::info!(delivery_id = job.delivery_id, kind = job.kind(), destination, "delivered")
                }
            }
            if self.failpoint == Some(Failpoint::HaltAfterSend) {
                tracing::error!(
                    delivery_id = job.delivery_id,
                    "failpoint halt-after-send: halting before the ack"
                );
                std::future::pending::<()>().await;
            }
            self.publish(&event, &job, outcome).await?;
        }
        Ok(())
    }
}

/// A delivery finished, for operators: by outcome and destination (a fixed set of names).
fn counted(outcome: &Outcome) {
    let (outcome, destination) = match outcome {
        Outcome::Delivered { destination, .. } => ("delivered", destination),
        Outcome::Failed { destination, .. } => ("failed", destination),
    };
    metrics::counter!("switchboard_deliveries_total", "outcome" => outcome, "destination" => destination.clone())
        .increment(1);
}

fn superseded(job: &Job) -> HandlerError {
    HandlerError::Superseded(format!("another delivery of the message holds delivery {}", job.delivery_id))
}

fn outcome_event(job: &Job, outcome: Outcome) -> Body {
    let (conversation_id, target) = (job.conversation_id.clone(), job.target());
    match (&job.work, outcome) {
        (Work::Reply(reply), Outcome::Delivered { attempts, destination, external_id }) => {
            Body::ReplyDelivered(ReplyDelivered {
                reply_id: reply.reply_id.clone(),
                conversation_id,
                channel: reply.channel,
                text: reply.text.clone(),
                destination,
                attempts,
                external_id,
                author: reply.author.clone(),
                options: reply.options.clone(),
                language: reply.language.clone(),
            })
        }
        (Work::Reply(reply), Outcome::Failed { attempts, reason, .. }) => {
            Body::DeliveryFailed(DeliveryFailed {
                reply_id: reply.reply_id.clone(),
                conversation_id,
                channel: reply.channel,
                reason,
                attempts,
            })
        }
        (_, Outcome::Delivered { attempts, external_id, .. }) => {
            Body::NotificationDelivered(NotificationDelivered {
                delivery_id: job.delivery_id.clone(),
                source_id: job.source_id.clone(),
                target,
                conversation_id,
                attempts,
                external_id,
            })
        }
        (_, Outcome::Failed { attempts, reason, .. }) => Body::NotificationFailed(NotificationFailed {
            delivery_id: job.delivery_id.clone(),
            source_id: job.source_id.clone(),
            target,
            conversation_id,
            attempts,
            reason,
        }),
    }
}
