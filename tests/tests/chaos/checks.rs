//! What must hold once the load has drained, whatever the faults: each message received once and
//! decided once; each reply sent, at most once unless a crash fell between its send and its log;
//! the read models equal their replay; no dead letter.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures::TryStreamExt as _;
use mail_parser::MessageParser;
use prost::Message as _;
use switchboard_bus::{Bus, DEAD_LETTER_STREAM};
use switchboard_proto::events::v1::{Event, RouteAction, event::Body};

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

/// Where a reply went, the channel's id of it, and the attempts the notifier logged.
type Delivered = (String, String, u32);

/// The events of the run, indexed by what the checks ask.
#[derive(Default)]
pub struct Stream {
    events: usize,
    received: HashMap<String, Vec<String>>,
    decisions: HashMap<String, usize>,
    requested: HashMap<String, usize>,
    /// Reply id to its outcomes: a delivery's, or `None` per failure.
    outcomes: HashMap<String, Vec<Option<Delivered>>>,
    /// Why replies failed: reason and attempts.
    failures: Vec<String>,
    /// Messages the bot decided to answer (`AutoReply`).
    answered: Vec<String>,
    /// Message id to the replies requested in reply to it.
    requested_for: HashMap<String, usize>,
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
                    *stream.decisions.entry(routed.message_id.clone()).or_default() += 1;
                    if routed.action() == RouteAction::AutoReply {
                        stream.answered.push(routed.message_id.clone());
                    }
                }
                Some(Body::ReplyRequested(reply)) => {
                    *stream.requested.entry(reply.reply_id.clone()).or_default() += 1;
                    *stream.requested_for.entry(reply.in_reply_to.clone()).or_default() += 1;
                }
                Some(Body::ReplyDelivered(delivered)) => {
                    stream.outcomes.entry(delivered.reply_id.clone()).or_default().push(Some((
                        delivered.destination.clone(),
                        delivered.external_id.clone(),
                        delivered.attempts,
                    )))
                }
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

/// Each answer the bot decided on is requested once, has one outcome, and reached its sink, and
/// nothing else did. A reply may arrive more than once only where the notifier logged more than
/// one attempt (a holder killed or paused between its send and its log, and a later delivery of
/// the request took the work over): at most once per attempt.
pub fn replies(stream: &Stream, sinks: &Sinks<'_>, report: &mut Report) -> anyhow::Result<()> {
    let posts = count(sinks.webhook.borrow().iter().map(|post| post.idempotency_key.clone()));
    let mails = count(sinks.mail.messages()?.iter().filter_map(|raw| {
        MessageParser::default().parse(raw).and_then(|mail| mail.message_id().map(|id| format!("<{id}>")))
    }));
    report.figure("replies requested", stream.requested.len());
    requests(stream, report);
    let (mut unsettled, mut missing, mut repeated, mut unexplained) = (Vec::new(), Vec::new(), 0, Vec::new());
    let mut expected = BTreeSet::new();
    for reply_id in stream.requested.keys() {
        let outcomes = stream.outcomes.get(reply_id).map(Vec::as_slice).unwrap_or_default();
        let [Some((destination, external_id, attempts))] = outcomes else {
            if outcomes.len() != 1 {
                unsettled.push(format!("{reply_id}: {} outcomes", outcomes.len()));
            }
            continue;
        };
        let (sink, key) = if destination == "email" { (&mails, external_id) } else { (&posts, reply_id) };
        expected.insert(key.clone());
        let arrived = sink.get(key).copied().unwrap_or(0);
        match arrived {
            0 => missing.push(format!("{reply_id} ({destination})")),
            _ if arrived <= *attempts as usize => repeated += arrived - 1,
            _ => unexplained.push(format!("{reply_id}: arrived {arrived} times in {attempts} attempts")),
        }
    }
    let unasked: Vec<String> =
        posts.keys().chain(mails.keys()).filter(|key| !expected.contains(*key)).cloned().collect();
    report.figure("replies delivered", stream.outcomes.values().flatten().filter(|o| o.is_some()).count());
    report.figure("webhook posts", posts.values().sum::<usize>());
    report.figure("emails", mails.values().sum::<usize>());
    report.require("replies without exactly one outcome", &unsettled);
    report.require("replies that failed (the sinks refuse nothing)", &stream.failures);
    report.require("replies delivered but not at their sink", &missing);
    report.require("arrivals at a sink that no delivered reply explains", &unasked);
    report.figure("repeats after a crash between send and log", repeated);
    report.require("repeats beyond the attempts logged", &unexplained);
    Ok(())
}

/// Each answer the bot decided on is requested exactly once, and no reply is requested twice.
fn requests(stream: &Stream, report: &mut Report) {
    let twice: Vec<String> = stream
        .requested
        .iter()
        .filter(|(_, requests)| **requests != 1)
        .map(|(reply_id, requests)| format!("{reply_id}: requested {requests} times"))
        .collect();
    report.require("replies requested more than once", &twice);
    let replies_to = |message_id: &String| stream.requested_for.get(message_id).copied().unwrap_or(0);
    let unanswered: Vec<String> = stream
        .answered
        .iter()
        .filter(|message_id| replies_to(message_id) != 1)
        .map(|message_id| format!("{message_id}: {} replies", replies_to(message_id)))
        .collect();
    report.figure("messages the bot decided to answer", stream.answered.len());
    report.require("answers decided but not requested exactly once", &unanswered);
}

fn count(keys: impl Iterator<Item = String>) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for key in keys {
        *counts.entry(key).or_default() += 1;
    }
    counts
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
