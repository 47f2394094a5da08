//! The knowledge search index: indexing 10,000 articles into a directory, then searching them.
//! Articles are generated from a fixed vocabulary with a fixed seed, so runs compare.

use std::time::{Duration, Instant};

use switchboard_knowledge::index::{ArticleIndex, Filters, IndexedArticle, Ranking};

use crate::seeded::Seeded;

const WORDS: &[&str] = &[
    "order",
    "refund",
    "return",
    "delivery",
    "parcel",
    "tracking",
    "invoice",
    "payment",
    "card",
    "password",
    "account",
    "login",
    "subscription",
    "plan",
    "upgrade",
    "cancel",
    "address",
    "shipping",
    "warranty",
    "repair",
    "router",
    "internet",
    "signal",
    "sim",
    "activation",
    "data",
    "roaming",
    "bill",
    "charge",
    "discount",
    "voucher",
    "gift",
    "exchange",
    "size",
    "colour",
    "damaged",
    "missing",
    "courier",
    "customs",
    "store",
    "pickup",
    "appointment",
    "demo",
    "pricing",
    "business",
    "team",
    "export",
    "app",
    "update",
    "error",
];

/// A deterministic word stream.
struct Words(Seeded);

impl Words {
    fn next(&mut self) -> &'static str {
        self.0.pick(WORDS)
    }

    fn sentence(&mut self, n: usize) -> String {
        (0..n).map(|_| self.next()).collect::<Vec<_>>().join(" ")
    }
}

pub(crate) fn percentile(sorted: &[Duration], q: f64) -> Duration {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
    sorted.get(rank - 1).copied().unwrap_or_default()
}

/// Lexical search over `articles` generated articles, then hybrid search when the sentence
/// encoder is here (`SWITCHBOARD_ENCODER_DIR`, else `.local/models/all-minilm-l6-v2`). The hybrid
/// articles have a one-sentence body: embedding 10,000 bodies of 150 words takes a quarter of an
/// hour on two cores, and what a search costs is the question's embedding and one dot product per
/// stored vector (two an article here), not the length of the texts.
pub fn measure(articles: usize, queries: usize) -> anyhow::Result<()> {
    measure_with(articles, queries, None)?;
    let directory = std::env::var_os("SWITCHBOARD_ENCODER_DIR")
        .map_or_else(|| std::path::PathBuf::from(".local/models/all-minilm-l6-v2"), Into::into);
    if !directory.join("model.safetensors").exists() {
        println!("search index (hybrid): skipped, no sentence encoder at {}", directory.display());
        return Ok(());
    }
    let encoder = std::sync::Arc::new(switchboard_nlu::embed::SentenceEncoder::load(&directory)?);
    measure_with(articles, queries, Some(encoder))
}

/// Words in a generated article's body.
fn body_words(hybrid: bool) -> usize {
    if hybrid { 12 } else { 150 }
}

fn measure_with(
    articles: usize,
    queries: usize,
    encoder: Option<std::sync::Arc<switchboard_nlu::embed::SentenceEncoder>>,
) -> anyhow::Result<()> {
    let mode = if encoder.is_some() { "hybrid" } else { "lexical" };
    let directory = std::env::temp_dir().join(format!("switchboard-bench-index-{}", std::process::id()));
    let mut words = Words(Seeded::new(7));
    let started = Instant::now();
    let mut index = ArticleIndex::open_hybrid(Some(&directory), Ranking::Full, encoder.clone())?;
    let hybrid = index.is_hybrid();
    for i in 0..articles {
        index.upsert(&IndexedArticle {
            article_id: format!("a-{i}"),
            title: words.sentence(6),
            body: words.sentence(body_words(hybrid)),
            locale: "en".into(),
            tags: vec![words.next().to_owned()],
            ..IndexedArticle::default()
        })?;
    }
    index.commit()?;
    let indexing = started.elapsed();
    let mut latencies = Vec::with_capacity(queries);
    let mut found = 0;
    for _ in 0..queries {
        let query = words.sentence(4);
        let started = Instant::now();
        found += index.search(&query, &Filters { locale: "en", ..Filters::default() }, 5)?.len();
        latencies.push(started.elapsed());
    }
    latencies.sort();
    let mut suggest_latencies = Vec::with_capacity(queries);
    for _ in 0..queries {
        let word = words.next();
        let typed = format!("{} {}", words.next(), &word[..word.len().min(3)]);
        let started = Instant::now();
        index.suggest(&typed, "en", 5)?;
        suggest_latencies.push(started.elapsed());
    }
    suggest_latencies.sort();
    println!(
        "suggest ({mode} index): {queries} prefixes p50 {:.2} ms, p99 {:.2} ms",
        percentile(&suggest_latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&suggest_latencies, 0.99).as_secs_f64() * 1e3,
    );
    println!(
        "search index ({mode}): {articles} articles indexed in {:.2} s; {queries} searches (top 5, snippets) p50 {:.2} ms, p99 {:.2} ms, {found} hits",
        indexing.as_secs_f64(),
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
    );
    if let Some(encoder) = encoder {
        print_embedding(&encoder, &mut words, queries)?;
    }
    std::fs::remove_dir_all(&directory)?;
    Ok(())
}

/// What of a hybrid search is the question's embedding: the encoder alone on the same kind of
/// questions.
fn print_embedding(
    encoder: &switchboard_nlu::embed::SentenceEncoder,
    words: &mut Words,
    queries: usize,
) -> anyhow::Result<()> {
    let mut latencies = Vec::with_capacity(queries);
    for _ in 0..queries {
        let query = words.sentence(4);
        let started = Instant::now();
        encoder.embed(&[query.as_str()])?;
        latencies.push(started.elapsed());
    }
    latencies.sort();
    println!(
        "search index (hybrid): of which the question's embedding alone, {queries} questions p50 {:.2} ms, p99 {:.2} ms",
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
    );
    Ok(())
}
