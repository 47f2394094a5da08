//! Voice, in the Twilio style: `POST /voice/incoming` greets the caller and listens
//! (`<Gather input="speech">`); each `SpeechResult` posted to `/voice/gather` becomes an inbound
//! message on the voice channel (key `voice:<CallSid>:<turn>`, so a retried webhook is one
//! message; the caller's number is the customer id), and the bot's reply is spoken back with the
//! next `<Gather>`. A hand-off, or no reply in time, dials the support line. Requests must carry a
//! valid `X-Twilio-Signature`. A caller ID proves nothing: keying in the account's PIN (`Digits`,
//! ended by `#`) verifies the caller for the call, and only then is account data told.

pub mod pin;
mod twiml;

use std::time::Duration;

use axum::{
    Router,
    body::Bytes,
    extract::{RawQuery, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use prost::Message as _;
use sha1::Sha1;
use switchboard_bus::INBOUND_SUBJECT_PREFIX;
use switchboard_projection::Deps;
use switchboard_proto::events::v1::{Channel, InboundMessage};
use tokio::sync::mpsc;

use crate::{
    chat::{Hub, hub::Outgoing},
    tenants::Tenants,
};

const GREETING: &str = "Hello, you are through to our support assistant. For your account details, \
    key in your PIN and press hash at any time. How can I help you today?";
const AGAIN: &str = "Is there anything else I can help you with?";

#[derive(Clone)]
pub struct Voice {
    pub deps: Deps,
    pub hub: Hub,
    /// Whose each dialled number is, and the auth token signing its requests (refused without).
    pub tenants: Tenants,
    /// The public base URL the telephony provider calls (signatures cover the full URL).
    pub public_url: String,
    /// Where a hand-off dials; without one the caller is promised a call back.
    pub support_line: Option<String>,
    /// How long a turn waits for the bot before handing the call to a person.
    pub reply_wait: Duration,
}

pub fn routes(voice: Voice) -> Router {
    Router::new()
        .route("/voice/incoming", post(incoming))
        .route("/voice/gather", post(gather))
        .with_state(voice)
}

fn xml(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response()
}

/// `X-Twilio-Signature`: base64 of HMAC-SHA1 over the URL, then each form field's name and value
/// in name order.
pub fn twilio_signature(token: &str, url: &str, fields: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = fields.iter().collect();
    sorted.sort();
    let mut mac = Hmac::<Sha1>::new_from_slice(token.as_bytes()).expect("hmac takes keys of any length");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

impl Voice {
    /// The tenant of the dialled number (`To`) and the form fields, once the signature over them
    /// is checked with that tenant's auth token.
    fn verified(
        &self,
        path: &str,
        query: Option<&str>,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(String, Fields), (StatusCode, &'static str)> {
        let fields: Fields = form_urlencoded::parse(body).into_owned().collect();
        let tenant = self.tenants.voice_tenant(field(&fields, "To"));
        let Some(token) = self.tenants.twilio_auth_token(tenant) else {
            return Err((StatusCode::SERVICE_UNAVAILABLE, "voice is off: set SWITCHBOARD_TWILIO_AUTH_TOKEN"));
        };
        let url = match query {
            Some(query) => format!("{}{path}?{query}", self.public_url.trim_end_matches('/')),
            None => format!("{}{path}", self.public_url.trim_end_matches('/')),
        };
        let given = headers.get("x-twilio-signature").and_then(|v| v.to_str().ok()).unwrap_or_default();
        let expected = twilio_signature(token, &url, &fields);
        let same = crate::signature::same(given.as_bytes(), expected.as_bytes());
        if !same {
            return Err((StatusCode::FORBIDDEN, "missing or invalid X-Twilio-Signature"));
        }
        Ok((tenant.to_string(), fields))
    }
}

/// A form post's fields, in order.
type Fields = Vec<(String, String)>;

fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields.iter().find(|(n, _)| n == name).map_or("", |(_, v)| v.as_str())
}

async fn incoming(
    State(voice): State<Voice>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refusal) = voice.verified("/voice/incoming", query.as_deref(), &headers, &body) {
        return refusal.into_response();
    }
    xml(twiml::gather(GREETING, "/voice/gather?turn=1"))
}

/// Where the caller is in the call: which turn, and the conversation once there is one.
struct Turn {
    number: u32,
    conversation: String,
}

fn turn_of(query: Option<&str>) -> Option<Turn> {
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect();
    let number = field(&pairs, "turn").parse().ok().filter(|n| (1..=200).contains(n))?;
    let conversation = field(&pairs, "conversation").to_string();
    let valid =
        conversation.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') && conversation.len() <= 64;
    valid.then_some(Turn { number, conversation })
}

async fn gather(
    State(voice): State<Voice>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (tenant, fields) = match voice.verified("/voice/gather", query.as_deref(), &headers, &body) {
        Ok(verified) => verified,
        Err(refusal) => return refusal.into_response(),
    };
    let Some(turn) = turn_of(query.as_deref()) else {
        return (StatusCode::BAD_REQUEST, "turn (1-200) and conversation (an id) are expected in the query")
            .into_response();
    };
    let (call, caller, said) =
        (field(&fields, "CallSid"), field(&fields, "From"), field(&fields, "SpeechResult").trim());
    let call_ok = !call.is_empty() && call.len() <= 64 && call.chars().all(|c| c.is_ascii_alphanumeric());
    if !call_ok || caller.is_empty() || caller.len() > 64 {
        return (StatusCode::BAD_REQUEST, "CallSid and From are required").into_response();
    }
    let here = next_action(turn.number, &turn.conversation);
    let digits = field(&fields, "Digits").trim_end_matches('#');
    if said.is_empty() && !digits.is_empty() {
        return voice.pin((&tenant, call), caller, digits, &here).await;
    }
    if said.is_empty() {
        return xml(twiml::gather("Sorry, I did not catch that. How can I help?", &here));
    }
    voice.turn(&turn, (&tenant, call), caller, said).await
}

fn next_action(number: u32, conversation: &str) -> String {
    if conversation.is_empty() {
        format!("/voice/gather?turn={number}")
    } else {
        format!("/voice/gather?turn={number}&conversation={conversation}")
    }
}

impl Voice {
    /// A keyed-in PIN: verified for the call, told how many tries are left, or handed over.
    async fn pin(&self, call: (&str, &str), caller: &str, digits: &str, here: &str) -> Response {
        match pin::check(&self.deps.pool, call, caller, digits).await {
            Ok(pin::Checked::Verified) => {
                xml(twiml::gather("Thank you, that is right. How can I help you?", here))
            }
            Ok(pin::Checked::Wrong(left)) => {
                xml(twiml::gather(&format!("That PIN is not right. You can try {left} more times."), here))
            }
            Ok(pin::Checked::Locked) => xml(twiml::dial(
                "That PIN could not be confirmed. Let me connect you with a person.",
                self.support_line.as_deref(),
            )),
            Err(error) => {
                tracing::warn!(%error, "pin check failed");
                xml(twiml::dial(
                    "Sorry, something went wrong on our side. Let me connect you with a person.",
                    self.support_line.as_deref(),
                ))
            }
        }
    }

    /// Publishes what the caller said and speaks the bot's reply, or hands the call over.
    async fn turn(&self, turn: &Turn, (tenant, call): (&str, &str), caller: &str, said: &str) -> Response {
        let key = format!("voice:{call}:{}", turn.number);
        let (session, mut heard) = mpsc::channel(16);
        // A turn waits for one reply: falling behind cannot happen, so nobody listens for it.
        let session = crate::chat::hub::Sender::new(session, std::sync::Arc::new(tokio::sync::Notify::new()));
        if turn.conversation.is_empty() {
            self.hub.await_key(&key, session);
        } else {
            self.hub.join(&turn.conversation, session);
        }
        let verified = pin::verified(&self.deps.pool, (tenant, call), caller).await.unwrap_or_else(|error| {
            tracing::warn!(%error, "pin state unreadable; the caller counts as unverified");
            false
        });
        let inbound = InboundMessage {
            channel: Channel::Voice.into(),
            customer_id: caller.into(),
            text: said.into(),
            idempotency_key: key.clone(),
            conversation_id: turn.conversation.clone(),
            tenant: tenant.to_string(),
            customer_verified: verified,
            ..InboundMessage::default()
        };
        let subject = format!("{INBOUND_SUBJECT_PREFIX}.voice");
        match self.deps.bus.publish_raw(subject, Bytes::from(inbound.encode_to_vec()), &key).await {
            Ok(published) if published.duplicate => {
                return xml(twiml::gather(
                    "Sorry, could you say that again?",
                    &next_action(turn.number + 1, &turn.conversation),
                ));
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, "voice turn not taken");
                return xml(twiml::dial(
                    "Sorry, something went wrong on our side. Let me connect you with a person.",
                    self.support_line.as_deref(),
                ));
            }
        }
        match listen(&mut heard, turn.conversation.clone(), self.reply_wait).await {
            Heard::Reply { text, conversation } => {
                let next = next_action(turn.number + 1, &conversation);
                xml(twiml::gather(&format!("{text} {AGAIN}"), &next))
            }
            Heard::HandOff { text, open } => {
                // Outside business hours nobody can take the call: the caller hears when we open
                // and is promised a call back.
                let line = if open { self.support_line.as_deref() } else { None };
                xml(twiml::dial(text.as_deref().unwrap_or("Let me connect you with a person."), line))
            }
            Heard::Nothing => {
                tracing::warn!("no reply in time; the call goes to a person");
                let sorry = "Sorry, this is taking longer than it should. Let me connect you with a person.";
                xml(twiml::dial(sorry, self.support_line.as_deref()))
            }
        }
    }
}

/// What a turn led to.
enum Heard {
    Reply { text: String, conversation: String },
    HandOff { text: Option<String>, open: bool },
    Nothing,
}

/// Waits for the bot's reply, or a hand-off (and the reply that may come with it, briefly).
async fn listen(heard: &mut mpsc::Receiver<Outgoing>, mut conversation: String, wait: Duration) -> Heard {
    let deadline = tokio::time::Instant::now() + wait;
    let mut handoff: Option<bool> = None;
    loop {
        let until = match handoff {
            Some(_) => deadline.min(tokio::time::Instant::now() + Duration::from_millis(1500)),
            None => deadline,
        };
        match tokio::time::timeout_at(until, heard.recv()).await {
            Ok(Some(Outgoing::Welcome { conversation_id })) => conversation = conversation_id,
            Ok(Some(Outgoing::Message { author, text, .. })) if author != "customer" => {
                return match handoff {
                    Some(open) => Heard::HandOff { text: Some(text), open },
                    None => Heard::Reply { text, conversation },
                };
            }
            Ok(Some(Outgoing::Handoff { open, .. })) => handoff = Some(open),
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => {
                return match handoff {
                    Some(open) => Heard::HandOff { text: None, open },
                    None => Heard::Nothing,
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_like_twilio_documents_it() {
        // The worked example of Twilio's request-validation documentation.
        let fields = [
            ("To", "+18005551212"),
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let signature = twilio_signature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", &fields);
        assert_eq!(signature, "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
    }

    #[test]
    fn reads_the_turn_from_the_query() {
        assert!(
            turn_of(Some("turn=2&conversation=0193-ab"))
                .is_some_and(|t| t.number == 2 && t.conversation == "0193-ab")
        );
        assert!(turn_of(Some("turn=0")).is_none());
        assert!(turn_of(Some("turn=1&conversation=a%20b")).is_none());
        assert!(turn_of(None).is_none());
    }
}
