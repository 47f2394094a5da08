//! The support lead's report (`GetReport`) on hand-built conversation histories: given these
//! events, each figure of docs/ANALYTICS.md is exactly this. The events are what intake, the
//! router, the desk and the notifier publish, published with the times they happened on the real
//! bus; the cluster runs analytics alone, so nothing else reacts to them.

mod common;

use chrono::{DateTime, TimeDelta, Utc};
use common::{Backing, Cluster};
use switchboard_auth::Role;
use switchboard_bus::{Bus, Draft};
use switchboard_proto::{
    analytics::v1::{
        Bucket, GetReportRequest, ListTrendsRequest, Report, Share, analytics_client::AnalyticsClient,
    },
    events::v1::{
        Channel, ConversationAssigned, ConversationClosed, ConversationReopened, Event, HandoffPacket,
        MessageClassified, MessageReceived, MessageRouted, ReplyRequested, RouteAction, SlaBreached, SlaMet,
        SurveyAnswered, SurveySent, event::Body,
    },
    time::to_timestamp,
};
use switchboard_server::Service;

/// One conversation's history, written as it happened: each event at its time.
struct History<'a> {
    bus: &'a Bus,
    tenant: &'a str,
    conversation: &'a str,
    started: DateTime<Utc>,
    last: u64,
}

impl<'a> History<'a> {
    /// The customer's first message, `days_ago` days ago, on the web, about an order.
    async fn start(
        bus: &'a Bus,
        tenant: &'a str,
        conversation: &'a str,
        days_ago: i64,
    ) -> anyhow::Result<Self> {
        Self::start_as(bus, tenant, conversation, TimeDelta::days(days_ago), "order_status").await
    }

    /// The customer's first message, `ago` before now, on the web, classified as `intent`.
    async fn start_as(
        bus: &'a Bus,
        tenant: &'a str,
        conversation: &'a str,
        ago: TimeDelta,
        intent: &str,
    ) -> anyhow::Result<Self> {
        let started = Utc::now() - ago;
        let mut history = Self { bus, tenant, conversation, started, last: 0 };
        let received = MessageReceived {
            conversation_id: conversation.into(),
            message_id: format!("{conversation}-m1"),
            channel: Channel::Web.into(),
            starts_conversation: true,
            ..Default::default()
        };
        history.at(0, Body::MessageReceived(received)).await?;
        let classified = MessageClassified {
            conversation_id: conversation.into(),
            intent: intent.into(),
            language: "en".into(),
            conversation_language: "en-GB".into(),
            ..Default::default()
        };
        history.at(0, Body::MessageClassified(classified)).await?;
        Ok(history)
    }

    /// Publishes `body`, `minutes` after the start.
    async fn at(&mut self, minutes: i64, body: Body) -> anyhow::Result<()> {
        self.event_at(minutes, body).await?;
        Ok(())
    }

    /// [`Self::at`], returning the event as published.
    async fn event_at(&mut self, minutes: i64, body: Body) -> anyhow::Result<Event> {
        let mut event = Draft::new(self.tenant, self.conversation, body).build()?;
        event.occurred_at = Some(to_timestamp(self.started + TimeDelta::minutes(minutes)));
        self.last = self.bus.publish(&event).await?.sequence;
        Ok(event)
    }

    async fn bot_answers(&mut self, minutes: i64) -> anyhow::Result<()> {
        self.routed(minutes, RouteAction::AutoReply, "", "").await?;
        self.reply(minutes, "").await
    }

    async fn routed(
        &mut self,
        minutes: i64,
        action: RouteAction,
        queue: &str,
        reason: &str,
    ) -> anyhow::Result<()> {
        let routed = MessageRouted {
            conversation_id: self.conversation.into(),
            action: action.into(),
            queue: queue.into(),
            handoff: (!reason.is_empty())
                .then(|| HandoffPacket { reason: reason.into(), ..Default::default() }),
            ..Default::default()
        };
        self.at(minutes, Body::MessageRouted(routed)).await
    }

