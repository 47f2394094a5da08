//! Counters, summed per batch in memory and written with one statement per batch; and the
//! knowledge queries with their deflection outcomes, for content gaps. Every row is the event's
//! tenant's: counters are summed per tenant, and no tenant's events touch another's rows. Each
//! event counts once by its id (`analytics.counted_events`), however often the stream holds it;
//! the new events of conversations are folded into their facts ([`crate::conversations`]).

use std::{
    collections::{BTreeMap, HashSet},
    sync::atomic::{AtomicBool, Ordering},
};

use sqlx::PgConnection;
use switchboard_projection::{Applied, Projection};
use switchboard_proto::{
    events::v1::{Channel, DeflectionResult, RouteAction, event::Body},
    time::to_datetime,
};

use crate::{conversations, facts, knowledge};

/// Every metric this projection counts.
pub const METRICS: &[&str] = &[
    "messages",
    "classifications",
    "escalations",
    "queued",
    "automated_replies",
    "knowledge_queries",
    "unanswered_queries",
    "deflections_helped",
    "deflections_ticket_opened",
    "conversations_closed",
    "conversations_reopened",
    "surveys_sent",
    "surveys_answered",
    "surveys_satisfied",
    "nps_promoters",
    "nps_detractors",
    "survey_score_total",
];

#[derive(Default)]
pub struct AnalyticsProjection {
    /// Set once the rollups are known to hold every conversation's facts.
    rollups_filled: AtomicBool,
}

/// A counter of one tenant: (metric, channel, intent).
type Key = (&'static str, &'static str, String);

impl Projection for AnalyticsProjection {
    fn name(&self) -> &'static str {
        "analytics-projection"
    }

    fn schema(&self) -> &'static str {
        "analytics"
    }

    fn subjects(&self) -> Vec<String> {
        vec!["switchboard.events.>".into()]
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "analytics.counts",
            "analytics.knowledge_queries",
            "analytics.counted_events",
            "analytics.conversations",
            "analytics.rollups",
        ]
    }

    async fn apply(&self, tx: &mut PgConnection, events: &[Applied]) -> Result<(), sqlx::Error> {
        self.fill_rollups(tx).await?;
        // What each event would change, worked out once; those that change nothing are left out.
        let effects: Vec<(&Applied, Vec<(Key, i64)>)> = events
            .iter()
            .map(|applied| (applied, increments_of(applied.event.body.as_ref())))
            .filter(|(applied, increments)| {
                !increments.is_empty() || records(applied.event.body.as_ref()) || folds(&applied.event)
            })
            .collect();
        let mut new = first_seen(tx, effects.iter().map(|(applied, _)| *applied)).await?;
        let mut increments: BTreeMap<(String, Key), i64> = BTreeMap::new();
        let (mut fresh, mut asked, mut outcomes) = (Vec::new(), Vec::new(), Vec::new());
        // Taken out as counted: a copy later in the same batch is not new.
        for (applied, adds) in effects.into_iter().filter(|(applied, _)| new.remove(&applied.event.id)) {
            fresh.push(&applied.event);
            let tenant = applied.event.tenant.as_str();
            for (key, by) in adds {
                *increments.entry((tenant.to_string(), key)).or_default() += by;
            }
            let at = to_datetime(applied.event.occurred_at.as_ref());
            match &applied.event.body {
                Some(Body::KnowledgeQueried(queried)) => asked.push(knowledge::asked(tenant, queried, at)),
                Some(Body::DeflectionRecorded(recorded)) => outcomes.push((tenant, recorded)),
                Some(Body::MessageRouted(routed)) => asked.extend(knowledge::gap(tenant, routed, at)),
                _ => {}
            }
        }
        // A deflection's outcome follows its query on the stream: the queries are kept first.
        knowledge::keep(tx, &asked).await?;
        for (tenant, recorded) in outcomes {
            knowledge::record_outcome(tx, tenant, recorded).await?;
        }
        conversations::apply(tx, fresh.into_iter()).await?;
        if increments.is_empty() {
            return Ok(());
        }
        let mut tenants = Vec::with_capacity(increments.len());
        let mut metrics = Vec::with_capacity(increments.len());
        let mut channels = Vec::with_capacity(increments.len());
        let mut intents = Vec::with_capacity(increments.len());
        let mut values = Vec::with_capacity(increments.len());
        for ((tenant, (metric, channel, intent)), value) in increments {
            tenants.push(tenant);
            metrics.push(metric);
            channels.push(channel);
            intents.push(intent);
            values.push(value);
        }
        sqlx::query(
            "INSERT INTO analytics.counts (tenant, metric, channel, intent, value)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[])
             ON CONFLICT (tenant, metric, channel, intent) DO UPDATE
             SET value = analytics.counts.value + EXCLUDED.value",
        )
        .bind(tenants)
        .bind(metrics)
        .bind(channels)
        .bind(intents)
        .bind(values)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
}

impl AnalyticsProjection {
    /// The first batch after the upgrade that added the rollups fills them from the facts, as
    /// the one writer the fence lets through. Until a batch finds them filled (the one that
    /// filled them may still be rolled back), each batch checks.
    async fn fill_rollups(&self, tx: &mut PgConnection) -> Result<(), sqlx::Error> {
        if self.rollups_filled.load(Ordering::Relaxed) {
            return Ok(());
        }
        match crate::rolled::fill(tx, false).await? {
            Some(read) => tracing::info!(conversations = read, "rollups filled from the conversation facts"),
            None => self.rollups_filled.store(true, Ordering::Relaxed),
        }
        Ok(())
    }
}

