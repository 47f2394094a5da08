//! Analytics with two tenants, "acme" and "globex", whose conversations, customers and knowledge
//! queries have the same ids: each tenant's counts, content gaps and deflections are its own, and
//! the default tenant's figures are what they were.
//!
//! The traffic is the events intake, the router and knowledge publish (intake and the router still
//! serve the default tenant only over gRPC), published for each tenant on the real bus; the cluster
//! runs analytics alone, so nothing else reacts to them.

mod common;

use common::{Backing, Cluster};
use switchboard_auth::Role;
use switchboard_bus::{Bus, DEFAULT_TENANT, Draft};
use switchboard_proto::{
    analytics::v1::{
        ArticleDeflection, Count, GetCountsRequest, ListArticleDeflectionsRequest, ListContentGapsRequest,
        analytics_client::AnalyticsClient,
    },
    events::v1::{
        Channel, DeflectionRecorded, DeflectionResult, KnowledgeQueried, KnowledgeQueryKind, MessageReceived,
        MessageRouted, RouteAction, event::Body,
    },
};
use switchboard_server::Service;

async fn analytics_only(backing: &Backing) -> anyhow::Result<Cluster> {
    Cluster::start(switchboard_server::Config { services: vec![Service::Analytics], ..backing.config() })
        .await
}

/// Publishes `body` as `tenant`'s event of `aggregate_id`; its stream sequence.
async fn publish(bus: &Bus, tenant: &str, aggregate_id: &str, body: Body) -> anyhow::Result<u64> {
    Ok(bus.publish(&Draft::new(tenant, aggregate_id, body).build()?).await?.sequence)
}

/// A customer's web message in conversation `conversation`.
fn received(conversation: &str, customer: &str) -> Body {
    Body::MessageReceived(MessageReceived {
        conversation_id: conversation.into(),
        message_id: format!("{conversation}-m"),
        customer_id: customer.into(),
        channel: Channel::Web.into(),
        text: "Hello".into(),
        ..Default::default()
    })
}

/// The router's decision on conversation `conversation`.
fn routed(conversation: &str, action: RouteAction, intent: &str) -> Body {
    Body::MessageRouted(MessageRouted {
        conversation_id: conversation.into(),
        message_id: format!("{conversation}-m"),
        channel: Channel::Web.into(),
        action: action.into(),
        intent: intent.into(),
        ..Default::default()
    })
}

/// A supervisor's analytics client of `tenant`.
async fn analytics_of(cluster: &Cluster, tenant: &str) -> anyhow::Result<AnalyticsClient<common::Api>> {
    Ok(AnalyticsClient::new(cluster.channel_as(tenant, Role::Supervisor, "sam").await?))
}

/// Every count `tenant` sees once analytics has applied `sequence`.
async fn counts_of(cluster: &Cluster, tenant: &str, sequence: u64) -> anyhow::Result<Vec<Count>> {
    let request = GetCountsRequest { metric: String::new(), min_sequence: sequence };
    Ok(analytics_of(cluster, tenant).await?.get_counts(request).await?.into_inner().counts)
}

/// The value of `metric` for `intent` (summed over channels).
fn value(counts: &[Count], metric: &str, intent: &str) -> u64 {
    counts.iter().filter(|c| c.metric == metric && c.intent == intent).map(|c| c.value).sum()
}

