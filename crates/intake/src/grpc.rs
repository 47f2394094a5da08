//! The thin tonic adapter over [`Intake`].

use std::sync::Arc;

use switchboard_auth::Caller;
use switchboard_proto::{
    events::v1::Channel,
    intake::v1::{
        Conversation, GetConversationRequest, SendAgentReplyRequest, SendAgentReplyResponse,
        SubmitMessageRequest, SubmitMessageResponse, intake_server,
    },
    to_status,
};
use tonic::{Request, Response, Status};

use crate::domain::{Intake, Submission};

pub struct IntakeApi {
    intake: Arc<Intake>,
}

impl IntakeApi {
    pub(crate) fn new(intake: Arc<Intake>) -> Self {
        Self { intake }
    }
}

#[tonic::async_trait]
impl intake_server::Intake for IntakeApi {
    async fn submit_message(
        &self,
        request: Request<SubmitMessageRequest>,
    ) -> Result<Response<SubmitMessageResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let channel = Channel::try_from(request.channel)
            .map_err(|_| Status::invalid_argument(format!("unknown channel {}", request.channel)))?;
        let submission = Submission {
            tenant: caller.tenant_for(&request.tenant)?,
            channel,
            customer_id: request.customer_id,
            text: request.text,
            idempotency_key: request.idempotency_key,
            conversation_id: request.conversation_id,
            email: None,
            customer_verified: request.customer_verified,
            language: request.language,
        };
        let submitted = self.intake.submit(submission).await.map_err(|e| to_status(&e))?;
        Ok(Response::new(SubmitMessageResponse {
            conversation_id: submitted.conversation_id,
            message_id: submitted.message_id,
            duplicate: submitted.duplicate,
            sequence: submitted.sequence,
        }))
    }

    async fn get_conversation(
        &self,
        request: Request<GetConversationRequest>,
    ) -> Result<Response<Conversation>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        if request.conversation_id.is_empty() {
            return Err(Status::invalid_argument("conversation_id is required"));
        }
        let conversation = self
            .intake
            .conversation(&caller.tenant, &request.conversation_id, request.min_sequence)
            .await
            .map_err(|e| to_status(&e))?;
        Ok(Response::new(conversation))
    }

    async fn send_agent_reply(
        &self,
        request: Request<SendAgentReplyRequest>,
    ) -> Result<Response<SendAgentReplyResponse>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let agent_id = caller.agent_for(&r.agent_id)?;
        let replied = self
            .intake
            .send_agent_reply(&caller.tenant, &r.conversation_id, &agent_id, &r.text, &r.idempotency_key)
            .await
            .map_err(|e| to_status(&e))?;
        Ok(Response::new(SendAgentReplyResponse { reply_id: replied.reply_id, duplicate: replied.duplicate }))
    }
}
