//! Web chat: an embeddable widget (`/chat/widget.js`, one script tag with a site token), a demo
//! page (`/chat/demo`) and a WebSocket (`/chat/ws?site=…&visitor=…`). JSON both ways:
//! - in: `hello` (`conversation_id` to resume), `message` (`id`, `text`), `typing`, `suggest`
//!   (`text`: what the customer is typing);
//! - out: `welcome`, `message` (`id`, `author` customer|bot|agent, `text`), `typing`, `handoff`,
//!   `suggestions`, `error`.
//!
//! A reconnecting widget says `hello` with its conversation and is sent the whole conversation
//! again (from intake); it drops what it has already shown by message id, so nothing is missed.

pub mod hub;
mod limits;
pub mod notices;
mod session;

pub use limits::ChatLimits;

use std::collections::BTreeMap;
use std::sync::LazyLock;

use crate::tenants::{Site, Tenants};

use axum::{
    Router,
    extract::{Query, State, WebSocketUpgrade},
    http::{HeaderMap, StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::get,
};
use serde::Deserialize;
use switchboard_projection::Deps;
use switchboard_proto::{
    intake::v1::intake_client::IntakeClient, knowledge::v1::knowledge_client::KnowledgeClient,
};

pub use hub::Hub;

#[derive(Clone)]
pub struct Chat {
    pub deps: Deps,
    pub hub: Hub,
    /// Site tokens: whose each is, where it may be embedded, how its customers are signed.
    pub tenants: Tenants,
    /// History on reconnect, and suggestions while typing (connected on first use), called as
    /// the site's tenant.
    intake: tonic::transport::Channel,
    knowledge: tonic::transport::Channel,
    credentials: switchboard_auth::Credentials,
    budgets: limits::SiteBudgets,
}

impl Chat {
    /// The chat as `config` says (sites, endpoints, credentials, limits). Fails only on a
    /// malformed endpoint; the connections are made on first use.
    pub fn new(deps: Deps, hub: Hub, config: &crate::Config, tenants: Tenants) -> Result<Self, String> {
        let lazy = |endpoint: &str| switchboard_auth::lazy_channel(endpoint, config.tls.as_ref(), None);
        Ok(Self {
            deps,
            hub,
            tenants,
            intake: lazy(&config.intake_endpoint)?,
            knowledge: lazy(&config.knowledge_endpoint)?,
            credentials: config.credentials.clone(),
            budgets: limits::SiteBudgets::new(config.chat_limits.clone()),
        })
    }

    /// Intake, called as `tenant`.
    pub fn intake(&self, tenant: &str) -> IntakeClient<switchboard_auth::Authorized> {
        IntakeClient::with_interceptor(self.intake.clone(), self.credentials.for_tenant(tenant))
    }

    /// Knowledge, called as `tenant`.
    pub fn knowledge(&self, tenant: &str) -> KnowledgeClient<switchboard_auth::Authorized> {
        KnowledgeClient::with_interceptor(self.knowledge.clone(), self.credentials.for_tenant(tenant))
    }
}

impl Chat {
    /// Forgets quiet sites' budgets every minute until `shutdown`.
    pub async fn prune_budgets(self, shutdown: tokio_util::sync::CancellationToken) {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = every.tick() => self.budgets.prune(),
            }
        }
    }
}

pub fn routes(chat: Chat) -> Router {
    Router::new().route("/chat/ws", get(connect)).with_state(chat)
}

/// The widget's script and its demo page, made from what the binary holds.
pub fn files() -> Router {
    Router::new().route("/chat/widget.js", get(widget)).route("/chat/demo", get(demo))
}

const WIDGET: &str = include_str!("widget.js");
const DEMO: &str = include_str!("demo.html");

