//! `switchboard analytics report`: the support lead's report (docs/ANALYTICS.md) for the period
//! up to now, from a running server, as text or one JSON object.

use anyhow::Context as _;
use chrono::Utc;
use clap::Subcommand;
use serde_json::{Value, json};
use switchboard_proto::{
    analytics::v1::{Bucket, GetReportRequest, Point, Report, Share, analytics_client::AnalyticsClient},
    time::{to_datetime, to_timestamp},
};

use crate::api::ApiArgs;

#[derive(Debug, Subcommand)]
pub enum AnalyticsCommand {
    /// The report for the period up to now: containment, escalation, response and resolution
    /// times, SLAs, satisfaction and volume (needs a token with `analytics.read`).
    Report {
        /// How far back, e.g. `24h`, `7d`, `90d`.
        #[arg(long, default_value = "7d")]
        since: String,
        /// The series' bucket: hour, day or week.
        #[arg(long, default_value = "day")]
        bucket: String,
        /// Only this channel, queue, first intent, language or agent.
        #[arg(long, default_value = "")]
        channel: String,
        #[arg(long, default_value = "")]
        queue: String,
        #[arg(long, default_value = "")]
        intent: String,
        #[arg(long, default_value = "")]
        language: String,
        #[arg(long, default_value = "")]
        agent: String,
        /// Print the report as one JSON object.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        api: ApiArgs,
    },
}

pub async fn run(command: AnalyticsCommand) -> anyhow::Result<()> {
    let AnalyticsCommand::Report { since, bucket, channel, queue, intent, language, agent, json, api } =
        command;
    let now = Utc::now();
    let request = GetReportRequest {
        from: Some(to_timestamp(crate::router::ago(&since, now)?)),
        to: Some(to_timestamp(now)),
        bucket: bucket_of(&bucket)?.into(),
        channel,
        queue,
        intent,
        language,
        agent,
        min_sequence: 0,
    };
    let mut client = AnalyticsClient::new(api.connect().await?);
    let report = client.get_report(request).await.context("GetReport")?.into_inner();
    if json {
        println!("{}", to_json(&report));
    } else {
        print!("{}", render(&report));
    }
    Ok(())
}

fn bucket_of(text: &str) -> anyhow::Result<Bucket> {
    match text {
        "hour" => Ok(Bucket::Hour),
        "day" => Ok(Bucket::Day),
        "week" => Ok(Bucket::Week),
        _ => anyhow::bail!("--bucket {text:?}: hour, day or week"),
    }
}

fn shares(shares: &[Share]) -> Value {
    Value::Object(shares.iter().map(|share| (share.key.clone(), json!(share.count))).collect())
}

/// The report as JSON: the figures by their proto names; rates and times `null` when unset.
pub fn to_json(report: &Report) -> Value {
    let at = |at| to_datetime(at).to_rfc3339();
    let mut value = json!({
        "from": at(report.from.as_ref()), "to": at(report.to.as_ref()),
        "conversations": report.conversations, "escalated": report.escalated,
        "escalation_rate": report.escalation_rate,
        "closed": report.closed, "contained": report.contained,
        "containment_pending": report.containment_pending, "containment_rate": report.containment_rate,
        "reopened": report.reopened, "reopen_rate": report.reopen_rate,
        "first_contact_resolution_rate": report.first_contact_resolution_rate,
        "first_response_seconds_p50": report.first_response_seconds_p50,
        "first_response_seconds_p90": report.first_response_seconds_p90,
        "resolution_seconds_p50": report.resolution_seconds_p50,
        "resolution_seconds_p90": report.resolution_seconds_p90,
        "first_response_business_seconds_p50": report.first_response_business_seconds_p50,
        "first_response_business_seconds_p90": report.first_response_business_seconds_p90,
        "resolution_business_seconds_p50": report.resolution_business_seconds_p50,
        "resolution_business_seconds_p90": report.resolution_business_seconds_p90,
        "handle_seconds_p50": report.handle_seconds_p50,
        "handle_seconds_p90": report.handle_seconds_p90,
        "sla_met": report.sla_met, "sla_breached": report.sla_breached, "sla_attainment": report.sla_attainment,
        "csat_bot": report.csat_bot, "csat_human": report.csat_human, "csat": report.csat,
        "csat_answers": report.csat_answers, "nps": report.nps, "nps_answers": report.nps_answers,
        "surveys_sent": report.surveys_sent, "survey_response_rate": report.survey_response_rate,
    });
    let lists = [
        ("handoff_reasons", &report.handoff_reasons),
        ("channels", &report.channels),
        ("languages", &report.languages),
        ("intents", &report.intents),
        ("queues", &report.queues),
        ("hours", &report.hours),
    ];
    for (name, list) in lists {
        value[name] = shares(list);
    }
    value["sla"] = report
        .sla
        .iter()
        .map(|s| json!({"queue": s.queue, "metric": s.metric, "met": s.met, "breached": s.breached}))
        .collect();
    value["satisfaction"] = report
        .satisfaction
        .iter()
        .map(|s| json!({"dimension": s.dimension, "key": s.key, "answers": s.answers, "csat": s.csat}))
        .collect();
    value["agent_figures"] = report
        .agent_figures
        .iter()
        .map(|a| json!({"agent": a.agent, "closed": a.closed, "handle_seconds_p50": a.handle_seconds_p50}))
        .collect();
    value["series"] = report.series.iter().map(|p| point(p, at(p.start.as_ref()))).collect();
    value
}

