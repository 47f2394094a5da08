//! Where a message's time goes, by consumer and projection: its wait before the consumer's
//! handler (or the projection's batch) starts on it (`switchboard_consumer_wait_seconds`), and
//! the handler's run (`switchboard_handler_duration_seconds`; a projection's: its batch,
//! `switchboard_projection_batch_duration_seconds`), read from this process's metrics before
//! and after a run. The histograms have fixed buckets, so a percentile is told as the bucket
//! bound it is within.

use std::collections::{BTreeMap, BTreeSet};

use super::prometheus;

/// Above this, a wait or a handler's run is counted as slow (a bucket bound, in seconds).
const SLOW: f64 = 0.1;

/// The wait and handler histograms at one moment.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tails {
    waits: Buckets,
    /// Consumers' handlers and projections' batches (their names do not meet).
    runs: Buckets,
}

impl Tails {
    /// Read from Prometheus text.
    pub(crate) fn of(metrics: &str) -> Self {
        let mut runs = buckets(metrics, "switchboard_handler_duration_seconds", "consumer");
        runs.extend(buckets(metrics, "switchboard_projection_batch_duration_seconds", "projection"));
        Self { waits: buckets(metrics, "switchboard_consumer_wait_seconds", "consumer"), runs }
    }

    /// This process's, now.
    pub(crate) fn now() -> Self {
        Self::of(&switchboard_telemetry::metrics::render().unwrap_or_default())
    }
}

/// By consumer and projection, what `after` adds to `before`: how many it timed, the bucket
/// bounds their median and 99th percentile are within, and the share slower than [`SLOW`].
pub(crate) fn print(before: &Tails, after: &Tails) {
    println!(
        "    by consumer and projection, the wait before it | its handler's run or batch (how many: p50, p99 \
         within; share over {}):",
        bound(SLOW).trim_start_matches('≤')
    );
    let names: BTreeSet<&String> = after.waits.keys().chain(after.runs.keys()).collect();
    for name in names {
        let (wait, run) = (read(&before.waits, &after.waits, name), read(&before.runs, &after.runs, name));
        if wait != "-" || run != "-" {
            println!("      {name}: {wait} | {run}");
        }
    }
}

/// `name`'s histogram between two readings, as [`print`] shows it; `-` when nothing was timed.
fn read(before: &Buckets, after: &Buckets, name: &str) -> String {
    tail(before, after, name, SLOW).map_or("-".to_string(), |tail| {
        let (p50, p99) = (bound(tail.p50_within), bound(tail.p99_within));
        format!("{}: {p50}, {p99}; {:.2} %", tail.count, tail.share_over * 100.0)
    })
}

/// One histogram's cumulative bucket counts by name: `(upper bound, count)`, in the order the
/// text gives them (rising bounds, `+Inf` last).
type Buckets = BTreeMap<String, Vec<(f64, u64)>>;

/// The buckets of histogram `metric`, by the value of its label `label`, in Prometheus text.
fn buckets(text: &str, metric: &str, label: &str) -> Buckets {
    let prefix = format!("{metric}_bucket{{");
    let mut found = Buckets::new();
    for line in text.lines().filter(|line| line.starts_with(&prefix)) {
        let (Some(name), Some(bound)) = (prometheus::label(line, label), prometheus::label(line, "le"))
        else {
            continue;
        };
        let bound = if bound == "+Inf" { f64::INFINITY } else { bound.parse().unwrap_or(f64::NAN) };
        found.entry(name.to_string()).or_default().push((bound, prometheus::value(line) as u64));
    }
    found
}

/// What one consumer's histogram gained between two readings.
#[derive(Debug, PartialEq)]
struct Tail {
    count: u64,
    /// The bucket bounds (seconds) the median and the 99th percentile are within.
    p50_within: f64,
    p99_within: f64,
    /// Share of the observations above `over` seconds.
    share_over: f64,
}

/// `after` less `before` for `consumer`, read as a [`Tail`] with its share above `over` (a
/// bucket bound); `None` when nothing was observed between them.
fn tail(before: &Buckets, after: &Buckets, consumer: &str, over: f64) -> Option<Tail> {
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

/// A bucket bound as people read it: `≤5 ms`, `≤2.5 s`, or beyond the last bucket.
fn bound(seconds: f64) -> String {
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
        let read = buckets(AFTER, "switchboard_consumer_wait_seconds", "consumer");
        assert_eq!(read.len(), 1);
        assert_eq!(read["router"], [(0.005, 90), (0.1, 107), (0.5, 109), (f64::INFINITY, 110)]);
    }

    #[test]
    fn what_a_run_added_is_read_as_its_percentiles_buckets_and_its_share_over_a_bound() {
        let metric = "switchboard_consumer_wait_seconds";
        let (before, after) = (buckets(BEFORE, metric, "consumer"), buckets(AFTER, metric, "consumer"));
        let gained = tail(&before, &after, "router", 0.1);
        // 100 observations: 80 within 5 ms, 17 more within 100 ms, 2 within 500 ms, 1 beyond.
        assert_eq!(gained, Some(Tail { count: 100, p50_within: 0.005, p99_within: 0.5, share_over: 0.03 }));
        assert_eq!(tail(&after, &after, "router", 0.1), None);
        assert_eq!(tail(&before, &after, "classifier", 0.1), None);
    }

    #[test]
    fn projections_batches_are_read_beside_consumers_handlers() {
        let batches = "\
switchboard_projection_batch_duration_seconds_bucket{projection=\"desk-projection\",le=\"0.005\"} 1
switchboard_projection_batch_duration_seconds_bucket{projection=\"desk-projection\",le=\"0.1\"} 1
switchboard_projection_batch_duration_seconds_bucket{projection=\"desk-projection\",le=\"0.5\"} 3
switchboard_projection_batch_duration_seconds_bucket{projection=\"desk-projection\",le=\"+Inf\"} 3
";
        let tails = Tails::of(&format!("{AFTER}{batches}"));
        assert_eq!(tails.runs.keys().collect::<Vec<_>>(), ["desk-projection", "router"]);
        assert_eq!(read(&Buckets::new(), &tails.runs, "desk-projection"), "3: ≤500 ms, ≤500 ms; 66.67 %");
        assert_eq!(read(&tails.runs, &tails.runs, "desk-projection"), "-");
    }

    #[test]
    fn bounds_read_as_people_say_them() {
        assert_eq!(bound(0.005), "≤5 ms");
        assert_eq!(bound(2.5), "≤2.5 s");
        assert_eq!(bound(f64::INFINITY), "beyond the last bucket");
    }
}
