//! The tenants' intent models: training (artifact stored, then `ModelTrained`), activation
//! (`ModelActivated`, swapped into every running replica by `activations`), evaluation, and
//! agents' corrections (`IntentCorrected`), which later training can include.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};
use switchboard_bus::{DEFAULT_TENANT, Draft};
use switchboard_nlu::embed::{ENCODER_NAME, SentenceEncoder};
use switchboard_nlu::intent::{EncoderSpec, Example, IntentModel, TrainConfig, eval, train_with};
use switchboard_projection::{Deps, wait_for_checkpoint};
use switchboard_proto::events::v1::{IntentCorrected, ModelActivated, ModelTrained, event::Body};
use tokio::sync::{Semaphore, watch};
use uuid::Uuid;

use crate::Error;
use crate::understanding::{OUT_OF_SCOPE, Reading, Understanding, builtin_examples};

/// A stored model as the read model lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelRecord {
    pub model_id: String,
    pub tenant: String,
    pub labels: Vec<String>,
    pub training_examples: u32,
    pub feedback_examples: u32,
    pub encoder: String,
    pub bytes: u64,
    pub trained_at: chrono::DateTime<chrono::Utc>,
    pub sequence: u64,
}

/// What to train on.
#[derive(Debug, Clone, Default)]
pub struct TrainOrder {
    pub tenant: String,
    pub examples: Vec<Example>,
    pub include_builtin: bool,
    pub include_feedback: bool,
    pub oos_label: String,
    pub use_encoder: bool,
    pub min_sequence: u64,
}

pub struct Models {
    deps: Deps,
    builtin: Arc<Understanding>,
    active: RwLock<HashMap<String, Arc<Understanding>>>,
    encoder: Option<Arc<SentenceEncoder>>,
    /// One embedding at a time: candle already uses a thread per core.
    embedding: Semaphore,
    checkpoint: watch::Receiver<u64>,
    read_wait: Duration,
}

/// The id that activates the built-in model again.
pub const BUILTIN_ID: &str = "builtin";

pub fn tenant_of(tenant: &str) -> String {
    if tenant.is_empty() { DEFAULT_TENANT.to_owned() } else { tenant.to_owned() }
}

impl Models {
    pub fn new(
        deps: Deps,
        builtin: Arc<Understanding>,
        encoder: Option<Arc<SentenceEncoder>>,
        checkpoint: watch::Receiver<u64>,
        read_wait: Duration,
    ) -> Self {
        let active = RwLock::new(HashMap::new());
        Self { deps, builtin, active, encoder, embedding: Semaphore::new(1), checkpoint, read_wait }
    }

    pub fn builtin(&self) -> &Understanding {
        &self.builtin
    }

    /// The tenant's active model (the built-in one until another is activated).
    pub fn current(&self, tenant: &str) -> Arc<Understanding> {
        let active = self.active.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        active.get(&tenant_of(tenant)).cloned().unwrap_or_else(|| self.builtin.clone())
    }

    /// Reads a message with the tenant's model; embeddings, when the model wants one, run off
    /// the async threads, one at a time.
    pub async fn read(&self, tenant: &str, text: &str) -> Result<Reading, Error> {
        let understanding = self.current(tenant);
        if understanding.model().encoder().is_none() {
            return Ok(understanding.read(text, None));
        }
        let _permit = self.embedding.acquire().await.map_err(|_| Error::Interrupted)?;
        let encoder = self.encoder.clone();
        let text = text.to_owned();
        tokio::task::spawn_blocking(move || understanding.read(&text, encoder.as_deref()))
            .await
            .map_err(|_| Error::Interrupted)
    }

    /// The conversation's pinned language: the first reliably detected one, or `current` (this
    /// message's, when reliable) if there is none yet.
    pub async fn conversation_language(
        &self,
        tenant: &str,
        conversation_id: &str,
        current: Option<&str>,
    ) -> Result<Option<String>, Error> {
        let pinned: Option<(String,)> = sqlx::query_as(
            "SELECT language FROM classifier.classifications
             WHERE tenant = $1 AND conversation_id = $2 AND language_reliable ORDER BY at, message_id LIMIT 1",
        )
        .bind(tenant_of(tenant))
        .bind(conversation_id)
        .fetch_optional(&self.deps.pool)
        .await?;
        Ok(pinned.map(|(language,)| language).or_else(|| current.map(str::to_owned)))
    }

