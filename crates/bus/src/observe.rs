//! What consumers record for operators (the metrics are described in `switchboard-telemetry`):
//! messages handled by outcome, handler time, lag, the wait before handling, and dead letters.
//! Labels are consumer and projection names, which the code fixes: never a value from a message.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A message `consumer` handled, how it ended and how long its handler took.
pub(crate) fn handled(consumer: &str, outcome: &'static str, took: Duration) {
    metrics::counter!("switchboard_events_handled_total", "consumer" => consumer.to_string(), "outcome" => outcome)
        .increment(1);
    metrics::histogram!("switchboard_handler_duration_seconds", "consumer" => consumer.to_string())
        .record(took.as_secs_f64());
}

/// `consumer` (a consumer or a projection) took a message with `pending` more behind it.
pub fn progressed(consumer: &str, pending: u64) {
    metrics::gauge!("switchboard_consumer_pending_messages", "consumer" => consumer.to_string())
        .set(pending as f64);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64();
    metrics::gauge!("switchboard_consumer_last_handled_timestamp_seconds", "consumer" => consumer.to_string())
        .set(now);
}

/// `consumer` (a consumer or a projection) starts on a message first delivered now, stored at
/// `published`: how long it waited in the stream and in the consumer (for an earlier message of
/// its key, say). Messages stored before `bus` connected are not timed: they waited for the
/// process (a deployment, a new projection reading the stream from its start), not in a queue.
/// A wait the clocks make negative (the server's ahead of this host's) counts as none.
pub fn waited(bus: &crate::Bus, consumer: &str, published: SystemTime) {
    if let Some(waited) = wait_of(published, bus.connected_at, SystemTime::now()) {
        metrics::histogram!("switchboard_consumer_wait_seconds", "consumer" => consumer.to_string())
            .record(waited.as_secs_f64());
    }
}

/// The wait of a message stored at `published`, taken `now` by a process connected at
/// `connected`; `None` for a message stored before the process connected.
fn wait_of(published: SystemTime, connected: SystemTime, now: SystemTime) -> Option<Duration> {
    (published >= connected).then(|| now.duration_since(published).unwrap_or_default())
}

pub(crate) fn dead_lettered(consumer: &str) {
    metrics::counter!("switchboard_dead_letters_total", "consumer" => consumer.to_string()).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_waits_from_when_it_was_stored_to_when_it_is_taken() {
        let connected = UNIX_EPOCH + Duration::from_secs(100);
        let stored = connected + Duration::from_millis(250);
        let taken = stored + Duration::from_millis(40);
        assert_eq!(wait_of(stored, connected, taken), Some(Duration::from_millis(40)));
    }

    #[test]
    fn a_message_stored_before_the_process_connected_is_not_timed() {
        let connected = UNIX_EPOCH + Duration::from_secs(100);
        let stored = connected - Duration::from_secs(3600);
        assert_eq!(wait_of(stored, connected, connected + Duration::from_secs(1)), None);
    }

    #[test]
    fn a_wait_the_clocks_make_negative_counts_as_none() {
        let connected = UNIX_EPOCH + Duration::from_secs(100);
        let stored = connected + Duration::from_secs(5);
        assert_eq!(wait_of(stored, connected, stored - Duration::from_millis(3)), Some(Duration::ZERO));
    }
}
