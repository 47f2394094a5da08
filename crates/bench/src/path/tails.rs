//! Where a message's time goes, by consumer: its wait before the consumer's handler starts on
//! it (`switchboard_consumer_wait_seconds`) and the handler's run
//! (`switchboard_handler_duration_seconds`), read from this process's metrics before and after
//! a run. The histograms have fixed buckets, so a percentile is told as the bucket bound it is
//! within.

use std::collections::BTreeMap;

/// One histogram's cumulative bucket counts by consumer: `(upper bound, count)`, in the order
/// the text gives them (rising bounds, `+Inf` last).
pub(crate) type Buckets = BTreeMap<String, Vec<(f64, u64)>>;

/// The buckets of histogram `metric` (labelled by `consumer`) in Prometheus text.
pub(crate) fn buckets(text: &str, metric: &str) -> Buckets {
    let prefix = format!("{metric}_bucket{{");
    let mut found = Buckets::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(&prefix) else { continue };
        let label = |name: &str| rest.split(&format!("{name}=\"")).nth(1)?.split('"').next();
        let (Some(consumer), Some(bound)) = (label("consumer"), label("le")) else { continue };
        let bound = if bound == "+Inf" { f64::INFINITY } else { bound.parse().unwrap_or(f64::NAN) };
        let count = line.rsplit(' ').next().and_then(|n| n.parse::<f64>().ok()).unwrap_or(0.0);
        found.entry(consumer.to_string()).or_default().push((bound, count as u64));
    }
    found
}

/// What one consumer's histogram gained between two readings.
#[derive(Debug, PartialEq)]
pub(crate) struct Tail {
    pub count: u64,
    /// The bucket bounds (seconds) the median and the 99th percentile are within.
    pub p50_within: f64,
    pub p99_within: f64,
    /// Share of the observations above `over` seconds.
    pub share_over: f64,
}

/// `after` less `before` for `consumer`, read as a [`Tail`] with its share above `over` (a
/// bucket bound); `None` when nothing was observed between them.
pub(crate) fn tail(before: &Buckets, after: &Buckets, consumer: &str, over: f64) -> Option<Tail> {
    let earlier = before.get(consumer);
    let gained: Vec<(f64, u64)> = after
        .get(consumer)?
        .iter()
        .map(|(bound, n)| {
            let was = earlier.and_then(|b| b.iter().find(|(le, _)| le == bound)).map_or(0, |(_, n)| *n);
            (*bound, n.saturating_sub(was))
        })
        .collect();
    let count = gained.last()?.1;
    if count == 0 {
        return None;
    }
    let within = |share: f64| {
        let wanted = (count as f64 * share).ceil() as u64;
        gained.iter().find(|(_, n)| *n >= wanted).map_or(f64::INFINITY, |(bound, _)| *bound)
    };
    let under = gained.iter().find(|(bound, _)| *bound >= over).map_or(count, |(_, n)| *n);
    Some(Tail {
        count,
        p50_within: within(0.5),
        p99_within: within(0.99),
        share_over: (count - under.min(count)) as f64 / count as f64,
    })
}

/// A bucket bound as people read it: `≤5 ms`, `≤2.5 s`, `>60 s`.
pub(crate) fn bound(seconds: f64) -> String {
    match seconds {
        s if s.is_infinite() => "beyond the last bucket".to_string(),
        s if s < 1.0 => format!("≤{} ms", (s * 10_000.0).round() / 10.0),
        s => format!("≤{s} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = "\
switchboard_consumer_wait_seconds_bucket{consumer=\"router\",le=\"0.005\"} 10
switchboard_consumer_wait_seconds_bucket{consumer=\"router\",le=\"0.1\"} 10
switchboard_consumer_wait_seconds_bucket{consumer=\"router\",le=\"0.5\"} 10
switchboard_consumer_wait_seconds_bucket{consumer=\"router\",le=\"+Inf\"} 10
switchboard_consumer_wait_seconds_sum{consumer=\"router\"} 0.01
";

    const AFTER: &str = "\
switchboard_consumer_wait_seconds_bucket{consumer=\"router\",le=\"0.005\"} 90
switchboard_consumer_wait_seconds_bucket{consumer=\"router\",le=\"0.1\"} 107
switchboard_consumer_wait_seconds_bucket{consumer=\"router\",le=\"0.5\"} 109
switchboard_consumer_wait_seconds_bucket{consumer=\"router\",le=\"+Inf\"} 110
switchboard_handler_duration_seconds_bucket{consumer=\"router\",le=\"0.005\"} 4
";

    #[test]
    fn a_histogram_is_read_by_consumer_in_its_bounds_order() {
        let read = buckets(AFTER, "switchboard_consumer_wait_seconds");
        assert_eq!(read.len(), 1);
        assert_eq!(read["router"], [(0.005, 90), (0.1, 107), (0.5, 109), (f64::INFINITY, 110)]);
    }

    #[test]
    fn what_a_run_added_is_read_as_its_percentiles_buckets_and_its_share_over_a_bound() {
        let metric = "switchboard_consumer_wait_seconds";
        let (before, after) = (buckets(BEFORE, metric), buckets(AFTER, metric));
        let gained = tail(&before, &after, "router", 0.1);
        // 100 observations: 80 within 5 ms, 17 more within 100 ms, 2 within 500 ms, 1 beyond.
        assert_eq!(gained, Some(Tail { count: 100, p50_within: 0.005, p99_within: 0.5, share_over: 0.03 }));
        assert_eq!(tail(&after, &after, "router", 0.1), None);
        assert_eq!(tail(&before, &after, "classifier", 0.1), None);
    }

    #[test]
    fn bounds_read_as_people_say_them() {
        assert_eq!(bound(0.005), "≤5 ms");
        assert_eq!(bound(2.5), "≤2.5 s");
        assert_eq!(bound(f64::INFINITY), "beyond the last bucket");
    }
}
