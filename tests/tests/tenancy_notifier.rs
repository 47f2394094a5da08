//! The notifier with two tenants, "acme" and "globex", whose customer "c-1", order "A-1", alert
//! "alert-1" and conversation "conv-1" have the same ids: what one tenant's business events ask
//! for reaches that tenant's customer only (checked at the real SMTP sink and SMS gateway), survey
//! links name their tenant and are answered into it, and the default tenant works as before.
//!
//! The customers' messages, profiles and closings are the events intake and the router publish
//! (both still serve the default tenant only over gRPC), published for each tenant on the real bus.

mod common;

use std::time::Duration;

use common::{
    Backing, Cluster, WAIT, cluster_with_mail,
    peers::{Inbox, Received, receiver},
    wait_for_event,
};
use mail_parser::MessageParser;
use prost::Message as _;
use switchboard_auth::Role;
use switchboard_bus::{Bus, DEFAULT_TENANT, Draft, INBOUND_STREAM, key_id};
use switchboard_proto::{
    analytics::v1::{Count, GetCountsRequest, analytics_client::AnalyticsClient},
    events::v1::{
        Channel, ConversationClosed, CustomerProfileUpdated, DeviceAlertRaised, InboundMessage,
        MessageReceived, OrderStatus, OrderUpdated, OutageDeclared, event::Body,
    },
    notifier::v1::{ListDeliveriesRequest, notifier_client::NotifierClient},
};
use switchboard_server::Service;
use switchboard_testkit::SmtpSink;

const SECRET: &str = "whsec-tenancy-tests";

/// Notifier, analytics and channels (survey pages) mailing to a fresh sink and texting through a
/// real SMS gateway receiver; nothing else reacts to the events the tests publish.
async fn cluster(backing: &Backing) -> anyhow::Result<(Cluster, SmtpSink, Inbox)> {
    let (gateway, texts) = receiver().await?;
    let (cluster, sink) = cluster_with_mail(backing, |config| {
        config.services = vec![Service::Notifier, Service::Analytics, Service::Channels];
        config.notifier.gateways = [("sms".to_string(), format!("{gateway}/sms"))].into();
        config.notifier.survey_secret = Some(SECRET.into());
        config.channels.survey_secret = Some(SECRET.into());
        config.notifier.survey_delay = Duration::ZERO;
    })
    .await?;
    Ok((cluster, sink, texts))
}

/// Publishes `body` as `tenant`'s event of `aggregate_id`.
async fn publish(bus: &Bus, tenant: &str, aggregate_id: &str, body: Body) -> anyhow::Result<()> {
    bus.publish(&Draft::new(tenant, aggregate_id, body).build()?).await?;
    Ok(())
}

fn profile(customer: &str, attributes: &[(&str, &str)]) -> Body {
    Body::CustomerProfileUpdated(CustomerProfileUpdated {
        customer_id: customer.into(),
        attributes: attributes.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect(),
        ..Default::default()
    })
}

fn wrote(conversation: &str, customer: &str, channel: Channel) -> Body {
    Body::MessageReceived(MessageReceived {
        conversation_id: conversation.into(),
        message_id: format!("{conversation}-m1"),
        customer_id: customer.into(),
        channel: channel.into(),
        text: "Hello".into(),
        starts_conversation: true,
        ..Default::default()
    })
}

fn shipped(tracking_number: &str) -> Body {
    Body::OrderUpdated(OrderUpdated {
        order_id: "A-1".into(),
        customer_id: "c-1".into(),
        status: OrderStatus::Shipped.into(),
        carrier: "DHL".into(),
        tracking_number: tracking_number.into(),
        ..Default::default()
    })
}

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

/// Waits until `tenant`'s email notice whose text contains `text` is delivered; its id.
async fn mailed(bus: &Bus, tenant: &str, text: &str) -> anyhow::Result<String> {
    let (id, _) = wait_for_event(bus, "switchboard.events.notification.>", |event| match &event.body {
        Some(Body::NotificationRequested(n)) if event.tenant == tenant && n.text.contains(text) => {
            Some(n.notification_id.clone())
        }
        _ => None,
    })
    .await?;
    wait_for_event(bus, "switchboard.events.delivery.>", |event| match &event.body {
        Some(Body::NotificationDelivered(d)) if event.tenant == tenant && d.source_id == id => Some(()),
        _ => None,
    })
    .await?;
    Ok(id)
}

