//! Proactive messages on the running cluster: a shipped order gives one update on the customer's
//! channel, a device alert one ticket for repair and one notice, an outage a notice to each
//! affected customer, an onboarding sequence its steps (skipping what was done), and a closed
//! conversation one survey whose rating reaches analytics, bot- and human-handled apart.

mod common;

use std::time::Duration;

use common::{
    Backing, Cluster, PASSWORD_RULES, WAIT, cluster_with_mail, events, message, submit, wait_for_event,
};
use switchboard_bus::{Bus, DEFAULT_TENANT, Draft, key_id};
use switchboard_proto::{
    analytics::v1::{GetCountsRequest, analytics_client::AnalyticsClient},
    desk::v1::{AgentActivity, RecordAgentActivityRequest, desk_client::DeskClient},
    events::v1::{
        DeviceAlertRaised, Event, MessageRouted, OrderStatus, OrderUpdated, OutageDeclared, ReplyDelivered,
        event::Body,
    },
    router::v1::{Customer, PublishRulesRequest, PutCustomerRequest, router_client::RouterClient},
};

const SECRET: &str = "whsec-proactive-tests";

/// Waits until the notifier's consumer has handled everything on the stream so far.
async fn settled(bus: &Bus) -> anyhow::Result<()> {
    let stream = bus.jetstream().get_stream(switchboard_bus::EVENTS_STREAM).await?;
    tokio::time::timeout(WAIT, async {
        loop {
            let mut consumer = stream
                .get_consumer::<async_nats::jetstream::consumer::pull::Config>(switchboard_notifier::CONSUMER)
                .await
                .map_err(|error| anyhow::anyhow!("{error}"))?;
            let info = consumer.info().await?;
            if info.num_pending == 0 && info.num_ack_pending == 0 {
                return anyhow::Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await?
}

async fn reply_delivered(bus: &Bus, reply_key: &str) -> anyhow::Result<ReplyDelivered> {
    let reply_id = key_id(reply_key).to_string();
    let (found, _) = wait_for_event(bus, "switchboard.events.delivery.>", |event| match &event.body {
        Some(Body::ReplyDelivered(d)) if d.reply_id == reply_id => Some(d.clone()),
        _ => None,
    })
    .await?;
    Ok(found)
}

fn count(all: &[Event], wanted: impl Fn(&Body) -> bool) -> usize {
    all.iter().filter(|event| event.body.as_ref().is_some_and(&wanted)).count()
}

#[tokio::test]
async fn a_shipped_order_gives_one_update_by_email_in_the_customers_thread() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let (cluster, sink) = cluster_with_mail(&backing, |_| {}).await?;
    let bus = backing.bus().await?;
    let raw = b"From: ana@example.com\r\nSubject: My order\r\nMessage-ID: <o1@example.com>\r\n\r\nI just ordered A-77, thanks!\r\n";
    assert_eq!(common::peers::smtp_send(cluster.smtp, "ana@example.com", "s@x.example", raw).await?.0, 250);
    wait_for_event(&bus, "switchboard.events.conversation.>", |event| {
        matches!(&event.body, Some(Body::MessageReceived(m)) if m.customer_id == "ana@example.com")
            .then_some(())
    })
    .await?;
    settled(&bus).await?;
    let before = sink.messages()?.len();
    let shipped = OrderUpdated {
        order_id: "A-77".into(),
        customer_id: "ana@example.com".into(),
        status: OrderStatus::Shipped.into(),
        carrier: "DHL".into(),
        tracking_number: "JD0001".into(),
        tracking_url: "https://track.example/JD0001".into(),
        ..Default::default()
    };
    // Yesterday's news (a consumer catching up on old history) tells nobody.
    let mut stale = Draft::new(
        DEFAULT_TENANT,
        "A-1",
        Body::OrderUpdated(OrderUpdated { order_id: "A-1".into(), ..shipped.clone() }),
    )
    .build()?;
    stale.occurred_at =
        Some(switchboard_proto::time::to_timestamp(chrono::Utc::now() - chrono::Duration::days(2)));
    bus.publish(&stale).await?;
    // The shop's system sends the same update twice, as systems do.
    for _ in 0..2 {
        bus.publish(&Draft::new(DEFAULT_TENANT, "A-77", Body::OrderUpdated(shipped.clone())).build()?)
            .await?;
    }
    let update = reply_delivered(&bus, "order/A-77/shipped").await?;
    assert_eq!(update.destination, "email");
    settled(&bus).await?;
    let mails = sink.messages()?;
    assert_eq!(mails.len(), before + 1, "one update, and none for the stale event");
    let text = String::from_utf8_lossy(&mails[before]);
    assert!(text.contains("In-Reply-To: <o1@example.com>") && text.contains("JD0001"), "{text}");
    cluster.stop().await
}

#[tokio::test]
async fn a_device_alert_opens_one_ticket_for_repair_and_tells_the_customer_once() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let bus = backing.bus().await?;
    // The customer writes in German, so the notice is in German.
    let first = submit(
        &cluster,
        message("solar-7", "Guten Tag, funktioniert meine Solaranlage noch richtig?", "s-1"),
    )
    .await?;
    wait_for_event(&bus, "switchboard.events.routing.>", |event| {
        matches!(&event.body, Some(Body::MessageRouted(r)) if r.conversation_id == first.conversation_id)
            .then_some(())
    })
    .await?;
    let alert = DeviceAlertRaised {
        alert_id: "alert-1".into(),
        device_id: "INV-7".into(),
        customer_id: "solar-7".into(),
        device_kind: "solar inverter".into(),
        problem: "output dropped to 40% of the expected".into(),
    };
    for _ in 0..2 {
        bus.publish(&Draft::new(DEFAULT_TENANT, "INV-7", Body::DeviceAlertRaised(alert.clone())).build()?)
            .await?;
    }
    let notice = reply_delivered(&bus, "device/alert-1").await?;
    assert_eq!(notice.conversation_id, first.conversation_id, "told where the customer writes");
    assert!(
        notice.text.contains("Wir haben ein Problem mit Ihrem Gerät (solar inverter, INV-7)"),
        "{}",
        notice.text
    );
    let (ticket, _): (MessageRouted, _) =
        wait_for_event(&bus, "switchboard.events.routing.>", |event| match &event.body {
            Some(Body::MessageRouted(r)) if r.queue == "repair" => Some(r.clone()),
            _ => None,
        })
        .await?;
    assert_ne!(ticket.conversation_id, first.conversation_id, "the ticket is a conversation of its own");
    assert_eq!(ticket.rule, "device-alerts");
    settled(&bus).await?;
    let all = events(&bus, "switchboard.events.>").await?;
    let tickets =
        count(&all, |b| matches!(b, Body::MessageReceived(m) if m.idempotency_key == "device-alert:alert-1"));
    let notices =
        count(&all, |b| matches!(b, Body::ReplyDelivered(d) if d.text.contains("Wir haben ein Problem")));
    assert_eq!((tickets, notices), (1, 1));
    cluster.stop().await
}

async fn put_customer(
    router: &mut RouterClient<common::Api>,
    id: &str,
    attributes: &[(&str, &str)],
) -> anyhow::Result<()> {
    let customer = Customer {
        customer_id: id.into(),
        attributes: attributes.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect(),
        ..Default::default()
    };
    router.put_customer(PutCustomerRequest { customer: Some(customer), wait: true }).await?;
    Ok(())
}

#[tokio::test]
async fn an_outage_reaches_each_affected_customer_once_and_says_who_could_not_be_reached()
-> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let (cluster, sink) = cluster_with_mail(&backing, |_| {}).await?;
    let bus = backing.bus().await?;
    let mut router = RouterClient::new(cluster.channel().await?);
    put_customer(&mut router, "north-chat", &[("region", "north")]).await?;
    put_customer(&mut router, "north-mail", &[("region", "north"), ("email", "bo@example.com")]).await?;
    put_customer(&mut router, "north-nobody", &[("region", "north")]).await?;
    put_customer(&mut router, "south-chat", &[("region", "south")]).await?;
    for customer in ["north-chat", "south-chat"] {
        let sent = submit(&cluster, message(customer, "Hello there", customer)).await?;
        wait_for_event(&bus, "switchboard.events.routing.>", |event| {
            matches!(&event.body, Some(Body::MessageRouted(r)) if r.conversation_id == sent.conversation_id)
                .then_some(())
        })
        .await?;
    }
    settled(&bus).await?;
    let outage = OutageDeclared {
        outage_id: "out-1".into(),
        title: "Power cut in the north".into(),
        detail: "Crews are on site.".into(),
        affected: [("region".to_string(), "north".to_string())].into(),
        status: "started".into(),
        ..Default::default()
    };
    bus.publish(&Draft::new(DEFAULT_TENANT, "out-1", Body::OutageDeclared(outage)).build()?).await?;
    let chat = reply_delivered(&bus, "outage/out-1/started/north-chat").await?;
    assert!(chat.text.contains("Power cut in the north"), "{}", chat.text);
    settled(&bus).await?;
    let all = events(&bus, "switchboard.events.>").await?;
    let mailed =
        count(&all, |b| matches!(b, Body::NotificationDelivered(d) if d.target == "email:bo@example.com"));
    let failed = count(
        &all,
        |b| matches!(b, Body::NotificationFailed(f) if f.target == "customer:north-nobody" && f.reason.contains("no conversation")),
    );
    let south = count(
        &all,
        |b| matches!(b, Body::ReplyRequested(r) if r.customer_id == "south-chat" && r.text.contains("Power cut")),
    );
    assert_eq!((mailed, failed, south), (1, 1, 0));
    assert!(
        sink.messages()?
            .iter()
            .any(|m| String::from_utf8_lossy(m).contains("Subject: Service disruption: Power cut"))
    );
    cluster.stop().await
}

const ONBOARDING: &str = r#"
brand: Acme
templates:
  email_reply: {en: "{text}"}
  team_notice_subject: {en: "{queue}"}
  team_notice: {en: "{reason}"}
  order_shipped: {en: "shipped"}
  order_delivered: {en: "delivered"}
  device_ticket: {en: "ticket"}
  device_alert: {en: "alert"}
  outage_started: {en: "outage"}
  outage_resolved: {en: "over"}
  survey_csat: {en: "rate {link}"}
  survey_nps: {en: "recommend? {link}"}
  welcome_subject: {en: "Welcome to {brand}"}
  welcome: {en: "Welcome aboard."}
  app_subject: {en: "Get the app"}
  app: {en: "Install the app."}
  order_subject: {en: "First order?"}
  order: {en: "Your discount waits."}
sequences:
  onboarding:
    trigger: signed_up
    steps:
      - {name: welcome, after: 0s, template: welcome}
      - {name: install_app, after: 1s, template: app, unless: app_installed}
      - {name: first_order, after: 2s, template: order, unless: first_order}
"#;

#[tokio::test]
async fn an_onboarding_sequence_sends_its_steps_after_their_delays_and_skips_what_was_done()
-> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let (cluster, sink) =
        cluster_with_mail(&backing, |config| config.notifier.templates = Some(ONBOARDING.into())).await?;
    let bus = backing.bus().await?;
    let mut router = RouterClient::new(cluster.channel().await?);
    let attributes = [("signed_up", "2026-12-02"), ("email", "new@example.com"), ("app_installed", "yes")];
    put_customer(&mut router, "newbie", &attributes).await?;
    let mut taken = Vec::new();
    for step in ["welcome", "install_app", "first_order"] {
        let (outcome, _) =
            wait_for_event(&bus, "switchboard.events.onboarding.>", |event| match &event.body {
                Some(Body::OnboardingStepTaken(t)) if t.step == step => Some(t.outcome.clone()),
                _ => None,
            })
            .await?;
        taken.push(outcome);
    }
    assert_eq!(taken, ["sent", "skipped", "sent"]);
    settled(&bus).await?;
    let subjects: Vec<String> =
        sink.messages()?.iter().map(|m| String::from_utf8_lossy(m).into_owned()).collect();
    assert_eq!(subjects.len(), 2, "two steps sent by email");
    assert!(
        subjects[0].contains("Subject: Welcome to Acme") && subjects[1].contains("Subject: First order?")
    );
    // The profile changing again does not start the sequence again.
    put_customer(
        &mut router,
        "newbie",
        &[("signed_up", "2026-12-02"), ("email", "new@example.com"), ("first_order", "yes")],
    )
    .await?;
    settled(&bus).await?;
    let all = events(&bus, "switchboard.events.onboarding.>").await?;
    assert_eq!(all.len(), 3);
    cluster.stop().await
}

