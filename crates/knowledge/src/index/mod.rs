//! The article search index (tantivy): one title and one body field per analyzer, so every
//! article is analysed by its own language's rules — stemming for European languages, bigrams
//! for Chinese, Japanese and Korean — and a query by the rules of the locale it asks in.
//! Typos are tolerated (edit distance 1, transpositions included) outside CJK text.
//!
//! Every document belongs to a tenant: its `tenant` field scopes every search and suggestion (a
//! `Must` clause), and its `key` (`tenant/article_id`) is what an update or removal deletes by,
//! so one tenant's article never replaces or removes another tenant's of the same id.

mod cjk;
pub mod dense;
mod hybrid;
mod indexer;
mod passage;
mod query;
mod score;
#[cfg(test)]
mod tenant_tests;

use std::path::Path;
use std::sync::Arc;

use switchboard_bus::DEFAULT_TENANT;
use switchboard_nlu::embed::SentenceEncoder;
use tantivy::schema::{Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter,
    TextAnalyzer,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Term, doc};

pub use cjk::CjkBigramTokenizer;
pub use hybrid::{Blend, Candidate, HYBRID_BLEND, HitScores, rank};
pub use indexer::{SharedIndex, spawn_indexer};
pub use passage::best_passage;
pub use query::Filters;
pub use score::{lexical_confidence, relevance};

/// Analyzers, by name; `default` takes locales without one of their own.
const ANALYZERS: &[(&str, Option<Language>)] = &[
    ("en", Some(Language::English)),
    ("es", Some(Language::Spanish)),
    ("fr", Some(Language::French)),
    ("de", Some(Language::German)),
    ("pt", Some(Language::Portuguese)),
    ("it", Some(Language::Italian)),
    ("nl", Some(Language::Dutch)),
    ("ru", Some(Language::Russian)),
    ("sv", Some(Language::Swedish)),
    ("da", Some(Language::Danish)),
    ("fi", Some(Language::Finnish)),
    ("no", Some(Language::Norwegian)),
    ("tr", Some(Language::Turkish)),
    ("ar", Some(Language::Arabic)),
    ("el", Some(Language::Greek)),
    ("ro", Some(Language::Romanian)),
    ("hu", Some(Language::Hungarian)),
    ("cjk", None),
    ("default", None),
];

/// Index writer memory budget.
const WRITER_BYTES: usize = 50_000_000;

/// A locale's primary language subtag, lower case.
pub fn language_of(locale: &str) -> String {
    locale.split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase()
}

/// Opens the index kept in `directory`; one written with another schema (an older release, e.g.
/// one from before tenants) is emptied, its checkpoint with it, and the indexer rebuilds it from
/// the events: a mixed index is never served.
fn open_in(directory: &Path, schema: Schema) -> Result<Index, IndexError> {
    std::fs::create_dir_all(directory).map_err(|e| tantivy::TantivyError::SystemError(e.to_string()))?;
    let open = || -> Result<Index, IndexError> {
        let mmap = tantivy::directory::MmapDirectory::open(directory)?;
        Ok(Index::open_or_create(mmap, schema.clone())?)
    };
    match open() {
        Err(IndexError::Tantivy(tantivy::TantivyError::SchemaError(reason))) => {
            tracing::info!(%reason, "search index schema changed; rebuilding it from the events");
            std::fs::remove_dir_all(directory)
                .map_err(|e| tantivy::TantivyError::SystemError(e.to_string()))?;
            std::fs::create_dir_all(directory)
                .map_err(|e| tantivy::TantivyError::SystemError(e.to_string()))?;
            open()
        }
        other => other,
    }
}

/// The analyzer a locale's text goes through.
pub fn analyzer_of(locale: &str) -> &'static str {
    let language = locale.split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase();
    match language.as_str() {
        "zh" | "ja" | "ko" => "cjk",
        "nb" | "nn" => "no",
        other => ANALYZERS.iter().find(|(name, _)| *name == other).map_or("default", |(name, _)| name),
    }
}

/// The tenant an index call without one acts on: only offline tools (evaluation, benchmarks)
/// leave it empty; the service always names the caller's tenant.
fn tenant_or_default(tenant: &str) -> &str {
    if tenant.is_empty() { DEFAULT_TENANT } else { tenant }
}

/// What deletes and replaces one tenant's article: `tenant/article_id` (a tenant has no `/`).
fn article_key(tenant: &str, article_id: &str) -> String {
    format!("{}/{article_id}", tenant_or_default(tenant))
}

