//! What the bus itself carries: pipelined JetStream publishes (up to 512 awaiting their acks)
//! of events as the product publishes them (an encoded event, a `Nats-Msg-Id` to deduplicate, a
//! trace header) to a stream configured as the events stream, on the same server.

use std::time::Instant;

use async_nats::jetstream::message::PublishMessage as Publish;
use bytes::Bytes;
use futures::{StreamExt as _, stream};
use prost::Message as _;
use switchboard_bus::{Bus, Draft, EVENTS_STREAM};
use switchboard_proto::events::v1::{Channel, Event, MessageClassified, event::Body};
use uuid::Uuid;

const STREAM: &str = "SWITCHBOARD_BENCH_RAW";

/// Events a second the server takes, pipelined, over `count` publishes.
pub(crate) async fn publish_rate(bus: &Bus, count: usize) -> anyhow::Result<f64> {
    let jetstream = bus.jetstream();
    let mut config = jetstream.get_stream(EVENTS_STREAM).await?.info().await?.config.clone();
    config.name = STREAM.into();
    config.subjects = vec!["switchboard-bench.raw.>".into()];
    jetstream.create_stream(config).await?;
    let payload = Bytes::from(an_event()?.encode_to_vec());
    let started = Instant::now();
    let published = stream::iter(0..count)
        .map(|_| {
            let payload = payload.clone();
            async move {
                let id = Uuid::now_v7().to_string();
                let mut headers = async_nats::HeaderMap::new();
                switchboard_bus::inject_context(&mut headers);
                let publish = Publish::build().payload(payload).headers(headers).message_id(&id);
                let subject = format!("switchboard-bench.raw.classification.default.{id}");
                jetstream.send_publish(subject, publish).await?.await.map_err(anyhow::Error::from)
            }
        })
        .buffer_unordered(512)
        .filter(|acked| std::future::ready(acked.is_ok()))
        .count()
        .await;
    let rate = published as f64 / started.elapsed().as_secs_f64();
    jetstream.delete_stream(STREAM).await?;
    anyhow::ensure!(published == count, "{} of {count} raw publishes failed", count - published);
    Ok(rate)
}

/// An event as the path publishes them: a message's classification.
fn an_event() -> anyhow::Result<Event> {
    let classified = MessageClassified {
        conversation_id: Uuid::now_v7().to_string(),
        message_id: Uuid::now_v7().to_string(),
        customer_id: "customer-1".into(),
        channel: Channel::Web.into(),
        text: "How long does delivery take?".into(),
        intent: "delivery_time".into(),
        confidence: 0.9,
        language: "en".into(),
        model_version: "bench".into(),
        ..Default::default()
    };
    let id = classified.message_id.clone();
    Ok(Draft::new("", &id, Body::MessageClassified(classified)).build()?)
}
