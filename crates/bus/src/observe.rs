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

/// `consumer` starts on a message first delivered now, stored at `published`: how long it
/// waited in the stream and in the consumer (for an earlier message of its key, say).
pub(crate) fn waited(consumer: &str, published: SystemTime) {
    let waited = SystemTime::now().duration_since(published).unwrap_or_default();
    metrics::histogram!("switchboard_consumer_wait_seconds", "consumer" => consumer.to_string())
        .record(waited.as_secs_f64());
}

pub(crate) fn dead_lettered(consumer: &str) {
    metrics::counter!("switchboard_dead_letters_total", "consumer" => consumer.to_string()).increment(1);
}
