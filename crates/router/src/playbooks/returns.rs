//! Returns and refunds: the order is checked against the return policy (delivered, within the
//! window); an eligible return is opened at once, but the refund — the step that moves money —
//! waits for a human's approval on the desk, which then confirms the refund to the customer
//! and tells the warehouse (the return names who).

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use super::Tongue;
use super::orders::Order;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Days after delivery a return is accepted.
    pub window_days: u32,
    /// Where returns wait for approval.
    pub queue: String,
    /// Who is told of an approved return, e.g. `team:warehouse`.
    #[serde(default = "warehouse")]
    pub warehouse: String,
}

fn warehouse() -> String {
    "team:warehouse".into()
}

impl Settings {
    pub fn validate(&self) -> Result<(), String> {
        if !crate::rules::is_queue_name(&self.queue) {
            return Err("returns.queue: letters, digits, '-' or '_'".into());
        }
        if self.window_days == 0 {
            return Err("returns.window_days: at least 1".into());
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Eligibility {
    Eligible,
    NotDelivered,
    TooLate { delivered: DateTime<Utc> },
}

pub fn eligibility(settings: &Settings, order: &Order, now: DateTime<Utc>) -> Eligibility {
    match (order.status.as_str(), order.delivered_at) {
        ("delivered", Some(delivered))
            if now - delivered > Duration::days(i64::from(settings.window_days)) =>
        {
            Eligibility::TooLate { delivered }
        }
        ("delivered", _) => Eligibility::Eligible,
        _ => Eligibility::NotDelivered,
    }
}

pub fn opened(order_id: &str, return_id: &str, tongue: Tongue) -> String {
    match tongue {
        Tongue::English => format!(
            "I have opened return {return_id} for order {order_id}. A colleague approves the refund; \
             you will get a confirmation as soon as it is approved."
        ),
        _ => format!(
            "已为订单 {order_id} 创建退货申请 {return_id}。退款需同事审核，审核通过后我们会立即通知您。"
        ),
    }
}

pub fn refused(order: &Order, eligibility: &Eligibility, settings: &Settings, tongue: Tongue) -> String {
    let id = &order.order_id;
    match (eligibility, tongue) {
        (Eligibility::TooLate { delivered }, Tongue::English) => format!(
            "Order {id} was delivered on {}, more than {} days ago, so it can no longer be returned under our policy. \
             Reply \"agent\" if you would like a colleague to look at it.",
            delivered.format("%Y-%m-%d"),
            settings.window_days
        ),
        (_, Tongue::English) => format!(
            "Order {id} has not been delivered yet, so it cannot be returned; you can cancel it or refuse the parcel. \
             Reply \"agent\" if you would like a colleague to help."
        ),
        (Eligibility::TooLate { .. }, _) => format!(
            "订单 {id} 已超过 {} 天退货期限，无法退货。如需人工协助，请回复「人工」。",
            settings.window_days
        ),
        (_, _) => format!("订单 {id} 尚未送达，暂不能退货。如需人工协助，请回复「人工」。"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(status: &str, delivered_days_ago: Option<i64>, now: DateTime<Utc>) -> Order {
        Order {
            order_id: "12345".into(),
            status: status.into(),
            carrier: String::new(),
            tracking_number: String::new(),
            tracking_url: String::new(),
            expected_delivery: None,
            delivered_at: delivered_days_ago.map(|days| now - Duration::days(days)),
        }
    }

    #[test]
    fn the_policy_takes_delivered_orders_within_the_window() {
        let settings = Settings { window_days: 30, queue: "returns".into(), warehouse: warehouse() };
        let now = Utc::now();
        assert_eq!(eligibility(&settings, &order("delivered", Some(3), now), now), Eligibility::Eligible);
        assert!(matches!(
            eligibility(&settings, &order("delivered", Some(45), now), now),
            Eligibility::TooLate { .. }
        ));
        assert_eq!(eligibility(&settings, &order("shipped", None, now), now), Eligibility::NotDelivered);
    }
}
