//! The classifier's read model: every classification (for feedback), the tenants' models and
//! which is active, and agents' corrections.

use sqlx::PgConnection;
use switchboard_bus::tenant_of;
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

    async fn apply(&self, tx: &mut PgConnection, events: &[Applied]) -> Result<(), sqlx::Error> {
        for applied in events {
            let event = &applied.event;
            let at = to_datetime(event.occurred_at.as_ref());
            match &event.body {
                Some(Body::MessageClassified(classified)) => {
                    sqlx::query(
                        "INSERT INTO classifier.classifications
                             (message_id, conversation_id, intent, confidence, language, model_version, at, tenant, text,
                              language_reliable)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                         ON CONFLICT (tenant, message_id) DO UPDATE SET intent = EXCLUDED.intent,
                             confidence = EXCLUDED.confidence, language = EXCLUDED.language,
                             model_version = EXCLUDED.model_version, at = EXCLUDED.at",
                    )
                    .bind(&classified.message_id)
                    .bind(&classified.conversation_id)
                    .bind(&classified.intent)
                    .bind(classified.confidence)
                    .bind(&classified.language)
                    .bind(&classified.model_version)
                    .bind(at)
                    .bind(tenant_of(event))
                    .bind(&classified.text)
                    .bind(classified.language_reliable)
                    .execute(&mut *tx)
                    .await?;
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
        Ok(())
    }
}