/// What the index keeps of an article.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IndexedArticle {
    pub article_id: String,
    pub title: String,
    pub body: String,
    pub locale: String,
    pub tags: Vec<String>,
    pub product_area: String,
    /// Indexed with the title: customers' wording of what the article answers.
    pub example_questions: Vec<String>,
    /// The embeddings of [`dense::texts_of`], concatenated, when computed before indexing (the
    /// indexer embeds outside the write lock); a hybrid index embeds what comes without.
    pub vectors: Option<Vec<f32>>,
}

/// What a search reads of each hit beyond its score and stored fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    /// Coverage and confidence (reads each hit's text again).
    pub scored: bool,
    /// A snippet with the matched words marked (makes a snippet generator per search).
    pub snippets: bool,
}

impl Reading {
    /// A list people read: snippets, no confidence.
    pub const LISTED: Self = Self { scored: false, snippets: true };
    /// A list that is also decided on (deflection): snippets and confidence.
    pub const SCORED: Self = Self { scored: true, snippets: true };
    /// The bot's answer, which says a passage and never shows a snippet: confidence only.
    pub const ANSWER: Self = Self { scored: true, snippets: false };
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct IndexHit {
    pub article_id: String,
    pub title: String,
    pub locale: String,
    /// Best passage, matched words in `<b>`; empty when the search read none ([`Reading`]).
    pub snippet: String,
    /// BM25, unbounded (0 for an article only dense retrieval found).
    pub score: f32,
    /// What the hits are ranked by, 0..1: BM25 mapped to 0..1 in a lexical index, the blend of
    /// similarity and lexical confidence in a hybrid one.
    pub relevance: f32,
    /// How sure the hit answers the query, 0..1; only from a scored reading (`search_scored`, or a
    /// [`Reading`] with `scored`), 0 otherwise.
    pub confidence: f32,
    /// Share of the query's terms the article contains (title, questions or body), 0..1; only
    /// from a scored reading, as `confidence`, 0 otherwise.
    pub coverage: f32,
    /// The article's body (Markdown).
    pub body: String,
}

#[derive(Clone, Copy)]
struct TextFields {
    title: Field,
    body: Field,
}

struct Fields {
    article_id: Field,
    /// The article's tenant: every search filters on it.
    tenant: Field,
    /// `tenant/article_id`, what updates and removals delete by.
    key: Field,
    locale: Field,
    /// The locale's primary language subtag in lower case (`zh` for `zh-Hant`).
    language: Field,
    analyzer: Field,
    tags: Field,
    product_area: Field,
    title_stored: Field,
    questions_stored: Field,
    /// The article's embeddings (half precision) and the encoder that made them.
    vectors: Field,
    encoder: Field,
    text: Vec<(&'static str, TextFields)>,
}

pub struct ArticleIndex {
    index: Index,
    reader: IndexReader,
    writer: IndexWriter,
    fields: Fields,
    ranking: Ranking,
    /// Present: searches are hybrid (BM25 fused with dense retrieval); absent: lexical only.
    encoder: Option<Arc<SentenceEncoder>>,
    dense: dense::DenseStore,
}

/// `Plain` is the baseline the product is measured against: BM25 over lowercased words, no
/// stemming, stop words, typo tolerance or title weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ranking {
    Full,
    Plain,
}

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("search index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("search index directory: {0}")]
    Directory(#[from] tantivy::directory::error::OpenDirectoryError),
    #[error("query: {0}")]
    Query(#[from] tantivy::query::QueryParserError),
    #[error("sentence encoder: {0}")]
    Encoder(#[from] switchboard_nlu::embed::EncoderError),
}

fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let article_id = builder.add_text_field("article_id", STRING | STORED);
    let tenant = builder.add_text_field("tenant", STRING | STORED);
    let key = builder.add_text_field("key", STRING);
    let locale = builder.add_text_field("locale", STRING | STORED);
    let language = builder.add_text_field("language", STRING);
    let analyzer = builder.add_text_field("analyzer", STRING);
    let tags = builder.add_text_field("tags", STRING | STORED);
    let product_area = builder.add_text_field("product_area", STRING | STORED);
    let title_stored = builder.add_text_field("title", STORED);
    let questions_stored = builder.add_text_field("questions", STORED);
    let vectors = builder.add_bytes_field("vectors", STORED);
    let encoder = builder.add_text_field("encoder", STRING | STORED);
    let text = ANALYZERS
        .iter()
        .map(|(name, _)| {
            let options = TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(&format!("sb_{name}"))
                    .set_index_option(IndexRecordOption::WithFreqsAndPositions),
            );
            let title = builder.add_text_field(&format!("title_{name}"), options.clone());
            let body = builder.add_text_field(&format!("body_{name}"), options.set_stored());
            (*name, TextFields { title, body })
        })
        .collect();
    (
        builder.build(),
        Fields {
            article_id,
            tenant,
            key,
            locale,
            language,
            analyzer,
            tags,
            product_area,
            title_stored,
            questions_stored,
            vectors,
            encoder,
            text,
        },
    )
}

fn register_analyzers(index: &Index) {
    for (name, language) in ANALYZERS {
        let analyzer = match (name, language) {
            (&"cjk", _) => TextAnalyzer::builder(CjkBigramTokenizer::default()).build(),
            (_, Some(language)) => TextAnalyzer::builder(SimpleTokenizer::default())
                .filter(RemoveLongFilter::limit(40))
                .filter(LowerCaser)
                .filter(stop_words(*language))
                .filter(AsciiFoldingFilter)
                .filter(Stemmer::new(*language))
                .build(),
            _ => TextAnalyzer::builder(SimpleTokenizer::default())
                .filter(RemoveLongFilter::limit(40))
                .filter(LowerCaser)
                .filter(AsciiFoldingFilter)
                .build(),
        };
        index.tokenizers().register(&format!("sb_{name}"), analyzer);
    }
}

/// English adds pronouns and auxiliaries to tantivy's short list: customers write "my" and "do"
/// in every question, and in a small knowledge base they outweigh the words that matter.
const ENGLISH_EXTRA_STOP_WORDS: &[&str] = &[
    "i", "me", "my", "mine", "you", "your", "yours", "we", "us", "our", "he", "she", "his", "her", "its",
    "them", "do", "does", "did", "have", "has", "had", "am", "been", "would", "could", "should", "can",
    "i'm", "i've", "so", "very", "just", "please", "how", "what", "where", "when", "why",
];

fn stop_words(language: Language) -> StopWordFilter {
    let base = StopWordFilter::new(language);
    match language {
        Language::English => {
            let mut words: Vec<String> = ENGLISH_EXTRA_STOP_WORDS.iter().map(|w| (*w).to_owned()).collect();
            words.extend(
                [
                    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is",
                    "it", "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there",
                    "these", "they", "this", "to", "was", "will", "with",
                ]
                .iter()
                .map(|w| (*w).to_owned()),
            );
            StopWordFilter::remove(words)
        }
        _ => base.unwrap_or_else(|| StopWordFilter::remove(Vec::new())),
    }
}

impl ArticleIndex {
    /// In `directory` (created if missing; kept across restarts), or in memory.
    pub fn open(directory: Option<&Path>) -> Result<Self, IndexError> {
        Self::open_with(directory, Ranking::Full)
    }

    pub fn open_with(directory: Option<&Path>, ranking: Ranking) -> Result<Self, IndexError> {
        Self::open_hybrid(directory, ranking, None)
    }

    /// With an encoder, searches are hybrid; an index whose articles were embedded by another
    /// encoder, or not at all, is emptied and rebuilt from the events (as for a new schema).
    pub fn open_hybrid(
        directory: Option<&Path>,
        ranking: Ranking,
        encoder: Option<Arc<SentenceEncoder>>,
    ) -> Result<Self, IndexError> {
        let (opened, current) = Self::open_once(directory, ranking, encoder.clone())?;
        match directory {
            Some(directory) if !current => {
                tracing::info!("search index embedded by another encoder; rebuilding it from the events");
                drop(opened);
                std::fs::remove_dir_all(directory)
                    .map_err(|e| tantivy::TantivyError::SystemError(e.to_string()))?;
                Ok(Self::open_once(Some(directory), ranking, encoder)?.0)
            }
            _ => Ok(opened),
        }
    }

    fn open_once(
        directory: Option<&Path>,
        ranking: Ranking,
        encoder: Option<Arc<SentenceEncoder>>,
    ) -> Result<(Self, bool), IndexError> {
        let (schema, fields) = schema();
        let index = match directory {
            Some(directory) => open_in(directory, schema)?,
            None => Index::create_in_ram(schema),
        };
        register_analyzers(&index);
        let writer = index.writer(WRITER_BYTES)?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        let dense = dense::DenseStore::new(encoder.as_ref());
        let mut opened = Self { index, reader, writer, fields, ranking, encoder, dense };
        let current = opened.load_vectors()?;
        Ok((opened, current))
    }

    /// Whether searches fuse dense retrieval with BM25.
    pub fn is_hybrid(&self) -> bool {
        self.encoder.is_some()
    }

    fn analyzer_for(&self, locale: &str) -> &'static str {
        match self.ranking {
            Ranking::Full => analyzer_of(locale),
            Ranking::Plain => "default",
        }
    }

    fn text_fields(&self, analyzer: &str) -> TextFields {
        self.fields
            .text
            .iter()
            .find(|(name, _)| *name == analyzer)
            .or_else(|| self.fields.text.last())
            .map(|(_, fields)| *fields)
            .unwrap_or(TextFields { title: self.fields.title_stored, body: self.fields.title_stored })
    }

    /// Replaces the default tenant's article (offline tools, which index one knowledge base).
    pub fn upsert(&mut self, article: &IndexedArticle) -> Result<(), IndexError> {
        self.upsert_in(DEFAULT_TENANT, article)
    }

    /// Replaces `tenant`'s entry of the article, and no other tenant's (uncommitted until
    /// `commit`).
    pub fn upsert_in(&mut self, tenant: &str, article: &IndexedArticle) -> Result<(), IndexError> {
        self.remove(tenant, &article.article_id);
        let analyzer = self.analyzer_for(&article.locale);
        let text = self.text_fields(analyzer);
        let mut document = doc!(
            self.fields.article_id => article.article_id.clone(),
            self.fields.tenant => tenant_or_default(tenant),
            self.fields.key => article_key(tenant, &article.article_id),
            self.fields.locale => article.locale.clone(),
            self.fields.language => language_of(&article.locale),
            self.fields.analyzer => analyzer,
            self.fields.product_area => article.product_area.clone(),
            self.fields.title_stored => article.title.clone(),
            text.title => article.title.clone(),
            text.body => article.body.clone(),
        );
        for tag in &article.tags {
            document.add_text(self.fields.tags, tag);
        }
        for question in &article.example_questions {
            document.add_text(text.title, question);
            document.add_text(self.fields.questions_stored, question);
        }
        if let Some(vectors) = self.vectors_of(article)? {
            document.add_bytes(self.fields.vectors, &dense::to_bytes(&vectors));
            document.add_text(self.fields.encoder, dense::encoder_id(self.encoder.as_deref()));
            let stored = dense::ArticleVectors {
                language: language_of(&article.locale),
                tags: article.tags.clone(),
                product_area: article.product_area.clone(),
                vectors,
            };
            self.dense.insert(tenant, &article.article_id, stored);
        }
        self.writer.add_document(document)?;
        Ok(())
    }

    /// Removes `tenant`'s article; another tenant's of the same id stays.
    pub fn remove(&mut self, tenant: &str, article_id: &str) {
        self.writer.delete_term(Term::from_field_text(self.fields.key, &article_key(tenant, article_id)));
        self.dense.remove(tenant, article_id);
    }

    /// Makes the changes durable and visible.
    pub fn commit(&mut self) -> Result<(), IndexError> {
        self.writer.commit()?;
        self.reader.reload()?;
        Ok(())
    }

    /// Commits, recording the last event stream sequence the index has applied.
    pub fn commit_at(&mut self, sequence: u64) -> Result<(), IndexError> {
        let mut prepared = self.writer.prepare_commit()?;
        prepared.set_payload(&sequence.to_string());
        prepared.commit()?;
        self.reader.reload()?;
        Ok(())
    }

    /// The sequence recorded by the last `commit_at` (0 for a new index).
    pub fn checkpoint(&self) -> Result<u64, IndexError> {
        let metas = self.index.load_metas()?;
        Ok(metas.payload.and_then(|payload| payload.parse().ok()).unwrap_or(0))
    }
}

/// Words at least this long also match with one edit (shorter ones find too much noise).
const FUZZY_MIN_CHARS: usize = 5;
const TITLE_BOOST: f32 = 2.0;
const FUZZY_BOOST: f32 = 0.3;

#[cfg(test)]
mod tests {
    use super::*;

