//! Crashes and poison: no message is lost or duplicated when the services die mid-stream, and a
//! message that cannot be handled goes to the dead-letter stream while the rest flow on.

mod common;

use anyhow::Context as _;
use sqlx::Connection as _;

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use common::{Backing, Cluster, Node, events, message, submit, wait_for_event};
use prost::Message as _;
use switchboard_bus::Draft;
use switchboard_proto::{
    analytics::v1::{GetCountsRequest, analytics_client::AnalyticsClient},
    events::v1::{Channel, InboundMessage, MessageReceived, event::Body},
    intake::v1::GetConversationRequest,
};

const MESSAGES: usize = 300;
const TEXTS: [&str; 4] = [
    "Where is my order {n}?",
    "I want a human, order {n}",
    "pricing for {n} seats",
    "my invoice {n} is wrong",
];

async fn publish_inbound(bus: &switchboard_bus::Bus, range: std::ops::Range<usize>) -> anyhow::Result<()> {
    for n in range {
        let inbound = InboundMessage {
            channel: Channel::Web.into(),
            customer_id: format!("customer-{n}"),
            text: TEXTS[n % TEXTS.len()].replace("{n}", &n.to_string()),
            idempotency_key: format!("web-{n}"),
            ..Default::default()
        };
        let payload = Bytes::from(inbound.encode_to_vec());
        bus.publish_raw("switchboard.inbound.web".into(), payload, &format!("web-{n}")).await?;
    }
    Ok(())
}

/// Waits until `count` distinct messages have a routing decision; returns the last decision's
/// conversation and stream sequence.
async fn wait_routed(bus: &switchboard_bus::Bus, count: usize) -> anyhow::Result<(String, u64)> {
    let mut routed = HashSet::new();
    let progress = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = progress.clone();
    let result = wait_for_event(bus, "switchboard.events.routing.>", |event| match &event.body {
        Some(Body::MessageRouted(r)) => {
            routed.insert(r.message_id.clone());
            seen.store(routed.len(), std::sync::atomic::Ordering::Relaxed);
            (routed.len() == count).then(|| r.conversation_id.clone())
        }
        _ => None,
    })
    .await;
    if result.is_err() {
        // Say how far it got and whether anything was dead-lettered, so a failure explains itself.
        let dead = bus.last_sequence(switchboard_bus::DEAD_LETTER_STREAM).await.unwrap_or(u64::MAX);
        let routed = progress.load(std::sync::atomic::Ordering::Relaxed);
        return result.with_context(|| format!("{routed} of {count} routed; {dead} dead letters"));
    }
    result
}

fn per_key<'a>(keys: impl Iterator<Item = &'a str>) -> HashMap<&'a str, usize> {
    let mut counts = HashMap::new();
    for key in keys {
        *counts.entry(key).or_default() += 1;
    }
    counts
}