fn point(p: &Point, start: String) -> Value {
    json!({
        "start": start, "conversations": p.conversations, "escalated": p.escalated,
        "closed": p.closed, "contained": p.contained, "containment_pending": p.containment_pending,
    })
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "-".into(), |rate| format!("{:.1}%", rate * 100.0))
}

fn seconds(figure: Option<f64>) -> String {
    figure.map_or_else(
        || "-".into(),
        |seconds| {
            let whole = seconds.round() as i64;
            if whole < 60 {
                format!("{whole}s")
            } else if whole < 3600 {
                format!("{}m {:02}s", whole / 60, whole % 60)
            } else {
                format!("{}h {:02}m", whole / 3600, whole % 3600 / 60)
            }
        },
    )
}

fn listed(shares: &[Share]) -> String {
    if shares.is_empty() {
        return "-".into();
    }
    shares.iter().map(|share| format!("{} {}", share.key, share.count)).collect::<Vec<_>>().join(", ")
}

/// Each agent's closings and median handle time, e.g. `ana 12 (14m 05s)`.
fn agents(r: &Report) -> String {
    if r.agent_figures.is_empty() {
        return "-".into();
    }
    let figures = r
        .agent_figures
        .iter()
        .map(|a| format!("{} {} ({})", a.agent, a.closed, seconds(a.handle_seconds_p50)));
    figures.collect::<Vec<_>>().join(", ")
}

/// The report as lines of text, for a terminal.
pub fn render(r: &Report) -> String {
    let at = |at| to_datetime(at).format("%Y-%m-%d %H:%M");
    let lines = [
        format!("from {} to {} (UTC)", at(r.from.as_ref()), at(r.to.as_ref())),
        format!("conversations             {}", r.conversations),
        format!(
            "escalation rate           {} ({} handed to a person)",
            percent(r.escalation_rate),
            r.escalated
        ),
        format!(
            "containment rate          {} ({} contained, {} pending, of {} closed)",
            percent(r.containment_rate),
            r.contained,
            r.containment_pending,
            r.closed
        ),
        format!("reopen rate               {} ({} reopened)", percent(r.reopen_rate), r.reopened),
        format!("first-contact resolution  {}", percent(r.first_contact_resolution_rate)),
        format!(
            "first response p50 / p90  {} / {}",
            seconds(r.first_response_seconds_p50),
            seconds(r.first_response_seconds_p90)
        ),
        format!(
            "resolution p50 / p90      {} / {}",
            seconds(r.resolution_seconds_p50),
            seconds(r.resolution_seconds_p90)
        ),
        format!(
            "in business hours         first response {} / {}, resolution {} / {}",
            seconds(r.first_response_business_seconds_p50),
            seconds(r.first_response_business_seconds_p90),
            seconds(r.resolution_business_seconds_p50),
            seconds(r.resolution_business_seconds_p90)
        ),
        format!(
            "handle time p50 / p90     {} / {}",
            seconds(r.handle_seconds_p50),
            seconds(r.handle_seconds_p90)
        ),
        format!(
            "SLA attainment            {} ({} met, {} breached)",
            percent(r.sla_attainment),
            r.sla_met,
            r.sla_breached
        ),
        format!(
            "CSAT bot / human / all    {} / {} / {} ({} answers)",
            percent(r.csat_bot),
            percent(r.csat_human),
            percent(r.csat),
            r.csat_answers
        ),
        format!(
            "NPS                       {} ({} answers)",
            r.nps.map_or_else(|| "-".into(), |nps| format!("{nps:.0}")),
            r.nps_answers
        ),
        format!("survey response rate      {} ({} sent)", percent(r.survey_response_rate), r.surveys_sent),
        format!("hand-off reasons          {}", listed(&r.handoff_reasons)),
        format!("channels                  {}", listed(&r.channels)),
        format!("languages                 {}", listed(&r.languages)),
        format!("intents                   {}", listed(&r.intents)),
        format!("queues                    {}", listed(&r.queues)),
        format!("agents (closed, handle)   {}", agents(r)),
    ];
    lines.map(|line| line + "\n").concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_as_a_person_would_say_them() {
        assert_eq!(percent(Some(0.25)), "25.0%");
        assert_eq!(percent(None), "-");
        assert_eq!(
            (seconds(Some(42.4)), seconds(Some(1200.0)), seconds(Some(7260.0))),
            ("42s".into(), "20m 00s".into(), "2h 01m".into())
        );
        assert!(bucket_of("month").is_err());
    }

    #[test]
    fn an_empty_report_says_so_rather_than_zero() {
        let text = render(&Report::default());
        assert!(text.contains("containment rate          - (0 contained, 0 pending, of 0 closed)"), "{text}");
        assert_eq!(to_json(&Report::default())["containment_rate"], Value::Null);
    }
}
