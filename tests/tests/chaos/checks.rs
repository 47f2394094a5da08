//! What must hold once the load has drained, whatever the faults: each message received once and
//! decided once; each reply sent, at most once unless a crash fell between its send and its log;
//! the read models equal their replay; no dead letter.

use std::collections::{BTreeMap, HashMap};

use futures::TryStreamExt as _;
use mail_parser::MessageParser;
use prost::Message as _;
use sqlx::PgPool;
use switchboard_bus::{Bus, DEAD_LETTER_STREAM};
use switchboard_proto::events::v1::{Event, event::Body};

use crate::{
    common::{self, peers::Inbox},
    load::Message,
};

/// The figures of a run, in the order they are printed, and what failed.
#[derive(Default)]
pub struct Report {
    pub figures: Vec<(String, String)>,
    pub failures: Vec<String>,
}

impl Report {
    pub fn figure(&mut self, name: &str, value: impl ToString) {
        self.figures.push((name.to_string(), value.to_string()));
    }

    /// Records a failure of `name` when `bad` is not empty (a few examples are kept).
    fn require(&mut self, name: &str, bad: &[String]) {
        self.figure(name, bad.len());
        if !bad.is_empty() {
            self.failures.push(format!("{name}: {} (e.g. {:?})", bad.len(), &bad[..bad.len().min(5)]));
        }
    }
}

/// The events of the run, indexed by what the checks ask.
#[derive(Default)]
pub struct Stream {
    events: usize,
    received: HashMap<String, Vec<String>>,
    decisions: HashMap<String, usize>,
    requested: HashMap<String, usize>,
    /// Reply id to its outcomes: `Some(destination, external id)` per delivery, `None` per failure.
    outcomes: HashMap<String, Vec<Option<(String, String)>>>,
    /// Why replies failed: reason and attempts.
    failures: Vec<String>,
}

impl Stream {
    /// Reads every event of the stream.
    pub async fn load(bus: &Bus) -> anyhow::Result<Self> {
        Ok(Self::read(&common::events(bus, "switchboard.events.>").await?))
    }

    fn read(events: &[Event]) -> Self {
        let mut stream = Self { events: events.len(), ..Self::default() };
        for event in events {
            match &event.body {
                Some(Body::MessageReceived(received)) => {
                    let key = match &received.email {
                        Some(email) => email.message_id.clone(),
                        None => received.idempotency_key.clone(),
                    };
                    stream.received.entry(key).or_default().push(received.message_id.clone());
                }
                Some(Body::MessageRouted(routed)) => {
                    *stream.decisions.entry(routed.message_id.clone()).or_default() += 1
                }
                Some(Body::ReplyRequested(reply)) => {
                    *stream.requested.entry(reply.reply_id.clone()).or_default() += 1
                }
                Some(Body::ReplyDelivered(delivered)) => stream
                    .outcomes
                    .entry(delivered.reply_id.clone())
                    .or_default()
                    .push(Some((delivered.destination.clone(), delivered.external_id.clone()))),
                Some(Body::DeliveryFailed(failed)) => {
                    stream.outcomes.entry(failed.reply_id.clone()).or_default().push(None);
                    stream.failures.push(format!(
                        "{} after {} attempts: {}",
                        failed.reply_id, failed.attempts, failed.reason
                    ));
                }
                _ => {}
            }
        }
        stream
    }
}

/// Each message received once and decided once.
pub fn messages(stream: &Stream, count: usize, report: &mut Report) {
    report.figure("events in the stream", stream.events);
    let (mut unreceived, mut undecided) = (Vec::new(), Vec::new());
    for index in 0..count {
        let key = Message { index }.key();
        match stream.received.get(&key).map(Vec::as_slice) {
            Some([message_id]) => {
                let decisions = stream.decisions.get(message_id).copied().unwrap_or(0);
                if decisions != 1 {
                    undecided.push(format!("{key}: {decisions} decisions"));
                }
            }
            other => unreceived.push(format!("{key}: received {} times", other.map_or(0, <[String]>::len))),
        }
    }
    report.require("messages not received exactly once", &unreceived);
    report.require("messages without exactly one decision", &undecided);
}

