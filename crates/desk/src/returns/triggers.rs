//! Triggers on return decisions: an approved return sends the refund confirmation to the
//! customer and a notice to the warehouse the return names; a rejected one tells the customer
//! why, all for the return's tenant. Event ids derive from the tenant and the return, so
//! redeliveries send nothing twice.

use switchboard_bus::{Bus, ConsumerSpec, Delivery, Draft, Handler, HandlerError, key_id, process};
use switchboard_phrases::say;
use switchboard_projection::Task;
use switchboard_proto::events::v1::{
    Event, NotificationRequested, ReplyRequested, ReturnOpened, event::Body,
};
use tokio_util::sync::CancellationToken;

use crate::{Error, closing, tenancy::tenant_of};

/// Named when the router ran it: the durable consumer keeps its place in the stream across the
/// move, so no confirmation is sent twice after an upgrade.
pub const CONSUMER: &str = "router-returns";

/// Who hears of an approved return that names no one (returns opened before they did).
const WAREHOUSE: &str = "team:warehouse";

pub async fn spawn(bus: Bus, shutdown: CancellationToken) -> Result<Task, Error> {
    let spec = ConsumerSpec::events(CONSUMER, "switchboard.events.return.>", 8);
    let consumer = bus.durable_consumer(&spec).await?;
    let triggers = Triggers { bus: bus.clone() };
    Ok(tokio::spawn(async move {
        process(&bus, &consumer, CONSUMER, &triggers, 8, &shutdown).await.map_err(Into::into)
    }))
}

struct Triggers {
    bus: Bus,
}

/// What the customer is told of the decision, in the conversation's language.
pub fn decision_text(opened: &ReturnOpened, rejected_because: Option<&str>, language: &str) -> String {
    let ids = [("order_id", opened.order_id.as_str()), ("return_id", opened.return_id.as_str())];
    match rejected_because {
        None => say(language, "return.approved", &ids),
        Some(why) => say(language, "return.rejected", &[ids[0], ids[1], ("why", why)]),
    }
}

pub fn warehouse_notice(order_id: &str, return_id: &str) -> (String, String) {
    (
        format!("Return {return_id} approved"),
        format!("Return {return_id} for order {order_id} is approved: expect the parcel and restock it."),
    )
}

impl Handler<Event> for Triggers {
    async fn handle(&self, event: Event, _delivery: &Delivery) -> Result<(), HandlerError> {
        let (return_id, approved, why) = match &event.body {
            Some(Body::ReturnApproved(a)) => (a.return_id.clone(), true, String::new()),
            Some(Body::ReturnRejected(r)) => (r.return_id.clone(), false, r.reason.clone()),
            _ => return Ok(()),
        };
        let state = super::load(&self.bus, tenant_of(&event), &return_id).await?;
        let Some(opened) = state.opened else {
            return Err(HandlerError::Permanent(format!("return {return_id} was never opened")));
        };
        self.reply(&event, &opened, (!approved).then_some(why.as_str())).await?;
        if approved {
            self.notify_warehouse(&event, &opened).await?;
        }
        tracing::info!(return_id, approved, "return decision triggered");
        Ok(())
    }
}

impl Triggers {
    async fn reply(
        &self,
        cause: &Event,
        opened: &ReturnOpened,
        rejected_because: Option<&str>,
    ) -> Result<(), HandlerError> {
        let tenant = tenant_of(cause);
        let contact = closing::contact(&self.bus, tenant, &opened.conversation_id).await?;
        let language = contact.map(|contact| contact.language).unwrap_or_default();
        let reply_id = key_id(&format!("{tenant}/refund-reply/{}", opened.return_id)).to_string();
        let body = Body::ReplyRequested(ReplyRequested {
            reply_id: reply_id.clone(),
            conversation_id: opened.conversation_id.clone(),
            in_reply_to: opened.message_id.clone(),
            customer_id: opened.customer_id.clone(),
            channel: opened.channel,
            text: decision_text(opened, rejected_because, &language),
            language,
            ..ReplyRequested::default()
        });
        self.publish(cause, &reply_id, body).await
    }

    async fn notify_warehouse(&self, cause: &Event, opened: &ReturnOpened) -> Result<(), HandlerError> {
        let tenant = tenant_of(cause);
        let target =
            if opened.warehouse.is_empty() { WAREHOUSE.to_string() } else { opened.warehouse.clone() };
        let (subject, text) = warehouse_notice(&opened.order_id, &opened.return_id);
        let notification_id = key_id(&format!("{tenant}/warehouse/{}", opened.return_id)).to_string();
        let body = Body::NotificationRequested(NotificationRequested {
            notification_id: notification_id.clone(),
            target,
            subject,
            text,
            conversation_id: opened.conversation_id.clone(),
        });
        self.publish(cause, &notification_id, body).await
    }

    async fn publish(&self, cause: &Event, aggregate_id: &str, body: Body) -> Result<(), HandlerError> {
        // The aggregate id is itself derived from the tenant and the return, so it keys the event too.
        let event = Draft::caused_by(cause, aggregate_id, body).keyed(aggregate_id).build()?;
        self.bus.publish(&event).await?;
        Ok(())
    }
}