    async fn reply(&mut self, minutes: i64, author: &str) -> anyhow::Result<()> {
        let reply = ReplyRequested {
            conversation_id: self.conversation.into(),
            reply_id: format!("{}-r{minutes}", self.conversation),
            author: author.into(),
            ..Default::default()
        };
        self.at(minutes, Body::ReplyRequested(reply)).await
    }

    async fn assigned(&mut self, minutes: i64, agent: &str) -> anyhow::Result<()> {
        let assigned = ConversationAssigned {
            conversation_id: self.conversation.into(),
            agent_id: agent.into(),
            ..Default::default()
        };
        self.at(minutes, Body::ConversationAssigned(assigned)).await
    }

    async fn closed(&mut self, minutes: i64, handled_by: &str) -> anyhow::Result<()> {
        let closed = ConversationClosed {
            conversation_id: self.conversation.into(),
            handled_by: handled_by.into(),
            ..Default::default()
        };
        self.at(minutes, Body::ConversationClosed(closed)).await
    }

    /// A survey of `kind` sent at the closing and answered with `score`.
    async fn rated(&mut self, minutes: i64, kind: &str, score: u32) -> anyhow::Result<()> {
        let conversation_id = self.conversation.to_string();
        let sent =
            SurveySent { conversation_id: conversation_id.clone(), kind: kind.into(), ..Default::default() };
        self.at(minutes, Body::SurveySent(sent)).await?;
        let answered = SurveyAnswered { conversation_id, kind: kind.into(), score, ..Default::default() };
        self.at(minutes + 1, Body::SurveyAnswered(answered)).await
    }

    async fn sla(&mut self, minutes: i64, metric: &str, met: bool) -> anyhow::Result<()> {
        let conversation_id = self.conversation.to_string();
        let body = if met {
            Body::SlaMet(SlaMet { conversation_id, metric: metric.into() })
        } else {
            Body::SlaBreached(SlaBreached { conversation_id, metric: metric.into(), ..Default::default() })
        };
        self.at(minutes, body).await
    }
}

/// Acme's history (now is "today"; the reopen window is the default 7 days):
/// - c1, 10 days ago: the bot answers, closes after 5 minutes; CSAT 5. Contained.
/// - c2, 1 day ago: the bot answers, closes after 10 minutes. Pending (inside the window).
/// - c3, 9 days ago: the bot answers and closes after 2 minutes; the customer reopens it (the
///   reopen is stored twice), it goes to a person (missing knowledge, queue general), who replies
///   at 30 minutes and closes at 60; CSAT 2.
/// - c4, 8 days ago: escalated (customer asked, queue billing) to ana, who replies at 10 minutes
///   (first response met) and closes at 60 (resolution breached); NPS 10.
/// - c5, 2 days ago: the bot answers; still open.
/// - c6, 3 days ago: queued (customer asked, queue billing), nobody replied; first response
///   breached; still open.
///
/// Globex has a conversation of the same id c1, escalated: none of acme's figures.
async fn acme_history(bus: &Bus) -> anyhow::Result<u64> {
    let mut c1 = History::start(bus, "acme", "c1", 10).await?;
    c1.bot_answers(0).await?;
    c1.closed(5, "bot").await?;
    c1.rated(5, "csat", 5).await?;

    let mut c2 = History::start(bus, "acme", "c2", 1).await?;
    c2.bot_answers(0).await?;
    c2.closed(10, "bot").await?;

    let mut c3 = History::start(bus, "acme", "c3", 9).await?;
    c3.bot_answers(0).await?;
    c3.closed(2, "bot").await?;
    let reopened =
        ConversationReopened { conversation_id: "c3".into(), by_customer: true, ..Default::default() };
    let event = c3.event_at(4, Body::ConversationReopened(reopened)).await?;
    republish(bus, &event).await?;
    c3.routed(5, RouteAction::Queue, "general", "missing_knowledge").await?;
    c3.assigned(6, "bo").await?;
    c3.reply(30, "agent:bo").await?;
    c3.closed(60, "human").await?;
    c3.rated(60, "csat", 2).await?;

    let mut c4 = History::start(bus, "acme", "c4", 8).await?;
    c4.routed(0, RouteAction::Escalate, "billing", "customer_asked").await?;
    c4.assigned(1, "ana").await?;
    c4.reply(10, "agent:ana").await?;
    c4.sla(10, "first_response", true).await?;
    c4.sla(45, "resolution", false).await?;
    c4.closed(60, "human").await?;
    c4.rated(60, "nps", 10).await?;

    let mut c5 = History::start(bus, "acme", "c5", 2).await?;
    c5.bot_answers(0).await?;

    let mut c6 = History::start(bus, "acme", "c6", 3).await?;
    c6.routed(0, RouteAction::Queue, "billing", "customer_asked").await?;
    c6.sla(15, "first_response", false).await?;

    let mut globex = History::start(bus, "globex", "c1", 4).await?;
    globex.routed(0, RouteAction::Escalate, "billing", "customer_asked").await?;
    globex.closed(20, "human").await?;
    Ok(globex.last.max(c6.last))
}