#[tokio::test]
async fn killing_the_services_mid_stream_loses_and_duplicates_nothing() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let bus = backing.bus().await?;
    let first = Node::start(backing.config()).await?;
    common::publish_tracking_article(first.address).await?;
    publish_inbound(&bus, 0..MESSAGES).await?;
    wait_routed(&bus, MESSAGES / 10).await?;
    first.crash();

    let second = Node::start(backing.config()).await?;
    publish_inbound(&bus, MESSAGES..MESSAGES + 20).await?;
    let total = MESSAGES + 20;
    let (last_conversation, last) = wait_routed(&bus, total).await?;

    let received = events(&bus, "switchboard.events.conversation.>").await?;
    let classified = events(&bus, "switchboard.events.classification.>").await?;
    let routed = events(&bus, "switchboard.events.routing.>").await?;
    let keys = per_key(received.iter().filter_map(|e| match &e.body {
        Some(Body::MessageReceived(m)) => Some(m.idempotency_key.as_str()),
        _ => None,
    }));
    assert_eq!(keys.len(), total, "every inbound message became one conversation message");
    assert!(keys.values().all(|&n| n == 1), "no message received twice");
    assert_eq!(classified.len(), total, "one classification per message");
    assert_eq!(routed.len(), total, "one decision per message");

    let answered = routed
        .iter()
        .filter(|e| matches!(&e.body, Some(Body::MessageRouted(r)) if !r.article_ids.is_empty()))
        .count();
    assert!(answered > 0, "some messages were answered from the knowledge base");
    let (_, delivered_at) = wait_for_event(&bus, "switchboard.events.delivery.>", {
        let mut seen = HashSet::new();
        move |event| match &event.body {
            Some(Body::ReplyDelivered(d)) => {
                seen.insert(d.reply_id.clone());
                (seen.len() == answered).then_some(())
            }
            _ => None,
        }
    })
    .await?;
    let deliveries = events(&bus, "switchboard.events.delivery.>").await?;
    assert_eq!(deliveries.len(), answered, "one delivery per automated reply, none twice");

    let mut analytics = AnalyticsClient::new(common::channel(second.address).await?);
    let request = GetCountsRequest { metric: "messages".into(), min_sequence: last.max(delivered_at) };
    let counts = analytics.get_counts(request).await?.into_inner().counts;
    let counted: u64 = counts.iter().map(|c| c.value).sum();
    assert_eq!(counted, total as u64, "the projection counted each message once: {counts:?}");

    let mut intake = switchboard_proto::intake::v1::intake_client::IntakeClient::new(
        common::channel(second.address).await?,
    );
    let caught_up =
        GetConversationRequest { conversation_id: last_conversation, min_sequence: last.max(delivered_at) };
    intake.get_conversation(caught_up).await?;
    let pool = backing.database.pool().await?;
    let (messages, decided): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(r.message_id) FROM intake.messages m
         LEFT JOIN intake.routings r USING (message_id) WHERE m.author = 1",
    )
    .fetch_one(&pool)
    .await?;
    assert_eq!((messages, decided), (total as i64, total as i64));
    second.crash();
    Ok(())
}

#[tokio::test]
async fn a_poison_message_is_dead_lettered_with_its_reason_while_the_rest_flow_on() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let bus = backing.bus().await?;
    let before = submit(&cluster, message("c-1", "I want a human", "before")).await?;

    // Bytes that are no event at all, on a conversation subject.
    bus.publish_raw(
        "switchboard.events.conversation.default.garbage".into(),
        Bytes::from_static(b"\xff\x00not protobuf"),
        "garbage-1",
    )
    .await?;
    // A well-formed event that the intake read model must refuse (PostgreSQL stores no NUL).
    let refused = Draft::new(
        "",
        "poisoned",
        Body::MessageReceived(MessageReceived {
            conversation_id: "poisoned".into(),
            message_id: "poisoned-message".into(),
            customer_id: "c-2".into(),
            channel: Channel::Api.into(),
            text: "nul \u{0} inside".into(),
            idempotency_key: "poisoned".into(),
            starts_conversation: true,
            email: None,
            customer_verified: false,
            language: String::new(),
        }),
    )
    .build()?;
    bus.publish(&refused).await?;
    let after = submit(&cluster, message("c-3", "I want a human", "after")).await?;

    let garbage = common::dead_letter(&bus, "classifier").await?;
    assert!(garbage.reason.starts_with("undecodable message"), "{}", garbage.reason);
    assert_eq!(garbage.payload.as_ref(), b"\xff\x00not protobuf", "the payload is kept as it was");
    let projection = common::dead_letter(&bus, "intake-projection").await?;
    assert!(
        projection.reason.contains("undecodable event") || projection.reason.contains("refused the event"),
        "{}",
        projection.reason
    );

    // Both decided (in whichever order the router's concurrent handlers finished).
    let mut sequence = 0;
    for submitted in [&before, &after] {
        let (_, decided) = wait_for_event(&bus, "switchboard.events.routing.>", |event| match &event.body {
            Some(Body::MessageRouted(r)) if r.message_id == submitted.message_id => Some(()),
            _ => None,
        })
        .await?;
        sequence = sequence.max(decided);
    }
    let mut intake = cluster.intake().await?;
    for submitted in [&before, &after] {
        let request = GetConversationRequest {
            conversation_id: submitted.conversation_id.clone(),
            min_sequence: sequence,
        };
        let conversation = intake.get_conversation(request).await?.into_inner();
        assert!(conversation.messages[0].routing.is_some(), "{conversation:#?}");
    }
    let refused = |letter: &common::DeadLetter| letter.reason.contains("refused the event");
    let refusal = common::dead_letter_where(&bus, "intake-projection", refused).await?.reason;
    assert!(
        refusal.contains("0x00") || refusal.to_lowercase().contains("invalid byte sequence"),
        "{refusal}"
    );
    cluster.stop().await
}

