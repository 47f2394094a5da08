//! `switchboard dlq list|replay|purge`: the dead letters, read from the bus (docs/RUNBOOK.md).

use clap::Subcommand;
use serde::Serialize;
use switchboard_bus::{Bus, DeadLetter};

use crate::{Config, connection::Connection};

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// Each dead letter with its id, consumer, reason, original subject and sequence, and
    /// deliveries, oldest first.
    List {
        /// Only this consumer's letters, e.g. `router` or `notifier-outbox`.
        #[arg(long)]
        consumer: Option<String>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        connection: Connection,
    },
    /// Put letters back into their consumer once the cause is fixed: one by its id, or all of
    /// one consumer's. A letter that fails again becomes a new letter.
    Replay {
        /// The letter's id (from `dlq list`).
        #[arg(required_unless_present = "consumer", conflicts_with = "consumer")]
        id: Option<u64>,
        /// Every letter of this consumer.
        #[arg(long)]
        consumer: Option<String>,
        #[command(flatten)]
        connection: Connection,
    },
    /// Delete dead letters for good (all, or one consumer's); needs --yes.
    Purge {
        #[arg(long)]
        consumer: Option<String>,
        /// Confirm: the letters cannot be recovered.
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        connection: Connection,
    },
}

/// A letter as `list --json` prints it.
#[derive(Serialize)]
struct Shown<'a> {
    id: u64,
    consumer: &'a str,
    reason: &'a str,
    subject: &'a str,
    sequence: u64,
    deliveries: i64,
    dead_lettered_at: String,
}

impl<'a> From<&'a DeadLetter> for Shown<'a> {
    fn from(letter: &'a DeadLetter) -> Self {
        Self {
            id: letter.id,
            consumer: &letter.consumer,
            reason: &letter.reason,
            subject: &letter.subject,
            sequence: letter.sequence,
            deliveries: letter.deliveries,
            dead_lettered_at: letter.dead_lettered_at.to_rfc3339(),
        }
    }
}

pub async fn run(command: DlqCommand) -> anyhow::Result<()> {
    match command {
        DlqCommand::List { consumer, json, connection } => {
            let letters = bus(&connection).await?.dead_letters(consumer.as_deref()).await?;
            print!("{}", if json { json_lines(&letters)? } else { table(&letters) });
        }
        DlqCommand::Replay { id, consumer, connection } => {
            let bus = bus(&connection).await?;
            let ids = match (id, consumer) {
                (Some(id), _) => vec![id],
                (None, consumer) => {
                    bus.dead_letters(consumer.as_deref()).await?.iter().map(|letter| letter.id).collect()
                }
            };
            for id in &ids {
                let letter = bus.replay_dead_letter(*id).await?;
                println!("put back {id} into {} ({}#{})", letter.consumer, letter.subject, letter.sequence);
            }
            println!("{} put back", counted(ids.len()));
        }
        DlqCommand::Purge { consumer, yes, connection } => {
            let bus = bus(&connection).await?;
            if !yes {
                let count = bus.dead_letters(consumer.as_deref()).await?.len();
                anyhow::bail!(
                    "purge deletes {} for good; run it again with --yes to confirm",
                    counted(count)
                );
            }
            let purged = bus.purge_dead_letters(consumer.as_deref()).await?;
            println!("{} purged", counted(usize::try_from(purged).unwrap_or(usize::MAX)));
        }
    }
    Ok(())
}

fn counted(letters: usize) -> String {
    if letters == 1 { "1 dead letter".into() } else { format!("{letters} dead letters") }
}

async fn bus(connection: &Connection) -> anyhow::Result<Bus> {
    let config = connection.config(Config::default())?;
    Ok(Bus::connect_existing(config.bus()).await?)
}

fn json_lines(letters: &[DeadLetter]) -> anyhow::Result<String> {
    let mut out = String::new();
    for letter in letters {
        out.push_str(&serde_json::to_string(&Shown::from(letter))?);
        out.push('\n');
    }
    Ok(out)
}

fn table(letters: &[DeadLetter]) -> String {
    if letters.is_empty() {
        return "no dead letters\n".into();
    }
    let mut out = format!(
        "{:>8}  {:<22} {:<20} {:>10}  {:<48} reason\n",
        "id", "consumer", "dead-lettered", "deliveries", "subject#sequence"
    );
    for letter in letters {
        out.push_str(&format!(
            "{:>8}  {:<22} {:<20} {:>10}  {:<48} {}\n",
            letter.id,
            letter.consumer,
            letter.dead_lettered_at.format("%Y-%m-%d %H:%M:%S"),
            letter.deliveries,
            format!("{}#{}", letter.subject, letter.sequence),
            letter.reason
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone as _, Utc};

    use super::*;

    fn letter() -> DeadLetter {
        DeadLetter {
            id: 7,
            consumer: "router-decide".into(),
            reason: "no such queue".into(),
            subject: "switchboard.events.classification.acme.m-1".into(),
            sequence: 42,
            deliveries: 1,
            dead_lettered_at: Utc.with_ymd_and_hms(2026, 12, 6, 10, 0, 0).single().unwrap_or_default(),
        }
    }

    #[test]
    fn the_table_shows_each_letter_on_a_line_and_says_when_there_is_none() {
        assert_eq!(table(&[]), "no dead letters\n");
        let text = table(&[letter()]);
        let line = text.lines().nth(1).unwrap_or_default();
        for part in
            ["7", "router-decide", "2026-12-06 10:00:00", "classification.acme.m-1#42", "no such queue"]
        {
            assert!(line.contains(part), "{part} in {line}");
        }
    }

    #[test]
    fn json_lines_carry_every_field() -> anyhow::Result<()> {
        let text = json_lines(&[letter(), letter()])?;
        assert_eq!(text.lines().count(), 2);
        let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap_or_default())?;
        assert_eq!(first["id"], 7);
        assert_eq!(first["sequence"], 42);
        assert_eq!(first["dead_lettered_at"], "2026-12-06T10:00:00+00:00");
        Ok(())
    }
}