/// The same event stored again, as after the bus's duplicate window (a message id it has not seen).
async fn republish(bus: &Bus, event: &Event) -> anyhow::Result<()> {
    use prost::Message as _;
    let subject = switchboard_bus::event_subject(&event.aggregate, &event.tenant, &event.aggregate_id);
    bus.publish_raw(subject, bytes::Bytes::from(event.encode_to_vec()), "after-the-window").await?;
    Ok(())
}

async fn report(cluster: &Cluster, request: GetReportRequest) -> anyhow::Result<Report> {
    let channel = cluster.channel_as("acme", Role::Supervisor, "sam").await?;
    Ok(AnalyticsClient::new(channel).get_report(request).await?.into_inner())
}

/// The last 30 days, up to an hour from now.
fn month(min_sequence: u64) -> GetReportRequest {
    let now = Utc::now();
    GetReportRequest {
        from: Some(to_timestamp(now - TimeDelta::days(30))),
        to: Some(to_timestamp(now + TimeDelta::hours(1))),
        bucket: Bucket::Day.into(),
        min_sequence,
        ..Default::default()
    }
}

/// Whether `figure` is `expected`, give or take floating-point rounding.
fn about(figure: Option<f64>, expected: f64) -> bool {
    figure.is_some_and(|figure| (figure - expected).abs() < 1e-9)
}

fn share(key: &str, count: u64) -> Share {
    Share { key: key.into(), count }
}

#[tokio::test]
async fn each_figure_is_exactly_what_the_definitions_give_for_a_known_history() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster =
        Cluster::start(switchboard_server::Config { services: vec![Service::Analytics], ..backing.config() })
            .await?;
    let bus = backing.bus().await?;
    let last = acme_history(&bus).await?;

    let report = report(&cluster, month(last)).await?;

    // Started in the period: six; three went to a person.
    assert_eq!((report.conversations, report.escalated), (6, 3), "{report:#?}");
    assert_eq!(report.escalation_rate, Some(0.5));
    assert_eq!(report.handoff_reasons, [share("customer_asked", 2), share("missing_knowledge", 1)]);
    // Closed in the period: c1 contained, c2 pending, c3 reopened, c4 a person's.
    assert_eq!((report.closed, report.contained, report.containment_pending), (4, 1, 1));
    assert_eq!((report.containment_rate, report.reopened, report.reopen_rate), (Some(0.25), 1, Some(0.25)));
    // Settled closings (past the window): c1, c3, c4; not reopened: c1, c4.
    assert!(about(report.first_contact_resolution_rate, 2.0 / 3.0), "{report:#?}");
    // First reply by a person: c4 after 600 s, c3 after 1800 s.
    assert!(about(report.first_response_seconds_p50, 1200.0), "{report:#?}");
    assert!(about(report.first_response_seconds_p90, 1680.0), "{report:#?}");
    // Start to closing: 300, 600, 3600, 3600 s.
    assert!(about(report.resolution_seconds_p50, 2100.0), "{report:#?}");
    assert!(about(report.resolution_seconds_p90, 3600.0), "{report:#?}");
    // No hand-off here chose a policy with business hours: open time is all the time.
    assert!(about(report.first_response_business_seconds_p50, 1200.0), "{report:#?}");
    assert!(about(report.resolution_business_seconds_p50, 2100.0), "{report:#?}");
    // SLA targets: c4's first response met, its resolution breached; c6's first response breached.
    assert_eq!((report.sla_met, report.sla_breached), (1, 2));
    assert!(about(report.sla_attainment, 1.0 / 3.0), "{report:#?}");
    // CSAT: the bot's c1 (5) satisfied; c3 (2), which a person took part in, not.
    assert_eq!((report.csat_bot, report.csat_human, report.csat), (Some(1.0), Some(0.0), Some(0.5)));
    assert_eq!((report.csat_answers, report.nps, report.nps_answers), (2, Some(100.0), 1));
    assert_eq!((report.surveys_sent, report.survey_response_rate), (3, Some(1.0)));
    assert_eq!(report.channels, [share("web", 6)]);
    assert_eq!(report.languages, [share("en", 6)]);
    assert_eq!(report.queues, [share("billing", 2), share("general", 1)]);
    let closed_by: Vec<(&str, u64)> =
        report.agent_figures.iter().map(|a| (a.agent.as_str(), a.closed)).collect();
    assert_eq!(closed_by, [("ana", 1), ("bo", 1)]);
    // Handle time, from a person taking it to the closing: ana 59 minutes, bo 54.
    assert!(about(report.handle_seconds_p50, 3390.0), "{report:#?}");
    let handled: Vec<(&str, Option<f64>)> =
        report.agent_figures.iter().map(|a| (a.agent.as_str(), a.handle_seconds_p50)).collect();
    assert_eq!(handled, [("ana", Some(3540.0)), ("bo", Some(3240.0))]);
    assert_eq!(report.hours.iter().map(|hour| hour.count).sum::<u64>(), 6);
    let started: u64 = report.series.iter().map(|point| point.conversations).sum();
    let closed: u64 = report.series.iter().map(|point| point.closed).sum();
    assert_eq!((started, closed), (6, 4), "{:#?}", report.series);
    cluster.stop().await
}

