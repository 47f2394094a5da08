//! The notifier: automated replies reach the conversation and the webhook once; a webhook that
//! refuses them hands the conversation to a human.

mod common;

use std::sync::{Arc, Mutex};

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::post,
};
use common::{Backing, Cluster, message, submit, wait_for_event};
use switchboard_proto::{
    events::v1::event::Body,
    intake::v1::{ConversationStatus, GetConversationRequest},
    notifier::v1::{ListDeliveriesRequest, notifier_client::NotifierClient},
};

/// What the webhook receiver saw: (Idempotency-Key, body).
type Seen = Arc<Mutex<Vec<(String, serde_json::Value)>>>;

/// A real HTTP server on a free port that answers every POST with `status`.
async fn receiver(status: StatusCode) -> anyhow::Result<(String, Seen)> {
    let seen: Seen = Arc::default();
    let app = Router::new()
        .route(
            "/replies",
            post(
                |State((seen, status)): State<(Seen, StatusCode)>,
                 headers: HeaderMap,
                 Json(body): Json<serde_json::Value>| async move {
                    let key = headers
                        .get("idempotency-key")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string();
                    if let Ok(mut seen) = seen.lock() {
                        seen.push((key, body));
                    }
                    status
                },
            ),
        )
        .with_state((seen.clone(), status));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/replies", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, seen))
}

/// A cluster whose notifier posts replies to `url`, with the tracking article published.
async fn webhook_cluster(backing: &Backing, url: String) -> anyhow::Result<(Cluster, switchboard_bus::Bus)> {
    let cluster = Cluster::start(switchboard_server::Config {
        notifier: switchboard_notifier::Config {
            webhook_url: Some(url),
            outbound_allow: common::loopback_allowed(),
            ..Default::default()
        },
        ..backing.config()
    })
    .await?;
    common::publish_tracking_article(cluster.address).await?;
    Ok((cluster, backing.bus().await?))
}

#[tokio::test]
async fn an_automated_reply_is_posted_to_the_webhook_once() -> anyhow::Result<()> {
    let (url, seen) = receiver(StatusCode::OK).await?;
    let backing = Backing::start().await?;
    let (cluster, bus) = webhook_cluster(&backing, url).await?;
    let submitted = submit(&cluster, message("c-1", "Where is my order 5?", "w-1")).await?;
    let (reply_id, sequence) =
        wait_for_event(&bus, "switchboard.events.delivery.>", |event| match &event.body {
            Some(Body::ReplyDelivered(d)) if d.conversation_id == submitted.conversation_id => {
                Some(d.reply_id.clone())
            }
            _ => None,
        })
        .await?;

    let posts = seen.lock().map_err(|_| anyhow::anyhow!("lock"))?.clone();
    assert_eq!(posts.len(), 1, "{posts:?}");
    let (key, body) = &posts[0];
    assert_eq!(key, &reply_id);
    assert_eq!(body["conversation_id"], submitted.conversation_id.as_str());
    assert_eq!(body["channel"], "web");
    assert!(body["text"].as_str().is_some_and(|text| text.contains("tracking link")), "{body}");

    let mut notifier = NotifierClient::new(cluster.channel().await?);
    let list =
        ListDeliveriesRequest { conversation_id: submitted.conversation_id.clone(), min_sequence: sequence };
    let deliveries = notifier.list_deliveries(list).await?.into_inner().deliveries;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].status, "delivered");
    assert_eq!(deliveries[0].destination, "conversation+webhook");
    assert_eq!(deliveries[0].attempts, 1);
    cluster.stop().await
}

#[tokio::test]
async fn a_refused_reply_becomes_a_failure_event_and_a_human_takes_over() -> anyhow::Result<()> {
    let (url, seen) = receiver(StatusCode::BAD_REQUEST).await?;
    let backing = Backing::start().await?;
    let (cluster, bus) = webhook_cluster(&backing, url).await?;
    let submitted = submit(&cluster, message("c-2", "Where is my order 6?", "w-2")).await?;
    let (reason, sequence) =
        wait_for_event(&bus, "switchboard.events.delivery.>", |event| match &event.body {
            Some(Body::DeliveryFailed(f)) if f.conversation_id == submitted.conversation_id => {
                Some(f.reason.clone())
            }
            _ => None,
        })
        .await?;
    assert!(reason.contains("400"), "{reason}");
    assert_eq!(seen.lock().map_err(|_| anyhow::anyhow!("lock"))?.len(), 1, "a 4xx is not retried");
    let request =
        GetConversationRequest { conversation_id: submitted.conversation_id, min_sequence: sequence };
    let conversation = cluster.intake().await?.get_conversation(request).await?.into_inner();
    assert_eq!(conversation.status(), ConversationStatus::Queued);
    assert_eq!(conversation.messages.len(), 1, "no bot message the customer never got");
    cluster.stop().await
}

