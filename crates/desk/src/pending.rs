//! Time-based trigger: a conversation waiting on the customer gets a last notice at the
//! `pending_close` clock's warning and is closed, with a closing message, at its due time.
//! Event ids derive from the tenant, the conversation and the due time, so redeliveries send
//! nothing twice. All of it acts on the clock's tenant's conversation.

use sqlx::PgPool;
use switchboard_bus::{Bus, ConsumerSpec, Delivery, Draft, Handler, HandlerError, key_id, process};
use switchboard_calendar::LocalTime;
use switchboard_phrases::{say, when};
use switchboard_projection::Task;
use switchboard_proto::{
    events::v1::{Event, ReplyRequested, event::Body},
    time::to_datetime,
};
use tokio_util::sync::CancellationToken;

use crate::{Error, closing, sla::PENDING_CLOSE, tenancy::tenant_of};

/// Named when the router ran it: the durable consumer keeps its place in the stream across the
/// move, so no notice is sent twice after an upgrade.
pub const CONSUMER: &str = "router-pending";

pub async fn spawn(bus: Bus, pool: PgPool, shutdown: CancellationToken) -> Result<Task, Error> {
    let spec = ConsumerSpec::events(CONSUMER, "switchboard.events.sla.>", 8);
    let consumer = bus.durable_consumer(&spec).await?;
    let closer = Closer { bus: bus.clone(), pool };
    Ok(tokio::spawn(async move {
        process(&bus, &consumer, CONSUMER, &closer, 8, &shutdown).await.map_err(Into::into)
    }))
}

struct Closer {
    bus: Bus,
    pool: PgPool,
}

impl Handler<Event> for Closer {
    async fn handle(&self, event: Event, _delivery: &Delivery) -> Result<(), HandlerError> {
        let (conversation, due, closing) = match &event.body {
            Some(Body::SlaWarning(w)) if w.metric == PENDING_CLOSE => {
                (w.conversation_id.clone(), w.due_at, false)
            }
            Some(Body::SlaBreached(b)) if b.metric == PENDING_CLOSE => {
                (b.conversation_id.clone(), b.due_at, true)
            }
            _ => return Ok(()),
        };
        let due = to_datetime(due.as_ref());
        let kind = if closing { "close" } else { "notice" };
        let tenant = tenant_of(&event);
        let key = format!("{tenant}/pending/{conversation}/{kind}/{}", due.timestamp());
        self.tell(&event, &conversation, &Notice { closing, due }, &key).await?;
        if closing {
            let reason = "no answer from the customer";
            let closed = closing::closed(&self.bus, &self.pool, tenant, &conversation, reason, false).await?;
            let closed = Draft::caused_by(&event, conversation.clone(), Body::ConversationClosed(closed))
                .keyed(format!("{tenant}/pending/{conversation}/closed/{}", due.timestamp()))
                .build()?;
            self.bus.publish(&closed).await?;
            tracing::info!("conversation closed after waiting on the customer");
        }
        Ok(())
    }
}

impl Closer {
    /// Writes the notice to the customer of the cause's tenant's `conversation` on the channel it
    /// started on, in the conversation's language.
    async fn tell(
        &self,
        cause: &Event,
        conversation: &str,
        notice: &Notice,
        key: &str,
    ) -> Result<(), HandlerError> {
        let contact = closing::contact(&self.bus, tenant_of(cause), conversation).await?;
        let Some(contact) = contact else {
            tracing::warn!("pending conversation has no customer message; no notice sent");
            return Ok(());
        };
        let reply_id = key_id(key).to_string();
        let body = Body::ReplyRequested(ReplyRequested {
            reply_id: reply_id.clone(),
            conversation_id: conversation.to_string(),
            customer_id: contact.customer_id,
            channel: contact.channel,
            text: notice.text(&contact.language),
            language: contact.language,
            ..ReplyRequested::default()
        });
        let event = Draft::caused_by(cause, reply_id, body).keyed(key).build()?;
        self.bus.publish(&event).await?;
        Ok(())
    }
}

/// The last notice before a pending conversation closes, or the closing message.
struct Notice {
    closing: bool,
    due: chrono::DateTime<chrono::Utc>,
}

impl Notice {
    fn text(&self, language: &str) -> String {
        if self.closing {
            return say(language, "pending.closed", &[]);
        }
        let due = when(language, &LocalTime::utc(self.due));
        say(language, "pending.warning", &[("due", &due)])
    }
}
