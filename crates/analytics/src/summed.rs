//! The report read from the rollups: the same figures as [`crate::report`]'s from the facts, with
//! times read from histograms (within a bucket's width, 19%, of the exact percentile). For
//! reports without filters; counts are exact.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use switchboard_proto::{
    analytics::v1::{AgentFigure, Point, Report, SatisfactionFigure, Share, SlaFigure},
    time::to_timestamp,
};

use crate::{
    rolled::{Reading, Sums, gather},
    rollup::{self as slot, Span, Timing, quantile},
};

/// The report for the tenant's conversations in `[from, to)`; closings after `settled_before`
/// are inside the reopen window (pending).
pub async fn report(
    pool: &PgPool,
    tenant: &str,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    unit: Span,
    settled_before: DateTime<Utc>,
) -> Result<Report, sqlx::Error> {
    // One snapshot: a conversation closing meanwhile is read in one place or the other, not both.
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
    let mut whole = Sums::default();
    gather(&mut tx, tenant, (from, to), unit, Reading::Everything, &mut whole).await?;
    // The closings inside the reopen window, which are pending rather than contained.
    // A period wholly inside the window is its own recent part: read once.
    let cut = settled_before.clamp(from, to);
    let mut part = Sums::default();
    if from < cut && cut < to {
        gather(&mut tx, tenant, (cut, to), unit, Reading::ClosingTotals, &mut part).await?;
    }
    tx.commit().await?;
    let recent = if cut == from { &whole } else { &part };
    let mut report =
        Report { from: Some(to_timestamp(from)), to: Some(to_timestamp(to)), ..Report::default() };
    starts(&whole, &mut report);
    closings(&whole, recent, &mut report);
    report.series = series(&whole, recent);
    Ok(report)
}

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn rate(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

fn timing(row: &[i64], timing: Timing, p: f64) -> Option<f64> {
    let offset = timing.offset();
    row.get(offset..offset + slot::BUCKETS).and_then(|histogram| quantile(histogram, p))
}

/// The slot `index` of `row` (0 past its end).
fn slot_of(row: &[i64], index: usize) -> i64 {
    row.get(index).copied().unwrap_or(0)
}

fn starts(started: &Sums, report: &mut Report) {
    let t = &started.totals;
    report.conversations = count(slot_of(t, slot::STARTED));
    report.escalated = count(slot_of(t, slot::ESCALATED));
    report.escalation_rate = rate(slot_of(t, slot::ESCALATED), slot_of(t, slot::STARTED));
    report.first_response_seconds_p50 = timing(t, Timing::FirstResponse, 0.5);
    report.first_response_seconds_p90 = timing(t, Timing::FirstResponse, 0.9);
    report.first_response_business_seconds_p50 = timing(t, Timing::FirstResponseOpen, 0.5);
    report.first_response_business_seconds_p90 = timing(t, Timing::FirstResponseOpen, 0.9);
    let (met, breached) = sla_of(t);
    (report.sla_met, report.sla_breached) = (count(met), count(breached));
    report.sla_attainment = rate(met, met + breached);
    for ((dim, key), row) in &started.keyed {
        let share = Share { key: key.clone(), count: count(slot_of(row, slot::STARTED)) };
        let list = match dim.as_str() {
            "channel" => &mut report.channels,
            "language" => &mut report.languages,
            "intent" => &mut report.intents,
            "queue" if !key.is_empty() => &mut report.queues,
            "reason" => &mut report.handoff_reasons,
            _ => continue,
        };
        if share.count > 0 {
            list.push(share);
        }
    }
    for list in [
        &mut report.channels,
        &mut report.languages,
        &mut report.intents,
        &mut report.queues,
        &mut report.handoff_reasons,
    ] {
        list.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    }
    report.hours = (0..24)
        .filter(|hour| slot_of(t, slot::HOURS + hour) > 0)
        .map(|hour| Share { key: format!("{hour:02}"), count: count(slot_of(t, slot::HOURS + hour)) })
        .collect();
    report.sla = sla_figures(started);
}

/// SLA targets met and breached, both targets together.
fn sla_of(row: &[i64]) -> (i64, i64) {
    (
        slot_of(row, slot::FIRST_RESPONSE_MET) + slot_of(row, slot::RESOLUTION_MET),
        slot_of(row, slot::FIRST_RESPONSE_BREACHED) + slot_of(row, slot::RESOLUTION_BREACHED),
    )
}

fn sla_figures(started: &Sums) -> Vec<SlaFigure> {
    let targets = [
        ("first_response", slot::FIRST_RESPONSE_MET, slot::FIRST_RESPONSE_BREACHED),
        ("resolution", slot::RESOLUTION_MET, slot::RESOLUTION_BREACHED),
    ];
    let mut figures = Vec::new();
    for ((_, queue), row) in started.keyed.iter().filter(|((dim, _), _)| dim == "queue") {
        for (metric, met, breached) in targets {
            let (met, breached) = (count(slot_of(row, met)), count(slot_of(row, breached)));
            if met + breached > 0 {
                figures.push(SlaFigure { queue: queue.clone(), metric: metric.into(), met, breached });
            }
        }
    }
    figures
}

/// Closings' figures from the whole period's sums; `recent` holds those of the part inside the
/// reopen window (pending, and not settled for first-contact resolution).
fn closings(whole: &Sums, recent: &Sums, report: &mut Report) {
    let t = &whole.totals;
    let settled = |index: usize| slot_of(t, index) - slot_of(&recent.totals, index);
    report.closed = count(slot_of(t, slot::CLOSED));
    report.contained = count(settled(slot::BOT_UNREOPENED));
    report.containment_pending = count(slot_of(&recent.totals, slot::BOT_UNREOPENED));
    report.containment_rate = rate(settled(slot::BOT_UNREOPENED), slot_of(t, slot::CLOSED));
    report.reopened = count(slot_of(t, slot::REOPENED));
    report.reopen_rate = rate(slot_of(t, slot::REOPENED), slot_of(t, slot::CLOSED));
    report.first_contact_resolution_rate = rate(settled(slot::UNREOPENED), settled(slot::CLOSED));
    report.resolution_seconds_p50 = timing(t, Timing::Resolution, 0.5);
    report.resolution_seconds_p90 = timing(t, Timing::Resolution, 0.9);
    report.resolution_business_seconds_p50 = timing(t, Timing::ResolutionOpen, 0.5);
    report.resolution_business_seconds_p90 = timing(t, Timing::ResolutionOpen, 0.9);
    report.handle_seconds_p50 = timing(t, Timing::Handle, 0.5);
    report.handle_seconds_p90 = timing(t, Timing::Handle, 0.9);
    report.csat_bot = rate(slot_of(t, slot::CSAT_BOT_SATISFIED), slot_of(t, slot::CSAT_BOT));
    report.csat_human = rate(slot_of(t, slot::CSAT_HUMAN_SATISFIED), slot_of(t, slot::CSAT_HUMAN));
    let (answers, satisfied) = csat_of(t);
    report.csat = rate(satisfied, answers);
    report.csat_answers = count(answers);
    report.nps_answers = count(slot_of(t, slot::NPS_ANSWERS));
    report.nps = nps_of(t);
    report.surveys_sent = count(slot_of(t, slot::SURVEYS_SENT));
    report.survey_response_rate =
        rate(answers + slot_of(t, slot::NPS_ANSWERS), slot_of(t, slot::SURVEYS_SENT));
    report.agent_figures = agent_figures(&whole.keyed);
    report.satisfaction = satisfaction(&whole.keyed);
}

/// CSAT answers and the satisfied among them, bot and human together.
fn csat_of(row: &[i64]) -> (i64, i64) {
    (
        slot_of(row, slot::CSAT_BOT) + slot_of(row, slot::CSAT_HUMAN),
        slot_of(row, slot::CSAT_BOT_SATISFIED) + slot_of(row, slot::CSAT_HUMAN_SATISFIED),
    )
}

fn nps_of(row: &[i64]) -> Option<f64> {
    let net = slot_of(row, slot::NPS_PROMOTERS) - slot_of(row, slot::NPS_DETRACTORS);
    rate(net * 100, slot_of(row, slot::NPS_ANSWERS))
}

type Keyed = std::collections::BTreeMap<(String, String), Vec<i64>>;

fn agent_figures(keyed: &Keyed) -> Vec<AgentFigure> {
    let mut figures: Vec<AgentFigure> = keyed
        .iter()
        .filter(|((dim, agent), row)| dim == "agent" && !agent.is_empty() && slot_of(row, slot::TAKEN) > 0)
        .map(|((_, agent), row)| AgentFigure {
            agent: agent.clone(),
            closed: count(slot_of(row, slot::TAKEN)),
            handle_seconds_p50: row
                .get(slot::COUNTS..slot::AGENT_LEN)
                .and_then(|histogram| quantile(histogram, 0.5)),
        })
        .collect();
    figures.sort_by(|a, b| b.closed.cmp(&a.closed).then_with(|| a.agent.cmp(&b.agent)));
    figures
}

fn satisfaction(keyed: &Keyed) -> Vec<SatisfactionFigure> {
    let mut figures: Vec<SatisfactionFigure> = keyed
        .iter()
        .filter(|((dim, key), _)| match dim.as_str() {
            "agent" | "queue" => !key.is_empty(),
            "intent" => true,
            _ => false,
        })
        .filter_map(|((dim, key), row)| {
            let (answers, satisfied) = csat_of(row);
            (answers > 0).then(|| SatisfactionFigure {
                dimension: dim.clone(),
                key: key.clone(),
                answers: count(answers),
                csat: rate(satisfied, answers),
            })
        })
        .collect();
    figures.sort_by(|a, b| {
        (a.dimension.as_str(), std::cmp::Reverse(a.answers), a.key.as_str()).cmp(&(
            b.dimension.as_str(),
            std::cmp::Reverse(b.answers),
            b.key.as_str(),
        ))
    });
    figures
}

/// A point per bucket that has something.
fn series(whole: &Sums, recent: &Sums) -> Vec<Point> {
    let empty = Vec::new();
    whole
        .buckets
        .iter()
        .map(|(start, row)| {
            let late = recent.buckets.get(start).unwrap_or(&empty);
            let contained = slot_of(row, slot::BOT_UNREOPENED) - slot_of(late, slot::BOT_UNREOPENED);
            let (met, breached) = sla_of(row);
            let (answers, satisfied) = csat_of(row);
            Point {
                start: Some(to_timestamp(*start)),
                conversations: count(slot_of(row, slot::STARTED)),
                escalated: count(slot_of(row, slot::ESCALATED)),
                closed: count(slot_of(row, slot::CLOSED)),
                contained: count(contained),
                containment_pending: count(slot_of(late, slot::BOT_UNREOPENED)),
                containment_rate: rate(contained, slot_of(row, slot::CLOSED)),
                escalation_rate: rate(slot_of(row, slot::ESCALATED), slot_of(row, slot::STARTED)),
                csat: rate(satisfied, answers),
                nps: nps_of(row),
                sla_met: count(met),
                sla_breached: count(breached),
                sla_attainment: rate(met, met + breached),
                first_response_seconds_p50: timing(row, Timing::FirstResponse, 0.5),
                resolution_seconds_p50: timing(row, Timing::Resolution, 0.5),
            }
        })
        .filter(|point| point.conversations + point.closed > 0)
        .collect()
}
