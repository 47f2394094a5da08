//! `switchboard knowledge eval`: search quality on a labelled set, in process. The flags and the
//! `--json` report are a contract.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, Subcommand};
use serde::Deserialize;
use switchboard_knowledge::eval::{LabelledQuery, evaluate};
use switchboard_knowledge::index::{ArticleIndex, IndexedArticle, Ranking};

#[derive(Debug, Subcommand)]
pub enum KnowledgeCommand {
    /// Index articles (JSON lines: id, title, body, locale, tags) and measure search on labelled
    /// queries (JSON lines: query, relevant).
    Eval(EvalArgs),
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
    /// Print one JSON object: recall_at_1, recall_at_5, mrr_at_10, p50_us, p99_us, n.
    #[arg(long)]
    pub json: bool,
}

#[derive(Deserialize)]
struct ArticleLine {
    id: String,
    title: String,
    body: String,
    #[serde(default)]
    locale: String,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Deserialize)]
struct QueryLine {
    query: String,
    relevant: Vec<String>,
}

pub fn run(command: KnowledgeCommand) -> anyhow::Result<()> {
    match command {
        KnowledgeCommand::Eval(args) => eval_command(&args),
    }
}

/// Each non-empty line parsed as `T`; a bad line is named with its number.
fn lines<T: for<'de> Deserialize<'de>>(path: &Path) -> anyhow::Result<Vec<T>> {
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

fn eval_command(args: &EvalArgs) -> anyhow::Result<()> {
    let articles: Vec<ArticleLine> = lines(&args.articles)?;
    let queries: Vec<QueryLine> = lines(&args.queries)?;
    anyhow::ensure!(!articles.is_empty(), "{}: no articles", args.articles.display());
    anyhow::ensure!(!queries.is_empty(), "{}: no queries", args.queries.display());
    let ranking = if args.baseline { Ranking::Plain } else { Ranking::Full };
    let mut index = ArticleIndex::open_with(None, ranking)?;
    for article in articles {
        anyhow::ensure!(!article.title.trim().is_empty(), "article {} has no title", article.id);
        index.upsert(&IndexedArticle {
            article_id: article.id,
            title: article.title,
            body: article.body,
            locale: if article.locale.is_empty() { "en".into() } else { article.locale },
            tags: article.tags,
        })?;
    }
    index.commit()?;
    let queries: Vec<LabelledQuery> =
        queries.into_iter().map(|q| LabelledQuery { query: q.query, relevant: q.relevant }).collect();
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
