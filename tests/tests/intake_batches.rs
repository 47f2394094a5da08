//! The intake read model does not depend on where the runner's batches begin or end: every split
//! of one conversation's events gives the status that applying them one by one gives.

use sqlx::PgPool;
use switchboard_bus::Draft;
use switchboard_projection::{Applied, Projection as _};
use switchboard_proto::events::v1::{
    Channel, ConversationClosed, MessageReceived, ReplyDelivered, event::Body,
};
use switchboard_testkit::TestDatabase;

const CONVERSATION: &str = "conv-batches";

fn received(message: &str) -> Body {
    Body::MessageReceived(MessageReceived {
        conversation_id: CONVERSATION.into(),
        message_id: message.into(),
        customer_id: "cus-batches".into(),
        channel: Channel::Web.into(),
        text: "hello".into(),
        idempotency_key: format!("key-{message}"),
        starts_conversation: message == "m-1",
        ..MessageReceived::default()
    })
}

fn delivered(reply: &str) -> Body {
    Body::ReplyDelivered(ReplyDelivered {
        reply_id: reply.into(),
        conversation_id: CONVERSATION.into(),
        channel: Channel::Web.into(),
        text: "an answer".into(),
        ..ReplyDelivered::default()
    })
}

fn closed() -> Body {
    Body::ConversationClosed(ConversationClosed {
        conversation_id: CONVERSATION.into(),
        reason: "resolved".into(),
        ..ConversationClosed::default()
    })
}

/// A conversation answered, closed (its closing notice delivered), then reopened by the customer
/// and answered again.
fn history() -> anyhow::Result<Vec<Applied>> {
    let bodies = [
        received("m-1"),
        delivered("r-1"),
        closed(),
        delivered("r-closing"),
        received("m-2"),
        delivered("r-2"),
    ];
    bodies
        .into_iter()
        .enumerate()
        .map(|(index, body)| {
            let event = Draft::new("default", CONVERSATION, body).build()?;
            Ok(Applied { sequence: index as u64 + 1, event })
        })
        .collect()
}

async fn status_after(pool: &PgPool, batches: &[&[Applied]]) -> anyhow::Result<i32> {
    sqlx::query("TRUNCATE intake.conversations, intake.messages").execute(pool).await?;
    let projection = switchboard_intake::projection();
    for batch in batches {
        let mut tx = pool.begin().await?;
        projection.apply(&mut tx, batch).await?;
        tx.commit().await?;
    }
    let status = sqlx::query_scalar("SELECT status FROM intake.conversations WHERE conversation_id = $1")
        .bind(CONVERSATION)
        .fetch_one(pool)
        .await?;
    Ok(status)
}

#[tokio::test]
async fn every_split_of_a_reopened_conversation_gives_the_same_status() -> anyhow::Result<()> {
    let database = TestDatabase::create().await?;
    let pool = database.pool().await?;
    switchboard_intake::migrate_schema(&pool).await?;
    let events = history()?;
    let one_by_one: Vec<&[Applied]> = events.chunks(1).collect();
    let expected = status_after(&pool, &one_by_one).await?;
    for split in 1..events.len() {
        let (before, after) = events.split_at(split);
        let status = status_after(&pool, &[before, after]).await?;
        assert_eq!(status, expected, "split after event {split}");
    }
    assert_eq!(status_after(&pool, &[&events]).await?, expected, "one batch");
    pool.close().await;
    database.drop_database().await
}
