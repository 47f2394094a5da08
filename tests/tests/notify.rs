//! The notifier's outbound side against real peers: notices to teams by email (aiosmtpd) and by
//! signed webhook, routing decisions POSTed to rule webhooks, social and SMS messages in and out
//! through signed webhooks, and a crash between sending and acking that sends nothing twice.

mod common;

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use common::{
    Backing, Cluster, Node, PASSWORD_RULES, message,
    peers::{post_signed, received, receiver, signed_by},
    submit, wait_for_event,
};
use switchboard_bus::{DEFAULT_TENANT, Draft};
use switchboard_proto::{
    events::v1::{
        NotificationDelivered, NotificationFailed, NotificationRequested, ReplyDelivered, event::Body,
    },
    router::v1::{PublishRulesRequest, router_client::RouterClient},
};
use switchboard_testkit::SmtpSink;

const SECRET: &str = "whsec-notify-tests";

fn notification(id: &str, target: &str) -> anyhow::Result<switchboard_proto::events::v1::Event> {
    let body = Body::NotificationRequested(NotificationRequested {
        notification_id: id.into(),
        target: target.into(),
        subject: format!("Return {id} approved"),
        text: "Please expect the parcel and restock it.".into(),
        conversation_id: "conv-1".into(),
    });
    Ok(Draft::new(DEFAULT_TENANT, id, body).build()?)
}

async fn delivered(backing: &Backing, id: &str) -> anyhow::Result<NotificationDelivered> {
    let bus = backing.bus().await?;
    let (found, _) = wait_for_event(&bus, "switchboard.events.delivery.>", |event| match &event.body {
        Some(Body::NotificationDelivered(d)) if d.source_id == id => Some(d.clone()),
        _ => None,
    })
    .await?;
    Ok(found)
}

async fn failed(backing: &Backing, id: &str) -> anyhow::Result<NotificationFailed> {
    let bus = backing.bus().await?;
    let (found, _) = wait_for_event(&bus, "switchboard.events.delivery.>", |event| match &event.body {
        Some(Body::NotificationFailed(f)) if f.source_id == id => Some(f.clone()),
        _ => None,
    })
    .await?;
    Ok(found)
}

const NOTIFYING_RULES: &str = r#"
rules:
  - name: invoices-to-billing
    when: {keywords: [invoice]}
    then:
      action: queue
      queue: billing
      priority: high
      notify: ["team:billing", "email:lead@acme.example"]
      webhook: "WEBHOOK/decisions"
  - name: everything-else
    then: {action: queue, queue: general}
"#;

