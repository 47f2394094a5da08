//! The web console of the agent desk, at `/console` on the channels' HTTP listener: static files
//! (TypeScript built by npm, embedded at compile time) and a JSON API under `/console/api/` that
//! calls the cluster's gRPC API (Desk, Auth) with the signed-in person's own token, so the API's
//! auth layer decides every right. Live changes come as server-sent events from `WatchInbox`.

#![forbid(unsafe_code)]

mod actions;
mod api;
mod assets;
mod backend;
mod dashboard;
mod error;
mod input;
pub mod json;
mod live;
mod macros;

use axum::{
    Router,
    routing::{get, post, put},
};
use tokio_util::sync::CancellationToken;

pub use error::ApiError;

/// Where the console's API calls go.
#[derive(Debug, Clone)]
pub struct Config {
    /// The gRPC endpoint serving Desk and Auth, e.g. `http://127.0.0.1:50051`.
    pub endpoint: String,
    /// The endpoints serving Analytics (the dashboard) and Knowledge (articles written from it).
    pub analytics_endpoint: String,
    pub knowledge_endpoint: String,
    /// The trust for its TLS, when the endpoint is `https://`.
    pub tls: Option<switchboard_auth::PeerTls>,
}

/// The console's API. Fails only on a malformed endpoint (connections are made on first use).
/// Live streams end when `shutdown` is cancelled. Its page and scripts are [`files`].
pub fn routes(config: &Config, shutdown: CancellationToken) -> Result<Router, String> {
    let backend = backend::Backend::new(config)?;
    let live = live::Live { backend: backend.clone(), shutdown };
    let conversation = |action: &str| format!("/console/api/conversations/{{id}}/{action}");
    let api = Router::new()
        .route("/console/api/sign-in", post(api::sign_in))
        .route("/console/api/me", get(api::me))
        .route("/console/api/overview", get(api::overview))
        .route("/console/api/conversations", get(api::conversations))
        .route("/console/api/conversations/{id}", get(api::conversation))
        .route(&conversation("claim"), post(actions::claim))
        .route(&conversation("assign"), post(actions::assign))
        .route(&conversation("transfer"), post(actions::transfer))
        .route(&conversation("unassign"), post(actions::unassign))
        .route(&conversation("reply"), post(actions::reply))
        .route(&conversation("notes"), post(actions::note))
        .route(&conversation("status"), post(actions::status))
        .route(&conversation("macro"), post(actions::apply_macro))
        .route("/console/api/macros", get(api::macros))
        .route("/console/api/macros/{id}", put(macros::save).delete(macros::delete))
        .route("/console/api/approvals", get(api::approvals))
        .route("/console/api/approvals/{id}", post(actions::decide))
        .route("/console/api/presence", put(actions::presence))
        .route("/console/api/report", get(dashboard::report))
        .route("/console/api/trends", get(dashboard::trends))
        .route("/console/api/gaps", get(dashboard::gaps))
        .route("/console/api/deflections", get(dashboard::deflections))
        .route("/console/api/articles", post(dashboard::write_article))
        .with_state(backend);
    let changes = Router::new()
        .route("/console/api/changes", get(live::changes))
        .route(&conversation("typing"), get(live::typing).post(live::signal_typing))
        .with_state(live);
    Ok(api.merge(changes))
}

/// The console's page, scripts and styles, embedded in the binary.
pub fn files() -> Router {
    Router::new()
        .route("/console", get(assets::bare))
        .route("/console/", get(assets::index))
        .route("/console/{*path}", get(assets::asset))
}
