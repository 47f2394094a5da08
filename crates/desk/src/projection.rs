//! Folds each batch into the conversations it touches: their rows (and details) are loaded in
//! one statement, folded with [`conversation::apply`] and [`details::apply`], and stored in one
//! (see [`batch`]); the timeline's changes too. Customers, orders, approvals and macros, which
//! are rare, are written as their events come.

use std::collections::BTreeSet;

use sqlx::PgConnection;
use switchboard_projection::{Applied, Projection};
use switchboard_proto::{events::v1::event::Body, time::to_datetime};

use crate::{
    approvals,
    batch::{self, Key},
    conversation, details, macro_calls, records, timeline,
};

/// Aggregates whose events say something to the desk.
const AGGREGATES: [&str; 15] = [
    "conversation",
    "classification",
    "routing",
    "reply",
    "delivery",
    "agent-load",
    "claim",
    "conversation-lifecycle",
    "sla",
    "note",
    "customer",
    "order",
    "macro",
    "conversation-update",
    "return",
];

pub struct DeskProjection;

impl Projection for DeskProjection {
    fn name(&self) -> &'static str {
        "desk-projection"
    }

    fn schema(&self) -> &'static str {
        "desk"
    }

    fn subjects(&self) -> Vec<String> {
        AGGREGATES.iter().map(|aggregate| format!("switchboard.events.{aggregate}.>")).collect()
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "desk.conversations",
            "desk.entries",
            "desk.details",
            "desk.customers",
            "desk.orders",
            "desk.macros",
            "desk.approvals",
        ]
    }

    async fn apply(&self, tx: &mut PgConnection, events: &[Applied]) -> Result<(), sqlx::Error> {
        let mut changes = Vec::new();
        for applied in events {
            if let Some(change) = timeline::changes_of(&applied.event, applied.sequence) {
                changes.push((applied.event.tenant.clone(), change));
            }
            directory(tx, applied).await?;
        }
        batch::record(tx, &changes).await?;
        let keyed: Vec<(Key, &Applied)> = events.iter().filter_map(|a| Some((key_of(a)?, a))).collect();
        if keyed.is_empty() {
            return Ok(());
        }
        let keys: Vec<Key> =
            keyed.iter().map(|(key, _)| key.clone()).collect::<BTreeSet<_>>().into_iter().collect();
        let mut conversations = batch::load_conversations(tx, &keys).await?;
        let mut details = batch::load_details(tx, &keys).await?;
        for (key, applied) in keyed {
            let Some(body) = applied.event.body.as_ref() else { continue };
            let state = conversations.remove(&key);
            details::apply(details.entry(key.clone()).or_default(), body);
            if let Some(state) = conversation::apply(state, &applied.event, applied.sequence) {
                conversations.insert(key, state);
            }
        }
        batch::save_conversations(tx, &conversations.into_values().collect::<Vec<_>>()).await?;
        batch::save_details(tx, &details.into_iter().collect::<Vec<_>>()).await
    }
}

/// The conversation `applied` is about, if any.
fn key_of(applied: &Applied) -> Option<Key> {
    let id = conversation::conversation_of(applied.event.body.as_ref()?)?;
    Some((applied.event.tenant.clone(), id.to_string()))
}

/// Customers, orders and macros, as their last event says.
async fn directory(tx: &mut PgConnection, applied: &Applied) -> Result<(), sqlx::Error> {
    let (event, tenant) = (&applied.event, applied.event.tenant.as_str());
    let at = to_datetime(event.occurred_at.as_ref());
    match event.body.as_ref() {
        Some(Body::CustomerProfileUpdated(profile)) => records::put_customer(tx, tenant, profile).await,
        Some(Body::OrderUpdated(order)) => records::put_order(tx, tenant, order, at).await,
        Some(body @ (Body::ReturnOpened(_) | Body::ReturnApproved(_) | Body::ReturnRejected(_))) => {
            approvals::record(tx, tenant, body, at, applied.sequence).await
        }
        Some(body @ (Body::MacroSaved(_) | Body::MacroDeleted(_))) => match macro_calls::stored(body, at) {
            Some(stored) => records::put_macro(tx, tenant, &stored, applied.sequence).await,
            None => Ok(()),
        },
        _ => Ok(()),
    }
}
