//! People and their work: who is signed in, the supervisor's overview, macros and approvals.

use serde_json::{Value, json};
use switchboard_proto::{
    auth::v1::{Identity, IssuedToken},
    desk::v1::{Agent, Approval, Macro, Overview, QueueSummary},
};

use super::{slug, time};

/// Who a token names (never the token itself: the browser has it).
pub fn identity(identity: &Identity) -> Value {
    json!({
        "tenant": identity.tenant,
        "subject": identity.subject,
        "role": identity.role,
        "expires_at": time(identity.expires_at.as_ref()),
        "rights": identity.rights,
    })
}

/// A signed-in person's token and who it names.
pub fn issued(issued: &IssuedToken) -> Value {
    json!({"token": issued.token, "identity": issued.identity.as_ref().map(identity)})
}

pub fn overview(overview: &Overview) -> Value {
    json!({
        "queues": overview.queues.iter().map(queue).collect::<Vec<_>>(),
        "agents": overview.agents.iter().map(agent).collect::<Vec<_>>(),
        "pending_approvals": overview.pending_approvals,
        "mine": overview.mine,
        "unassigned": overview.unassigned,
        "all": overview.all,
    })
}

fn queue(queue: &QueueSummary) -> Value {
    json!({
        "queue": queue.queue,
        "waiting": queue.waiting,
        "oldest_waiting_since": time(queue.oldest_waiting_since.as_ref()),
        "sla_at_risk": queue.sla_at_risk,
        "sla_breached": queue.sla_breached,
    })
}

pub fn agent(agent: &Agent) -> Value {
    json!({
        "agent_id": agent.agent_id,
        "presence": slug(agent.presence().as_str_name(), "PRESENCE_"),
        "load": agent.load,
        "capacity": agent.capacity,
        "queues": agent.queues,
        "presence_since": time(agent.presence_since.as_ref()),
    })
}

pub fn desk_macro(saved: &Macro) -> Value {
    let actions = saved.actions.clone().unwrap_or_default();
    json!({
        "macro_id": saved.macro_id,
        "name": saved.name,
        "texts": saved.texts,
        "default_locale": saved.default_locale,
        "actions": {
            "status": slug(actions.status().as_str_name(), "STATUS_CHANGE_"),
            "add_tags": actions.add_tags,
            "queue": actions.queue,
            "priority": slug(actions.priority().as_str_name(), "PRIORITY_"),
        },
        "version": saved.version,
        "updated_at": time(saved.updated_at.as_ref()),
        "updated_by": saved.updated_by,
    })
}

pub fn approval(approval: &Approval) -> Value {
    json!({
        "approval_id": approval.approval_id,
        "kind": approval.kind,
        "conversation_id": approval.conversation_id,
        "customer_id": approval.customer_id,
        "facts": approval.facts,
        "requested_at": time(approval.requested_at.as_ref()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_proto::desk::v1::{MacroActions, Presence, StatusChange};

    #[test]
    fn an_agent_shows_presence_by_name_and_a_macro_its_actions() {
        let online = Agent {
            agent_id: "ana".into(),
            presence: Presence::Online.into(),
            load: 2,
            ..Default::default()
        };
        assert_eq!(agent(&online)["presence"], json!("online"));
        let resolving = Macro {
            macro_id: "m-1".into(),
            texts: [("en".to_string(), "Done".to_string())].into(),
            actions: Some(MacroActions { status: StatusChange::Resolved.into(), ..Default::default() }),
            ..Default::default()
        };
        let shown = desk_macro(&resolving);
        assert_eq!(
            (&shown["actions"]["status"], &shown["texts"]["en"]),
            (&json!("resolved"), &json!("Done"))
        );
        assert_eq!(shown["actions"]["priority"], json!("unspecified"));
    }
}