/// The widget with its strings in every language served (`widget.*` phrases, and `direction`),
/// made once.
static WIDGET_WITH_PHRASES: LazyLock<String> = LazyLock::new(|| {
    let phrases: BTreeMap<&str, BTreeMap<String, String>> = switchboard_phrases::languages()
        .into_iter()
        .map(|tag| {
            let mut strings = switchboard_phrases::section(tag, "widget.");
            strings.insert("direction".into(), switchboard_phrases::direction(tag).into());
            (tag, strings)
        })
        .collect();
    let json = serde_json::to_string(&phrases).unwrap_or_else(|_| "{}".into());
    WIDGET.replacen("/*PHRASES*/{}", &json, 1)
});

async fn widget() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], WIDGET_WITH_PHRASES.as_str()).into_response()
}

#[derive(Debug, Deserialize)]
struct DemoPage {
    /// The page's language (`?lang=de`), to try the widget in it; English by default.
    #[serde(default)]
    lang: String,
}

async fn demo(Query(page): Query<DemoPage>) -> Html<String> {
    let lang = switchboard_phrases::served(&page.lang);
    Html(DEMO.replacen("<html lang=\"en\">", &format!("<html lang=\"{lang}\">"), 1))
}

#[derive(Debug, Deserialize)]
struct Connect {
    site: String,
    visitor: String,
    /// A signed-in customer's id, and its HMAC under the site's identity secret.
    #[serde(default)]
    user: String,
    #[serde(default)]
    user_hash: String,
}

/// Who a chat is with: a signed customer (verified), else the anonymous visitor.
fn customer_of(site: &Site<'_>, connect: &Connect) -> Result<(String, bool), (StatusCode, &'static str)> {
    if connect.user.is_empty() {
        return Ok((format!("web:{}:{}", connect.site, connect.visitor), false));
    }
    let Some(secret) = site.identity_secret else {
        return Err((StatusCode::BAD_REQUEST, "this site has no identity secret; drop data-user"));
    };
    let valid_user = connect.user.len() <= 256 && !connect.user.contains(char::is_control);
    let signed = hex::decode(&connect.user_hash).is_ok_and(|given| {
        crate::signature::same(&given, &crate::signature::identity(secret.as_bytes(), &connect.user))
    });
    if !valid_user || !signed {
        return Err((StatusCode::FORBIDDEN, "the customer's identity is not signed by this site"));
    }
    Ok((connect.user.clone(), true))
}

async fn connect(
    State(chat): State<Chat>,
    Query(connect): Query<Connect>,
    client: Option<axum::Extension<crate::http::ClientAddress>>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let Some(site) = chat.tenants.site(&connect.site) else {
        return (StatusCode::NOT_FOUND, format!("unknown site token {:?}", connect.site)).into_response();
    };
    let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()).unwrap_or_default();
    if site.origin != "*" && site.origin != origin {
        return (StatusCode::FORBIDDEN, format!("site {:?} is not embedded on {origin:?}", connect.site))
            .into_response();
    }
    let valid_visitor = !connect.visitor.is_empty()
        && connect.visitor.len() <= 64
        && connect.visitor.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !valid_visitor {
        return (StatusCode::BAD_REQUEST, "visitor: up to 64 letters, digits and '-'").into_response();
    }
    let (customer_id, verified) = match customer_of(&site, &connect) {
        Ok(customer) => customer,
        Err(refused) => return refused.into_response(),
    };
    let tenant = site.tenant.to_string();
    // The socket outlives its HTTP connection, so it holds a place of its own per client.
    let client = client.map_or(std::net::IpAddr::from([0, 0, 0, 0]), |found| found.0.0);
    let Some(place) = chat.budgets.sockets.take(client, chat.budgets.limits.max_sockets_per_client) else {
        let refused =
            (StatusCode::TOO_MANY_REQUESTS, "too many chats open from your address").into_response();
        return crate::http::retry_after(refused, std::time::Duration::from_secs(10));
    };
    // Frames are small JSON; anything large is not a chat message.
    upgrade
        .max_message_size(64 * 1024)
        .max_frame_size(64 * 1024)
        .max_write_buffer_size(1024 * 1024)
        .on_upgrade(move |socket| async move {
            let customer = session::Customer { tenant, id: customer_id, verified };
            session::run(chat, connect.site, customer, client, socket).await;
            drop(place);
        })
}
