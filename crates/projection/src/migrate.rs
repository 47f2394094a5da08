//! Per-schema migrations, recorded in `<schema>.schema_migrations`, applied under an advisory lock
//! and without the pool's statement and lock timeouts.

use sqlx::{AssertSqlSafe, PgPool};

use crate::Error;

/// One forward-only migration. `sql` may hold several statements and names the schema explicitly.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Creates the schema with its bookkeeping tables and applies the migrations not yet applied.
pub async fn migrate(pool: &PgPool, schema: &str, migrations: &[Migration]) -> Result<(), Error> {
    let mut tx = pool.begin().await?;
    // A migration may rewrite a large table, or wait for another process's: no limit applies.
    sqlx::raw_sql("SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0").execute(&mut *tx).await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))").bind(schema).execute(&mut *tx).await?;
    let setup = format!(
        "CREATE SCHEMA IF NOT EXISTS {schema};
         CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
             version BIGINT PRIMARY KEY, name TEXT NOT NULL,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now());
         CREATE TABLE IF NOT EXISTS {schema}.projection_checkpoints (
             projection TEXT PRIMARY KEY, sequence BIGINT NOT NULL);
         ALTER TABLE {schema}.projection_checkpoints
             ADD COLUMN IF NOT EXISTS epoch BIGINT NOT NULL DEFAULT 0;"
    );
    sqlx::raw_sql(AssertSqlSafe(setup)).execute(&mut *tx).await?;
    let applied: Vec<i64> =
        sqlx::query_scalar(AssertSqlSafe(format!("SELECT version FROM {schema}.schema_migrations")))
            .fetch_all(&mut *tx)
            .await?;
    for migration in migrations.iter().filter(|m| !applied.contains(&m.version)) {
        apply(&mut tx, schema, migration).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn apply(tx: &mut sqlx::PgConnection, schema: &str, migration: &Migration) -> Result<(), Error> {
    let failed = |source| Error::Migration {
        schema: schema.to_string(),
        version: migration.version,
        name: migration.name,
        source,
    };
    sqlx::raw_sql(AssertSqlSafe(migration.sql)).execute(&mut *tx).await.map_err(failed)?;
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO {schema}.schema_migrations (version, name) VALUES ($1, $2)"
    )))
    .bind(migration.version)
    .bind(migration.name)
    .execute(&mut *tx)
    .await
    .map_err(failed)?;
    tracing::info!(schema, version = migration.version, name = migration.name, "migration applied");
    Ok(())
}
