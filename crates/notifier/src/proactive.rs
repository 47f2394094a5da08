//! Proactive messages, from business events: order updates (shipped, delivered, cancelled),
//! device alerts (a ticket for the repair team and a notice to the customer), outage notices to
//! the customers affected, a survey after a conversation closes (after a delay, once), and
//! onboarding sequences (steps after delays, skipped when the customer has done them).
//! Everything acts for the business event's tenant: its customers, its read model rows, its
//! timers; what it publishes is that tenant's, under keys that name it.

use std::time::Duration;

use prost::Message as _;
use serde_json::json;
use sqlx::PgPool;
use switchboard_bus::{Bus, Draft, HandlerError, INBOUND_SUBJECT_PREFIX};
use switchboard_projection::wait_for_checkpoint;
use switchboard_proto::{
    events::v1::{
        Channel, ConversationClosed, CustomerProfileUpdated, DeviceAlertRaised, Event, InboundMessage,
        NotificationFailed, OnboardingStepTaken, OrderStatus, OrderUpdated, OutageDeclared, ReplyRequested,
        SurveySent, event::Body,
    },
    time::to_datetime,
};

use crate::{
    reach::{self, Message},
    schedule,
    templates::Templates,
    tenancy::tenant_key,
};

/// Surveys after closings; off without a secret to sign their links.
#[derive(Debug, Clone)]
pub struct Surveys {
    /// `csat` (1-5) or `nps` (0-10).
    pub kind: String,
    pub secret: String,
    pub delay: Duration,
    /// Where customers open survey links: the channels' public HTTP address.
    pub public_url: String,
}

#[derive(Clone)]
pub(crate) struct Proactive {
    pub checkpoint: tokio::sync::watch::Receiver<u64>,
    pub pool: PgPool,
    pub bus: Bus,
    pub templates: Templates,
    pub surveys: Option<Surveys>,
}

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// How long a business event waits for the read model to reach it.
const CATCH_UP: std::time::Duration = std::time::Duration::from_secs(5);

/// Business events older than this tell nobody anything.
const STALE_AFTER: chrono::TimeDelta = chrono::TimeDelta::hours(24);

fn is_proactive(event: &Event) -> bool {
    matches!(
        event.body,
        Some(
            Body::OrderUpdated(_)
                | Body::DeviceAlertRaised(_)
                | Body::OutageDeclared(_)
                | Body::ConversationClosed(_)
                | Body::CustomerProfileUpdated(_)
        )
    )
}