#[tokio::test]
async fn an_agents_reply_reaches_the_conversation_once_as_the_agents() -> anyhow::Result<()> {
    use switchboard_proto::intake::v1::{Author, SendAgentReplyRequest, intake_client::IntakeClient};
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let bus = backing.bus().await?;
    let sent =
        submit(&cluster, message("c-9", "Meine Rechnung ist falsch, bitte korrigieren Sie sie", "ag-1"))
            .await?;
    let agent = |subject: &'static str| cluster.channel_as("default", switchboard_auth::Role::Agent, subject);
    let mut intake = IntakeClient::new(agent("ana").await?);
    // The agent answers a conversation already read: its language is known.
    let (_, classified) =
        wait_for_event(&bus, "switchboard.events.classification.>", |event| match &event.body {
            Some(Body::MessageClassified(c)) if c.message_id == sent.message_id => Some(()),
            _ => None,
        })
        .await?;
    let request =
        GetConversationRequest { conversation_id: sent.conversation_id.clone(), min_sequence: classified };
    assert_eq!(intake.get_conversation(request).await?.into_inner().language, "de");
    let reply = |key: &str| SendAgentReplyRequest {
        conversation_id: sent.conversation_id.clone(),
        agent_id: "ana".into(),
        text: "I corrected it; the new invoice is in your account.".into(),
        idempotency_key: key.into(),
    };
    let first = intake.send_agent_reply(reply("desk-1")).await?.into_inner();
    let again = intake.send_agent_reply(reply("desk-1")).await?.into_inner();
    assert_eq!((again.reply_id.as_str(), again.duplicate), (first.reply_id.as_str(), true));
    let (delivered, sequence) =
        wait_for_event(&bus, "switchboard.events.delivery.>", |event| match &event.body {
            Some(Body::ReplyDelivered(d)) if d.reply_id == first.reply_id => Some(d.clone()),
            _ => None,
        })
        .await?;
    assert_eq!(delivered.author, "agent:ana");
    assert_eq!(
        delivered.language, "de",
        "the channel wraps the agent's reply in the conversation's language"
    );
    let request =
        GetConversationRequest { conversation_id: sent.conversation_id.clone(), min_sequence: sequence };
    let conversation = intake.get_conversation(request).await?.into_inner();
    let agents: Vec<_> = conversation.messages.iter().filter(|m| m.author() == Author::Agent).collect();
    assert_eq!(agents.len(), 1);
    assert!(agents[0].text.starts_with("I corrected it"));

    let unknown = SendAgentReplyRequest { conversation_id: "no-such-conversation".into(), ..reply("desk-2") };
    assert_eq!(intake.send_agent_reply(unknown).await.expect_err("unknown").code(), tonic::Code::NotFound);
    // A token's subject may hold '.', an agent id may not.
    let nameless = SendAgentReplyRequest { agent_id: String::new(), ..reply("desk-3") };
    let refused = IntakeClient::new(agent("ana.smith").await?)
        .send_agent_reply(nameless)
        .await
        .expect_err("bad agent id");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(refused.message().contains("agent_id"), "{}", refused.message());
    cluster.stop().await
}

