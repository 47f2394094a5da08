//! Counters, summed per batch in memory and written with one statement per batch.

use std::collections::BTreeMap;

use sqlx::PgConnection;
use switchboard_projection::{Applied, Projection};
use switchboard_proto::events::v1::{Channel, RouteAction, event::Body};

/// Every metric this projection counts.
pub const METRICS: &[&str] = &["messages", "classifications", "escalations", "queued", "automated_replies"];

pub struct AnalyticsProjection;

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
        &["analytics.counts"]
    }

    async fn apply(&self, tx: &mut PgConnection, events: &[Applied]) -> Result<(), sqlx::Error> {
        let mut increments: BTreeMap<Key, i64> = BTreeMap::new();
        for applied in events {
            if let Some(key) = counted(applied.event.body.as_ref()) {
                *increments.entry(key).or_default() += 1;
            }
        }
        if increments.is_empty() {
            return Ok(());
        }
        let mut metrics = Vec::with_capacity(increments.len());
        let mut channels = Vec::with_capacity(increments.len());
        let mut intents = Vec::with_capacity(increments.len());
        let mut values = Vec::with_capacity(increments.len());
        for ((metric, channel, intent), value) in increments {
            metrics.push(metric);
            channels.push(channel);
            intents.push(intent);
            values.push(value);
        }
        sqlx::query(
            "INSERT INTO analytics.counts (metric, channel, intent, value)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[])
             ON CONFLICT (metric, channel, intent) DO UPDATE
             SET value = analytics.counts.value + EXCLUDED.value",
        )
        .bind(metrics)
        .bind(channels)
        .bind(intents)
        .bind(values)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
}

/// The counter an event adds one to, if any.
fn counted(body: Option<&Body>) -> Option<Key> {
    let slug = |channel: i32| Channel::try_from(channel).unwrap_or(Channel::Unspecified).slug();
    match body? {
        Body::MessageReceived(m) => Some(("messages", slug(m.channel), String::new())),
        Body::MessageClassified(c) => Some(("classifications", slug(c.channel), c.intent.clone())),
        Body::MessageRouted(r) => {
            let metric = match r.action() {
                RouteAction::Escalate => "escalations",
                RouteAction::Queue => "queued",
                RouteAction::AutoReply => "automated_replies",
                RouteAction::Unspecified => return None,
            };
            Some((metric, slug(r.channel), r.intent.clone()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_proto::events::v1::{MessageReceived, MessageRouted};

    #[test]
    fn counts_messages_by_channel_and_decisions_by_intent() {
        let received =
            Body::MessageReceived(MessageReceived { channel: Channel::Email.into(), ..Default::default() });
        assert_eq!(counted(Some(&received)), Some(("messages", "email", String::new())));
        let routed = Body::MessageRouted(MessageRouted {
            channel: Channel::Web.into(),
            action: RouteAction::Escalate.into(),
            intent: "human_agent".into(),
            ..Default::default()
        });
        assert_eq!(counted(Some(&routed)), Some(("escalations", "web", "human_agent".into())));
    }
}