#[tokio::test]
async fn filters_and_periods_narrow_the_figures_and_bad_ones_are_refused() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster =
        Cluster::start(switchboard_server::Config { services: vec![Service::Analytics], ..backing.config() })
            .await?;
    let bus = backing.bus().await?;
    let last = acme_history(&bus).await?;

    let billing = report(&cluster, GetReportRequest { queue: "billing".into(), ..month(last) }).await?;
    assert_eq!((billing.conversations, billing.escalated, billing.closed), (2, 2, 1), "{billing:#?}");
    assert!(about(billing.sla_attainment, 1.0 / 3.0), "{billing:#?}");

    let week = GetReportRequest { from: Some(to_timestamp(Utc::now() - TimeDelta::days(7))), ..month(last) };
    let week = report(&cluster, week).await?;
    assert_eq!((week.conversations, week.closed, week.contained, week.containment_pending), (3, 1, 0, 1));
    assert_eq!(week.first_response_seconds_p50, None, "nobody replied to this week's conversations");

    let backwards = GetReportRequest { from: month(last).to, to: month(last).from, ..month(last) };
    let refused = report(&cluster, backwards).await.expect_err("a backwards period");
    assert_eq!(
        refused.downcast_ref::<tonic::Status>().map(tonic::Status::code),
        Some(tonic::Code::InvalidArgument)
    );
    let long =
        GetReportRequest { from: Some(to_timestamp(Utc::now() - TimeDelta::days(400))), ..month(last) };
    assert!(report(&cluster, long).await.is_err(), "more than 366 days");
    cluster.stop().await
}

/// The times of a report, taken out (so that the rest compares exactly), in a fixed order.
fn times_of(report: &mut Report) -> Vec<Option<f64>> {
    let mut times = vec![
        report.first_response_seconds_p50.take(),
        report.first_response_seconds_p90.take(),
        report.first_response_business_seconds_p50.take(),
        report.first_response_business_seconds_p90.take(),
        report.resolution_seconds_p50.take(),
        report.resolution_seconds_p90.take(),
        report.resolution_business_seconds_p50.take(),
        report.resolution_business_seconds_p90.take(),
        report.handle_seconds_p50.take(),
        report.handle_seconds_p90.take(),
    ];
    times.extend(report.agent_figures.iter_mut().map(|agent| agent.handle_seconds_p50.take()));
    for point in &mut report.series {
        times.push(point.first_response_seconds_p50.take());
        times.push(point.resolution_seconds_p50.take());
    }
    times
}

