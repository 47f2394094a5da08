//! Two tenants on one cluster with the same ids everywhere (customer `c-1`, order `1001`, article
//! `shipping-times`), end to end: through the chat widget and the API, intake, the classifier,
//! the router, the knowledge base and its search index, the notifier and analytics. Each
//! tenant's customers are answered from its own data, each tenant's tokens see and change only
//! its own, and analytics never mixes the two. (Each service's own tenancy tests go deeper:
//! tenancy_router, tenancy_knowledge, tenancy_notifier, tenancy_analytics, tenancy_channels.)

mod common;

use common::{Api, Backing, Cluster, wait_for_event};
use futures::SinkExt as _;
use hmac::{Hmac, Mac as _};
use switchboard_auth::Role;
use switchboard_bus::{Bus, Draft};
use switchboard_channels::tenants::TenantChannels;
use switchboard_proto::{
    analytics::v1::{GetCountsRequest, analytics_client::AnalyticsClient},
    desk::v1::{AgentActivity, RecordAgentActivityRequest, desk_client::DeskClient},
    events::v1::{Channel, OrderStatus, OrderUpdated, event::Body},
    intake::v1::{
        GetConversationRequest, SendAgentReplyRequest, SubmitMessageRequest, intake_client::IntakeClient,
    },
    knowledge::v1::{
        ArchiveArticleRequest, GetArticleRequest, PublishArticleRequest, SearchRequest, SuggestRequest,
        knowledge_client::KnowledgeClient,
    },
    notifier::v1::{ListDeliveriesRequest, notifier_client::NotifierClient},
    router::v1::{
        Customer, GetCustomerRequest, PublishRulesRequest, PutCustomerRequest, router_client::RouterClient,
    },
};
use tonic::Code;

const TENANTS: [&str; 2] = ["acme", "globex"];
const IDENTITY_SECRET: &str = "identity-secret-of-acme-0123456789abcdef";

/// Orders are answered by their playbook, shipping questions from the knowledge base.
const RULES: &str = r#"
rules:
  - name: orders
    when: {keywords: [order]}
    then: {action: answer, playbook: order_status, queue: orders}
  - name: shipping
    when: {keywords: [shipping]}
    then: {action: answer, queue: general}
  - name: everything-else
    then: {action: queue, queue: general}
"#;

/// What differs between the two tenants' data of the same ids.
fn carrier(tenant: &str) -> &'static str {
    if tenant == "acme" { "DHL" } else { "UPS" }
}

fn shipping_days(tenant: &str) -> &'static str {
    if tenant == "acme" { "2 working days" } else { "9 working days" }
}

async fn cluster(backing: &Backing) -> anyhow::Result<Cluster> {
    let mut config = backing.config();
    let acme = TenantChannels {
        chat_sites: [("acme-shop".to_string(), "*".to_string())].into(),
        chat_identity_secrets: [("acme-shop".to_string(), IDENTITY_SECRET.to_string())].into(),
        email: vec!["support@acme.example".into()],
        ..Default::default()
    };
    let globex = TenantChannels {
        chat_sites: [("globex-shop".to_string(), "*".to_string())].into(),
        email: vec!["support@globex.example".into()],
        ..Default::default()
    };
    config.channels.tenants = [("acme".to_string(), acme), ("globex".to_string(), globex)].into();
    Cluster::start(config).await
}

/// Each tenant's rules, article, customer and order, all of the same ids.
async fn given_each_tenants_data(cluster: &Cluster, bus: &Bus) -> anyhow::Result<()> {
    for tenant in TENANTS {
        let admin = cluster.channel_as(tenant, Role::Admin, "owner").await?;
        RouterClient::new(admin.clone())
            .publish_rules(PublishRulesRequest { text: RULES.into(), wait: true })
            .await?;
        let article = PublishArticleRequest {
            article_id: "shipping-times".into(),
            title: "How long does shipping take?".into(),
            body: format!("Every order ships within {}.", shipping_days(tenant)),
            locale: "en".into(),
            wait: true,
            ..Default::default()
        };
        KnowledgeClient::new(admin.clone()).publish_article(article).await?;
        let customer =
            Customer { customer_id: "c-1".into(), tier: format!("{tenant}-tier"), ..Default::default() };
        RouterClient::new(admin)
            .put_customer(PutCustomerRequest { customer: Some(customer), wait: true })
            .await?;
        let order = OrderUpdated {
            order_id: "1001".into(),
            customer_id: "c-1".into(),
            status: OrderStatus::Shipped.into(),
            carrier: carrier(tenant).into(),
            tracking_url: format!("https://track.example/{tenant}"),
            ..Default::default()
        };
        bus.publish(&Draft::new(tenant, "1001", Body::OrderUpdated(order)).build()?).await?;
    }
    // Only acme has this article: globex never sees it.
    let acme = cluster.channel_as("acme", Role::Admin, "owner").await?;
    let only_acme = PublishArticleRequest {
        article_id: "gift-wrapping".into(),
        title: "Gift wrapping".into(),
        body: "Acme wraps gifts in recycled paper.".into(),
        locale: "en".into(),
        wait: true,
        ..Default::default()
    };
    KnowledgeClient::new(acme).publish_article(only_acme).await?;
    Ok(())
}

