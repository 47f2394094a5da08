//! One chat connection: what the widget says becomes inbound messages, typing signals and
//! suggestion queries; what the hub dispatches goes back to it.

use axum::extract::ws::{Message as Frame, WebSocket};
use bytes::Bytes;
use prost::Message as _;
use serde::Deserialize;
use std::{net::IpAddr, sync::Arc};
use switchboard_proto::{
    events::v1::{Channel, InboundMessage},
    intake::v1::{Author, ConversationStatus, GetConversationRequest},
    knowledge::v1::SuggestRequest,
};

use tokio::sync::{Notify, mpsc};

use super::{
    Chat,
    hub::{Article, Outgoing, Sender, handoff_under_way},
};

/// Longest chat message, in bytes (intake's limit).
const MAX_TEXT: usize = 32 * 1024;

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Incoming {
    Hello {
        #[serde(default)]
        conversation_id: String,
    },
    Message {
        id: String,
        text: String,
    },
    Typing,
    Suggest {
        text: String,
    },
}

/// Who a chat is with, and whose customer: the site's tenant.
pub(super) struct Customer {
    pub tenant: String,
    pub id: String,
    /// Signed in on the company's site: told their orders and account.
    pub verified: bool,
}

struct Session {
    chat: Chat,
    site: String,
    tenant: String,
    customer_id: String,
    verified: bool,
    conversation_id: Option<String>,
    /// How the hub reaches this session.
    link: Sender,
    /// What this session answers itself (history, errors, suggestions): written straight to the
    /// socket after each frame, never through the hub's bounded queue.
    out: Vec<Outgoing>,
    /// A first message is on its way to start the conversation: later ones wait for it, so that
    /// one chat is one conversation.
    starting: bool,
    held: Vec<(String, String)>,
}

/// Messages queued from the hub at most; a session further behind re-reads the conversation.
const QUEUE: usize = 256;
/// Messages held while the first one starts the conversation, at most.
const HELD: usize = 20;

/// What the socket's loop does after a frame.
enum Next {
    Continue,
    Close(&'static str),
}

pub(super) async fn run(chat: Chat, site: String, customer: Customer, client: IpAddr, mut socket: WebSocket) {
    let Customer { tenant, id: customer_id, verified } = customer;
    let (tx, mut inbox) = mpsc::channel(QUEUE);
    let lagged = Arc::new(Notify::new());
    let link = Sender::new(tx, lagged.clone());
    let limits = chat.budgets.limits.clone();
    let budget = chat.budgets.socket(client);
    let (mut strikes, mut idle) = (0u32, Box::pin(tokio::time::sleep(limits.idle)));
    let mut pings = tokio::time::interval(limits.ping_every);
    let mut session = Session {
        chat,
        site,
        tenant,
        customer_id,
        verified,
        conversation_id: None,
        link,
        out: Vec::new(),
        starting: false,
        held: Vec::new(),
    };
    loop {
        let next = tokio::select! {
            frame = socket.recv() => {
                // Only what the customer sends counts as activity (pongs and pings do not).
                if matches!(frame, Some(Ok(Frame::Text(_)))) {
                    idle.as_mut().reset(tokio::time::Instant::now() + limits.idle);
                }
                match frame {
                    Some(Ok(Frame::Text(text))) => {
                        // Read once: what is admitted is what is handled.
                        let frame = serde_json::from_str::<Incoming>(text.as_str());
                        let message = matches!(frame, Ok(Incoming::Message { .. }));
                        if session.chat.budgets.admit(&session.site, &budget, message) {
                            strikes = 0;
                            session.on_frame(frame).await;
                            Next::Continue
                        } else {
                            strikes += 1;
                            session.customer_error("slow_down", "too many messages; slow down");
                            if strikes >= limits.strikes { Next::Close("too many messages") } else { Next::Continue }
                        }
                    }
                    // The widget sends text only: anything else is spent from the budget, unread.
                    Some(Ok(Frame::Binary(_))) if session.chat.budgets.admit(&session.site, &budget, false) => {
                        Next::Continue
                    }
                    Some(Ok(Frame::Binary(_))) => {
                        strikes += 1;
                        if strikes >= limits.strikes { Next::Close("too many messages") } else { Next::Continue }
                    }
                    Some(Ok(Frame::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(_)) => Next::Continue,
                }
            },
            () = idle.as_mut() => Next::Close("idle"),
            _ = pings.tick() => {
                if !sent(&mut socket, Frame::Ping(Bytes::new()), limits.send_timeout).await {
                    return;
                }
                Next::Continue
            }
            Some(outgoing) = inbox.recv() => {
                session.on_hub(outgoing).await;
                Next::Continue
            }
            () = lagged.notified() => {
                if let Some(conversation_id) = session.conversation_id.clone() {
                    tracing::info!("chat session fell behind; re-reading its conversation");
                    session.hello(conversation_id).await;
                }
                Next::Continue
            }
        };
        for outgoing in std::mem::take(&mut session.out) {
            let Ok(json) = serde_json::to_string(&outgoing) else { continue };
            if !sent(&mut socket, Frame::Text(json.into()), limits.send_timeout).await {
                return;
            }
        }
        if let Next::Close(reason) = next {
            tracing::info!(reason, "chat socket closed");
            let close = axum::extract::ws::CloseFrame { code: 1008, reason: reason.into() };
            let _ = socket.send(Frame::Close(Some(close))).await;
            // Read on until the widget answers the close (briefly): dropping a socket with
            // unread frames resets it, and the close would be lost. Bounded in frames too: a
            // flooder that keeps writing must not keep this socket's reader busy for seconds.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
                let mut unread = AFTER_CLOSE_FRAMES;
                while let Some(Ok(frame)) = socket.recv().await {
                    unread -= 1;
                    if matches!(frame, Frame::Close(_)) || unread == 0 {
                        break;
                    }
                }
            })
            .await;
            return;
        }
    }
}