    pub async fn train(&self, order: TrainOrder) -> Result<ModelRecord, Error> {
        let tenant = tenant_of(&order.tenant);
        let (examples, feedback_examples) = self.training_set(&order, &tenant).await?;
        let encoder = match (order.use_encoder, &self.encoder) {
            (false, _) => None,
            (true, Some(encoder)) => Some(encoder.clone()),
            (true, None) => return Err(Error::NoEncoder),
        };
        let oos_label = if order.oos_label.is_empty() { OUT_OF_SCOPE.to_owned() } else { order.oos_label };
        let started = Instant::now();
        let count = examples.len();
        let model =
            tokio::task::spawn_blocking(move || train_model(&examples, oos_label, encoder.as_deref()))
                .await
                .map_err(|_| Error::Interrupted)??;
        let train_seconds = started.elapsed().as_secs_f32();
        let artifact = model.to_bytes();
        let sha256 = hex(&Sha256::digest(&artifact));
        let model_id = Uuid::now_v7().to_string();
        sqlx::query("INSERT INTO classifier.model_artifacts (model_id, tenant, artifact, sha256) VALUES ($1, $2, $3, $4)")
            .bind(&model_id)
            .bind(&tenant)
            .bind(&artifact)
            .bind(&sha256)
            .execute(&self.deps.pool)
            .await?;
        let trained = ModelTrained {
            model_id: model_id.clone(),
            labels: model.labels().to_vec(),
            training_examples: count as u32,
            feedback_examples,
            encoder: model.encoder().map(|e| e.name.clone()).unwrap_or_default(),
            sha256,
            bytes: artifact.len() as u64,
            oos_label: model.info.oos_label.clone().unwrap_or_default(),
            train_seconds,
        };
        let event = Draft::new(&tenant, &model_id, Body::ModelTrained(trained.clone())).build()?;
        let sequence = self.deps.bus.publish(&event).await?.sequence;
        tracing::info!(tenant, model_id, examples = count, train_seconds, "model trained");
        Ok(record(&tenant, trained, sequence))
    }

    async fn training_set(&self, order: &TrainOrder, tenant: &str) -> Result<(Vec<Example>, u32), Error> {
        let mut examples = order.examples.clone();
        if order.include_builtin {
            examples.extend(builtin_examples()?);
        }
        let mut feedback = 0;
        if order.include_feedback {
            self.caught_up(order.min_sequence).await?;
            let rows: Vec<(String, String)> =
                sqlx::query_as("SELECT text, intent FROM classifier.feedback WHERE tenant = $1 ORDER BY at")
                    .bind(tenant)
                    .fetch_all(&self.deps.pool)
                    .await?;
            feedback = rows.len() as u32;
            examples.extend(rows.into_iter().map(|(text, label)| Example { text, label }));
        }
        Ok((examples, feedback))
    }

    async fn caught_up(&self, sequence: u64) -> Result<(), Error> {
        if wait_for_checkpoint(&self.checkpoint, sequence, self.read_wait).await {
            Ok(())
        } else {
            Err(Error::NotCaughtUp(sequence))
        }
    }

    /// Publishes the activation and swaps the model in here at once (other replicas follow the event).
    pub async fn activate(&self, tenant: &str, model_id: &str) -> Result<ModelRecord, Error> {
        let tenant = tenant_of(tenant);
        let understanding = self.load(&tenant, model_id).await?;
        let previous_model_id = self.active_model_id(&tenant);
        let activated = ModelActivated { model_id: model_id.to_owned(), previous_model_id };
        let event = Draft::new(&tenant, &tenant, Body::ModelActivated(activated)).build()?;
        let sequence = self.deps.bus.publish(&event).await?.sequence;
        self.swap(&tenant, understanding);
        tracing::info!(tenant, model_id, "model activated");
        let mut record = match model_id {
            BUILTIN_ID => self.builtin_record(&tenant),
            _ => self.record(&tenant, model_id, sequence).await?,
        };
        record.sequence = sequence;
        Ok(record)
    }