/// The bot's reply to a message of `tenant`'s.
async fn reply_in(bus: &Bus, tenant: &str, message_id: &str) -> anyhow::Result<String> {
    let filter = format!("switchboard.events.reply.{tenant}.>");
    let (text, _) = wait_for_event(bus, &filter, |event| match &event.body {
        Some(Body::ReplyRequested(reply)) if reply.in_reply_to == message_id => Some(reply.text.clone()),
        _ => None,
    })
    .await?;
    Ok(text)
}

async fn ask(service: &Api, text: &str, key: &str) -> anyhow::Result<(String, String)> {
    let request = SubmitMessageRequest {
        channel: Channel::Api.into(),
        customer_id: "c-1".into(),
        text: text.into(),
        idempotency_key: key.into(),
        customer_verified: true,
        ..Default::default()
    };
    let sent = IntakeClient::new(service.clone()).submit_message(request).await?.into_inner();
    Ok((sent.conversation_id, sent.message_id))
}

#[tokio::test]
async fn two_tenants_with_the_same_ids_each_see_and_change_only_their_own() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = cluster(&backing).await?;
    let bus = backing.bus().await?;
    given_each_tenants_data(&cluster, &bus).await?;

    // When each tenant's c-1 asks, over the API, with the same idempotency keys.
    let mut conversations = Vec::new();
    for tenant in TENANTS {
        let service = cluster.channel_as(tenant, Role::Service, "crm").await?;
        let (conversation, order_question) = ask(&service, "Where is my order 1001?", "q-1").await?;
        let (_, shipping_question) = ask(&service, "How long does shipping take?", "q-2").await?;
        // Then each is told its own order and its own article, never the other's.
        let order = reply_in(&bus, tenant, &order_question).await?;
        assert!(
            order.contains(carrier(tenant)) && order.contains(&format!("track.example/{tenant}")),
            "{tenant}: {order}"
        );
        let shipping = reply_in(&bus, tenant, &shipping_question).await?;
        assert!(shipping.contains(shipping_days(tenant)), "{tenant}: {shipping}");
        conversations.push((tenant, conversation));
    }

    // And on the widget: acme's signed-in c-1 is acme's customer, told acme's order.
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(IDENTITY_SECRET.as_bytes())?;
    mac.update(b"c-1");
    let hash = hex::encode(mac.finalize().into_bytes());
    let url = format!("ws://{}/chat/ws?site=acme-shop&visitor=v-1&user=c-1&user_hash={hash}", cluster.http);
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await?;
    let asked = r#"{"type":"message","id":"w-1","text":"Where is my order 1001?"}"#;
    socket.send(tokio_tungstenite::tungstenite::Message::text(asked)).await?;
    let (chat_message, _) =
        wait_for_event(&bus, "switchboard.events.conversation.acme.>", |event| match &event.body {
            Some(Body::MessageReceived(m)) if m.channel() == Channel::Web && m.customer_id == "c-1" => {
                Some(m.message_id.clone())
            }
            _ => None,
        })
        .await?;
    let told = reply_in(&bus, "acme", &chat_message).await?;
    assert!(told.contains("DHL") && !told.contains("UPS"), "{told}");
    let _ = socket.close(None).await;

    // And by email: the same sender and Message-ID to each tenant's address is each tenant's
    // message, answered from that tenant's own article.
    for tenant in TENANTS {
        each_tenant_answers_its_own_email(&cluster, &bus, tenant).await?;
    }

    // And every read of one tenant's token is of its own data only.
    let (acme_conversation, globex_conversation) = (&conversations[0].1, &conversations[1].1);
    each_token_reads_only_its_own(&cluster, acme_conversation, globex_conversation).await?;
    each_token_changes_only_its_own(&cluster, acme_conversation).await?;
    analytics_never_mixes_the_two(&cluster, &bus).await?;
    cluster.stop().await
}

async fn each_tenant_answers_its_own_email(cluster: &Cluster, bus: &Bus, tenant: &str) -> anyhow::Result<()> {
    let to = format!("support@{tenant}.example");
    let raw = format!(
        "From: pat@customer.example\r\nTo: {to}\r\nSubject: Shipping\r\nMessage-ID: <same@customer.example>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nHow long does shipping take?\r\n"
    );
    let (code, _) =
        common::peers::smtp_send(cluster.smtp, "pat@customer.example", &to, raw.as_bytes()).await?;
    assert_eq!(code, 250, "{tenant}");
    let filter = format!("switchboard.events.conversation.{tenant}.>");
    let (message_id, _) = wait_for_event(bus, &filter, |event| match &event.body {
        Some(Body::MessageReceived(m)) if m.channel() == Channel::Email => Some(m.message_id.clone()),
        _ => None,
    })
    .await?;
    let answer = reply_in(bus, tenant, &message_id).await?;
    let other = if tenant == "acme" { "globex" } else { "acme" };
    assert!(
        answer.contains(shipping_days(tenant)) && !answer.contains(shipping_days(other)),
        "{tenant}: {answer}"
    );
    Ok(())
}

