//! The knowledge base for two tenants on one cluster: acme and globex (and the default tenant)
//! publish articles of the same id in their own words and languages; each tenant's search,
//! suggestions, answers, deflections and reads see and change only its own articles, and a
//! replay rebuilds the read model and the index with the tenants still apart.

mod common;

use common::{Backing, Cluster};
use switchboard_auth::Role;
use switchboard_bus::Bus;
use switchboard_proto::knowledge::v1::{
    AnswerRequest, AnswerResponse, ArchiveArticleRequest, Article, ArticleStatus, DeflectRequest,
    DeflectionOutcome, GetArticleRequest, ListArticlesRequest, ListVersionsRequest, PublishArticleRequest,
    RecordDeflectionRequest, SearchRequest, SuggestRequest, knowledge_client::KnowledgeClient,
};
use switchboard_server::{Service, replay};
use tonic::Code;

type Client = KnowledgeClient<common::Api>;

const ACME: &str = "acme";
const GLOBEX: &str = "globex";
/// The id every tenant uses for its returns article.
const RETURNS: &str = "returns-policy";

async fn client(cluster: &Cluster, tenant: &str, role: Role) -> anyhow::Result<Client> {
    Ok(KnowledgeClient::new(cluster.channel_as(tenant, role, &format!("{tenant}-{}", role.name())).await?))
}

fn article(id: &str, locale: &str, title: &str, body: &str) -> PublishArticleRequest {
    PublishArticleRequest {
        article_id: id.into(),
        title: title.into(),
        body: body.into(),
        locale: locale.into(),
        wait: true,
        ..PublishArticleRequest::default()
    }
}

fn acme_returns() -> PublishArticleRequest {
    article(RETURNS, "en", "Returns within 30 days", "Send any item back within 30 days for a full refund.")
}

fn globex_returns() -> PublishArticleRequest {
    article(
        RETURNS,
        "es",
        "Política de devoluciones",
        "Puedes devolver cualquier producto en 14 días y recibir el reembolso completo.",
    )
}

fn globex_gift_cards() -> PublishArticleRequest {
    article("gift-cards", "en", "Gift cards", "Gift cards never expire and work on every order.")
}

fn default_returns() -> PublishArticleRequest {
    article(RETURNS, "en", "Returns at the default shop", "Send any item back within 90 days for a refund.")
}

/// Publishes each tenant's articles: acme's and globex's returns article share one id (and the
/// default tenant's too), gift-cards is globex's only.
async fn publish_both(acme: &mut Client, globex: &mut Client) -> anyhow::Result<()> {
    acme.publish_article(acme_returns()).await?;
    globex.publish_article(globex_returns()).await?;
    globex.publish_article(globex_gift_cards()).await?;
    Ok(())
}

/// (article id, title) of each hit.
async fn search(client: &mut Client, query: &str, locale: &str) -> anyhow::Result<Vec<(String, String)>> {
    let request =
        SearchRequest { query: query.into(), locale: locale.into(), limit: 10, ..Default::default() };
    let hits = client.search(request).await?.into_inner().hits;
    Ok(hits.into_iter().map(|hit| (hit.article_id, hit.title)).collect())
}

async fn suggest(client: &mut Client, prefix: &str, locale: &str) -> anyhow::Result<Vec<(String, String)>> {
    let request = SuggestRequest { prefix: prefix.into(), locale: locale.into(), limit: 10 };
    let suggestions = client.suggest(request).await?.into_inner().suggestions;
    Ok(suggestions.into_iter().map(|s| (s.article_id, s.title)).collect())
}

/// An answer at a low threshold, so that what is cited depends only on which articles are seen.
async fn answer(client: &mut Client, question: &str, locale: &str) -> anyhow::Result<AnswerResponse> {
    let request = AnswerRequest {
        question: question.into(),
        locale: locale.into(),
        min_confidence: 0.01,
        ..Default::default()
    };
    Ok(client.answer(request).await?.into_inner())
}

async fn get(client: &mut Client, id: &str) -> Result<Article, tonic::Status> {
    Ok(client.get_article(GetArticleRequest { article_id: id.into(), version: 0 }).await?.into_inner())
}

