//! The thin tonic adapter: every call acts on the caller's tenant, as the caller's subject.

use std::time::Duration;

use switchboard_auth::Caller;
use switchboard_projection::{Deps, wait_for_checkpoint};
use switchboard_proto::{
    desk::v1::{
        ClaimRequest, ClaimResponse, Conversation as WireConversation, ListConversationsRequest,
        ListConversationsResponse, desk_server,
    },
    time::to_timestamp,
    to_status,
};
use tokio::sync::watch;
use tonic::{Request, Response, Status};

use crate::{
    Error, claim,
    conversation::Conversation,
    listing::{Query, wire_status},
    store,
};

/// How long a read waits for a requested sequence.
const READ_WAIT: Duration = Duration::from_secs(5);

pub struct DeskApi {
    deps: Deps,
    checkpoint: watch::Receiver<u64>,
}

impl DeskApi {
    pub(crate) fn new(deps: Deps, checkpoint: watch::Receiver<u64>) -> Self {
        Self { deps, checkpoint }
    }

    async fn list(
        &self,
        caller: &Caller,
        request: &ListConversationsRequest,
    ) -> Result<ListConversationsResponse, Error> {
        let query = Query::of(request, &caller.subject, chrono::Utc::now())?;
        if !wait_for_checkpoint(&self.checkpoint, request.min_sequence, READ_WAIT).await {
            return Err(Error::NotCaughtUp(request.min_sequence));
        }
        let mut rows = store::list(&self.deps.pool, &caller.tenant, &query).await?;
        let more = rows.len() > query.page_size as usize;
        rows.truncate(query.page_size as usize);
        let next_cursor = match rows.last() {
            Some(last) if more => store::sort_key_of(last).encode(),
            _ => String::new(),
        };
        Ok(ListConversationsResponse { conversations: rows.iter().map(wire).collect(), next_cursor })
    }
}

fn wire(c: &Conversation) -> WireConversation {
    WireConversation {
        conversation_id: c.conversation_id.clone(),
        customer_id: c.customer_id.clone(),
        channel: c.channel,
        status: wire_status(c.status()).into(),
        queue: c.queue.clone(),
        priority: c.priority,
        assignee: c.assignee.clone(),
        preview: c.preview.clone(),
        sla_due_at: c.sla_due_at().map(to_timestamp),
        sla_breached: c.sla_breached(),
        handoff_reason: c.handoff_reason.clone(),
        language: c.language.clone(),
        created_at: Some(to_timestamp(c.created_at)),
        updated_at: Some(to_timestamp(c.updated_at)),
        sequence: c.sequence,
    }
}

#[tonic::async_trait]
impl desk_server::Desk for DeskApi {
    async fn list_conversations(
        &self,
        request: Request<ListConversationsRequest>,
    ) -> Result<Response<ListConversationsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let page = self.list(&caller, request.get_ref()).await.map_err(|e| to_status(&e))?;
        Ok(Response::new(page))
    }

    async fn claim(&self, request: Request<ClaimRequest>) -> Result<Response<ClaimResponse>, Status> {
        let caller = Caller::of(&request)?;
        let id = request.into_inner().conversation_id;
        let claimed = claim::claim(&self.deps.bus, &self.deps.pool, &caller.tenant, &id, &caller.subject)
            .await
            .map_err(|e| to_status(&e))?;
        Ok(Response::new(ClaimResponse {
            conversation_id: id,
            agent_id: caller.subject,
            sequence: claimed.sequence,
            already_held: claimed.already_held,
        }))
    }
}