#[tokio::test]
async fn notices_reach_teams_by_email_and_signed_webhooks_and_decisions_reach_rule_webhooks()
-> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let sink = SmtpSink::start()?;
    let (url, inbox) = receiver().await?;
    let mut config = backing.config();
    config.notifier.smtp_url = Some(sink.url());
    config.notifier.signing_secret = Some(SECRET.into());
    config.notifier.teams = BTreeMap::from([
        ("warehouse".to_string(), "email:warehouse@acme.example".to_string()),
        ("billing".to_string(), format!("webhook:{url}/billing")),
    ]);
    let cluster = Cluster::start(config).await?;
    let bus = backing.bus().await?;

    // A return's warehouse notice (what the router asks for when an agent approves a return).
    bus.publish(&notification("ret-1", "team:warehouse")?).await?;
    let done = delivered(&backing, "ret-1").await?;
    assert_eq!((done.target.as_str(), done.attempts), ("team:warehouse", 1));
    let mails = sink.messages()?;
    assert_eq!(mails.len(), 1);
    let text = String::from_utf8_lossy(&mails[0]);
    assert!(
        text.contains("To: warehouse@acme.example") && text.contains("Subject: Return ret-1 approved"),
        "{text}"
    );

    // A team nobody configured: a failure event that says what to set.
    bus.publish(&notification("ret-2", "team:nobody")?).await?;
    let refused = failed(&backing, "ret-2").await?;
    assert!(refused.reason.contains("no address for team \"nobody\""), "{}", refused.reason);

    // A rule's notify targets and webhook, for a decision.
    let rules = NOTIFYING_RULES.replace("WEBHOOK", &url);
    let mut router = RouterClient::new(cluster.channel().await?);
    router.publish_rules(PublishRulesRequest { text: rules, wait: true }).await?;
    let sent = submit(&cluster, message("cust-1", "Please send me the invoice for March", "inv-1")).await?;
    let decision =
        received(&inbox, "/decisions", |r| r.json()["conversation_id"] == sent.conversation_id).await?;
    assert!(signed_by(SECRET, &decision.signature, &decision.body), "{}", decision.signature);
    assert!(!decision.idempotency_key.is_empty());
    let posted = decision.json();
    assert_eq!(
        (posted["queue"].as_str(), posted["priority"].as_str()),
        (Some("billing"), Some("high")),
        "{posted}"
    );
    let team = received(&inbox, "/billing", |r| r.json()["conversation_id"] == sent.conversation_id).await?;
    assert!(signed_by(SECRET, &team.signature, &team.body));
    let subject = team.json()["subject"].as_str().unwrap_or_default().to_string();
    assert!(subject.starts_with("[high] billing: "), "{subject}");
    let lead = delivered_to(&backing, "email:lead@acme.example").await?;
    assert_eq!(lead.conversation_id, sent.conversation_id);
    assert!(sink.messages()?.iter().any(|m| String::from_utf8_lossy(m).contains("To: lead@acme.example")));
    cluster.stop().await
}

/// A webhook URL's path and query are often its secret (a chat tool's incoming-webhook token): the
/// delivery's events, `ListDeliveries` and `Router/Evaluate` show where it goes, never them.
#[tokio::test]
async fn webhook_secrets_in_paths_never_show_in_deliveries_events_or_answers() -> anyhow::Result<()> {
    use switchboard_auth::Role;
    use switchboard_proto::{
        notifier::v1::{ListDeliveriesRequest, notifier_client::NotifierClient},
        router::v1::EvaluateRequest,
    };
    let backing = Backing::start().await?;
    let (url, inbox) = receiver().await?;
    let mut config = backing.config();
    config.notifier.signing_secret = Some(SECRET.into());
    let cluster = Cluster::start(config).await?;
    let hook = format!("{url}/decisions/T0/B0/s3cr3t-path?token=s3cr3t-query");
    let rules = NOTIFYING_RULES.replace("WEBHOOK/decisions", &hook).replace(
        r#"notify: ["team:billing", "email:lead@acme.example"]"#,
        r#"notify: ["webhook:URL/teams/s3cr3t-team"]"#.replace("URL", &url).as_str(),
    );
    let mut router = RouterClient::new(cluster.channel().await?);
    router.publish_rules(PublishRulesRequest { text: rules, wait: true }).await?;
    let sent = submit(&cluster, message("cust-1", "Please send me the invoice for March", "inv-1")).await?;
    received(&inbox, "/decisions/T0/B0/s3cr3t-path", |r| r.json()["conversation_id"] == sent.conversation_id)
        .await?;
    received(&inbox, "/teams/s3cr3t-team", |r| r.json()["conversation_id"] == sent.conversation_id).await?;

    let origin = format!("webhook:{url}/…");
    let bus = backing.bus().await?;
    // The decision's POST and the team notice: two deliveries, each shown by its origin.
    let (mut deliveries, mut shown, mut last) = (Vec::new(), Vec::new(), 0);
    while deliveries.len() < 2 {
        let (delivered, sequence) =
            wait_for_event(&bus, "switchboard.events.delivery.>", |event| match &event.body {
                Some(Body::NotificationDelivered(d))
                    if d.conversation_id == sent.conversation_id && !deliveries.contains(&d.delivery_id) =>
                {
                    Some(d.clone())
                }
                _ => None,
            })
            .await?;
        deliveries.push(delivered.delivery_id);
        shown.push(delivered.target);
        last = last.max(sequence);
    }
    assert_eq!(shown, [origin.clone(), origin.clone()], "the events show the origin only");

    let supervisor = cluster.channel_as(DEFAULT_TENANT, Role::Supervisor, "sam").await?;
    // Listed once the notifier's read model holds both deliveries.
    let request = ListDeliveriesRequest { conversation_id: sent.conversation_id.clone(), min_sequence: last };
    let listed = NotifierClient::new(supervisor.clone()).list_deliveries(request).await?.into_inner();
    let targets: Vec<&str> = listed.deliveries.iter().map(|d| d.target.as_str()).collect();
    assert!(targets.iter().filter(|t| **t == origin).count() == 2, "{targets:?}");
    assert!(!format!("{listed:?}").contains("s3cr3t"), "{listed:?}");

    let evaluate =
        EvaluateRequest { text: "Please send me the invoice".into(), ..EvaluateRequest::default() };
    let evaluated = RouterClient::new(supervisor).evaluate(evaluate).await?.into_inner();
    assert_eq!(evaluated.webhooks, [format!("{url}/…")]);
    assert_eq!(evaluated.notify, [origin]);
    assert!(!format!("{evaluated:?}").contains("s3cr3t"), "{evaluated:?}");
    cluster.stop().await
}

