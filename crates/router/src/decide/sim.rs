//! The SIM activation playbook's turns that touch the world: reading the account, counting
//! wrong digits per customer from the stream (`SimActivationRefused`; after five in a day a person
//! takes over, whatever the conversation or call), and activating the SIM (`SimActivated`, once per
//! conversation) when the digits match.

use switchboard_bus::{Draft, HandlerError};
use switchboard_phrases::say;
use switchboard_proto::events::v1::{
    MessageClassified, PlaybookProgressed, SimActivated, SimActivationRefused, event::Body,
};

use super::Decider;
use crate::playbooks::{
    Step,
    account::{self, Confirmation, SimSettings},
};

impl Decider {
    /// Counts a wrong answer against the tenant's customer, whatever the conversation.
    async fn sim_refused(&self, tenant: &str, classified: &MessageClassified) -> Result<(), HandlerError> {
        let body = Body::SimActivationRefused(SimActivationRefused {
            customer_id: classified.customer_id.clone(),
            conversation_id: classified.conversation_id.clone(),
        });
        let aggregate = switchboard_bus::key_id(&format!("account/{}", classified.customer_id)).to_string();
        let event = Draft::new(tenant, aggregate, body)
            .keyed(format!("{tenant}/sim-refused/{}", classified.message_id))
            .build()?;
        self.bus.publish(&event).await?;
        Ok(())
    }

    /// Wrong digits the customer gave in the last day, read from the stream (not the read model,
    /// which may lag: a quick guesser must not get past the limit before it catches up).
    async fn refusals_today(&self, tenant: &str, customer_id: &str) -> Result<i64, HandlerError> {
        let aggregate = switchboard_bus::key_id(&format!("account/{customer_id}")).to_string();
        let history = self.bus.events_of("account", tenant, &aggregate).await?;
        let since = chrono::Utc::now() - chrono::Duration::days(1);
        let today = history.iter().filter(|(event, _)| {
            matches!(event.body, Some(Body::SimActivationRefused(_)))
                && switchboard_proto::time::to_datetime(event.occurred_at.as_ref()) > since
        });
        Ok(i64::try_from(today.count()).unwrap_or(i64::MAX))
    }

    pub(super) async fn sim_answer(
        &self,
        tenant: &str,
        settings: &SimSettings,
        mut state: PlaybookProgressed,
        classified: &MessageClassified,
    ) -> Result<Step, HandlerError> {
        let pool = self.directory.pool();
        let found = account::find(pool, tenant, &classified.customer_id).await?;
        let refusals = self.refusals_today(tenant, &classified.customer_id).await?;
        if refusals >= account::MAX_REFUSALS_PER_DAY {
            tracing::warn!("sim activation locked after too many wrong digits today");
            return Ok(Step::HandOff { state, queue: settings.queue.clone() });
        }
        let language = crate::facts::conversation_language(classified);
        let done = |mut state: PlaybookProgressed, reply: String| {
            state.done = true;
            state.asking.clear();
            Step::Done { reply, state, handover: None }
        };
        match account::confirm(settings, found.as_ref(), state.clone(), &classified.text, language) {
            Confirmation::Step(step) => {
                if found.is_some() {
                    self.sim_refused(tenant, classified).await?;
                }
                Ok(step)
            }
            Confirmation::AlreadyActive => Ok(done(state, say(language, "sim.already_active", &[]))),
            Confirmation::Activate(last4) => {
                let body = Body::SimActivated(SimActivated {
                    customer_id: classified.customer_id.clone(),
                    sim_last4: last4.clone(),
                    conversation_id: classified.conversation_id.clone(),
                });
                // Customer ids (phone numbers) need not be valid aggregate ids: a key stands in.
                let aggregate =
                    switchboard_bus::key_id(&format!("account/{}", classified.customer_id)).to_string();
                let event = Draft::new(tenant, aggregate, body)
                    .keyed(format!("{tenant}/sim-activated/{}", classified.conversation_id))
                    .build()?;
                self.bus.publish(&event).await?;
                tracing::info!("sim activated");
                state.collected.insert("sim_last4".into(), last4.clone());
                Ok(done(state, account::activated_reply(&last4, language)))
            }
        }
    }
}