async fn listed(client: &mut Client) -> anyhow::Result<Vec<(String, String)>> {
    let request = ListArticlesRequest { include_archived: true, ..Default::default() };
    let articles = client.list_articles(request).await?.into_inner().articles;
    Ok(articles.into_iter().map(|a| (a.article_id, a.title)).collect())
}

fn one(id: &str, title: &str) -> Vec<(String, String)> {
    vec![(id.to_string(), title.to_string())]
}

/// How many events the tenant's aggregate has.
async fn history_length(bus: &Bus, aggregate: &str, tenant: &str, id: &str) -> anyhow::Result<usize> {
    Ok(bus.events_of(aggregate, tenant, id).await?.len())
}

#[tokio::test]
async fn tenants_with_the_same_article_ids_search_suggest_and_get_answers_from_their_own_articles_only()
-> anyhow::Result<()> {
    // Given acme, globex and the default tenant each with its own returns-policy article
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let (mut acme_admin, mut globex_admin) =
        (client(&cluster, ACME, Role::Admin).await?, client(&cluster, GLOBEX, Role::Admin).await?);
    publish_both(&mut acme_admin, &mut globex_admin).await?;
    let mut default_admin = KnowledgeClient::new(cluster.channel().await?);
    default_admin.publish_article(default_returns()).await?;
    let mut acme = client(&cluster, ACME, Role::Agent).await?;
    let mut globex = client(&cluster, GLOBEX, Role::Service).await?;

    // When each searches in every language, Then each finds its own article and text only
    assert_eq!(search(&mut acme, "send item back refund", "").await?, one(RETURNS, "Returns within 30 days"));
    assert_eq!(
        search(&mut globex, "devolver producto reembolso", "es").await?,
        one(RETURNS, "Política de devoluciones")
    );
    assert!(search(&mut globex, "send item back refund", "").await?.is_empty(), "others' English articles");
    assert!(search(&mut acme, "devolver producto reembolso", "").await?.is_empty(), "globex's Spanish one");
    assert_eq!(
        search(&mut default_admin, "send item back refund", "en").await?,
        one(RETURNS, "Returns at the default shop"),
        "the default tenant works as before"
    );

    // When they type, Then each is offered its own titles only
    assert_eq!(suggest(&mut acme, "Returns wi", "en").await?, one(RETURNS, "Returns within 30 days"));
    assert_eq!(
        suggest(&mut globex, "Política de dev", "es").await?,
        one(RETURNS, "Política de devoluciones")
    );
    assert!(suggest(&mut globex, "Returns", "en").await?.is_empty());

    // When the bot asks, Then each tenant's answer cites its own article and words
    let acme_answer = answer(&mut acme, "How many days do I have to send an item back?", "en").await?;
    assert_eq!((acme_answer.answered, acme_answer.article_id.as_str()), (true, RETURNS), "{acme_answer:?}");
    assert!(acme_answer.passage.contains("30 days"), "{}", acme_answer.passage);
    let globex_answer = answer(&mut globex, "¿En cuántos días puedo devolver un producto?", "es").await?;
    assert_eq!((globex_answer.answered, globex_answer.article_id.as_str()), (true, RETURNS));
    assert!(globex_answer.passage.contains("14 días"), "{}", globex_answer.passage);
    let default_answer = answer(&mut default_admin, "How many days to send an item back?", "en").await?;
    assert!(default_answer.passage.contains("90 days"), "{}", default_answer.passage);
    cluster.stop().await
}