    fn builtin_record(&self, tenant: &str) -> ModelRecord {
        let labels = self.builtin.model().labels().to_vec();
        ModelRecord {
            model_id: BUILTIN_ID.into(),
            tenant: tenant.into(),
            labels,
            training_examples: self.builtin.model().info.training_examples as u32,
            feedback_examples: 0,
            encoder: String::new(),
            bytes: 0,
            trained_at: chrono::Utc::now(),
            sequence: 0,
        }
    }

    /// Applies an activation seen on the bus.
    pub async fn apply_activation(&self, tenant: &str, model_id: &str) -> Result<(), Error> {
        if self.active_model_id(tenant) == model_id {
            return Ok(());
        }
        let understanding = self.load(tenant, model_id).await?;
        self.swap(tenant, understanding);
        tracing::info!(tenant, model_id, "model swapped in");
        Ok(())
    }

    fn swap(&self, tenant: &str, understanding: Arc<Understanding>) {
        let mut active = self.active.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        active.insert(tenant.to_owned(), understanding);
    }

    async fn load(&self, tenant: &str, model_id: &str) -> Result<Arc<Understanding>, Error> {
        if model_id == BUILTIN_ID {
            return Ok(self.builtin.clone());
        }
        let row: Option<(Vec<u8>,)> = sqlx::query_as(
            "SELECT artifact FROM classifier.model_artifacts WHERE model_id = $1 AND tenant = $2",
        )
        .bind(model_id)
        .bind(tenant)
        .fetch_optional(&self.deps.pool)
        .await?;
        let (artifact,) = row.ok_or_else(|| Error::NotFound(format!("model {model_id}")))?;
        let model = IntentModel::from_bytes(&artifact)
            .map_err(|e| Error::Corrupt(model_id.to_owned(), e.to_string()))?;
        if model.encoder().is_some() && self.encoder.is_none() {
            return Err(Error::NoEncoder);
        }
        Ok(Arc::new(Understanding::new(model, model_id.to_owned())))
    }

    async fn record(&self, tenant: &str, model_id: &str, sequence: u64) -> Result<ModelRecord, Error> {
        self.caught_up(sequence).await?;
        self.list(tenant, 0)
            .await?
            .into_iter()
            .find(|m| m.model_id == model_id)
            .ok_or_else(|| Error::NotFound(format!("model {model_id}")))
    }

    /// The tenant's models, newest first.
    pub async fn list(&self, tenant: &str, min_sequence: u64) -> Result<Vec<ModelRecord>, Error> {
        self.caught_up(min_sequence).await?;
        let rows: Vec<ModelRow> = sqlx::query_as(
            "SELECT model_id, tenant, labels, training_examples, feedback_examples, encoder, bytes, trained_at, sequence
             FROM classifier.models WHERE tenant = $1 ORDER BY trained_at DESC, model_id DESC",
        )
        .bind(tenant_of(tenant))
        .fetch_all(&self.deps.pool)
        .await?;
        Ok(rows.into_iter().map(ModelRow::into_record).collect())
    }

    /// The active model's id ([`BUILTIN_ID`] for the built-in one).
    pub fn active_model_id(&self, tenant: &str) -> String {
        let current = self.current(tenant);
        if Arc::ptr_eq(&current, &self.builtin) {
            BUILTIN_ID.to_owned()
        } else {
            current.version().to_owned()
        }
    }

    pub async fn evaluate(
        &self,
        tenant: &str,
        model_id: &str,
        examples: Vec<Example>,
        oos_label: &str,
    ) -> Result<(eval::Report, String), Error> {
        let tenant = tenant_of(tenant);
        let understanding =
            if model_id.is_empty() { self.current(&tenant) } else { self.load(&tenant, model_id).await? };
        if examples.is_empty() {
            return Err(Error::InvalidArgument("no examples to evaluate".into()));
        }
        let encoder = self.encoder.clone();
        let oos = (!oos_label.is_empty()).then(|| oos_label.to_owned());
        let version = understanding.version().to_owned();
        let report = tokio::task::spawn_blocking(move || {
            eval::evaluate(understanding.model(), &examples, oos.as_deref(), encoder.as_deref())
        })
        .await
        .map_err(|_| Error::Interrupted)?
        .map_err(|e| Error::Encoder(e.to_string()))?;
        Ok((report, version))
    }

