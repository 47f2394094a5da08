//! Conversations: a row of the inbox, the whole view of one, and a live change.

use serde_json::{Value, json};
use switchboard_proto::{
    desk::v1::{
        Classification, Conversation, ConversationView, CustomerCard, Entry, InboxChange, RoutingDecision,
        SlaTimer, SuggestedArticle,
    },
    events::v1::{Entity, HandoffPacket},
};

use super::{desk_macro, sequence, slug, time};

/// An inbox row.
pub fn conversation(row: &Conversation) -> Value {
    json!({
        "conversation_id": row.conversation_id,
        "customer_id": row.customer_id,
        "channel": row.channel().slug(),
        "status": slug(row.status().as_str_name(), "CONVERSATION_STATUS_"),
        "queue": row.queue,
        "priority": slug(row.priority().as_str_name(), "PRIORITY_"),
        "assignee": row.assignee,
        "preview": row.preview,
        "sla_due_at": time(row.sla_due_at.as_ref()),
        "sla_breached": row.sla_breached,
        "handoff_reason": row.handoff_reason,
        "language": row.language,
        "created_at": time(row.created_at.as_ref()),
        "updated_at": time(row.updated_at.as_ref()),
        "sequence": sequence(row.sequence),
    })
}

/// One conversation as a person works it.
pub fn view(view: &ConversationView) -> Value {
    json!({
        "conversation": view.conversation.as_ref().map(conversation),
        "entries": view.entries.iter().map(entry).collect::<Vec<_>>(),
        "routing": view.routing.as_ref().map(routing),
        "handoff": view.handoff.as_ref().map(handoff),
        "customer": view.customer.as_ref().map(customer),
        "sla_timers": view.sla_timers.iter().map(sla_timer).collect::<Vec<_>>(),
        "suggestions": view.suggestions.iter().map(suggestion).collect::<Vec<_>>(),
        "macros": view.macros.iter().map(desk_macro).collect::<Vec<_>>(),
        "tags": view.tags,
    })
}

/// A change to the caller's views, as the live stream carries it.
pub fn change(change: &InboxChange) -> Value {
    json!({
        "kind": slug(change.kind().as_str_name(), "CHANGE_KIND_"),
        "conversation": change.conversation.as_ref().map(conversation),
        "sequence": sequence(change.sequence),
    })
}

fn entry(entry: &Entry) -> Value {
    json!({
        "kind": slug(entry.kind().as_str_name(), "ENTRY_KIND_"),
        "id": entry.id,
        "author": entry.author,
        "text": entry.text,
        "at": time(entry.at.as_ref()),
        "classification": entry.classification.as_ref().map(classification),
        "article_ids": entry.article_ids,
        "delivery": entry.delivery,
        "event": entry.event,
    })
}

fn classification(found: &Classification) -> Value {
    json!({
        "intent": found.intent,
        "confidence": found.confidence,
        "language": found.language,
        "sentiment": found.sentiment,
        "sentiment_score": found.sentiment_score,
        "urgency": found.urgency,
        "entities": found.entities.iter().map(entity).collect::<Vec<_>>(),
    })
}

fn entity(entity: &Entity) -> Value {
    json!({"kind": entity.kind, "text": entity.text, "value": entity.value})
}

fn routing(decision: &RoutingDecision) -> Value {
    json!({
        "rule": decision.rule,
        "action": slug(decision.action().as_str_name(), "ROUTE_ACTION_"),
        "queue": decision.queue,
        "priority": slug(decision.priority().as_str_name(), "PRIORITY_"),
        "reason": decision.reason,
        "tags": decision.tags,
        "skills": decision.skills,
    })
}

fn handoff(packet: &HandoffPacket) -> Value {
    json!({
        "reason": packet.reason,
        "summary": packet.summary,
        "intent": packet.intent,
        "entities": packet.entities.iter().map(entity).collect::<Vec<_>>(),
        "sentiment_trend": packet.sentiment_trend,
        "bot_attempts": packet.bot_attempts,
        "article_ids": packet.article_ids,
        "customer_messages": packet.customer_messages,
    })
}

fn customer(card: &CustomerCard) -> Value {
    let orders: Vec<Value> = card
        .orders
        .iter()
        .map(|order| {
            json!({
                "order_id": order.order_id,
                "status": order.status,
                "carrier": order.carrier,
                "tracking_number": order.tracking_number,
                "updated_at": time(order.updated_at.as_ref()),
            })
        })
        .collect();
    let earlier: Vec<Value> = card
        .earlier
        .iter()
        .map(|earlier| {
            json!({
                "conversation_id": earlier.conversation_id,
                "created_at": time(earlier.created_at.as_ref()),
                "status": slug(earlier.status().as_str_name(), "CONVERSATION_STATUS_"),
                "handled_by": earlier.handled_by,
                "close_reason": earlier.close_reason,
                "preview": earlier.preview,
            })
        })
        .collect();
    json!({
        "customer_id": card.customer_id,
        "name": card.name,
        "email": card.email,
        "tier": card.tier,
        "plan": card.plan,
        "country": card.country,
        "attributes": card.attributes,
        "verified": card.verified,
        "orders": orders,
        "earlier": earlier,
    })
}

fn sla_timer(timer: &SlaTimer) -> Value {
    json!({
        "metric": timer.metric,
        "policy": timer.policy,
        "due_at": time(timer.due_at.as_ref()),
        "paused": timer.paused,
        "breached": timer.breached,
        "met": timer.met,
    })
}

fn suggestion(article: &SuggestedArticle) -> Value {
    json!({
        "article_id": article.article_id,
        "title": article.title,
        "passage": article.passage,
        "url": article.url,
        "score": article.score,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_proto::desk::v1::{ChangeKind, ConversationStatus, EntryKind};
    use switchboard_proto::events::v1::{Channel, Priority};

    fn row() -> Conversation {
        Conversation {
            conversation_id: "c-1".into(),
            channel: Channel::Web.into(),
            status: ConversationStatus::Escalated.into(),
            priority: Priority::High.into(),
            sequence: 42,
            ..Default::default()
        }
    }

    #[test]
    fn a_row_names_its_enums_and_carries_its_sequence_as_a_string() {
        let shown = conversation(&row());
        assert_eq!(
            (&shown["channel"], &shown["status"], &shown["priority"]),
            (&json!("web"), &json!("escalated"), &json!("high"))
        );
        assert_eq!((&shown["sequence"], &shown["sla_due_at"]), (&json!("42"), &Value::Null));
    }

    #[test]
    fn a_view_marks_notes_and_keeps_what_is_unset_null() {
        let note = Entry { kind: EntryKind::Note.into(), text: "call back".into(), ..Default::default() };
        let shown =
            view(&ConversationView { conversation: Some(row()), entries: vec![note], ..Default::default() });
        assert_eq!(shown["entries"][0]["kind"], json!("note"));
        assert_eq!((&shown["handoff"], &shown["customer"]), (&Value::Null, &Value::Null));
        let changed = change(&InboxChange {
            kind: ChangeKind::CustomerReplied.into(),
            conversation: Some(row()),
            sequence: 7,
        });
        assert_eq!((&changed["kind"], &changed["sequence"]), (&json!("customer_replied"), &json!("7")));
    }
}
