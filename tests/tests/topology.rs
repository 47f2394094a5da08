//! One binary, many roles: services split over two servers still work together over JetStream
//! and loopback gRPC; every server lists its services by reflection (v1 and v1alpha).

mod common;

use common::{Backing, Cluster, message, submit, wait_for_event};
use switchboard_proto::{
    events::v1::event::Body,
    intake::v1::{ConversationStatus, GetConversationRequest},
    router::v1::{ListRulesRequest, router_client::RouterClient},
};
use switchboard_server::{Config, Service};
use tonic::Code;

#[tokio::test]
async fn services_split_over_two_servers_answer_a_customer_together() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let front = Config {
        services: vec![Service::Intake, Service::Classifier, Service::Analytics],
        ..backing.config()
    };
    let back =
        Config { services: vec![Service::Router, Service::Knowledge, Service::Notifier], ..backing.config() };
    let front = Cluster::start(front).await?;
    let back = Cluster::start(back).await?;
    let bus = backing.bus().await?;

    common::publish_tracking_article(back.address).await?;
    let submitted = submit(&front, message("c-1", "Where is my order 9?", "t-1")).await?;
    let (_, sequence) = wait_for_event(&bus, "switchboard.events.delivery.>", |event| match &event.body {
        Some(Body::ReplyDelivered(d)) if d.conversation_id == submitted.conversation_id => Some(()),
        _ => None,
    })
    .await?;
    let request =
        GetConversationRequest { conversation_id: submitted.conversation_id, min_sequence: sequence };
    let conversation = front.intake().await?.get_conversation(request).await?.into_inner();
    assert_eq!(conversation.status(), ConversationStatus::Answered);

    let absent = RouterClient::new(front.channel().await?)
        .list_rules(ListRulesRequest {})
        .await
        .expect_err("not here");
    assert_eq!(absent.code(), Code::Unimplemented);
    let rules =
        RouterClient::new(back.channel().await?).list_rules(ListRulesRequest {}).await?.into_inner().rules;
    assert_eq!(rules.last().map(|rule| rule.name.as_str()), Some("everything-else"));
    front.stop().await?;
    back.stop().await
}

#[tokio::test]
async fn reflection_lists_the_services_in_v1_and_v1alpha() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let expected = [
        "grpc.health.v1.Health",
        "switchboard.intake.v1.Intake",
        "switchboard.classifier.v1.Classifier",
        "switchboard.router.v1.Router",
        "switchboard.knowledge.v1.Knowledge",
        "switchboard.notifier.v1.Notifier",
        "switchboard.analytics.v1.Analytics",
        "switchboard.desk.v1.Desk",
    ];
    let v1 = list_v1(&cluster).await?;
    let v1alpha = list_v1alpha(&cluster).await?;
    for name in expected {
        assert!(v1.iter().any(|s| s == name), "v1 lists {name}: {v1:?}");
        assert!(v1alpha.iter().any(|s| s == name), "v1alpha lists {name}: {v1alpha:?}");
    }
    cluster.stop().await
}

/// Lists services through one version of the reflection protocol (the two differ only by package).
macro_rules! list_services {
    ($version:ident, $cluster:expr) => {{
        use tonic_reflection::pb::$version::{
            ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
            server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
        };
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut client = ServerReflectionClient::new($cluster.channel().await?);
        let mut responses =
            client.server_reflection_info(futures::stream::iter([request])).await?.into_inner();
        match responses.message().await?.and_then(|r| r.message_response) {
            Some(MessageResponse::ListServicesResponse(list)) => {
                list.service.into_iter().map(|s| s.name).collect::<Vec<_>>()
            }
            other => anyhow::bail!("unexpected reflection answer: {other:?}"),
        }
    }};
}

async fn list_v1(cluster: &Cluster) -> anyhow::Result<Vec<String>> {
    Ok(list_services!(v1, cluster))
}

async fn list_v1alpha(cluster: &Cluster) -> anyhow::Result<Vec<String>> {
    Ok(list_services!(v1alpha, cluster))
}

#[tokio::test]
async fn a_standby_replica_answers_reads_from_the_writers_model() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let writer = Cluster::start(backing.config()).await?;
    let standby = Cluster::start(Config { services: vec![Service::Intake], ..backing.config() }).await?;
    let bus = backing.bus().await?;
    let submitted = submit(&standby, message("c-2", "I want a human", "t-2")).await?;
    let (_, sequence) = wait_for_event(&bus, "switchboard.events.routing.>", |event| match &event.body {
        Some(Body::MessageRouted(r)) if r.conversation_id == submitted.conversation_id => Some(()),
        _ => None,
    })
    .await?;
    let request =
        GetConversationRequest { conversation_id: submitted.conversation_id, min_sequence: sequence };
    let conversation = standby.intake().await?.get_conversation(request).await?.into_inner();
    assert_eq!(conversation.status(), ConversationStatus::Escalated);
    standby.stop().await?;
    writer.stop().await
}