    /// Records a correction of a classified message, with that message's own text. Only a
    /// `curator` (who may manage models) may give other text, or correct a message the classifier
    /// never saw: that adds a training example. Returns the event's sequence.
    pub async fn submit_feedback(
        &self,
        tenant: &str,
        correction: IntentCorrected,
        curator: bool,
    ) -> Result<u64, Error> {
        let tenant = tenant_of(tenant);
        let mut correction = correction;
        if correction.message_id.is_empty() || correction.intent.trim().is_empty() {
            return Err(Error::InvalidArgument("message_id and intent are required".into()));
        }
        let known: Option<(String, String)> = sqlx::query_as(
            "SELECT text, intent FROM classifier.classifications WHERE message_id = $1 AND tenant = $2",
        )
        .bind(&correction.message_id)
        .bind(&tenant)
        .fetch_optional(&self.deps.pool)
        .await?;
        match (known, correction.text.trim().is_empty()) {
            (Some((text, intent)), empty) => {
                if empty || !curator {
                    correction.text = text;
                }
                correction.previous_intent = intent;
            }
            (None, false) if curator => {}
            (None, _) => return Err(Error::NotFound(format!("message {}", correction.message_id))),
        }
        if correction.text.len() > switchboard_nlu::intent::MAX_TEXT_BYTES {
            return Err(Error::InvalidArgument("text is too long".into()));
        }
        let message_id = correction.message_id.clone();
        let event = Draft::new(&tenant, message_id, Body::IntentCorrected(correction)).build()?;
        Ok(self.deps.bus.publish(&event).await?.sequence)
    }
}

fn train_model(
    examples: &[Example],
    oos_label: String,
    encoder: Option<&SentenceEncoder>,
) -> Result<IntentModel, Error> {
    let config = TrainConfig { oos_label: Some(oos_label), ..TrainConfig::default() };
    let embed = |texts: &[&str]| -> Result<Vec<Vec<f32>>, String> {
        encoder.map_or(Ok(Vec::new()), |e| e.embed(texts).map_err(|e| e.to_string()))
    };
    let spec = encoder.map(|encoder| {
        let spec = EncoderSpec { name: ENCODER_NAME.into(), dimensions: encoder.dimensions(), weight: 1.0 };
        (spec, &embed as switchboard_nlu::intent::Embedder<'_>)
    });
    train_with(examples, None, &config, spec).map_err(|e| Error::InvalidArgument(e.to_string()))
}

fn record(tenant: &str, trained: ModelTrained, sequence: u64) -> ModelRecord {
    ModelRecord {
        model_id: trained.model_id,
        tenant: tenant.to_owned(),
        labels: trained.labels,
        training_examples: trained.training_examples,
        feedback_examples: trained.feedback_examples,
        encoder: trained.encoder,
        bytes: trained.bytes,
        trained_at: chrono::Utc::now(),
        sequence,
    }
}

#[derive(sqlx::FromRow)]
struct ModelRow {
    model_id: String,
    tenant: String,
    labels: Vec<String>,
    training_examples: i32,
    feedback_examples: i32,
    encoder: String,
    bytes: i64,
    trained_at: chrono::DateTime<chrono::Utc>,
    sequence: i64,
}

impl ModelRow {
    fn into_record(self) -> ModelRecord {
        ModelRecord {
            model_id: self.model_id,
            tenant: self.tenant,
            labels: self.labels,
            training_examples: self.training_examples.max(0) as u32,
            feedback_examples: self.feedback_examples.max(0) as u32,
            encoder: self.encoder,
            bytes: self.bytes.max(0) as u64,
            trained_at: self.trained_at,
            sequence: self.sequence.max(0) as u64,
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