    fn article(id: &str, locale: &str, title: &str, body: &str) -> IndexedArticle {
        IndexedArticle {
            article_id: id.into(),
            title: title.into(),
            body: body.into(),
            locale: locale.into(),
            tags: vec![],
            product_area: String::new(),
            example_questions: vec![],
            vectors: None,
        }
    }

    fn in_locale(locale: &str) -> Filters<'_> {
        Filters { locale, ..Filters::default() }
    }

    fn index() -> ArticleIndex {
        let mut index = ArticleIndex::open(None).expect("index opens");
        for a in [
            article(
                "refunds",
                "en",
                "Getting a refund",
                "Refunds are paid to the original card within 5 days of receiving your return.",
            ),
            article(
                "password",
                "en",
                "Resetting your password",
                "Use the forgot password link on the sign-in page to get a reset email.",
            ),
            article(
                "tracking",
                "en",
                "Where is my order?",
                "Open the tracking link in your shipping confirmation email.",
            ),
            article(
                "returns-zh",
                "zh-Hant",
                "如何退貨",
                "在訂單頁面點選申請退貨，我們會寄出退貨標籤。退款會在收到商品後五天內退回。",
            ),
            article(
                "returns-es",
                "es",
                "Devoluciones",
                "Puedes devolver un producto en 30 días y recibir el reembolso.",
            ),
        ] {
            index.upsert(&a).expect("indexed");
        }
        index.commit().expect("committed");
        index
    }

