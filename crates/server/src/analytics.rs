//! `switchboard analytics report`: the support lead's report (docs/ANALYTICS.md) for the period
//! up to now, from a running server, as text or one JSON object.

use anyhow::Context as _;
use chrono::Utc;
use clap::Subcommand;
use switchboard_proto::{
    analytics::v1::{Bucket, GetReportRequest, Report, Share, analytics_client::AnalyticsClient},
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
        println!("{}", switchboard_console::json::report(&report));
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
        use serde_json::Value;
        let text = render(&Report::default());
        assert!(text.contains("containment rate          - (0 contained, 0 pending, of 0 closed)"), "{text}");
        assert_eq!(switchboard_console::json::report(&Report::default())["containment_rate"], Value::Null);
    }
}
