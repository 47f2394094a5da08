//! The calls that change hands: `Assign` (a supervisor gives a conversation to an agent),
//! `Transfer` (to a queue or an agent, with a note) and `Unassign` (back to its queue). Each
//! checks its request and who may ask, then goes through [`crate::handover`].

use switchboard_auth::{Caller, Role};
use switchboard_proto::desk::v1::{AssignRequest, AssignmentResponse, TransferRequest, UnassignRequest};

use crate::{
    Error,
    activity::may_act,
    handover::{self, Move, Moved},
    people::People,
};

fn answer(conversation_id: &str, moved: Moved) -> AssignmentResponse {
    AssignmentResponse {
        conversation_id: conversation_id.to_string(),
        agent_id: moved.holder,
        queue: moved.queue,
        sequence: moved.sequence,
    }
}

fn by(caller: &Caller) -> String {
    format!("agent:{}", caller.subject)
}

fn required(name: &str, value: &str) -> Result<(), Error> {
    if value.trim().is_empty() {
        return Err(Error::InvalidArgument(format!("{name} is required")));
    }
    Ok(())
}

/// A supervisor gives the conversation to an agent (whoever held it).
pub async fn assign(
    people: &People,
    caller: &Caller,
    r: &AssignRequest,
) -> Result<AssignmentResponse, Error> {
    required("agent_id", &r.agent_id)?;
    let asked = Move { to_agent: r.agent_id.clone(), by: by(caller), ..Move::default() };
    let moved = move_as(people, caller, &r.conversation_id, &asked, |_| Ok(())).await?;
    Ok(answer(&r.conversation_id, moved))
}

/// The holder (or a supervisor) hands the conversation to a queue, an agent, or both.
pub async fn transfer(
    people: &People,
    caller: &Caller,
    r: &TransferRequest,
) -> Result<AssignmentResponse, Error> {
    if r.queue.trim().is_empty() && r.agent_id.trim().is_empty() {
        return Err(Error::InvalidArgument("a transfer needs a queue or an agent_id".into()));
    }
    if r.queue.chars().count() > 128 || r.queue.chars().any(char::is_control) {
        return Err(Error::InvalidArgument("queue: at most 128 characters, no control characters".into()));
    }
    let asked = Move {
        to_agent: r.agent_id.trim().to_string(),
        queue: r.queue.trim().to_string(),
        by: by(caller),
        note: r.note.clone(),
        queue_from_rules: false,
    };
    let gives_away = !asked.to_agent.is_empty() && asked.to_agent != caller.subject;
    let allowed = |holder: Option<&str>| {
        may_act(caller, holder)?;
        if gives_away && caller.role == Role::Agent && holder != Some(caller.subject.as_str()) {
            return Err(Error::PermissionDenied(
                "an agent hands over only what they hold; a supervisor assigns the rest".into(),
            ));
        }
        Ok(())
    };
    let moved = move_as(people, caller, &r.conversation_id, &asked, allowed).await?;
    Ok(answer(&r.conversation_id, moved))
}

/// The holder (or a supervisor) puts the conversation back in its queue.
pub async fn unassign(
    people: &People,
    caller: &Caller,
    r: &UnassignRequest,
) -> Result<AssignmentResponse, Error> {
    let asked = Move { by: by(caller), ..Move::default() };
    let moved = move_as(people, caller, &r.conversation_id, &asked, |holder| may_act(caller, holder)).await?;
    Ok(answer(&r.conversation_id, moved))
}

async fn move_as(
    people: &People,
    caller: &Caller,
    conversation_id: &str,
    asked: &Move,
    allowed: impl FnOnce(Option<&str>) -> Result<(), Error>,
) -> Result<Moved, Error> {
    required("conversation_id", conversation_id)?;
    let (bus, pool, assigner) = (&people.bus, &people.pool, &people.assigner);
    handover::hand_over(bus, pool, assigner, &caller.tenant, conversation_id, asked, allowed).await
}
