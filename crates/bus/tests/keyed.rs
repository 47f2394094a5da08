//! Keyed consuming against a real nats-server: messages of one key in stream order (a transient
//! failure retried in place, never overtaken), different keys at once.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::StreamExt as _;
use prost::Message as _;
use switchboard_bus::{
    Bus, Config, ConsumerSpec, DEAD_LETTER_STREAM, Delivery, Draft, Handler, HandlerError, process_keyed,
};
use switchboard_proto::events::v1::{ArticleArchived, Event, event::Body};
use switchboard_testkit::NatsServer;
use tokio_util::sync::CancellationToken;

fn event(article: &str) -> anyhow::Result<Event> {
    let body = Body::ArticleArchived(ArticleArchived { article_id: article.into(), version: 1 });
    Ok(Draft::new("", article, body).build()?)
}

/// The key of an article event: its id up to the first `-` (`a-2` is key `a`).
fn key_of(event: &Event) -> String {
    event.aggregate_id.split('-').next().unwrap_or_default().to_string()
}

/// Fails `a-1` transiently twice, `c-bad` always; records what it handled, in order.
#[derive(Clone, Default)]
struct Recorder {
    handled: Arc<Mutex<Vec<String>>>,
    tries: Arc<Mutex<HashMap<String, u32>>>,
}

impl Handler<Event> for Recorder {
    async fn handle(&self, event: Event, _delivery: &Delivery) -> Result<(), HandlerError> {
        let id = event.aggregate_id;
        let tries = {
            let mut tries = self.tries.lock().map_err(|_| lock())?;
            let count = tries.entry(id.clone()).or_default();
            *count += 1;
            *count
        };
        match id.as_str() {
            "a-1" if tries <= 2 => return Err(HandlerError::Transient("database is away".into())),
            "c-bad" => return Err(HandlerError::Transient("never works".into())),
            _ => {}
        }
        self.handled.lock().map_err(|_| lock())?.push(id);
        Ok(())
    }
}

fn lock() -> HandlerError {
    HandlerError::Permanent("lock poisoned".into())
}

#[tokio::test]
async fn a_keys_messages_keep_their_order_through_retries_while_other_keys_go_on() -> anyhow::Result<()> {
    switchboard_testkit::init_tracing();
    let server = NatsServer::start()?;
    let bus = Bus::connect(Config { url: server.url(), max_deliver: 3, ..Config::default() }).await?;
    for article in ["a-1", "a-2", "b-1", "c-bad", "a-3", "b-2", "c-2"] {
        bus.publish(&event(article)?).await?;
    }
    let spec = ConsumerSpec::events("keyed", "switchboard.events.article.>", 16);
    let consumer = bus.durable_consumer(&spec).await?;
    let recorder = Recorder::default();
    let shutdown = CancellationToken::new();
    let running = tokio::spawn({
        let (bus, recorder, shutdown) = (bus.clone(), recorder.clone(), shutdown.clone());
        async move { process_keyed(&bus, &consumer, "keyed", &recorder, 16, key_of, &shutdown).await }
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while recorder.handled.lock().map_err(|_| anyhow::anyhow!("lock"))?.len() < 6 {
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "not everything was handled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shutdown.cancel();
    running.await??;

    let handled = recorder.handled.lock().map_err(|_| anyhow::anyhow!("lock"))?.clone();
    let at = |id: &str| handled.iter().position(|h| h == id).unwrap_or(usize::MAX);
    assert!(at("a-1") < at("a-2") && at("a-2") < at("a-3"), "a's order: {handled:?}");
    assert!(at("b-1") < at("b-2"), "b's order: {handled:?}");
    assert!(at("b-2") < at("a-1"), "b did not wait for a's retries: {handled:?}");
    assert!(at("c-2") < usize::MAX, "c went on once c-bad was given up: {handled:?}");
    let tries = recorder.tries.lock().map_err(|_| anyhow::anyhow!("lock"))?.clone();
    assert_eq!(tries.get("a-1"), Some(&3), "retried in place until it worked");
    assert_eq!(tries.get("c-bad"), Some(&3), "tried max_deliver times");
    assert_eq!(reason_of_the_dead_letter(&bus).await?, "never works (gave up after 3 tries)");
    Ok(())
}

async fn reason_of_the_dead_letter(bus: &Bus) -> anyhow::Result<String> {
    use async_nats::jetstream::consumer::{DeliverPolicy, pull::OrderedConfig};
    let stream = bus.jetstream().get_stream(DEAD_LETTER_STREAM).await?;
    let consumer = stream
        .create_consumer(OrderedConfig { deliver_policy: DeliverPolicy::All, ..Default::default() })
        .await?;
    let mut messages = consumer.messages().await?;
    let letter = tokio::time::timeout(Duration::from_secs(10), messages.next())
        .await?
        .ok_or_else(|| anyhow::anyhow!("no dead letter"))??;
    let event = Event::decode(letter.payload.as_ref())?;
    anyhow::ensure!(event.aggregate_id == "c-bad", "{}", event.aggregate_id);
    let headers = letter.headers.clone().unwrap_or_default();
    Ok(headers.get("Switchboard-Dlq-Reason").map(|v| v.as_str().to_string()).unwrap_or_default())
}
