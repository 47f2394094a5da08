//! Accounts reported through the API (`UpdateAccount`), as billing and provisioning systems would:
//! the whole account each time, checked before it is published, so the read model the bot answers
//! from never holds a malformed one.

use switchboard_bus::{Bus, Draft, is_aggregate_id};
use switchboard_proto::events::v1::{AccountUpdated, event::Body};

use crate::Error;

/// Publishes `account` under `account_id` for `tenant`; the event's stream sequence.
pub(crate) async fn update(
    bus: &Bus,
    tenant: &str,
    account_id: &str,
    account: AccountUpdated,
) -> Result<u64, Error> {
    check(account_id, &account)?;
    let event = Draft::new(tenant, account_id, Body::AccountUpdated(account)).build()?;
    Ok(bus.publish(&event).await?.sequence)
}

/// Why an account cannot be taken, if it cannot.
pub(crate) fn check(account_id: &str, account: &AccountUpdated) -> Result<(), Error> {
    let invalid = |why: String| Err(Error::Invalid(why));
    if !is_aggregate_id(account_id) {
        return invalid(format!("account_id {account_id:?}: give letters, digits, '-' or '_'"));
    }
    let customer = account.customer_id.trim();
    if customer.is_empty() || customer.len() > 256 || customer.contains('\0') {
        return invalid("customer_id is required (at most 256 bytes)".into());
    }
    if !account.pin_hash.is_empty() && !account.pin_hash.starts_with("$argon2") {
        return invalid("pin_hash is an argon2 PHC string ($argon2id$...), never the PIN itself".into());
    }
    let currency = &account.currency;
    if !empty_or(currency, 3, |c| c.is_ascii_uppercase()) {
        return invalid(format!("currency {currency:?}: give an ISO 4217 code such as EUR"));
    }
    let due = &account.due_date;
    if !due.is_empty() && chrono::NaiveDate::parse_from_str(due, "%Y-%m-%d").is_err() {
        return invalid(format!("due_date {due:?}: give YYYY-MM-DD"));
    }
    let last4 = &account.sim_last4;
    if !empty_or(last4, 4, |c| c.is_ascii_digit()) {
        return invalid(format!("sim_last4 {last4:?}: give the SIM number's last four digits"));
    }
    if !["", "active", "inactive"].contains(&account.sim_status.as_str()) {
        return invalid(format!("sim_status {:?}: active or inactive", account.sim_status));
    }
    Ok(())
}

/// Whether `text` is empty or exactly `length` characters of the kind `class` accepts.
fn empty_or(text: &str, length: usize, class: fn(&char) -> bool) -> bool {
    text.is_empty() || (text.chars().count() == length && text.chars().all(|c| class(&c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> AccountUpdated {
        AccountUpdated {
            customer_id: "+15550100".into(),
            plan: "Unlimited".into(),
            balance_minor: 4200,
            currency: "EUR".into(),
            due_date: "2026-12-31".into(),
            sim_last4: "1234".into(),
            sim_status: "inactive".into(),
            pin_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            ..AccountUpdated::default()
        }
    }

    #[test]
    fn a_whole_account_is_taken() {
        assert!(check("acct-1", &account()).is_ok());
        assert!(check("acct-1", &AccountUpdated { customer_id: "c-1".into(), ..Default::default() }).is_ok());
    }

    #[test]
    fn a_malformed_account_is_refused_with_the_reason() {
        let refused = |id: &str, account: AccountUpdated| match check(id, &account) {
            Err(Error::Invalid(why)) => why,
            other => panic!("not refused as invalid: {other:?}"),
        };
        assert!(refused("acct 1", account()).contains("account_id"));
        assert!(
            refused("a", AccountUpdated { customer_id: " ".into(), ..account() }).contains("customer_id")
        );
        assert!(
            refused("a", AccountUpdated { pin_hash: "1234".into(), ..account() }).contains("never the PIN")
        );
        assert!(refused("a", AccountUpdated { currency: "euro".into(), ..account() }).contains("ISO 4217"));
        assert!(
            refused("a", AccountUpdated { due_date: "31/12".into(), ..account() }).contains("YYYY-MM-DD")
        );
        assert!(
            refused("a", AccountUpdated { sim_last4: "12a4".into(), ..account() }).contains("four digits")
        );
        assert!(refused("a", AccountUpdated { sim_status: "on".into(), ..account() }).contains("active"));
    }
}
