//! The thin tonic adapter over the model.

use switchboard_proto::classifier::v1::{ClassifyRequest, ClassifyResponse, classifier_server};
use tonic::{Request, Response, Status};

use crate::model::classify;

/// Longest text `Classify` accepts, in bytes (as intake).
const MAX_TEXT_BYTES: usize = 32 * 1024;

pub struct ClassifierApi;

#[tonic::async_trait]
impl classifier_server::Classifier for ClassifierApi {
    async fn classify(
        &self,
        request: Request<ClassifyRequest>,
    ) -> Result<Response<ClassifyResponse>, Status> {
        let text = request.into_inner().text;
        if text.trim().is_empty() {
            return Err(Status::invalid_argument("text is empty"));
        }
        if text.len() > MAX_TEXT_BYTES {
            return Err(Status::invalid_argument(format!(
                "text is {} bytes; at most {MAX_TEXT_BYTES} are accepted",
                text.len()
            )));
        }
        let reading = classify(&text);
        Ok(Response::new(ClassifyResponse {
            intent: reading.intent,
            confidence: reading.confidence,
            alternatives: reading.alternatives,
            language: reading.language,
            model_version: reading.model_version,
        }))
    }
}
