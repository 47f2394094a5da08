//! Folds each batch into the conversations it touches: each is loaded once, folded with
//! [`conversation::apply`], and stored once.

use std::collections::BTreeMap;

use sqlx::PgConnection;
use switchboard_projection::{Applied, Projection};

use crate::{
    conversation::{self, Conversation},
    store,
};

/// Aggregates whose events say something about a conversation on the desk.
const AGGREGATES: [&str; 7] =
    ["conversation", "routing", "reply", "agent-load", "claim", "conversation-lifecycle", "sla"];

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
        &["desk.conversations"]
    }

    async fn apply(&self, tx: &mut PgConnection, events: &[Applied]) -> Result<(), sqlx::Error> {
        let mut touched: BTreeMap<(String, String), Option<Conversation>> = BTreeMap::new();
        for applied in events {
            let Some(id) = applied.event.body.as_ref().and_then(conversation::conversation_of) else {
                continue;
            };
            let key = (applied.event.tenant.clone(), id.to_string());
            let state = match touched.remove(&key) {
                Some(state) => state,
                None => store::load(tx, &key.0, &key.1).await?,
            };
            touched.insert(key, conversation::apply(state, &applied.event, applied.sequence));
        }
        for conversation in touched.into_values().flatten() {
            store::save(tx, &conversation).await?;
        }
        Ok(())
    }
}