    fn ids(hits: &[IndexHit]) -> Vec<&str> {
        hits.iter().map(|h| h.article_id.as_str()).collect()
    }

    #[test]
    fn stemming_typos_and_snippets() {
        let index = index();
        let hits = index.search("how long do refunds take", &in_locale("en"), 3).expect("search");
        assert_eq!(ids(&hits).first(), Some(&"refunds"), "{hits:?}");
        assert!(hits[0].snippet.contains("<b>"), "{}", hits[0].snippet);
        let hits = index.search("forgot my pasword", &in_locale("en"), 3).expect("search");
        assert_eq!(ids(&hits).first(), Some(&"password"), "{hits:?}");
    }

    #[test]
    fn an_answer_reads_the_same_hits_and_confidence_without_snippets() {
        let index = index();
        for question in ["how long do refunds take", "forgot my pasword", "我想退貨，要怎麼做？"] {
            let scored = index.search_reading(question, &in_locale(""), 3, Reading::SCORED).expect("search");
            let answer = index.search_reading(question, &in_locale(""), 3, Reading::ANSWER).expect("search");
            assert!(!scored.is_empty(), "{question}");
            assert!(scored.iter().all(|hit| !hit.snippet.is_empty()), "{scored:?}");
            let without_snippets: Vec<IndexHit> =
                scored.into_iter().map(|hit| IndexHit { snippet: String::new(), ..hit }).collect();
            assert_eq!(answer, without_snippets, "{question}");
        }
    }