/// A message the database refuses to read by (a NUL in its customer id, SQLSTATE 22021) can never
/// be decided: the router sets it aside in the dead letters instead of holding it for good, and
/// the messages after it are decided.
#[tokio::test]
async fn a_message_the_database_refuses_is_dead_lettered_by_the_router_not_held() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let bus = backing.bus().await?;
    let received = MessageReceived {
        conversation_id: "nul-customer".into(),
        message_id: "nul-customer-message".into(),
        customer_id: "c-\u{0}-2".into(),
        channel: Channel::Api.into(),
        text: "I want a human".into(),
        idempotency_key: "nul-customer".into(),
        starts_conversation: true,
        ..Default::default()
    };
    bus.publish(&Draft::new("", "nul-customer", Body::MessageReceived(received)).build()?).await?;
    let after = submit(&cluster, message("c-3", "I want a human", "after-nul")).await?;

    let letter = common::dead_letter(&bus, "router").await?;
    assert!(letter.reason.contains("refused the data"), "{}", letter.reason);
    wait_for_event(&bus, "switchboard.events.routing.>", |event| match &event.body {
        Some(Body::MessageRouted(routed)) if routed.message_id == after.message_id => Some(()),
        _ => None,
    })
    .await?;
    cluster.stop().await
}

/// The notifier's proactive messages go through the same map: an order update whose customer id
/// the database refuses (NUL) is dead-lettered by the notifier instead of held for good.
#[tokio::test]
async fn an_order_update_the_database_refuses_is_dead_lettered_by_the_notifier() -> anyhow::Result<()> {
    use switchboard_proto::events::v1::{OrderStatus, OrderUpdated};
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let bus = backing.bus().await?;
    let order = OrderUpdated {
        order_id: "nul-order".into(),
        customer_id: "c-\u{0}-9".into(),
        status: OrderStatus::Shipped.into(),
        ..OrderUpdated::default()
    };
    bus.publish(&Draft::new("", "nul-order", Body::OrderUpdated(order)).build()?).await?;
    let letter = common::dead_letter(&bus, switchboard_notifier::CONSUMER).await?;
    assert!(letter.reason.contains("refused the data"), "{}", letter.reason);
    cluster.stop().await
}

/// Projection writers hold their locks on sessions of their own: a process with a pool of two
/// connections still takes, decides and shows a message (before, its seven writers' lock
/// sessions came from the pool and left handlers none).
#[tokio::test]
async fn a_process_with_a_small_pool_still_decides_its_messages() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let mut config = backing.config();
    config.database.pool_size = 2;
    let cluster = Cluster::start(config).await?;
    let bus = backing.bus().await?;
    let submitted = submit(&cluster, message("c-1", "I want a human", "small-pool")).await?;
    let (_, sequence) = wait_for_event(&bus, "switchboard.events.routing.>", |event| match &event.body {
        Some(Body::MessageRouted(routed)) if routed.message_id == submitted.message_id => Some(()),
        _ => None,
    })
    .await?;
    let request =
        GetConversationRequest { conversation_id: submitted.conversation_id, min_sequence: sequence };
    let conversation = cluster.intake().await?.get_conversation(request).await?.into_inner();
    assert!(conversation.messages[0].routing.is_some(), "{conversation:#?}");
    cluster.stop().await
}

