//! Order status: the customer's order (the one whose number they gave, else their latest) as
//! the shop's `OrderUpdated` events left it, told in a sentence or two.

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row as _};
use switchboard_bus::{Bus, HandlerError};
use switchboard_proto::{
    events::v1::{Event, MessageClassified, OrderStatus, event::Body},
    time::to_datetime,
};

use switchboard_phrases::{join, say};

#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    pub order_id: String,
    pub status: String,
    pub carrier: String,
    pub tracking_number: String,
    pub tracking_url: String,
    pub expected_delivery: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// What an order lookup found.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    Found(Order),
    /// The message names this number, and the customer has no order of that number (the shop
    /// never told of it, or it is someone else's: the two are not told apart).
    Unknown(String),
    /// No number named, and no order on record for the customer.
    NoOrder,
}

/// The order the message is about: a number it names that belongs to the customer (folded from
/// the order's own events, so an update published a moment ago counts), else the customer's
/// most recent order in the read model. Orders of other customers, and of other tenants, are
/// never told.
pub async fn find(
    bus: &Bus,
    pool: &PgPool,
    tenant: &str,
    classified: &MessageClassified,
) -> Result<Lookup, HandlerError> {
    if classified.customer_id.is_empty() {
        return Ok(Lookup::NoOrder);
    }
    let mut named = None;
    for entity in classified.entities.iter().filter(|e| e.kind == "order_number") {
        for number in [&entity.value, &entity.text].into_iter().filter(|n| !n.is_empty()) {
            named.get_or_insert_with(|| number.clone());
            let history = match bus.events_of("order", tenant, number).await {
                Err(switchboard_bus::Error::InvalidAggregateId(_)) => continue,
                other => other?,
            };
            if let Some((customer, order)) = fold(history.iter().map(|(event, _)| event))
                && customer == classified.customer_id
            {
                return Ok(Lookup::Found(order));
            }
        }
    }
    if let Some(number) = named {
        return Ok(Lookup::Unknown(number));
    }
    let latest = latest(pool, tenant, classified).await?;
    Ok(latest.map_or(Lookup::NoOrder, Lookup::Found))
}

/// The customer's order cannot be found: say so, ask them to check the number (or give one),
/// and name the way to a person.
pub fn not_found(number: Option<&str>, language: &str) -> String {
    match number {
        Some(number) => say(language, "order.not_found", &[("number", number)]),
        None => say(language, "order.none", &[]),
    }
}

/// An order as its `OrderUpdated` events leave it, and its customer.
fn fold<'a>(events: impl Iterator<Item = &'a Event>) -> Option<(String, Order)> {
    let mut folded: Option<(String, Order)> = None;
    for event in events {
        let Some(Body::OrderUpdated(update)) = &event.body else { continue };
        let (customer, order) = folded.get_or_insert_with(|| {
            (
                String::new(),
                Order {
                    order_id: update.order_id.clone(),
                    status: String::new(),
                    carrier: String::new(),
                    tracking_number: String::new(),
                    tracking_url: String::new(),
                    expected_delivery: None,
                    delivered_at: None,
                },
            )
        });
        let keep = |field: &mut String, value: &str| {
            if !value.is_empty() {
                *field = value.to_string();
            }
        };
        keep(customer, &update.customer_id);
        keep(&mut order.carrier, &update.carrier);
        keep(&mut order.tracking_number, &update.tracking_number);
        keep(&mut order.tracking_url, &update.tracking_url);
        if update.status() != OrderStatus::Unspecified {
            order.status = update.status().as_str_name().trim_start_matches("ORDER_STATUS_").to_lowercase();
            if update.status() == OrderStatus::Delivered && order.delivered_at.is_none() {
                order.delivered_at = Some(to_datetime(event.occurred_at.as_ref()));
            }
        }
        if update.expected_delivery.is_some() {
            order.expected_delivery = Some(to_datetime(update.expected_delivery.as_ref()));
        }
    }
    folded
}

/// The customer's most recent order in the read model.
async fn latest(
    pool: &PgPool,
    tenant: &str,
    classified: &MessageClassified,
) -> Result<Option<Order>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT order_id, status, carrier, tracking_number, tracking_url, expected_delivery, delivered_at
         FROM router.orders WHERE tenant = $1 AND customer_id = $2 ORDER BY updated_at DESC LIMIT 1",
    )
    .bind(tenant)
    .bind(&classified.customer_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|row| Order {
        order_id: row.get(0),
        status: row.get(1),
        carrier: row.get(2),
        tracking_number: row.get(3),
        tracking_url: row.get(4),
        expected_delivery: row.get(5),
        delivered_at: row.get(6),
    }))
}

/// Where the order is, in the conversation's language: its status, then how to follow a shipped
/// order and when a paid or shipped one is expected.
pub fn reply(order: &Order, language: &str) -> String {
    let id = order.order_id.as_str();
    let carrier = if order.carrier.is_empty() {
        say(language, "order.the_carrier", &[])
    } else {
        order.carrier.clone()
    };
    let status = match order.status.as_str() {
        "placed" => "order.placed",
        "paid" => "order.paid",
        "shipped" => "order.shipped",
        "delivered" => "order.delivered",
        "cancelled" => "order.cancelled",
        _ => "order.processing",
    };
    let mut sentences = vec![say(language, status, &[("id", id), ("carrier", &carrier)])];
    let tracking = if order.tracking_url.is_empty() { &order.tracking_number } else { &order.tracking_url };
    if order.status == "shipped" && !tracking.is_empty() {
        sentences.push(say(language, "order.tracking", &[("tracking", tracking)]));
    }
    let expected = order.expected_delivery.map(|at| at.format("%Y-%m-%d").to_string());
    if let (Some(day), true) = (&expected, matches!(order.status.as_str(), "paid" | "shipped")) {
        sentences.push(say(language, "order.expected", &[("day", day)]));
    }
    join(language, &sentences)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> Order {
        Order {
            order_id: "12345".into(),
            status: "shipped".into(),
            carrier: "DHL".into(),
            tracking_number: "JD0002".into(),
            tracking_url: String::new(),
            expected_delivery: None,
            delivered_at: None,
        }
    }

    #[test]
    fn a_shipped_order_is_told_with_its_carrier_and_tracking() {
        assert_eq!(reply(&shipped(), "en"), "Your order 12345 has shipped with DHL. Follow it here: JD0002.");
        let chinese = reply(&shipped(), "zh-Hant");
        assert!(["12345", "DHL", "JD0002", "訂單"].iter().all(|part| chinese.contains(part)), "{chinese}");
    }

    #[test]
    fn an_unknown_order_asks_to_check_the_number_in_the_customers_language() {
        assert!(not_found(Some("999"), "en").contains("can't find an order numbered 999"));
        let german = not_found(Some("999"), "de-AT");
        assert!(german.contains("999") && german != not_found(Some("999"), "en"), "{german}");
    }
}