/// Waits until the SMS gateway is sent a text containing `text`.
async fn texted(texts: &Inbox, text: &str) -> anyhow::Result<serde_json::Value> {
    let wanted = |r: &Received| r.json()["text"].as_str().is_some_and(|t| t.contains(text));
    Ok(common::peers::received(texts, "/sms", wanted).await?.json())
}

/// Each mail in the sink as its recipient and its decoded subject and text.
fn mails(sink: &SmtpSink) -> anyhow::Result<Vec<(String, String)>> {
    let mut all = Vec::new();
    for raw in sink.messages()? {
        let mail =
            MessageParser::default().parse(&raw).ok_or_else(|| anyhow::anyhow!("not a MIME message"))?;
        let to = mail.to().and_then(|to| to.first()).and_then(|a| a.address()).unwrap_or_default();
        let text =
            format!("{}\n{}", mail.subject().unwrap_or_default(), mail.body_text(0).unwrap_or_default());
        all.push((to.to_string(), text));
    }
    Ok(all)
}

/// The recipients of the mails that say `text`.
fn mailed_to(sink: &SmtpSink, text: &str) -> anyhow::Result<Vec<String>> {
    Ok(mails(sink)?.into_iter().filter(|(_, said)| said.contains(text)).map(|(to, _)| to).collect())
}

/// The texts sent to the gateway that contain `text`.
fn texts_with(texts: &Inbox, text: &str) -> Vec<serde_json::Value> {
    let all = texts.borrow().iter().map(Received::json).collect::<Vec<_>>();
    all.into_iter().filter(|t| t["text"].as_str().is_some_and(|x| x.contains(text))).collect()
}

/// The tenants of the device-alert tickets handed to intake (the inbound stream, in order).
async fn ticket_tenants(bus: &Bus, idempotency_key: &str) -> anyhow::Result<Vec<String>> {
    use async_nats::jetstream::stream::DirectGetErrorKind;
    let stream = bus.jetstream().get_stream(INBOUND_STREAM).await?;
    let (mut tenants, mut from) = (Vec::new(), 1);
    loop {
        match stream.direct_get_next_for_subject("switchboard.inbound.api", Some(from)).await {
            Ok(message) => {
                from = message.sequence + 1;
                let ticket = InboundMessage::decode(message.payload.as_ref())?;
                if ticket.idempotency_key == idempotency_key {
                    tenants.push(ticket.tenant);
                }
            }
            // In the order the notifier handled them, which the two tenants' alerts do not fix.
            Err(error) if error.kind() == DirectGetErrorKind::NotFound => {
                tenants.sort();
                return Ok(tenants);
            }
            Err(error) => return Err(error.into()),
        }
    }
}

