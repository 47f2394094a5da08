//! Booking: the bot offers the next free slots of a calendar's opening hours and confirms the
//! one the customer picks. A slot is an aggregate (`booking`, id = calendar and start), so two
//! conversations can never book the same one.

use chrono::{DateTime, Duration, DurationRound as _, Utc};
use serde::Deserialize;
use switchboard_phrases::say;
use switchboard_proto::events::v1::PlaybookProgressed;

use super::{Step, local_time};
use crate::rules::Calendar;

pub const NAME: &str = "booking";
const MAX_MISSES: u32 = 2;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The calendar whose opening hours can be booked.
    #[serde(default = "default_calendar")]
    pub calendar: String,
    pub slot_minutes: u32,
    /// Slots offered at once.
    #[serde(default = "three")]
    pub offer: u32,
    /// Where the conversation goes when the customer cannot pick.
    pub queue: String,
    /// What is booked, e.g. `a call with an installer`, in the tenant's words; by default "an
    /// appointment" in the customer's language.
    #[serde(default)]
    pub what: String,
}

fn default_calendar() -> String {
    "default".into()
}

fn three() -> u32 {
    3
}

impl Settings {
    /// What is booked, in the tenant's words or else in the customer's language.
    fn what(&self, language: &str) -> String {
        if self.what.is_empty() { say(language, "booking.appointment", &[]) } else { self.what.clone() }
    }

    pub fn validate(&self, has_calendar: impl Fn(&str) -> bool) -> Result<(), String> {
        if !crate::rules::is_queue_name(&self.queue) {
            return Err("booking.queue: letters, digits, '-' or '_'".into());
        }
        if !has_calendar(&self.calendar) {
            return Err(format!("booking.calendar {:?} is not defined under calendars", self.calendar));
        }
        if !(5..=480).contains(&self.slot_minutes) || !(1..=9).contains(&self.offer) {
            return Err("booking: slot_minutes from 5 to 480, offer from 1 to 9".into());
        }
        Ok(())
    }
}

/// The slot's aggregate id.
pub fn slot_id(calendar: &str, start: DateTime<Utc>) -> String {
    format!("{calendar}-{}", start.timestamp())
}

/// Slot starts after `now` within opening hours, in order, at most `limit`; a slot must fit
/// in one opening interval.
pub fn candidates(
    settings: &Settings,
    calendar: &Calendar,
    now: DateTime<Utc>,
    limit: usize,
) -> Vec<DateTime<Utc>> {
    let length = Duration::minutes(i64::from(settings.slot_minutes));
    let mut at = now.duration_trunc(length).map_or(now, |t| t + length);
    let mut found = Vec::new();
    let horizon = now + Duration::days(28);
    while found.len() < limit && at < horizon {
        match calendar.next_open(at) {
            Some(open) if open == at => {
                if calendar.is_open(at + length - Duration::seconds(1)) {
                    found.push(at);
                }
                at += length;
            }
            Some(open) => {
                at = open.duration_trunc(length).map_or(open, |t| if t < open { t + length } else { t })
            }
            None => break,
        }
    }
    found
}

/// The offer: numbered slots in the calendar's time, and the state that remembers them.
pub fn offer(
    settings: &Settings,
    calendar: &Calendar,
    conversation_id: &str,
    slots: &[DateTime<Utc>],
    misses: u32,
    language: &str,
) -> Step {
    let mut state = PlaybookProgressed {
        conversation_id: conversation_id.to_string(),
        playbook: NAME.into(),
        asking: "slot".into(),
        misses,
        ..PlaybookProgressed::default()
    };
    let mut lines = vec![say(language, "booking.offer", &[("what", &settings.what(language))])];
    for (index, start) in slots.iter().enumerate() {
        state.collected.insert(format!("offer.{}", index + 1), start.to_rfc3339());
        lines.push(format!("{}) {}", index + 1, local_time(calendar, *start, language)));
    }
    lines.push(say(language, "booking.pick", &[]));
    Step::Ask { reply: lines.join("\n"), state }
}

