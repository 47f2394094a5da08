//! `/console/api/…`: signing in, and what the console reads (who one is, the overview, the inbox,
//! a conversation, macros, approvals). Each handler turns JSON into one gRPC call and back.

use axum::{
    Json,
    extract::{Path, Query, State},
};
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_proto::{
    auth::v1::{SignInRequest, WhoAmIRequest},
    desk::v1::{GetConversationRequest, GetOverviewRequest, ListApprovalsRequest, ListMacrosRequest},
};

use crate::{
    backend::{Backend, Bearer},
    error::ApiError,
    input::ListQuery,
    json,
};

pub type Answer = Result<Json<Value>, ApiError>;

#[derive(Debug, Deserialize)]
pub struct SignInForm {
    pub tenant: String,
    /// The agent's id, as their administrator set their password for.
    pub subject: String,
    pub password: String,
}

/// Trades a person's password for a token (12 hours) the browser keeps for the session.
pub async fn sign_in(State(backend): State<Backend>, Json(form): Json<SignInForm>) -> Answer {
    let SignInForm { tenant, subject, password } = form;
    let request = SignInRequest { tenant: tenant.trim().into(), subject: subject.trim().into(), password };
    let issued = backend.auth(None).sign_in(request).await?.into_inner();
    Ok(Json(json::issued(&issued)))
}

pub async fn me(State(backend): State<Backend>, bearer: Bearer) -> Answer {
    let identity = backend.auth(Some(&bearer)).who_am_i(WhoAmIRequest {}).await?.into_inner();
    Ok(Json(json::identity(&identity)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct OverviewQuery {
    pub sla_at_risk_minutes: u32,
}

pub async fn overview(
    State(backend): State<Backend>,
    bearer: Bearer,
    Query(query): Query<OverviewQuery>,
) -> Answer {
    let request = GetOverviewRequest { sla_at_risk_minutes: query.sla_at_risk_minutes };
    let overview = backend.desk(&bearer).get_overview(request).await?.into_inner();
    Ok(Json(json::overview(&overview)))
}

pub async fn conversations(
    State(backend): State<Backend>,
    bearer: Bearer,
    Query(query): Query<ListQuery>,
) -> Answer {
    let page = backend.desk(&bearer).list_conversations(query.request()?).await?.into_inner();
    let rows: Vec<Value> = page.conversations.iter().map(json::conversation).collect();
    Ok(Json(json!({"conversations": rows, "next_cursor": page.next_cursor})))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReadQuery {
    /// Wait until the desk has applied this stream sequence (read one's own writes).
    pub min_sequence: u64,
}

pub async fn conversation(
    State(backend): State<Backend>,
    bearer: Bearer,
    Path(conversation_id): Path<String>,
    Query(query): Query<ReadQuery>,
) -> Answer {
    let request = GetConversationRequest { conversation_id, min_sequence: query.min_sequence };
    let view = backend.desk(&bearer).get_conversation(request).await?.into_inner();
    Ok(Json(json::view(&view)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct MacrosQuery {
    pub language: String,
}

pub async fn macros(
    State(backend): State<Backend>,
    bearer: Bearer,
    Query(query): Query<MacrosQuery>,
) -> Answer {
    let request = ListMacrosRequest { language: query.language };
    let listed = backend.desk(&bearer).list_macros(request).await?.into_inner();
    let macros: Vec<Value> = listed.macros.iter().map(json::desk_macro).collect();
    Ok(Json(json!({"macros": macros})))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ApprovalsQuery {
    pub kind: String,
}

pub async fn approvals(
    State(backend): State<Backend>,
    bearer: Bearer,
    Query(query): Query<ApprovalsQuery>,
) -> Answer {
    let listed = backend.desk(&bearer).list_approvals(ListApprovalsRequest { kind: query.kind }).await?;
    let approvals: Vec<Value> = listed.into_inner().approvals.iter().map(json::approval).collect();
    Ok(Json(json!({"approvals": approvals})))
}
