//! Telecom self-service, for voice and chat: the balance and due date (`account_balance`), data
//! used this period (`data_usage`), and SIM activation (`sim_activation`, multi-turn: the customer
//! confirms the SIM's last four digits, then the SIM is activated by a `SimActivated` event).
//! Accounts come from `AccountUpdated` events of the billing and provisioning systems, per tenant.

use serde::Deserialize;
use sqlx::{PgConnection, PgPool, Row as _};
use switchboard_phrases::say;
use switchboard_proto::events::v1::{AccountUpdated, PlaybookProgressed, SimActivated, SimActivationRefused};

use super::Step;

/// The SIM activation playbook's name on `PlaybookProgressed`.
pub const SIM_ACTIVATION: &str = "sim_activation";
/// Wrong digits tolerated in a conversation before a person takes over.
const MAX_MISSES: u32 = 2;
/// Wrong digits tolerated per customer in a day, across conversations and calls.
pub const MAX_REFUSALS_PER_DAY: i64 = 5;

/// `playbooks.sim_activation` in the rule set.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimSettings {
    /// Where a customer who cannot confirm the SIM goes.
    pub queue: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub plan: String,
    pub balance_minor: i64,
    pub currency: String,
    pub due_date: String,
    pub data_used_mb: i64,
    pub data_allowance_mb: i64,
    pub sim_last4: String,
    pub sim_status: String,
}

pub async fn project(
    tx: &mut PgConnection,
    tenant: &str,
    account: &AccountUpdated,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO router.accounts (customer_id, plan, balance_minor, currency, due_date, data_used_mb,
             data_allowance_mb, sim_last4, sim_status, tenant)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (tenant, customer_id) DO UPDATE SET plan = EXCLUDED.plan, balance_minor = EXCLUDED.balance_minor,
             currency = EXCLUDED.currency, due_date = EXCLUDED.due_date, data_used_mb = EXCLUDED.data_used_mb,
             data_allowance_mb = EXCLUDED.data_allowance_mb, sim_last4 = EXCLUDED.sim_last4,
             sim_status = EXCLUDED.sim_status",
    )
    .bind(&account.customer_id)
    .bind(&account.plan)
    .bind(account.balance_minor)
    .bind(&account.currency)
    .bind(&account.due_date)
    .bind(i64::try_from(account.data_used_mb).unwrap_or(i64::MAX))
    .bind(i64::try_from(account.data_allowance_mb).unwrap_or(i64::MAX))
    .bind(&account.sim_last4)
    .bind(&account.sim_status)
    .bind(tenant)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn activated(
    tx: &mut PgConnection,
    tenant: &str,
    activated: &SimActivated,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE router.accounts SET sim_status = 'active' WHERE tenant = $1 AND customer_id = $2")
        .bind(tenant)
        .bind(&activated.customer_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

pub async fn refused(
    tx: &mut PgConnection,
    tenant: &str,
    event_id: &str,
    refused: &SimActivationRefused,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO router.sim_refusals (tenant, event_id, customer_id, at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant, event_id) DO NOTHING",
    )
    .bind(tenant)
    .bind(event_id)
    .bind(&refused.customer_id)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn find(pool: &PgPool, tenant: &str, customer_id: &str) -> Result<Option<Account>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT plan, balance_minor, currency, due_date, data_used_mb, data_allowance_mb, sim_last4, sim_status
         FROM router.accounts WHERE tenant = $1 AND customer_id = $2",
    )
    .bind(tenant)
    .bind(customer_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|row| Account {
        plan: row.get(0),
        balance_minor: row.get(1),
        currency: row.get(2),
        due_date: row.get(3),
        data_used_mb: row.get(4),
        data_allowance_mb: row.get(5),
        sim_last4: row.get(6),
        sim_status: row.get(7),
    }))
}

fn money(minor: i64, currency: &str) -> String {
    format!("{}.{:02} {currency}", minor / 100, (minor % 100).abs())
}

fn gigabytes(mb: i64) -> String {
    format!("{:.1} GB", mb as f64 / 1024.0)
}

pub fn balance_reply(account: &Account, language: &str) -> String {
    let plan = ("plan", account.plan.as_str());
    if account.balance_minor <= 0 {
        return say(language, "account.owes_nothing", &[plan]);
    }
    let money = money(account.balance_minor, &account.currency);
    say(language, "account.balance", &[("money", &money), ("date", &account.due_date), plan])
}

