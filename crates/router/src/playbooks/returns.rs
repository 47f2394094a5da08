//! Returns and refunds: the order is checked against the return policy (delivered, within the
//! window); an eligible return is opened at once, but the refund — the step that moves money —
//! waits for a human's approval on the desk, which then confirms the refund to the customer
//! and tells the warehouse (the return names who).

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use switchboard_phrases::say;

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

pub fn opened(order_id: &str, return_id: &str, language: &str) -> String {
    say(language, "return.opened", &[("order_id", order_id), ("return_id", return_id)])
}

pub fn refused(order: &Order, eligibility: &Eligibility, settings: &Settings, language: &str) -> String {
    let id = order.order_id.as_str();
    match eligibility {
        Eligibility::TooLate { delivered } => {
            let date = delivered.format("%Y-%m-%d").to_string();
            let days = settings.window_days.to_string();
            say(language, "return.too_late", &[("id", id), ("date", &date), ("days", &days)])
        }
        _ => say(language, "return.not_delivered", &[("id", id)]),
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