/// Acme's report for `[from, to)` by `bucket` at `now` read both ways: from the rollups (as a big
/// report is) and from the facts; each with its times taken out ([`times_of`]).
async fn both_readings(
    pool: &sqlx::PgPool,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    bucket: Bucket,
    now: DateTime<Utc>,
) -> anyhow::Result<[(Report, Vec<Option<f64>>); 2]> {
    use switchboard_analytics::report::{Scope, from_facts, report as answer};
    let scope = Scope { tenant: "acme".into(), from, to, bucket, filters: Default::default() };
    let window = std::time::Duration::from_secs(7 * 86_400);
    let mut rolled = answer(pool, &scope, now, window, 0).await?;
    let mut exact = from_facts(pool, &scope, now - TimeDelta::days(7)).await?;
    let (rolled_times, exact_times) = (times_of(&mut rolled), times_of(&mut exact));
    Ok([(rolled, rolled_times), (exact, exact_times)])
}

/// Reports without filters are read from the rollups once they are big: on the known history,
/// with the period's ends inside hours (read from the facts), whole hours and whole days, by
/// hour, day and week, the rollups give exactly the facts' counts, rates and lists, and times
/// within a histogram bucket (19%) of the exact percentiles.
#[tokio::test]
async fn the_rollups_give_the_same_figures_as_the_facts() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster =
        Cluster::start(switchboard_server::Config { services: vec![Service::Analytics], ..backing.config() })
            .await?;
    let bus = backing.bus().await?;
    let last = acme_history(&bus).await?;
    report(&cluster, month(last)).await?; // caught up
    let pool = backing.database.pool().await?;
    let now = Utc::now();
    let periods = [
        (now - TimeDelta::days(30), now),
        (now - TimeDelta::days(3), now), // wholly inside the reopen window
        (
            now - TimeDelta::days(10) - TimeDelta::minutes(1),
            now - TimeDelta::days(8) + TimeDelta::minutes(30),
        ),
    ];
    for (from, to) in periods {
        for bucket in [Bucket::Hour, Bucket::Day, Bucket::Week] {
            let [(rolled, rolled_times), (exact, exact_times)] =
                both_readings(&pool, (from, to), bucket, now).await?;
            assert!(exact.conversations + exact.closed > 0, "{from}..{to} is not empty");
            assert_eq!(rolled, exact, "{from}..{to} by {bucket:?}");
            for (estimate, exact) in rolled_times.iter().zip(&exact_times) {
                let close = match (estimate, exact) {
                    (Some(estimate), Some(exact)) => (estimate - exact).abs() <= exact * 0.19 + 1e-9,
                    (estimate, exact) => estimate == exact,
                };
                assert!(close, "{rolled_times:?} against {exact_times:?}");
            }
        }
    }
    pool.close().await;
    cluster.stop().await
}

/// Facts kept before the rollups existed (an upgrade): the projection's next batch fills the
/// rollups from them, and the big-report reading gives the facts' figures.
#[tokio::test]
async fn an_upgrade_fills_the_rollups_from_the_facts_kept_before() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let config = || switchboard_server::Config { services: vec![Service::Analytics], ..backing.config() };
    let cluster = Cluster::start(config()).await?;
    let bus = backing.bus().await?;
    let last = acme_history(&bus).await?;
    report(&cluster, month(last)).await?;
    cluster.stop().await?;
    let pool = backing.database.pool().await?;
    sqlx::query("DELETE FROM analytics.rollups").execute(&pool).await?;
    sqlx::query("DELETE FROM analytics.rollups_built").execute(&pool).await?;

    let cluster = Cluster::start(config()).await?;
    let mut c7 = History::start(&bus, "acme", "c7", 5).await?;
    c7.bot_answers(0).await?;
    report(&cluster, month(c7.last)).await?;
    let now = Utc::now();
    let [(rolled, _), (exact, _)] =
        both_readings(&pool, (now - TimeDelta::days(30), now), Bucket::Day, now).await?;
    assert_eq!((rolled.conversations, rolled.closed), (7, 4), "{rolled:#?}");
    assert_eq!(rolled, exact);
    pool.close().await;
    cluster.stop().await
}

