//! A fresh database on the test PostgreSQL server for each test.

use anyhow::Context;
use sqlx::{AssertSqlSafe, Connection, PgConnection, PgPool};

/// Admin URL of the server tests create databases on.
const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// An empty database, named uniquely. Databases of earlier runs older than a day are dropped.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
}

impl TestDatabase {
    /// Creates it on `SWITCHBOARD_TEST_DATABASE_URL` (an admin connection), default the local server.
    pub async fn create() -> anyhow::Result<Self> {
        let admin_url = admin_url();
        let mut admin = admin(&admin_url).await?;
        drop_stale(&mut admin).await?;
        let stamp = chrono_free_stamp();
        let name = format!("sbtest_{stamp}_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await?;
        let base = admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(base, _)| base);
        Ok(Self { url: format!("{base}/{name}"), name })
    }

    pub async fn pool(&self) -> anyhow::Result<PgPool> {
        Ok(PgPool::connect(&self.url).await?)
    }

    /// Drops the database now (closing connections still open to it), rather than leaving it
    /// for the next run's clean-up a day later: for large ones, such as the benchmarks'.
    pub async fn drop_database(self) -> anyhow::Result<()> {
        let mut admin = admin(&admin_url()).await?;
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        sqlx::query(AssertSqlSafe(sql)).execute(&mut admin).await?;
        Ok(())
    }
}

fn admin_url() -> String {
    std::env::var("SWITCHBOARD_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.into())
}

async fn admin(admin_url: &str) -> anyhow::Result<PgConnection> {
    PgConnection::connect(admin_url)
        .await
        .with_context(|| format!("cannot reach the test PostgreSQL at {admin_url}; run `make test`"))
}

async fn drop_stale(admin: &mut PgConnection) -> anyhow::Result<()> {
    let cutoff = chrono_free_stamp().saturating_sub(86_400);
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'sbtest_%'")
            .fetch_all(&mut *admin)
            .await?;
    for name in names {
        let stamp = name.split('_').nth(1).and_then(|s| s.parse::<u64>().ok());
        if stamp.is_some_and(|stamp| stamp < cutoff) {
            let _ = sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                .execute(&mut *admin)
                .await;
        }
    }
    Ok(())
}

fn chrono_free_stamp() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs())
}