#[tokio::test]
async fn an_article_only_one_tenant_has_is_invisible_to_the_other() -> anyhow::Result<()> {
    // Given gift-cards, published by globex only
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let (mut acme_admin, mut globex_admin) =
        (client(&cluster, ACME, Role::Admin).await?, client(&cluster, GLOBEX, Role::Admin).await?);
    publish_both(&mut acme_admin, &mut globex_admin).await?;
    let mut acme = client(&cluster, ACME, Role::Agent).await?;
    let mut globex = client(&cluster, GLOBEX, Role::Agent).await?;

    // When acme searches, types, asks, reads and lists, Then gift-cards is never there
    assert!(search(&mut acme, "gift cards expire", "en").await?.is_empty());
    assert!(suggest(&mut acme, "Gift c", "en").await?.is_empty(), "not even as a suggestion");
    let unanswered = answer(&mut acme, "Do gift cards expire?", "en").await?;
    assert!(!unanswered.answered && unanswered.article_id.is_empty(), "{unanswered:?}");
    assert_eq!(get(&mut acme, "gift-cards").await.err().map(|s| s.code()), Some(Code::NotFound));
    let versions = acme.list_versions(ListVersionsRequest { article_id: "gift-cards".into() }).await;
    assert_eq!(versions.err().map(|s| s.code()), Some(Code::NotFound));
    assert_eq!(listed(&mut acme).await?, one(RETURNS, "Returns within 30 days"));
    let archived =
        acme_admin.archive_article(ArchiveArticleRequest { article_id: "gift-cards".into() }).await;
    assert_eq!(archived.err().map(|s| s.code()), Some(Code::NotFound), "nor can acme archive it");

    // Then globex sees it as usual
    assert_eq!(search(&mut globex, "gift cards expire", "en").await?, one("gift-cards", "Gift cards"));
    assert_eq!(suggest(&mut globex, "Gift c", "en").await?, one("gift-cards", "Gift cards"));
    assert_eq!(get(&mut globex, "gift-cards").await?.status(), ArticleStatus::Published);
    let ids: Vec<String> = listed(&mut globex).await?.into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, ["gift-cards", RETURNS]);
    cluster.stop().await
}

#[tokio::test]
async fn changing_or_archiving_one_tenants_article_leaves_the_others_history_and_index() -> anyhow::Result<()>
{
    // Given both tenants' returns-policy at version 1
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let bus = backing.bus().await?;
    let (mut acme, mut globex) =
        (client(&cluster, ACME, Role::Admin).await?, client(&cluster, GLOBEX, Role::Admin).await?);
    publish_both(&mut acme, &mut globex).await?;

    // When acme publishes a second version
    let second = article(RETURNS, "en", "Returns within 60 days", "Send any item back within 60 days.");
    let published = acme.publish_article(second).await?.into_inner();

    // Then acme's history has two versions and globex's still one, its own text
    assert_eq!(published.version, 2);
    assert_eq!(history_length(&bus, "article", ACME, RETURNS).await?, 2);
    assert_eq!(history_length(&bus, "article", GLOBEX, RETURNS).await?, 1);
    let globex_now = get(&mut globex, RETURNS).await?;
    assert_eq!((globex_now.version, globex_now.title.as_str()), (1, "Política de devoluciones"));
    let again = globex.publish_article(globex_returns()).await?.into_inner();
    assert_eq!(again.version, 2, "globex's versions count on from its own history");

    // When acme archives its article (and a later publish shows the index has applied it)
    acme.archive_article(ArchiveArticleRequest { article_id: RETURNS.into() }).await?;
    acme.publish_article(article("shipping", "en", "Shipping", "Shipping is free above 50 euros.")).await?;

    // Then acme's leaves search while globex's stays searchable and published
    assert!(search(&mut acme, "send item back", "en").await?.is_empty());
    assert_eq!(get(&mut acme, RETURNS).await?.status(), ArticleStatus::Archived);
    assert_eq!(
        search(&mut globex, "devolver producto", "es").await?,
        one(RETURNS, "Política de devoluciones")
    );
    assert_eq!(get(&mut globex, RETURNS).await?.status(), ArticleStatus::Published);
    cluster.stop().await
}

