//! Dead letters as an operator handles them, against a real nats-server: listed with why, put
//! back into their own consumer once the cause is fixed (and only into it), purged.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use switchboard_bus::{
    Bus, Config, ConsumerSpec, DEAD_LETTER_STREAM, DeadLetter, Delivery, Draft, EVENTS_STREAM, Error,
    Handler, HandlerError, process,
};
use switchboard_proto::events::v1::{ArticleArchived, Event, event::Body};
use switchboard_testkit::NatsServer;
use tokio_util::sync::CancellationToken;

fn event(article: &str) -> Event {
    let body = Body::ArticleArchived(ArticleArchived { article_id: article.into(), version: 1 });
    Draft::new("", article, body).build().expect("valid draft")
}

type Handled = (String, String, u64, bool);

/// Refuses the article `broken` until fixed; records what it handled, with the subject and
/// sequence the delivery names.
#[derive(Clone, Default)]
struct Fixable {
    fixed: Arc<AtomicBool>,
    /// Each handled article, the subject and sequence its delivery named, and whether its
    /// `Nats-Msg-Id` header was the event's own id.
    handled: Arc<Mutex<Vec<Handled>>>,
}

impl Fixable {
    fn handled(&self) -> Vec<Handled> {
        self.handled.lock().map(|handled| handled.clone()).unwrap_or_default()
    }
}

impl Handler<Event> for Fixable {
    async fn handle(&self, event: Event, delivery: &Delivery) -> Result<(), HandlerError> {
        if event.aggregate_id == "broken" && !self.fixed.load(Ordering::SeqCst) {
            return Err(HandlerError::Permanent("no such queue".into()));
        }
        let mut handled = self.handled.lock().map_err(|_| HandlerError::Permanent("lock".into()))?;
        let own_id = delivery.header("Nats-Msg-Id") == Some(event.id.as_str());
        handled.push((event.aggregate_id, delivery.subject().to_string(), delivery.stream_sequence, own_id));
        Ok(())
    }
}

/// Runs `handler` on the article events through the durable consumer `name`.
async fn run(
    bus: &Bus,
    name: &'static str,
    handler: &Fixable,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let spec = ConsumerSpec {
        stream: EVENTS_STREAM,
        durable: name.into(),
        filter_subjects: vec!["switchboard.events.article.>".into()],
        max_ack_pending: 1,
    };
    let consumer = bus.durable_consumer(&spec).await?;
    let (bus, handler, shutdown) = (bus.clone(), handler.clone(), shutdown.clone());
    tokio::spawn(async move { process(&bus, &consumer, name, &handler, 1, &shutdown).await });
    Ok(())
}

async fn eventually<T>(
    what: &str,
    mut probe: impl AsyncFnMut() -> anyhow::Result<Option<T>>,
) -> anyhow::Result<T> {
    for _ in 0..200 {
        if let Some(found) = probe().await? {
            return Ok(found);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("{what} did not happen within 10 s")
}

async fn letters_of(bus: &Bus, consumer: &str, count: usize) -> anyhow::Result<Vec<DeadLetter>> {
    eventually(&format!("{count} letters of {consumer}"), async || {
        let letters = bus.dead_letters(Some(consumer)).await?;
        Ok((letters.len() == count).then_some(letters))
    })
    .await
}

#[tokio::test]
async fn a_letter_put_back_after_the_fix_reaches_only_its_consumer_as_the_original() -> anyhow::Result<()> {
    // Given a consumer that cannot handle `broken`, and a bystander on the same stream
    let server = NatsServer::start()?;
    let bus = Bus::connect(Config { url: server.url(), ..Config::default() }).await?;
    let shutdown = CancellationToken::new();
    let (picky, bystander) = (Fixable::default(), Fixable::default());
    bystander.fixed.store(true, Ordering::SeqCst);
    run(&bus, "picky", &picky, &shutdown).await?;
    run(&bus, "bystander", &bystander, &shutdown).await?;
    for article in ["ok-1", "broken", "ok-2"] {
        bus.publish(&event(article)).await?;
    }

    // Then its letter lists why, where the original was, and how often it was tried
    let first = letters_of(&bus, "picky", 1).await?.remove(0);
    assert_eq!(first.reason, "no such queue");
    assert!(
        first.subject.starts_with("switchboard.events.article.") && first.subject.ends_with(".broken"),
        "{}",
        first.subject
    );
    assert_eq!((first.sequence, first.deliveries), (2, 1));
    assert!(bus.dead_letters(Some("bystander")).await?.is_empty());

    // When it is put back before the fix, it fails again: a new letter, nothing lost
    bus.replay_dead_letter(first.id).await?;
    let again = eventually("a second letter", async || {
        let letters = bus.dead_letters(Some("picky")).await?;
        Ok(letters.into_iter().find(|letter| letter.id != first.id))
    })
    .await?;
    assert_eq!((again.subject.as_str(), again.sequence), (first.subject.as_str(), 2));
    assert_eq!(bus.dead_letters(None).await?.len(), 1, "the first letter went when it was put back");

    // When the cause is fixed and the letter put back
    picky.fixed.store(true, Ordering::SeqCst);
    let replayed = bus.replay_dead_letter(again.id).await?;
    assert_eq!(replayed.consumer, "picky");

    // Then its consumer handles it under the original subject and sequence, and no one else does
    let handled = eventually("the letter handled", async || {
        let handled = picky.handled();
        Ok((handled.len() == 3).then_some(handled))
    })
    .await?;
    assert_eq!(handled[2], ("broken".to_string(), first.subject.clone(), 2, true));
    assert!(bus.dead_letters(None).await?.is_empty());
    let seen_by_bystander = bystander.handled().iter().filter(|(article, ..)| article == "broken").count();
    assert_eq!(seen_by_bystander, 1, "{:?}", bystander.handled());
    shutdown.cancel();
    Ok(())
}

#[tokio::test]
async fn unknown_letters_and_consumers_that_take_none_back_are_refused_and_purge_takes_a_filter()
-> anyhow::Result<()> {
    let server = NatsServer::start()?;
    let bus = Bus::connect(Config { url: server.url(), ..Config::default() }).await?;
    // A projection's letter: no redrive consumer exists for it.
    for consumer in ["desk-projection", "desk-projection", "router-decide"] {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Switchboard-Dlq-Reason", "refused by the database");
        bus.jetstream()
            .publish_with_headers(format!("switchboard.dlq.{consumer}"), headers, "x".into())
            .await?
            .await?;
    }
    assert!(matches!(bus.replay_dead_letter(99).await, Err(Error::NoDeadLetter(99))));
    let error = bus.replay_dead_letter(1).await.err().map(|error| error.to_string()).unwrap_or_default();
    assert!(error.contains("desk-projection takes no dead letters back"), "{error}");
    assert_eq!(bus.dead_letters(None).await?.len(), 3, "a refused replay keeps the letter");

    assert_eq!(bus.purge_dead_letters(Some("desk-projection")).await?, 2);
    let left: Vec<String> = bus.dead_letters(None).await?.into_iter().map(|letter| letter.consumer).collect();
    assert_eq!(left, ["router-decide"]);
    assert_eq!(bus.purge_dead_letters(None).await?, 1);
    assert!(bus.dead_letters(None).await?.is_empty());
    assert_eq!(bus.last_sequence(DEAD_LETTER_STREAM).await?, 3, "purged, not rewritten");
    Ok(())
}
