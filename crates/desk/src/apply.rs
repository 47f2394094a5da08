//! `ApplyMacro`: the macro rendered in the conversation's language with what the desk knows
//! (the customer's name, the order in question, the agent, an article's link), sent as the
//! agent's reply, then its actions applied (tags and priority; status; queue).

use std::collections::BTreeMap;

use sqlx::PgPool;
use switchboard_auth::Caller;
use switchboard_bus::{Bus, Draft};
use switchboard_proto::{
    desk::v1::{ApplyMacroRequest, ApplyMacroResponse},
    events::v1::{ConversationUpdated, event::Body},
};

use crate::{
    Error,
    conversation::Conversation,
    listing::wire_status,
    macros::{locale_for, render},
    records::{self, StoredMacro},
    timeline::Kind,
    work,
};

/// The values of a macro's placeholders in conversation `c`.
async fn values_for(
    pool: &PgPool,
    caller: &Caller,
    c: &Conversation,
    article_link: String,
) -> Result<BTreeMap<&'static str, String>, Error> {
    let profile = records::customer(pool, &caller.tenant, &c.customer_id).await?.unwrap_or_default();
    let name =
        ["name", "full_name", "first_name"].iter().find_map(|key| profile.attributes.get(*key).cloned());
    let entries = records::entries(pool, &caller.tenant, &c.conversation_id, 200).await?;
    let said_order = entries
        .iter()
        .rev()
        .filter(|e| e.kind == Kind::Customer)
        .filter_map(|e| e.classification.as_ref())
        .find_map(order_number_in);
    let order = match said_order {
        Some(order) => Some(order),
        None => records::orders(pool, &caller.tenant, &c.customer_id)
            .await?
            .into_iter()
            .next()
            .map(|(o, _)| o.order_id),
    };
    Ok(BTreeMap::from([
        ("customer_name", name.unwrap_or_default()),
        ("order_id", order.unwrap_or_default()),
        ("agent_name", caller.subject.clone()),
        ("article_link", article_link),
    ]))
}

/// The order number the customer gave in a classified message, if any.
fn order_number_in(classification: &serde_json::Value) -> Option<String> {
    classification.get("entities")?.as_array()?.iter().find_map(|entity| {
        (entity.get("kind")?.as_str()? == "order_number").then(|| {
            let value = entity.get("value").and_then(|v| v.as_str()).unwrap_or_default();
            let text = entity.get("text").and_then(|v| v.as_str()).unwrap_or_default();
            if value.is_empty() { text.to_string() } else { value.to_string() }
        })
    })
}

/// The text `stored` says in `c`'s language, filled in, and its locale.
pub fn rendered(
    stored: &StoredMacro,
    c: &Conversation,
    values: &BTreeMap<&str, String>,
) -> Result<(String, String), Error> {
    let texts: BTreeMap<String, String> = stored.body.texts.clone().into_iter().collect();
    let locale = locale_for(&texts, &stored.body.default_locale, &c.language).to_string();
    let text = texts.get(&locale).ok_or_else(|| Error::MacroNotFound(stored.body.macro_id.clone()))?;
    Ok((render(text, values)?, locale))
}

/// Renders and sends the macro, then applies its tags and priority. The queue and status
/// actions are the caller's to apply (they go through `Transfer` and `SetStatus`).
pub async fn apply(
    bus: &Bus,
    pool: &PgPool,
    caller: &Caller,
    request: &ApplyMacroRequest,
    article_link: String,
) -> Result<(ApplyMacroResponse, StoredMacro, Conversation), Error> {
    let c = work::conversation(pool, &caller.tenant, &request.conversation_id).await?;
    work::may_work(caller, &c)?;
    let stored = records::macro_by_id(pool, &caller.tenant, &request.macro_id)
        .await?
        .ok_or_else(|| Error::MacroNotFound(request.macro_id.clone()))?;
    let values = values_for(pool, caller, &c, article_link).await?;
    let (text, locale) = rendered(&stored, &c, &values)?;
    let articles: Vec<String> =
        Some(request.article_id.clone()).filter(|id| !id.is_empty()).into_iter().collect();
    let key = match request.idempotency_key.as_str() {
        "" => String::new(),
        key => format!("macro/{}/{key}", stored.body.macro_id),
    };
    let sent = work::reply(bus, caller, &c, &text, &articles, &key).await?;
    let mut sequence = sent.sequence;
    if !stored.body.add_tags.is_empty() || stored.body.priority != 0 {
        let body = Body::ConversationUpdated(ConversationUpdated {
            conversation_id: c.conversation_id.clone(),
            add_tags: stored.body.add_tags.clone(),
            priority: stored.body.priority,
            author: format!("agent:{}", caller.subject),
        });
        sequence =
            bus.publish(&Draft::new(&caller.tenant, &c.conversation_id, body).build()?).await?.sequence;
    }
    let response = ApplyMacroResponse {
        text,
        locale,
        reply_id: sent.id,
        status: wire_status(c.status()).into(),
        sequence,
    };
    Ok((response, stored, c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_order_the_customer_named_is_found_in_the_classification() {
        let classification = serde_json::json!({"entities": [
            {"kind": "email", "text": "a@b.example", "value": ""},
            {"kind": "order_number", "text": "#12345", "value": "12345"}
        ]});
        assert_eq!(order_number_in(&classification).as_deref(), Some("12345"));
        assert_eq!(order_number_in(&serde_json::json!({"entities": []})), None);
    }
}
