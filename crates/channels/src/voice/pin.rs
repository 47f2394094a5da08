//! Phone PINs: a caller ID proves nothing, so a caller is verified for a call only by keying in
//! their PIN (checked against the argon2 hash their account carries). Wrong PINs are limited per
//! call and per caller per day; past them the caller is handed to a person.

use sqlx::{PgConnection, PgPool};

/// Wrong PINs a call may try.
pub const PER_CALL: i64 = 3;
/// Wrong PINs a caller may try in a day, across calls.
pub const PER_DAY: i64 = 5;

/// The PHC string a billing system puts in `AccountUpdated.pin_hash` for `pin`.
pub fn hash_pin(pin: &str) -> Result<String, String> {
    switchboard_auth::secret_hash::hash(pin)
}

/// What a keyed-in PIN led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    Verified,
    /// Wrong; this many tries are left in the call.
    Wrong(i64),
    /// No more tries: a person takes the call.
    Locked,
}

/// Keeps an account's PIN hash (an empty one removes it).
pub async fn project(
    tx: &mut PgConnection,
    tenant: &str,
    customer_id: &str,
    pin_hash: &str,
) -> Result<(), sqlx::Error> {
    if pin_hash.is_empty() {
        sqlx::query("DELETE FROM channels.voice_pins WHERE tenant = $1 AND customer_id = $2")
            .bind(tenant)
            .bind(customer_id)
            .execute(&mut *tx)
            .await?;
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO channels.voice_pins (tenant, customer_id, pin_hash) VALUES ($1, $2, $3)
         ON CONFLICT (tenant, customer_id) DO UPDATE SET pin_hash = EXCLUDED.pin_hash",
    )
    .bind(tenant)
    .bind(customer_id)
    .bind(pin_hash)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Checks `digits` for the caller of `call`, within the limits, and remembers a success. The
/// attempt is counted (under a lock per caller) before the PIN is checked, so simultaneous calls
/// from one number share its tries; a number without a PIN is answered like a wrong PIN (which
/// numbers have one is not told).
pub async fn check(
    pool: &PgPool,
    (tenant, call): (&str, &str),
    caller: &str,
    digits: &str,
) -> Result<Checked, sqlx::Error> {
    let Some((stored, attempt, left)) = count_attempt(pool, (tenant, call), caller).await? else {
        return Ok(Checked::Locked);
    };
    let digits_owned = digits.to_string();
    let matched = tokio::task::spawn_blocking(move || {
        stored.as_deref().is_some_and(|hash| matches(hash, &digits_owned))
    })
    .await
    .unwrap_or(false);
    if !matched {
        return Ok(if left > 0 { Checked::Wrong(left) } else { Checked::Locked });
    }
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM channels.pin_failures WHERE ctid = $1::tid")
        .bind(&attempt)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO channels.voice_calls (call_sid, customer_id, tenant) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
    )
    .bind(call)
    .bind(caller)
    .bind(tenant)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Checked::Verified)
}

/// Counts an attempt as a failure until it proves right: the stored hash, the attempt's row,
/// and the tries left after it; `None` when no try is left.
async fn count_attempt(
    pool: &PgPool,
    (tenant, call): (&str, &str),
    caller: &str,
) -> Result<Option<(Option<String>, String, i64)>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('pin:' || $1))")
        .bind(caller)
        .execute(&mut *tx)
        .await?;
    let (in_call, in_day) = failures(&mut tx, call, caller).await?;
    if in_call >= PER_CALL || in_day >= PER_DAY {
        tx.commit().await?;
        return Ok(None);
    }
    let attempt: String = sqlx::query_scalar(
        "INSERT INTO channels.pin_failures (customer_id, call_sid) VALUES ($1, $2) RETURNING ctid::text",
    )
    .bind(caller)
    .bind(call)
    .fetch_one(&mut *tx)
    .await?;
    let stored: Option<String> =
        sqlx::query_scalar("SELECT pin_hash FROM channels.voice_pins WHERE tenant = $1 AND customer_id = $2")
            .bind(tenant)
            .bind(caller)
            .fetch_optional(&mut *tx)
            .await?;
    tx.commit().await?;
    Ok(Some((stored, attempt, (PER_CALL - in_call - 1).min(PER_DAY - in_day - 1))))
}

/// Whether the caller of `call` to `tenant` keyed in their PIN in it.
pub async fn verified(
    pool: &PgPool,
    (tenant, call): (&str, &str),
    caller: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM channels.voice_calls
                         WHERE call_sid = $1 AND customer_id = $2 AND tenant = $3)",
    )
    .bind(call)
    .bind(caller)
    .bind(tenant)
    .fetch_one(pool)
    .await
}

async fn failures(tx: &mut PgConnection, call: &str, caller: &str) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT count(*) FILTER (WHERE call_sid = $2), count(*)
         FROM channels.pin_failures WHERE customer_id = $1 AND at > now() - interval '1 day'",
    )
    .bind(caller)
    .bind(call)
    .fetch_one(&mut *tx)
    .await
}

/// Whether `digits` is the PIN `stored` hashes; a malformed hash matches nothing.
fn matches(stored: &str, digits: &str) -> bool {
    let valid = (4..=12).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit());
    valid && switchboard_auth::secret_hash::matches(stored, digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_matches_its_hash_only() {
        let stored = hash_pin("2468").expect("hashed");
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(matches(&stored, "2468"));
        assert!(!matches(&stored, "2469") && !matches(&stored, "24a8") && !matches(&stored, ""));
        assert!(!matches("not a hash", "2468"));
    }
}
