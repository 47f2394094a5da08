//! `/console/api/changes`: `Desk/WatchInbox` as server-sent events. Each change is an event
//! `change` whose `id` is its stream sequence, so a browser that reconnects with `Last-Event-ID`
//! resumes right after the last change it saw. When the API's stream fails, an `error` event
//! says why and the response ends (the browser reconnects); it also ends when the server stops.

use std::{convert::Infallible, time::Duration};

use axum::{
    extract::State,
    response::sse::{Event, KeepAlive, Sse},
};
use futures::{Stream, StreamExt as _};
use http::HeaderMap;
use switchboard_proto::desk::v1::{InboxChange, WatchInboxRequest};
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