/// Frames read at most, after a policy close, while waiting for the widget's close answer.
const AFTER_CLOSE_FRAMES: u32 = 64;

/// Writes a frame within `timeout`: a widget that stops reading is let go.
async fn sent(socket: &mut WebSocket, frame: Frame, timeout: std::time::Duration) -> bool {
    matches!(tokio::time::timeout(timeout, socket.send(frame)).await, Ok(Ok(())))
}

/// However the socket ended, the session leaves the hub.
impl Drop for Session {
    fn drop(&mut self) {
        self.chat.hub.leave(self.conversation_id.as_deref(), &self.link);
    }
}

impl Session {
    fn say(&mut self, outgoing: Outgoing) {
        self.out.push(outgoing);
    }

    fn error(&mut self, message: impl Into<String>) {
        self.say(Outgoing::Error { message: message.into(), code: String::new() });
    }

    /// An error the widget words for the customer, in their language, by its `code`.
    fn customer_error(&mut self, code: &str, message: &str) {
        self.say(Outgoing::Error { message: message.into(), code: code.into() });
    }

    /// What the hub sends; the welcome also releases the messages held for it.
    async fn on_hub(&mut self, outgoing: Outgoing) {
        let welcome = matches!(&outgoing, Outgoing::Welcome { .. });
        if let Outgoing::Welcome { conversation_id } = &outgoing {
            self.conversation_id = Some(conversation_id.clone());
            self.starting = false;
        }
        self.say(outgoing);
        if welcome {
            for (id, text) in std::mem::take(&mut self.held) {
                self.message(&id, text).await;
            }
        }
    }

    async fn on_frame(&mut self, frame: Result<Incoming, serde_json::Error>) {
        match frame {
            Ok(Incoming::Hello { conversation_id }) => self.hello(conversation_id).await,
            Ok(Incoming::Message { id, text }) => self.message(&id, text).await,
            Ok(Incoming::Typing) => self.typing().await,
            Ok(Incoming::Suggest { text }) => self.suggest(&text).await,
            Err(error) => self.error(format!("not understood: {error}")),
        }
    }

    /// Resumes a conversation: joins it, then sends it whole as intake has it up to now (what
    /// came before joining is in that history, what comes after arrives live; the widget drops
    /// what it has shown already).
    async fn hello(&mut self, conversation_id: String) {
        if conversation_id.is_empty() {
            return;
        }
        // Whether it exists is asked of a read model caught up with the tenant's conversations
        // until now: one that lags would call a conversation just started unknown.
        let until_now = match self.conversations_until_now().await {
            Ok(sequence) => sequence,
            Err(error) => return self.error(format!("history unavailable: {error}")),
        };
        match self.history(&conversation_id, until_now).await {
            Ok(conversation) if conversation.customer_id == self.customer_id => {}
            Ok(_) => return self.error("this conversation belongs to someone else"),
            Err(status) if status.code() == tonic::Code::NotFound => {
                return self.customer_error("starting_anew", "conversation not found; starting anew");
            }
            Err(status) => return self.error(format!("history unavailable: {}", status.message())),
        }
        self.chat.hub.join(&conversation_id, self.link.clone());
        // Everything of the tenant's conversations until now: what came before joining.
        let now = match self.conversations_until_now().await {
            Ok(sequence) => sequence,
            Err(error) => return self.error(format!("history unavailable: {error}")),
        };
        let conversation = match self.history(&conversation_id, now).await {
            Ok(conversation) => conversation,
            Err(status) => return self.error(format!("history unavailable: {}", status.message())),
        };
        self.conversation_id = Some(conversation_id.clone());
        self.say(Outgoing::Welcome { conversation_id });
        for message in &conversation.messages {
            let author = match message.author() {
                Author::Customer => "customer",
                Author::Agent => "agent",
                _ => "bot",
            };
            self.say(Outgoing::Message {
                id: message.message_id.clone(),
                author: author.into(),
                text: message.text.clone(),
                options: Vec::new(),
                language: String::new(),
            });
        }
        if matches!(conversation.status(), ConversationStatus::Queued | ConversationStatus::Escalated) {
            let queue =
                conversation.messages.iter().rev().find_map(|m| m.routing.as_ref().map(|r| r.queue.clone()));
            // The conversation's language: the first its messages were detected in.
            let language = conversation
                .messages
                .iter()
                .filter_map(|m| m.classification.as_ref().map(|c| c.language.clone()))
                .find(|tag| !tag.is_empty() && tag != "und")
                .unwrap_or_default();
            self.say(handoff_under_way(&queue.unwrap_or_default(), &language));
        }
    }