pub fn usage_reply(account: &Account, language: &str) -> String {
    let left = (account.data_allowance_mb - account.data_used_mb).max(0);
    let (used, allowance) = (gigabytes(account.data_used_mb), gigabytes(account.data_allowance_mb));
    say(language, "account.usage", &[("used", &used), ("allowance", &allowance), ("left", &gigabytes(left))])
}

/// Starts an activation: asks for the SIM's last four digits.
pub fn start(conversation_id: &str, language: &str) -> Step {
    let state = PlaybookProgressed {
        conversation_id: conversation_id.into(),
        playbook: SIM_ACTIVATION.into(),
        asking: "sim_last4".into(),
        ..PlaybookProgressed::default()
    };
    Step::Ask { reply: say(language, "sim.ask", &[]), state }
}

/// What the customer's answer means for the activation.
pub enum Confirmation {
    /// The digits match an inactive SIM: activate it.
    Activate(String),
    AlreadyActive,
    Step(Step),
}

pub fn confirm(
    settings: &SimSettings,
    account: Option<&Account>,
    mut state: PlaybookProgressed,
    said: &str,
    language: &str,
) -> Confirmation {
    let Some(account) = account else {
        return Confirmation::Step(Step::HandOff { state, queue: settings.queue.clone() });
    };
    if account.sim_status == "active" {
        return Confirmation::AlreadyActive;
    }
    if digits(said).ends_with(&account.sim_last4) && account.sim_last4.len() == 4 {
        return Confirmation::Activate(account.sim_last4.clone());
    }
    state.misses += 1;
    if state.misses > MAX_MISSES {
        return Confirmation::Step(Step::HandOff { state, queue: settings.queue.clone() });
    }
    let reply = say(language, "sim.mismatch", &[]);
    Confirmation::Step(Step::Ask { reply, state })
}

pub fn activated_reply(last4: &str, language: &str) -> String {
    say(language, "sim.activated", &[("last4", last4)])
}

/// The digits in what was said or typed: `1 2 3 4`, `1234` and `one two three four` alike.
fn digits(said: &str) -> String {
    const WORDS: [&str; 10] =
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];
    let mut found = String::new();
    for word in said.to_lowercase().split(|c: char| !c.is_alphanumeric()) {
        if let Some(n) = WORDS.iter().position(|w| *w == word || (word == "oh" && *w == "zero")) {
            found.push(char::from(b'0' + n as u8));
        } else {
            found.extend(word.chars().filter(char::is_ascii_digit));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> Account {
        Account {
            plan: "Unlimited Talk 10 GB".into(),
            balance_minor: 4250,
            currency: "EUR".into(),
            due_date: "2026-12-15".into(),
            data_used_mb: 3277,
            data_allowance_mb: 10240,
            sim_last4: "4821".into(),
            sim_status: "inactive".into(),
        }
    }

    #[test]
    fn tells_the_balance_and_the_data_left() {
        assert_eq!(
            balance_reply(&account(), "en"),
            "Your balance is 42.50 EUR, due on 2026-12-15. Your plan is Unlimited Talk 10 GB."
        );
        assert_eq!(
            usage_reply(&account(), "en"),
            "You have used 3.2 GB of your 10.0 GB of data this period; 6.8 GB are left."
        );
    }

    #[test]
    fn reads_spoken_and_typed_digits() {
        assert_eq!(digits("four eight two one"), "4821");
        assert_eq!(digits("It's 48 21."), "4821");
        assert_eq!(digits("oh one two three"), "0123");
    }

    #[test]
    fn activates_on_the_right_digits_and_hands_off_after_misses() {
        let settings = SimSettings { queue: "mobile".into() };
        let Step::Ask { state, .. } = start("c1", "en") else { panic!("asks first") };
        assert!(
            matches!(confirm(&settings, Some(&account()), state.clone(), "four eight two one", "en"), Confirmation::Activate(d) if d == "4821")
        );
        let Confirmation::Step(Step::Ask { state, .. }) =
            confirm(&settings, Some(&account()), state, "1111", "en")
        else {
            panic!("asks again")
        };
        let Confirmation::Step(Step::Ask { state, .. }) =
            confirm(&settings, Some(&account()), state, "2222", "en")
        else {
            panic!("asks again")
        };
        assert!(matches!(
            confirm(&settings, Some(&account()), state, "3333", "en"),
            Confirmation::Step(Step::HandOff { .. })
        ));
        let active = Account { sim_status: "active".into(), ..account() };
        let Step::Ask { state, .. } = start("c1", "en") else { panic!("asks first") };
        assert!(matches!(
            confirm(&settings, Some(&active), state, "4821", "en"),
            Confirmation::AlreadyActive
        ));
    }
}
