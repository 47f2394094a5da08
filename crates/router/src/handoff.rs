//! The packet a human gets with a conversation: why automation let go, a short summary in the
//! customer's words, intent, entities, the sentiment trend, what automation tried and the
//! articles it used.

use sqlx::{PgPool, Row as _};
use switchboard_proto::events::v1::{Entity, HandoffPacket, MessageClassified, MessageRouted, RouteAction};

use crate::rules::{Action, Decision, HandoffReason};

/// Characters of a message quoted in the summary at most.
const QUOTE_CHARS: usize = 160;

/// A customer message of the conversation, as the router saw it classified.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Turn {
    pub text: String,
    pub sentiment_score: f32,
    pub entities: Vec<Entity>,
}

/// What automation did with an earlier message.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub rule_action: String,
    pub answered: bool,
    pub article_ids: Vec<String>,
}

/// `tenant`'s conversation before `message_id`: its turns and automation's attempts, oldest first.
pub async fn history(
    pool: &PgPool,
    tenant: &str,
    conversation_id: &str,
    message_id: &str,
) -> Result<(Vec<Turn>, Vec<Attempt>), sqlx::Error> {
    let turns = sqlx::query(
        "SELECT text, sentiment_score, entities FROM router.turns
         WHERE tenant = $1 AND conversation_id = $2 AND message_id <> $3 ORDER BY at, message_id",
    )
    .bind(tenant)
    .bind(conversation_id)
    .bind(message_id)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|row| Turn { text: row.get(0), sentiment_score: row.get(1), entities: entities(row.get(2)) })
    .collect();
    let attempts = sqlx::query(
        "SELECT rule_action, action, article_ids FROM router.decisions
         WHERE tenant = $1 AND conversation_id = $2 AND message_id <> $3 AND rule_action = 'answer'
         ORDER BY at, message_id",
    )
    .bind(tenant)
    .bind(conversation_id)
    .bind(message_id)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|row| Attempt {
        rule_action: row.get(0),
        answered: row.get::<i32, _>(1) == RouteAction::AutoReply as i32,
        article_ids: row.get(2),
    })
    .collect();
    Ok((turns, attempts))
}

fn entities(value: serde_json::Value) -> Vec<Entity> {
    let serde_json::Value::Array(items) = value else { return Vec::new() };
    let text = |item: &serde_json::Value, key: &str| {
        item.get(key).and_then(|v| v.as_str()).unwrap_or_default().to_string()
    };
    items
        .iter()
        .map(|item| Entity {
            kind: text(item, "kind"),
            text: text(item, "text"),
            value: text(item, "value"),
            ..Entity::default()
        })
        .collect()
}

/// Why a human takes over: the rule's stated reason, else what the facts show.
pub fn reason(decision: &Decision<'_>, classified: &MessageClassified, answer_failed: bool) -> HandoffReason {
    if let Some(reason) = decision.rule.then.handoff {
        return reason;
    }
    if answer_failed {
        return HandoffReason::MissingKnowledge;
    }
    if decision.inputs.contains_key("sentiment") || decision.inputs.contains_key("sentiment_score") {
        return HandoffReason::NegativeSentiment;
    }
    if classified.out_of_scope || decision.rule.then.action == Some(Action::Answer) {
        return HandoffReason::LowConfidence;
    }
    HandoffReason::Policy
}

/// The packet for `routed` (this message) given the conversation before it.
pub fn packet(
    reason: HandoffReason,
    classified: &MessageClassified,
    routed: &MessageRouted,
    earlier: &[Turn],
    attempts: &[Attempt],
) -> HandoffPacket {
    let current = Turn {
        text: classified.text.clone(),
        sentiment_score: classified.feeling.as_ref().map_or(0.0, |f| f.sentiment_score),
        entities: classified.entities.clone(),
    };
    let turns: Vec<&Turn> = earlier.iter().chain(std::iter::once(&current)).collect();
    let mut entities: Vec<Entity> = Vec::new();
    for entity in turns.iter().flat_map(|turn| &turn.entities) {
        if !entities.iter().any(|e| e.kind == entity.kind && e.value == entity.value) {
            entities.push(entity.clone());
        }
    }
    let mut tried: Vec<String> = attempts.iter().map(describe).collect();
    if routed.rule_action == "answer" && routed.action() != RouteAction::AutoReply {
        tried.push("no confident answer in the knowledge base".into());
    }
    let mut article_ids: Vec<String> = Vec::new();
    for id in attempts.iter().flat_map(|a| &a.article_ids).chain(&routed.article_ids) {
        if !article_ids.contains(id) {
            article_ids.push(id.clone());
        }
    }
    let trend: Vec<f32> = turns.iter().map(|turn| turn.sentiment_score).collect();
    HandoffPacket {
        reason: reason.name().to_string(),
        summary: summary(&turns, &classified.intent, &trend, &tried),
        intent: classified.intent.clone(),
        entities,
        sentiment_trend: trend,
        bot_attempts: tried,
        article_ids,
        customer_messages: u32::try_from(turns.len()).unwrap_or(u32::MAX),
        question: classified.text.clone(),
    }
}

