//! Autovacuum's work on the desk's table, where the server runs without it (the local and CI
//! PostgreSQL do, for speed). A server in service vacuums and analyzes a table this busy about
//! once a minute (`autovacuum_naptime`); without that, the upserts of the fill leave every old
//! row version behind (the fill slows as the table swells) and the planner has no statistics.
//! The bench does the same, `VACUUM (ANALYZE)` once a minute while the desk projects and once
//! when it has caught up, so the listing is measured on the table as a server in service keeps
//! it. Where autovacuum is on, the bench leaves it to the server.

use std::time::{Duration, Instant};

use sqlx::PgPool;

const NAPTIME: Duration = Duration::from_secs(60);

pub(crate) struct Upkeep {
    pool: PgPool,
    /// Autovacuum is off: the bench does its work.
    stands_in: bool,
    last: Instant,
    runs: u32,
    spent: Duration,
}

impl Upkeep {
    pub(crate) async fn new(pool: PgPool) -> anyhow::Result<Self> {
        let autovacuum: String =
            sqlx::query_scalar("SELECT current_setting('autovacuum')").fetch_one(&pool).await?;
        let stands_in = autovacuum == "off";
        Ok(Self { pool, stands_in, last: Instant::now(), runs: 0, spent: Duration::ZERO })
    }

    /// Vacuums if autovacuum is off and its naptime has passed since the last time.
    pub(crate) async fn tick(&mut self) -> anyhow::Result<()> {
        if self.last.elapsed() >= NAPTIME { self.vacuum().await } else { Ok(()) }
    }

    /// Vacuums once more now that the changes have stopped.
    pub(crate) async fn finish(&mut self) -> anyhow::Result<()> {
        self.vacuum().await
    }

    async fn vacuum(&mut self) -> anyhow::Result<()> {
        if !self.stands_in {
            return Ok(());
        }
        let started = Instant::now();
        sqlx::raw_sql("VACUUM (ANALYZE) desk.conversations").execute(&self.pool).await?;
        self.spent += started.elapsed();
        self.runs += 1;
        self.last = Instant::now();
        Ok(())
    }

    pub(crate) fn describe(&self) -> String {
        if self.stands_in {
            format!(
                "autovacuum is off on this server: the bench ran VACUUM (ANALYZE) desk.conversations \
                 {} times ({:.1} s), once a minute and at the end, as autovacuum would",
                self.runs,
                self.spent.as_secs_f64()
            )
        } else {
            "autovacuum is on: the server vacuums and analyzes the table".into()
        }
    }
}