/// What the sinks saw, by Idempotency-Key (webhook) and Message-ID (email).
pub struct Sinks<'a> {
    pub webhook: &'a Inbox,
    pub mail: &'a switchboard_testkit::SmtpSink,
}

/// Each requested reply has one outcome and reached its sink; a repeat is allowed only where a
/// later delivery of its request took the work over (a crash between send and log).
pub async fn replies(
    stream: &Stream,
    sinks: &Sinks<'_>,
    pool: &PgPool,
    report: &mut Report,
) -> anyhow::Result<()> {
    let posts = count(sinks.webhook.borrow().iter().map(|post| post.idempotency_key.clone()));
    let mails = count(sinks.mail.messages()?.iter().filter_map(|raw| {
        MessageParser::default().parse(raw).and_then(|mail| mail.message_id().map(|id| format!("<{id}>")))
    }));
    report.figure("replies requested", stream.requested.len());
    let (mut unsettled, mut missing, mut repeated, mut unexplained, mut failed) =
        (Vec::new(), Vec::new(), 0, Vec::new(), 0);
    for (reply_id, requests) in &stream.requested {
        let outcomes = stream.outcomes.get(reply_id).map(Vec::as_slice).unwrap_or_default();
        let [outcome] = outcomes else {
            unsettled.push(format!("{reply_id}: {requests} requests, {} outcomes", outcomes.len()));
            continue;
        };
        let Some((destination, external_id)) = outcome else {
            failed += 1;
            continue;
        };
        let arrived = match destination.as_str() {
            "email" => mails.get(external_id).copied().unwrap_or(0),
            _ => posts.get(reply_id).copied().unwrap_or(0),
        };
        match arrived {
            0 => missing.push(format!("{reply_id} ({destination})")),
            1 => {}
            _ if taken_over(pool, reply_id).await? => repeated += arrived - 1,
            _ => unexplained.push(format!("{reply_id}: sent {arrived} times")),
        }
    }
    report.figure("replies delivered", stream.outcomes.values().flatten().filter(|o| o.is_some()).count());
    report.figure("replies that failed", failed);
    for failure in &stream.failures {
        report.figure("  failed", failure);
    }
    report.figure("webhook posts", posts.values().sum::<usize>());
    report.figure("emails", mails.values().sum::<usize>());
    report.require("replies without exactly one outcome", &unsettled);
    report.require("replies delivered but not at their sink", &missing);
    report.figure("repeats after a crash between send and log", repeated);
    report.require("repeats with no crash to explain them", &unexplained);
    Ok(())
}

fn count(keys: impl Iterator<Item = String>) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for key in keys {
        *counts.entry(key).or_default() += 1;
    }
    counts
}

/// Whether a later delivery of the reply's request took its work over (the notifier's lease).
async fn taken_over(pool: &PgPool, reply_id: &str) -> anyhow::Result<bool> {
    let lease: Option<i64> =
        sqlx::query_scalar("SELECT max(lease) FROM notifier.delivery_log WHERE delivery_id = $1")
            .bind(reply_id)
            .fetch_one(pool)
            .await?;
    Ok(lease.unwrap_or(0) > 1)
}

/// Nothing in the dead letters: every fault here is one to wait out, none is the data's.
pub async fn dead_letters(bus: &Bus, report: &mut Report) -> anyhow::Result<()> {
    let mut stream = bus.jetstream().get_stream(DEAD_LETTER_STREAM).await?;
    let held = stream.info().await?.state.messages;
    let mut examples = Vec::new();
    if held > 0 {
        let consumer = common::ordered(bus, DEAD_LETTER_STREAM, "switchboard.dlq.>").await?;
        let mut messages = consumer.messages().await?;
        while examples.len() < (held as usize).min(5) {
            let Some(message) = messages.try_next().await? else { break };
            let reason =
                message.headers.as_ref().and_then(|h| h.get("Switchboard-Dlq-Reason")).map(|v| v.to_string());
            let what =
                Event::decode(message.payload.as_ref()).map(|e| format!("{:?}", e.body)).unwrap_or_default();
            examples.push(format!(
                "{}: {reason:?} {}",
                message.subject,
                what.chars().take(200).collect::<String>()
            ));
        }
    }
    report.figure("dead letters", held);
    if held > 0 {
        report.failures.push(format!("{held} dead letters, e.g. {examples:?}"));
    }
    Ok(())
}
