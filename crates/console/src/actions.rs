//! `/console/api/…` that change something: working a conversation, deciding an approval, one's
//! presence. Each answer carries the change's stream `sequence`, which the browser passes as
//! `min_sequence` to read its own write.

use axum::{
    Json,
    extract::{Path, State},
};
use serde::Deserialize;
use serde_json::json;
use switchboard_proto::desk::v1::{
    AddNoteRequest, ApplyMacroRequest, AssignRequest, AssignmentResponse, ClaimRequest,
    DecideApprovalRequest, ReplyRequest, SetPresenceRequest, SetStatusRequest, TransferRequest,
    UnassignRequest,
};

use crate::{
    api::Answer,
    backend::{Backend, Bearer},
    input, json,
};

fn assignment(answer: &AssignmentResponse) -> Answer {
    Ok(Json(json!({
        "conversation_id": answer.conversation_id,
        "agent_id": answer.agent_id,
        "queue": answer.queue,
        "sequence": json::sequence(answer.sequence),
    })))
}

pub async fn claim(
    State(backend): State<Backend>,
    bearer: Bearer,
    Path(conversation_id): Path<String>,
) -> Answer {
    let claimed = backend.desk(&bearer).claim(ClaimRequest { conversation_id }).await?.into_inner();
    Ok(Json(json!({
        "conversation_id": claimed.conversation_id,
        "agent_id": claimed.agent_id,
        "sequence": json::sequence(claimed.sequence),
        "already_held": claimed.already_held,
    })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AssignForm {
    pub agent_id: String,
}

pub async fn assign(
    State(backend): State<Backend>,
    bearer: Bearer,
    Path(conversation_id): Path<String>,
    Json(form): Json<AssignForm>,
) -> Answer {
    let request = AssignRequest { conversation_id, agent_id: form.agent_id };
    assignment(&backend.desk(&bearer).assign(request).await?.into_inner())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TransferForm {
    pub queue: String,
    pub agent_id: String,
    pub note: String,
}

pub async fn transfer(
    State(backend): State<Backend>,
    bearer: Bearer,
    Path(conversation_id): Path<String>,
    Json(form): Json<TransferForm>,
) -> Answer {
    let TransferForm { queue, agent_id, note } = form;
    let request = TransferRequest { conversation_id, queue, agent_id, note };
    assignment(&backend.desk(&bearer).transfer(request).await?.into_inner())
}

pub async fn unassign(
    State(backend): State<Backend>,
    bearer: Bearer,
    Path(conversation_id): Path<String>,
) -> Answer {
    let request = UnassignRequest { conversation_id };
    assignment(&backend.desk(&bearer).unassign(request).await?.into_inner())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReplyForm {
    pub text: String,
    pub article_ids: Vec<String>,
    /// The browser makes one per reply it sends, so a retried send answers once.
    pub idempotency_key: String,
}

pub async fn reply(
    State(backend): State<Backend>,
    bearer: Bearer,
    Path(conversation_id): Path<String>,
    Json(form): Json<ReplyForm>,
) -> Answer {
    let ReplyForm { text, article_ids, idempotency_key } = form;
    let request = ReplyRequest { conversation_id, text, article_ids, idempotency_key };
    let sent = backend.desk(&bearer).reply(request).await?.into_inner();
    Ok(Json(json!({"reply_id": sent.reply_id, "sequence": json::sequence(sent.sequence)})))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NoteForm {
    pub text: String,
}

pub async fn note(
    State(backend): State<Backend>,
    bearer: Bearer,
    Path(conversation_id): Path<String>,
    Json(form): Json<NoteForm>,
) -> Answer {
    let added = backend.desk(&bearer).add_note(AddNoteRequest { conversation_id, text: form.text }).await?;
    let added = added.into_inner();
    Ok(Json(json!({"note_id": added.note_id, "sequence": json::sequence(added.sequence)})))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StatusForm {
    /// `open`, `pending`, `resolved` or `reopened`.
    pub status: String,
    pub reason: String,
}

pub async fn status(
    State(backend): State<Backend>,
    bearer: Bearer,
    Path(conversation_id): Path<String>,
    Json(form): Json<StatusForm>,
) -> Answer {
    let status = input::status_change(&form.status)?;
    let request = SetStatusRequest { conversation_id, status, reason: form.reason };
    let set = backend.desk(&bearer).set_status(request).await?.into_inner();
    let name = json::slug(set.status().as_str_name(), "CONVERSATION_STATUS_");
    Ok(Json(json!({"status": name, "sequence": json::sequence(set.sequence)})))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct MacroForm {
    pub macro_id: String,
    /// Fills `{{article_link}}`; optional.
    pub article_id: String,
    pub idempotency_key: String,
}

pub async fn apply_macro(
    State(backend): State<Backend>,
    bearer: Bearer,
    Path(conversation_id): Path<String>,
    Json(form): Json<MacroForm>,
) -> Answer {
    let MacroForm { macro_id, article_id, idempotency_key } = form;
    let request = ApplyMacroRequest { conversation_id, macro_id, article_id, idempotency_key };
    let applied = backend.desk(&bearer).apply_macro(request).await?.into_inner();
    Ok(Json(json!({
        "text": applied.text,
        "locale": applied.locale,
        "reply_id": applied.reply_id,
        "status": json::slug(applied.status().as_str_name(), "CONVERSATION_STATUS_"),
        "sequence": json::sequence(applied.sequence),
    })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DecisionForm {
    pub approve: bool,
    /// Required when refusing; told to the customer.
    pub reason: String,
}

pub async fn decide(
    State(backend): State<Backend>,
    bearer: Bearer,
    Path(approval_id): Path<String>,
    Json(form): Json<DecisionForm>,
) -> Answer {
    let request = DecideApprovalRequest { approval_id, approve: form.approve, reason: form.reason };
    let decided = backend.desk(&bearer).decide_approval(request).await?.into_inner();
    Ok(Json(json!({"status": decided.status})))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PresenceForm {
    /// `online`, `away` or `offline`.
    pub presence: String,
}

pub async fn presence(
    State(backend): State<Backend>,
    bearer: Bearer,
    Json(form): Json<PresenceForm>,
) -> Answer {
    let request = SetPresenceRequest { presence: input::presence(&form.presence)? };
    let agent = backend.desk(&bearer).set_presence(request).await?.into_inner();
    Ok(Json(json::agent(&agent)))
}
