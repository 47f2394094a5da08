//! Inbound webhooks over HTTP: raw email from an inbound-parse service, and messages from social
//! and SMS gateways, each signed (see [`crate::signature`]). Answers are JSON: `202` with what was
//! accepted, or an error status with `{"error": "..."}`.

use axum::{
    Json, Router,
    body::{Body, to_bytes},
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
};
use bytes::Bytes;
use prost::Message as _;
use serde::Deserialize;
use serde_json::json;
use sha2::Digest as _;
use switchboard_bus::DEFAULT_TENANT;
use switchboard_projection::Deps;
use switchboard_proto::events::v1::{Channel, InboundMessage};

use crate::{
    email::{Inbox, Mailroom as _, Outcome},
    signature,
    tenants::Tenants,
};

/// Channels a generic signed webhook may carry.
pub const WEBHOOK_CHANNELS: [Channel; 2] = [Channel::Social, Channel::Sms];
/// Largest webhook JSON body.
const MAX_HOOK_BYTES: usize = 64 * 1024;

#[derive(Clone)]
pub struct Hooks {
    pub deps: Deps,
    pub inbox: Inbox,
    /// Each tenant's webhook secret; a tenant without one takes no webhooks (503).
    pub tenants: Tenants,
    /// Body bytes being read at once across webhooks (in KiB permits): a signature header can
    /// be forged before its body is checked, so what unchecked bodies may hold is bounded.
    pub in_flight: std::sync::Arc<tokio::sync::Semaphore>,
    /// Signed requests per tenant (see [`crate::http::HttpLimits::per_site_rate`]).
    pub per_site: std::sync::Arc<governor::DefaultKeyedRateLimiter<String>>,
}

/// KiB permits for `bytes` of body.
fn kib(bytes: usize) -> u32 {
    u32::try_from(bytes.div_ceil(1024).max(1)).unwrap_or(u32::MAX)
}

impl Hooks {
    /// Each site's (tenant's) rate of signed requests.
    pub fn per_site(
        limits: &crate::http::HttpLimits,
    ) -> std::sync::Arc<governor::DefaultKeyedRateLimiter<String>> {
        let quota = governor::Quota::per_second(limits.per_site_rate).allow_burst(limits.per_site_burst);
        std::sync::Arc::new(governor::RateLimiter::keyed(quota))
    }

    /// A budget of `kib_in_flight` KiB of webhook bodies read at once.
    pub fn budget(kib_in_flight: usize) -> std::sync::Arc<tokio::sync::Semaphore> {
        std::sync::Arc::new(tokio::sync::Semaphore::new(
            kib_in_flight.clamp(1, tokio::sync::Semaphore::MAX_PERMITS),
        ))
    }
}

/// The default tenant's webhooks, and each tenant's under `/tenants/<tenant>/`: the path names
/// the tenant and its own secret must sign the body.
pub fn routes(hooks: Hooks) -> Router {
    Router::new()
        .route("/email/inbound", post(default_email))
        .route("/hooks/{channel}", post(default_message))
        .route("/tenants/{tenant}/email/inbound", post(email))
        .route("/tenants/{tenant}/hooks/{channel}", post(message))
        .with_state(hooks)
}

async fn default_email(hooks: State<Hooks>, headers: HeaderMap, body: Body) -> Response {
    email(hooks, Path(DEFAULT_TENANT.to_string()), headers, body).await
}

async fn default_message(
    hooks: State<Hooks>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    message(hooks, Path((DEFAULT_TENANT.to_string(), slug)), headers, body).await
}

/// An error answer.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

impl Hooks {
    /// The body, once its size and signature are checked. A missing, malformed or stale
    /// signature and a declared length over `limit` are refused before any of the body is read.
    async fn signed_body(
        &self,
        tenant: &str,
        headers: &HeaderMap,
        body: Body,
        limit: usize,
    ) -> Result<Bytes, Response> {
        let Some(secret) = self.tenants.webhook_secret(tenant) else {
            return Err(error(
                StatusCode::SERVICE_UNAVAILABLE,
                "signed webhooks are disabled for this tenant: it has no webhook secret",
            ));
        };
        let too_large =
            || error(StatusCode::PAYLOAD_TOO_LARGE, format!("body is over the limit of {limit} bytes"));
        let header = headers.get(signature::HEADER).and_then(|value| value.to_str().ok());
        let claimed = signature::claimed(header, chrono::Utc::now().timestamp())
            .map_err(|refusal| error(StatusCode::UNAUTHORIZED, refusal.to_string()))?;
        let declared = headers.get(axum::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok());
        if declared.and_then(|length| length.parse::<usize>().ok()).is_some_and(|length| length > limit) {
            return Err(too_large());
        }
        // Room for the body as declared (else as large as allowed) among the bodies being read.
        let room = declared.and_then(|length| length.parse::<usize>().ok()).unwrap_or(limit).min(limit);
        let Ok(_held) = self.in_flight.clone().try_acquire_many_owned(kib(room)) else {
            let busy = error(StatusCode::SERVICE_UNAVAILABLE, "too many webhook bodies in flight; retry");
            return Err(crate::http::retry_after(busy, std::time::Duration::from_secs(1)));
        };
        let bytes = to_bytes(body, limit).await.map_err(|_| too_large())?;
        claimed
            .signs(secret.as_bytes(), &bytes)
            .map_err(|refusal| error(StatusCode::UNAUTHORIZED, refusal.to_string()))?;
        // Counted once signed, so that forged requests cannot spend a tenant's budget.
        match crate::http::over_rate(&self.per_site, &tenant.to_string()) {
            Some(refused) => Err(refused),
            None => Ok(bytes),
        }
    }
}

