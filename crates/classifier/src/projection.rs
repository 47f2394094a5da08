//! Every classification, for feedback and training later.

use sqlx::PgConnection;
use switchboard_projection::{Applied, Projection};
use switchboard_proto::{events::v1::event::Body, time::to_datetime};

pub struct ClassifierProjection;

impl Projection for ClassifierProjection {
    fn name(&self) -> &'static str {
        "classifier-projection"
    }

    fn schema(&self) -> &'static str {
        "classifier"
    }

    fn subjects(&self) -> Vec<String> {
        vec!["switchboard.events.classification.>".into()]
    }

    fn tables(&self) -> &'static [&'static str] {
        &["classifier.classifications"]
    }

    async fn apply(&self, tx: &mut PgConnection, events: &[Applied]) -> Result<(), sqlx::Error> {
        for applied in events {
            let Some(Body::MessageClassified(classified)) = &applied.event.body else {
                continue;
            };
            sqlx::query(
                "INSERT INTO classifier.classifications
                     (message_id, conversation_id, intent, confidence, language, model_version, at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (message_id) DO UPDATE SET intent = EXCLUDED.intent,
                     confidence = EXCLUDED.confidence, language = EXCLUDED.language,
                     model_version = EXCLUDED.model_version, at = EXCLUDED.at",
            )
            .bind(&classified.message_id)
            .bind(&classified.conversation_id)
            .bind(&classified.intent)
            .bind(classified.confidence)
            .bind(&classified.language)
            .bind(&classified.model_version)
            .bind(to_datetime(applied.event.occurred_at.as_ref()))
            .execute(&mut *tx)
            .await?;
        }
        Ok(())
    }
}