fn describe(attempt: &Attempt) -> String {
    match (attempt.answered, attempt.article_ids.first()) {
        (true, Some(article)) => format!("answered from article {article}"),
        (true, None) => "answered".into(),
        (false, _) => "no confident answer in the knowledge base".into(),
    }
}

/// A few lines in the customer's words.
fn summary(turns: &[&Turn], intent: &str, trend: &[f32], tried: &[String]) -> String {
    let quote = |text: &str| {
        let cut: String = text.chars().take(QUOTE_CHARS).collect();
        if cut.len() < text.len() { format!("\"{}…\"", cut.trim()) } else { format!("\"{}\"", cut.trim()) }
    };
    let mood = match (trend.first(), trend.last()) {
        (Some(first), Some(last)) if trend.len() > 1 && last - first <= -0.3 => "getting more negative",
        (Some(first), Some(last)) if trend.len() > 1 && last - first >= 0.3 => "getting more positive",
        (_, Some(last)) if *last <= -0.5 => "negative",
        _ => "steady",
    };
    let mut lines = vec![format!("{} customer message(s) about {intent}; sentiment {mood}.", turns.len())];
    if let Some(first) = turns.first() {
        lines.push(format!("First: {}", quote(&first.text)));
    }
    if turns.len() > 1
        && let Some(last) = turns.last()
    {
        lines.push(format!("Latest: {}", quote(&last.text)));
    }
    lines.push(if tried.is_empty() {
        "Automation: nothing tried.".into()
    } else {
        format!("Automation: {}.", tried.join("; "))
    });
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(text: &str, score: f32) -> Turn {
        Turn { text: text.into(), sentiment_score: score, entities: vec![] }
    }

    #[test]
    fn the_summary_quotes_the_customer_and_tells_the_trend() {
        let earlier = [turn("Where is my order 12345?", 0.0)];
        let classified = MessageClassified {
            text: "This is useless, I want a person".into(),
            intent: "human_agent".into(),
            entities: vec![Entity {
                kind: "order_number".into(),
                value: "12345".into(),
                ..Entity::default()
            }],
            feeling: Some(switchboard_proto::events::v1::Feeling {
                sentiment_score: -0.6,
                ..Default::default()
            }),
            ..MessageClassified::default()
        };
        let routed = MessageRouted {
            action: RouteAction::Escalate.into(),
            rule_action: "escalate".into(),
            ..MessageRouted::default()
        };
        let attempts = [Attempt {
            rule_action: "answer".into(),
            answered: true,
            article_ids: vec!["track-your-order".into()],
        }];
        let packet = packet(HandoffReason::CustomerAsked, &classified, &routed, &earlier, &attempts);
        assert_eq!(packet.reason, "customer_asked");
        assert_eq!(packet.sentiment_trend, [0.0, -0.6]);
        assert_eq!(packet.customer_messages, 2);
        assert_eq!(packet.article_ids, ["track-your-order"]);
        assert_eq!(packet.bot_attempts, ["answered from article track-your-order"]);
        assert!(packet.summary.contains("sentiment getting more negative"), "{}", packet.summary);
        assert!(packet.summary.contains("First: \"Where is my order 12345?\""), "{}", packet.summary);
        assert!(
            packet.summary.contains("Latest: \"This is useless, I want a person\""),
            "{}",
            packet.summary
        );
        assert_eq!(packet.entities.len(), 1);
    }
}