/// Every session of a process's pool carries the statement and lock timeouts: a statement that
/// waits on a lock past its limit fails (SQLSTATE 55P03, which handlers wait out and try again)
/// instead of holding its connection for good.
#[tokio::test]
async fn the_pools_sessions_give_up_on_a_lock_held_too_long() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let mut config = backing.config();
    config.database.lock_timeout = std::time::Duration::from_millis(300);
    config.database.statement_timeout = std::time::Duration::from_secs(20);
    let deps = switchboard_server::connect(&config).await?;
    let shown: String = sqlx::query_scalar("SHOW statement_timeout").fetch_one(&deps.pool).await?;
    assert_eq!(shown, "20s");
    sqlx::query("CREATE TABLE held (id INT)").execute(&deps.pool).await?;
    let mut holder = sqlx::PgConnection::connect(&config.database_url).await?;
    let mut holding = sqlx::Connection::begin(&mut holder).await?;
    sqlx::query("LOCK TABLE held IN ACCESS EXCLUSIVE MODE").execute(&mut *holding).await?;
    let waited = sqlx::query("SELECT count(*) FROM held").execute(&deps.pool).await;
    let code = match &waited {
        Err(sqlx::Error::Database(error)) => error.code().map(|code| code.to_string()),
        _ => None,
    };
    assert_eq!(code.as_deref(), Some("55P03"), "{waited:?}");
    assert!(switchboard_bus::is_outage(&waited.expect_err("a lock timeout")), "a lock timeout is waited out");
    holding.rollback().await?;
    Ok(())
}

/// A read that meets a lock held too long is answered `Unavailable` (try again), not `Internal`,
/// and the same read goes through once the lock is gone.
#[tokio::test]
async fn a_read_blocked_by_a_lock_is_answered_unavailable_then_works() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let mut config = backing.config();
    config.database.lock_timeout = std::time::Duration::from_millis(300);
    let cluster = Cluster::start(config.clone()).await?;
    let mut holder = sqlx::PgConnection::connect(&config.database_url).await?;
    let mut holding = sqlx::Connection::begin(&mut holder).await?;
    sqlx::query("LOCK TABLE intake.conversations IN ACCESS EXCLUSIVE MODE").execute(&mut *holding).await?;
    let request = || GetConversationRequest { conversation_id: "no-such".into(), min_sequence: 0 };
    let blocked = cluster.intake().await?.get_conversation(request()).await;
    let code = blocked.as_ref().err().map(tonic::Status::code);
    assert_eq!(code, Some(tonic::Code::Unavailable), "{blocked:?}");
    holding.rollback().await?;
    let free = cluster.intake().await?.get_conversation(request()).await;
    assert_eq!(free.err().map(|status| status.code()), Some(tonic::Code::NotFound));
    cluster.stop().await
}

/// A database that turns read-only (SQLSTATE 25006, as after a failover) refuses nothing of the
/// events' own: the consumers hold them until it takes writes again, and none is dead-lettered.
#[tokio::test]
async fn a_read_only_database_holds_events_and_dead_letters_none() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let bus = backing.bus().await?;
    publish_inbound(&bus, 0..5).await?;
    wait_routed(&bus, 5).await?;

    common::end_sessions(&backing.database.url, true).await?;
    publish_inbound(&bus, 5..25).await?;
    // Long enough for every consumer to have tried (and, before, to have given up).
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    common::end_sessions(&backing.database.url, false).await?;

    wait_routed(&bus, 25).await?;
    assert_eq!(bus.last_sequence(switchboard_bus::DEAD_LETTER_STREAM).await?, 0, "nothing dead-lettered");
    cluster.stop().await
}