    /// The stream sequence of the tenant's last conversation event: intake's read model has
    /// everything until now once it reaches it.
    async fn conversations_until_now(&self) -> Result<u64, switchboard_bus::Error> {
        self.chat.deps.bus.last_sequence_of(&switchboard_bus::CONVERSATION_VIEW, &self.tenant).await
    }

    /// The conversation as intake has it once its read model reached `min_sequence`.
    async fn history(
        &self,
        conversation_id: &str,
        min_sequence: u64,
    ) -> Result<switchboard_proto::intake::v1::Conversation, tonic::Status> {
        let mut intake = self.chat.intake(&self.tenant);
        let request = GetConversationRequest { conversation_id: conversation_id.into(), min_sequence };
        Ok(intake.get_conversation(request).await?.into_inner())
    }

    async fn message(&mut self, id: &str, text: String) {
        let valid_id =
            !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !valid_id || text.trim().is_empty() || text.len() > MAX_TEXT || text.contains('\0') {
            return self.error("a message needs an id (letters, digits, '-') and 1 to 32768 bytes of text");
        }
        // Keys deduplicate across the whole inbound stream: two tenants' customers may share an id.
        let key = format!("chat:{}:{}:{id}", self.tenant, self.customer_id);
        let inbound = InboundMessage {
            channel: Channel::Web.into(),
            customer_id: self.customer_id.clone(),
            text,
            idempotency_key: key.clone(),
            conversation_id: self.conversation_id.clone().unwrap_or_default(),
            tenant: self.tenant.clone(),
            customer_verified: self.verified,
            ..InboundMessage::default()
        };
        if self.conversation_id.is_none() {
            if self.starting {
                if self.held.len() >= HELD {
                    return self
                        .customer_error("wait", "wait for the conversation to start before sending more");
                }
                self.held.push((id.to_string(), inbound.text));
                return;
            }
            self.starting = true;
        }
        // Told the conversation the message lands in: a new one when the old closed longer ago
        // than the reopen window.
        self.chat.hub.await_key(&key, self.link.clone());
        let payload = Bytes::from(inbound.encode_to_vec());
        match self.chat.deps.bus.publish_inbound("web", &inbound.tenant, payload, &key).await {
            Ok(_) => self.say(Outgoing::Typing { author: "bot".into() }),
            Err(error) => {
                tracing::warn!(%error, "chat message not taken");
                if self.conversation_id.is_none() {
                    // Nothing started: the next message starts the conversation.
                    self.starting = false;
                }
                self.customer_error("not_sent", "your message could not be sent; please try again");
            }
        }
    }

    async fn typing(&self) {
        let Some(conversation_id) = &self.conversation_id else { return };
        let subject = switchboard_bus::typing_subject(&self.tenant, conversation_id);
        let _ = self
            .chat
            .deps
            .bus
            .client()
            .publish(subject, Bytes::from_static(br#"{"author":"customer"}"#))
            .await;
    }

    async fn suggest(&mut self, text: &str) {
        let prefix: String = text.chars().take(200).collect();
        if prefix.trim().chars().count() < 3 {
            return;
        }
        let suggested = async {
            let mut knowledge = self.chat.knowledge(&self.tenant);
            let request = SuggestRequest { prefix, locale: String::new(), limit: 3 };
            knowledge.suggest(request).await.ok()
        }
        .await;
        let articles = suggested
            .map(|response| response.into_inner().suggestions)
            .unwrap_or_default()
            .into_iter()
            .map(|s| Article { id: s.article_id, title: s.title })
            .collect();
        self.say(Outgoing::Suggestions { articles });
    }
}
