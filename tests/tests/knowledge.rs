//! The knowledge search index as a projection of article events, over gRPC on the running
//! cluster: per-language analysis (Traditional Chinese included), archiving, and an index kept in
//! its directory across restarts.

mod common;

use common::{Backing, Cluster};
use switchboard_proto::events::v1::event::Body;
use switchboard_proto::knowledge::v1::{
    ArchiveArticleRequest, PublishArticleRequest, SearchRequest, SearchResponse, SuggestRequest,
    knowledge_client::KnowledgeClient,
};

async fn knowledge(cluster: &Cluster) -> anyhow::Result<KnowledgeClient<common::Api>> {
    Ok(KnowledgeClient::new(cluster.channel().await?))
}

fn article(id: &str, locale: &str, title: &str, body: &str) -> PublishArticleRequest {
    PublishArticleRequest {
        article_id: id.into(),
        title: title.into(),
        body: body.into(),
        locale: locale.into(),
        tags: vec![],
        wait: true,
        ..PublishArticleRequest::default()
    }
}

async fn search(
    client: &mut KnowledgeClient<common::Api>,
    query: &str,
    locale: &str,
) -> anyhow::Result<SearchResponse> {
    let request =
        SearchRequest { query: query.into(), locale: locale.into(), limit: 3, ..SearchRequest::default() };
    Ok(client.search(request).await?.into_inner())
}

fn ids(response: &SearchResponse) -> Vec<&str> {
    response.hits.iter().map(|hit| hit.article_id.as_str()).collect()
}

#[tokio::test]
async fn traditional_chinese_questions_find_traditional_chinese_articles() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let mut client = knowledge(&cluster).await?;
    for request in [
        article(
            "returns-zh",
            "zh-Hant",
            "如何申請退貨",
            "在訂單頁面點選「申請退貨」，我們會寄出退貨標籤，退款在收到商品後五個工作天內退回。",
        ),
        article(
            "password-zh",
            "zh-Hant",
            "忘記密碼怎麼辦",
            "在登入頁面點選「忘記密碼」，輸入電子郵件即可重設密碼。",
        ),
        article(
            "returns-en",
            "en",
            "Returning an item",
            "Request a return from your orders page; refunds arrive within five days.",
        ),
    ] {
        client.publish_article(request).await?;
    }
    let found = search(&mut client, "我想退貨，退款要多久？", "zh-Hant").await?;
    assert_eq!(ids(&found).first(), Some(&"returns-zh"), "{found:?}");
    assert!(found.hits[0].snippet.contains("<b>"), "{}", found.hits[0].snippet);
    assert!(found.hits[0].score > 0.0 && found.hits[0].score < 1.0);
    let found = search(&mut client, "密碼忘了", "zh-Hant").await?;
    assert_eq!(ids(&found).first(), Some(&"password-zh"), "{found:?}");
    let found = search(&mut client, "how do I retrun an item", "en").await?;
    assert_eq!(ids(&found).first(), Some(&"returns-en"), "a typo is tolerated: {found:?}");

    let suggest = |prefix: &str, locale: &str| SuggestRequest {
        prefix: prefix.into(),
        locale: locale.into(),
        limit: 3,
    };
    let suggestions = client.suggest(suggest("如何申", "zh-Hant")).await?.into_inner().suggestions;
    assert_eq!(suggestions.first().map(|s| s.title.as_str()), Some("如何申請退貨"));
    let suggestions = client.suggest(suggest("Returning an it", "en")).await?.into_inner().suggestions;
    assert_eq!(suggestions.first().map(|s| s.article_id.as_str()), Some("returns-en"));
    assert!(client.suggest(suggest("?!", "en")).await?.into_inner().suggestions.is_empty());
    let refused = client.suggest(SuggestRequest { limit: 100, ..suggest("ret", "en") }).await;
    assert_eq!(refused.err().map(|s| s.code()), Some(tonic::Code::InvalidArgument));

    // Suggestions come a keystroke at a time: none becomes a durable event (the question finally
    // asked does). The search after them is recorded, so every earlier record is in by then.
    let bus = backing.bus().await?;
    search(&mut client, "returns marker after the suggestions", "en").await?;
    common::wait_for_event(&bus, "switchboard.events.knowledge-query.>", |event| match &event.body {
        Some(Body::KnowledgeQueried(q)) if q.query == "returns marker after the suggestions" => Some(()),
        _ => None,
    })
    .await?;
    let recorded: Vec<String> = common::events(&bus, "switchboard.events.knowledge-query.>")
        .await?
        .into_iter()
        .filter_map(|event| match event.body {
            Some(Body::KnowledgeQueried(q)) => Some(q.query),
            _ => None,
        })
        .collect();
    for typed in ["如何申", "Returning an it", "?!", "ret"] {
        assert!(!recorded.iter().any(|q| q == typed), "suggestion {typed:?} recorded: {recorded:?}");
    }
    assert!(recorded.iter().any(|q| q == "密碼忘了"), "searches are recorded: {recorded:?}");
    cluster.stop().await
}

