//! The thin tonic adapter over the models.

use std::sync::Arc;

use switchboard_auth::Caller;
use switchboard_nlu::intent::{Example, MAX_TEXT_BYTES};
use switchboard_proto::classifier::v1::{
    ActivateModelRequest, ClassifyRequest, ClassifyResponse, EvaluateRequest, EvaluateResponse, LabelledText,
    ListModelsRequest, ListModelsResponse, Model, SubmitFeedbackRequest, SubmitFeedbackResponse,
    TrainRequest, classifier_server,
};
use switchboard_proto::events::v1::IntentCorrected;
use switchboard_proto::{time::to_timestamp, to_status};
use tonic::{Request, Response, Status};

use crate::{ModelRecord, Models, TrainOrder};

/// Examples one Train or Evaluate call may carry.
const MAX_EXAMPLES: usize = 200_000;

pub struct ClassifierApi {
    models: Arc<Models>,
}

impl ClassifierApi {
    pub(crate) fn new(models: Arc<Models>) -> Self {
        Self { models }
    }

    fn model(&self, record: ModelRecord) -> Model {
        let active = self.models.active_model_id(&record.tenant) == record.model_id;
        Model {
            model_id: record.model_id,
            tenant: record.tenant,
            labels: record.labels,
            training_examples: record.training_examples,
            feedback_examples: record.feedback_examples,
            encoder: record.encoder,
            bytes: record.bytes,
            trained_at: Some(to_timestamp(record.trained_at)),
            active,
            sequence: record.sequence,
        }
    }
}

fn check_text(text: &str) -> Result<(), Status> {
    if text.trim().is_empty() {
        return Err(Status::invalid_argument("text is empty"));
    }
    if text.len() > MAX_TEXT_BYTES {
        return Err(Status::invalid_argument(format!(
            "text is {} bytes; at most {MAX_TEXT_BYTES} are accepted",
            text.len()
        )));
    }
    Ok(())
}

fn examples(labelled: Vec<LabelledText>) -> Result<Vec<Example>, Status> {
    if labelled.len() > MAX_EXAMPLES {
        return Err(Status::invalid_argument(format!("at most {MAX_EXAMPLES} examples per call")));
    }
    labelled
        .into_iter()
        .enumerate()
        .map(|(index, LabelledText { text, label })| {
            check_text(&text)
                .map_err(|s| Status::invalid_argument(format!("example {index}: {}", s.message())))?;
            if label.trim().is_empty() {
                return Err(Status::invalid_argument(format!("example {index}: label is empty")));
            }
            Ok(Example { text, label })
        })
        .collect()
}

#[tonic::async_trait]
impl classifier_server::Classifier for ClassifierApi {
    async fn classify(
        &self,
        request: Request<ClassifyRequest>,
    ) -> Result<Response<ClassifyResponse>, Status> {
        let caller = Caller::of(&request)?;
        let ClassifyRequest { text, tenant } = request.into_inner();
        let tenant = caller.tenant_for(&tenant)?;
        check_text(&text)?;
        let reading = self.models.read(&tenant, &text).await.map_err(|e| to_status(&e))?;
        Ok(Response::new(ClassifyResponse {
            intent: reading.intent,
            confidence: reading.confidence,
            alternatives: reading.alternatives,
            language: reading.language,
            model_version: reading.model_version,
            out_of_scope: reading.out_of_scope,
            feeling: Some(reading.feeling),
            entities: reading.entities,
            language_reliable: reading.language_reliable,
        }))
    }

    async fn train(&self, request: Request<TrainRequest>) -> Result<Response<Model>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let order = TrainOrder {
            tenant: caller.tenant_for(&request.tenant)?,
            examples: examples(request.examples)?,
            include_builtin: request.include_builtin,
            include_feedback: request.include_feedback,
            oos_label: request.oos_label,
            use_encoder: request.use_encoder,
            min_sequence: request.min_sequence,
        };
        let mut record = self.models.train(order).await.map_err(|e| to_status(&e))?;
        if request.activate {
            let sequence = record.sequence;
            record =
                self.models.activate(&record.tenant, &record.model_id).await.map_err(|e| to_status(&e))?;
            record.sequence = record.sequence.max(sequence);
        }
        Ok(Response::new(self.model(record)))
    }

    async fn evaluate(
        &self,
        request: Request<EvaluateRequest>,
    ) -> Result<Response<EvaluateResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let tenant = caller.tenant_for(&request.tenant)?;
        let examples = examples(request.examples)?;
        let (report, version) = self
            .models
            .evaluate(&tenant, &request.model_id, examples, &request.oos_label)
            .await
            .map_err(|e| to_status(&e))?;
        Ok(Response::new(EvaluateResponse {
            n: report.n as u32,
            accuracy: report.accuracy,
            macro_f1: report.macro_f1,
            in_scope_accuracy: report.in_scope_accuracy,
            oos_recall: report.oos_recall,
            p50_us: report.p50_us,
            p99_us: report.p99_us,
            model_version: version,
        }))
    }

    async fn list_models(
        &self,
        request: Request<ListModelsRequest>,
    ) -> Result<Response<ListModelsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let ListModelsRequest { tenant, min_sequence } = request.into_inner();
        let tenant = caller.tenant_for(&tenant)?;
        let records = self.models.list(&tenant, min_sequence).await.map_err(|e| to_status(&e))?;
        Ok(Response::new(ListModelsResponse {
            models: records.into_iter().map(|record| self.model(record)).collect(),
            active_model_id: self.models.active_model_id(&tenant),
            builtin_version: self.models.builtin().version().to_owned(),
        }))
    }

    async fn activate_model(
        &self,
        request: Request<ActivateModelRequest>,
    ) -> Result<Response<Model>, Status> {
        let caller = Caller::of(&request)?;
        let ActivateModelRequest { tenant, model_id } = request.into_inner();
        let tenant = caller.tenant_for(&tenant)?;
        if model_id.is_empty() {
            return Err(Status::invalid_argument("model_id is required"));
        }
        let record = self.models.activate(&tenant, &model_id).await.map_err(|e| to_status(&e))?;
        Ok(Response::new(self.model(record)))
    }

    async fn submit_feedback(
        &self,
        request: Request<SubmitFeedbackRequest>,
    ) -> Result<Response<SubmitFeedbackResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let tenant = caller.tenant_for(&request.tenant)?;
        let correction = IntentCorrected {
            message_id: request.message_id,
            text: request.text,
            intent: request.intent,
            previous_intent: String::new(),
            agent_id: caller.agent_for(&request.agent_id)?,
        };
        let curator = caller.role.grants(switchboard_auth::Right::ManageModels);
        let sequence =
            self.models.submit_feedback(&tenant, correction, curator).await.map_err(|e| to_status(&e))?;
        Ok(Response::new(SubmitFeedbackResponse { sequence }))
    }
}