#[tokio::test]
async fn each_tenants_message_and_escalation_counts_are_its_own_and_the_default_tenants_unchanged()
-> anyhow::Result<()> {
    // Given analytics and three tenants' traffic on the same conversation ids: acme 3 messages and
    // 1 escalation, globex 1 message and no escalation, the default tenant 2 messages and 1
    // automated reply.
    let backing = Backing::start().await?;
    let cluster = analytics_only(&backing).await?;
    let bus = backing.bus().await?;
    for conversation in ["conv-1", "conv-2", "conv-3"] {
        publish(&bus, "acme", conversation, received(conversation, "c-1")).await?;
    }
    publish(&bus, "acme", "conv-1", routed("conv-1", RouteAction::Escalate, "human_agent")).await?;
    publish(&bus, "acme", "conv-2", routed("conv-2", RouteAction::Queue, "billing_invoice")).await?;
    publish(&bus, "globex", "conv-1", received("conv-1", "c-1")).await?;
    publish(&bus, "globex", "conv-1", routed("conv-1", RouteAction::Queue, "billing_invoice")).await?;
    publish(&bus, DEFAULT_TENANT, "conv-1", received("conv-1", "c-1")).await?;
    publish(&bus, DEFAULT_TENANT, "conv-2", received("conv-2", "c-2")).await?;
    let last =
        publish(&bus, DEFAULT_TENANT, "conv-1", routed("conv-1", RouteAction::AutoReply, "order_status"))
            .await?;

    // When each tenant's supervisor asks for the counts
    let acme = counts_of(&cluster, "acme", last).await?;
    let globex = counts_of(&cluster, "globex", last).await?;
    let default = counts_of(&cluster, DEFAULT_TENANT, last).await?;

    // Then each sees its own traffic only.
    let shape = |counts: &[Count]| {
        (
            value(counts, "messages", ""),
            value(counts, "escalations", "human_agent"),
            value(counts, "queued", "billing_invoice"),
            value(counts, "automated_replies", "order_status"),
        )
    };
    assert_eq!(shape(&acme), (3, 1, 1, 0), "acme: {acme:?}");
    assert_eq!(shape(&globex), (1, 0, 1, 0), "globex: {globex:?}");
    assert_eq!(shape(&default), (2, 0, 0, 1), "default: {default:?}");
    let web = acme.iter().find(|c| c.metric == "messages").map(|c| c.channel.as_str());
    assert_eq!(web, Some("web"));
    cluster.stop().await
}

/// A knowledge query of `kind`: unanswered when it offers no articles.
fn queried(query_id: &str, kind: KnowledgeQueryKind, query: &str, articles: &[&str]) -> Body {
    Body::KnowledgeQueried(KnowledgeQueried {
        query_id: query_id.into(),
        kind: kind.into(),
        query: query.into(),
        locale: "en".into(),
        result_count: u32::try_from(articles.len()).unwrap_or(0),
        top_score: if articles.is_empty() { 0.0 } else { 0.9 },
        article_ids: articles.iter().map(|a| (*a).to_string()).collect(),
        answered: !articles.is_empty(),
        // Searches outside a conversation: each counts in its gap.
        conversation_id: String::new(),
        customer_id: String::new(),
    })
}

fn deflection_outcome(query_id: &str, result: DeflectionResult) -> Body {
    Body::DeflectionRecorded(DeflectionRecorded {
        query_id: query_id.into(),
        result: result.into(),
        article_id: "shipping".into(),
        ticket_id: String::new(),
    })
}

/// (wording, count) of each content gap `tenant` sees.
async fn gaps_of(cluster: &Cluster, tenant: &str, sequence: u64) -> anyhow::Result<Vec<(String, u64)>> {
    let request = ListContentGapsRequest { min_sequence: sequence, ..Default::default() };
    let gaps = analytics_of(cluster, tenant).await?.list_content_gaps(request).await?.into_inner().gaps;
    Ok(gaps.into_iter().map(|gap| (gap.wording, gap.count)).collect())
}

async fn deflections_of(
    cluster: &Cluster,
    tenant: &str,
    sequence: u64,
) -> anyhow::Result<Vec<ArticleDeflection>> {
    let request = ListArticleDeflectionsRequest { min_sequence: sequence, ..Default::default() };
    Ok(analytics_of(cluster, tenant).await?.list_article_deflections(request).await?.into_inner().articles)
}