#[tokio::test]
async fn the_index_keeps_its_directory_across_restarts_and_archiving_hides_articles() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let directory = std::env::temp_dir().join(format!("switchboard-index-test-{}", std::process::id()));
    let mut config = backing.config();
    config.index_dir = Some(directory.clone());
    let cluster = Cluster::start(config.clone()).await?;
    let mut client = knowledge(&cluster).await?;
    client
        .publish_article(article(
            "shipping",
            "en",
            "Shipping costs",
            "Standard shipping is free above 50 euros.",
        ))
        .await?;
    client
        .publish_article(article("warranty", "en", "Warranty", "Every device has a two year warranty."))
        .await?;
    cluster.stop().await?;
    assert!(directory.join("meta.json").exists(), "the index is on disk");

    let cluster = Cluster::start(config).await?;
    let mut client = knowledge(&cluster).await?;
    let found = search(&mut client, "shipping costs", "en").await?;
    assert_eq!(ids(&found), ["shipping"], "found at once after the restart");
    client.archive_article(ArchiveArticleRequest { article_id: "shipping".into() }).await?;
    let mut hidden = false;
    for _ in 0..50 {
        if search(&mut client, "shipping costs", "en").await?.hits.is_empty() {
            hidden = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(hidden, "an archived article leaves the index");
    cluster.stop().await?;
    std::fs::remove_dir_all(&directory)?;
    Ok(())
}

#[tokio::test]
async fn articles_are_imported_and_exported_as_json_lines() -> anyhow::Result<()> {
    use switchboard_server::knowledge::{ArticleLine, ImportReport, export, import};
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let endpoint = switchboard_server::api::ApiArgs {
        endpoint: Some(format!("http://{}", cluster.address)),
        grpc_addr: None,
        token: Some(switchboard_testkit::token("default", switchboard_auth::Role::Admin, "importer")),
    };
    let dir = std::env::temp_dir().join(format!("switchboard-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let line = |id: &str, locale: &str, title: &str| ArticleLine {
        id: id.into(),
        title: title.into(),
        body: format!("{title}: what to do, step by step."),
        locale: locale.into(),
        tags: vec!["help".into()],
        ..ArticleLine::default()
    };
    let articles = vec![
        line("a-returns", "en", "Returns"),
        line("b-refunds", "en", "Refunds"),
        line("c-zh", "zh-Hant", "如何退貨"),
    ];
    let write = |name: &str, lines: &[ArticleLine]| -> anyhow::Result<std::path::PathBuf> {
        let path = dir.join(name);
        let text: Vec<String> = lines.iter().map(serde_json::to_string).collect::<Result<_, _>>()?;
        std::fs::write(&path, text.join("\n") + "\n")?;
        Ok(path)
    };

    let file = write("articles.jsonl", &articles)?;
    assert_eq!(import(&file, &endpoint).await?, ImportReport { published: 3, unchanged: 0 });
    let exported: Vec<ArticleLine> =
        export(&endpoint, false).await?.lines().map(serde_json::from_str).collect::<Result<_, _>>()?;
    assert_eq!(exported, articles, "export gives back what was imported, in id order");
    assert_eq!(import(&file, &endpoint).await?, ImportReport { published: 0, unchanged: 3 });

    let mut changed = articles.clone();
    changed[1].body = "Refunds reach your card within five days.".into();
    let file = write("changed.jsonl", &changed)?;
    assert_eq!(import(&file, &endpoint).await?, ImportReport { published: 1, unchanged: 2 });

    let mut bad = changed.clone();
    bad.push(line("d-new", "en", "New"));
    bad.push(line("e-untitled", "en", " "));
    let file = write("bad.jsonl", &bad)?;
    let error = import(&file, &endpoint).await.expect_err("an article without a title is refused");
    assert!(format!("{error:#}").contains("title is empty"), "{error:#}");
    let after = export(&endpoint, false).await?;
    assert!(!after.contains("d-new"), "nothing from a bad file is published");
    std::fs::remove_dir_all(&dir)?;
    cluster.stop().await
}