#[tokio::test]
async fn order_updates_outages_and_device_alerts_reach_only_their_own_tenants_customer() -> anyhow::Result<()>
{
    // Given customer c-1 in three tenants, all in region north with an email address each; acme's
    // c-1 also writes by SMS in conversation conv-1.
    let backing = Backing::start().await?;
    let (cluster, sink, texts) = cluster(&backing).await?;
    let bus = backing.bus().await?;
    for tenant in ["acme", "globex", DEFAULT_TENANT] {
        let email = format!("c1@{tenant}.example");
        publish(&bus, tenant, "c-1", profile("c-1", &[("email", &email), ("region", "north")])).await?;
    }
    publish(&bus, "acme", "conv-1", wrote("conv-1", "c-1", Channel::Sms)).await?;

    // When acme, globex and the default tenant each ship their order A-1 to their c-1
    publish(&bus, "acme", "A-1", shipped("ACME-TRACK")).await?;
    publish(&bus, "globex", "A-1", shipped("GLOBEX-TRACK")).await?;
    publish(&bus, DEFAULT_TENANT, "A-1", shipped("DEFAULT-TRACK")).await?;

    // Then acme's c-1 is texted in acme's conversation, globex's and the default tenant's c-1 are
    // mailed at their own addresses, and nobody hears another tenant's update.
    let acme_text = texted(&texts, "ACME-TRACK").await?;
    assert_eq!(
        (
            acme_text["tenant"].as_str(),
            acme_text["customer_id"].as_str(),
            acme_text["conversation_id"].as_str()
        ),
        (Some("acme"), Some("c-1"), Some("conv-1"))
    );
    mailed(&bus, "globex", "GLOBEX-TRACK").await?;
    let default_id = mailed(&bus, DEFAULT_TENANT, "DEFAULT-TRACK").await?;
    assert_eq!(default_id, key_id("order/A-1/shipped").to_string(), "the default tenant's ids are as before");
    settled(&bus).await?;
    assert_eq!(mailed_to(&sink, "GLOBEX-TRACK")?, ["c1@globex.example"]);
    assert_eq!(mailed_to(&sink, "DEFAULT-TRACK")?, ["c1@default.example"]);
    assert!(mailed_to(&sink, "ACME-TRACK")?.is_empty());
    assert!(mails(&sink)?.iter().all(|(to, _)| to != "c1@acme.example"), "acme's c-1 is texted");
    assert!(texts_with(&texts, "GLOBEX-TRACK").is_empty() && texts_with(&texts, "DEFAULT-TRACK").is_empty());
    assert_eq!(texts_with(&texts, "ACME-TRACK").len(), 1);

    // When acme declares an outage in region north
    let outage = OutageDeclared {
        outage_id: "out-1".into(),
        title: "Acme power cut".into(),
        affected: [("region".to_string(), "north".to_string())].into(),
        status: "started".into(),
        ..Default::default()
    };
    publish(&bus, "acme", "out-1", Body::OutageDeclared(outage)).await?;

    // Then acme's c-1 is told, and the other tenants' c-1 in region north are not.
    assert_eq!(texted(&texts, "Acme power cut").await?["tenant"], "acme");
    settled(&bus).await?;
    assert!(mailed_to(&sink, "Acme power cut")?.is_empty());
    assert_eq!(texts_with(&texts, "Acme power cut").len(), 1);

    // When acme and globex each raise alert alert-1 for their c-1's device
    for (tenant, device) in [("acme", "INV-ACME"), ("globex", "INV-GLOBEX")] {
        let alert = DeviceAlertRaised {
            alert_id: "alert-1".into(),
            device_id: device.into(),
            customer_id: "c-1".into(),
            device_kind: "solar inverter".into(),
            problem: "output dropped".into(),
        };
        publish(&bus, tenant, device, Body::DeviceAlertRaised(alert)).await?;
    }

    // Then each tenant's c-1 hears of its own device only, and each tenant gets its own ticket.
    assert_eq!(texted(&texts, "INV-ACME").await?["tenant"], "acme");
    mailed(&bus, "globex", "INV-GLOBEX").await?;
    settled(&bus).await?;
    assert_eq!(mailed_to(&sink, "INV-GLOBEX")?, ["c1@globex.example"]);
    assert!(mailed_to(&sink, "INV-ACME")?.is_empty() && texts_with(&texts, "INV-GLOBEX").is_empty());
    assert_eq!(ticket_tenants(&bus, "device-alert:alert-1").await?, ["acme", "globex"]);
    cluster.stop().await
}

fn closed(handled_by: &str) -> Body {
    Body::ConversationClosed(ConversationClosed {
        conversation_id: "conv-1".into(),
        reason: "resolved".into(),
        customer_id: "c-1".into(),
        channel: Channel::Web.into(),
        handled_by: handled_by.into(),
    })
}

/// Waits for the survey reply delivered in `tenant`'s conv-1: its link and stream sequence.
async fn survey_link(bus: &Bus, tenant: &str) -> anyhow::Result<(String, u64)> {
    let (text, sequence) = wait_for_event(bus, "switchboard.events.delivery.>", |event| match &event.body {
        Some(Body::ReplyDelivered(d))
            if event.tenant == tenant && d.conversation_id == "conv-1" && d.text.contains("/surveys/") =>
        {
            Some(d.text.clone())
        }
        _ => None,
    })
    .await?;
    let start = text.find("http").ok_or_else(|| anyhow::anyhow!("no link in {text:?}"))?;
    Ok((text[start..].split_whitespace().next().unwrap_or_default().to_string(), sequence))
}

async fn rate(link: &str, score: u32) -> anyhow::Result<u16> {
    let body = serde_json::json!({"score": score});
    Ok(reqwest::Client::new().post(link).json(&body).send().await?.status().as_u16())
}

/// `tenant`'s survey answer as (tenant of the event, score, handled by), and its sequence.
async fn answer(bus: &Bus, tenant: &str) -> anyhow::Result<((String, u32, String), u64)> {
    wait_for_event(bus, "switchboard.events.survey.>", |event| match &event.body {
        Some(Body::SurveyAnswered(a)) if event.tenant == tenant => {
            Some((event.tenant.clone(), a.score, a.handled_by.clone()))
        }
        _ => None,
    })
    .await
}