async fn each_token_reads_only_its_own(cluster: &Cluster, acme: &str, globex: &str) -> anyhow::Result<()> {
    let globex_agent = cluster.channel_as("globex", Role::Supervisor, "gia").await?;
    let mut intake = IntakeClient::new(globex_agent.clone());
    let read = |id: &str| GetConversationRequest { conversation_id: id.into(), min_sequence: 0 };
    assert_eq!(intake.get_conversation(read(acme)).await.expect_err("acme's").code(), Code::NotFound);
    assert_eq!(intake.get_conversation(read(globex)).await?.into_inner().customer_id, "c-1");

    let mut router = RouterClient::new(globex_agent.clone());
    let customer = router.get_customer(GetCustomerRequest { customer_id: "c-1".into() }).await?.into_inner();
    assert_eq!(customer.tier, "globex-tier", "globex's own c-1");

    let mut knowledge = KnowledgeClient::new(globex_agent.clone());
    let article =
        knowledge.get_article(GetArticleRequest { article_id: "shipping-times".into(), version: 0 }).await?;
    assert!(article.into_inner().body.contains(shipping_days("globex")));
    let hidden =
        knowledge.get_article(GetArticleRequest { article_id: "gift-wrapping".into(), version: 0 }).await;
    assert_eq!(hidden.expect_err("acme's only").code(), Code::NotFound);
    let search =
        SearchRequest { query: "gift wrapping recycled paper".into(), limit: 10, ..Default::default() };
    let hits = knowledge.search(search).await?.into_inner().hits;
    assert!(hits.iter().all(|hit| hit.article_id != "gift-wrapping"), "{hits:?}");
    let suggest = SuggestRequest { prefix: "gift wra".into(), locale: String::new(), limit: 10 };
    let suggested = knowledge.suggest(suggest).await?.into_inner().suggestions;
    assert!(suggested.iter().all(|s| s.article_id != "gift-wrapping"), "{suggested:?}");

    let mut notifier = NotifierClient::new(globex_agent);
    let deliveries = |id: &str| ListDeliveriesRequest { conversation_id: id.into(), min_sequence: 0 };
    assert!(notifier.list_deliveries(deliveries(acme)).await?.into_inner().deliveries.is_empty());
    Ok(())
}

async fn each_token_changes_only_its_own(cluster: &Cluster, acme: &str) -> anyhow::Result<()> {
    let globex = cluster.channel_as("globex", Role::Admin, "owner").await?;
    let reply = SendAgentReplyRequest {
        conversation_id: acme.into(),
        agent_id: String::new(),
        text: "Hello from another company".into(),
        idempotency_key: "x-1".into(),
    };
    let refused = IntakeClient::new(globex.clone()).send_agent_reply(reply).await.expect_err("acme's");
    assert_eq!(refused.code(), Code::NotFound);
    let resolve =
        RecordAgentActivityRequest { conversation_id: acme.into(), activity: AgentActivity::Resolved.into() };
    let refused = DeskClient::new(globex.clone()).record_agent_activity(resolve).await.expect_err("acme's");
    assert_eq!(refused.code(), Code::NotFound);
    let archive = ArchiveArticleRequest { article_id: "gift-wrapping".into() };
    let refused = KnowledgeClient::new(globex).archive_article(archive).await.expect_err("acme's");
    assert_eq!(refused.code(), Code::NotFound);
    // Acme's article is still there for acme.
    let acme_admin = cluster.channel_as("acme", Role::Admin, "owner").await?;
    let kept = KnowledgeClient::new(acme_admin)
        .get_article(GetArticleRequest { article_id: "gift-wrapping".into(), version: 0 })
        .await?;
    assert!(kept.into_inner().body.contains("recycled paper"));
    Ok(())
}

/// Messages counted per tenant once analytics has every event so far: acme had four (two on
/// the API, one on the widget, one by email), globex three (two on the API, one by email), the
/// default tenant none.
async fn analytics_never_mixes_the_two(cluster: &Cluster, bus: &Bus) -> anyhow::Result<()> {
    let now = bus.last_sequence(switchboard_bus::EVENTS_STREAM).await?;
    for (tenant, expected) in [("acme", 4), ("globex", 3), ("default", 0)] {
        let supervisor = cluster.channel_as(tenant, Role::Supervisor, "sam").await?;
        let request = GetCountsRequest { metric: "messages".into(), min_sequence: now };
        let counts = AnalyticsClient::new(supervisor).get_counts(request).await?.into_inner().counts;
        let total: u64 = counts.iter().map(|count| count.value).sum();
        assert_eq!(total, expected, "{tenant}'s messages: {counts:?}");
    }
    Ok(())
}
