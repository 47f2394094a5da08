//! The read models as rows, to compare a live one with its replay.

use sqlx::{AssertSqlSafe, PgPool};
use switchboard_server::Service;

/// The tables the replay test's traffic fills, by service.
pub const TABLES: &[(Service, &[&str])] = &[
    (
        Service::Intake,
        &["intake.conversations", "intake.messages", "intake.classifications", "intake.routings"],
    ),
    (Service::Classifier, &["classifier.classifications"]),
    (Service::Router, &["router.decisions", "router.contacts", "router.turns"]),
    (Service::Knowledge, &["knowledge.articles", "knowledge.article_versions"]),
    (Service::Notifier, &["notifier.deliveries"]),
    (
        Service::Analytics,
        &["analytics.counts", "analytics.knowledge_queries", "analytics.conversations", "analytics.rollups"],
    ),
    (
        Service::Desk,
        &[
            "desk.conversations",
            "desk.entries",
            "desk.details",
            "desk.customers",
            "desk.orders",
            "desk.macros",
        ],
    ),
];

/// Each read-model table's rows (every service's, as its projection names them) as sorted JSON,
/// and each checkpoint; with `filled`, each of [`TABLES`] must have rows (so that the comparison
/// compares something).
pub async fn snapshot(pool: &PgPool, filled: bool) -> anyhow::Result<Vec<String>> {
    let mut rows = Vec::new();
    for service in Service::ALL {
        for table in switchboard_server::tables(service) {
            let sql = format!("SELECT row_to_json(t)::text FROM {table} t ORDER BY 1");
            let table_rows: Vec<String> = sqlx::query_scalar(AssertSqlSafe(sql)).fetch_all(pool).await?;
            let required = TABLES.iter().any(|(_, tables)| tables.contains(table));
            assert!(!filled || !required || !table_rows.is_empty(), "{table} has rows to compare");
            rows.extend(table_rows.into_iter().map(|row| format!("{table}: {row}")));
        }
        let sql =
            format!("SELECT projection || '=' || sequence FROM {}.projection_checkpoints", service.name());
        rows.extend(sqlx::query_scalar::<_, String>(AssertSqlSafe(sql)).fetch_all(pool).await?);
    }
    Ok(rows)
}