/// The survey link sent into a conversation.
async fn survey_link(bus: &Bus, conversation_id: &str) -> anyhow::Result<String> {
    let reply_id = key_id(&format!("survey/{conversation_id}")).to_string();
    let (text, _) = wait_for_event(bus, "switchboard.events.delivery.>", |event| match &event.body {
        Some(Body::ReplyDelivered(d)) if d.reply_id == reply_id => Some(d.text.clone()),
        _ => None,
    })
    .await?;
    let start = text.find("http").ok_or_else(|| anyhow::anyhow!("no link in {text:?}"))?;
    Ok(text[start..].split_whitespace().next().unwrap_or_default().to_string())
}

async fn rate(link: &str, score: u32) -> anyhow::Result<u16> {
    let body = serde_json::json!({"score": score});
    Ok(reqwest::Client::new().post(link).json(&body).send().await?.status().as_u16())
}

#[tokio::test]
async fn a_closed_conversation_gets_one_survey_and_its_rating_reaches_analytics() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let mut config = backing.config();
    config.channels.survey_secret = Some(SECRET.into());
    config.notifier.survey_secret = Some(SECRET.into());
    config.notifier.survey_delay = Duration::from_secs(1);
    let cluster = Cluster::start(config).await?;
    let bus = backing.bus().await?;
    let mut router = RouterClient::new(cluster.channel().await?);
    let mut desk = DeskClient::new(cluster.channel().await?);
    let rules = format!("pending: {{close_after: 2s, last_notice_before: 1s}}\n{PASSWORD_RULES}");
    router.publish_rules(PublishRulesRequest { text: rules, wait: true }).await?;
    let activity = |conversation_id: &str, activity: AgentActivity| RecordAgentActivityRequest {
        conversation_id: conversation_id.into(),
        activity: activity.into(),
    };

    // A person handled this one: an agent resolves it, twice by mistake; one survey.
    let human = submit(&cluster, message("c-h", "My invoice is wrong", "h-1")).await?;
    wait_for_event(&bus, "switchboard.events.routing.>", |event| {
        matches!(&event.body, Some(Body::MessageRouted(r)) if r.conversation_id == human.conversation_id)
            .then_some(())
    })
    .await?;
    desk.record_agent_activity(activity(&human.conversation_id, AgentActivity::Resolved)).await?;
    desk.record_agent_activity(activity(&human.conversation_id, AgentActivity::Resolved)).await?;
    let link = survey_link(&bus, &human.conversation_id).await?;
    let page = reqwest::get(&link).await?;
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().await?.contains("How did we do?"));
    assert_eq!(rate(&link, 5).await?, 201);
    assert_eq!(rate(&link, 1).await?, 409, "once per conversation");
    assert_eq!(rate(&format!("{link}x"), 1).await?, 404, "a forged link");
    assert_eq!(rate(&link.replace(&human.conversation_id, "other"), 1).await?, 404);

    // The bot handled this one; it closes after waiting on the customer.
    let bot = submit(&cluster, message("c-b", "I forgot my password", "b-1")).await?;
    reply_delivered(&bus, &format!("reply/{}", bot.message_id)).await?;
    desk.record_agent_activity(activity(&bot.conversation_id, AgentActivity::WaitingOnCustomer)).await?;
    let bot_link = survey_link(&bus, &bot.conversation_id).await?;
    assert_eq!(rate(&bot_link, 2).await?, 201);

    let (_, sequence) = wait_for_event(&bus, "switchboard.events.survey.>", |event| match &event.body {
        Some(Body::SurveyAnswered(a)) if a.conversation_id == bot.conversation_id => Some(()),
        _ => None,
    })
    .await?;
    let all = events(&bus, "switchboard.events.survey.>").await?;
    assert_eq!(count(&all, |b| matches!(b, Body::SurveySent(_))), 2, "one survey per conversation");
    let mut analytics = AnalyticsClient::new(cluster.channel().await?);
    let counts = analytics
        .get_counts(GetCountsRequest { metric: String::new(), min_sequence: sequence })
        .await?
        .into_inner();
    let value = |metric: &str, by: &str| {
        counts.counts.iter().filter(|c| c.metric == metric && c.intent == by).map(|c| c.value).sum::<u64>()
    };
    assert_eq!((value("surveys_answered", "human"), value("survey_score_total", "human")), (1, 5));
    assert_eq!((value("surveys_answered", "bot"), value("survey_score_total", "bot")), (1, 2));
    assert_eq!((value("surveys_satisfied", "human"), value("surveys_satisfied", "bot")), (1, 0));
    assert_eq!(value("conversations_closed", "bot"), 1);
    cluster.stop().await
}

