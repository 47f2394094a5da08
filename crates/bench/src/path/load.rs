//! Load on the message path: closed (as fast as the cluster takes it, a fixed number of
//! submissions in flight) to find its throughput, and open (a fixed arrival rate whatever the
//! cluster does) to find its latency without coordinated omission: each message's latency runs
//! from the moment it was due, not from when it could be sent.

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use super::{
    kb,
    watch::{End, Watch},
};
use crate::Intake;
use anyhow::Context as _;
use futures::{StreamExt as _, stream};
use hdrhistogram::Histogram;
use switchboard_bus::{Bus, INBOUND_SUBJECT_PREFIX};
use switchboard_proto::{
    events::v1::{Channel, InboundMessage},
    intake::v1::SubmitMessageRequest,
};

/// How bench messages enter the cluster.
#[derive(Clone)]
pub(crate) enum Entry {
    /// `SubmitMessage` over gRPC, spread over the intakes given.
    Grpc(Arc<Vec<Intake>>),
    /// A publish to `switchboard.inbound.web`, as a channel adapter does.
    Inbound(Box<Bus>),
}

impl Entry {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Entry::Grpc(_) => "gRPC SubmitMessage",
            Entry::Inbound(_) => "publish to switchboard.inbound.web",
        }
    }

    /// Sends message `n` of a run, under `key`, as a new conversation.
    async fn send(&self, n: usize, key: String) -> anyhow::Result<()> {
        let (customer_id, text) = (format!("customer-{key}"), kb::question(n).to_string());
        match self {
            Entry::Grpc(intakes) => {
                let mut intake = intakes[n % intakes.len()].clone();
                let request = SubmitMessageRequest {
                    channel: Channel::Web.into(),
                    customer_id,
                    text,
                    idempotency_key: key,
                    ..Default::default()
                };
                intake.submit_message(request).await?;
            }
            Entry::Inbound(bus) => {
                let message = InboundMessage {
                    channel: Channel::Web.into(),
                    customer_id,
                    text,
                    idempotency_key: key,
                    ..Default::default()
                };
                let payload = prost::Message::encode_to_vec(&message);
                let subject = format!("{INBOUND_SUBJECT_PREFIX}.web");
                bus.jetstream().publish(subject, payload.into()).await?.await?;
            }
        }
        Ok(())
    }
}

/// What a closed run gave.
pub(crate) struct Closed {
    pub messages: usize,
    pub refused: usize,
    pub replied: usize,
    pub handed_off: usize,
    /// The numbers of the messages handed off.
    pub handed_off_numbers: Vec<usize>,
    /// From the first submission to the last end.
    pub elapsed: Duration,
    pub submitted_in: Duration,
}

impl Closed {
    pub(crate) fn rate(&self) -> f64 {
        (self.replied + self.handed_off) as f64 / self.elapsed.as_secs_f64()
    }
}

/// Sends `messages` with `in_flight` sends at a time, and waits for every end.
pub(crate) async fn closed(
    entry: &Entry,
    watch: &mut Watch,
    prefix: &str,
    messages: usize,
    in_flight: usize,
) -> anyhow::Result<Closed> {
    let started = SystemTime::now();
    let clock = std::time::Instant::now();
    let refused = stream::iter(0..messages)
        .map(|n| entry.send(n, format!("{prefix}{n}")))
        .buffer_unordered(in_flight)
        .filter(|sent| std::future::ready(sent.is_err()))
        .count()
        .await;
    let submitted_in = clock.elapsed();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    let finished = watch.collect(messages - refused, deadline).await?;
    let last = finished.iter().map(|f| f.at).max().unwrap_or(started);
    let replied = finished.iter().filter(|f| f.end == End::Replied).count();
    let handed_off_numbers = finished
        .iter()
        .filter(|f| f.end == End::HandedOff)
        .filter_map(|f| f.key.strip_prefix(prefix)?.parse().ok())
        .collect();
    Ok(Closed {
        messages,
        refused,
        replied,
        handed_off: finished.len() - replied,
        handed_off_numbers,
        elapsed: last.duration_since(started).unwrap_or_default(),
        submitted_in,
    })
}

/// What an open run gave.
pub(crate) struct Open {
    pub rate: u32,
    pub seconds: u32,
    pub refused: usize,
    pub replied: usize,
    pub handed_off: usize,
    /// Due but no end within the grace after the run.
    pub missing: usize,
    /// Due time to reply delivered, in microseconds.
    pub latency: Histogram<u64>,
}

/// Sends `rate` messages a second for `seconds`, each at its due time, and records each one's
/// latency from that time to its end.
pub(crate) async fn open(
    entry: &Entry,
    watch: &mut Watch,
    prefix: &str,
    rate: u32,
    seconds: u32,
) -> anyhow::Result<Open> {
    let total = (rate * seconds) as usize;
    let interval = Duration::from_secs(1) / rate;
    let (start, clock) = (SystemTime::now(), tokio::time::Instant::now());
    let mut sends = Vec::with_capacity(total);
    for n in 0..total {
        let offset = interval * u32::try_from(n)?;
        tokio::time::sleep_until(clock + offset).await;
        let entry = entry.clone();
        let key = format!("{prefix}{n}");
        sends.push(tokio::spawn(async move { entry.send(n, key).await }));
    }
    let mut refused = 0;
    for send in sends {
        refused += usize::from(!matches!(send.await, Ok(Ok(()))));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let finished = watch.collect(total - refused, deadline).await?;
    // The rest is waited for (untimed), so that the next run starts on an idle cluster.
    let drain = tokio::time::Instant::now() + Duration::from_secs(900);
    watch.collect(total - refused - finished.len(), drain).await?;
    let mut latency = Histogram::new_with_bounds(1, 600_000_000, 3).context("histogram bounds")?;
    for end in &finished {
        let n: u32 = end.key.strip_prefix(prefix).and_then(|n| n.parse().ok()).context("a foreign key")?;
        let due = start + interval * n;
        let micros = end.at.duration_since(due).unwrap_or_default().as_micros();
        latency.saturating_record(u64::try_from(micros).unwrap_or(u64::MAX).max(1));
    }
    let replied = finished.iter().filter(|f| f.end == End::Replied).count();
    Ok(Open {
        rate,
        seconds,
        refused,
        replied,
        handed_off: finished.len() - replied,
        missing: total - refused - finished.len(),
        latency,
    })
}
