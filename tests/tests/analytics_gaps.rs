//! Content gaps from automation's fallbacks and hand-offs for missing knowledge, and deflection
//! per article (searches after which the customer started no conversation within 24 hours), on
//! hand-built histories published with the times they happened; the cluster runs analytics alone.

mod common;

use chrono::{DateTime, DurationRound as _, TimeDelta, Utc};
use common::{Backing, Cluster};
use switchboard_auth::Role;
use switchboard_bus::{Bus, Draft};
use switchboard_proto::{
    analytics::v1::{
        ArticleDeflection, ListArticleDeflectionsRequest, ListContentGapsRequest,
        analytics_client::AnalyticsClient,
    },
    events::v1::{
        Channel, HandoffPacket, KnowledgeQueried, KnowledgeQueryKind, MessageReceived, MessageRouted,
        RouteAction, event::Body,
    },
    time::to_timestamp,
};
use switchboard_server::Service;

/// Publishes `body` as `tenant`'s, about aggregate `id`, as having happened at `at`.
async fn publish(bus: &Bus, tenant: &str, id: &str, at: DateTime<Utc>, body: Body) -> anyhow::Result<u64> {
    let mut event = Draft::new(tenant, id, body).build()?;
    event.occurred_at = Some(to_timestamp(at));
    Ok(bus.publish(&event).await?.sequence)
}

async fn analytics(cluster: &Cluster) -> anyhow::Result<AnalyticsClient<common::Api>> {
    Ok(AnalyticsClient::new(cluster.channel_as("acme", Role::Supervisor, "sam").await?))
}

fn handed_off(conversation: &str, rule_action: &str, reason: &str, question: &str) -> Body {
    Body::MessageRouted(MessageRouted {
        conversation_id: conversation.into(),
        message_id: format!("{conversation}-m1"),
        channel: Channel::Web.into(),
        action: RouteAction::Queue.into(),
        rule_action: rule_action.into(),
        language: "en".into(),
        handoff: Some(HandoffPacket {
            reason: reason.into(),
            question: question.into(),
            ..Default::default()
        }),
        ..Default::default()
    })
}

fn queried(
    query_id: &str,
    kind: KnowledgeQueryKind,
    text: &str,
    articles: &[&str],
    customer: &str,
) -> KnowledgeQueried {
    KnowledgeQueried {
        query_id: query_id.into(),
        kind: kind.into(),
        query: text.into(),
        locale: "en".into(),
        result_count: u32::try_from(articles.len()).unwrap_or(0),
        article_ids: articles.iter().map(|a| (*a).to_string()).collect(),
        answered: !articles.is_empty(),
        customer_id: customer.into(),
        ..Default::default()
    }
}

/// g1: the bot found no answer, then handed over for missing knowledge (one gap, counted once
/// for the conversation); g2: a hand-off for missing knowledge in other words (the same gap);
/// g3: a hand-off the customer asked for (no gap).
#[tokio::test]
async fn hand_offs_for_missing_knowledge_are_content_gaps_counted_once_per_conversation() -> anyhow::Result<()>
{
    let backing = Backing::start().await?;
    let cluster =
        Cluster::start(switchboard_server::Config { services: vec![Service::Analytics], ..backing.config() })
            .await?;
    let bus = backing.bus().await?;
    let at = Utc::now() - TimeDelta::hours(3);
    let unanswered = KnowledgeQueried {
        conversation_id: "g1".into(),
        ..queried("q1", KnowledgeQueryKind::Answer, "Do you ship to Iceland?", &[], "")
    };
    publish(&bus, "acme", "q1", at, Body::KnowledgeQueried(unanswered)).await?;
    let fallback = handed_off("g1", "answer", "missing_knowledge", "Do you ship to Iceland?");
    publish(&bus, "acme", "g1-m1", at, fallback).await?;
    let handoff = handed_off("g2", "queue", "missing_knowledge", "Is shipping to Iceland possible?");
    publish(&bus, "acme", "g2-m1", at, handoff.clone()).await?;
    publish(&bus, "acme", "g2-m1", at, handoff).await?; // routed again: the same message
    let again = KnowledgeQueried {
        conversation_id: "g2".into(),
        ..queried("q2", KnowledgeQueryKind::Answer, "Iceland shipping options?", &[], "")
    };
    publish(&bus, "acme", "q2", at, Body::KnowledgeQueried(again)).await?; // g2 in other words
    publish(&bus, "acme", "g3-m1", at, handed_off("g3", "queue", "customer_asked", "I want a person"))
        .await?;
    let last =
        publish(&bus, "globex", "g1-m1", at, handed_off("g1", "answer", "missing_knowledge", "Gift wrap?"))
            .await?;

    let request = ListContentGapsRequest { min_sequence: last, ..Default::default() };
    let gaps = analytics(&cluster).await?.list_content_gaps(request).await?.into_inner().gaps;
    assert_eq!(gaps.len(), 1, "{gaps:#?}");
    assert_eq!(gaps[0].count, 2, "g1 and g2, each once: {gaps:#?}");
    assert_eq!(gaps[0].kinds, ["answer", "fallback", "handoff"]);
    let mut examples = gaps[0].examples.clone();
    examples.sort();
    assert_eq!(
        examples,
        ["Do you ship to Iceland?", "Iceland shipping options?", "Is shipping to Iceland possible?"]
    );
    cluster.stop().await
}