#[tokio::test]
async fn content_gaps_and_deflections_with_the_same_query_ids_stay_with_their_tenant() -> anyhow::Result<()> {
    // Given acme and globex knowledge queries with the same ids: acme could not answer a question
    // twice and its deflection helped; globex could not answer another question and its
    // deflection, of the same id and article, ended in a ticket. The default tenant asked nothing.
    let backing = Backing::start().await?;
    let cluster = analytics_only(&backing).await?;
    let bus = backing.bus().await?;
    let search = KnowledgeQueryKind::Search;
    publish(&bus, "acme", "q-1", queried("q-1", search, "How do I cancel my subscription?", &[])).await?;
    publish(&bus, "acme", "q-2", queried("q-2", search, "cancelling subscriptions", &[])).await?;
    publish(&bus, "globex", "q-1", queried("q-1", search, "Do you gift wrap?", &[])).await?;
    let deflect = KnowledgeQueryKind::Deflect;
    for tenant in ["acme", "globex"] {
        publish(&bus, tenant, "q-3", queried("q-3", deflect, "Where is my parcel?", &["shipping"])).await?;
    }
    publish(&bus, "acme", "q-3", deflection_outcome("q-3", DeflectionResult::Helped)).await?;
    let last =
        publish(&bus, "globex", "q-3", deflection_outcome("q-3", DeflectionResult::TicketOpened)).await?;

    // When each tenant's supervisor lists its content gaps and deflections
    let [acme_gaps, globex_gaps, default_gaps] = [
        gaps_of(&cluster, "acme", last).await?,
        gaps_of(&cluster, "globex", last).await?,
        gaps_of(&cluster, DEFAULT_TENANT, last).await?,
    ];
    let [acme_deflections, globex_deflections, default_deflections] = [
        deflections_of(&cluster, "acme", last).await?,
        deflections_of(&cluster, "globex", last).await?,
        deflections_of(&cluster, DEFAULT_TENANT, last).await?,
    ];

    // Then each sees its own questions and outcomes only.
    assert_eq!(acme_gaps, [("cancel subscription".to_string(), 2)]);
    assert_eq!(globex_gaps, [("gift wrap".to_string(), 1)]);
    assert!(default_gaps.is_empty(), "{default_gaps:?}");
    let outcome = |articles: &[ArticleDeflection]| -> Vec<(String, u64, u64, u64)> {
        articles.iter().map(|a| (a.article_id.clone(), a.offered, a.helped, a.tickets_opened)).collect()
    };
    assert_eq!(outcome(&acme_deflections), [("shipping".to_string(), 1, 1, 0)]);
    assert_eq!(outcome(&globex_deflections), [("shipping".to_string(), 1, 0, 1)]);
    assert!(default_deflections.is_empty(), "{default_deflections:?}");
    let acme = counts_of(&cluster, "acme", last).await?;
    let globex = counts_of(&cluster, "globex", last).await?;
    assert_eq!(
        (value(&acme, "unanswered_queries", "search"), value(&acme, "deflections_helped", "")),
        (2, 1)
    );
    assert_eq!(
        (value(&globex, "unanswered_queries", "search"), value(&globex, "deflections_ticket_opened", "")),
        (1, 1)
    );
    assert_eq!(value(&acme, "deflections_ticket_opened", ""), 0, "globex's ticket is not acme's");
    cluster.stop().await
}

/// An event stored twice (published again after the bus's duplicate window, under a message id
/// it has not seen) is counted once: analytics knows each event by its id, whether the copies
/// come in one batch (read at start) or apart.
#[tokio::test]
async fn an_event_stored_twice_is_counted_once() -> anyhow::Result<()> {
    use prost::Message as _;
    let backing = Backing::start().await?;
    let bus = backing.bus().await?;
    let event = Draft::new("acme", "conv-1", received("conv-1", "c-1")).build()?;
    bus.publish(&event).await?;
    let subject = switchboard_bus::event_subject(&event.aggregate, &event.tenant, &event.aggregate_id);
    let payload = bytes::Bytes::from(event.encode_to_vec());
    bus.publish_raw(subject.clone(), payload.clone(), "after-the-window").await?;
    publish(&bus, "acme", "conv-2", received("conv-2", "c-2")).await?;
    let last = publish(&bus, "acme", "conv-3", received("conv-3", "c-3")).await?;
    let cluster = analytics_only(&backing).await?;
    let counts = counts_of(&cluster, "acme", last).await?;
    assert_eq!(value(&counts, "messages", ""), 3, "{counts:?}");

    bus.publish_raw(subject, payload, "long-after-the-window").await?;
    let last = publish(&bus, "acme", "conv-4", received("conv-4", "c-4")).await?;
    let counts = counts_of(&cluster, "acme", last).await?;
    assert_eq!(value(&counts, "messages", ""), 4, "{counts:?}");
    cluster.stop().await
}
