//! The dashboard's JSON: Analytics' answers (rates as fractions or `null`, seconds as numbers or
//! `null`), and an article as written.

use serde_json::{Map, Value, json};
use switchboard_proto::{
    analytics::v1::{ArticleDeflection, ContentGap, ListTrendsResponse, Point, Report, Share},
    knowledge::v1::Article,
};

use super::{slug, time};

fn shares(shares: &[Share]) -> Value {
    shares.iter().map(|share| json!({"key": share.key, "count": share.count})).collect()
}

/// Every figure of the report, the lists and the series.
pub fn report(report: &Report) -> Value {
    let mut out = Map::new();
    out.insert("from".into(), time(report.from.as_ref()));
    out.insert("to".into(), time(report.to.as_ref()));
    let counts = [
        ("conversations", report.conversations),
        ("escalated", report.escalated),
        ("closed", report.closed),
        ("contained", report.contained),
        ("containment_pending", report.containment_pending),
        ("reopened", report.reopened),
        ("sla_met", report.sla_met),
        ("sla_breached", report.sla_breached),
        ("csat_answers", report.csat_answers),
        ("nps_answers", report.nps_answers),
        ("surveys_sent", report.surveys_sent),
    ];
    for (name, value) in counts {
        out.insert(name.into(), json!(value));
    }
    let figures = [
        ("escalation_rate", report.escalation_rate),
        ("containment_rate", report.containment_rate),
        ("reopen_rate", report.reopen_rate),
        ("first_contact_resolution_rate", report.first_contact_resolution_rate),
        ("first_response_seconds_p50", report.first_response_seconds_p50),
        ("first_response_seconds_p90", report.first_response_seconds_p90),
        ("first_response_business_seconds_p50", report.first_response_business_seconds_p50),
        ("first_response_business_seconds_p90", report.first_response_business_seconds_p90),
        ("resolution_seconds_p50", report.resolution_seconds_p50),
        ("resolution_seconds_p90", report.resolution_seconds_p90),
        ("resolution_business_seconds_p50", report.resolution_business_seconds_p50),
        ("resolution_business_seconds_p90", report.resolution_business_seconds_p90),
        ("handle_seconds_p50", report.handle_seconds_p50),
        ("handle_seconds_p90", report.handle_seconds_p90),
        ("sla_attainment", report.sla_attainment),
        ("csat_bot", report.csat_bot),
        ("csat_human", report.csat_human),
        ("csat", report.csat),
        ("nps", report.nps),
        ("survey_response_rate", report.survey_response_rate),
    ];
    for (name, value) in figures {
        out.insert(name.into(), json!(value));
    }
    let lists = [
        ("handoff_reasons", &report.handoff_reasons),
        ("channels", &report.channels),
        ("languages", &report.languages),
        ("intents", &report.intents),
        ("queues", &report.queues),
        ("hours", &report.hours),
    ];
    for (name, list) in lists {
        out.insert(name.into(), shares(list));
    }
    let sla = report
        .sla
        .iter()
        .map(|f| json!({"queue": f.queue, "metric": f.metric, "met": f.met, "breached": f.breached}));
    out.insert("sla".into(), sla.collect());
    let satisfaction = report
        .satisfaction
        .iter()
        .map(|f| json!({"dimension": f.dimension, "key": f.key, "answers": f.answers, "csat": f.csat}));
    out.insert("satisfaction".into(), satisfaction.collect());
    let agents = report
        .agent_figures
        .iter()
        .map(|f| json!({"agent": f.agent, "closed": f.closed, "handle_seconds_p50": f.handle_seconds_p50}));
    out.insert("agent_figures".into(), agents.collect());
    out.insert("series".into(), report.series.iter().map(point).collect());
    Value::Object(out)
}

fn point(point: &Point) -> Value {
    json!({
        "start": time(point.start.as_ref()),
        "conversations": point.conversations,
        "escalated": point.escalated,
        "closed": point.closed,
        "contained": point.contained,
        "containment_pending": point.containment_pending,
        "containment_rate": point.containment_rate,
        "escalation_rate": point.escalation_rate,
        "csat": point.csat,
        "nps": point.nps,
        "sla_met": point.sla_met,
        "sla_breached": point.sla_breached,
        "sla_attainment": point.sla_attainment,
        "first_response_seconds_p50": point.first_response_seconds_p50,
        "resolution_seconds_p50": point.resolution_seconds_p50,
    })
}

pub fn trends(listed: &ListTrendsResponse) -> Value {
    let trends: Vec<Value> = listed
        .trends
        .iter()
        .map(|trend| {
            json!({
                "intent": trend.intent,
                "count": trend.count,
                "baseline": trend.baseline,
                "baseline_median": trend.baseline_median,
                "ratio": trend.ratio,
                "score": trend.score,
                "spike": trend.spike,
            })
        })
        .collect();
    json!({"from": time(listed.from.as_ref()), "to": time(listed.to.as_ref()), "trends": trends})
}

pub fn gap(gap: &ContentGap) -> Value {
    json!({
        "wording": gap.wording,
        "count": gap.count,
        "examples": gap.examples,
        "locales": gap.locales,
        "kinds": gap.kinds,
        "last_asked": time(gap.last_asked.as_ref()),
    })
}

/// An article's deflection, with its title (`null` when it could not be read).
pub fn deflection(article: &ArticleDeflection, title: Option<String>) -> Value {
    json!({
        "article_id": article.article_id,
        "title": title,
        "searches": article.searches,
        "deflected": article.deflected,
        "pending": article.pending,
        "deflection_rate": article.deflection_rate,
        "offered": article.offered,
        "helped": article.helped,
        "tickets_opened": article.tickets_opened,
    })
}

pub fn article(article: &Article) -> Value {
    json!({
        "article_id": article.article_id,
        "version": article.version,
        "title": article.title,
        "status": slug(article.status().as_str_name(), "ARTICLE_STATUS_"),
    })
}