#[tokio::test]
async fn an_nps_survey_asks_zero_to_ten_and_counts_promoters() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let mut config = backing.config();
    config.channels.survey_secret = Some(SECRET.into());
    config.notifier.survey_secret = Some(SECRET.into());
    config.notifier.survey_delay = Duration::from_secs(0);
    config.notifier.survey_kind = switchboard_notifier::SurveyKind::Nps;
    let cluster = Cluster::start(config).await?;
    let bus = backing.bus().await?;
    let mut desk = DeskClient::new(cluster.channel().await?);
    let sent = submit(&cluster, message("c-n", "My invoice is wrong", "n-1")).await?;
    wait_for_event(&bus, "switchboard.events.routing.>", |event| {
        matches!(&event.body, Some(Body::MessageRouted(r)) if r.conversation_id == sent.conversation_id)
            .then_some(())
    })
    .await?;
    let resolved = RecordAgentActivityRequest {
        conversation_id: sent.conversation_id.clone(),
        activity: AgentActivity::Resolved.into(),
    };
    desk.record_agent_activity(resolved).await?;
    let link = survey_link(&bus, &sent.conversation_id).await?;
    let page = reqwest::get(&link).await?.text().await?;
    assert!(
        page.contains("recommend")
            && page.contains("<button>0</button>")
            && page.contains("<button>10</button>")
    );
    assert_eq!(rate(&link, 11).await?, 400, "out of the scale");
    assert_eq!(rate(&link, 10).await?, 201);
    let (_, sequence) = wait_for_event(&bus, "switchboard.events.survey.>", |event| match &event.body {
        Some(Body::SurveyAnswered(a)) if a.kind == "nps" && a.score == 10 => Some(()),
        _ => None,
    })
    .await?;
    let mut analytics = AnalyticsClient::new(cluster.channel().await?);
    let request = GetCountsRequest { metric: "nps_promoters".into(), min_sequence: sequence };
    let counts = analytics.get_counts(request).await?.into_inner().counts;
    assert_eq!(counts.iter().filter(|c| c.intent == "human").map(|c| c.value).sum::<u64>(), 1);
    cluster.stop().await
}

