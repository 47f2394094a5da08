//! `switchboard seed FILE`: publishes demo articles to a running server, skipping those it has.

use std::{path::Path, time::Duration};

use anyhow::{Context as _, bail};
use serde::Deserialize;
use switchboard_proto::knowledge::v1::{
    GetArticleRequest, PublishArticleRequest, knowledge_client::KnowledgeClient,
};
use tonic::{Code, transport::Channel};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    id: String,
    title: String,
    body: String,
    #[serde(default)]
    locale: String,
    #[serde(default)]
    tags: Vec<String>,
}

pub(crate) async fn seed(file: &Path, endpoint: &str) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let mut client = connect(endpoint).await?;
    let (mut published, mut kept) = (0, 0);
    for (number, line) in text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty()) {
        let line: Line =
            serde_json::from_str(line).with_context(|| format!("{}:{}", file.display(), number + 1))?;
        if exists(&mut client, &line.id).await? {
            kept += 1;
            continue;
        }
        let request = PublishArticleRequest {
            article_id: line.id,
            title: line.title,
            body: line.body,
            locale: line.locale,
            tags: line.tags,
            wait: true,
        };
        client
            .publish_article(request)
            .await
            .with_context(|| format!("{}:{}", file.display(), number + 1))?;
        published += 1;
    }
    println!("seeded {published} articles ({kept} already there)");
    Ok(())
}

async fn exists(client: &mut KnowledgeClient<Channel>, id: &str) -> anyhow::Result<bool> {
    match client.get_article(GetArticleRequest { article_id: id.into() }).await {
        Ok(_) => Ok(true),
        Err(status) if status.code() == Code::NotFound => Ok(false),
        Err(status) => Err(status.into()),
    }
}

/// Connects, waiting up to a minute for the server to come up.
async fn connect(endpoint: &str) -> anyhow::Result<KnowledgeClient<Channel>> {
    for _ in 0..120 {
        if let Ok(client) = KnowledgeClient::connect(endpoint.to_string()).await {
            return Ok(client);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    bail!("no server answered at {endpoint} within a minute")
}
