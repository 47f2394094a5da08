//! What each conversation's facts add to the pre-aggregated rows of `analytics.rollups` (a pure
//! function, the same for keeping the rows and for reading the edges of a period from the
//! facts), how those rows are laid out, and the timings read back from their histograms.
//!
//! A row sums, for one UTC hour or day and one key (all conversations, or one channel,
//! language, intent, queue, agent or hand-off reason), what the conversations that started in
//! it tell (volume, escalation, SLAs, first response) and what the closings in it tell
//! (containment, reopens, satisfaction, resolution, handle time): the vector `m`, laid out by
//! the constants below. A change of layout needs the projection rebuilt (replay).

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike as _, DurationRound as _, TimeDelta, Timelike as _, Utc};

use crate::facts::Facts;

/// Conversations started; of them handed to a person; SLA targets met and breached.
pub const STARTED: usize = 0;
pub const ESCALATED: usize = 1;
pub const FIRST_RESPONSE_MET: usize = 2;
pub const FIRST_RESPONSE_BREACHED: usize = 3;
pub const RESOLUTION_MET: usize = 4;
pub const RESOLUTION_BREACHED: usize = 5;
/// Closings; of them the bot's alone and never reopened; never reopened; reopened.
pub const CLOSED: usize = 6;
pub const BOT_UNREOPENED: usize = 7;
pub const UNREOPENED: usize = 8;
pub const REOPENED: usize = 9;
/// CSAT answers of closings by the bot alone and with a person, and those that are 4 or 5.
pub const CSAT_BOT: usize = 10;
pub const CSAT_BOT_SATISFIED: usize = 11;
pub const CSAT_HUMAN: usize = 12;
pub const CSAT_HUMAN_SATISFIED: usize = 13;
pub const NPS_PROMOTERS: usize = 14;
pub const NPS_DETRACTORS: usize = 15;
pub const NPS_ANSWERS: usize = 16;
pub const SURVEYS_SENT: usize = 17;
/// Closings a person took part in, with an agent holding them (the agents' table).
pub const TAKEN: usize = 18;
/// Slots every row has.
pub const COUNTS: usize = 19;
/// All-conversation rows: conversations started by UTC hour of day (24 slots), then the
/// histograms of [`Timing`].
pub const HOURS: usize = COUNTS;
const HISTOGRAMS: usize = HOURS + 24;
/// Histogram buckets: `[0, 1)` seconds, then `[2^((i-1)/4), 2^(i/4))` up to 2^25 s (388 days;
/// longer counts in the last). Each bucket is 19% wide; a percentile interpolates within it.
pub const BUCKETS: usize = 101;
const PER_OCTAVE: f64 = 4.0;
/// The length of an all-conversation row, and of an agent's (counts and handle time).
pub const TOTAL_LEN: usize = HISTOGRAMS + 5 * BUCKETS;
pub const AGENT_LEN: usize = COUNTS + BUCKETS;

/// The timings a report gives percentiles of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    FirstResponse = 0,
    FirstResponseOpen = 1,
    Resolution = 2,
    ResolutionOpen = 3,
    Handle = 4,
}

impl Timing {
    /// Where its histogram starts in an all-conversation row.
    pub fn offset(self) -> usize {
        HISTOGRAMS + self as usize * BUCKETS
    }
}

/// Which half of a conversation's contribution: what its start tells, or what its closing tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Started,
    Closed,
}

/// The length of rows kept for a period: an hour, a UTC day, or a week from Monday (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Span {
    Hour,
    Day,
    Week,
}

impl Span {
    /// Every span, shortest first.
    pub const ALL: [Self; 3] = [Self::Hour, Self::Day, Self::Week];