impl Proactive {
    /// Acts on a business event; `last_chance` turns "try again later" into a failure event.
    /// Acts on a business event at stream `sequence`, once the read model holds everything up to
    /// it (who the customer is, how to reach them, in which language).
    pub(crate) async fn handle(
        &self,
        event: &Event,
        sequence: u64,
        last_chance: bool,
    ) -> Result<(), HandlerError> {
        if !is_proactive(event) {
            return Ok(());
        }
        if !wait_for_checkpoint(&self.checkpoint, sequence, CATCH_UP).await {
            return Err(HandlerError::Transient("the notifier's read model is behind; trying again".into()));
        }
        let age = chrono::Utc::now() - to_datetime(event.occurred_at.as_ref());
        if age > STALE_AFTER {
            // A consumer reading old history (a new deployment, a long outage) must not tell
            // customers yesterday's news or start sequences for long-standing customers.
            tracing::info!(event_type = event.r#type, "stale business event; nobody is told");
            return Ok(());
        }
        let result = match &event.body {
            Some(Body::OrderUpdated(order)) => self.order(event, order).await,
            Some(Body::DeviceAlertRaised(alert)) => self.device_alert(event, alert).await,
            Some(Body::OutageDeclared(outage)) => return self.outage(event, outage).await,
            Some(Body::ConversationClosed(closed)) => self.schedule_survey(event, closed).await,
            Some(Body::CustomerProfileUpdated(profile)) => self.schedule_onboarding(event, profile).await,
            _ => return Ok(()),
        };
        match result {
            Ok(()) => Ok(()),
            Err(reach::Error::Unreachable(customer)) if last_chance => {
                self.unreachable(event, &customer).await
            }
            Err(error) => Err(error.into()),
        }
    }

    async fn order(&self, event: &Event, order: &OrderUpdated) -> Result<(), reach::Error> {
        let status = match order.status() {
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Cancelled => "cancelled",
            _ => return Ok(()),
        };
        let vars = [
            ("order_id", order.order_id.as_str()),
            ("carrier", order.carrier.as_str()),
            ("tracking_number", order.tracking_number.as_str()),
            ("tracking_url", order.tracking_url.as_str()),
        ];
        let template = format!("order_{status}");
        let key = format!("order/{}/{status}", order.order_id);
        let customer_id = &order.customer_id;
        let message = Message { tenant: &event.tenant, key, customer_id, template: &template, vars: &vars };
        reach::tell(&self.pool, &self.bus, &self.templates, Some(event), message).await
    }

    /// A notice to the customer, then a ticket for the repair team (a conversation on the API
    /// channel, which the rules route), opened whether or not the customer could be told. The
    /// notice is addressed first: once the ticket's conversation is projected it is the
    /// customer's latest contact, and the notice must go where the customer writes.
    async fn device_alert(&self, event: &Event, alert: &DeviceAlertRaised) -> Result<(), reach::Error> {
        let vars = [
            ("device_kind", alert.device_kind.as_str()),
            ("device_id", alert.device_id.as_str()),
            ("problem", alert.problem.as_str()),
        ];
        let message = Message {
            tenant: &event.tenant,
            key: format!("device/{}", alert.alert_id),
            customer_id: &alert.customer_id,
            template: "device_alert",
            vars: &vars,
        };
        let told = reach::tell(&self.pool, &self.bus, &self.templates, Some(event), message).await;
        let ticket = InboundMessage {
            channel: Channel::Api.into(),
            customer_id: alert.customer_id.clone(),
            text: self.templates.render("device_ticket", "en", &vars),
            idempotency_key: format!("device-alert:{}", alert.alert_id),
            tenant: event.tenant.clone(),
            ..InboundMessage::default()
        };
        let subject = format!("{INBOUND_SUBJECT_PREFIX}.api");
        let key = tenant_key(&event.tenant, &ticket.idempotency_key);
        self.bus.publish_raw(subject, ticket.encode_to_vec().into(), &key).await?;
        told
    }

    /// Each affected customer is told once per outage and status; one who cannot be reached does
    /// not hold up the others (a failure event says who).
    async fn outage(&self, event: &Event, outage: &OutageDeclared) -> Result<(), HandlerError> {
        let status = if outage.status == "resolved" { "resolved" } else { "started" };
        let customers = self.affected(&event.tenant, outage).await?;
        let vars = [("title", outage.title.as_str()), ("detail", outage.detail.as_str())];
        let template = format!("outage_{status}");
        for customer in &customers {
            let message = Message {
                tenant: &event.tenant,
                key: format!("outage/{}/{status}/{customer}", outage.outage_id),
                customer_id: customer,
                template: &template,
                vars: &vars,
            };
            match reach::tell(&self.pool, &self.bus, &self.templates, Some(event), message).await {
                Ok(()) => {}
                Err(reach::Error::Unreachable(customer)) => self.unreachable(event, &customer).await?,
                Err(error) => return Err(error.into()),
            }
        }
        tracing::info!(customers = customers.len(), status, "outage notices requested");
        Ok(())
    }

    /// The tenant's customers an outage names or whose attributes match its `affected`.
    async fn affected(&self, tenant: &str, outage: &OutageDeclared) -> Result<Vec<String>, sqlx::Error> {
        let mut customers = outage.customer_ids.clone();
        if !outage.affected.is_empty() {
            let matching: Vec<String> = sqlx::query_scalar(
                "SELECT customer_id FROM notifier.customers WHERE tenant = $1 AND attributes @> $2
                 ORDER BY customer_id",
            )
            .bind(tenant)
            .bind(json!(outage.affected))
            .fetch_all(&self.pool)
            .await?;
            customers.extend(matching);
        }
        customers.sort();
        customers.dedup();
        Ok(customers)
    }

    async fn schedule_survey(&self, event: &Event, closed: &ConversationClosed) -> Result<(), reach::Error> {
        let Some(surveys) = &self.surveys else { return Ok(()) };
        let due = to_datetime(event.occurred_at.as_ref())
            + chrono::Duration::from_std(surveys.delay).unwrap_or_default();
        let payload = json!({
            "conversation_id": closed.conversation_id,
            "customer_id": closed.customer_id,
            "channel": closed.channel,
            "handled_by": closed.handled_by,
        });
        let key = format!("survey/{}", closed.conversation_id);
        schedule::add(&self.pool, &event.tenant, &key, due, "survey", payload).await?;
        Ok(())
    }

    /// A profile gaining a sequence's trigger attribute starts the sequence (once per customer).
    async fn schedule_onboarding(
        &self,
        event: &Event,
        profile: &CustomerProfileUpdated,
    ) -> Result<(), reach::Error> {
        let at = to_datetime(event.occurred_at.as_ref());
        for (name, sequence) in self.templates.sequences() {
            if !profile.attributes.contains_key(&sequence.trigger) {
                continue;
            }
            for step in &sequence.steps {
                let key = format!("onboarding/{name}/{}/{}", profile.customer_id, step.name);
                let payload = json!({
                    "customer_id": profile.customer_id,
                    "sequence": name,
                    "step": step.name,
                    "template": step.template,
                    "unless": step.unless,
                });
                schedule::add(&self.pool, &event.tenant, &key, at + step.after, "onboarding", payload)
                    .await?;
            }
        }
        Ok(())
    }

    /// Fires a `tenant`'s scheduled row.
    pub(crate) async fn fire(
        &self,
        tenant: &str,
        kind: &str,
        payload: &serde_json::Value,
    ) -> Result<(), Failure> {
        let text = |key: &str| payload[key].as_str().unwrap_or_default().to_string();
        match kind {
            "survey" => {
                self.send_survey(
                    tenant,
                    &text("conversation_id"),
                    &text("customer_id"),
                    payload["channel"].as_i64().unwrap_or(0),
                    &text("handled_by"),
                )
                .await
            }
            "onboarding" => {
                self.onboarding_step(
                    tenant,
                    &text("customer_id"),
                    &text("sequence"),
                    &text("step"),
                    &text("template"),
                    &text("unless"),
                )
                .await
            }
            other => {
                tracing::warn!(kind = other, "unknown scheduled kind; dropped");
                Ok(())
            }
        }
    }

    async fn send_survey(
        &self,
        tenant: &str,
        conversation_id: &str,
        customer_id: &str,
        channel: i64,
        handled_by: &str,
    ) -> Result<(), Failure> {
        let Some(surveys) = &self.surveys else { return Ok(()) };
        let token =
            switchboard_channels::signature::survey_token(surveys.secret.as_bytes(), tenant, conversation_id);
        let link = format!("{}/surveys/{token}", surveys.public_url.trim_end_matches('/'));
        let key = tenant_key(tenant, &format!("survey/{conversation_id}"));
        let reply_id = switchboard_bus::key_id(&key).to_string();
        let channel = i32::try_from(channel).unwrap_or(0);
        let reach = reach::reach(&self.pool, tenant, customer_id).await?;
        let template = format!("survey_{}", surveys.kind);
        let text = self.templates.render(&template, &reach.language, &[("link", &link)]);
        let language = reach.language.clone();
        let body = if channel != Channel::Voice as i32 {
            Body::ReplyRequested(ReplyRequested {
                reply_id: reply_id.clone(),
                conversation_id: conversation_id.into(),
                customer_id: customer_id.into(),
                channel,
                text,
                language: reach.language,
                ..ReplyRequested::default()
            })
        } else if let reach::Way::Email(address) = reach.way {
            // The call is over: the survey goes by email when the profile has an address.
            Body::NotificationRequested(switchboard_proto::events::v1::NotificationRequested {
                notification_id: reply_id.clone(),
                target: format!("email:{address}"),
                subject: self.templates.render(&format!("{template}_subject"), &reach.language, &[]),
                text,
                conversation_id: conversation_id.into(),
            })
        } else {
            tracing::info!("no way to survey a finished call without an email address; skipped");
            return Ok(());
        };
        let ask = Draft::new(tenant, &reply_id, body).keyed(key.clone()).build()?;
        self.bus.publish(&ask).await?;
        let sent = SurveySent {
            conversation_id: conversation_id.into(),
            kind: surveys.kind.clone(),
            handled_by: handled_by.into(),
            channel,
            customer_id: customer_id.into(),
            language,
        };
        let sent = Draft::new(tenant, conversation_id, Body::SurveySent(sent))
            .keyed(format!("{key}/sent"))
            .build()?;
        self.bus.publish(&sent).await?;
        tracing::info!(handled_by, "survey sent");
        Ok(())
    }

    async fn onboarding_step(
        &self,
        tenant: &str,
        customer_id: &str,
        sequence: &str,
        step: &str,
        template: &str,
        unless: &str,
    ) -> Result<(), Failure> {
        let done = !unless.is_empty() && self.has_attribute(tenant, customer_id, unless).await?;
        let outcome = if done {
            "skipped"
        } else {
            let key = format!("onboarding/{sequence}/{customer_id}/{step}");
            let message = Message { tenant, key, customer_id, template, vars: &[] };
            match reach::tell(&self.pool, &self.bus, &self.templates, None, message).await {
                Ok(()) => "sent",
                Err(reach::Error::Unreachable(_)) => "unreachable",
                Err(error) => return Err(error.into()),
            }
        };
        let taken = OnboardingStepTaken {
            customer_id: customer_id.into(),
            sequence: sequence.into(),
            step: step.into(),
            outcome: outcome.into(),
        };
        let key = tenant_key(tenant, &format!("onboarding/{sequence}/{customer_id}/{step}/taken"));
        let event = Draft::new(tenant, customer_id, Body::OnboardingStepTaken(taken)).keyed(key).build()?;
        self.bus.publish(&event).await?;
        Ok(())
    }

    async fn has_attribute(
        &self,
        tenant: &str,
        customer_id: &str,
        attribute: &str,
    ) -> Result<bool, sqlx::Error> {
        let found: Option<bool> = sqlx::query_scalar(
            "SELECT attributes ? $3 FROM notifier.customers WHERE tenant = $1 AND customer_id = $2",
        )
        .bind(tenant)
        .bind(customer_id)
        .bind(attribute)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.unwrap_or(false))
    }

    /// Nobody to tell: said as a failure event, once per cause and customer.
    async fn unreachable(&self, event: &Event, customer: &str) -> Result<(), HandlerError> {
        let key = tenant_key(&event.tenant, &format!("unreachable/{}/{customer}", event.id));
        let delivery_id = switchboard_bus::key_id(&key).to_string();
        let body = Body::NotificationFailed(NotificationFailed {
            delivery_id: delivery_id.clone(),
            source_id: event.id.clone(),
            target: format!("customer:{customer}"),
            reason: reach::Error::Unreachable(customer.into()).to_string(),
            ..NotificationFailed::default()
        });
        let failed = Draft::caused_by(event, &delivery_id, body).build()?;
        self.bus.publish(&failed).await?;
        tracing::warn!(event_type = event.r#type, "customer unreachable; failure recorded");
        Ok(())
    }
}
