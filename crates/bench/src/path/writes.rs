//! Rows PostgreSQL wrote, by table: inserted, updated (and of the updates those made in place,
//! heap-only: no index entry added, the cheap kind) and deleted. Read from `pg_stat_user_tables`
//! of the bench's database before and after a run; what the services' timers write while a
//! reading waits (below) is counted too.

use std::{collections::BTreeMap, time::Duration};

/// Backends report their table counters when idle, at the latest 10 s after their last
/// statement (PostgreSQL's `PGSTAT_IDLE_INTERVAL`); a reading waits this long first.
const REPORTED_WITHIN: Duration = Duration::from_secs(11);

/// Tables shown, the most written first.
const SHOWN: usize = 12;

/// Rows a table had inserted, updated, updated in place, and deleted.
type Counts = [u64; 4];

/// By table (`schema.table`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Writes(BTreeMap<String, Counts>);

impl Writes {
    /// The counters once every backend has reported what it did until now.
    pub(crate) async fn reported(database: &sqlx::PgPool) -> anyhow::Result<Self> {
        tokio::time::sleep(REPORTED_WITHIN).await;
        let rows: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT schemaname || '.' || relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del
             FROM pg_stat_user_tables",
        )
        .fetch_all(database)
        .await?;
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        let counts = |(table, ins, upd, hot, del)| (table, [ins, upd, hot, del].map(count));
        Ok(Self(rows.into_iter().map(counts).collect()))
    }
}

/// One table's writes between two readings, per message.
#[derive(Debug, PartialEq)]
struct Written {
    table: String,
    inserted: f64,
    updated: f64,
    /// Share of the updates made in place, if there were any.
    in_place: Option<f64>,
    deleted: f64,
}

impl Written {
    fn rows(&self) -> f64 {
        self.inserted + self.updated + self.deleted
    }
}

/// What `after` adds to `before`, per message of `messages`, the most written tables first.
fn written(before: &Writes, after: &Writes, messages: usize) -> Vec<Written> {
    let per = |n: u64| n as f64 / messages.max(1) as f64;
    let mut all: Vec<Written> = after
        .0
        .iter()
        .filter_map(|(table, counts)| {
            let earlier = before.0.get(table).copied().unwrap_or_default();
            let [ins, upd, hot, del]: Counts = std::array::from_fn(|i| counts[i].saturating_sub(earlier[i]));
            (ins + upd + del > 0).then(|| Written {
                table: table.clone(),
                inserted: per(ins),
                updated: per(upd),
                in_place: (upd > 0).then(|| hot as f64 / upd as f64),
                deleted: per(del),
            })
        })
        .collect();
    all.sort_by(|a, b| b.rows().total_cmp(&a.rows()));
    all
}

/// Prints the tables written between `before` and `after`, per message of `messages`.
pub(crate) fn print(before: &Writes, after: &Writes, messages: usize) {
    let all = written(before, after, messages);
    let rows: f64 = all.iter().map(Written::rows).sum();
    let shown: Vec<String> = all.iter().take(SHOWN).map(shown).collect();
    println!("    rows written: {rows:.2} (by table, inserted + updated - deleted): {}", shown.join("; "));
}

fn shown(written: &Written) -> String {
    let in_place =
        written.in_place.map_or(String::new(), |share| format!(" ({:.0} % in place)", share * 100.0));
    let Written { table, inserted, updated, deleted, .. } = written;
    format!("{table} {inserted:.2} + {updated:.2}{in_place} - {deleted:.2}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writes(rows: &[(&str, Counts)]) -> Writes {
        Writes(rows.iter().map(|(table, counts)| (table.to_string(), *counts)).collect())
    }

    fn row(table: &str, inserted: f64, updated: f64, in_place: Option<f64>, deleted: f64) -> Written {
        Written { table: table.into(), inserted, updated, in_place, deleted }
    }

    #[test]
    fn a_runs_writes_are_per_message_the_most_written_first_with_the_share_made_in_place() {
        let before = writes(&[("desk.conversations", [10, 20, 0, 0]), ("intake.messages", [10, 0, 0, 0])]);
        let after = writes(&[
            ("desk.conversations", [20, 50, 10, 0]),
            ("intake.messages", [20, 0, 0, 0]),
            ("analytics.rollups", [0, 0, 0, 0]),
            ("analytics.pending", [0, 0, 0, 7]),
            ("router.turns", [5, 0, 0, 0]),
        ]);
        let expected = [
            row("desk.conversations", 1.0, 3.0, Some(1.0 / 3.0), 0.0),
            row("intake.messages", 1.0, 0.0, None, 0.0),
            row("analytics.pending", 0.0, 0.0, None, 0.7),
            row("router.turns", 0.5, 0.0, None, 0.0),
        ];
        assert_eq!(written(&before, &after, 10), expected);
    }

    #[test]
    fn a_table_is_shown_with_its_inserts_updates_share_in_place_and_deletes() {
        assert_eq!(
            shown(&row("desk.conversations", 1.0, 3.0, Some(0.25), 0.0)),
            "desk.conversations 1.00 + 3.00 (25 % in place) - 0.00"
        );
        assert_eq!(shown(&row("intake.messages", 1.0, 0.0, None, 0.5)), "intake.messages 1.00 + 0.00 - 0.50");
    }
}
