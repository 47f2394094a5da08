//! Order status: the customer's order (the one whose number they gave, else their latest) as
//! the shop's `OrderUpdated` events left it, told in a sentence or two.

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row as _};
use switchboard_bus::Bus;
use switchboard_proto::{
    events::v1::{Event, MessageClassified, OrderStatus, event::Body},
    time::to_datetime,
};

use super::Tongue;

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
) -> Result<Lookup, String> {
    if classified.customer_id.is_empty() {
        return Ok(Lookup::NoOrder);
    }
    let mut named = None;
    for entity in classified.entities.iter().filter(|e| e.kind == "order_number") {
        for number in [&entity.value, &entity.text].into_iter().filter(|n| !n.is_empty()) {
            named.get_or_insert_with(|| number.clone());
            let history = match bus.events_of("order", tenant, number).await {
                Err(switchboard_bus::Error::InvalidAggregateId(_)) => continue,
                other => other.map_err(|e| e.to_string())?,
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
    let latest = latest(pool, tenant, classified).await.map_err(|e| e.to_string())?;
    Ok(latest.map_or(Lookup::NoOrder, Lookup::Found))
}

/// The customer's order cannot be found: say so, ask them to check the number (or give one),
/// and name the way to a person.
pub fn not_found(number: Option<&str>, tongue: Tongue) -> String {
    match (tongue, number) {
        (Tongue::English, Some(number)) => format!(
            "I can't find an order numbered {number}. Please check the number (it is in your order \
             confirmation email) and send it again, or ask for a person and they will look into it."
        ),
        (Tongue::English, None) => "I can't see an order on your account. What is the order number? It \
             is in your order confirmation email. Or ask for a person and they will look into it."
            .into(),
        (Tongue::Simplified, Some(number)) => {
            format!(
                "我找不到编号为 {number} 的订单。请核对订单号（见订单确认邮件）后再发一次，或者要求转人工，由客服为您查询。"
            )
        }
        (Tongue::Simplified, None) => {
            "我在您的账户中没有找到订单。请告诉我订单号（见订单确认邮件），或者要求转人工，由客服为您查询。"
                .into()
        }
        (Tongue::Traditional, Some(number)) => {
            format!(
                "我找不到編號為 {number} 的訂單。請核對訂單號（見訂單確認郵件）後再發一次，或者要求轉人工，由客服為您查詢。"
            )
        }
        (Tongue::Traditional, None) => {
            "我在您的帳戶中沒有找到訂單。請告訴我訂單號（見訂單確認郵件），或者要求轉人工，由客服為您查詢。"
                .into()
        }
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

/// Where the order is, in the conversation's language.
pub fn reply(order: &Order, tongue: Tongue) -> String {
    let expected = order.expected_delivery.map(|at| at.format("%Y-%m-%d").to_string());
    let tracking = match (order.tracking_url.is_empty(), order.tracking_number.is_empty()) {
        (false, _) => order.tracking_url.clone(),
        (true, false) => order.tracking_number.clone(),
        (true, true) => String::new(),
    };
    let id = &order.order_id;
    match tongue {
        Tongue::English => {
            let mut text = match order.status.as_str() {
                "placed" => format!("Your order {id} is placed and waiting for payment."),
                "paid" => format!("Your order {id} is paid and being prepared for shipping."),
                "shipped" => {
                    format!("Your order {id} has shipped with {}.", or(&order.carrier, "the carrier"))
                }
                "delivered" => format!("Your order {id} has been delivered."),
                "cancelled" => format!("Your order {id} was cancelled."),
                _ => format!("Your order {id} is being processed."),
            };
            if order.status == "shipped" && !tracking.is_empty() {
                text.push_str(&format!(" Follow it here: {tracking}."));
            }
            if let (Some(day), true) = (&expected, matches!(order.status.as_str(), "paid" | "shipped")) {
                text.push_str(&format!(" Expected delivery: {day}."));
            }
            text
        }
        Tongue::Simplified | Tongue::Traditional => {
            let traditional = tongue == Tongue::Traditional;
            let mut text = match order.status.as_str() {
                "placed" => format!("您的订单 {id} 已下单，等待付款。"),
                "paid" => format!("您的订单 {id} 已付款，正在准备发货。"),
                "shipped" => format!("您的订单 {id} 已由 {} 发货。", or(&order.carrier, "承运商")),
                "delivered" => format!("您的订单 {id} 已送达。"),
                "cancelled" => format!("您的订单 {id} 已取消。"),
                _ => format!("您的订单 {id} 正在处理中。"),
            };
            if order.status == "shipped" && !tracking.is_empty() {
                text.push_str(&format!("物流追踪：{tracking}。"));
            }
            if let (Some(day), true) = (&expected, matches!(order.status.as_str(), "paid" | "shipped")) {
                text.push_str(&format!("预计送达：{day}。"));
            }
            if traditional { to_traditional(&text) } else { text }
        }
    }
}

fn or<'a>(value: &'a str, fallback: &'a str) -> &'a str {
    if value.is_empty() { fallback } else { value }
}

/// The few characters of these replies that differ in Traditional script.
fn to_traditional(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '订' => '訂',
            '单' => '單',
            '货' => '貨',
            '备' => '備',
            '发' => '發',
            '运' => '運',
            '达' => '達',
            '处' => '處',
            '预' => '預',
            '计' => '計',
            '踪' => '蹤',
            '准' => '準',
            '经' => '經',
            c => c,
        })
        .collect()
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
        assert_eq!(
            reply(&shipped(), Tongue::English),
            "Your order 12345 has shipped with DHL. Follow it here: JD0002."
        );
        assert_eq!(
            reply(&shipped(), Tongue::Traditional),
            "您的訂單 12345 已由 DHL 發貨。物流追蹤：JD0002。"
        );
    }
}
