//! The thin tonic adapter: every call acts on the caller's tenant, as the caller's subject.

use std::time::Duration;

use switchboard_auth::Caller;
use switchboard_projection::{Deps, wait_for_checkpoint};
use switchboard_proto::{
    desk::v1::{
        AddNoteRequest, AddNoteResponse, Agent, ApplyMacroRequest, ApplyMacroResponse, AssignRequest,
        AssignmentResponse, ClaimRequest, ClaimResponse, Conversation as WireConversation, ConversationView,
        DecideApprovalRequest, DecideApprovalResponse, DecideReturnRequest, DecideReturnResponse,
        DeleteMacroRequest, DeleteMacroResponse, GetConversationRequest, GetOverviewRequest, InboxChange,
        ListApprovalsRequest, ListApprovalsResponse, ListConversationsRequest, ListConversationsResponse,
        ListMacrosRequest, ListMacrosResponse, Macro, Overview, RecordAgentActivityRequest,
        RecordAgentActivityResponse, ReplyRequest, ReplyResponse, SaveMacroRequest, SetPresenceRequest,
        SetStatusRequest, SetStatusResponse, TransferRequest, UnassignRequest, WatchInboxRequest,
        desk_server,
    },
    events::v1::AgentUpdated,
    time::to_timestamp,
    to_status,
};
use tokio::sync::watch;
use tonic::{Request, Response, Status};

use crate::{
    Error, claim,
    conversation::Conversation,
    listing::{Query, wire_status},
    people::People,
    returns::{self, Asked},
    store,
};

/// How long a read waits for a requested sequence.
const READ_WAIT: Duration = Duration::from_secs(5);

pub struct DeskApi {
    deps: Deps,
    checkpoint: watch::Receiver<u64>,
    people: People,
}

impl DeskApi {
    pub(crate) fn new(deps: Deps, checkpoint: watch::Receiver<u64>, people: People) -> Self {
        Self { deps, checkpoint, people }
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

    async fn get_conversation(
        &self,
        _request: Request<GetConversationRequest>,
    ) -> Result<Response<ConversationView>, Status> {
        Err(Status::unimplemented("GetConversation: not built yet"))
    }

    async fn assign(&self, _request: Request<AssignRequest>) -> Result<Response<AssignmentResponse>, Status> {
        Err(Status::unimplemented("Assign: not built yet"))
    }

    async fn transfer(
        &self,
        _request: Request<TransferRequest>,
    ) -> Result<Response<AssignmentResponse>, Status> {
        Err(Status::unimplemented("Transfer: not built yet"))
    }

    async fn unassign(
        &self,
        _request: Request<UnassignRequest>,
    ) -> Result<Response<AssignmentResponse>, Status> {
        Err(Status::unimplemented("Unassign: not built yet"))
    }

    async fn reply(&self, _request: Request<ReplyRequest>) -> Result<Response<ReplyResponse>, Status> {
        Err(Status::unimplemented("Reply: not built yet"))
    }

    async fn add_note(&self, _request: Request<AddNoteRequest>) -> Result<Response<AddNoteResponse>, Status> {
        Err(Status::unimplemented("AddNote: not built yet"))
    }

    async fn set_status(
        &self,
        _request: Request<SetStatusRequest>,
    ) -> Result<Response<SetStatusResponse>, Status> {
        Err(Status::unimplemented("SetStatus: not built yet"))
    }

    async fn save_macro(&self, _request: Request<SaveMacroRequest>) -> Result<Response<Macro>, Status> {
        Err(Status::unimplemented("SaveMacro: not built yet"))
    }

    async fn list_macros(
        &self,
        _request: Request<ListMacrosRequest>,
    ) -> Result<Response<ListMacrosResponse>, Status> {
        Err(Status::unimplemented("ListMacros: not built yet"))
    }

    async fn delete_macro(
        &self,
        _request: Request<DeleteMacroRequest>,
    ) -> Result<Response<DeleteMacroResponse>, Status> {
        Err(Status::unimplemented("DeleteMacro: not built yet"))
    }

    async fn apply_macro(
        &self,
        _request: Request<ApplyMacroRequest>,
    ) -> Result<Response<ApplyMacroResponse>, Status> {
        Err(Status::unimplemented("ApplyMacro: not built yet"))
    }

    async fn list_approvals(
        &self,
        _request: Request<ListApprovalsRequest>,
    ) -> Result<Response<ListApprovalsResponse>, Status> {
        Err(Status::unimplemented("ListApprovals: not built yet"))
    }

    async fn decide_approval(
        &self,
        _request: Request<DecideApprovalRequest>,
    ) -> Result<Response<DecideApprovalResponse>, Status> {
        Err(Status::unimplemented("DecideApproval: not built yet"))
    }

    type WatchInboxStream =
        std::pin::Pin<Box<dyn futures::Stream<Item = Result<InboxChange, Status>> + Send>>;

    async fn watch_inbox(
        &self,
        _request: Request<WatchInboxRequest>,
    ) -> Result<Response<Self::WatchInboxStream>, Status> {
        Err(Status::unimplemented("WatchInbox: not built yet"))
    }

    async fn set_presence(&self, _request: Request<SetPresenceRequest>) -> Result<Response<Agent>, Status> {
        Err(Status::unimplemented("SetPresence: not built yet"))
    }

    async fn get_overview(
        &self,
        _request: Request<GetOverviewRequest>,
    ) -> Result<Response<Overview>, Status> {
        Err(Status::unimplemented("GetOverview: not built yet"))
    }

    async fn put_agent(&self, request: Request<AgentUpdated>) -> Result<Response<AgentUpdated>, Status> {
        let tenant = Caller::of(&request)?.tenant;
        let agent = request.into_inner();
        self.people.assigner.put_agent(&tenant, agent.clone()).await.map_err(|e| to_status(&e))?;
        Ok(Response::new(agent))
    }

    async fn record_agent_activity(
        &self,
        request: Request<RecordAgentActivityRequest>,
    ) -> Result<Response<RecordAgentActivityResponse>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let met =
            self.people.record(&caller, &r.conversation_id, r.activity()).await.map_err(|e| to_status(&e))?;
        Ok(Response::new(RecordAgentActivityResponse { met }))
    }

    async fn decide_return(
        &self,
        request: Request<DecideReturnRequest>,
    ) -> Result<Response<DecideReturnResponse>, Status> {
        let tenant = Caller::of(&request)?.tenant;
        let r = request.into_inner();
        let asked =
            Asked { return_id: &r.return_id, approve: r.approve, approver: &r.approver, reason: &r.reason };
        let verdict =
            returns::decide_return(&self.deps.bus, &tenant, &asked).await.map_err(|e| to_status(&e))?;
        Ok(Response::new(DecideReturnResponse { status: verdict.as_str().into() }))
    }
}
