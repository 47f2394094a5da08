//! Orders reported through the API (`UpdateOrder`), as a shop's systems would: each update is
//! checked against what the order's earlier `OrderUpdated` events said (its customer never
//! changes) and published only when it says something new, so loading the same data twice adds
//! nothing. The decision is a pure function of the order's history; the stream is read and
//! written at the edge.

use switchboard_bus::{Bus, Draft, is_aggregate_id};
use switchboard_proto::events::v1::{OrderStatus, OrderUpdated, event::Body};

use crate::Error;

/// Publishes `update` for `tenant` unless it changes nothing; the event's stream sequence, or
/// `None` when nothing was published.
pub(crate) async fn update(bus: &Bus, tenant: &str, update: OrderUpdated) -> Result<Option<u64>, Error> {
    check_ids(&update)?;
    let history = bus.events_of("order", tenant, &update.order_id).await?;
    let known = merged(history.iter().filter_map(|(event, _)| match &event.body {
        Some(Body::OrderUpdated(order)) => Some(order),
        _ => None,
    }));
    if !decide(known.as_ref(), &update)? {
        return Ok(None);
    }
    let event = Draft::new(tenant, update.order_id.clone(), Body::OrderUpdated(update)).build()?;
    Ok(Some(bus.publish(&event).await?.sequence))
}

/// What an order's updates say together: each field as the last update that gave it left it;
/// `None` for an order without updates.
pub(crate) fn merged<'a>(updates: impl IntoIterator<Item = &'a OrderUpdated>) -> Option<OrderUpdated> {
    updates.into_iter().fold(None, |known, update| Some(merge(known.unwrap_or_default(), update)))
}

fn merge(mut known: OrderUpdated, update: &OrderUpdated) -> OrderUpdated {
    let keep = |field: &mut String, value: &str| {
        if !value.is_empty() {
            value.clone_into(field);
        }
    };
    keep(&mut known.order_id, &update.order_id);
    keep(&mut known.customer_id, &update.customer_id);
    keep(&mut known.carrier, &update.carrier);
    keep(&mut known.tracking_number, &update.tracking_number);
    keep(&mut known.tracking_url, &update.tracking_url);
    keep(&mut known.summary, &update.summary);
    if update.status != OrderStatus::Unspecified as i32 {
        known.status = update.status;
    }
    if update.expected_delivery.is_some() {
        known.expected_delivery = update.expected_delivery;
    }
    known
}

/// Whether `update` changes the order as `known` (its merged history; `None`: a new order), or
/// why it is refused.
pub(crate) fn decide(known: Option<&OrderUpdated>, update: &OrderUpdated) -> Result<bool, Error> {
    check_ids(update)?;
    if OrderStatus::try_from(update.status).is_err() {
        return Err(Error::Invalid(format!("order status {} is not one of the known ones", update.status)));
    }
    let url = &update.tracking_url;
    let linked = url.starts_with("https://") || url.starts_with("http://");
    if !url.is_empty() && !linked {
        return Err(Error::Invalid(format!("tracking_url {url:?}: give an http or https link")));
    }
    let id = &update.order_id;
    let Some(known) = known else {
        if update.customer_id.is_empty() {
            return Err(Error::Invalid(format!("order {id} is new: give its customer_id")));
        }
        if update.status == OrderStatus::Unspecified as i32 {
            return Err(Error::Invalid(format!(
                "order {id} is new: give its status (placed, paid, shipped, delivered or cancelled)"
            )));
        }
        return Ok(true);
    };
    if !update.customer_id.is_empty() && update.customer_id != known.customer_id {
        return Err(Error::NotAllowed(format!(
            "order {id} belongs to another customer; an order's customer cannot change"
        )));
    }
    Ok(merge(known.clone(), update) != *known)
}

fn check_ids(update: &OrderUpdated) -> Result<(), Error> {
    if !is_aggregate_id(&update.order_id) {
        return Err(Error::Invalid(format!(
            "order_id {:?}: use 1 to 128 letters, digits, '-' and '_'",
            update.order_id
        )));
    }
    if !update.customer_id.is_empty() && !is_aggregate_id(&update.customer_id) {
        return Err(Error::Invalid(format!(
            "customer_id {:?}: use up to 128 letters, digits, '-' and '_'",
            update.customer_id
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> OrderUpdated {
        OrderUpdated {
            order_id: "12345".into(),
            customer_id: "c-42".into(),
            status: OrderStatus::Shipped.into(),
            carrier: "DHL".into(),
            tracking_number: "JD0002".into(),
            ..OrderUpdated::default()
        }
    }

    /// Given the order's earlier updates, when `update` comes: whether it changes anything.
    fn given(history: &[OrderUpdated], update: &OrderUpdated) -> Result<bool, Error> {
        decide(merged(history).as_ref(), update)
    }

    #[test]
    fn a_new_order_needs_its_customer_and_status() {
        assert!(given(&[], &shipped()).expect("a whole order"));
        let anonymous = OrderUpdated { customer_id: String::new(), ..shipped() };
        assert!(
            given(&[], &anonymous).expect_err("no customer").to_string().contains("give its customer_id")
        );
        let vague = OrderUpdated { status: 0, ..shipped() };
        assert!(given(&[], &vague).expect_err("no status").to_string().contains("give its status"));
    }

    #[test]
    fn the_same_update_again_changes_nothing_and_empty_fields_keep_what_was_said() {
        assert!(!given(&[shipped()], &shipped()).expect("valid"));
        let only_status = OrderUpdated {
            order_id: "12345".into(),
            status: OrderStatus::Shipped.into(),
            ..OrderUpdated::default()
        };
        assert!(!given(&[shipped()], &only_status).expect("valid"));
        let delivered = OrderUpdated { status: OrderStatus::Delivered.into(), ..only_status };
        assert!(given(&[shipped()], &delivered).expect("valid"));
        let merged = merged(&[shipped(), delivered]).expect("an order");
        assert_eq!((merged.status(), merged.carrier.as_str()), (OrderStatus::Delivered, "DHL"));
    }

    #[test]
    fn an_order_never_changes_customer() {
        let taken = OrderUpdated { customer_id: "c-7".into(), ..shipped() };
        let refused = given(&[shipped()], &taken).expect_err("another customer");
        assert!(matches!(refused, Error::NotAllowed(_)), "{refused}");
    }

    #[test]
    fn refuses_bad_input_with_a_reason() {
        for (update, reason) in [
            (OrderUpdated { order_id: "12 345".into(), ..shipped() }, "order_id"),
            (OrderUpdated { order_id: String::new(), ..shipped() }, "order_id"),
            (OrderUpdated { customer_id: "c/42".into(), ..shipped() }, "customer_id"),
            (OrderUpdated { status: 99, ..shipped() }, "status 99"),
            (OrderUpdated { tracking_url: "javascript:alert(1)".into(), ..shipped() }, "http or https"),
        ] {
            let refused = given(&[], &update).expect_err(reason);
            assert!(
                matches!(refused, Error::Invalid(_)) && refused.to_string().contains(reason),
                "{refused}"
            );
        }
    }
}
