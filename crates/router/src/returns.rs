//! A human's decision on an open return (the approval that moves money), appended to the
//! return's events guarded by its last sequence. Returns are the caller's tenant's: another
//! tenant's return is not found.

use switchboard_bus::{Bus, Draft, Expected};
use switchboard_proto::events::v1::{ReturnApproved, ReturnRejected, event::Body};

use crate::Error;

/// Approves or rejects `tenant`'s `return_id`; the same decision again changes nothing, another
/// is refused.
pub async fn decide(
    bus: &Bus,
    tenant: &str,
    return_id: &str,
    approve: bool,
    approver: &str,
    reason: &str,
) -> Result<&'static str, Error> {
    if approver.trim().is_empty() {
        return Err(Error::Invalid("approver is required".into()));
    }
    if !approve && reason.trim().is_empty() {
        return Err(Error::Invalid("a rejection needs a reason for the customer".into()));
    }
    let history = match bus.events_of("return", tenant, return_id).await {
        Err(switchboard_bus::Error::InvalidAggregateId(_)) => Vec::new(),
        other => other?,
    };
    if !history.iter().any(|(event, _)| matches!(event.body, Some(Body::ReturnOpened(_)))) {
        return Err(Error::NotFound(format!("return {return_id}")));
    }
    let wanted = if approve { "approved" } else { "rejected" };
    let decided = history.iter().find_map(|(event, _)| match event.body {
        Some(Body::ReturnApproved(_)) => Some("approved"),
        Some(Body::ReturnRejected(_)) => Some("rejected"),
        _ => None,
    });
    match decided {
        Some(earlier) if earlier == wanted => return Ok(wanted),
        Some(earlier) => return Err(Error::NotAllowed(format!("return {return_id} is already {earlier}"))),
        None => {}
    }
    let body = if approve {
        Body::ReturnApproved(ReturnApproved { return_id: return_id.into(), approver: approver.into() })
    } else {
        Body::ReturnRejected(ReturnRejected {
            return_id: return_id.into(),
            approver: approver.into(),
            reason: reason.into(),
        })
    };
    let event = Draft::new(tenant, return_id, body).build()?;
    let last = history.last().map_or(Expected::Empty, |(_, sequence)| Expected::Sequence(*sequence));
    bus.append(&event, last, None).await?;
    tracing::info!(return_id, decision = wanted, "return decided");
    Ok(wanted)
}
