//! A human's decision on an open return (the approval that moves money). The decision is a pure
//! function of the return's events ([`fold`], [`decide`]); the append is guarded by the return's
//! last sequence, so two people deciding at once store one decision. Returns are the caller's
//! tenant's: another tenant's return is not found. [`triggers`] carries out what a decision
//! says (the confirmation to the customer, the notice to the warehouse).

pub mod triggers;

use switchboard_bus::{Bus, Draft, Expected};
use switchboard_proto::events::v1::{Event, ReturnApproved, ReturnOpened, ReturnRejected, event::Body};

use crate::Error;

/// The aggregate of returns, id = return id.
pub const RETURN: &str = "return";

/// How a return was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Approved,
    Rejected,
}

impl Verdict {
    pub fn of(approve: bool) -> Self {
        if approve { Self::Approved } else { Self::Rejected }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::Rejected => "rejected",
        }
    }
}

/// A return as its events leave it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Return {
    pub opened: Option<ReturnOpened>,
    pub verdict: Option<Verdict>,
    /// Sequence of its last event (the append guard).
    pub sequence: u64,
}

/// Folds a return's events, oldest first.
pub fn fold<'a>(events: impl IntoIterator<Item = (&'a Event, u64)>) -> Return {
    events.into_iter().fold(Return::default(), |mut state, (event, sequence)| {
        match &event.body {
            Some(Body::ReturnOpened(opened)) => state.opened = Some(opened.clone()),
            // The first decision stands (appends are guarded, so there is only one).
            Some(Body::ReturnApproved(_)) => state.verdict = state.verdict.or(Some(Verdict::Approved)),
            Some(Body::ReturnRejected(_)) => state.verdict = state.verdict.or(Some(Verdict::Rejected)),
            _ => {}
        }
        state.sequence = sequence;
        state
    })
}

/// A decision asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asked<'a> {
    pub return_id: &'a str,
    pub approve: bool,
    pub approver: &'a str,
    pub reason: &'a str,
}

/// What to do about it.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// It was decided before, so.
    Decided(Verdict),
    /// Append this, expecting the return as it was read.
    Append(Box<Body>, Expected),
}

/// Whether the return can be decided as asked: it must be open; a rejection needs a reason for
/// the customer; a return already decided says how.
pub fn decide(state: &Return, asked: &Asked<'_>) -> Result<Decision, Error> {
    if asked.approver.trim().is_empty() {
        return Err(Error::InvalidArgument("approver is required".into()));
    }
    if !asked.approve && asked.reason.trim().is_empty() {
        return Err(Error::InvalidArgument("a rejection needs a reason for the customer".into()));
    }
    if state.opened.is_none() {
        return Err(Error::UnknownReturn(asked.return_id.to_string()));
    }
    if let Some(verdict) = state.verdict {
        return Ok(Decision::Decided(verdict));
    }
    let (return_id, approver) = (asked.return_id.to_string(), asked.approver.to_string());
    let body = if asked.approve {
        Body::ReturnApproved(ReturnApproved { return_id, approver })
    } else {
        Body::ReturnRejected(ReturnRejected { return_id, approver, reason: asked.reason.into() })
    };
    Ok(Decision::Append(Box::new(body), Expected::Sequence(state.sequence)))
}

/// The tenant's return, from its events; `None` for an id that cannot name one.
pub async fn load(bus: &Bus, tenant: &str, return_id: &str) -> Result<Return, Error> {
    let history = match bus.events_of(RETURN, tenant, return_id).await {
        Err(switchboard_bus::Error::InvalidAggregateId(_)) => Vec::new(),
        other => other?,
    };
    Ok(fold(history.iter().map(|(event, sequence)| (event, *sequence))))
}

/// Decides `tenant`'s return as asked: what it is now, and whether this call decided it.
pub async fn record(bus: &Bus, tenant: &str, asked: &Asked<'_>) -> Result<(Verdict, bool), Error> {
    let state = load(bus, tenant, asked.return_id).await?;
    let (body, expected) = match decide(&state, asked)? {
        Decision::Decided(verdict) => return Ok((verdict, false)),
        Decision::Append(body, expected) => (body, expected),
    };
    let event = Draft::new(tenant, asked.return_id, *body).build()?;
    match bus.append(&event, expected, None).await {
        Ok(_) => {
            let verdict = Verdict::of(asked.approve);
            tracing::info!(return_id = asked.return_id, decision = verdict.as_str(), "return decided");
            Ok((verdict, true))
        }
        // Someone decided it a moment before: theirs stands.
        Err(switchboard_bus::Error::Conflict { .. }) => {
            let now = load(bus, tenant, asked.return_id).await?;
            now.verdict
                .map(|verdict| (verdict, false))
                .ok_or_else(|| Error::Contended(format!("return {}", asked.return_id)))
        }
        Err(error) => Err(error.into()),
    }
}

/// `DecideReturn`: the same decision again changes nothing; another is refused.
pub async fn decide_return(bus: &Bus, tenant: &str, asked: &Asked<'_>) -> Result<Verdict, Error> {
    let wanted = Verdict::of(asked.approve);
    match record(bus, tenant, asked).await? {
        (verdict, _) if verdict == wanted => Ok(verdict),
        (verdict, _) => Err(Error::AlreadyDecided { what: format!("return {}", asked.return_id), verdict }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(body: Body) -> Event {
        Event { tenant: "acme".into(), body: Some(body), ..Event::default() }
    }

    fn opened() -> Event {
        event(Body::ReturnOpened(ReturnOpened { return_id: "R-1".into(), ..ReturnOpened::default() }))
    }

    fn given(events: &[Event]) -> Return {
        fold(events.iter().enumerate().map(|(i, e)| (e, i as u64 + 7)))
    }

    fn asked(approve: bool, reason: &'static str) -> Asked<'static> {
        Asked { return_id: "R-1", approve, approver: "sue", reason }
    }

    #[test]
    fn given_an_open_return_when_approved_then_the_approval_is_appended_after_its_last_event() {
        let state = given(&[opened()]);
        let Ok(Decision::Append(body, expected)) = decide(&state, &asked(true, "")) else {
            panic!("an approval to append")
        };
        let Body::ReturnApproved(approved) = *body else { panic!("an approval") };
        assert_eq!((approved.approver.as_str(), expected), ("sue", Expected::Sequence(7)));
    }

    #[test]
    fn given_a_decided_return_then_deciding_again_says_how_it_was_decided() {
        let approved =
            event(Body::ReturnApproved(ReturnApproved { return_id: "R-1".into(), approver: "bob".into() }));
        let state = given(&[opened(), approved]);
        assert_eq!(decide(&state, &asked(false, "worn")).ok(), Some(Decision::Decided(Verdict::Approved)));
    }

    #[test]
    fn bad_requests_and_unknown_returns_are_refused_with_a_reason() {
        let state = given(&[opened()]);
        let refused = decide(&state, &asked(false, " ")).expect_err("no reason");
        assert!(refused.to_string().contains("reason for the customer"), "{refused}");
        let nobody = Asked { approver: "", ..asked(true, "") };
        assert!(matches!(decide(&state, &nobody), Err(Error::InvalidArgument(_))));
        assert!(matches!(decide(&Return::default(), &asked(true, "")), Err(Error::UnknownReturn(_))));
    }
}
