//! What an agent did in a conversation, for its SLA targets: a reply meets the first (or next)
//! response; resolving meets every target, frees the agent and closes the conversation;
//! waiting on the customer meets the response targets and pauses the rest (the SLA fold then
//! starts the clock that closes the conversation if the customer does not answer).

use switchboard_auth::{Caller, Role};
use switchboard_bus::Draft;
use switchboard_proto::{desk::v1::AgentActivity, events::v1::event::Body};

use crate::{Error, closing, people::People};

/// The targets an activity meets; `None` for no activity.
pub fn metrics_met(activity: AgentActivity) -> Option<&'static [&'static str]> {
    match activity {
        AgentActivity::Replied | AgentActivity::WaitingOnCustomer => {
            Some(&["first_response", "next_response"])
        }
        AgentActivity::Resolved => Some(&["first_response", "next_response", "resolution"]),
        AgentActivity::Unspecified => None,
    }
}

/// An agent acts on conversations of their tenant assigned to them (or to nobody yet);
/// supervisors and admins on any.
pub fn may_act(caller: &Caller, holder: Option<&str>) -> Result<(), Error> {
    match holder {
        Some(holder) if caller.role == Role::Agent && holder != caller.subject => Err(
            Error::PermissionDenied(format!("the conversation is assigned to another agent ({holder:?})")),
        ),
        _ => Ok(()),
    }
}

impl People {
    /// Records `activity` by `caller` in the conversation; the targets it met.
    pub async fn record(
        &self,
        caller: &Caller,
        conversation_id: &str,
        activity: AgentActivity,
    ) -> Result<Vec<String>, Error> {
        let Some(metrics) = metrics_met(activity) else {
            return Err(Error::InvalidArgument(
                "activity is required: replied, resolved or waiting_on_customer".into(),
            ));
        };
        if conversation_id.is_empty() {
            return Err(Error::InvalidArgument("conversation_id is required".into()));
        }
        let tenant = caller.tenant.as_str();
        if !closing::exists(&self.bus, tenant, conversation_id).await? {
            return Err(Error::NotFound(conversation_id.into()));
        }
        may_act(caller, self.assigner.agent_of(tenant, conversation_id).as_deref())?;
        let mut met = Vec::new();
        for metric in metrics {
            if self.timers.met(tenant, conversation_id, metric).await? {
                met.push((*metric).to_string());
            }
        }
        match activity {
            AgentActivity::Resolved => {
                self.assigner.release(tenant, conversation_id).await?;
                self.close(tenant, conversation_id).await?;
            }
            AgentActivity::WaitingOnCustomer => {
                self.timers.pause(tenant, conversation_id, chrono::Utc::now(), metrics).await?;
            }
            _ => {}
        }
        Ok(met)
    }

    /// An agent resolved the tenant's conversation: it closes (out of any waiting line, surveys
    /// follow).
    async fn close(&self, tenant: &str, conversation_id: &str) -> Result<(), Error> {
        let reason = "resolved by an agent";
        let closed = closing::closed(&self.bus, &self.pool, tenant, conversation_id, reason, true).await?;
        let event = Draft::new(tenant, conversation_id, Body::ConversationClosed(closed)).build()?;
        self.bus.publish(&event).await?;
        tracing::info!("conversation resolved by an agent");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(role: Role, subject: &str) -> Caller {
        Caller {
            tenant: "acme".into(),
            subject: subject.into(),
            role,
            token_id: String::new(),
            expires_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn an_agent_acts_on_their_own_or_unheld_conversations_and_a_supervisor_on_any() {
        assert!(may_act(&caller(Role::Agent, "ana"), Some("ana")).is_ok());
        assert!(may_act(&caller(Role::Agent, "ana"), None).is_ok());
        let refused = may_act(&caller(Role::Agent, "ana"), Some("ben")).expect_err("ben's");
        assert!(matches!(refused, Error::PermissionDenied(_)));
        assert!(may_act(&caller(Role::Supervisor, "sue"), Some("ben")).is_ok());
    }

    #[test]
    fn each_activity_meets_its_targets() {
        assert_eq!(metrics_met(AgentActivity::Replied), Some(&["first_response", "next_response"][..]));
        assert_eq!(metrics_met(AgentActivity::Resolved).map(<[_]>::len), Some(3));
        assert_eq!(metrics_met(AgentActivity::Unspecified), None);
    }
}