/// The database turns read-only while the webhook takes the reply, so the notifier cannot log
/// that it was sent (and stays so for longer than the bus's ack timer): the reply is posted
/// once all the same, and logged once the database takes writes again.
#[tokio::test]
async fn a_reply_sent_whose_outcome_cannot_be_logged_yet_is_not_sent_again() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let database_url = backing.database.url.clone();
    let seen: Seen = Arc::default();
    let app = Router::new()
        .route(
            "/replies",
            post(
                |State((seen, url)): State<(Seen, String)>, Json(body): Json<serde_json::Value>| async move {
                    let first = seen.lock().map(|mut seen| {
                        seen.push((String::new(), body));
                        seen.len() == 1
                    });
                    if first.unwrap_or(false) && common::end_sessions(&url, true).await.is_err() {
                        return StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    StatusCode::OK
                },
            ),
        )
        .with_state((seen.clone(), database_url.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/replies", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    let (cluster, bus) = webhook_cluster(&backing, url).await?;
    let submitted = submit(&cluster, message("c-1", "Where is my order 5?", "w-1")).await?;

    let deadline = tokio::time::Instant::now() + common::WAIT;
    while seen.lock().map_err(|_| anyhow::anyhow!("lock"))?.is_empty() {
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "the reply was never posted");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Past the test bus's 2 s ack timer: a redelivery would come while the first run waits.
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    common::end_sessions(&database_url, false).await?;
    wait_for_event(&bus, "switchboard.events.delivery.>", |event| match &event.body {
        Some(Body::ReplyDelivered(d)) if d.conversation_id == submitted.conversation_id => Some(()),
        _ => None,
    })
    .await?;
    let mut notifier = NotifierClient::new(cluster.channel().await?);
    let list = ListDeliveriesRequest { conversation_id: submitted.conversation_id.clone(), min_sequence: 0 };
    let deadline = tokio::time::Instant::now() + common::WAIT;
    loop {
        let deliveries = notifier.list_deliveries(list.clone()).await?.into_inner().deliveries;
        if deliveries.first().is_some_and(|d| d.status == "delivered") {
            assert_eq!(deliveries[0].attempts, 1, "{deliveries:?}");
            break;
        }
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "never logged: {deliveries:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let posts = seen.lock().map_err(|_| anyhow::anyhow!("lock"))?.len();
    assert_eq!(posts, 1, "the reply was posted once");
    cluster.stop().await
}

/// A handler stopped past its lease (SIGSTOP, a long pause) is overtaken: the server hands its
/// message on, and the later delivery's count is written in the log as the work's lease. When
/// the first runs again it finds that lease and neither sends nor logs. Given the log naming a
/// later delivery (count 1000) as holder of a reply, no delivery of this message may send it;
/// with no holder finishing, the message ends in the dead letters after its deliveries
/// (before, the first delivery posted it again: attempts 2).
#[tokio::test]
async fn a_reply_a_later_delivery_holds_is_not_sent_by_an_earlier_one() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let (url, seen) = receiver(StatusCode::OK).await?;
    let (cluster, bus) = webhook_cluster(&backing, url).await?;
    let pool = sqlx::PgPool::connect(&backing.database.url).await?;
    sqlx::query(
        "INSERT INTO notifier.delivery_log (tenant, delivery_id, conversation_id, status, attempts, lease)
         VALUES ('default', 'r-held', 'c-held', 'sending', 1, 1000)",
    )
    .execute(&pool)
    .await?;
    let request = |reply_id: &str| switchboard_proto::events::v1::ReplyRequested {
        reply_id: reply_id.into(),
        conversation_id: "c-held".into(),
        customer_id: "c-1".into(),
        channel: switchboard_proto::events::v1::Channel::Api.into(),
        text: format!("reply {reply_id}"),
        ..Default::default()
    };
    let held = switchboard_bus::Draft::new("", "c-held", Body::ReplyRequested(request("r-held"))).build()?;
    bus.publish(&held).await?;

    let letter = common::dead_letter(&bus, switchboard_notifier::CONSUMER).await?;
    assert!(letter.reason.contains("without being acknowledged"), "{}", letter.reason);
    let posted: Vec<_> = seen.lock().map_err(|_| anyhow::anyhow!("lock"))?.clone();
    assert!(posted.iter().all(|(key, _)| key != "r-held"), "sent by an overtaken delivery: {posted:?}");
    let attempts: i32 =
        sqlx::query_scalar("SELECT attempts FROM notifier.delivery_log WHERE delivery_id = 'r-held'")
            .fetch_one(&pool)
            .await?;
    assert_eq!(attempts, 1, "no attempt was started under an older lease");
    cluster.stop().await
}
