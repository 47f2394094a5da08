//! Folds each batch into the conversations it touches: each row (and its details) is loaded
//! once, folded with [`conversation::apply`] and [`details::apply`], and stored once. Timeline
//! entries, customers, orders and macros are written as their events come.

use std::collections::BTreeMap;

use sqlx::PgConnection;
use switchboard_projection::{Applied, Projection};
use switchboard_proto::{events::v1::event::Body, time::to_datetime};

use crate::{
    approvals,
    conversation::{self, Conversation},
    details::{self, Details},
    macro_calls, records, store, timeline,
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

type Key = (String, String);

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
        let mut touched: BTreeMap<Key, Option<Conversation>> = BTreeMap::new();
        let mut touched_details: BTreeMap<Key, Details> = BTreeMap::new();
        for applied in events {
            let (event, tenant) = (&applied.event, applied.event.tenant.as_str());
            let Some(body) = event.body.as_ref() else { continue };
            if let Some(change) = timeline::changes_of(event, applied.sequence) {
                records::record(tx, tenant, &change).await?;
            }
            directory(tx, applied).await?;
            let Some(id) = conversation::conversation_of(body) else { continue };
            let key = (tenant.to_string(), id.to_string());
            let state = match touched.remove(&key) {
                Some(state) => state,
                None => store::load(tx, &key.0, &key.1).await?,
            };
            touched.insert(key.clone(), conversation::apply(state, event, applied.sequence));
            let mut folded = match touched_details.remove(&key) {
                Some(folded) => folded,
                None => records::load_details(tx, &key.0, &key.1).await?.unwrap_or_default(),
            };
            details::apply(&mut folded, body);
            touched_details.insert(key, folded);
        }
        for conversation in touched.into_values().flatten() {
            store::save(tx, &conversation).await?;
        }
        for ((tenant, id), folded) in touched_details {
            records::save_details(tx, &tenant, &id, &folded).await?;
        }
        Ok(())
    }
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
