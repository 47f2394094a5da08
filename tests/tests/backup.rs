//! The runbook's backup and restore path, as an operator runs it: `switchboard events backup`
//! from a live cluster, `switchboard events restore` into a new NATS server, and the services
//! started on a new database rebuild every read model from the restored stream.

mod common;

use common::{Backing, Cluster, message, submit, wait_for_event};
use futures::StreamExt as _;
use switchboard_bus::EVENTS_STREAM;
use switchboard_proto::{
    events::v1::event::Body,
    intake::v1::{Author, GetConversationRequest},
};
use switchboard_testkit::NatsServer;

async fn events(nats: &NatsServer, args: &[&str]) -> anyhow::Result<std::process::Output> {
    Ok(tokio::process::Command::new(common::switchboard_binary()?)
        .arg("events")
        .args(args)
        .env("SWITCHBOARD_NATS_URL", nats.url())
        .output()
        .await?)
}

#[tokio::test]
async fn a_backup_restored_into_a_new_server_gives_back_every_event_and_conversation() -> anyhow::Result<()> {
    // Given a cluster that answered a customer
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    common::publish_tracking_article(cluster.address).await?;
    let conversation =
        submit(&cluster, message("c-1", "Where is my order 12345?", "k-1")).await?.conversation_id;
    let bus = backing.bus().await?;
    wait_for_event(&bus, "switchboard.events.delivery.>", |event| match &event.body {
        Some(Body::ReplyDelivered(delivered)) if delivered.conversation_id == conversation => Some(()),
        _ => None,
    })
    .await?;

    // (every durable consumer of the events stream acts, or is a projection's: the list a
    // restore starts after the restored events is complete)
    let mut durables = Vec::new();
    let mut consumers = bus.jetstream().get_stream(EVENTS_STREAM).await?.consumers();
    while let Some(info) = consumers.next().await {
        durables.extend(info?.config.durable_name);
    }
    durables.sort();
    let mut acting = switchboard_server::events::ACTING_CONSUMERS.map(String::from).to_vec();
    acting.sort();
    assert_eq!(durables, acting);

    // When the stream is backed up while the cluster runs
    let dir = tempfile_dir()?;
    let file = dir.join("events.jsonl");
    let backed_up = events(&backing.nats, &["backup", "--out", &file.display().to_string()]).await?;
    assert!(backed_up.status.success(), "{}", String::from_utf8_lossy(&backed_up.stderr));
    cluster.stop().await?;
    let last = bus.last_sequence(EVENTS_STREAM).await?;
    assert_eq!(
        String::from_utf8(backed_up.stdout)?,
        format!("backed up {last} events to {}\n", file.display())
    );

    // And restored into a new server
    let fresh =
        Backing { nats: NatsServer::start()?, database: switchboard_testkit::TestDatabase::create().await? };
    let restored = events(&fresh.nats, &["restore", "--from", &file.display().to_string()]).await?;
    assert!(restored.status.success(), "{}", String::from_utf8_lossy(&restored.stderr));
    assert_eq!(
        String::from_utf8(restored.stdout)?,
        format!("restored {last} events from {} (at their original sequences)\n", file.display())
    );

    // Then every event is there, in order, as it was
    let copy = fresh.bus().await?;
    assert_eq!(copy.last_sequence(EVENTS_STREAM).await?, last);
    for sequence in 1..=last {
        assert_eq!(copy.event_at(sequence).await?, bus.event_at(sequence).await?, "event {sequence}");
    }
    // And a second restore into the now full stream is refused, changing nothing
    let again = events(&fresh.nats, &["restore", "--from", &file.display().to_string()]).await?;
    assert!(!again.status.success());
    let said = String::from_utf8_lossy(&again.stderr);
    assert!(said.contains(&format!("already holds {last} events")), "{said}");
    assert_eq!(copy.last_sequence(EVENTS_STREAM).await?, last);

    // And services started on a new database rebuild the conversation from the restored stream
    let rebuilt = Cluster::start(fresh.config()).await?;
    let request = GetConversationRequest { conversation_id: conversation.clone(), min_sequence: last };
    let view = rebuilt.intake().await?.get_conversation(request).await?.into_inner();
    let authors: Vec<Author> = view.messages.iter().map(|message| message.author()).collect();
    assert_eq!(authors, [Author::Customer, Author::Bot]);

    // But act only on what comes after it: a new question is answered, and no consumer that
    // acts (classifies, routes, sends) was handed the restored history again
    let next = submit(&rebuilt, message("c-2", "Where is my order 777?", "k-2")).await?.conversation_id;
    wait_for_event(&copy, "switchboard.events.delivery.>", |event| match &event.body {
        Some(Body::ReplyDelivered(delivered)) if delivered.conversation_id == next => Some(()),
        _ => None,
    })
    .await?;
    let after = copy.last_sequence(EVENTS_STREAM).await? - last;
    let stream = copy.jetstream().get_stream(EVENTS_STREAM).await?;
    for durable in switchboard_server::events::ACTING_CONSUMERS {
        let handed = stream.consumer_info(durable).await?.delivered.consumer_sequence;
        assert!(
            handed <= after,
            "{durable} was handed {handed} messages; only {after} came after the restore"
        );
    }
    rebuilt.stop().await?;
    std::fs::remove_dir_all(dir)?;
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("switchboard-backup-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
