//! What the rules read besides the message: customer profiles (from `CustomerProfileUpdated`
//! events) and when the customer's earlier conversations started, always within one tenant.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use sqlx::{PgPool, Row as _};
use switchboard_bus::{Bus, Draft};
use switchboard_proto::events::v1::{CustomerProfileUpdated, event::Body};

use crate::{Error, rules::Customer};

/// Earlier conversations older than this are not read.
const HISTORY_DAYS: i64 = 365;

#[derive(Clone)]
pub struct Directory {
    pool: PgPool,
    bus: Bus,
}

impl Directory {
    pub fn new(pool: PgPool, bus: Bus) -> Self {
        Self { pool, bus }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub async fn customer(&self, tenant: &str, customer_id: &str) -> Result<Option<Customer>, sqlx::Error> {
        if customer_id.is_empty() {
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT tier, plan, country, attributes FROM router.customers WHERE tenant = $1 AND customer_id = $2",
        )
        .bind(tenant)
        .bind(customer_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| Customer {
            tier: row.get(0),
            plan: row.get(1),
            country: row.get(2),
            attributes: serde_json::from_value(row.get(3)).unwrap_or_default(),
        }))
    }

    /// When the customer's other conversations started, in the last year before `at`.
    pub async fn contacts(
        &self,
        tenant: &str,
        customer_id: &str,
        conversation_id: &str,
        at: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, sqlx::Error> {
        if customer_id.is_empty() {
            return Ok(Vec::new());
        }
        sqlx::query_scalar(
            "SELECT started_at FROM router.contacts
             WHERE tenant = $1 AND customer_id = $2 AND conversation_id <> $3
               AND started_at >= $4 AND started_at < $5",
        )
        .bind(tenant)
        .bind(customer_id)
        .bind(conversation_id)
        .bind(at - Duration::days(HISTORY_DAYS))
        .bind(at)
        .fetch_all(&self.pool)
        .await
    }

    /// Publishes `tenant`'s customer profile; returns the event's stream sequence.
    pub async fn put(&self, tenant: &str, customer_id: &str, customer: Customer) -> Result<u64, Error> {
        let valid_id = !customer_id.is_empty()
            && customer_id.len() <= 128
            && customer_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid_id {
            return Err(Error::Invalid(format!(
                "customer id {customer_id:?}: use up to 128 letters, digits, '-' and '_'"
            )));
        }
        let body = Body::CustomerProfileUpdated(CustomerProfileUpdated {
            customer_id: customer_id.to_string(),
            tier: customer.tier,
            plan: customer.plan,
            country: customer.country,
            attributes: customer.attributes.into_iter().collect(),
        });
        let event = Draft::new(tenant, customer_id, body).build()?;
        Ok(self.bus.publish(&event).await?.sequence)
    }
}

/// Attributes as stored.
pub fn attributes(map: &std::collections::HashMap<String, String>) -> BTreeMap<String, String> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}