    pub fn name(self) -> &'static str {
        match self {
            Self::Hour => "hour",
            Self::Day => "day",
            Self::Week => "week",
        }
    }

    pub fn length(self) -> TimeDelta {
        match self {
            Self::Hour => TimeDelta::hours(1),
            Self::Day => TimeDelta::days(1),
            Self::Week => TimeDelta::weeks(1),
        }
    }

    /// The start of the span holding `at`.
    pub fn start_of(self, at: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Self::Hour | Self::Day => at.duration_trunc(self.length()).unwrap_or(at),
            Self::Week => {
                let day = Self::Day.start_of(at);
                day - TimeDelta::days(i64::from(day.weekday().num_days_from_monday()))
            }
        }
    }
}

/// A row: span, start, dimension (empty: all conversations) and key.
pub type RowKey = (Span, DateTime<Utc>, &'static str, String);

/// The dimensions rows are kept by, besides all conversations.
pub const DIMENSIONS: [&str; 6] = ["channel", "language", "intent", "queue", "agent", "reason"];

/// The length of a row of `dim`.
pub fn len_of(dim: &str) -> usize {
    match dim {
        "" => TOTAL_LEN,
        "agent" => AGENT_LEN,
        _ => COUNTS,
    }
}

/// The bucket `seconds` count in.
pub fn bucket_of(seconds: f64) -> usize {
    // Below a second, and NaN, count in the first bucket.
    if seconds.is_nan() || seconds < 1.0 {
        return 0;
    }
    let bucket = (seconds.log2() * PER_OCTAVE).floor() as usize + 1;
    bucket.min(BUCKETS - 1)
}

/// The bounds of `bucket` in seconds.
fn bounds(bucket: usize) -> (f64, f64) {
    if bucket == 0 {
        return (0.0, 1.0);
    }
    let power = |i: usize| 2f64.powf(i as f64 / PER_OCTAVE);
    (power(bucket - 1), power(bucket))
}

/// The `p` quantile (0..1) of a histogram as PostgreSQL's `percentile_cont` gives it over the
/// values: interpolated between the values at ranks either side of `p x (n - 1)`, each value
/// placed within its bucket by its rank there (geometrically, as the buckets are). `None` for an
/// empty histogram; otherwise within a bucket's width (19%) of the exact figure.
pub fn quantile(histogram: &[i64], p: f64) -> Option<f64> {
    let total: i64 = histogram.iter().sum();
    if total <= 0 {
        return None;
    }
    let position = p.clamp(0.0, 1.0) * (total - 1) as f64;
    let (below, above) = (position.floor(), position.ceil());
    let (low, high) = (value_at(histogram, below as i64), value_at(histogram, above as i64));
    Some(low + (high - low) * (position - below))
}

/// The estimated value of rank `rank` (from 0) of a non-empty histogram.
fn value_at(histogram: &[i64], rank: i64) -> f64 {
    let mut below = 0i64;
    for (bucket, &count) in histogram.iter().enumerate() {
        if count > 0 && rank < below + count {
            let within = ((rank - below) as f64 + 0.5) / count as f64;
            let (low, high) = bounds(bucket);
            return if bucket == 0 { within } else { low * (high / low).powf(within) };
        }
        below += count;
    }
    histogram.iter().rposition(|&count| count > 0).map_or(0.0, |bucket| bounds(bucket).1)
}

/// What `facts` add to the rows, on `side` (or both): row by row, with both spans.
pub fn contributions(facts: &Facts, side: Option<Side>) -> BTreeMap<RowKey, Vec<i64>> {
    let mut rows = BTreeMap::new();
    let Some(started) = facts.started_at else { return rows };
    let human = facts.handed_off || facts.first_human_reply_at.is_some();
    if side != Some(Side::Closed) {
        add_started(&mut rows, facts, started);
    }
    if side != Some(Side::Started)
        && let Some(closed) = facts.closed_at
    {
        add_closed(&mut rows, facts, started, closed, human);
    }
    rows
}

/// The keys a conversation has rows under: every dimension's, the reason only when handed off.
fn keys_of(facts: &Facts) -> Vec<(&'static str, String)> {
    let mut keys = vec![
        ("", String::new()),
        ("channel", facts.channel.clone()),
        ("language", facts.language.clone()),
        ("intent", facts.intent.clone()),
        ("queue", facts.queue.clone()),
        ("agent", facts.agent.clone()),
    ];
    if facts.handed_off {
        keys.push(("reason", facts.handoff_reason.clone()));
    }
    keys
}

/// Lets `counts` add to each of the conversation's rows (every key, every span) at `at`.
fn add_each(
    rows: &mut BTreeMap<RowKey, Vec<i64>>,
    facts: &Facts,
    at: DateTime<Utc>,
    mut counts: impl FnMut(&str, &mut Vec<i64>),
) {
    for span in Span::ALL {
        for (dim, key) in keys_of(facts) {
            let row = rows.entry((span, span.start_of(at), dim, key)).or_insert_with(|| vec![0; len_of(dim)]);
            counts(dim, row);
        }
    }
}

fn add_started(rows: &mut BTreeMap<RowKey, Vec<i64>>, facts: &Facts, started: DateTime<Utc>) {
    let ended = |ending: &str, wanted: &str| i64::from(ending == wanted);
    let first_response = facts.first_human_reply_at.map(|at| seconds(at - started));
    add_each(rows, facts, started, |dim, row| {
        row[STARTED] += 1;
        row[ESCALATED] += i64::from(facts.handed_off);
        row[FIRST_RESPONSE_MET] += ended(&facts.first_response_sla, "met");
        row[FIRST_RESPONSE_BREACHED] += ended(&facts.first_response_sla, "breached");
        row[RESOLUTION_MET] += ended(&facts.resolution_sla, "met");
        row[RESOLUTION_BREACHED] += ended(&facts.resolution_sla, "breached");
        if dim.is_empty() {
            row[HOURS + started.hour() as usize] += 1;
            observe(row, Timing::FirstResponse, first_response);
            observe(row, Timing::FirstResponseOpen, facts.first_response_open_seconds.map(|s| s as f64));
        }
    });
}

fn add_closed(
    rows: &mut BTreeMap<RowKey, Vec<i64>>,
    facts: &Facts,
    started: DateTime<Utc>,
    closed: DateTime<Utc>,
    human: bool,
) {
    let handle = facts.assigned_at.map(|at| seconds(closed - at));
    let taken = human && !facts.agent.is_empty();
    add_each(rows, facts, closed, |dim, row| {
        row[CLOSED] += 1;
        row[BOT_UNREOPENED] += i64::from(!human && facts.reopens == 0);
        row[UNREOPENED] += i64::from(facts.reopens == 0);
        row[REOPENED] += i64::from(facts.reopens > 0);
        if let Some(score) = facts.csat {
            let (answers, satisfied) =
                if human { (CSAT_HUMAN, CSAT_HUMAN_SATISFIED) } else { (CSAT_BOT, CSAT_BOT_SATISFIED) };
            row[answers] += 1;
            row[satisfied] += i64::from(score >= 4);
        }
        if let Some(score) = facts.nps {
            row[NPS_ANSWERS] += 1;
            row[NPS_PROMOTERS] += i64::from(score >= 9);
            row[NPS_DETRACTORS] += i64::from(score <= 6);
        }
        row[SURVEYS_SENT] += i64::from(facts.surveys_sent);
        row[TAKEN] += i64::from(taken);
        match dim {
            "" => {
                observe(row, Timing::Resolution, Some(seconds(closed - started)));
                observe(row, Timing::ResolutionOpen, facts.resolution_open_seconds.map(|s| s as f64));
                observe(row, Timing::Handle, handle);
            }
            "agent" if taken => {
                if let Some(handle) = handle {
                    row[COUNTS + bucket_of(handle)] += 1;
                }
            }
            _ => {}
        }
    });
}

fn observe(row: &mut [i64], timing: Timing, value: Option<f64>) {
    if let Some(value) = value {
        row[timing.offset() + bucket_of(value)] += 1;
    }
}

fn seconds(delta: TimeDelta) -> f64 {
    delta.as_seconds_f64().max(0.0)
}

/// What the rows gain when a conversation's facts go from `before` to `after`: the new
/// contribution less the old; rows left unchanged are left out.
pub fn delta(before: Option<&Facts>, after: &Facts) -> BTreeMap<RowKey, Vec<i64>> {
    let mut rows = contributions(after, None);
    for (key, old) in before.map(|facts| contributions(facts, None)).unwrap_or_default() {
        let row = rows.entry(key).or_insert_with(|| vec![0; old.len()]);
        row.iter_mut().zip(old).for_each(|(new, old)| *new -= old);
    }
    rows.retain(|_, row| row.iter().any(|&value| value != 0));
    rows
}

/// Adds `from` into `into` slot by slot (a shorter `into` grows).
pub fn add(into: &mut Vec<i64>, from: &[i64]) {
    if into.len() < from.len() {
        into.resize(from.len(), 0);
    }
    into.iter_mut().zip(from).for_each(|(sum, value)| *sum += value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hours: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default() + TimeDelta::hours(hours)
    }

    fn bot_conversation() -> Facts {
        Facts {
            conversation_id: "c1".into(),
            started_at: Some(at(0)),
            channel: "web".into(),
            intent: "order_status".into(),
            closed_at: Some(at(2)),
            csat: Some(5),
            ..Facts::default()
        }
    }

    #[test]
    fn a_conversation_adds_its_start_and_its_closing_to_their_own_hours() {
        let rows = contributions(&bot_conversation(), None);
        let total = |hours: i64| &rows[&(Span::Hour, Span::Hour.start_of(at(hours)), "", String::new())];
        assert_eq!((total(0)[STARTED], total(0)[CLOSED]), (1, 0));
        assert_eq!((total(2)[STARTED], total(2)[CLOSED], total(2)[BOT_UNREOPENED]), (0, 1, 1));
        assert_eq!((total(2)[CSAT_BOT], total(2)[CSAT_BOT_SATISFIED], total(2)[CSAT_HUMAN]), (1, 1, 0));
        let channel = &rows[&(Span::Day, Span::Day.start_of(at(0)), "channel", "web".into())];
        assert_eq!(channel.len(), COUNTS);
        assert!(!rows.keys().any(|(_, _, dim, _)| *dim == "reason"), "no hand-off, no reason row");
    }

    #[test]
    fn a_reopening_takes_the_old_closing_away() {
        let before = bot_conversation();
        let after = Facts { closed_at: None, reopens: 1, ..before.clone() };
        let change = delta(Some(&before), &after);
        let total = &change[&(Span::Hour, Span::Hour.start_of(at(2)), "", String::new())];
        assert_eq!((total[CLOSED], total[BOT_UNREOPENED], total[CSAT_BOT]), (-1, -1, -1));
        assert!(
            !change.keys().any(|(_, start, _, _)| *start == Span::Hour.start_of(at(0))),
            "the start is as it was"
        );
    }

    #[test]
    fn quantiles_from_the_histogram_are_within_a_bucket_of_the_exact_ones() {
        let values: Vec<f64> = (1..=1000).map(|i| f64::from(i) * 7.0).collect();
        let mut histogram = vec![0; BUCKETS];
        for value in &values {
            histogram[bucket_of(*value)] += 1;
        }
        // percentile_cont: p50 of 7, 14, ..., 7000 is 3503.5; p90 6300.7.
        for (p, exact) in [(0.5, 3503.5), (0.9, 6300.7)] {
            let estimate = quantile(&histogram, p).unwrap_or_default();
            assert!((estimate / exact - 1.0).abs() < 0.05, "p{p}: {estimate} against {exact}");
        }
        assert_eq!(quantile(&[0; BUCKETS], 0.5), None);
        // Two values: halfway between them, each placed within its own bucket.
        let mut two = vec![0; BUCKETS];
        two[bucket_of(600.0)] += 1;
        two[bucket_of(1800.0)] += 1;
        let middle = quantile(&two, 0.5).unwrap_or_default();
        assert!((middle / 1200.0 - 1.0).abs() < 0.1, "{middle}");
        assert_eq!(bucket_of(0.2), 0);
        assert_eq!(bucket_of(1e12), BUCKETS - 1);
    }
}
