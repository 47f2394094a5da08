//! A fresh database on the test PostgreSQL server for each test.

use anyhow::Context;
use sqlx::{AssertSqlSafe, Connection, PgConnection, PgPool};

/// Admin URL of the server tests create databases on.
const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// An empty database, named uniquely, dropped when this value is. Databases that a killed run
/// left behind are dropped by a later run once they are a day old.
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

    /// Drops the database now (closing connections still open to it), reporting a failure,
    /// which dropping the value only logs.
    pub async fn drop_database(mut self) -> anyhow::Result<()> {
        drop_named(&std::mem::take(&mut self.name)).await
    }

    /// Keeps the database after this value is gone, for inspection; its URL. A later run drops
    /// it once it is a day old.
    pub fn keep(mut self) -> String {
        self.name.clear();
        std::mem::take(&mut self.url)
    }
}

impl Drop for TestDatabase {
    /// Drops the database at the end of its test, closing connections still open to it. It
    /// runs on a thread of its own: the test's runtime may be shutting down.
    fn drop(&mut self) {
        if self.name.is_empty() {
            return;
        }
        let name = std::mem::take(&mut self.name);
        let cleanup = std::thread::Builder::new().name("test-database-drop".into()).spawn(
            move || -> anyhow::Result<()> {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
                runtime.block_on(async {
                    tokio::time::timeout(DROP_WAIT, drop_named(&name))
                        .await
                        .map_err(|_| anyhow::anyhow!("no answer from PostgreSQL in {DROP_WAIT:?}"))?
                })
            },
        );
        let dropped = match cleanup {
            Ok(thread) => {
                thread.join().unwrap_or_else(|_| Err(anyhow::anyhow!("its clean-up thread panicked")))
            }
            Err(error) => Err(error.into()),
        };
        if let Err(error) = dropped {
            tracing::warn!(%error, "test database not dropped; a later run drops it");
        }
    }
}

/// How long dropping a test database may take before the test goes on without it.
const DROP_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

async fn drop_named(name: &str) -> anyhow::Result<()> {
    drop_on(&mut admin(&admin_url()).await?, name).await?;
    Ok(())
}

/// Drops database `name` over `admin`, closing connections still open to it.
async fn drop_on(admin: &mut PgConnection, name: &str) -> Result<(), sqlx::Error> {
    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    sqlx::query(AssertSqlSafe(sql)).execute(admin).await?;
    Ok(())
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
            let _ = drop_on(admin, &name).await;
        }
    }
    Ok(())
}

fn chrono_free_stamp() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn exists(name: &str) -> anyhow::Result<bool> {
        let mut admin = admin(&admin_url()).await?;
        let found: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname = $1")
            .bind(name)
            .fetch_one(&mut admin)
            .await?;
        Ok(found > 0)
    }

    #[tokio::test]
    async fn a_test_database_is_gone_once_its_value_is_dropped_even_with_a_connection_open()
    -> anyhow::Result<()> {
        let database = TestDatabase::create().await?;
        let name = database.name.clone();
        let pool = database.pool().await?;
        sqlx::query("SELECT 1").execute(&pool).await?;
        assert!(exists(&name).await?);

        drop(database);

        assert!(!exists(&name).await?, "{name} is still on the server");
        Ok(())
    }

    #[tokio::test]
    async fn a_kept_database_outlives_its_value() -> anyhow::Result<()> {
        let database = TestDatabase::create().await?;
        let name = database.name.clone();

        let url = database.keep();

        assert!(url.ends_with(&name), "{url}");
        assert!(exists(&name).await?, "{name} was dropped");
        drop_named(&name).await
    }

    #[tokio::test]
    async fn dropping_it_explicitly_drops_it_once() -> anyhow::Result<()> {
        let database = TestDatabase::create().await?;
        let name = database.name.clone();

        database.drop_database().await?;

        assert!(!exists(&name).await?, "{name} is still on the server");
        Ok(())
    }
}