async fn delivered_to(backing: &Backing, target: &str) -> anyhow::Result<NotificationDelivered> {
    let bus = backing.bus().await?;
    let (found, _) = wait_for_event(&bus, "switchboard.events.delivery.>", |event| match &event.body {
        Some(Body::NotificationDelivered(d)) if d.target == target => Some(d.clone()),
        _ => None,
    })
    .await?;
    Ok(found)
}

#[tokio::test]
async fn sms_messages_come_in_signed_and_replies_go_out_to_the_gateway_signed() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let (url, inbox) = receiver().await?;
    let mut config = backing.config();
    config.channels.webhook_secret = Some(SECRET.into());
    config.notifier.signing_secret = Some(SECRET.into());
    config.notifier.gateways = BTreeMap::from([("sms".to_string(), format!("{url}/sms"))]);
    let cluster = Cluster::start(config).await?;
    let mut router = RouterClient::new(cluster.channel().await?);
    router.publish_rules(PublishRulesRequest { text: PASSWORD_RULES.into(), wait: true }).await?;

    let hook = format!("http://{}/hooks/sms", cluster.http);
    let body = serde_json::json!({"customer_id": "+15550100", "text": "I forgot my password", "message_id": "sms-1"});
    let bytes = serde_json::to_vec(&body)?;
    let (status, answer) = post_signed(&hook, Some(SECRET), bytes.clone()).await?;
    assert_eq!((status, answer["duplicate"].as_bool()), (202, Some(false)), "{answer}");
    let (status, answer) = post_signed(&hook, Some(SECRET), bytes.clone()).await?;
    assert_eq!((status, answer["duplicate"].as_bool()), (202, Some(true)), "{answer}");

    let reply = received(&inbox, "/sms", |r| r.json()["customer_id"] == "+15550100").await?;
    assert!(signed_by(SECRET, &reply.signature, &reply.body));
    let text = reply.json()["text"].as_str().unwrap_or_default().to_string();
    assert!(text.contains("https://shop.example/reset"), "{text}");
    let bus = backing.bus().await?;
    let (destination, _) = wait_for_event(&bus, "switchboard.events.delivery.>", |event| match &event.body {
        Some(Body::ReplyDelivered(ReplyDelivered { destination, .. })) => Some(destination.clone()),
        _ => None,
    })
    .await?;
    assert_eq!(destination, "gateway");

    // Bad signatures, stale ones, bad JSON and missing fields are refused with reasons.
    let (status, _) = post_signed(&hook, Some("not the secret"), bytes.clone()).await?;
    assert_eq!(status, 401);
    let stale = common::peers::sign(SECRET, chrono::Utc::now().timestamp() - 3600, &bytes);
    let response = reqwest::Client::new()
        .post(&hook)
        .header("X-Switchboard-Signature", stale)
        .body(bytes)
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 401);
    assert!(response.text().await?.contains("timestamp"));
    let (status, answer) = post_signed(&hook, Some(SECRET), b"{not json".to_vec()).await?;
    assert_eq!(status, 400, "{answer}");
    let (status, answer) =
        post_signed(&hook, Some(SECRET), br#"{"customer_id":"x","text":"","message_id":"m"}"#.to_vec())
            .await?;
    assert_eq!(status, 400, "{answer}");
    cluster.stop().await
}

