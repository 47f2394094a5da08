//! The classifier's read model: every classification (for feedback), the tenants' models and
//! which is active, and agents' corrections.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use switchboard_bus::tenant_of;
use switchboard_projection::{Applied, Projection, last_of_each};
use switchboard_proto::{
    events::v1::{MessageClassified, event::Body},
    time::to_datetime,
};

pub struct ClassifierProjection;

impl Projection for ClassifierProjection {
    fn name(&self) -> &'static str {
        "classifier-projection"
    }

    fn schema(&self) -> &'static str {
        "classifier"
    }

    fn subjects(&self) -> Vec<String> {
        ["classification", "model", "model-activation", "intent-feedback"]
            .iter()
            .map(|aggregate| format!("switchboard.events.{aggregate}.>"))
            .collect()
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "classifier.classifications",
            "classifier.models",
            "classifier.active_models",
            "classifier.feedback",
        ]
    }

    /// A batch's classifications are written with one statement (see [`classifications`]);
    /// nothing else the batch writes reads them.
    async fn apply(&self, tx: &mut PgConnection, events: &[Applied]) -> Result<(), sqlx::Error> {
        let mut classifications = Vec::new();
        for applied in events {
            let event = &applied.event;
            let at = to_datetime(event.occurred_at.as_ref());
            match &event.body {
                Some(Body::MessageClassified(classified)) => {
                    classifications.push((tenant_of(event), classified, at))
                }
                Some(Body::ModelTrained(trained)) => {
                    sqlx::query(
                        "INSERT INTO classifier.models (model_id, tenant, labels, training_examples,
                             feedback_examples, encoder, bytes, trained_at, sequence)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (tenant, model_id) DO NOTHING",
                    )
                    .bind(&trained.model_id)
                    .bind(tenant_of(event))
                    .bind(&trained.labels)
                    .bind(trained.training_examples as i32)
                    .bind(trained.feedback_examples as i32)
                    .bind(&trained.encoder)
                    .bind(trained.bytes as i64)
                    .bind(at)
                    .bind(applied.sequence as i64)
                    .execute(&mut *tx)
                    .await?;
                }
                Some(Body::ModelActivated(activated)) => {
                    sqlx::query(
                        "INSERT INTO classifier.active_models (tenant, model_id, activated_at) VALUES ($1, $2, $3)
                         ON CONFLICT (tenant) DO UPDATE SET model_id = EXCLUDED.model_id,
                             activated_at = EXCLUDED.activated_at",
                    )
                    .bind(tenant_of(event))
                    .bind(&activated.model_id)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                }
                Some(Body::IntentCorrected(corrected)) => {
                    sqlx::query(
                        "INSERT INTO classifier.feedback (message_id, tenant, text, intent, agent_id, at)
                         VALUES ($1, $2, $3, $4, $5, $6)
                         ON CONFLICT (tenant, message_id) DO UPDATE SET text = EXCLUDED.text, intent = EXCLUDED.intent,
                             agent_id = EXCLUDED.agent_id, at = EXCLUDED.at",
                    )
                    .bind(&corrected.message_id)
                    .bind(tenant_of(event))
                    .bind(&corrected.text)
                    .bind(&corrected.intent)
                    .bind(&corrected.agent_id)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                }
                _ => {}
            }
        }
        if !classifications.is_empty() {
            write_classifications(tx, classifications).await?;
        }
        Ok(())
    }
}