/// A standby replica keeps waiting through lost database sessions (as when PostgreSQL restarts),
/// and takes over when the writer dies: the messages after it are all decided.
#[tokio::test]
async fn a_standby_replica_outlives_lost_database_sessions_and_takes_over() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let bus = backing.bus().await?;
    let writer = Node::start(backing.config()).await?;
    let standby = Node::start(backing.config()).await?;
    publish_inbound(&bus, 0..5).await?;
    wait_routed(&bus, 5).await?;

    common::end_sessions(&backing.database.url, false).await?;
    // Long enough for the standby to have polled its lost session (every second) a few times.
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    writer.crash();
    publish_inbound(&bus, 5..15).await?;
    wait_routed(&bus, 15).await?;
    assert_eq!(bus.last_sequence(switchboard_bus::DEAD_LETTER_STREAM).await?, 0, "nothing dead-lettered");
    standby.crash();
    Ok(())
}

/// A classified message decided again (delivered again after the bus's duplicate window, or
/// after a failure past the knowledge call) records its knowledge query once: the router names
/// the asking by the message, so analytics count one question, not one per try.
#[tokio::test]
async fn a_message_decided_again_records_its_knowledge_query_once() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let bus = backing.bus().await?;
    common::publish_tracking_article_with(&cluster).await?;
    let sent = submit(&cluster, message("c-1", "Where is my order?", "asked-once")).await?;
    let (classified, _) = wait_for_event(&bus, "switchboard.events.classification.>", |event| {
        matches!(&event.body, Some(Body::MessageClassified(c)) if c.message_id == sent.message_id)
            .then(|| event.clone())
    })
    .await?;
    let queries = |bus: &switchboard_bus::Bus| {
        let conversation = sent.conversation_id.clone();
        let bus = bus.clone();
        async move {
            let all = events(&bus, "switchboard.events.knowledge-query.>").await?;
            anyhow::Ok(
                all.into_iter()
                    .filter(|e| matches!(&e.body, Some(Body::KnowledgeQueried(q)) if q.conversation_id == conversation))
                    .count(),
            )
        }
    };
    wait_for_event(&bus, "switchboard.events.routing.>", |event| {
        matches!(&event.body, Some(Body::MessageRouted(r)) if r.message_id == sent.message_id).then_some(())
    })
    .await?;
    assert_eq!(queries(&bus).await?, 1);

    // The same event once more, under a message id the bus has not seen.
    let subject =
        switchboard_bus::event_subject(&classified.aggregate, &classified.tenant, &classified.aggregate_id);
    let again = bus.publish_raw(subject, Bytes::from(classified.encode_to_vec()), "decided-again").await?;
    wait_handled(&bus, "router", again.sequence).await?; // the router's durable consumer
    assert_eq!(queries(&bus).await?, 1, "one knowledge query for one message");
    cluster.stop().await
}

/// Waits until the durable consumer `name` has acknowledged the stream up to `sequence`.
async fn wait_handled(bus: &switchboard_bus::Bus, name: &str, sequence: u64) -> anyhow::Result<()> {
    let stream = bus.jetstream().get_stream(switchboard_bus::EVENTS_STREAM).await?;
    let deadline = tokio::time::Instant::now() + common::WAIT;
    loop {
        let info = stream.consumer_info(name).await?;
        if info.ack_floor.stream_sequence >= sequence {
            return Ok(());
        }
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "{name} never handled {sequence}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A writer's checkpoint row exists from the moment it takes the writer lock, before any event:
/// every transaction locks that row (`FOR UPDATE`), which serialises two replicas that both
/// believe they write (one lost its lock session) and lets the second skip what the first
/// applied; a missing row would lock nothing.
#[tokio::test]
async fn a_writer_holds_its_checkpoint_row_before_any_event() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let pool = backing.database.pool().await?;
    let deadline = tokio::time::Instant::now() + common::WAIT;
    loop {
        let rows: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM intake.projection_checkpoints WHERE projection = 'intake-projection'",
        )
        .fetch_one(&pool)
        .await?;
        if rows == 1 {
            break;
        }
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "no checkpoint row for the writer");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    pool.close().await;
    cluster.stop().await
}
