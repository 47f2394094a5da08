//! `Router/UpdateOrder`: a shop's systems report its orders through the API (a `service` token),
//! each update published as an `OrderUpdated` event only when it says something new; bad input and
//! a change of customer are refused with a reason; agents may not; tenants' orders of the same id
//! are two orders.

mod common;

use common::{Backing, Cluster};
use switchboard_auth::Role;
use switchboard_proto::{
    events::v1::{OrderStatus, OrderUpdated, event::Body},
    router::v1::{UpdateOrderRequest, router_client::RouterClient},
};
use tonic::Code;

fn shipped(order_id: &str, customer_id: &str) -> UpdateOrderRequest {
    let order = OrderUpdated {
        order_id: order_id.into(),
        customer_id: customer_id.into(),
        status: OrderStatus::Shipped.into(),
        carrier: "DHL".into(),
        tracking_number: "JD0001".into(),
        ..OrderUpdated::default()
    };
    UpdateOrderRequest { order: Some(order), wait: true }
}

#[tokio::test]
async fn a_shop_reports_orders_and_only_news_is_published() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let mut shop = RouterClient::new(cluster.channel_as("default", Role::Service, "shop").await?);

    let first = shop.update_order(shipped("1001", "c-1")).await?.into_inner();
    assert!(first.changed && first.sequence > 0, "{first:?}");
    let again = shop.update_order(shipped("1001", "c-1")).await?.into_inner();
    assert!(!again.changed && again.sequence == 0, "the same update again: {again:?}");
    let delivered = OrderUpdated {
        order_id: "1001".into(),
        status: OrderStatus::Delivered.into(),
        ..OrderUpdated::default()
    };
    let news =
        shop.update_order(UpdateOrderRequest { order: Some(delivered), wait: false }).await?.into_inner();
    assert!(news.changed, "{news:?}");

    let bus = backing.bus().await?;
    let published = common::events(&bus, "switchboard.events.order.default.1001").await?;
    let statuses: Vec<OrderStatus> = published
        .iter()
        .filter_map(|event| match &event.body {
            Some(Body::OrderUpdated(order)) => Some(order.status()),
            _ => None,
        })
        .collect();
    assert_eq!(statuses, [OrderStatus::Shipped, OrderStatus::Delivered]);

    let taken = shop.update_order(shipped("1001", "c-2")).await.expect_err("another customer");
    assert_eq!(taken.code(), Code::FailedPrecondition, "{taken:?}");
    assert!(taken.message().contains("belongs to another customer"), "{}", taken.message());
    let nameless = shop.update_order(shipped("1002", "")).await.expect_err("a new order without customer");
    assert_eq!(nameless.code(), Code::InvalidArgument);
    assert!(nameless.message().contains("give its customer_id"), "{}", nameless.message());
    let empty = UpdateOrderRequest { order: None, wait: false };
    let missing = shop.update_order(empty).await.expect_err("no order");
    assert_eq!((missing.code(), missing.message()), (Code::InvalidArgument, "order is required"));

    let mut agent = RouterClient::new(cluster.channel_as("default", Role::Agent, "ana").await?);
    let denied = agent.update_order(shipped("1003", "c-1")).await.expect_err("agents do not report orders");
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert!(denied.message().contains("customers.write"), "{}", denied.message());

    // Another tenant's order 1001 is its own: new to it, so it needs its customer.
    let mut acme = RouterClient::new(cluster.channel_as("acme", Role::Service, "shop").await?);
    let theirs = acme.update_order(shipped("1001", "")).await.expect_err("new to acme");
    assert!(theirs.message().contains("is new"), "{}", theirs.message());
    assert!(acme.update_order(shipped("1001", "c-9")).await?.into_inner().changed);
    cluster.stop().await
}

/// The bot's reply to `text` from `customer` (verified or not), with the routing reason: the
/// reply to that very message (a shipping notice may reach the same conversation meanwhile).
async fn bot_reply(
    cluster: &Cluster,
    bus: &switchboard_bus::Bus,
    request: switchboard_proto::intake::v1::SubmitMessageRequest,
) -> anyhow::Result<(switchboard_proto::events::v1::MessageRouted, String)> {
    let conversation_id = common::submit(cluster, request).await?.conversation_id;
    let (routed, _) =
        common::wait_for_event(bus, "switchboard.events.routing.>", |event| match &event.body {
            Some(Body::MessageRouted(r)) if r.conversation_id == conversation_id => Some(r.clone()),
            _ => None,
        })
        .await?;
    let (text, _) = common::wait_for_event(bus, "switchboard.events.>", |event| match &event.body {
        Some(Body::ReplyRequested(r)) if r.in_reply_to == routed.message_id => Some(r.text.clone()),
        _ => None,
    })
    .await?;
    Ok((routed, text))
}

#[tokio::test]
async fn an_order_the_shop_never_reported_is_said_not_found_never_a_dead_end() -> anyhow::Result<()> {
    use switchboard_proto::events::v1::RouteAction;
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let bus = backing.bus().await?;
    let mut shop = RouterClient::new(cluster.channel_as("default", Role::Service, "shop").await?);
    shop.update_order(shipped("1001", "c-known")).await?;

    // No knowledge base at all: a verified customer's unknown number is said not found.
    let asked = common::verified_message("c-new", "Where is my order 12345?", "nf-1");
    let (routed, text) = bot_reply(&cluster, &bus, asked).await?;
    assert_eq!(routed.action(), RouteAction::AutoReply, "{routed:?}");
    assert!(text.contains("can't find an order numbered 12345"), "{text}");
    assert!(text.contains("ask for a person"), "{text}");

    // A customer with an order, asking about another number: that number, not their latest.
    let asked = common::verified_message("c-known", "Where is my order 99999?", "nf-2");
    let (_, text) = bot_reply(&cluster, &bus, asked).await?;
    assert!(text.contains("99999") && !text.contains("1001"), "{text}");

    // No number and no order: asked for the number.
    let asked = common::verified_message("c-none", "Where is my order?", "nf-3");
    let (routed, text) = bot_reply(&cluster, &bus, asked).await?;
    assert_eq!(routed.action(), RouteAction::AutoReply, "{routed:?}");
    assert!(text.contains("What is the order number?"), "{text}");

    // Not verified, nothing in the knowledge base: the way to be verified, not a hand-off.
    let asked = common::message("c-anon", "Where is my order 12345?", "nf-4");
    let (routed, text) = bot_reply(&cluster, &bus, asked).await?;
    assert_eq!(routed.action(), RouteAction::AutoReply, "{routed:?}");
    assert!(!routed.reason.contains("no confident answer"), "{}", routed.reason);
    assert!(text.contains("sign in"), "{text}");
    cluster.stop().await
}
