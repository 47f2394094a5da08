//! `SetStatus`: a person moves a conversation between open, pending on the customer, resolved
//! and reopened. What is allowed from where is a pure function; the effects (SLA targets met,
//! paused or resumed, the holder released, the conversation closed or reopened) are the
//! people's side's.

use switchboard_auth::Caller;
use switchboard_proto::desk::v1::{
    AgentActivity, ConversationStatus, SetStatusRequest, SetStatusResponse, StatusChange,
};

use crate::{Error, conversation::Conversation, people::People, work};

/// What a change does to a conversation as it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Already so: nothing to do.
    Nothing,
    WaitOnCustomer,
    Resume,
    Resolve,
    Reopen,
}

pub fn step(change: StatusChange, c: &Conversation) -> Result<Step, Error> {
    let id = || c.conversation_id.clone();
    Ok(match (change, c.closed) {
        (StatusChange::Unspecified, _) => {
            return Err(Error::InvalidArgument(
                "status is required: open, pending, resolved or reopened".into(),
            ));
        }
        (StatusChange::Resolved, true) => Step::Nothing,
        (StatusChange::Reopened, false) => return Err(Error::NotResolved(id())),
        (StatusChange::Reopened, true) => Step::Reopen,
        (StatusChange::Open | StatusChange::Pending, true) => return Err(Error::Resolved(id())),
        (StatusChange::Resolved, false) => Step::Resolve,
        (StatusChange::Pending, false) if c.paused => Step::Nothing,
        (StatusChange::Pending, false) => Step::WaitOnCustomer,
        (StatusChange::Open, false) if c.paused => Step::Resume,
        (StatusChange::Open, false) => Step::Nothing,
    })
}

/// The status the conversation has after `step`.
fn status_after(step: Step, c: &Conversation) -> ConversationStatus {
    match step {
        Step::Resolve => ConversationStatus::Resolved,
        Step::WaitOnCustomer => ConversationStatus::Pending,
        Step::Reopen | Step::Resume | Step::Nothing => {
            let mut after = c.clone();
            after.closed = step != Step::Reopen && c.closed;
            after.paused = step != Step::Resume && c.paused;
            crate::listing::wire_status(after.status())
        }
    }
}

/// An agent answered the customer: the response targets running are met.
pub async fn answered(people: &People, tenant: &str, conversation_id: &str) -> Result<(), Error> {
    for metric in ["first_response", "next_response"] {
        people.timers.met(tenant, conversation_id, metric).await?;
    }
    Ok(())
}

/// The change a macro's `set_status` action names.
pub fn change_named(name: &str) -> StatusChange {
    match name {
        "open" => StatusChange::Open,
        "pending" => StatusChange::Pending,
        "resolved" => StatusChange::Resolved,
        _ => StatusChange::Unspecified,
    }
}

pub async fn set_status(
    people: &People,
    caller: &Caller,
    request: &SetStatusRequest,
) -> Result<SetStatusResponse, Error> {
    let c = work::conversation(&people.pool, &caller.tenant, &request.conversation_id).await?;
    work::may_work(caller, &c)?;
    let step = step(request.status(), &c)?;
    let id = c.conversation_id.as_str();
    let aggregate = match step {
        Step::Nothing => None,
        Step::WaitOnCustomer => {
            people.record(caller, id, AgentActivity::WaitingOnCustomer).await?;
            Some("sla")
        }
        Step::Resolve => {
            people.record(caller, id, AgentActivity::Resolved).await?;
            Some("conversation-lifecycle")
        }
        Step::Resume => {
            people.timers.resume(&caller.tenant, id).await?;
            Some("sla")
        }
        Step::Reopen => {
            work::reopen(&people.bus, caller, &c, &request.reason).await?;
            Some("conversation-lifecycle")
        }
    };
    let sequence = match aggregate {
        Some(aggregate) => {
            people.bus.last_event_of(aggregate, &caller.tenant, id).await?.map_or(0, |(_, s)| s)
        }
        None => c.sequence,
    };
    Ok(SetStatusResponse { status: status_after(step, &c).into(), sequence })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> Conversation {
        Conversation { conversation_id: "c".into(), ..Conversation::default() }
    }

    #[test]
    fn each_change_is_allowed_from_where_it_makes_sense() {
        let paused = Conversation { paused: true, ..open() };
        let closed = Conversation { closed: true, ..open() };
        assert_eq!(step(StatusChange::Pending, &open()).ok(), Some(Step::WaitOnCustomer));
        assert_eq!(step(StatusChange::Pending, &paused).ok(), Some(Step::Nothing));
        assert_eq!(step(StatusChange::Open, &paused).ok(), Some(Step::Resume));
        assert_eq!(step(StatusChange::Open, &open()).ok(), Some(Step::Nothing));
        assert_eq!(step(StatusChange::Resolved, &paused).ok(), Some(Step::Resolve));
        assert_eq!(step(StatusChange::Resolved, &closed).ok(), Some(Step::Nothing));
        assert_eq!(step(StatusChange::Reopened, &closed).ok(), Some(Step::Reopen));
        assert!(matches!(step(StatusChange::Reopened, &open()), Err(Error::NotResolved(_))));
        assert!(matches!(step(StatusChange::Pending, &closed), Err(Error::Resolved(_))));
        assert!(matches!(step(StatusChange::Unspecified, &open()), Err(Error::InvalidArgument(_))));
    }
}