#[tokio::test]
async fn queries_and_deflections_are_recorded_in_the_askers_tenant() -> anyhow::Result<()> {
    // Given both tenants' articles
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let bus = backing.bus().await?;
    let (mut acme_admin, mut globex_admin) =
        (client(&cluster, ACME, Role::Admin).await?, client(&cluster, GLOBEX, Role::Admin).await?);
    publish_both(&mut acme_admin, &mut globex_admin).await?;
    let mut acme = client(&cluster, ACME, Role::Service).await?;
    let mut globex = client(&cluster, GLOBEX, Role::Service).await?;

    // When an acme customer is offered articles on the contact form
    let request = DeflectRequest {
        text: "I want to send an item back".into(),
        locale: "en".into(),
        limit: 3,
        customer_id: String::new(),
    };
    let deflection = acme.deflect(request).await?.into_inner();
    let offered: Vec<&str> = deflection.articles.iter().map(|a| a.article_id.as_str()).collect();
    assert_eq!(offered, [RETURNS]);

    // Then the query is acme's aggregate, not globex's
    let id = deflection.deflection_id.as_str();
    assert_eq!(history_length(&bus, "knowledge-query", ACME, id).await?, 1);
    assert_eq!(history_length(&bus, "knowledge-query", GLOBEX, id).await?, 0);

    // When globex records an outcome for acme's deflection, Then it is not found
    let helped = RecordDeflectionRequest {
        deflection_id: id.into(),
        outcome: DeflectionOutcome::Helped.into(),
        article_id: RETURNS.into(),
        ticket_id: String::new(),
    };
    let refused = globex.record_deflection(helped.clone()).await;
    assert_eq!(refused.err().map(|s| s.code()), Some(Code::NotFound));
    assert_eq!(history_length(&bus, "knowledge-query", GLOBEX, id).await?, 0);

    // When acme records it, Then it lands in acme's history
    acme.record_deflection(helped).await?;
    let history = bus.events_of("knowledge-query", ACME, id).await?;
    assert_eq!(history.len(), 2);
    assert!(history.iter().all(|(event, _)| event.tenant == ACME));
    cluster.stop().await
}

/// Each tenant's articles as the read model holds them.
async fn read_model(pool: &sqlx::PgPool) -> anyhow::Result<Vec<(String, String, String, String)>> {
    Ok(sqlx::query_as(
        "SELECT tenant, article_id, title, status FROM knowledge.articles ORDER BY tenant, article_id",
    )
    .fetch_all(pool)
    .await?)
}

#[tokio::test]
async fn a_replay_rebuilds_the_read_model_and_the_index_with_the_tenants_still_apart() -> anyhow::Result<()> {
    // Given both tenants' articles, acme's archived, in an index kept on disk
    let backing = Backing::start().await?;
    let directory = std::env::temp_dir().join(format!("switchboard-tenancy-index-{}", std::process::id()));
    let mut config = backing.config();
    config.index_dir = Some(directory.clone());
    let cluster = Cluster::start(config.clone()).await?;
    let (mut acme, mut globex) =
        (client(&cluster, ACME, Role::Admin).await?, client(&cluster, GLOBEX, Role::Admin).await?);
    publish_both(&mut acme, &mut globex).await?;
    acme.archive_article(ArchiveArticleRequest { article_id: RETURNS.into() }).await?;
    acme.publish_article(article("shipping", "en", "Shipping", "Shipping is free above 50 euros.")).await?;
    cluster.stop().await?;
    let pool = backing.database.pool().await?;
    let before = read_model(&pool).await?;

    // When the knowledge read model and index are rebuilt from the events
    replay(&config, Service::Knowledge).await?;
    let cluster = Cluster::start(config).await?;
    let (mut acme, mut globex) =
        (client(&cluster, ACME, Role::Admin).await?, client(&cluster, GLOBEX, Role::Admin).await?);
    // A publish that waits for the index shows the rebuild has passed every earlier event.
    globex.publish_article(article("warranty", "en", "Warranty", "Two years on every device.")).await?;

    // Then the rows are the same, each in its tenant
    let after = read_model(&pool).await?;
    let without_warranty: Vec<_> = after.iter().filter(|row| row.1 != "warranty").cloned().collect();
    assert_eq!(without_warranty, before);
    let tenants: Vec<(&str, &str)> = before.iter().map(|row| (row.0.as_str(), row.1.as_str())).collect();
    assert_eq!(tenants, [(ACME, RETURNS), (ACME, "shipping"), (GLOBEX, "gift-cards"), (GLOBEX, RETURNS)]);

    // And the index still keeps each tenant's articles to itself
    assert!(search(&mut acme, "send item back", "").await?.is_empty(), "acme's is archived");
    assert!(search(&mut acme, "gift cards", "en").await?.is_empty());
    assert_eq!(search(&mut acme, "shipping free", "en").await?, one("shipping", "Shipping"));
    assert_eq!(
        search(&mut globex, "devolver producto", "es").await?,
        one(RETURNS, "Política de devoluciones")
    );
    assert!(search(&mut globex, "shipping free", "en").await?.is_empty());
    cluster.stop().await?;
    std::fs::remove_dir_all(&directory)?;
    Ok(())
}