async fn deliveries_of(cluster: &Cluster, tenant: &str, sequence: u64) -> anyhow::Result<Vec<String>> {
    let mut notifier = NotifierClient::new(cluster.channel_as(tenant, Role::Supervisor, "sam").await?);
    let request = ListDeliveriesRequest { conversation_id: "conv-1".into(), min_sequence: sequence };
    let deliveries = notifier.list_deliveries(request).await?.into_inner().deliveries;
    Ok(deliveries.into_iter().map(|d| d.reply_id).collect())
}

async fn counts_of(cluster: &Cluster, tenant: &str, sequence: u64) -> anyhow::Result<Vec<Count>> {
    let mut analytics = AnalyticsClient::new(cluster.channel_as(tenant, Role::Supervisor, "sam").await?);
    let request = GetCountsRequest { metric: String::new(), min_sequence: sequence };
    Ok(analytics.get_counts(request).await?.into_inner().counts)
}

/// (surveys sent, answered, score total) handled by `by`.
fn surveys(counts: &[Count], by: &str) -> (u64, u64, u64) {
    let value =
        |metric: &str| counts.iter().filter(|c| c.metric == metric && c.intent == by).map(|c| c.value).sum();
    (value("surveys_sent"), value("surveys_answered"), value("survey_score_total"))
}

#[tokio::test]
async fn survey_links_name_their_tenant_and_are_answered_into_it() -> anyhow::Result<()> {
    // Given acme's and globex's customer c-1 each wrote in their conversation conv-1, closed by the
    // bot at acme and by a person at globex.
    let backing = Backing::start().await?;
    let (cluster, _sink, _texts) = cluster(&backing).await?;
    let bus = backing.bus().await?;
    for (tenant, handled_by) in [("acme", "bot"), ("globex", "human")] {
        publish(&bus, tenant, "conv-1", wrote("conv-1", "c-1", Channel::Web)).await?;
        publish(&bus, tenant, "conv-1", closed(handled_by)).await?;
    }

    // When each gets its survey
    let (acme_link, acme_sequence) = survey_link(&bus, "acme").await?;
    let (globex_link, globex_sequence) = survey_link(&bus, "globex").await?;

    // Then each link names its tenant's conversation, and is answered once, into that tenant.
    assert!(acme_link.contains("/surveys/acme.conv-1."), "{acme_link}");
    assert!(globex_link.contains("/surveys/globex.conv-1."), "{globex_link}");
    assert_eq!(rate(&acme_link, 5).await?, 201);
    assert_eq!(rate(&acme_link, 1).await?, 409, "acme's conv-1 is rated");
    assert_eq!(rate(&globex_link, 2).await?, 201, "globex's conv-1 is not acme's");
    let (acme_answer, acme_answered) = answer(&bus, "acme").await?;
    let (globex_answer, globex_answered) = answer(&bus, "globex").await?;
    assert_eq!(acme_answer, ("acme".to_string(), 5, "bot".to_string()));
    assert_eq!(globex_answer, ("globex".to_string(), 2, "human".to_string()));

    // And each tenant's deliveries and survey figures are its own; the default tenant has none.
    let answered = acme_answered.max(globex_answered);
    let seen = acme_sequence.max(globex_sequence);
    let (acme_deliveries, globex_deliveries) =
        (deliveries_of(&cluster, "acme", seen).await?, deliveries_of(&cluster, "globex", seen).await?);
    assert!(
        acme_deliveries.len() == 1 && globex_deliveries.len() == 1,
        "{acme_deliveries:?} {globex_deliveries:?}"
    );
    assert_ne!(acme_deliveries, globex_deliveries);
    assert!(deliveries_of(&cluster, DEFAULT_TENANT, seen).await?.is_empty());
    let acme = counts_of(&cluster, "acme", answered).await?;
    let globex = counts_of(&cluster, "globex", answered).await?;
    assert_eq!((surveys(&acme, "bot"), surveys(&acme, "human")), ((1, 1, 5), (0, 0, 0)));
    assert_eq!((surveys(&globex, "bot"), surveys(&globex, "human")), ((0, 0, 0), (1, 1, 2)));
    let default = counts_of(&cluster, DEFAULT_TENANT, answered).await?;
    assert!(default.iter().all(|c| !c.metric.starts_with("survey")), "{default:?}");
    cluster.stop().await
}