/// `switchboard analytics report` against a running server prints the same figures, as JSON and
/// as text.
#[tokio::test]
async fn the_report_command_prints_the_servers_figures() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster =
        Cluster::start(switchboard_server::Config { services: vec![Service::Analytics], ..backing.config() })
            .await?;
    let bus = backing.bus().await?;
    let last = acme_history(&bus).await?;
    report(&cluster, month(last)).await?;

    let run = async |json: bool| -> anyhow::Result<String> {
        let mut command = tokio::process::Command::new(common::switchboard_binary()?);
        command.args(["analytics", "report", "--since", "30d"]);
        if json {
            command.arg("--json");
        }
        let output = command
            .env("SWITCHBOARD_ENDPOINT", format!("http://{}", cluster.address))
            .env("SWITCHBOARD_TOKEN", switchboard_testkit::token("acme", Role::Supervisor, "sam"))
            .output()
            .await?;
        anyhow::ensure!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        Ok(String::from_utf8(output.stdout)?)
    };
    let json: serde_json::Value = serde_json::from_str(&run(true).await?)?;
    assert_eq!((json["conversations"].as_u64(), json["contained"].as_u64()), (Some(6), Some(1)), "{json}");
    assert_eq!(json["containment_rate"].as_f64(), Some(0.25));
    assert_eq!(json["handoff_reasons"][0], serde_json::json!({"key": "customer_asked", "count": 2}));
    let text = run(false).await?;
    assert!(text.contains("containment rate          25.0% (1 contained, 1 pending, of 4 closed)"), "{text}");
    assert!(text.contains("escalation rate           50.0% (3 handed to a person)"), "{text}");
    cluster.stop().await
}

/// `count` conversations with first intent `intent`, started `ago` before now.
async fn started(bus: &Bus, intent: &str, count: usize, ago: TimeDelta, tag: &str) -> anyhow::Result<u64> {
    let mut last = 0;
    for index in 0..count {
        let conversation = format!("{intent}-{tag}-{index}");
        last = History::start_as(bus, "acme", &conversation, ago, intent).await?.last;
    }
    Ok(last)
}

/// Refund questions usually come two an hour; this hour nine came: a spike. Order questions come
/// six an hour, as always: none. Another tenant's refund questions this hour are not acme's.
#[tokio::test]
async fn an_intent_far_above_its_usual_hour_is_flagged_as_a_spike() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster =
        Cluster::start(switchboard_server::Config { services: vec![Service::Analytics], ..backing.config() })
            .await?;
    let bus = backing.bus().await?;
    let half_hour = TimeDelta::minutes(30);
    for week in 1..=4 {
        let ago = TimeDelta::days(7 * week) + half_hour;
        started(&bus, "refund", 2, ago, &format!("w{week}")).await?;
        started(&bus, "order_status", 6, ago, &format!("w{week}")).await?;
    }
    started(&bus, "order_status", 6, half_hour, "now").await?;
    for index in 0..3 {
        History::start_as(&bus, "globex", &format!("refund-now-{index}"), half_hour, "refund").await?;
    }
    let last = started(&bus, "refund", 9, half_hour, "now").await?;

    let channel = cluster.channel_as("acme", Role::Supervisor, "sam").await?;
    let request = ListTrendsRequest { min_sequence: last, ..Default::default() };
    let trends = AnalyticsClient::new(channel).list_trends(request).await?.into_inner().trends;

    let shape: Vec<(&str, u64, &[u64], bool)> =
        trends.iter().map(|t| (t.intent.as_str(), t.count, t.baseline.as_slice(), t.spike)).collect();
    assert_eq!(
        shape,
        [("refund", 9, &[2, 2, 2, 2][..], true), ("order_status", 6, &[6, 6, 6, 6][..], false)],
        "{trends:#?}"
    );
    assert_eq!(trends[0].ratio, Some(4.5));
    cluster.stop().await
}