/// `POST /email/inbound`: one raw RFC 5322 message as the body.
async fn email(
    State(hooks): State<Hooks>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let raw = match hooks.signed_body(&tenant, &headers, body, hooks.inbox.max_bytes()).await {
        Ok(raw) => raw,
        Err(response) => return response,
    };
    match hooks.inbox.accept(&raw, None, &tenant).await {
        Ok(Outcome::Accepted { message_id, duplicate }) => {
            (StatusCode::ACCEPTED, Json(json!({ "message_id": message_id, "duplicate": duplicate })))
                .into_response()
        }
        Ok(Outcome::Refused { reason }) => error(StatusCode::UNPROCESSABLE_ENTITY, reason),
        Err(unavailable) => error(StatusCode::SERVICE_UNAVAILABLE, unavailable.to_string()),
    }
}

/// What a social or SMS gateway posts.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookMessage {
    pub customer_id: String,
    pub text: String,
    /// The gateway's id of the message: a resend with the same id is a duplicate.
    pub message_id: String,
    #[serde(default)]
    pub conversation_id: String,
}

/// A gateway's body as the message it posts, or why it is refused (answered 400).
pub fn read_hook_message(body: &[u8]) -> Result<HookMessage, String> {
    let posted: HookMessage =
        serde_json::from_slice(body).map_err(|parse| format!("invalid JSON: {parse}"))?;
    posted.check()?;
    Ok(posted)
}

impl HookMessage {
    /// Within what intake takes, so that an accepted message is never refused later.
    fn check(&self) -> Result<(), String> {
        let fields = [&self.customer_id, &self.text, &self.message_id, &self.conversation_id];
        if fields.iter().any(|field| field.contains('\0')) {
            return Err("fields may not contain NUL characters".into());
        }
        if self.customer_id.trim().is_empty()
            || self.text.trim().is_empty()
            || self.message_id.trim().is_empty()
        {
            return Err("customer_id, text and message_id are required".into());
        }
        if self.customer_id.len() > 256 || self.message_id.len() > 200 || self.text.len() > 32 * 1024 {
            return Err("customer_id is at most 256 bytes, message_id 200, text 32 KiB".into());
        }
        Ok(())
    }
}

/// `POST /hooks/{channel}`: a customer's message from a social or SMS gateway.
async fn message(
    State(hooks): State<Hooks>,
    Path((tenant, slug)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(channel) = Channel::from_slug(&slug).filter(|c| WEBHOOK_CHANNELS.contains(c)) else {
        let known: Vec<_> = WEBHOOK_CHANNELS.iter().map(|c| c.slug()).collect();
        return error(
            StatusCode::NOT_FOUND,
            format!("unknown channel {slug:?}; known: {}", known.join(", ")),
        );
    };
    let bytes = match hooks.signed_body(&tenant, &headers, body, MAX_HOOK_BYTES).await {
        Ok(bytes) => bytes,
        Err(response) => return response,
    };
    let posted = match read_hook_message(&bytes) {
        Ok(posted) => posted,
        Err(problem) => return error(StatusCode::BAD_REQUEST, problem),
    };
    let key = format!("{}:{}", channel.slug(), posted.message_id);
    let inbound = InboundMessage {
        channel: channel.into(),
        customer_id: posted.customer_id,
        text: posted.text,
        idempotency_key: key.clone(),
        conversation_id: posted.conversation_id,
        tenant: tenant.clone(),
        email: None,
        // A gateway's sender id (a phone number, a handle) can be spoofed: it proves nothing.
        customer_verified: false,
        language: String::new(),
    };
    let dedup = match tenant.as_str() {
        DEFAULT_TENANT => format!("hook:{}", hex::encode(sha2::Sha256::digest(key.as_bytes()))),
        tenant => {
            format!("hook:{}", hex::encode(sha2::Sha256::digest(format!("{tenant}\0{key}").as_bytes())))
        }
    };
    let payload = Bytes::from(inbound.encode_to_vec());
    match hooks.deps.bus.publish_inbound(channel.slug(), &tenant, payload, &dedup).await {
        Ok(published) => {
            tracing::info!(
                channel = channel.slug(),
                duplicate = published.duplicate,
                "webhook message accepted"
            );
            (
                StatusCode::ACCEPTED,
                Json(json!({ "message_id": posted.message_id, "duplicate": published.duplicate })),
            )
                .into_response()
        }
        Err(bus) => error(StatusCode::SERVICE_UNAVAILABLE, format!("try again later: {bus}")),
    }
}
