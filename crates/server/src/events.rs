//! `switchboard events backup|restore`: the events stream, the source of truth, to a file and
//! back (docs/RUNBOOK.md, "Backup and restore"). The file is JSON lines, one message each with
//! its stream sequence, subject, headers and payload (base64), oldest first; it is written
//! under a temporary name and renamed when complete.

use std::{
    fs::File,
    io::{BufRead as _, BufReader, BufWriter, Write as _},
    path::{Path, PathBuf},
};

use anyhow::Context as _;
use base64::{Engine as _, engine::general_purpose::STANDARD};
use clap::Subcommand;
use serde::{Deserialize, Serialize};
use switchboard_bus::{Bus, EVENTS_STREAM, Stored};

use crate::{Config, connection::Connection};

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Write every event of the stream, in order, to a file (while the services run).
    Backup {
        /// The backup file (JSON lines).
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        connection: Connection,
    },
    /// Put a backup's events into an empty events stream (a new NATS server, before any service
    /// starts); then start the services with empty read models, which they rebuild by replay.
    Restore {
        /// The backup file.
        #[arg(long)]
        from: PathBuf,
        #[command(flatten)]
        connection: Connection,
    },
}

/// One line of a backup.
#[derive(Serialize, Deserialize)]
struct Line {
    sequence: u64,
    subject: String,
    headers: Vec<(String, String)>,
    payload: String,
}

pub async fn run(command: EventsCommand) -> anyhow::Result<()> {
    match command {
        EventsCommand::Backup { out, connection } => {
            let written = backup(&bus(&connection).await?, &out).await?;
            println!("backed up {written} events to {}", out.display());
        }
        EventsCommand::Restore { from, connection } => {
            let restored = restore(&bus(&connection).await?, &from).await?;
            let numbering = if restored.renumbered {
                "renumbered: the backed-up stream had gaps; let the services rebuild their read models"
            } else {
                "at their original sequences"
            };
            println!("restored {} events from {} ({numbering})", restored.events, from.display());
        }
    }
    Ok(())
}

/// The bus, with the streams' settings left as the cluster has them (missing streams, as on a
/// new server, are created with the configured ones).
async fn bus(connection: &Connection) -> anyhow::Result<Bus> {
    Ok(Bus::connect_existing(connection.config(Config::default())?.bus()).await?)
}

/// The events stream's durable consumers whose handlers act (publish, send, schedule): after a
/// restore they start after the restored events. The projections and the search index fold the
/// stream from their own checkpoints, and rebuild. A test keeps this list complete.
pub const ACTING_CONSUMERS: [&str; 5] = [
    switchboard_classifier::CONSUMER,
    switchboard_router::CONSUMER,
    switchboard_desk::PENDING_CONSUMER,
    switchboard_desk::RETURNS_CONSUMER,
    switchboard_notifier::CONSUMER,
];

/// Writes the stream up to its last event now to `out`; how many events.
pub async fn backup(bus: &Bus, out: &Path) -> anyhow::Result<u64> {
    let partial = out.with_extension("partial");
    let mut file = BufWriter::new(
        File::create(&partial).with_context(|| format!("cannot create {}", partial.display()))?,
    );
    let progress = crate::progress::bar(bus.last_sequence(EVENTS_STREAM).await?, "backing up");
    let mut failure = None;
    let written = bus
        .read_stored(|stored| {
            progress.inc(1);
            let line = Line {
                sequence: stored.sequence,
                subject: stored.subject,
                headers: stored.headers,
                payload: STANDARD.encode(&stored.payload),
            };
            let written = serde_json::to_writer(&mut file, &line)
                .map_err(std::io::Error::from)
                .and_then(|()| file.write_all(b"\n"));
            if let Err(error) = written {
                failure.get_or_insert(error);
            }
            Ok(())
        })
        .await?;
    progress.finish_and_clear();
    if let Some(error) = failure {
        return Err(error).with_context(|| format!("cannot write {}", partial.display()));
    }
    file.into_inner().map_err(|error| error.into_error())?.sync_all()?;
    std::fs::rename(&partial, out)
        .with_context(|| format!("cannot rename {} to {}", partial.display(), out.display()))?;
    Ok(written)
}

/// What a restore did.
pub struct Restored {
    pub events: u64,
    /// Whether some event got another sequence than it had (the backed-up stream had gaps): then
    /// a dump of the old read models does not fit, and the services must rebuild them.
    pub renumbered: bool,
}

/// Appends the backup's events, in order, to the bus's events stream, which must be empty, and
/// starts the [`ACTING_CONSUMERS`] after them.
pub async fn restore(bus: &Bus, from: &Path) -> anyhow::Result<Restored> {
    let mut last = bus.last_sequence(EVENTS_STREAM).await?;
    anyhow::ensure!(
        last == 0,
        "the events stream already holds {last} events: restore into a new, empty server"
    );
    let file = File::open(from).with_context(|| format!("cannot open {}", from.display()))?;
    let progress = crate::progress::bytes(file.metadata()?.len(), "restoring");
    let (mut previous, mut restored, mut renumbered) = (0, 0, false);
    for (number, text) in BufReader::new(file).lines().enumerate() {
        let at = || format!("{}: line {}", from.display(), number + 1);
        let text = text?;
        progress.inc(text.len() as u64 + 1);
        let line: Line = serde_json::from_str(&text).with_context(at)?;
        anyhow::ensure!(line.sequence > previous, "{}: sequence {} after {previous}", at(), line.sequence);
        previous = line.sequence;
        let payload = STANDARD.decode(&line.payload).with_context(at)?;
        let stored = Stored {
            sequence: line.sequence,
            subject: line.subject,
            headers: line.headers,
            payload: payload.into(),
        };
        last = bus.restore_event(&stored, last).await.with_context(at)?;
        renumbered |= last != stored.sequence;
        restored += 1;
    }
    progress.finish_and_clear();
    bus.start_consumers_after(&ACTING_CONSUMERS, last).await?;
    Ok(Restored { events: restored, renumbered })
}
