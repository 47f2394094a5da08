//! Trends: each intent's conversations in the current window against the same window (same
//! weekday and hours) in past weeks, with spikes flagged by a robust z-score on that seasonal
//! baseline (docs/ANALYTICS.md, "Trends").

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::{PgPool, Row as _};
use switchboard_proto::analytics::v1::{ListTrendsRequest, Trend};

use crate::Error;

/// A score at or above this flags a spike (Iglewicz and Hoaglin's cut-off for the modified z-score).
pub const SPIKE_SCORE: f64 = 3.5;

/// What a trends request asks for, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub at: DateTime<Utc>,
    pub hours: u32,
    pub weeks: u32,
    pub min_count: u64,
}

impl Window {
    /// The window a request asks for at `now`: defaults 1 hour, 4 weeks, 5 conversations.
    pub fn of(request: &ListTrendsRequest, now: DateTime<Utc>) -> Result<Self, Error> {
        let at = request.at.as_ref().map_or(now, |at| switchboard_proto::time::to_datetime(Some(at)));
        let hours = if request.window_hours == 0 { 1 } else { request.window_hours };
        let weeks = if request.weeks == 0 { 4 } else { request.weeks };
        if hours > 168 {
            return Err(Error::InvalidArgument("window_hours is at most 168 (a week)".into()));
        }
        if !(2..=12).contains(&weeks) {
            return Err(Error::InvalidArgument("weeks is 2 to 12".into()));
        }
        let min_count = if request.min_count == 0 { 5 } else { u64::from(request.min_count) };
        Ok(Self { at, hours, weeks, min_count })
    }

    pub fn from(&self) -> DateTime<Utc> {
        self.at - TimeDelta::hours(i64::from(self.hours))
    }
}

/// How `count` stands against `baseline` (the same window in past weeks).
pub fn trend(intent: &str, count: u64, baseline: Vec<u64>, min_count: u64) -> Trend {
    let median = median(&baseline);
    let deviations: Vec<f64> = baseline.iter().map(|&b| (b as f64 - median).abs()).collect();
    let spread = spread(&deviations);
    let excess = count as f64 - median;
    // Modified z-score; with no spread in the baseline, any rise over it is far out.
    let score = match spread {
        Some(spread) => excess / spread,
        None if excess > 0.0 => f64::INFINITY,
        None => 0.0,
    };
    Trend {
        intent: intent.to_string(),
        count,
        baseline,
        baseline_median: median,
        ratio: (median > 0.0).then(|| count as f64 / median),
        score: if score.is_finite() { score } else { f64::MAX },
        spike: count >= min_count && score >= SPIKE_SCORE,
    }
}

fn median(values: &[u64]) -> f64 {
    let mut sorted: Vec<f64> = values.iter().map(|&v| v as f64).collect();
    median_of(&mut sorted)
}

fn median_of(sorted: &mut [f64]) -> f64 {
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// The scale of a baseline's deviations as a standard deviation would be: 1.4826 × the median
/// absolute deviation, or 1.2533 × the mean absolute deviation when more than half are equal;
/// `None` when every week was the same.
fn spread(deviations: &[f64]) -> Option<f64> {
    let mad = median_of(&mut deviations.to_vec());
    if mad > 0.0 {
        return Some(1.4826 * mad);
    }
    let mean = deviations.iter().sum::<f64>() / deviations.len().max(1) as f64;
    (mean > 0.0).then_some(1.2533 * mean)
}

/// Each intent's trend in `window`, spikes first, then by score.
pub async fn trends(pool: &PgPool, tenant: &str, window: &Window) -> Result<Vec<Trend>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT c.intent, w.k, count(*)
         FROM generate_series(0, $3::int) AS w (k)
         JOIN analytics.conversations c
           ON c.tenant = $1
          AND c.started_at >= $2 - make_interval(hours => $4) - make_interval(days => 7 * w.k)
          AND c.started_at < $2 - make_interval(days => 7 * w.k)
         WHERE c.intent <> ''
         GROUP BY 1, 2",
    )
    .bind(tenant)
    .bind(window.at)
    .bind(i32::try_from(window.weeks).unwrap_or(12))
    .bind(i32::try_from(window.hours).unwrap_or(168))
    .fetch_all(pool)
    .await?;
    let mut counts: std::collections::BTreeMap<String, Vec<u64>> = Default::default();
    for row in rows {
        let (intent, week, count): (String, i32, i64) = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        let weeks = counts.entry(intent).or_insert_with(|| vec![0; window.weeks as usize + 1]);
        if let Some(slot) = usize::try_from(week).ok().and_then(|week| weeks.get_mut(week)) {
            *slot = u64::try_from(count).unwrap_or(0);
        }
    }
    let mut trends: Vec<Trend> = counts
        .into_iter()
        .map(|(intent, mut weeks)| {
            let baseline = weeks.split_off(1);
            trend(&intent, weeks[0], baseline, window.min_count)
        })
        .collect();
    trends.sort_by(|a, b| {
        b.spike.cmp(&a.spike).then(b.score.total_cmp(&a.score)).then(a.intent.cmp(&b.intent))
    });
    Ok(trends)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refund_questions_tripled_against_a_steady_baseline_is_a_spike() {
        let trend = trend("refund", 30, vec![10, 9, 11, 10], 5);
        assert_eq!((trend.baseline_median, trend.ratio), (10.0, Some(3.0)));
        assert!(trend.spike && trend.score > 20.0, "{trend:?}");
    }

    #[test]
    fn a_busy_hour_within_a_noisy_baseline_is_not() {
        let trend = trend("order_status", 30, vec![12, 35, 20, 28], 5);
        assert!(!trend.spike, "{trend:?}");
    }

    #[test]
    fn a_few_questions_never_spike_and_a_quiet_intent_is_no_trend() {
        assert!(!trend("billing", 3, vec![0, 0, 0, 0], 5).spike, "under the minimum count");
        let risen = trend("billing", 8, vec![0, 0, 0, 0], 5);
        assert!(risen.spike && risen.ratio.is_none(), "{risen:?}");
        let steady = trend("billing", 2, vec![2, 2, 2, 2], 5);
        assert_eq!((steady.score, steady.spike), (0.0, false));
    }

    #[test]
    fn requests_out_of_range_are_refused() {
        let now = Utc::now();
        let window = Window::of(&ListTrendsRequest::default(), now).expect("defaults");
        assert_eq!(window, Window { at: now, hours: 1, weeks: 4, min_count: 5 });
        assert!(Window::of(&ListTrendsRequest { weeks: 1, ..Default::default() }, now).is_err());
        assert!(Window::of(&ListTrendsRequest { window_hours: 200, ..Default::default() }, now).is_err());
    }
}
