//! An SLA policy as a routing decision carries it: how long each target is, when a target
//! started at a moment is due (counting only the calendar's open hours, when it has one), and
//! how much open time a target had left when it was paused.

use chrono::{DateTime, Duration, Utc};
use switchboard_calendar::{Calendar, Spec};
use switchboard_proto::events::v1::SlaPolicy as WirePolicy;

/// A policy ready to compute deadlines.
#[derive(Debug, Clone)]
pub struct Policy {
    wire: WirePolicy,
    /// `None`: around the clock.
    calendar: Option<Calendar>,
}

impl Policy {
    /// The policy of a decision. The router validated its calendar; one that still does not read
    /// (a newer release's) counts around the clock.
    pub fn of(wire: &WirePolicy) -> Self {
        let calendar = wire.calendar.as_ref().and_then(|hours| {
            let spec = Spec {
                timezone: hours.timezone.clone(),
                hours: hours.hours.clone().into_iter().collect(),
                holidays: hours.holidays.clone(),
            };
            Calendar::new(&spec)
                .inspect_err(
                    |error| tracing::warn!(%error, "sla calendar unreadable; counting around the clock"),
                )
                .ok()
        });
        Self { wire: wire.clone(), calendar }
    }

    pub fn name(&self) -> &str {
        &self.wire.name
    }

    /// The target of `metric` (`first_response`, `next_response`, `resolution`), if the policy
    /// sets one.
    pub fn target(&self, metric: &str) -> Option<Duration> {
        let seconds = match metric {
            "first_response" => self.wire.first_response_seconds,
            "next_response" => self.wire.next_response_seconds,
            "resolution" => self.wire.resolution_seconds,
            _ => 0,
        };
        (seconds > 0).then(|| Duration::seconds(seconds))
    }

    /// When a target of `target` started at `at` is due, and when to warn: `warn_before` (a
    /// fifth of the target when unset) ahead, never before `at`. `None` when the calendar does
    /// not open that long within a year.
    pub fn deadline(&self, target: Duration, at: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let due = match &self.calendar {
            Some(calendar) => calendar.add_open_time(at, target)?,
            None => at + target,
        };
        let warn_before = match self.wire.warn_before_seconds {
            0 => target / 5,
            seconds => Duration::seconds(seconds),
        };
        Some((due, (due - warn_before).max(at)))
    }

    /// The time a target due at `due` has left at `now` (open time on the calendar).
    pub fn left(&self, now: DateTime<Utc>, due: DateTime<Utc>) -> Duration {
        match &self.calendar {
            Some(calendar) => calendar.open_time_between(now, due),
            None => due - now,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;
    use switchboard_proto::events::v1::BusinessHours;

    use super::*;

    fn policy(calendar: Option<BusinessHours>) -> Policy {
        Policy::of(&WirePolicy {
            name: "vip".into(),
            first_response_seconds: 600,
            warn_before_seconds: 0,
            calendar,
            ..WirePolicy::default()
        })
    }

    #[test]
    fn around_the_clock_a_target_is_due_after_its_length_and_warns_a_fifth_ahead() {
        let policy = policy(None);
        assert_eq!(
            (policy.target("first_response"), policy.target("resolution")),
            (Some(Duration::minutes(10)), None)
        );
        let at = Utc::now();
        let (due, warn) = policy.deadline(Duration::minutes(10), at).expect("due");
        assert_eq!((due - at, due - warn), (Duration::minutes(10), Duration::minutes(2)));
        assert_eq!(policy.left(at, due), Duration::minutes(10));
    }

    #[test]
    fn on_business_hours_only_open_time_counts() {
        let hours = BusinessHours {
            name: "office".into(),
            timezone: "UTC".into(),
            hours: [("mon-fri".to_string(), "09:00-17:00".to_string())].into(),
            holidays: vec![],
        };
        let policy = policy(Some(hours));
        let utc = |d, h| Utc.with_ymd_and_hms(2026, 12, d, h, 0, 0).single().expect("a time");
        // Friday 16:00 + 2 open hours: 1 on Friday, 1 on Monday from 09:00.
        let (due, _) = policy.deadline(Duration::hours(2), utc(4, 16)).expect("due");
        assert_eq!(due, utc(7, 10));
        assert_eq!(policy.left(utc(4, 16), due), Duration::hours(2), "the weekend does not count");
    }
}