/// The slot the customer picked from the offer in `state` ("2", "number 2", "the second").
pub fn chosen(state: &PlaybookProgressed, text: &str) -> Option<DateTime<Utc>> {
    let lower = text.to_lowercase();
    let ordinals = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth"];
    let number = lower.split(|c: char| !c.is_alphanumeric()).find_map(|word| {
        word.parse::<usize>().ok().or_else(|| ordinals.iter().position(|o| *o == word).map(|i| i + 1))
    })?;
    let start = state.collected.get(&format!("offer.{number}"))?;
    DateTime::parse_from_rfc3339(start).ok().map(|t| t.with_timezone(&Utc))
}

/// What to do with an answer that picks nothing: ask again, or hand off after two.
pub fn missed(settings: &Settings, mut state: PlaybookProgressed, language: &str) -> Step {
    state.misses += 1;
    if state.misses >= MAX_MISSES {
        state.done = true;
        return Step::HandOff { state, queue: settings.queue.clone() };
    }
    let count = state.collected.len();
    Step::Ask { reply: say(language, "booking.missed", &[("count", &count.to_string())]), state }
}

/// Booked: the confirmation.
pub fn confirmed(
    settings: &Settings,
    calendar: &Calendar,
    mut state: PlaybookProgressed,
    start: DateTime<Utc>,
    language: &str,
) -> Step {
    state.done = true;
    state.asking.clear();
    state.collected.retain(|key, _| !key.starts_with("offer."));
    state.collected.insert("booked".into(), start.to_rfc3339());
    let when = local_time(calendar, start, language);
    let reply = say(language, "booking.confirmed", &[("what", &settings.what(language)), ("when", &when)]);
    Step::Done { reply, state, handover: None }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    fn settings() -> Settings {
        Settings {
            calendar: "default".into(),
            slot_minutes: 30,
            offer: 3,
            queue: "bookings".into(),
            what: String::new(),
        }
    }

    fn calendar() -> Calendar {
        let text = "calendars:\n  default: {timezone: UTC, hours: {mon-fri: \"09:00-10:00\"}}\n\
                    rules:\n  - name: all\n    then: {action: queue, queue: q}\n";
        crate::rules::Rules::parse(text).expect("valid").calendar("default").cloned().expect("calendar")
    }

    #[test]
    fn slots_follow_opening_hours_and_the_customer_picks_by_number() {
        let friday_night = Utc.with_ymd_and_hms(2026, 12, 4, 22, 0, 0).single().expect("time");
        let monday = |h, m| Utc.with_ymd_and_hms(2026, 12, 7, h, m, 0).single().expect("time");
        let tuesday = Utc.with_ymd_and_hms(2026, 12, 8, 9, 0, 0).single().expect("time");
        let slots = candidates(&settings(), &calendar(), friday_night, 3);
        assert_eq!(slots, [monday(9, 0), monday(9, 30), tuesday], "an hour a day: two slots on Monday");
        let Step::Ask { reply, state } = offer(&settings(), &calendar(), "c", &slots, 0, "en") else {
            panic!("an offer")
        };
        assert!(reply.starts_with("I can offer an appointment at:"), "{reply}");
        assert!(reply.contains("1) Monday 2026-12-07 09:00 (UTC)"), "{reply}");
        assert_eq!(chosen(&state, "number 2 please"), Some(monday(9, 30)));
        assert_eq!(chosen(&state, "the third"), Some(tuesday));
        assert_eq!(chosen(&state, "7"), None);
        assert!(matches!(missed(&settings(), state.clone(), "en"), Step::Ask { .. }));
        let Step::Done { reply, .. } = confirmed(&settings(), &calendar(), state, tuesday, "de") else {
            panic!("booked")
        };
        assert!(reply.contains("2026-12-08 09:00") && !reply.contains("appointment"), "{reply}");
    }
}