    #[test]
    fn traditional_chinese_finds_its_article_and_locales_filter() {
        let index = index();
        let hits = index.search("我想退貨，要怎麼做？", &in_locale("zh-Hant"), 3).expect("search");
        assert_eq!(ids(&hits), ["returns-zh"]);
        let hits = index.search("reembolso", &in_locale("es"), 3).expect("search");
        assert_eq!(ids(&hits), ["returns-es"]);
        let everywhere = index.search("refund", &in_locale(""), 5).expect("search");
        assert!(ids(&everywhere).contains(&"refunds"));
    }

    #[test]
    fn suggestions_follow_the_typing() {
        let index = index();
        let titles = |typed: &str| -> Vec<String> {
            index.suggest(typed, "en", 3).expect("suggest").into_iter().map(|(id, _)| id).collect()
        };
        assert_eq!(titles("reset your pass"), ["password"]);
        assert_eq!(titles("getting a ref"), ["refunds"]);
        assert_eq!(titles("pasw"), ["password"], "one typo in a prefix");
        assert!(titles("zzz").is_empty());
        let zh: Vec<String> =
            index.suggest("如何退", "zh-Hant", 3).expect("suggest").into_iter().map(|(id, _)| id).collect();
        assert_eq!(zh, ["returns-zh"]);
    }

    #[test]
    fn updates_replace_and_removals_hide() {
        let mut index = index();
        index
            .upsert(&article(
                "tracking",
                "en",
                "Track a parcel",
                "Parcels can be followed with the courier number.",
            ))
            .expect("indexed");
        index.remove(DEFAULT_TENANT, "password");
        index.commit().expect("committed");
        assert_eq!(ids(&index.search("courier parcel", &in_locale("en"), 5).expect("search")), ["tracking"]);
        assert!(index.search("password", &in_locale("en"), 5).expect("search").is_empty());
    }
}
