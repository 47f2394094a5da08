//! `/console/api/changes`: `Desk/WatchInbox` as server-sent events. Each change is an event
//! `change` whose `id` is its stream sequence, so a browser that reconnects with `Last-Event-ID`
//! resumes right after the last change it saw. When the API's stream fails, an `error` event
//! says why and the response ends (the browser reconnects); it also ends when the server stops.

use std::{convert::Infallible, time::Duration};

use axum::{
    extract::{Path, State},
    response::sse::{Event, KeepAlive, Sse},
};
use futures::{Stream, StreamExt as _};
use http::HeaderMap;
use switchboard_proto::desk::v1::{InboxChange, SignalTypingRequest, WatchInboxRequest, WatchTypingRequest};
use tokio_util::sync::CancellationToken;

use crate::{backend::Bearer, error::ApiError, input, json};

#[derive(Clone)]
pub struct Live {
    pub backend: crate::backend::Backend,
    /// Cancelled when the server begins to stop: streams end so the listener can drain.
    pub shutdown: CancellationToken,
}

pub async fn changes(
    State(live): State<Live>,
    bearer: Bearer,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let last = headers.get("last-event-id").and_then(|value| value.to_str().ok());
    let request = WatchInboxRequest { after_sequence: input::last_event_id(last)? };
    let changes = live.backend.desk_stream(&bearer).watch_inbox(request).await?.into_inner();
    let events = changes
        .map(|item| match item {
            Ok(change) => Ok(event(&change)),
            Err(status) => Err(ApiError::from(status)),
        })
        // The first failure is told, then the stream ends.
        .scan(false, |failed, item| {
            let next = (!*failed).then(|| match item {
                Ok(event) => event,
                Err(error) => {
                    *failed = true;
                    failure(&error)
                }
            });
            std::future::ready(next)
        })
        .map(Ok)
        .take_until(live.shutdown.cancelled_owned());
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// A change as an SSE event: `id` is its sequence, `data` the change as JSON.
fn event(change: &InboxChange) -> Event {
    let data = json::change(change).to_string();
    Event::default().id(change.sequence.to_string()).event("change").data(data)
}

fn failure(error: &ApiError) -> Event {
    let data = serde_json::json!({"code": error.code, "message": error.message}).to_string();
    Event::default().event("error").data(data)
}

/// `/console/api/conversations/{id}/typing`: the customer typing, as SSE events `typing`
/// (`{"author": "customer", "at": …}`); not resumable (a signal missed is gone).
pub async fn typing(
    State(live): State<Live>,
    bearer: Bearer,
    Path(conversation_id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let request = WatchTypingRequest { conversation_id };
    let signals = live.backend.desk_stream(&bearer).watch_typing(request).await?.into_inner();
    let events = signals
        .take_while(|item| std::future::ready(item.is_ok()))
        .filter_map(|item| std::future::ready(item.ok()))
        .map(|signal| {
            let at = signal.at.map(|at| switchboard_proto::time::to_datetime(Some(&at)).to_rfc3339());
            let data = serde_json::json!({"author": signal.author, "at": at}).to_string();
            Ok(Event::default().event("typing").data(data))
        })
        .take_until(live.shutdown.cancelled_owned());
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// `POST /console/api/conversations/{id}/typing`: the agent is typing (the customer's chat
/// shows it).
pub async fn signal_typing(
    State(live): State<Live>,
    bearer: Bearer,
    Path(conversation_id): Path<String>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let request = SignalTypingRequest { conversation_id };
    live.backend.desk(&bearer).signal_typing(request).await?;
    Ok(axum::Json(serde_json::json!({})))
}
