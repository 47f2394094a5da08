//! `switchboard router simulate`: a candidate rule set over past classified messages, without
//! side effects; prints how many decisions would change, by queue and action, with examples.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::{DateTime, Duration, Utc};
use clap::Subcommand;
use switchboard_router::{Directory, simulate::Report};

use crate::{Config, connection::Connection};

#[derive(Debug, Subcommand)]
pub enum RouterCommand {
    /// Replay past classified messages through a candidate rule set and report what changes.
    Simulate {
        /// The candidate rule set (YAML or JSON).
        #[arg(long)]
        rules: PathBuf,
        /// Only messages from this long ago on, e.g. `30m`, `24h`, `7d`; all when unset.
        #[arg(long)]
        since: Option<String>,
        /// Print the report as one JSON object.
        #[arg(long)]
        json: bool,
        /// Whose messages and read model to replay: one tenant's at a time.
        #[arg(long, default_value = switchboard_bus::DEFAULT_TENANT)]
        tenant: String,
        #[command(flatten)]
        connection: Connection,
    },
}

pub async fn run(command: RouterCommand) -> anyhow::Result<()> {
    let RouterCommand::Simulate { rules, since, json, tenant, connection } = command;
    anyhow::ensure!(switchboard_bus::is_tenant(&tenant), "--tenant: 1 to 64 letters, digits, '-' and '_'");
    let since = since.as_deref().map(|text| ago(text, Utc::now())).transpose()?;
    let config = connection.config(Config::default())?;
    let report = simulate(&config, (&tenant, &rules), since).await?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", render(&report));
    }
    Ok(())
}

/// Simulates the rule set in `path` over `tenant`'s messages, against the stream and read model
/// `config` names.
pub async fn simulate(
    config: &Config,
    (tenant, path): (&str, &Path),
    since: Option<DateTime<Utc>>,
) -> anyhow::Result<Report> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let deps = crate::serve::connect_existing(config).await?;
    switchboard_router::migrate_schema(&deps.pool).await?;
    let directory = Directory::new(deps.pool.clone(), deps.bus.clone());
    let report = switchboard_router::simulate::simulate_for(&deps.bus, &directory, tenant, &text, since)
        .await
        .with_context(|| format!("{}", path.display()))?;
    deps.pool.close().await;
    Ok(report)
}

/// `30m`, `24h`, `7d` or `90s` before `now`.
pub(crate) fn ago(text: &str, now: DateTime<Utc>) -> anyhow::Result<DateTime<Utc>> {
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let amount: i64 =
        number.parse().with_context(|| format!("--since {text:?}: give e.g. 30m, 24h or 7d"))?;
    let duration = match unit {
        "s" => Duration::seconds(amount),
        "m" => Duration::minutes(amount),
        "h" => Duration::hours(amount),
        "d" => Duration::days(amount),
        _ => anyhow::bail!("--since {text:?}: the unit is s, m, h or d"),
    };
    Ok(now - duration)
}

fn render(report: &Report) -> String {
    let mut out = format!(
        "{} classified messages, {} with a decision to compare; {} would change\n",
        report.messages, report.compared, report.changed
    );
    for (change, count) in &report.changes {
        out.push_str(&format!("  {count:>6}  {change}\n"));
    }
    out.push_str("by queue (now -> candidate):\n");
    for (queue, count) in &report.queues {
        out.push_str(&format!("  {queue:<20} {:>6} -> {}\n", count.now, count.candidate));
    }
    for example in &report.examples {
        out.push_str(&format!(
            "  e.g. {}: {:?}\n       {} ({}) -> {} ({})\n",
            example.message_id, example.text, example.from, example.from_rule, example.to, example.to_rule
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_time_ago() {
        let now = Utc::now();
        assert_eq!(ago("7d", now).expect("valid"), now - Duration::days(7));
        assert_eq!(ago("30m", now).expect("valid"), now - Duration::minutes(30));
        assert!(ago("7 days", now).is_err());
        assert!(ago("d", now).is_err());
    }
}
