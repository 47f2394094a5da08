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
        SetStatusRequest, SetStatusResponse, SignalTypingRequest, SignalTypingResponse, StatusChange,
        TransferRequest, TypingSignal, UnassignRequest, WatchInboxRequest, WatchTypingRequest, desk_server,
    },
    events::v1::AgentUpdated,
    time::to_timestamp,
    to_status,
};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::{
    Error, apply, approvals, claim,
    conversation::Conversation,
    handover, inbox,
    listing::{Query, wire_status},
    macro_calls, moves, overview,
    people::People,
    presence,
    returns::{self, Asked},
    status, store, typing,
    view::Views,
    work,
};

/// Answers with `result`, its error mapped to a status.
fn answer<T>(result: Result<T, Error>) -> Result<Response<T>, Status> {
    result.map(Response::new).map_err(|e| to_status(&e))
}

/// How long a read waits for a requested sequence.
const READ_WAIT: Duration = Duration::from_secs(5);

pub struct DeskApi {
    deps: Deps,
    checkpoint: watch::Receiver<u64>,
    views: Views,
    people: People,
    /// Ends the inbox streams when the service stops (a server waits for open streams).
    shutdown: CancellationToken,
}

impl DeskApi {
    pub(crate) fn new(
        deps: Deps,
        checkpoint: watch::Receiver<u64>,
        views: Views,
        people: People,
        shutdown: CancellationToken,
    ) -> Self {
        Self { deps, checkpoint, views, people, shutdown }
    }

    async fn caught_up(&self, sequence: u64) -> Result<(), Error> {
        if wait_for_checkpoint(&self.checkpoint, sequence, READ_WAIT).await {
            Ok(())
        } else {
            Err(Error::NotCaughtUp(sequence))
        }
    }

    async fn list(
        &self,
        caller: &Caller,
        request: &ListConversationsRequest,
    ) -> Result<ListConversationsResponse, Error> {
        let query = Query::of(request, &caller.subject, chrono::Utc::now())?;
        self.caught_up(request.min_sequence).await?;
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

pub(crate) fn wire(c: &Conversation) -> WireConversation {
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
        let (bus, pool, assigner) = (&self.deps.bus, &self.deps.pool, &self.people.assigner);
        let claimed = claim::claim(bus, pool, assigner, &caller.tenant, &id, &caller.subject)
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
        request: Request<GetConversationRequest>,
    ) -> Result<Response<ConversationView>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        answer(
            async {
                self.caught_up(r.min_sequence).await?;
                self.views.view(&caller.tenant, &r.conversation_id).await
            }
            .await,
        )
    }

    async fn assign(&self, request: Request<AssignRequest>) -> Result<Response<AssignmentResponse>, Status> {
        let caller = Caller::of(&request)?;
        answer(moves::assign(&self.people, &caller, request.get_ref()).await)
    }

    async fn transfer(
        &self,
        request: Request<TransferRequest>,
    ) -> Result<Response<AssignmentResponse>, Status> {
        let caller = Caller::of(&request)?;
        answer(moves::transfer(&self.people, &caller, request.get_ref()).await)
    }

    async fn unassign(
        &self,
        request: Request<UnassignRequest>,
    ) -> Result<Response<AssignmentResponse>, Status> {
        let caller = Caller::of(&request)?;
        answer(moves::unassign(&self.people, &caller, request.get_ref()).await)
    }

