//! Service-level policies in the rule set: targets for the first response and the resolution,
//! optionally on a business-hours calendar, chosen by the decision's priority and the
//! customer's tier (the first policy that matches). The chosen policy travels on the decision
//! ([`SlaPolicy::wire`]); the desk starts and times its targets.

use chrono::Duration;
use serde::Deserialize;
use switchboard_proto::events::v1::{BusinessHours, SlaPolicy as WireSlaPolicy};

use super::{Calendar, Priority};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Spec {
    pub(crate) name: String,
    #[serde(default)]
    when: SlaWhen,
    first_response: Option<String>,
    next_response: Option<String>,
    resolution: Option<String>,
    calendar: Option<String>,
    warn_before: Option<String>,
    #[serde(default)]
    on_breach: OnBreach,
}

/// What a breach of any of a policy's targets does to the conversation.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnBreach {
    /// Raise the priority to this (never lower it).
    pub priority: Option<Priority>,
    /// Move it to this queue, unassigned.
    pub queue: Option<String>,
}

/// Which conversations a policy covers; every list given must hold.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaWhen {
    #[serde(default)]
    pub priority: Vec<Priority>,
    #[serde(default)]
    pub tier: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SlaPolicy {
    pub name: String,
    pub when: SlaWhen,
    pub first_response: Option<Duration>,
    /// After an agent replied: each time the customer writes again.
    pub next_response: Option<Duration>,
    pub resolution: Option<Duration>,
    /// Business hours the targets count; around the clock when unset.
    pub calendar: Option<String>,
    pub warn_before: Option<Duration>,
    pub on_breach: OnBreach,
}

impl SlaPolicy {
    pub(crate) fn new(spec: &Spec, has_calendar: impl Fn(&str) -> bool) -> Result<Self, String> {
        let duration = |field: &str, text: &Option<String>| {
            text.as_deref().map(|t| parse_duration(t).map_err(|e| format!("{field}: {e}"))).transpose()
        };
        let policy = Self {
            name: spec.name.clone(),
            when: spec.when.clone(),
            first_response: duration("first_response", &spec.first_response)?,
            next_response: duration("next_response", &spec.next_response)?,
            resolution: duration("resolution", &spec.resolution)?,
            calendar: spec.calendar.clone(),
            warn_before: duration("warn_before", &spec.warn_before)?,
            on_breach: spec.on_breach.clone(),
        };
        if policy.on_breach.queue.as_deref().is_some_and(|q| q.trim().is_empty() || q.chars().count() > 128) {
            return Err("on_breach.queue: a queue name of 1 to 128 characters".into());
        }
        if policy.first_response.is_none() && policy.next_response.is_none() && policy.resolution.is_none() {
            return Err("give first_response, next_response, resolution or some of them".into());
        }
        if let Some(name) = &policy.calendar
            && !has_calendar(name)
        {
            return Err(format!("calendar {name:?} is not defined under calendars"));
        }
        Ok(policy)
    }

    pub fn covers(&self, priority: Priority, tier: &str) -> bool {
        (self.when.priority.is_empty() || self.when.priority.contains(&priority))
            && (self.when.tier.is_empty() || self.when.tier.iter().any(|t| t.eq_ignore_ascii_case(tier)))
    }

    /// The policy as it travels on a decision, with its calendar written out.
    pub fn wire(&self, calendar: Option<&Calendar>) -> WireSlaPolicy {
        let seconds = |target: Option<Duration>| target.map_or(0, |t| t.num_seconds());
        WireSlaPolicy {
            name: self.name.clone(),
            first_response_seconds: seconds(self.first_response),
            next_response_seconds: seconds(self.next_response),
            resolution_seconds: seconds(self.resolution),
            warn_before_seconds: seconds(self.warn_before),
            breach_priority: self.on_breach.priority.map_or(0, |p| p.wire().into()),
            breach_queue: self.on_breach.queue.clone().unwrap_or_default(),
            calendar: self.calendar.as_ref().zip(calendar).map(|(name, calendar)| {
                let spec = calendar.spec();
                BusinessHours {
                    name: name.clone(),
                    timezone: spec.timezone.clone(),
                    hours: spec.hours.clone().into_iter().collect(),
                    holidays: spec.holidays.clone(),
                }
            }),
        }
    }
}

/// `90s`, `30m`, `4h`, `2d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let amount: i64 = number.parse().map_err(|_| format!("{text:?}: give e.g. 90s, 30m, 4h or 2d"))?;
    match unit {
        "s" => Ok(Duration::seconds(amount)),
        "m" => Ok(Duration::minutes(amount)),
        "h" => Ok(Duration::hours(amount)),
        "d" => Ok(Duration::days(amount)),
        _ => Err(format!("{text:?}: the unit is s, m, h or d")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_proto::events::v1::Priority as WirePriority;

    #[test]
    fn durations_and_the_policy_as_it_travels() {
        assert_eq!(parse_duration("30m"), Ok(Duration::minutes(30)));
        assert!(parse_duration("30 minutes").is_err());
        let spec = Spec {
            name: "vip".into(),
            when: SlaWhen { priority: vec![Priority::High], tier: vec!["vip".into()] },
            first_response: Some("10m".into()),
            next_response: None,
            resolution: None,
            calendar: None,
            warn_before: None,
            on_breach: OnBreach { priority: Some(Priority::Urgent), queue: Some("escalations".into()) },
        };
        let policy = SlaPolicy::new(&spec, |_| false).expect("valid");
        assert!(policy.covers(Priority::High, "VIP"));
        assert!(!policy.covers(Priority::Normal, "vip"));
        let wire = policy.wire(None);
        assert_eq!(
            (wire.name.as_str(), wire.first_response_seconds, wire.resolution_seconds),
            ("vip", 600, 0)
        );
        assert!(wire.calendar.is_none());
        assert_eq!(
            (wire.breach_priority(), wire.breach_queue.as_str()),
            (WirePriority::Urgent, "escalations")
        );
        let nowhere = Spec { on_breach: OnBreach { priority: None, queue: Some(" ".into()) }, ..spec };
        assert!(SlaPolicy::new(&nowhere, |_| false).is_err_and(|e| e.contains("on_breach.queue")));
    }
}
