//! The bus against a real nats-server: version check, deduplication, optimistic concurrency,
//! bounded redelivery into the dead-letter stream.

use std::{
    path::Path,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_nats::jetstream::consumer::{DeliverPolicy, pull::OrderedConfig};
use futures::StreamExt as _;
use prost::Message as _;
use switchboard_bus::{
    Bus, Config, ConsumerSpec, DEAD_LETTER_STREAM, Delivery, Draft, EVENTS_STREAM, Error, Expected, Handler,
    HandlerError, process,
};
use switchboard_proto::events::v1::{ArticleArchived, Event, event::Body};
use switchboard_testkit::NatsServer;
use tokio_util::sync::CancellationToken;

fn event(article: &str) -> Event {
    let body = Body::ArticleArchived(ArticleArchived { article_id: article.into(), version: 1 });
    Draft::new("", article, body).build().expect("valid draft")
}

async fn bus(server: &NatsServer) -> anyhow::Result<Bus> {
    let config = Config { url: server.url(), max_deliver: 3, ..Config::default() };
    Ok(Bus::connect(config).await?)
}

#[tokio::test]
async fn refuses_a_nats_server_older_than_2_10() -> anyhow::Result<()> {
    // Debian 12 ships nats-server 2.9.10, which silently ignores consumer filter_subjects.
    let debian = Path::new("/usr/sbin/nats-server");
    let old = if debian.exists() { debian } else { return refusal_without_an_old_server() };
    let server = NatsServer::start_binary(old)?;
    let error = Bus::connect(Config { url: server.url(), ..Config::default() }).await.err().expect("refused");
    assert!(matches!(error, Error::ServerTooOld { .. }), "{error}");
    assert!(error.to_string().contains("needs 2.10 or newer"), "{error}");
    Ok(())
}

/// Where no old server is installed, the same check on the version it would report.
fn refusal_without_an_old_server() -> anyhow::Result<()> {
    let error = switchboard_bus::check_server_version("2.9.10").expect_err("too old");
    assert!(error.to_string().contains("needs 2.10 or newer"), "{error}");
    Ok(())
}

#[tokio::test]
async fn an_event_published_twice_is_stored_once() -> anyhow::Result<()> {
    let server = NatsServer::start()?;
    let bus = bus(&server).await?;
    let event = event("a1");
    let first = bus.publish(&event).await?;
    let again = bus.publish(&event).await?;
    assert!(!first.duplicate && again.duplicate);
    assert_eq!(first.sequence, again.sequence);
    assert_eq!(bus.last_sequence(EVENTS_STREAM).await?, 1);
    assert_eq!(bus.event_at(first.sequence).await?, event);
    Ok(())
}

#[tokio::test]
async fn appends_check_the_aggregate_version() -> anyhow::Result<()> {
    let server = NatsServer::start()?;
    let bus = bus(&server).await?;
    let first = bus.append(&event("a2"), Expected::Empty, None).await?;
    let conflict = bus.append(&event("a2"), Expected::Empty, None).await.expect_err("not empty");
    assert!(matches!(conflict, Error::Conflict { .. }), "{conflict}");
    let stale = bus.append(&event("a2"), Expected::Sequence(first.sequence + 7), None).await;
    assert!(matches!(stale, Err(Error::Conflict { .. })));
    let second = bus.append(&event("a2"), Expected::Sequence(first.sequence), None).await?;
    assert_eq!(
        bus.last_event_of("article", "default", "a2").await?.map(|(_, seq)| seq),
        Some(second.sequence)
    );
    assert_eq!(bus.last_event_of("article", "default", "none").await?, None);
    Ok(())
}

#[tokio::test]
async fn two_tenants_aggregates_of_one_id_are_two_histories() -> anyhow::Result<()> {
    let server = NatsServer::start()?;
    let bus = bus(&server).await?;
    let of = |tenant: &str| {
        let body = Body::ArticleArchived(ArticleArchived { article_id: "same".into(), version: 1 });
        Draft::new(tenant, "same", body).build().expect("valid draft")
    };
    bus.append(&of("acme"), Expected::Empty, None).await?;
    bus.append(&of("globex"), Expected::Empty, None).await?;
    bus.append(&of("globex"), Expected::Sequence(2), None).await?;
    let tenants_of =
        |history: Vec<(Event, u64)>| history.into_iter().map(|(e, _)| e.tenant).collect::<Vec<_>>();
    assert_eq!(tenants_of(bus.events_of("article", "acme", "same").await?), ["acme"]);
    assert_eq!(tenants_of(bus.events_of("article", "globex", "same").await?), ["globex", "globex"]);
    assert!(bus.events_of("article", "initech", "same").await?.is_empty());
    let bad = Draft::new("a.b", "same", Body::ArticleArchived(ArticleArchived::default())).build();
    assert!(matches!(bad, Err(Error::InvalidTenant(_))), "a tenant that would break subjects");
    assert!(matches!(bus.events_of("article", "a.*", "same").await, Err(Error::InvalidTenant(_))));
    Ok(())
}

/// Fails every event of article `bad` (transiently) or `poison` (permanently), finds its
/// dependency down for the first four tries of `flaky`; records what it handled.
#[derive(Clone)]
struct Picky {
    handled: Arc<Mutex<Vec<String>>>,
    flaky_tries: Arc<Mutex<u32>>,
    count: Arc<tokio::sync::watch::Sender<usize>>,
}

impl Picky {
    fn record(&self, article: &str) -> Result<(), HandlerError> {
        let mut handled = self.handled.lock().map_err(|_| HandlerError::Permanent("lock".into()))?;
        handled.push(article.into());
        self.count.send_replace(handled.len());
        Ok(())
    }
}

impl Handler<Event> for Picky {
    async fn handle(&self, event: Event, _delivery: &Delivery) -> Result<(), HandlerError> {
        match event.aggregate_id.as_str() {
            "bad" => Err(HandlerError::Transient("database is away".into())),
            "poison" => Err(HandlerError::Permanent("cannot be handled".into())),
            "flaky" => {
                let mut tries =
                    self.flaky_tries.lock().map_err(|_| HandlerError::Permanent("lock".into()))?;
                *tries += 1;
                if *tries <= 4 {
                    return Err(HandlerError::Unavailable("database is restarting".into()));
                }
                drop(tries);
                self.record("flaky")
            }
            other => self.record(other),
        }
    }
}

/// Runs [`Picky`] on the article events, one at a time, through the durable consumer `durable`.
async fn run_picky(
    bus: &Bus,
    durable: &'static str,
) -> anyhow::Result<(Picky, tokio::task::JoinHandle<Result<(), Error>>, CancellationToken)> {
    let spec = ConsumerSpec {
        stream: EVENTS_STREAM,
        durable: durable.into(),
        filter_subjects: vec!["switchboard.events.article.>".into()],
        max_ack_pending: 1,
    };
    let consumer = bus.durable_consumer(&spec).await?;
    let handler = Picky {
        handled: Arc::default(),
        flaky_tries: Arc::default(),
        count: Arc::new(tokio::sync::watch::channel(0).0),
    };
    let shutdown = CancellationToken::new();
    let running = tokio::spawn({
        let (bus, handler, shutdown) = (bus.clone(), handler.clone(), shutdown.clone());
        async move { process(&bus, &consumer, durable, &handler, 1, &shutdown).await }
    });
    Ok((handler, running, shutdown))
}

#[tokio::test]
async fn failing_messages_go_to_the_dead_letter_stream_with_their_reason_while_the_rest_flow()
-> anyhow::Result<()> {
    switchboard_testkit::init_tracing();
    let server = NatsServer::start()?;
    let bus = Bus::connect(Config {
        url: server.url(),
        max_deliver: 3,
        ack_wait: Duration::from_secs(1),
        ..Config::default()
    })
    .await?;
    for article in ["ok-1", "bad", "poison", "flaky", "ok-2"] {
        bus.publish(&event(article)).await?;
    }
    let (handler, running, shutdown) = run_picky(&bus, "picky").await?;
    let mut handled_count = handler.count.subscribe();

    let letters = dead_letters(&bus, 2).await?;
    tokio::time::timeout(Duration::from_secs(30), handled_count.wait_for(|count| *count == 3)).await??;
    shutdown.cancel();
    running.await??;
    let reasons: Vec<&str> = letters.iter().map(|(reason, _)| reason.as_str()).collect();
    assert!(reasons.contains(&"cannot be handled"), "{reasons:?}");
    assert!(reasons.contains(&"database is away (gave up after 3 deliveries)"), "{reasons:?}");
    assert!(letters.iter().all(|(_, deliveries)| deliveries == "1" || deliveries == "3"), "{letters:?}");
    let handled = handler.handled.lock().map_err(|_| anyhow::anyhow!("lock"))?.clone();
    assert_eq!(handled, vec!["ok-1".to_string(), "flaky".to_string(), "ok-2".to_string()]);
    assert_eq!(
        bus.last_sequence(DEAD_LETTER_STREAM).await?,
        2,
        "an unavailable dependency dead-letters nothing"
    );
    Ok(())
}

/// An event appended under a version check keeps its `Nats-Expected-*` header in the stream;
/// its dead letter must not carry it (the server would refuse the letter, stalling the consumer
/// on that event for good), and carries the original's message id under its own name.
#[tokio::test]
async fn a_poison_event_appended_under_a_version_check_is_dead_lettered_and_the_rest_flow()
-> anyhow::Result<()> {
    switchboard_testkit::init_tracing();
    let server = NatsServer::start()?;
    let bus = bus(&server).await?;
    bus.publish(&event("ok-1")).await?;
    bus.publish(&event("ok-2")).await?;
    let first = bus.append(&event("poison"), Expected::Empty, None).await?;
    let second_poison = event("poison");
    bus.append(&second_poison, Expected::Sequence(first.sequence), None).await?;
    bus.publish(&event("ok-3")).await?;
    let (handler, running, shutdown) = run_picky(&bus, "versioned").await?;
    let mut handled_count = handler.count.subscribe();
    let waited =
        tokio::time::timeout(Duration::from_secs(30), handled_count.wait_for(|count| *count == 3)).await;
    shutdown.cancel();
    running.await??;
    waited??;
    let handled = handler.handled.lock().map_err(|_| anyhow::anyhow!("lock"))?.clone();
    assert_eq!(handled, ["ok-1", "ok-2", "ok-3"]);
    let letters = letter_headers(&bus, 2).await?;
    for headers in &letters {
        let names: Vec<String> = headers.iter().map(|(name, _)| name.to_string()).collect();
        assert!(!names.iter().any(|n| n.to_ascii_lowercase().starts_with("nats-expected")), "{names:?}");
    }
    let original = |headers: &async_nats::HeaderMap| {
        headers.get("Switchboard-Dlq-Msg-Id").map(|value| value.to_string()).unwrap_or_default()
    };
    assert_eq!(original(&letters[1]), second_poison.id, "the original's id, kept under another name");
    Ok(())
}

/// The headers of the first `count` dead letters.
async fn letter_headers(bus: &Bus, count: usize) -> anyhow::Result<Vec<async_nats::HeaderMap>> {
    let stream = bus.jetstream().get_stream(DEAD_LETTER_STREAM).await?;
    let consumer = stream
        .create_consumer(OrderedConfig { deliver_policy: DeliverPolicy::All, ..Default::default() })
        .await?;
    let mut messages = consumer.messages().await?.take(count);
    let mut letters = Vec::new();
    while let Some(message) = tokio::time::timeout(Duration::from_secs(30), messages.next()).await? {
        letters.push(message?.headers.clone().unwrap_or_default());
    }
    Ok(letters)
}

/// A durable consumer started again with other settings (a newer release's subjects, another
/// `ack_wait` or `max_ack_pending`) takes them, and keeps its place in the stream.
#[tokio::test]
async fn a_durable_consumer_takes_the_settings_it_is_started_with_and_keeps_its_place() -> anyhow::Result<()>
{
    let server = NatsServer::start()?;
    let old =
        Bus::connect(Config { url: server.url(), ack_wait: Duration::from_secs(2), ..Config::default() })
            .await?;
    let articles = "switchboard.events.article.>".to_string();
    let spec = |filters: Vec<String>, max_ack_pending| ConsumerSpec {
        stream: EVENTS_STREAM,
        durable: "evolving".into(),
        filter_subjects: filters,
        max_ack_pending,
    };
    old.publish(&event("seen-before")).await?;
    let consumer = old.durable_consumer(&spec(vec![articles.clone()], 1)).await?;
    let mut batch = consumer.fetch().max_messages(1).messages().await?;
    let first =
        batch.next().await.ok_or_else(|| anyhow::anyhow!("no message"))?.map_err(anyhow::Error::msg)?;
    first.ack().await.map_err(anyhow::Error::msg)?;

    let new =
        Bus::connect(Config { url: server.url(), ack_wait: Duration::from_secs(7), ..Config::default() })
            .await?;
    let conversations = "switchboard.events.conversation.>".to_string();
    let mut consumer = new.durable_consumer(&spec(vec![articles.clone(), conversations.clone()], 8)).await?;
    let info = consumer.info().await?.config.clone();
    assert_eq!(info.filter_subjects, [articles, conversations]);
    assert_eq!((info.ack_wait, info.max_ack_pending), (Duration::from_secs(7), 8));

    let body = Body::ArticleArchived(ArticleArchived { article_id: "after".into(), version: 1 });
    new.publish(&Draft::new("", "after", body).build()?).await?;
    let mut batch = consumer.fetch().max_messages(1).messages().await?;
    let next =
        batch.next().await.ok_or_else(|| anyhow::anyhow!("no message"))?.map_err(anyhow::Error::msg)?;
    let next = Event::decode(next.payload.clone())?;
    assert_eq!(next.aggregate_id, "after", "what was acknowledged is not handed over again");
    Ok(())
}

/// The first `count` dead letters: (reason, deliveries).
async fn dead_letters(bus: &Bus, count: usize) -> anyhow::Result<Vec<(String, String)>> {
    let header = |headers: &async_nats::HeaderMap, name: &str| {
        headers.get(name).map(|value| value.to_string()).unwrap_or_default()
    };
    Ok(letter_headers(bus, count)
        .await?
        .iter()
        .map(|h| (header(h, "Switchboard-Dlq-Reason"), header(h, "Switchboard-Dlq-Deliveries")))
        .collect())
}

#[tokio::test]
async fn connects_with_a_user_and_password_or_a_token_and_hides_them_in_errors() -> anyhow::Result<()> {
    let server = NatsServer::start_with(&["--user", "switchboard", "--pass", "s3cret-pass"])?;
    let refused =
        Bus::connect(Config { url: server.url(), ..Config::default() }).await.err().expect("no credentials");
    assert!(matches!(refused, Error::Connect { .. }), "{refused}");
    let in_url = server.url().replace("nats://", "nats://switchboard:s3cret-pass@");
    let wrong = Bus::connect(Config { url: in_url.replace("s3cret", "wrong"), ..Config::default() }).await;
    let wrong = wrong.err().expect("a wrong password");
    assert!(!wrong.to_string().contains("wrong-pass"), "{wrong}");
    Bus::connect(Config { url: in_url, ..Config::default() }).await?;
    let access = switchboard_bus::Access {
        user_and_password: Some(("switchboard".into(), "s3cret-pass".into())),
        ..Default::default()
    };
    assert!(!format!("{access:?}").contains("s3cret"), "Debug shows the password");
    Bus::connect(Config { url: server.url(), access, ..Config::default() }).await?;

    let server = NatsServer::start_with(&["--auth", "t0ken-for-nats"])?;
    let access = switchboard_bus::Access { token: Some("t0ken-for-nats".into()), ..Default::default() };
    Bus::connect(Config { url: server.url(), access, ..Config::default() }).await?;
    Ok(())
}

#[tokio::test]
async fn speaks_tls_to_nats_when_required_and_trusts_the_given_ca() -> anyhow::Result<()> {
    let certificates = switchboard_testkit::TestCertificates::make()?;
    let (cert, key) = (certificates.certificate(), certificates.key());
    let (cert, key) = (cert.to_string_lossy(), key.to_string_lossy());
    let server = NatsServer::start_with(&["--tls", "--tlscert", &cert, "--tlskey", &key])?;
    let untrusted = switchboard_bus::Access { require_tls: true, ..Default::default() };
    let refused = Bus::connect(Config { url: server.url(), access: untrusted, ..Config::default() }).await;
    assert!(refused.is_err(), "a certificate of an unknown CA was trusted");
    let trusted = switchboard_bus::Access {
        require_tls: true,
        root_certificates: Some(certificates.ca()),
        ..Default::default()
    };
    let url = server.url().replace("127.0.0.1", "localhost");
    Bus::connect(Config { url, access: trusted, ..Config::default() }).await?;
    Ok(())
}

#[tokio::test]
async fn the_inbound_and_dead_letter_streams_keep_what_their_limits_say_and_events_keep_all()
-> anyhow::Result<()> {
    let server = NatsServer::start()?;
    let bus = bus(&server).await?;
    let info = |name: &'static str| {
        let bus = bus.clone();
        async move { anyhow::Ok(bus.jetstream().get_stream(name).await?.info().await?.config.clone()) }
    };
    let inbound = info(switchboard_bus::INBOUND_STREAM).await?;
    assert_eq!((inbound.max_age, inbound.max_bytes), (Duration::from_secs(7 * 86_400), 1 << 30));
    let events = info(EVENTS_STREAM).await?;
    assert_eq!(
        (events.max_age, events.max_bytes),
        (Duration::ZERO, -1),
        "the source of truth keeps everything"
    );
    // A restart with other limits brings the existing streams to them.
    let limits = switchboard_bus::Retention { max_age: Duration::from_secs(3600), max_bytes: 1 << 20 };
    let config = Config {
        url: server.url(),
        inbound_retention: limits,
        dead_letter_retention: limits,
        ..Config::default()
    };
    let bus = Bus::connect(config).await?;
    for name in [switchboard_bus::INBOUND_STREAM, DEAD_LETTER_STREAM] {
        let config = bus.jetstream().get_stream(name).await?.info().await?.config.clone();
        assert_eq!(
            (config.max_age, config.max_bytes, config.num_replicas),
            (limits.max_age, limits.max_bytes, 1),
            "{name}"
        );
    }
    Ok(())
}