#[tokio::test]
async fn a_crash_between_sending_and_acking_sends_nothing_twice() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let sink = SmtpSink::start()?;
    let mut config = backing.config();
    config.services = vec![switchboard_server::Service::Notifier];
    config.notifier.smtp_url = Some(sink.url());
    let halting = switchboard_server::Config {
        notifier: switchboard_notifier::Config {
            failpoint: Some(switchboard_notifier::Failpoint::HaltAfterSend),
            ..config.notifier.clone()
        },
        ..config.clone()
    };
    let node = Node::start(halting).await?;
    let bus = backing.bus().await?;
    bus.publish(&notification("crash-1", "email:ops@acme.example")?).await?;
    // The email is out and its outcome logged; the node halts before publishing and acking.
    let database = sqlx::PgPool::connect(&backing.database.url).await?;
    wait_for_log(&database, "crash-1").await?;
    assert_eq!(sink.messages()?.len(), 1);
    node.crash();

    // The request comes again to a new node: the log answers, nothing is sent again.
    let node = Node::start(config).await?;
    let done = delivered(&backing, "crash-1").await?;
    assert_eq!(done.attempts, 1);
    assert_eq!(sink.messages()?.len(), 1);
    node.crash();
    Ok(())
}

/// Waits until the delivery log says `delivered` for `id`. It polls: the halted node publishes
/// nothing, so there is no event to wait on.
async fn wait_for_log(database: &sqlx::PgPool, id: &str) -> anyhow::Result<()> {
    tokio::time::timeout(common::WAIT, async {
        loop {
            let status: Option<String> =
                sqlx::query_scalar("SELECT status FROM notifier.delivery_log WHERE delivery_id = $1")
                    .bind(id)
                    .fetch_optional(database)
                    .await?;
            if status.as_deref() == Some("delivered") {
                return Ok::<_, anyhow::Error>(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await?
}

/// A webhook that answers 503 to the first `failures` requests of each path, then 200; it
/// counts what it was sent.
async fn flaky_receiver(
    failures: usize,
) -> anyhow::Result<(String, std::sync::Arc<std::sync::Mutex<Vec<String>>>)> {
    use axum::{extract::State, http::StatusCode, routing::post};
    type Seen = std::sync::Arc<std::sync::Mutex<Vec<String>>>;
    let seen: Seen = std::sync::Arc::default();
    async fn answer(State((seen, failures)): State<(Seen, usize)>, uri: axum::http::Uri) -> StatusCode {
        let mut all = seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        all.push(uri.path().to_string());
        let tries = all.iter().filter(|path| *path == uri.path()).count();
        if tries <= failures { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK }
    }
    let app = axum::Router::new().route("/{*path}", post(answer)).with_state((seen.clone(), failures));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, seen))
}

#[tokio::test]
async fn a_failing_webhook_is_retried_with_backoff_and_a_failure_becomes_an_event() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    // Two failures, then success: within the three deliveries the test bus allows.
    let (url, seen) = flaky_receiver(2).await?;
    let cluster = Cluster::start(backing.config()).await?;
    let bus = backing.bus().await?;
    bus.publish(&notification("flaky-1", &format!("webhook:{url}/recovers"))?).await?;
    let done = delivered(&backing, "flaky-1").await?;
    assert_eq!(done.attempts, 3, "sent again after each 503");
    // The fourth failure is one too many: a failure event with the reason.
    let (down, _) = flaky_receiver(100).await?;
    bus.publish(&notification("flaky-2", &format!("webhook:{down}/down"))?).await?;
    let gave_up = failed(&backing, "flaky-2").await?;
    assert_eq!(gave_up.attempts, 3);
    assert!(gave_up.reason.contains("503"), "{}", gave_up.reason);
    let tries = seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len();
    assert_eq!(tries, 3, "each attempt once, no extra sends");
    cluster.stop().await
}

/// A real HTTP server that answers every POST with a redirect to `/landed` on itself, and counts
/// what reaches `/landed`.
async fn redirecting() -> anyhow::Result<(String, Arc<AtomicUsize>)> {
    use axum::{Router, http::StatusCode, response::IntoResponse, routing::post};
    let landed = Arc::new(AtomicUsize::new(0));
    let counter = landed.clone();
    let app = Router::new()
        .route(
            "/landed",
            post(move || async move {
                counter.fetch_add(1, Ordering::SeqCst);
                "landed"
            }),
        )
        .route(
            "/hop",
            post(|| async { (StatusCode::TEMPORARY_REDIRECT, [("location", "/landed")]).into_response() }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, landed))
}

#[tokio::test]
async fn webhooks_never_reach_internal_addresses_unless_allowed_nor_follow_redirects() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let (url, inbox) = receiver().await?;
    let port = url.rsplit(':').next().unwrap_or_default().to_string();
    let mut config = backing.config();
    config.notifier.outbound_allow = switchboard_channels::outbound::Destinations::default();
    let cluster = Cluster::start(config).await?;
    let bus = backing.bus().await?;

    let internal = [
        ("int-1", format!("webhook:{url}/internal")),
        ("int-2", format!("webhook:http://localhost:{port}/internal")),
        ("int-3", "webhook:http://169.254.169.254/latest/meta-data".to_string()),
        ("int-4", format!("webhook:http://[::ffff:127.0.0.1]:{port}/internal")),
        ("int-5", format!("webhook:http://user:hunter2@0x7f.1:{port}/internal")),
    ];
    for (id, target) in &internal {
        bus.publish(&notification(id, target)?).await?;
    }
    for (id, target) in &internal {
        let refused = failed(&backing, id).await?;
        assert!(
            refused.reason.contains("private, loopback") || refused.reason.contains("may not reach"),
            "{target}: {}",
            refused.reason
        );
        for secret in [port.as_str(), "hunter2", "169.254", "localhost"] {
            assert!(!refused.reason.contains(secret), "the reason names {secret:?}: {}", refused.reason);
        }
    }
    assert!(inbox.borrow().is_empty(), "an internal address was reached: {:?}", inbox.borrow());
    cluster.stop().await?;

    // Allowed networks are reached, but a redirect is not followed.
    let cluster = Cluster::start(backing.config()).await?;
    let (redirect, landed) = redirecting().await?;
    bus.publish(&notification("hop-1", &format!("webhook:{redirect}/hop"))?).await?;
    let refused = failed(&backing, "hop-1").await?;
    assert!(refused.reason.contains("307"), "{}", refused.reason);
    assert_eq!(landed.load(Ordering::SeqCst), 0, "the redirect was followed");
    bus.publish(&notification("ok-1", &format!("webhook:{url}/allowed"))?).await?;
    received(&inbox, "/allowed", |_| true).await?;
    cluster.stop().await
}