/// Messages classified in one batch, written with one statement; of a message classified again
/// (redelivered) the last is kept, as one upsert each would have left.
async fn write_classifications(
    tx: &mut PgConnection,
    batch: Vec<(&str, &MessageClassified, DateTime<Utc>)>,
) -> Result<(), sqlx::Error> {
    let mut rows = Columns::default();
    for (tenant, classified, at) in
        last_of_each(batch, |(tenant, classified, _)| (*tenant, classified.message_id.as_str()))
    {
        rows.push(tenant, classified, at);
    }
    sqlx::query(
        "INSERT INTO classifier.classifications
             (message_id, conversation_id, intent, confidence, language, model_version, at, tenant, text,
              language_reliable)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::real[], $5::text[], $6::text[],
             $7::timestamptz[], $8::text[], $9::text[], $10::bool[])
         ON CONFLICT (tenant, message_id) DO UPDATE SET intent = EXCLUDED.intent,
             confidence = EXCLUDED.confidence, language = EXCLUDED.language,
             model_version = EXCLUDED.model_version, at = EXCLUDED.at",
    )
    .bind(rows.messages)
    .bind(rows.conversations)
    .bind(rows.intents)
    .bind(rows.confidences)
    .bind(rows.languages)
    .bind(rows.model_versions)
    .bind(rows.at)
    .bind(rows.tenants)
    .bind(rows.texts)
    .bind(rows.reliable)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A batch's classifications as one array per column.
#[derive(Default)]
struct Columns<'a> {
    messages: Vec<&'a str>,
    conversations: Vec<&'a str>,
    intents: Vec<&'a str>,
    confidences: Vec<f32>,
    languages: Vec<&'a str>,
    model_versions: Vec<&'a str>,
    at: Vec<DateTime<Utc>>,
    tenants: Vec<&'a str>,
    texts: Vec<&'a str>,
    reliable: Vec<bool>,
}

impl<'a> Columns<'a> {
    fn push(&mut self, tenant: &'a str, classified: &'a MessageClassified, at: DateTime<Utc>) {
        self.messages.push(&classified.message_id);
        self.conversations.push(&classified.conversation_id);
        self.intents.push(&classified.intent);
        self.confidences.push(classified.confidence);
        self.languages.push(&classified.language);
        self.model_versions.push(&classified.model_version);
        self.at.push(at);
        self.tenants.push(tenant);
        self.texts.push(&classified.text);
        self.reliable.push(classified.language_reliable);
    }
}

#[cfg(test)]
mod tests {
    use switchboard_proto::events::v1::Event;

    use super::*;

    type Result = std::result::Result<(), Box<dyn std::error::Error>>;

    fn classified(sequence: u64, tenant: &str, message_id: &str, intent: &str) -> Applied {
        let body = Body::MessageClassified(MessageClassified {
            message_id: message_id.into(),
            conversation_id: "c-1".into(),
            intent: intent.into(),
            text: "hello".into(),
            language_reliable: true,
            ..MessageClassified::default()
        });
        Applied { sequence, event: Event { tenant: tenant.into(), body: Some(body), ..Event::default() } }
    }

    /// Given one batch where a message is classified twice (a redelivery) and another tenant has
    /// a message of the same id, when it is applied, then each tenant's message has one row and
    /// the twice-classified one holds the later reading.
    #[tokio::test]
    async fn a_batch_keeps_the_later_classification_of_a_message() -> Result {
        let database = switchboard_testkit::TestDatabase::create().await?;
        let pool = database.pool().await?;
        crate::migrate_schema(&pool).await?;
        let batch = [
            classified(1, "acme", "m-1", "greeting"),
            classified(2, "globex", "m-1", "billing"),
            classified(3, "acme", "m-1", "order_status"),
        ];

        let mut tx = pool.begin().await?;
        ClassifierProjection.apply(&mut tx, &batch).await?;
        tx.commit().await?;

        let rows: Vec<(String, String, bool)> = sqlx::query_as(
            "SELECT tenant, intent, language_reliable FROM classifier.classifications ORDER BY tenant",
        )
        .fetch_all(&pool)
        .await?;
        assert_eq!(
            rows,
            [("acme".into(), "order_status".into(), true), ("globex".into(), "billing".into(), true)]
        );
        pool.close().await;
        database.drop_database().await?;
        Ok(())
    }
}
