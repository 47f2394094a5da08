//! A customer writing to a closed conversation, on a real cluster: within the reopen window the
//! same conversation opens again and the reopening is counted; after it, a new conversation
//! starts.

mod common;

use std::time::Duration;

use common::{Backing, Cluster, message, submit, wait_for_event};
use switchboard_auth::Role;
use switchboard_proto::{
    analytics::v1::{GetCountsRequest, analytics_client::AnalyticsClient},
    desk::v1::{SetStatusRequest, StatusChange, desk_client::DeskClient},
    events::v1::{ConversationReopened, event::Body},
    intake::v1::SubmitMessageRequest,
};

const TENANT: &str = "default";
const WINDOW: Duration = Duration::from_secs(4);

fn to(conversation_id: &str, text: &str, key: &str) -> SubmitMessageRequest {
    SubmitMessageRequest { conversation_id: Some(conversation_id.into()), ..message("kim", text, key) }
}

/// A supervisor resolves the conversation; returns once it is closed on the stream.
async fn resolve(
    cluster: &Cluster,
    bus: &switchboard_bus::Bus,
    id: &str,
    closings: usize,
) -> anyhow::Result<()> {
    let mut desk = DeskClient::new(cluster.channel_as(TENANT, Role::Supervisor, "sue").await?);
    let request = SetStatusRequest {
        conversation_id: id.into(),
        status: StatusChange::Resolved.into(),
        reason: "done".into(),
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    // The desk may not have folded the conversation yet.
    while let Err(status) = desk.set_status(request.clone()).await {
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "not resolved: {status:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    loop {
        let closed = common::events(bus, "switchboard.events.conversation-lifecycle.>").await?;
        let count = closed
            .iter()
            .filter(|e| matches!(&e.body, Some(Body::ConversationClosed(c)) if c.conversation_id == id))
            .count();
        if count >= closings {
            return Ok(());
        }
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "never closed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_customer_reopens_within_the_window_and_starts_anew_after_it() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let mut config = backing.config();
    config.reopen_window = WINDOW;
    let cluster = Cluster::start(config).await?;
    let bus = backing.bus().await?;
    let first = submit(&cluster, message("kim", "My invoice is wrong", "k-1")).await?;
    let id = first.conversation_id;
    resolve(&cluster, &bus, &id, 1).await?;

    // Within the window: the same conversation, reopened by the customer, counted.
    let again = submit(&cluster, to(&id, "It is still wrong", "k-2")).await?;
    assert_eq!(again.conversation_id, id, "the same conversation opens again");
    let (reopened, at) =
        wait_for_event(&bus, "switchboard.events.conversation-lifecycle.>", |event| match &event.body {
            Some(Body::ConversationReopened(r)) if r.conversation_id == id => Some(r.clone()),
            _ => None,
        })
        .await?;
    let expected =
        ConversationReopened { by_customer: true, author: "customer:kim".into(), ..reopened.clone() };
    assert_eq!(reopened, expected);
    assert!(!reopened.handled_by.is_empty(), "the closing it undid says who handled it");
    let mut analytics = AnalyticsClient::new(cluster.channel_as(TENANT, Role::Supervisor, "sue").await?);
    let counts = analytics
        .get_counts(GetCountsRequest { metric: "conversations_reopened".into(), min_sequence: at })
        .await?
        .into_inner()
        .counts;
    assert_eq!(counts.iter().map(|c| c.value).sum::<u64>(), 1, "{counts:?}");
    let duplicate = submit(&cluster, to(&id, "It is still wrong", "k-2")).await?;
    assert!(duplicate.duplicate && duplicate.conversation_id == id);
    submit(&cluster, to(&id, "Hello?", "k-2b")).await?;
    let reopenings = common::events(&bus, "switchboard.events.conversation-lifecycle.>").await?;
    let reopenings = reopenings
        .iter()
        .filter(|e| matches!(&e.body, Some(Body::ConversationReopened(r)) if r.conversation_id == id));
    assert_eq!(reopenings.count(), 1, "one closing, one reopening, however many messages and retries");

    // After the window: a new conversation starts.
    resolve(&cluster, &bus, &id, 2).await?;
    tokio::time::sleep(WINDOW + Duration::from_millis(500)).await;
    let later = submit(&cluster, to(&id, "Another question about my plan", "k-3")).await?;
    assert_ne!(later.conversation_id, id, "a case closed long ago stays closed");
    let next = submit(&cluster, to(&id, "Also, my address changed", "k-4")).await?;
    assert_eq!(
        next.conversation_id, later.conversation_id,
        "the old thread's messages land in one new conversation"
    );
    let (starts, _) = wait_for_event(&bus, "switchboard.events.conversation.>", |event| match &event.body {
        Some(Body::MessageReceived(m)) if m.message_id == later.message_id => Some(m.starts_conversation),
        _ => None,
    })
    .await?;
    assert!(starts, "the message starts its conversation");
    cluster.stop().await
}