/// The company's systems report outages, device alerts and accounts through the API with a
/// `service` token: each lands in the token's tenant only, reaches that tenant's customers, and a
/// malformed report is refused with the reason.
#[tokio::test]
async fn outages_device_alerts_and_accounts_come_in_through_the_api_for_the_token_s_tenant()
-> anyhow::Result<()> {
    use switchboard_auth::Role;
    use switchboard_proto::{
        events::v1::AccountUpdated,
        intake::v1::intake_client::IntakeClient,
        notifier::v1::{DeclareOutageRequest, RaiseDeviceAlertRequest, notifier_client::NotifierClient},
        router::v1::UpdateAccountRequest,
    };
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let bus = backing.bus().await?;
    for tenant in ["acme", "globex"] {
        let service = cluster.channel_as(tenant, Role::Service, "systems").await?;
        put_customer(&mut RouterClient::new(service.clone()), "c-1", &[("region", "north")]).await?;
        let sent = IntakeClient::new(service).submit_message(message("c-1", "Hello there", "hello")).await?;
        let conversation = sent.into_inner().conversation_id;
        wait_for_event(&bus, "switchboard.events.routing.>", |event| {
            matches!(&event.body, Some(Body::MessageRouted(r)) if r.conversation_id == conversation)
                .then_some(())
        })
        .await?;
    }
    let acme = cluster.channel_as("acme", Role::Service, "systems").await?;
    let mut notifier = NotifierClient::new(acme.clone());

    let outage = |status: &str| OutageDeclared {
        outage_id: "out-1".into(),
        title: "Power cut in the north".into(),
        affected: [("region".to_string(), "north".to_string())].into(),
        status: status.into(),
        ..Default::default()
    };
    let refused = notifier
        .declare_outage(DeclareOutageRequest { outage: Some(outage("over")) })
        .await
        .expect_err("an unknown status");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(refused.message().contains("started or resolved"), "{refused:?}");
    notifier.declare_outage(DeclareOutageRequest { outage: Some(outage("started")) }).await?;
    let told = |tenant: &'static str, words: &'static str| {
        let bus = bus.clone();
        async move {
            let filter = format!("switchboard.events.reply.{tenant}.>");
            wait_for_event(&bus, &filter, move |event| match &event.body {
                Some(Body::ReplyRequested(r)) if r.customer_id == "c-1" && r.text.contains(words) => Some(()),
                _ => None,
            })
            .await
        }
    };
    told("acme", "Power cut in the north").await?;

    let alert = DeviceAlertRaised {
        alert_id: "alert-1".into(),
        device_id: "INV-7".into(),
        customer_id: "c-1".into(),
        device_kind: "solar inverter".into(),
        problem: "output dropped to 40% of the expected".into(),
    };
    let unnamed = DeviceAlertRaised { device_id: String::new(), ..alert.clone() };
    let refused = notifier
        .raise_device_alert(RaiseDeviceAlertRequest { alert: Some(unnamed) })
        .await
        .expect_err("no device id");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    notifier.raise_device_alert(RaiseDeviceAlertRequest { alert: Some(alert) }).await?;
    told("acme", "INV-7").await?;

    let account = AccountUpdated {
        customer_id: "c-1".into(),
        plan: "Unlimited".into(),
        currency: "EUR".into(),
        balance_minor: 4200,
        ..Default::default()
    };
    let mut router = RouterClient::new(acme);
    let with_pin = AccountUpdated { pin_hash: "1234".into(), ..account.clone() };
    let request =
        |account| UpdateAccountRequest { account_id: "acct-1".into(), account: Some(account), wait: true };
    let refused = router.update_account(request(with_pin)).await.expect_err("a PIN, not its hash");
    assert!(refused.message().contains("never the PIN"), "{refused:?}");
    router.update_account(request(account)).await?;

    // Globex, with the same customer in the same region, heard of none of it.
    settled(&bus).await?;
    let globex = events(&bus, "switchboard.events.>")
        .await?
        .into_iter()
        .filter(|event| event.tenant == "globex")
        .filter(|event| {
            matches!(
                &event.body,
                Some(Body::OutageDeclared(_) | Body::DeviceAlertRaised(_) | Body::AccountUpdated(_))
            ) || matches!(&event.body, Some(Body::ReplyRequested(r)) if r.text.contains("Power cut") || r.text.contains("INV-7"))
        })
        .count();
    assert_eq!(globex, 0, "globex got acme's reports");
    cluster.stop().await
}
