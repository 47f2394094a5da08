//! Following the stream survives a NATS restart without going back in time: a follower whose
//! feed had brought nothing yet when NATS restarted gets the new events, not the old ones again.

mod common;

use std::time::Duration;

use futures::StreamExt as _;
use switchboard_bus::{Bus, Draft};
use switchboard_proto::events::v1::{OrderUpdated, event::Body};
use switchboard_testkit::NatsServer;

fn order(id: &str) -> anyhow::Result<switchboard_proto::events::v1::Event> {
    let body = Body::OrderUpdated(OrderUpdated {
        order_id: id.into(),
        customer_id: "c-1".into(),
        ..Default::default()
    });
    Ok(Draft::new("default", id, body).build()?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_feed_brings_only_new_events_after_nats_restarts() -> anyhow::Result<()> {
    let mut nats = NatsServer::start()?;
    let bus = Bus::connect(switchboard_bus::Config { url: nats.url(), ..Default::default() }).await?;
    for id in ["old-1", "old-2", "old-3"] {
        bus.publish(&order(id)?).await?;
    }
    let mut live = bus.follow_new(&["switchboard.events.order.>"]).await?;
    tokio::task::block_in_place(|| nats.restart())?;

    // Published once the client is back (the bus retries while it reconnects).
    let deadline = tokio::time::Instant::now() + common::WAIT;
    while let Err(error) = bus.publish(&order("new-1")?).await {
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "NATS did not come back: {error}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (event, _) =
        tokio::time::timeout(common::WAIT, live.next()).await?.ok_or(anyhow::anyhow!("feed ended"))??;
    let Some(Body::OrderUpdated(first)) = event.body else { anyhow::bail!("not an order: {event:?}") };
    assert_eq!(first.order_id, "new-1", "the first event after the restart is the new one");
    Ok(())
}
