//! `switchboard dlq list|replay|purge` as an operator runs them: the binary against a real
//! nats-server, results on stdout only (so `| jq` works), a purge only when confirmed.

mod common;

use std::{
    process::Output,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use switchboard_bus::{Bus, ConsumerSpec, Delivery, Draft, EVENTS_STREAM, Handler, HandlerError, process};
use switchboard_proto::events::v1::{ArticleArchived, Event, event::Body};
use switchboard_testkit::NatsServer;
use tokio_util::sync::CancellationToken;

const CONSUMER: &str = "article-indexer";

/// Refuses every article until fixed; records those it handled.
#[derive(Clone, Default)]
struct Fixable {
    fixed: Arc<AtomicBool>,
    handled: Arc<Mutex<Vec<String>>>,
}

impl Handler<Event> for Fixable {
    async fn handle(&self, event: Event, _delivery: &Delivery) -> Result<(), HandlerError> {
        if !self.fixed.load(Ordering::SeqCst) {
            return Err(HandlerError::Permanent("the index is read-only".into()));
        }
        let mut handled = self.handled.lock().map_err(|_| HandlerError::Permanent("lock".into()))?;
        handled.push(event.aggregate_id);
        Ok(())
    }
}

fn archived(article: &str) -> anyhow::Result<Event> {
    let body = Body::ArticleArchived(ArticleArchived { article_id: article.into(), version: 1 });
    Ok(Draft::new("", article, body).build()?)
}

async fn dlq(nats: &NatsServer, args: &[&str]) -> anyhow::Result<Output> {
    let output = tokio::process::Command::new(common::switchboard_binary()?)
        .arg("dlq")
        .args(args)
        .env("SWITCHBOARD_NATS_URL", nats.url())
        .env("RUST_LOG", "info")
        .output()
        .await?;
    Ok(output)
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn listed(output: &Output) -> anyhow::Result<Vec<serde_json::Value>> {
    anyhow::ensure!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    stdout(output).lines().map(|line| Ok(serde_json::from_str(line)?)).collect()
}

async fn letters(nats: &NatsServer, count: usize) -> anyhow::Result<Vec<serde_json::Value>> {
    for _ in 0..200 {
        let letters = listed(&dlq(nats, &["list", "--json"]).await?)?;
        if letters.len() == count {
            return Ok(letters);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("never {count} dead letters")
}

#[tokio::test]
async fn an_operator_lists_replays_and_purges_dead_letters() -> anyhow::Result<()> {
    // Given a consumer that refuses three articles
    // (a cluster that keeps its dead letters 90 days, not the default 30)
    let nats = NatsServer::start()?;
    let kept = switchboard_bus::Retention { max_age: Duration::from_secs(90 * 86_400), max_bytes: 1 << 30 };
    let config =
        switchboard_bus::Config { url: nats.url(), dead_letter_retention: kept, ..Default::default() };
    let bus = Bus::connect(config).await?;
    let spec = ConsumerSpec::events(CONSUMER, "switchboard.events.article.>", 1);
    let consumer = bus.durable_consumer(&spec).await?;
    let (handler, shutdown) = (Fixable::default(), CancellationToken::new());
    let running = tokio::spawn({
        let (bus, handler, shutdown) = (bus.clone(), handler.clone(), shutdown.clone());
        async move { process(&bus, &consumer, CONSUMER, &handler, 1, &shutdown).await }
    });
    for article in ["a-1", "a-2", "a-3"] {
        bus.publish(&archived(article)?).await?;
    }

    // Then `list --json` shows each on a line of its own, and nothing else is on stdout
    let listing = letters(&nats, 3).await?;
    for (letter, sequence) in listing.iter().zip(1..) {
        assert_eq!(letter["consumer"], CONSUMER);
        assert_eq!(letter["reason"], "the index is read-only");
        assert_eq!(letter["sequence"], sequence);
        assert_eq!(letter["deliveries"], 1);
        assert!(letter["subject"].as_str().is_some_and(|s| s.starts_with("switchboard.events.article.")));
    }
    let table = dlq(&nats, &["list", "--consumer", CONSUMER]).await?;
    assert_eq!(stdout(&table).lines().count(), 4, "a header and three letters: {}", stdout(&table));
    assert_eq!(stdout(&dlq(&nats, &["list", "--consumer", "someone-else"]).await?), "no dead letters\n");
    // The command, with the default settings, left the cluster's own as they were.
    let letters_stream = bus.jetstream().get_stream(switchboard_bus::DEAD_LETTER_STREAM).await?;
    assert_eq!(letters_stream.cached_info().config.max_age, kept.max_age);

    // When the operator purges without confirming, nothing goes
    let refused = dlq(&nats, &["purge"]).await?;
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("purge deletes 3 dead letters for good") && said.contains("--yes"), "{said}");
    assert_eq!(letters(&nats, 3).await?.len(), 3);

    // When the cause is fixed, one letter is put back by id and the rest by consumer
    handler.fixed.store(true, Ordering::SeqCst);
    let first = listing[0]["id"].to_string();
    let one = dlq(&nats, &["replay", &first]).await?;
    assert!(one.status.success(), "{}", String::from_utf8_lossy(&one.stderr));
    assert!(stdout(&one).contains(&format!("put back {first} into {CONSUMER}")), "{}", stdout(&one));
    let rest = dlq(&nats, &["replay", "--consumer", CONSUMER]).await?;
    assert!(stdout(&rest).ends_with("2 dead letters put back\n"), "{}", stdout(&rest));

    // Then the consumer handled all three and the list is empty
    for _ in 0..200 {
        if handler.handled.lock().map(|handled| handled.len()).unwrap_or_default() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut handled = handler.handled.lock().map(|handled| handled.clone()).unwrap_or_default();
    handled.sort();
    assert_eq!(handled, ["a-1", "a-2", "a-3"]);
    assert!(letters(&nats, 0).await?.is_empty());
    let unknown = dlq(&nats, &["replay", &first]).await?;
    assert!(String::from_utf8_lossy(&unknown.stderr).contains(&format!("no dead letter {first}")));

    // And a confirmed purge deletes what a new failure left
    handler.fixed.store(false, Ordering::SeqCst);
    bus.publish(&archived("a-4")?).await?;
    letters(&nats, 1).await?;
    let purged = dlq(&nats, &["purge", "--yes"]).await?;
    assert_eq!(stdout(&purged), "1 dead letter purged\n");
    assert!(letters(&nats, 0).await?.is_empty());
    assert_eq!(bus.last_sequence(EVENTS_STREAM).await?, 4, "the events themselves stay");
    shutdown.cancel();
    running.await??;
    Ok(())
}
