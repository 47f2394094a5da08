//! What the company's systems report through the API for the caller's tenant: outages (from a
//! status page or monitoring) and device alerts (from device monitoring). Each is checked, then
//! published as the event the proactive handlers act on, as if it had come from the bus.

use switchboard_bus::{Bus, Draft, is_aggregate_id};
use switchboard_proto::events::v1::{DeviceAlertRaised, OutageDeclared, event::Body};

use crate::Error;

/// Publishes the outage for `tenant`; the event's stream sequence.
pub(crate) async fn declare_outage(bus: &Bus, tenant: &str, outage: OutageDeclared) -> Result<u64, Error> {
    check_outage(&outage)?;
    let event = Draft::new(tenant, outage.outage_id.clone(), Body::OutageDeclared(outage)).build()?;
    Ok(bus.publish(&event).await?.sequence)
}

/// Publishes the device alert for `tenant`; the event's stream sequence.
pub(crate) async fn raise_device_alert(
    bus: &Bus,
    tenant: &str,
    alert: DeviceAlertRaised,
) -> Result<u64, Error> {
    check_alert(&alert)?;
    let event = Draft::new(tenant, alert.device_id.clone(), Body::DeviceAlertRaised(alert)).build()?;
    Ok(bus.publish(&event).await?.sequence)
}

fn invalid(why: impl Into<String>) -> Result<(), Error> {
    Err(Error::Invalid(why.into()))
}

/// A text field that is given, printable and within `max` bytes.
fn text_ok(text: &str, max: usize) -> bool {
    !text.trim().is_empty() && text.len() <= max && !text.contains('\0')
}

fn check_outage(outage: &OutageDeclared) -> Result<(), Error> {
    if !is_aggregate_id(&outage.outage_id) {
        return invalid(format!("outage_id {:?}: give letters, digits, '-' or '_'", outage.outage_id));
    }
    if !text_ok(&outage.title, 200) || (!outage.detail.is_empty() && !text_ok(&outage.detail, 4000)) {
        return invalid("title is required (at most 200 bytes), detail at most 4000");
    }
    if !["started", "resolved"].contains(&outage.status.as_str()) {
        return invalid(format!("status {:?}: started or resolved", outage.status));
    }
    if outage.customer_ids.is_empty() && outage.affected.is_empty() {
        return invalid("say who is affected: customer_ids, or affected attributes such as region");
    }
    if outage.customer_ids.iter().any(|id| !text_ok(id, 256)) {
        return invalid("customer_ids may not be empty (each at most 256 bytes)");
    }
    Ok(())
}

fn check_alert(alert: &DeviceAlertRaised) -> Result<(), Error> {
    for (name, id) in [("alert_id", &alert.alert_id), ("device_id", &alert.device_id)] {
        if !is_aggregate_id(id) {
            return invalid(format!("{name} {id:?}: give letters, digits, '-' or '_'"));
        }
    }
    if !text_ok(&alert.customer_id, 256) || !text_ok(&alert.problem, 1000) {
        return invalid("customer_id and problem are required (at most 256 and 1000 bytes)");
    }
    if !alert.device_kind.is_empty() && !text_ok(&alert.device_kind, 100) {
        return invalid("device_kind is at most 100 bytes");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outage() -> OutageDeclared {
        OutageDeclared {
            outage_id: "fibre-north".into(),
            title: "Fibre outage in the north".into(),
            status: "started".into(),
            affected: [("region".to_string(), "north".to_string())].into(),
            ..OutageDeclared::default()
        }
    }

    fn alert() -> DeviceAlertRaised {
        DeviceAlertRaised {
            alert_id: "a-1".into(),
            device_id: "inv-7".into(),
            customer_id: "c-1".into(),
            device_kind: "solar inverter".into(),
            problem: "output dropped to 40% of the expected".into(),
        }
    }

    fn why(result: Result<(), Error>) -> String {
        match result {
            Err(Error::Invalid(why)) => why,
            other => panic!("not refused as invalid: {other:?}"),
        }
    }

    #[test]
    fn well_formed_reports_are_taken() {
        assert!(check_outage(&outage()).is_ok());
        assert!(check_outage(&OutageDeclared { customer_ids: vec!["c-1".into()], ..outage() }).is_ok());
        assert!(check_alert(&alert()).is_ok());
    }

    #[test]
    fn malformed_reports_are_refused_with_the_reason() {
        assert!(
            why(check_outage(&OutageDeclared { outage_id: "a b".into(), ..outage() })).contains("outage_id")
        );
        assert!(why(check_outage(&OutageDeclared { title: " ".into(), ..outage() })).contains("title"));
        assert!(
            why(check_outage(&OutageDeclared { status: "over".into(), ..outage() })).contains("resolved")
        );
        let nobody = OutageDeclared { affected: Default::default(), ..outage() };
        assert!(why(check_outage(&nobody)).contains("who is affected"));
        assert!(
            why(check_alert(&DeviceAlertRaised { device_id: String::new(), ..alert() }))
                .contains("device_id")
        );
        assert!(
            why(check_alert(&DeviceAlertRaised { problem: String::new(), ..alert() })).contains("problem")
        );
    }
}
