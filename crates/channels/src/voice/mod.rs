//! Voice, in the Twilio style: `POST /voice/incoming` greets the caller and listens
//! (`<Gather input="speech">`); each `SpeechResult` posted to `/voice/gather` becomes an inbound
//! message on the voice channel (key `voice:<CallSid>:<turn>`, so a retried webhook is one
//! message; the caller's number is the customer id), and the bot's reply is spoken back with the
//! next `<Gather>`. A hand-off, or no reply in time, dials the support line. Requests must carry a
//! valid `X-Twilio-Signature`. A caller ID proves nothing: keying in the account's PIN (`Digits`,
//! ended by `#`) verifies the caller for the call, and only then is account data told. The call
//! is held in the language its number names (`?lang=de-DE` on the number's webhook; English
//! without one): the caller is greeted, heard and answered in it.

mod language;
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
use switchboard_projection::Deps;
use switchboard_proto::events::v1::{Channel, InboundMessage};
use tokio::sync::mpsc;

use crate::{
    chat::{Hub, hub::Outgoing},
    tenants::Tenants,
};

pub use language::CallLanguage;

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
    let Some(call) = CallLanguage::named(field(&query_pairs(query.as_deref()), "lang")) else {
        return (StatusCode::BAD_REQUEST, "lang must be a language tag such as de or de-DE").into_response();
    };
    xml(twiml::gather(&call.say("greeting"), &call, &call, &next_action(1, "", &call)))
}

fn query_pairs(query: Option<&str>) -> Fields {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect()
}

/// Where the caller is in the call: which turn, the conversation once there is one, and the
/// call's language.
struct Turn {
    number: u32,
    conversation: String,
    language: CallLanguage,
}

fn turn_of(query: Option<&str>) -> Option<Turn> {
    let pairs = query_pairs(query);
    let number = field(&pairs, "turn").parse().ok().filter(|n| (1..=200).contains(n))?;
    let conversation = field(&pairs, "conversation").to_string();
    let valid =
        conversation.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') && conversation.len() <= 64;
    let language = CallLanguage::named(field(&pairs, "lang"))?;
    valid.then_some(Turn { number, conversation, language })
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
        return (
            StatusCode::BAD_REQUEST,
            "turn (1-200), conversation (an id) and lang (a language tag) are expected in the query",
        )
            .into_response();
    };
    let (call, caller, said) =
        (field(&fields, "CallSid"), field(&fields, "From"), field(&fields, "SpeechResult").trim());
    let call_ok = !call.is_empty() && call.len() <= 64 && call.chars().all(|c| c.is_ascii_alphanumeric());
    if !call_ok || caller.is_empty() || caller.len() > 64 {
        return (StatusCode::BAD_REQUEST, "CallSid and From are required").into_response();
    }
    let digits = field(&fields, "Digits").trim_end_matches('#');
    if said.is_empty() && !digits.is_empty() {
        return voice.pin((&tenant, call), caller, digits, &turn).await;
    }
    if said.is_empty() {
        let here = next_action(turn.number, &turn.conversation, &turn.language);
        let language = &turn.language;
        return xml(twiml::gather(&language.say("not_caught"), language, language, &here));
    }
    voice.turn(&turn, (&tenant, call), caller, said).await
}

fn next_action(number: u32, conversation: &str, language: &CallLanguage) -> String {
    let lang = &language.locale;
    if conversation.is_empty() {
        format!("/voice/gather?turn={number}&lang={lang}")
    } else {
        format!("/voice/gather?turn={number}&conversation={conversation}&lang={lang}")
    }
}

impl Voice {
    /// A keyed-in PIN: verified for the call, told how many tries are left, or handed over.
    async fn pin(&self, call: (&str, &str), caller: &str, digits: &str, turn: &Turn) -> Response {
        let language = &turn.language;
        let here = next_action(turn.number, &turn.conversation, language);
        let listen = |text: String| xml(twiml::gather(&text, language, language, &here));
        let line = self.support_line.as_deref();
        match pin::check(&self.deps.pool, call, caller, digits).await {
            Ok(pin::Checked::Verified) => listen(language.say("pin_right")),
            Ok(pin::Checked::Wrong(left)) => listen(switchboard_phrases::say(
                language.tag,
                "voice.pin_wrong",
                &[("left", &left.to_string())],
            )),
            Ok(pin::Checked::Locked) => xml(twiml::dial(&language.say("pin_locked"), language, line)),
            Err(error) => {
                tracing::warn!(%error, "pin check failed");
                xml(twiml::dial(&language.say("our_side"), language, line))
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
            language: turn.language.tag.to_string(),
            ..InboundMessage::default()
        };
        let language = &turn.language;
        let payload = Bytes::from(inbound.encode_to_vec());
        match self.deps.bus.publish_inbound("voice", tenant, payload, &key).await {
            Ok(published) if published.duplicate => {
                let next = next_action(turn.number + 1, &turn.conversation, language);
                return xml(twiml::gather(&language.say("say_again"), language, language, &next));
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, "voice turn not taken");
                return xml(twiml::dial(&language.say("our_side"), language, self.support_line.as_deref()));
            }
        }
        let heard = listen(&mut heard, turn.conversation.clone(), self.reply_wait).await;
        self.answer(heard, turn)
    }

    /// What the caller hears after their turn: the reply (in its own language, should the
    /// customer have spoken another) and the question whether there is more, or a hand-over.
    fn answer(&self, heard: Heard, turn: &Turn) -> Response {
        let language = &turn.language;
        match heard {
            Heard::Reply { text, conversation, language: replied_in } => {
                let spoken = CallLanguage::named(&replied_in).unwrap_or_default();
                let spoken = if replied_in.is_empty() { language.clone() } else { spoken };
                let more = spoken.say("anything_else");
                let text = switchboard_phrases::join(spoken.tag, &[text, more]);
                let next = next_action(turn.number + 1, &conversation, language);
                xml(twiml::gather(&text, &spoken, language, &next))
            }
            Heard::HandOff { text, open } => {
                // Outside business hours nobody can take the call: the caller hears when we open
                // and is promised a call back.
                let line = if open { self.support_line.as_deref() } else { None };
                let text = text.unwrap_or_else(|| language.say("connecting"));
                xml(twiml::dial(&text, language, line))
            }
            Heard::Nothing => {
                tracing::warn!("no reply in time; the call goes to a person");
                xml(twiml::dial(&language.say("too_long"), language, self.support_line.as_deref()))
            }
        }
    }
}

/// What a turn led to.
enum Heard {
    Reply { text: String, conversation: String, language: String },
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
            Ok(Some(Outgoing::Message { author, text, language, .. })) if author != "customer" => {
                return match handoff {
                    Some(open) => Heard::HandOff { text: Some(text), open },
                    None => Heard::Reply { text, conversation, language },
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
                .is_some_and(|t| t.number == 2 && t.conversation == "0193-ab" && t.language.tag == "en")
        );
        assert!(turn_of(Some("turn=1&lang=de-DE")).is_some_and(|t| t.language.locale == "de-DE"));
        assert!(turn_of(Some("turn=1&lang=de%20DE")).is_none());
        assert!(turn_of(Some("turn=0")).is_none());
        assert!(turn_of(Some("turn=1&conversation=a%20b")).is_none());
        assert!(turn_of(None).is_none());
    }
}
