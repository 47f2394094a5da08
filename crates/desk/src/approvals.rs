//! What waits for a person's decision, listed with its facts: today, returns (the refund needs
//! a human). The projection keeps `desk.approvals` from the returns' events; deciding goes
//! through [`crate::returns::decide_return`], guarded there.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgPool, Row as _};
use switchboard_proto::{
    desk::v1::Approval,
    events::v1::{ReturnOpened, event::Body},
    time::to_timestamp,
};

use crate::{Error, claim::channel_slug};

/// The kinds of approval there are.
pub const KINDS: [&str; 1] = ["return"];

/// The approval id of return `return_id`.
pub fn return_approval(return_id: &str) -> String {
    format!("return:{return_id}")
}

/// The return an approval id names, or why it names none.
pub fn return_of(approval_id: &str) -> Result<&str, Error> {
    match approval_id.split_once(':') {
        Some(("return", id)) if switchboard_bus::is_aggregate_id(id) => Ok(id),
        _ => Err(Error::InvalidArgument(format!(
            "approval_id {approval_id:?}: expected `return:<return id>`, as ListApprovals gives it"
        ))),
    }
}

fn facts_of(opened: &ReturnOpened) -> Value {
    let facts = [
        ("order_id", opened.order_id.clone()),
        ("reason", opened.reason.clone()),
        ("channel", channel_slug(opened.channel)),
        ("warehouse", opened.warehouse.clone()),
        ("message_id", opened.message_id.clone()),
    ];
    let kept = facts.into_iter().filter(|(_, value)| !value.is_empty());
    Value::Object(kept.map(|(name, value)| (name.to_string(), Value::String(value))).collect())
}

/// Keeps what a return's event says: opened, it waits; approved or rejected, it is decided.
pub async fn record(
    tx: &mut PgConnection,
    tenant: &str,
    body: &Body,
    at: DateTime<Utc>,
    sequence: u64,
) -> Result<(), sqlx::Error> {
    let sequence = i64::try_from(sequence).unwrap_or(i64::MAX);
    let (return_id, decision, by) = match body {
        Body::ReturnOpened(opened) => {
            sqlx::query(
                "INSERT INTO desk.approvals (tenant, approval_id, kind, conversation_id, customer_id,
                     facts, requested_at, sequence)
                 VALUES ($1, $2, 'return', $3, $4, $5, $6, $7)
                 ON CONFLICT (tenant, approval_id) DO NOTHING",
            )
            .bind(tenant)
            .bind(return_approval(&opened.return_id))
            .bind(&opened.conversation_id)
            .bind(&opened.customer_id)
            .bind(facts_of(opened))
            .bind(at)
            .bind(sequence)
            .execute(&mut *tx)
            .await?;
            return Ok(());
        }
        Body::ReturnApproved(approved) => (&approved.return_id, "approved", &approved.approver),
        Body::ReturnRejected(rejected) => (&rejected.return_id, "rejected", &rejected.approver),
        _ => return Ok(()),
    };
    sqlx::query(
        "UPDATE desk.approvals SET decision = $3, decided_by = $4, sequence = $5
         WHERE tenant = $1 AND approval_id = $2 AND decision = ''",
    )
    .bind(tenant)
    .bind(return_approval(return_id))
    .bind(decision)
    .bind(by)
    .bind(sequence)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The tenant's approvals still waiting (of `kind`, or every kind when empty), oldest first.
pub async fn waiting(pool: &PgPool, tenant: &str, kind: &str) -> Result<Vec<Approval>, Error> {
    if !kind.is_empty() && !KINDS.contains(&kind) {
        return Err(Error::InvalidArgument(format!("kind {kind:?}: one of {}", KINDS.join(", "))));
    }
    let rows = sqlx::query(
        "SELECT approval_id, kind, conversation_id, customer_id, facts, requested_at
         FROM desk.approvals
         WHERE tenant = $1 AND decision = '' AND ($2 = '' OR kind = $2)
         ORDER BY requested_at, approval_id LIMIT 500",
    )
    .bind(tenant)
    .bind(kind)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            let facts: HashMap<String, String> = match row.try_get::<Value, _>("facts")? {
                Value::Object(entries) => entries
                    .into_iter()
                    .filter_map(|(name, value)| Some((name, value.as_str()?.to_string())))
                    .collect(),
                _ => HashMap::new(),
            };
            Ok(Approval {
                approval_id: row.try_get("approval_id")?,
                kind: row.try_get("kind")?,
                conversation_id: row.try_get("conversation_id")?,
                customer_id: row.try_get("customer_id")?,
                facts,
                requested_at: Some(to_timestamp(row.try_get("requested_at")?)),
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Error::from)
}

/// How many of the tenant's approvals wait.
pub async fn waiting_count(pool: &PgPool, tenant: &str) -> Result<u32, Error> {
    let count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM desk.approvals WHERE tenant = $1 AND decision = ''")
            .bind(tenant)
            .fetch_one(pool)
            .await?;
    Ok(u32::try_from(count).unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_approval_id_names_a_return_or_is_refused_with_the_shape_expected() {
        assert_eq!(return_of("return:r-1").ok(), Some("r-1"));
        for bad in ["r-1", "refund:r-1", "return:", "return:a b"] {
            let refused = return_of(bad).expect_err(bad);
            assert!(refused.to_string().contains("return:<return id>"), "{refused}");
        }
    }

    #[test]
    fn a_returns_facts_keep_what_a_person_needs_and_drop_what_is_empty() {
        let opened = ReturnOpened {
            return_id: "r-1".into(),
            order_id: "12345".into(),
            reason: "arrived broken".into(),
            channel: switchboard_proto::events::v1::Channel::Web.into(),
            ..ReturnOpened::default()
        };
        let facts = facts_of(&opened);
        assert_eq!(facts["order_id"], "12345");
        assert_eq!(facts["reason"], "arrived broken");
        assert_eq!(facts["channel"], "web");
        assert!(facts.get("warehouse").is_none());
    }
}
