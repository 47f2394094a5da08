//! The SIM activation playbook's turns that touch the world: reading the account, counting
//! wrong digits per customer (`SimActivationRefused`; after five in a day a person takes over,
//! whatever the conversation or call), and activating the SIM (`SimActivated`, once per
//! conversation) when the digits match.

use switchboard_bus::{Draft, HandlerError};
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
            .build()
            .map_err(|error| HandlerError::Permanent(error.to_string()))?;
        self.bus.publish(&event).await.map_err(|error| HandlerError::Unavailable(error.to_string()))?;
        Ok(())
    }

    pub(super) async fn sim_answer(
        &self,
        tenant: &str,
        settings: &SimSettings,
        mut state: PlaybookProgressed,
        classified: &MessageClassified,
    ) -> Result<Step, HandlerError> {
        let unavailable =
            |error: sqlx::Error| HandlerError::Unavailable(format!("router read model: {error}"));
        let pool = self.directory.pool();
        let found = account::find(pool, tenant, &classified.customer_id).await.map_err(unavailable)?;
        let refusals =
            account::recent_refusals(pool, tenant, &classified.customer_id).await.map_err(unavailable)?;
        if refusals >= account::MAX_REFUSALS_PER_DAY {
            tracing::warn!("sim activation locked after too many wrong digits today");
            return Ok(Step::HandOff { state, queue: settings.queue.clone() });
        }
        let done = |mut state: PlaybookProgressed, reply: String| {
            state.done = true;
            state.asking.clear();
            Step::Done { reply, state, handover: None }
        };
        match account::confirm(settings, found.as_ref(), state.clone(), &classified.text) {
            Confirmation::Step(step) => {
                if found.is_some() {
                    self.sim_refused(tenant, classified).await?;
                }
                Ok(step)
            }
            Confirmation::AlreadyActive => Ok(done(state, "Your SIM is already active.".into())),
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
                    .build()
                    .map_err(|error| HandlerError::Permanent(error.to_string()))?;
                self.bus
                    .publish(&event)
                    .await
                    .map_err(|error| HandlerError::Unavailable(error.to_string()))?;
                tracing::info!("sim activated");
                state.collected.insert("sim_last4".into(), last4.clone());
                Ok(done(state, account::activated_reply(&last4)))
            }
        }
    }
}
