//! `switchboard knowledge import|export|eval`: articles in and out of a running server as JSON
//! lines (`id`, `title`, `body`, `locale`, `tags`), and search quality on a labelled set, in
//! process. The flags and the `--json` report are a contract.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};
use switchboard_auth::Authorized;
use switchboard_knowledge::eval::{LabelledQuery, evaluate};
use switchboard_knowledge::index::{ArticleIndex, IndexedArticle, Ranking};
use switchboard_nlu::embed::SentenceEncoder;
use switchboard_proto::knowledge::v1::{
    Article, ArticleStatus, GetArticleRequest, ListArticlesRequest, PublishArticleRequest,
    knowledge_client::KnowledgeClient,
};
use tonic::Code;

use crate::api::ApiArgs;

#[derive(Debug, Subcommand)]
pub enum KnowledgeCommand {
    /// Publish articles from a JSON lines file (new ones, and new versions of changed ones).
    Import {
        file: PathBuf,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Write every published article (its live version) as JSON lines, to --out or standard
    /// output; drafts are not exported.
    Export {
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also articles unpublished or archived (their last live version).
        #[arg(long)]
        include_archived: bool,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Index articles (JSON lines: id, title, body, locale, tags) and measure search on labelled
    /// queries (JSON lines: query, relevant).
    Eval(EvalArgs),
    /// Fit the hybrid blend and its answer threshold on labelled validation queries (needs
    /// --encoder); prints one JSON object.
    Calibrate(EvalArgs),
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    #[arg(long)]
    pub articles: PathBuf,
    #[arg(long)]
    pub queries: PathBuf,
    /// The queries' locale; empty searches every language.
    #[arg(long, default_value = "")]
    pub locale: String,
    /// Plain BM25 over lowercased words instead of the product's ranking, for comparison.
    #[arg(long)]
    pub baseline: bool,
    /// The sentence encoder directory (`make encoder`): hybrid search; lexical without it.
    #[arg(long)]
    pub encoder: Option<PathBuf>,
    /// Print one JSON object: recall_at_1, recall_at_5, mrr_at_10, p50_us, p99_us, n.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ArticleLine {
    pub id: String,
    pub title: String,
    pub body: String,
    #[serde(default)]
    pub locale: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub product_area: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub example_questions: Vec<String>,
    /// The id of the article this one translates.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub translation_of: String,
}

#[derive(Deserialize)]
struct QueryLine {
    query: String,
    relevant: Vec<String>,
}

pub async fn run(command: KnowledgeCommand) -> anyhow::Result<()> {
    match command {
        KnowledgeCommand::Import { file, api } => {
            let report = import(&file, &api).await?;
            println!("imported {} articles ({} unchanged)", report.published, report.unchanged);
            Ok(())
        }
        KnowledgeCommand::Export { out, include_archived, api } => {
            let lines = export(&api, include_archived).await?;
            match out {
                Some(path) => {
                    std::fs::write(&path, lines).with_context(|| format!("cannot write {}", path.display()))
                }
                None => {
                    print!("{lines}");
                    Ok(())
                }
            }
        }
        KnowledgeCommand::Eval(args) => tokio::task::spawn_blocking(move || eval_command(&args)).await?,
        KnowledgeCommand::Calibrate(args) => {
            tokio::task::spawn_blocking(move || calibrate_command(&args)).await?
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportReport {
    pub published: usize,
    pub unchanged: usize,
}

/// Checks every line first (nothing is published from a file with a bad line), then publishes
/// the articles that are new or differ from what the server has.
pub async fn import(file: &Path, api: &ApiArgs) -> anyhow::Result<ImportReport> {
    let lines: Vec<ArticleLine> = lines(file)?;
    for (number, line) in lines.iter().enumerate() {
        let at = || format!("{}: article {} ({})", file.display(), number + 1, line.id);
        anyhow::ensure!(!line.id.trim().is_empty(), "{}: id is empty", at());
        anyhow::ensure!(!line.title.trim().is_empty(), "{}: title is empty", at());
        anyhow::ensure!(!line.body.trim().is_empty(), "{}: body is empty", at());
    }
    let mut client = KnowledgeClient::new(api.connect().await?);
    let mut report = ImportReport { published: 0, unchanged: 0 };
    let count = lines.len();
    let progress = crate::progress::bar(count as u64, "importing");
    for (index, line) in lines.into_iter().enumerate() {
        progress.inc(1);
        if current(&mut client, &line.id).await?.is_some_and(|existing| existing == line) {
            report.unchanged += 1;
            continue;
        }
        let request = PublishArticleRequest {
            article_id: line.id.clone(),
            title: line.title,
            body: line.body,
            locale: line.locale,
            tags: line.tags,
            wait: index + 1 == count,
            product_area: line.product_area,
            example_questions: line.example_questions,
            translation_of: line.translation_of,
            draft_version: 0,
        };
        client.publish_article(request).await.with_context(|| format!("publishing {}", line.id))?;
        report.published += 1;
    }
    progress.finish_and_clear();
    Ok(report)
}

/// The live article as the server has it, in the file's terms; `None` when not live.
async fn current(client: &mut KnowledgeClient<Authorized>, id: &str) -> anyhow::Result<Option<ArticleLine>> {
    match client.get_article(GetArticleRequest { article_id: id.into(), version: 0 }).await {
        Ok(article) => {
            Ok(Some(article.into_inner()).filter(|a| a.status() == ArticleStatus::Published).map(line_of))
        }
        Err(status) if status.code() == Code::NotFound => Ok(None),
        Err(status) => Err(status.into()),
    }
}

fn line_of(article: Article) -> ArticleLine {
    ArticleLine {
        id: article.article_id,
        title: article.title,
        body: article.body,
        locale: article.locale,
        tags: article.tags,
        product_area: article.product_area,
        example_questions: article.example_questions,
        translation_of: article.translation_of,
    }
}

/// Every article as JSON lines, in id order.
pub async fn export(api: &ApiArgs, include_archived: bool) -> anyhow::Result<String> {
    let mut client = KnowledgeClient::new(api.connect().await?);
    let mut out = String::new();
    let mut after = String::new();
    loop {
        let request = ListArticlesRequest { after: after.clone(), limit: 0, include_archived };
        let page = client.list_articles(request).await?.into_inner();
        let exported = page.articles.into_iter().filter(|article| {
            article.status() == ArticleStatus::Published
                || (include_archived && article.status() != ArticleStatus::Draft)
        });
        for article in exported {
            out.push_str(&serde_json::to_string(&line_of(article))?);
            out.push('\n');
        }
        if page.next.is_empty() {
            return Ok(out);
        }
        after = page.next;
    }
}

/// Each non-empty line parsed as `T`; a bad line is named with its number.
pub fn lines<T: for<'de> Deserialize<'de>>(path: &Path) -> anyhow::Result<Vec<T>> {
    let text = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let text =
        String::from_utf8(text).map_err(|e| anyhow::anyhow!("{}: invalid UTF-8: {e}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(number, line)| {
            serde_json::from_str(line).with_context(|| format!("{}:{}", path.display(), number + 1))
        })
        .collect()
}

/// The articles of `args` in an index of their own, and the labelled queries.
fn indexed(args: &EvalArgs) -> anyhow::Result<(ArticleIndex, Vec<LabelledQuery>)> {
    let articles: Vec<ArticleLine> = lines(&args.articles)?;
    let queries: Vec<QueryLine> = lines(&args.queries)?;
    anyhow::ensure!(!articles.is_empty(), "{}: no articles", args.articles.display());
    anyhow::ensure!(!queries.is_empty(), "{}: no queries", args.queries.display());
    let ranking = if args.baseline { Ranking::Plain } else { Ranking::Full };
    let encoder = args.encoder.as_deref().map(SentenceEncoder::load).transpose()?.map(std::sync::Arc::new);
    let mut index = ArticleIndex::open_hybrid(None, ranking, encoder)?;
    for article in articles {
        anyhow::ensure!(!article.title.trim().is_empty(), "article {} has no title", article.id);
        index.upsert(&IndexedArticle {
            article_id: article.id,
            title: article.title,
            body: article.body,
            locale: if article.locale.is_empty() { "en".into() } else { article.locale },
            tags: article.tags,
            product_area: article.product_area,
            example_questions: article.example_questions,
            vectors: None,
        })?;
    }
    index.commit()?;
    let queries =
        queries.into_iter().map(|q| LabelledQuery { query: q.query, relevant: q.relevant }).collect();
    Ok((index, queries))
}

fn calibrate_command(args: &EvalArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.encoder.is_some(), "calibrate needs --encoder (the hybrid blend is what it fits)");
    let (index, queries) = indexed(args)?;
    let calibration = switchboard_knowledge::calibrate::calibrate(&index, &queries, &args.locale)?;
    println!("{}", serde_json::to_string(&calibration)?);
    Ok(())
}

fn eval_command(args: &EvalArgs) -> anyhow::Result<()> {
    let (index, queries) = indexed(args)?;
    let report = evaluate(&index, &queries, &args.locale)?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "n {} recall@1 {:.4} recall@5 {:.4} mrr@10 {:.4} p50 {:.0} us p99 {:.0} us",
            report.n, report.recall_at_1, report.recall_at_5, report.mrr_at_10, report.p50_us, report.p99_us
        );
    }
    Ok(())
}
