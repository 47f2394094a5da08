//! `switchboard replay`: every read model dropped and rebuilt from the stream equals the one the
//! running services built incrementally; a replay is refused while a service consumes it.

mod common;

use common::{
    Backing, Cluster, message,
    models::{TABLES, snapshot},
    submit, wait_for_event,
};
use switchboard_proto::{
    events::v1::event::Body,
    knowledge::v1::{ArchiveArticleRequest, PublishArticleRequest, knowledge_client::KnowledgeClient},
};
use switchboard_server::{Service, catch_up, replay};

/// A customer's profile and order, and a macro, for the desk's read model.
async fn desk_traffic(cluster: &Cluster, bus: &switchboard_bus::Bus) -> anyhow::Result<()> {
    use switchboard_proto::{
        desk::v1::{Macro, SaveMacroRequest, desk_client::DeskClient},
        events::v1::{OrderStatus, OrderUpdated},
        router::v1::{Customer, PutCustomerRequest, router_client::RouterClient},
    };
    let customer = Customer { customer_id: "c-1".into(), tier: "gold".into(), ..Customer::default() };
    let mut router = RouterClient::new(cluster.channel().await?);
    router.put_customer(PutCustomerRequest { customer: Some(customer), wait: true }).await?;
    let order = OrderUpdated {
        order_id: "42".into(),
        customer_id: "c-1".into(),
        status: OrderStatus::Shipped.into(),
        ..OrderUpdated::default()
    };
    bus.publish(&switchboard_bus::Draft::new("default", "42", Body::OrderUpdated(order)).build()?).await?;
    let greeting = Macro {
        macro_id: "greeting".into(),
        name: "Greeting".into(),
        texts: [("en".to_string(), "Hello {{customer_name}}".to_string())].into(),
        ..Macro::default()
    };
    let mut desk = DeskClient::new(cluster.channel().await?);
    desk.save_macro(SaveMacroRequest { r#macro: Some(greeting), expected_version: 0 }).await?;
    Ok(())
}

async fn traffic(cluster: &Cluster, bus: &switchboard_bus::Bus) -> anyhow::Result<()> {
    let mut knowledge = KnowledgeClient::new(cluster.channel().await?);
    let article = |id: &str, title: &str, body: &str| PublishArticleRequest {
        article_id: id.into(),
        title: title.into(),
        body: body.into(),
        wait: true,
        ..Default::default()
    };
    knowledge.publish_article(article("tracking", "Tracking your order", "Use the tracking link.")).await?;
    knowledge
        .publish_article(article("tracking", "Where is my order", "Use the tracking link in your email."))
        .await?;
    knowledge.publish_article(article("old", "An old article", "About order history.")).await?;
    knowledge.archive_article(ArchiveArticleRequest { article_id: "old".into() }).await?;
    desk_traffic(cluster, bus).await?;
    let answered = submit(cluster, message("c-1", "Where is my order 42?", "r-1")).await?;
    submit(cluster, message("c-2", "I want a human", "r-2")).await?;
    submit(cluster, message("c-3", "pricing for 10 seats", "r-3")).await?;
    let mut follow_up = message("c-1", "thanks!", "r-4");
    follow_up.conversation_id = Some(answered.conversation_id.clone());
    submit(cluster, follow_up).await?;
    wait_for_event(bus, "switchboard.events.delivery.>", |e| {
        matches!(e.body, Some(Body::ReplyDelivered(_))).then_some(())
    })
    .await?;
    let mut routed = 0;
    wait_for_event(bus, "switchboard.events.routing.>", |_| {
        routed += 1;
        (routed == 4).then_some(())
    })
    .await?;
    Ok(())
}

async fn last_sequence(bus: &switchboard_bus::Bus) -> anyhow::Result<u64> {
    let mut stream = bus.jetstream().get_stream(switchboard_bus::EVENTS_STREAM).await?;
    Ok(stream.info().await?.state.last_sequence)
}

#[tokio::test]
async fn a_replayed_read_model_equals_the_live_one() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let config = backing.config();
    let cluster = Cluster::start(config.clone()).await?;
    let bus = backing.bus().await?;
    traffic(&cluster, &bus).await?;

    let refused = replay(&config, Service::Intake).await.expect_err("intake is running");
    assert!(format!("{refused:#}").contains("stop it before replaying"), "{refused:#}");
    cluster.stop().await?;

    // The live models: what the services built, plus anything still unapplied at stop.
    for service in Service::ALL {
        catch_up(&config, service).await?;
    }
    let pool = backing.database.pool().await?;
    let live = snapshot(&pool, true).await?;
    let stream_end = last_sequence(&bus).await?;

    for service in Service::ALL {
        let report = replay(&config, service).await?;
        let filled = TABLES.iter().any(|(filled, _)| *filled == service);
        assert!(!filled || report.events > 0, "{} replayed events", service.name());
    }
    let rebuilt = snapshot(&pool, true).await?;
    assert_eq!(last_sequence(&bus).await?, stream_end, "nothing is published once the cluster has stopped");
    assert_eq!(live.len(), rebuilt.len());
    for (live, rebuilt) in live.iter().zip(&rebuilt) {
        assert_eq!(live, rebuilt);
    }

    // The services go on from the rebuilt models without applying anything twice.
    let cluster = Cluster::start(config.clone()).await?;
    let again = submit(&cluster, message("c-1", "Where is my order 42?", "r-1")).await?;
    assert!(again.duplicate, "the rebuilt intake model still knows the key");
    cluster.stop().await?;
    for service in Service::ALL {
        catch_up(&config, service).await?;
    }
    assert_eq!(snapshot(&pool, true).await?, rebuilt);
    Ok(())
}
