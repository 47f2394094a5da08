//! Hybrid knowledge search on the running cluster: with the sentence encoder, a question that
//! shares no word with the right article still finds it; the articles' embeddings are kept in
//! the index directory across restarts, and an index built without the encoder is rebuilt from
//! the events once the encoder is there.

mod common;

use std::time::Duration;

use common::{Backing, Cluster};
use switchboard_proto::knowledge::v1::{
    AnswerRequest, PublishArticleRequest, SearchRequest, knowledge_client::KnowledgeClient,
};

type Client = KnowledgeClient<common::Api>;

const ARTICLES: [(&str, &str, &str); 3] = [
    (
        "delivery-time",
        "Delivery times",
        "Standard shipping takes three to five working days. Express arrives the next working day.",
    ),
    (
        "recover-password",
        "Recover your password",
        "Use the Forgot password link on the sign-in page and we email you a link to choose a new one.",
    ),
    ("refunds", "Refunds", "Refunds are paid to the original card within five days of receiving the return."),
];

/// Shares no word with any article.
const PARAPHRASE: &str = "When will my package get here?";

async fn top_hit(client: &mut Client, text: &str) -> anyhow::Result<Option<String>> {
    let request =
        SearchRequest { query: text.into(), locale: "en".into(), limit: 3, ..SearchRequest::default() };
    Ok(client.search(request).await?.into_inner().hits.into_iter().next().map(|hit| hit.article_id))
}

#[tokio::test]
async fn paraphrases_find_their_article_and_embeddings_follow_the_encoder() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let directory = std::env::temp_dir().join(format!("switchboard-hybrid-index-{}", std::process::id()));
    let mut config = backing.config();
    config.index_dir = Some(directory.clone());

    // Without the encoder: lexical only, and the paraphrase finds nothing.
    let cluster = Cluster::start(config.clone()).await?;
    let mut client = KnowledgeClient::new(cluster.channel().await?);
    for (id, title, body) in ARTICLES {
        let article = PublishArticleRequest {
            article_id: id.into(),
            title: title.into(),
            body: body.into(),
            locale: "en".into(),
            wait: true,
            ..PublishArticleRequest::default()
        };
        client.publish_article(article).await?;
    }
    assert_eq!(top_hit(&mut client, PARAPHRASE).await?, None, "lexical search shares no word with it");
    cluster.stop().await?;

    // With it: the index, built without embeddings, is rebuilt from the events in the background.
    config.encoder_dir = Some(common::encoder_dir()?);
    let cluster = Cluster::start(config.clone()).await?;
    let mut client = KnowledgeClient::new(cluster.channel().await?);
    let mut found = None;
    for _ in 0..200 {
        found = top_hit(&mut client, PARAPHRASE).await?;
        if found.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(found.as_deref(), Some("delivery-time"));
    assert_eq!(
        top_hit(&mut client, "I forgot my password and can't log in.").await?.as_deref(),
        Some("recover-password")
    );
    let answer =
        AnswerRequest { question: PARAPHRASE.into(), locale: "en".into(), ..AnswerRequest::default() };
    let answer = client.answer(answer).await?.into_inner();
    assert!((0.0..=1.0).contains(&answer.confidence), "{answer:?}");
    if answer.answered {
        assert_eq!(answer.article_id, "delivery-time", "{answer:?}");
    }
    cluster.stop().await?;

    // Restarted with the same encoder: the embeddings come from the directory, no rebuild.
    let cluster = Cluster::start(config).await?;
    let mut client = KnowledgeClient::new(cluster.channel().await?);
    assert_eq!(top_hit(&mut client, PARAPHRASE).await?.as_deref(), Some("delivery-time"));
    cluster.stop().await?;
    std::fs::remove_dir_all(&directory)?;
    Ok(())
}
