//! Business-hours calendars: opening hours per weekday in a time zone, and holidays. The
//! router reads them in its rule set (business-hours conditions, after-hours replies, booking
//! slots); SLA targets count their open time, which the desk times.

#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike as _, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

/// As written in the rule set: `timezone: Europe/Berlin`, `hours: {mon-fri: "09:00-17:00",
/// sat: "10:00-13:00, 14:00-16:00"}`, `holidays: ["2026-12-25"]`. Days not given are closed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    pub timezone: String,
    pub hours: BTreeMap<String, String>,
    #[serde(default)]
    pub holidays: Vec<String>,
}

/// A moment in a calendar's zone: weekday 1 (Monday) to 7, `YYYY-MM-DD`, `HH:MM` and the zone's
/// IANA name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalTime {
    pub weekday: u32,
    pub date: String,
    pub time: String,
    pub zone: String,
}

impl LocalTime {
    /// `at` in UTC.
    pub fn utc(at: DateTime<Utc>) -> Self {
        Self::in_zone(at, Tz::UTC)
    }

    fn in_zone(at: DateTime<Utc>, zone: Tz) -> Self {
        let local = at.with_timezone(&zone);
        Self {
            weekday: local.weekday().number_from_monday(),
            date: local.format("%Y-%m-%d").to_string(),
            time: local.format("%H:%M").to_string(),
            zone: zone.name().to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Calendar {
    /// As written, so the calendar can travel (on an SLA policy) and be read again.
    spec: Spec,
    zone: Tz,
    /// Open intervals per weekday, Monday first.
    week: [Vec<(NaiveTime, NaiveTime)>; 7],
    holidays: BTreeSet<NaiveDate>,
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl Calendar {
    pub fn new(spec: &Spec) -> Result<Self, String> {
        let zone: Tz = spec.timezone.parse().map_err(|_| format!("unknown time zone {:?}", spec.timezone))?;
        let mut week: [Vec<(NaiveTime, NaiveTime)>; 7] = Default::default();
        for (days, hours) in &spec.hours {
            let intervals = intervals(hours)?;
            for day in day_range(days)? {
                week[day].clone_from(&intervals);
            }
        }
        let holidays = spec
            .holidays
            .iter()
            .map(|day| {
                NaiveDate::parse_from_str(day, "%Y-%m-%d")
                    .map_err(|_| format!("holiday {day:?} is not YYYY-MM-DD"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { spec: spec.clone(), zone, week, holidays })
    }

    /// The calendar as written.
    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    /// When it next opens at or after `at` (`at` itself when open); `None` when it never opens in
    /// the next four weeks.
    pub fn next_open(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.is_open(at) {
            return Some(at);
        }
        let local = at.with_timezone(&self.zone);
        for offset in 0..28 {
            let day = local.date_naive() + chrono::Days::new(offset);
            if self.holidays.contains(&day) {
                continue;
            }
            let mut opens: Vec<NaiveTime> = self.week[day.weekday().num_days_from_monday() as usize]
                .iter()
                .map(|(open, _)| *open)
                .collect();
            opens.sort();
            for open in opens {
                let Some(start) = day.and_time(open).and_local_timezone(self.zone).earliest() else {
                    continue;
                };
                let start = start.with_timezone(&Utc);
                if start > at {
                    return Some(start);
                }
            }
        }
        None
    }

    /// The moment `duration` of opening hours after `from` have passed (a target on business
    /// hours); `None` when the calendar does not open that long within a year.
    pub fn add_open_time(&self, from: DateTime<Utc>, duration: chrono::Duration) -> Option<DateTime<Utc>> {
        let mut left = duration;
        let local = from.with_timezone(&self.zone);
        for offset in 0..366 {
            let day = local.date_naive() + chrono::Days::new(offset);
            if self.holidays.contains(&day) {
                continue;
            }
            let mut intervals = self.week[day.weekday().num_days_from_monday() as usize].clone();
            intervals.sort();
            for (open, close) in intervals {
                let at = |time: NaiveTime| {
                    day.and_time(time).and_local_timezone(self.zone).earliest().map(|t| t.with_timezone(&Utc))
                };
                let (Some(open), Some(close)) = (at(open), at(close)) else { continue };
                let start = open.max(from);
                if start >= close {
                    continue;
                }
                if close - start >= left {
                    return Some(start + left);
                }
                left -= close - start;
            }
        }
        None
    }

    /// Opening time between `from` and `to` (what a paused target had left).
    pub fn open_time_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> chrono::Duration {
        let mut total = chrono::Duration::zero();
        if to <= from {
            return total;
        }
        let local = from.with_timezone(&self.zone);
        let days = (to - from).num_days() + 2;
        for offset in 0..u64::try_from(days).unwrap_or(0) {
            let day = local.date_naive() + chrono::Days::new(offset);
            if self.holidays.contains(&day) {
                continue;
            }
            for (open, close) in &self.week[day.weekday().num_days_from_monday() as usize] {
                let at = |time: NaiveTime| {
                    day.and_time(time).and_local_timezone(self.zone).earliest().map(|t| t.with_timezone(&Utc))
                };
                let (Some(open), Some(close)) = (at(*open), at(*close)) else { continue };
                let (start, end) = (open.max(from), close.min(to));
                if end > start {
                    total += end - start;
                }
            }
        }
        total
    }

    /// `at` in the calendar's local time, in parts a reply words in its own language.
    pub fn local_time(&self, at: DateTime<Utc>) -> LocalTime {
        LocalTime::in_zone(at, self.zone)
    }

    /// Whether `at` falls within opening hours (local time, holidays closed).
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&self.zone);
        if self.holidays.contains(&local.date_naive()) {
            return false;
        }
        let time = local.time();
        self.week[local.weekday().num_days_from_monday() as usize]
            .iter()
            .any(|(open, close)| *open <= time && time < *close)
    }
}

/// `mon`, or `mon-fri`, as weekday indices (Monday 0).
fn day_range(days: &str) -> Result<Vec<usize>, String> {
    let index = |day: &str| {
        DAYS.iter().position(|d| *d == day.trim()).ok_or_else(|| format!("{day:?} is not a day (mon … sun)"))
    };
    match days.split_once('-') {
        Some((first, last)) => {
            let (first, last) = (index(first)?, index(last)?);
            if first > last {
                return Err(format!("{days:?}: the range runs backwards"));
            }
            Ok((first..=last).collect())
        }
        None => Ok(vec![index(days)?]),
    }
}

/// `09:00-17:00`, `09:00-12:00, 13:00-17:00` or `closed`.
fn intervals(text: &str) -> Result<Vec<(NaiveTime, NaiveTime)>, String> {
    if text.trim() == "closed" {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|interval| {
            let (open, close) =
                interval.split_once('-').ok_or_else(|| format!("{interval:?} is not HH:MM-HH:MM"))?;
            let time = |t: &str| {
                let t = t.trim();
                if t == "24:00" {
                    return NaiveTime::from_hms_opt(23, 59, 59).ok_or_else(|| "24:00".to_string());
                }
                NaiveTime::parse_from_str(t, "%H:%M").map_err(|_| format!("{t:?} is not HH:MM"))
            };
            let (open, close) = (time(open)?, time(close)?);
            if open >= close {
                return Err(format!("{interval:?}: closes before it opens"));
            }
            Ok((open, close))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn berlin() -> Calendar {
        let spec = Spec {
            timezone: "Europe/Berlin".into(),
            hours: [("mon-fri".to_string(), "09:00-17:00".to_string()), ("sat".into(), "10:00-12:00".into())]
                .into(),
            holidays: vec!["2026-12-25".into()],
        };
        Calendar::new(&spec).expect("valid")
    }

    #[test]
    fn open_in_local_hours_closed_at_night_weekends_and_holidays() {
        let calendar = berlin();
        let utc = |d, h, m| Utc.with_ymd_and_hms(2026, 12, d, h, m, 0).single().expect("time");
        assert!(calendar.is_open(utc(2, 8, 30)), "09:30 in Berlin on a Wednesday");
        assert!(!calendar.is_open(utc(2, 22, 0)), "23:00 in Berlin");
        assert!(!calendar.is_open(utc(6, 12, 0)), "Sunday");
        assert!(calendar.is_open(utc(5, 10, 0)), "11:00 on Saturday");
        assert!(!calendar.is_open(utc(25, 10, 0)), "Christmas");
    }

    #[test]
    fn a_message_at_23_00_learns_when_it_opens_again() {
        let calendar = berlin();
        let utc = |d, h, m| Utc.with_ymd_and_hms(2026, 12, d, h, m, 0).single().expect("time");
        // Wednesday 23:00 in Berlin: Thursday 09:00 Berlin, 08:00 UTC.
        assert_eq!(calendar.next_open(utc(2, 22, 0)), Some(utc(3, 8, 0)));
        // Saturday 13:00 Berlin: Monday 09:00.
        assert_eq!(calendar.next_open(utc(5, 12, 0)), Some(utc(7, 8, 0)));
        // Christmas Eve evening: the 25th is a holiday, so Saturday the 26th at 10:00.
        assert_eq!(calendar.next_open(utc(24, 20, 0)), Some(utc(26, 9, 0)));
        assert_eq!(calendar.next_open(utc(2, 10, 0)), Some(utc(2, 10, 0)), "open now");
    }

    #[test]
    fn targets_count_opening_hours_only() {
        let calendar = berlin();
        let utc = |d, h, m| Utc.with_ymd_and_hms(2026, 12, d, h, m, 0).single().expect("time");
        let hours = chrono::Duration::hours;
        // Wednesday 15:00 Berlin + 4 open hours: 2 today, 2 on Thursday from 09:00.
        assert_eq!(calendar.add_open_time(utc(2, 14, 0), hours(4)), Some(utc(3, 10, 0)));
        // Friday 23:00 + 1 hour: Saturday opens 10:00.
        assert_eq!(calendar.add_open_time(utc(4, 22, 0), hours(1)), Some(utc(5, 10, 0)));
        assert_eq!(calendar.add_open_time(utc(2, 9, 0), hours(1)), Some(utc(2, 10, 0)), "within hours");
        assert_eq!(calendar.open_time_between(utc(2, 14, 0), utc(3, 10, 0)), hours(4), "the same four hours");
    }

    #[test]
    fn refuses_bad_specs() {
        let spec = |zone: &str, days: &str, hours: &str| Spec {
            timezone: zone.into(),
            hours: [(days.to_string(), hours.to_string())].into(),
            holidays: vec![],
        };
        assert!(Calendar::new(&spec("Mars/Olympus", "mon", "09:00-17:00")).is_err());
        assert!(Calendar::new(&spec("UTC", "fri-mon", "09:00-17:00")).is_err());
        assert!(Calendar::new(&spec("UTC", "mon", "17:00-09:00")).is_err());
        assert!(Calendar::new(&spec("UTC", "funday", "09:00-17:00")).is_err());
    }
}