    async fn reply(&self, request: Request<ReplyRequest>) -> Result<Response<ReplyResponse>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        answer(
            async {
                let c = work::conversation(&self.deps.pool, &caller.tenant, &r.conversation_id).await?;
                let sent =
                    work::reply(&self.deps.bus, &caller, &c, &r.text, &r.article_ids, &r.idempotency_key)
                        .await?;
                status::answered(&self.people, &caller.tenant, &c.conversation_id).await?;
                Ok(ReplyResponse { reply_id: sent.id, sequence: sent.sequence })
            }
            .await,
        )
    }

    async fn add_note(&self, request: Request<AddNoteRequest>) -> Result<Response<AddNoteResponse>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        answer(
            async {
                let c = work::conversation(&self.deps.pool, &caller.tenant, &r.conversation_id).await?;
                let noted = work::add_note(&self.deps.bus, &caller, &c, &r.text).await?;
                Ok(AddNoteResponse { note_id: noted.id, sequence: noted.sequence })
            }
            .await,
        )
    }

    async fn set_status(
        &self,
        request: Request<SetStatusRequest>,
    ) -> Result<Response<SetStatusResponse>, Status> {
        let caller = Caller::of(&request)?;
        answer(status::set_status(&self.people, &caller, request.get_ref()).await)
    }

    async fn save_macro(&self, request: Request<SaveMacroRequest>) -> Result<Response<Macro>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let wire_macro = r.r#macro.unwrap_or_default();
        answer(
            async {
                let queue = wire_macro.actions.as_ref().map(|a| a.queue.trim()).unwrap_or_default();
                if !queue.is_empty() {
                    handover::known_queue(&self.deps.pool, &self.people.assigner, &caller.tenant, queue)
                        .await?;
                }
                let saved = macro_calls::save(
                    &self.deps.bus,
                    &caller.tenant,
                    &caller.subject,
                    &wire_macro,
                    r.expected_version,
                )
                .await?;
                Ok(macro_calls::wire(&saved))
            }
            .await,
        )
    }

    async fn list_macros(
        &self,
        request: Request<ListMacrosRequest>,
    ) -> Result<Response<ListMacrosResponse>, Status> {
        let caller = Caller::of(&request)?;
        let language = request.into_inner().language;
        answer(
            async {
                let macros = macro_calls::list(&self.deps.pool, &caller.tenant, &language).await?;
                Ok(ListMacrosResponse { macros: macros.iter().map(macro_calls::wire).collect() })
            }
            .await,
        )
    }

    async fn delete_macro(
        &self,
        request: Request<DeleteMacroRequest>,
    ) -> Result<Response<DeleteMacroResponse>, Status> {
        let caller = Caller::of(&request)?;
        let id = request.into_inner().macro_id;
        answer(
            macro_calls::delete(&self.deps.bus, &caller.tenant, &caller.subject, &id)
                .await
                .map(|_| DeleteMacroResponse {}),
        )
    }

    async fn apply_macro(
        &self,
        request: Request<ApplyMacroRequest>,
    ) -> Result<Response<ApplyMacroResponse>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let link =
            if r.article_id.is_empty() { String::new() } else { self.views.article_link(&r.article_id) };
        answer(
            async {
                let (mut response, stored, c) =
                    apply::apply(&self.deps.bus, &self.deps.pool, &caller, &r, link).await?;
                status::answered(&self.people, &caller.tenant, &c.conversation_id).await?;
                if !stored.body.queue.is_empty() && stored.body.queue != c.queue {
                    let note = format!("macro {}", stored.body.name);
                    let to_queue = TransferRequest {
                        conversation_id: c.conversation_id.clone(),
                        queue: stored.body.queue.clone(),
                        agent_id: String::new(),
                        note,
                    };
                    let moved = moves::transfer(&self.people, &caller, &to_queue).await?;
                    response.sequence = response.sequence.max(moved.sequence);
                }
                let change = status::change_named(&stored.body.set_status);
                if change != StatusChange::Unspecified {
                    let request = SetStatusRequest {
                        conversation_id: c.conversation_id.clone(),
                        status: change.into(),
                        reason: format!("macro {}", stored.body.macro_id),
                    };
                    let set = status::set_status(&self.people, &caller, &request).await?;
                    (response.status, response.sequence) = (set.status, set.sequence.max(response.sequence));
                }
                Ok(response)
            }
            .await,
        )
    }

    async fn list_approvals(
        &self,
        request: Request<ListApprovalsRequest>,
    ) -> Result<Response<ListApprovalsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let kind = request.into_inner().kind;
        let approvals = approvals::waiting(&self.deps.pool, &caller.tenant, &kind).await;
        answer(approvals.map(|approvals| ListApprovalsResponse { approvals }))
    }

    async fn decide_approval(
        &self,
        request: Request<DecideApprovalRequest>,
    ) -> Result<Response<DecideApprovalResponse>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        answer(
            async {
                let return_id = approvals::return_of(&r.approval_id)?;
                let approver = caller.subject.as_str();
                let asked = Asked { return_id, approve: r.approve, approver, reason: &r.reason };
                let verdict = returns::decide_return(&self.deps.bus, &caller.tenant, &asked).await?;
                Ok(DecideApprovalResponse { status: verdict.as_str().into() })
            }
            .await,
        )
    }

    type WatchInboxStream =
        std::pin::Pin<Box<dyn futures::Stream<Item = Result<InboxChange, Status>> + Send>>;

    async fn watch_inbox(
        &self,
        request: Request<WatchInboxRequest>,
    ) -> Result<Response<Self::WatchInboxStream>, Status> {
        let caller = Caller::of(&request)?;
        let after = request.into_inner().after_sequence;
        let changes = inbox::watch(
            self.deps.pool.clone(),
            self.checkpoint.clone(),
            self.shutdown.clone(),
            caller,
            after,
        )
        .await
        .map_err(|e| to_status(&Error::from(e)))?;
        Ok(Response::new(Box::pin(tokio_stream::wrappers::ReceiverStream::new(changes))))
    }

    type WatchTypingStream =
        std::pin::Pin<Box<dyn futures::Stream<Item = Result<TypingSignal, Status>> + Send>>;

    async fn watch_typing(
        &self,
        request: Request<WatchTypingRequest>,
    ) -> Result<Response<Self::WatchTypingStream>, Status> {
        let caller = Caller::of(&request)?;
        let id = request.into_inner().conversation_id;
        let signals = typing::watch(&self.deps.bus, &self.deps.pool, &caller, &id, self.shutdown.clone())
            .await
            .map_err(|e| to_status(&e))?;
        Ok(Response::new(Box::pin(tokio_stream::wrappers::ReceiverStream::new(signals))))
    }

    async fn signal_typing(
        &self,
        request: Request<SignalTypingRequest>,
    ) -> Result<Response<SignalTypingResponse>, Status> {
        let caller = Caller::of(&request)?;
        let id = request.into_inner().conversation_id;
        answer(
            typing::signal(&self.deps.bus, &self.deps.pool, &caller, &id)
                .await
                .map(|()| SignalTypingResponse {}),
        )
    }

    async fn set_presence(&self, request: Request<SetPresenceRequest>) -> Result<Response<Agent>, Status> {
        let caller = Caller::of(&request)?;
        answer(presence::set(&self.people, &caller, request.get_ref().presence()).await)
    }

    async fn get_overview(&self, request: Request<GetOverviewRequest>) -> Result<Response<Overview>, Status> {
        let caller = Caller::of(&request)?;
        let minutes = request.get_ref().sla_at_risk_minutes;
        answer(
            async {
                let (pool, tenant) = (&self.deps.pool, caller.tenant.as_str());
                let mut seen =
                    overview::queues(pool, tenant, &caller.subject, minutes, chrono::Utc::now()).await?;
                let agents = self.people.assigner.agents_of(tenant);
                seen.agents = agents.iter().map(|(id, agent)| overview::wire_agent(id, agent)).collect();
                seen.pending_approvals = approvals::waiting_count(pool, tenant).await?;
                Ok(seen)
            }
            .await,
        )
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