/// The ids of `events` not counted before, now recorded as counted.
async fn first_seen(
    tx: &mut PgConnection,
    events: impl Iterator<Item = &Applied>,
) -> Result<HashSet<String>, sqlx::Error> {
    let (tenants, ids): (Vec<&str>, Vec<&str>) =
        events.map(|applied| (applied.event.tenant.as_str(), applied.event.id.as_str())).unzip();
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    sqlx::query_scalar(
        "INSERT INTO analytics.counted_events (tenant, event_id)
         SELECT * FROM UNNEST($1::text[], $2::text[])
         ON CONFLICT DO NOTHING RETURNING event_id",
    )
    .bind(tenants)
    .bind(ids)
    .fetch_all(&mut *tx)
    .await
    .map(|ids: Vec<String>| ids.into_iter().collect())
}

/// Whether an event tells something about a conversation's facts.
fn folds(event: &switchboard_proto::events::v1::Event) -> bool {
    facts::conversation_of(event).is_some()
}

/// Whether an event is recorded beyond the counters (knowledge queries and their outcomes).
fn records(body: Option<&Body>) -> bool {
    matches!(body, Some(Body::KnowledgeQueried(_) | Body::DeflectionRecorded(_)))
}

/// What an event adds to its tenant's counters: one to each it counts, and a survey's score to
/// the score total.
fn increments_of(body: Option<&Body>) -> Vec<(Key, i64)> {
    let mut increments: Vec<(Key, i64)> = counted(body).into_iter().map(|key| (key, 1)).collect();
    if let Some(Body::SurveyAnswered(answered)) = body {
        let channel = Channel::try_from(answered.channel).unwrap_or(Channel::Unspecified).slug();
        let key = ("survey_score_total", channel, answered.handled_by.clone());
        increments.push((key, i64::from(answered.score)));
    }
    increments
}

/// The counters an event adds one to.
fn counted(body: Option<&Body>) -> Vec<Key> {
    let slug = |channel: i32| Channel::try_from(channel).unwrap_or(Channel::Unspecified).slug();
    let Some(body) = body else { return Vec::new() };
    match body {
        Body::MessageReceived(m) => vec![("messages", slug(m.channel), String::new())],
        Body::MessageClassified(c) => vec![("classifications", slug(c.channel), c.intent.clone())],
        Body::MessageRouted(r) => {
            let metric = match r.action() {
                RouteAction::Escalate => "escalations",
                RouteAction::Queue => "queued",
                RouteAction::AutoReply => "automated_replies",
                RouteAction::Unspecified => return Vec::new(),
            };
            vec![(metric, slug(r.channel), r.intent.clone())]
        }
        Body::KnowledgeQueried(q) => {
            let kind = knowledge::kind_slug(q.kind()).to_string();
            let mut keys = vec![("knowledge_queries", "", kind.clone())];
            if !q.answered {
                keys.push(("unanswered_queries", "", kind));
            }
            keys
        }
        // Closings and surveys count by who handled the conversation (`bot` or `human`) in the
        // intent column: containment and bot CSAT against human CSAT.
        Body::ConversationClosed(c) => vec![("conversations_closed", slug(c.channel), c.handled_by.clone())],
        // Reopenings count by who had handled the closing they undid (`bot` or `human`): a bot's
        // closing reopened was not contained.
        Body::ConversationReopened(r) => {
            vec![("conversations_reopened", slug(r.channel), r.handled_by.clone())]
        }
        Body::SurveySent(s) => vec![("surveys_sent", slug(s.channel), s.handled_by.clone())],
        Body::SurveyAnswered(a) => {
            let mut keys = vec![("surveys_answered", slug(a.channel), a.handled_by.clone())];
            let extra = match (a.kind.as_str(), a.score) {
                ("nps", 9..) => Some("nps_promoters"),
                ("nps", ..=6) => Some("nps_detractors"),
                ("nps", _) => None,
                (_, 4..) => Some("surveys_satisfied"),
                _ => None,
            };
            keys.extend(extra.map(|metric| (metric, slug(a.channel), a.handled_by.clone())));
            keys
        }
        Body::DeflectionRecorded(d) => match d.result() {
            DeflectionResult::Helped => vec![("deflections_helped", "", String::new())],
            DeflectionResult::TicketOpened => vec![("deflections_ticket_opened", "", String::new())],
            DeflectionResult::Unspecified => Vec::new(),
        },
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_proto::events::v1::{MessageReceived, MessageRouted, SurveyAnswered};

    #[test]
    fn counts_messages_by_channel_and_decisions_by_intent() {
        let received =
            Body::MessageReceived(MessageReceived { channel: Channel::Email.into(), ..Default::default() });
        assert_eq!(counted(Some(&received)), [("messages", "email", String::new())]);
        let routed = Body::MessageRouted(MessageRouted {
            channel: Channel::Web.into(),
            action: RouteAction::Escalate.into(),
            intent: "human_agent".into(),
            ..Default::default()
        });
        assert_eq!(counted(Some(&routed)), [("escalations", "web", "human_agent".into())]);
    }

    #[test]
    fn a_survey_answer_adds_its_score_to_the_total() {
        let answered = Body::SurveyAnswered(SurveyAnswered {
            channel: Channel::Web.into(),
            kind: "csat".into(),
            score: 4,
            handled_by: "bot".into(),
            ..Default::default()
        });
        let increments = increments_of(Some(&answered));
        assert!(increments.contains(&(("surveys_satisfied", "web", "bot".into()), 1)));
        assert!(increments.contains(&(("survey_score_total", "web", "bot".into()), 4)));
    }
}