/// Searches for returns: ann started a conversation 2 hours later (not deflected), bob searched
/// twice that day (once) and wrote only two days later (deflected), cat searched 2 hours ago
/// (pending), someone unknown searched too (not counted). Shipping: ann's search, and dan's
/// contact form, after which he wrote nothing (deflected).
#[tokio::test]
async fn a_search_deflects_when_no_conversation_follows_within_a_day() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster =
        Cluster::start(switchboard_server::Config { services: vec![Service::Analytics], ..backing.config() })
            .await?;
    let bus = backing.bus().await?;
    let now = Utc::now();
    // Three days ago at 10:00 UTC (two searches an hour apart stay on one day), or now.
    let morning = (now - TimeDelta::days(3)).duration_trunc(TimeDelta::days(1))? + TimeDelta::hours(10);
    let days_ago = |days: i64, hours: i64| {
        if days == 3 {
            morning + TimeDelta::hours(hours)
        } else {
            now - TimeDelta::days(days) + TimeDelta::hours(hours)
        }
    };
    let search = KnowledgeQueryKind::Search;
    let searches = [
        ("s1", search, &["returns", "shipping"][..], "ann", days_ago(3, 0)),
        ("s2", search, &["returns"][..], "bob", days_ago(3, 0)),
        ("s3", search, &["returns"][..], "bob", days_ago(3, 1)),
        ("s4", search, &["returns"][..], "cat", days_ago(0, -2)),
        ("s5", search, &["returns"][..], "", days_ago(3, 0)),
        ("s6", KnowledgeQueryKind::Deflect, &["shipping"][..], "dan", days_ago(3, 0)),
    ];
    for (id, kind, articles, customer, at) in searches {
        let body = Body::KnowledgeQueried(queried(id, kind, "return my order", articles, customer));
        publish(&bus, "acme", id, at, body).await?;
    }
    for (conversation, customer, at) in [("ca", "ann", days_ago(3, 2)), ("cb", "bob", days_ago(1, 0))] {
        let received = MessageReceived {
            conversation_id: conversation.into(),
            message_id: format!("{conversation}-m1"),
            customer_id: customer.into(),
            channel: Channel::Web.into(),
            starts_conversation: true,
            ..Default::default()
        };
        publish(&bus, "acme", conversation, at, Body::MessageReceived(received)).await?;
    }
    let globex = Body::KnowledgeQueried(queried("s1", search, "return", &["returns"], "bob"));
    let last = publish(&bus, "globex", "s1", days_ago(3, 0), globex).await?;

    let request = ListArticleDeflectionsRequest { min_sequence: last, ..Default::default() };
    let articles = analytics(&cluster).await?.list_article_deflections(request).await?.into_inner().articles;
    let found: Vec<_> = articles.iter().map(figures).collect();
    assert_eq!(found, [("returns", 3, 1, 1, Some(0.5)), ("shipping", 2, 1, 0, Some(0.5))], "{articles:#?}");
    assert_eq!(articles[1].offered, 1, "the contact form offered shipping once");
    cluster.stop().await
}

fn figures(article: &ArticleDeflection) -> (&str, u64, u64, u64, Option<f64>) {
    (
        article.article_id.as_str(),
        article.searches,
        article.deflected,
        article.pending,
        article.deflection_rate,
    )
}
