//! The article search index (tantivy): one title and one body field per analyzer, so every
//! article is analysed by its own language's rules — stemming for European languages, bigrams
//! for Chinese, Japanese and Korean — and a query by the rules of the locale it asks in.
//! Typos are tolerated (edit distance 1, transpositions included) outside CJK text.

mod cjk;
mod indexer;

use std::path::Path;

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, FuzzyTermQuery, Occur, Query, TermQuery};
use tantivy::schema::document::Value as _;
use tantivy::schema::{
    Field, IndexRecordOption, STORED, STRING, Schema, TantivyDocument, TextFieldIndexing, TextOptions,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter,
    TextAnalyzer,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Term, doc};

pub use cjk::CjkBigramTokenizer;
pub use indexer::{SharedIndex, spawn_indexer};

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

/// The analyzer a locale's text goes through.
pub fn analyzer_of(locale: &str) -> &'static str {
    let language = locale.split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase();
    match language.as_str() {
        "zh" | "ja" | "ko" => "cjk",
        "nb" | "nn" => "no",
        other => ANALYZERS.iter().find(|(name, _)| *name == other).map_or("default", |(name, _)| name),
    }
}

/// What the index keeps of an article.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexedArticle {
    pub article_id: String,
    pub title: String,
    pub body: String,
    pub locale: String,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IndexHit {
    pub article_id: String,
    pub title: String,
    /// Best passage, matched words in `<b>`.
    pub snippet: String,
    pub score: f32,
}

#[derive(Clone, Copy)]
struct TextFields {
    title: Field,
    body: Field,
}

struct Fields {
    article_id: Field,
    locale: Field,
    analyzer: Field,
    tags: Field,
    title_stored: Field,
    text: Vec<(&'static str, TextFields)>,
}

pub struct ArticleIndex {
    index: Index,
    reader: IndexReader,
    writer: IndexWriter,
    fields: Fields,
    ranking: Ranking,
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
}

fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let article_id = builder.add_text_field("article_id", STRING | STORED);
    let locale = builder.add_text_field("locale", STRING | STORED);
    let analyzer = builder.add_text_field("analyzer", STRING);
    let tags = builder.add_text_field("tags", STRING | STORED);
    let title_stored = builder.add_text_field("title", STORED);
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
    (builder.build(), Fields { article_id, locale, analyzer, tags, title_stored, text })
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
        let (schema, fields) = schema();
        let index = match directory {
            Some(directory) => {
                std::fs::create_dir_all(directory)
                    .map_err(|e| tantivy::TantivyError::SystemError(e.to_string()))?;
                let mmap = tantivy::directory::MmapDirectory::open(directory)?;
                Index::open_or_create(mmap, schema)?
            }
            None => Index::create_in_ram(schema),
        };
        register_analyzers(&index);
        let writer = index.writer(WRITER_BYTES)?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        Ok(Self { index, reader, writer, fields, ranking })
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

    /// Replaces the article's entry (uncommitted until `commit`).
    pub fn upsert(&mut self, article: &IndexedArticle) -> Result<(), IndexError> {
        self.remove(&article.article_id);
        let analyzer = self.analyzer_for(&article.locale);
        let text = self.text_fields(analyzer);
        let mut document = doc!(
            self.fields.article_id => article.article_id.clone(),
            self.fields.locale => article.locale.clone(),
            self.fields.analyzer => analyzer,
            self.fields.title_stored => article.title.clone(),
            text.title => article.title.clone(),
            text.body => article.body.clone(),
        );
        for tag in &article.tags {
            document.add_text(self.fields.tags, tag);
        }
        self.writer.add_document(document)?;
        Ok(())
    }

    pub fn remove(&mut self, article_id: &str) {
        self.writer.delete_term(Term::from_field_text(self.fields.article_id, article_id));
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

    /// Any of the query's terms (as `analyzer` cuts them) in title or body; near misses of
    /// longer words count for less. `None` when the query has no terms for this analyzer.
    fn words_query(&self, analyzer: &str, query: &str) -> Result<Option<Box<dyn Query>>, IndexError> {
        let fields = self.text_fields(analyzer);
        let mut tokenizer = self.index.tokenizer_for_field(fields.body)?;
        let mut stream = tokenizer.token_stream(query);
        let mut terms: Vec<String> = Vec::new();
        while let Some(token) = stream.next() {
            if !terms.contains(&token.text) {
                terms.push(token.text.clone());
            }
        }
        if terms.is_empty() {
            return Ok(None);
        }
        let full = self.ranking == Ranking::Full;
        let title_boost = if full { TITLE_BOOST } else { 1.0 };
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for text in &terms {
            let exact = |field: Field| {
                TermQuery::new(Term::from_field_text(field, text), IndexRecordOption::WithFreqs)
            };
            clauses
                .push((Occur::Should, Box::new(BoostQuery::new(Box::new(exact(fields.title)), title_boost))));
            clauses.push((Occur::Should, Box::new(exact(fields.body))));
            if full && analyzer != "cjk" && text.chars().count() >= FUZZY_MIN_CHARS {
                let fuzzy = FuzzyTermQuery::new(Term::from_field_text(fields.body, text), 1, true);
                clauses.push((Occur::Should, Box::new(BoostQuery::new(Box::new(fuzzy), FUZZY_BOOST))));
            }
        }
        Ok(Some(Box::new(BooleanQuery::new(clauses))))
    }

    /// Titles for what a customer has typed so far: earlier words as terms, the last one as a
    /// prefix (one edit allowed from four letters on) unless the text ends with a space.
    pub fn suggest(
        &self,
        typed: &str,
        locale: &str,
        limit: usize,
    ) -> Result<Vec<(String, String)>, IndexError> {
        let analyzers: Vec<&str> = if locale.is_empty() {
            self.fields.text.iter().map(|(name, _)| *name).collect()
        } else {
            vec![self.analyzer_for(locale)]
        };
        let partial = !typed.ends_with(char::is_whitespace);
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for analyzer in analyzers {
            let title = self.text_fields(analyzer).title;
            let mut tokenizer = self.index.tokenizer_for_field(title)?;
            let mut stream = tokenizer.token_stream(typed);
            let mut terms: Vec<String> = Vec::new();
            while let Some(token) = stream.next() {
                terms.push(token.text.clone());
            }
            let Some(last) = terms.last().cloned() else { continue };
            let mut per_analyzer: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            let whole = if partial { &terms[..terms.len() - 1] } else { &terms[..] };
            for text in whole {
                let query = TermQuery::new(Term::from_field_text(title, text), IndexRecordOption::WithFreqs);
                per_analyzer.push((Occur::Should, Box::new(query)));
            }
            if partial {
                let distance = u8::from(analyzer != "cjk" && last.chars().count() >= 4);
                let prefix = FuzzyTermQuery::new_prefix(Term::from_field_text(title, &last), distance, true);
                per_analyzer.push((Occur::Must, Box::new(prefix)));
            }
            if !locale.is_empty() {
                let term = Term::from_field_text(self.fields.analyzer, analyzer);
                per_analyzer.push((Occur::Must, Box::new(TermQuery::new(term, IndexRecordOption::Basic))));
            }
            clauses.push((Occur::Should, Box::new(BooleanQuery::new(per_analyzer))));
        }
        if clauses.is_empty() {
            return Ok(Vec::new());
        }
        let searcher = self.reader.searcher();
        let top = searcher
            .search(&BooleanQuery::new(clauses), &TopDocs::with_limit(limit.max(1)).order_by_score())?;
        let mut suggestions = Vec::with_capacity(top.len());
        for (_, address) in top {
            let document: TantivyDocument = searcher.doc(address)?;
            let text = |field: Field| {
                document
                    .get_first(field)
                    .and_then(|value| value.as_str().map(str::to_owned))
                    .unwrap_or_default()
            };
            suggestions.push((text(self.fields.article_id), text(self.fields.title_stored)));
        }
        Ok(suggestions)
    }

    /// Articles for `query`, best first. `locale` picks the analyzer and filters by language
    /// (empty: every language, each analyzer asked).
    pub fn search(&self, query: &str, locale: &str, limit: usize) -> Result<Vec<IndexHit>, IndexError> {
        let analyzers: Vec<&str> = if locale.is_empty() {
            self.fields.text.iter().map(|(name, _)| *name).collect()
        } else {
            vec![self.analyzer_for(locale)]
        };
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for analyzer in &analyzers {
            let Some(words) = self.words_query(analyzer, query)? else { continue };
            let mut per_analyzer: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, words)];
            if !locale.is_empty() {
                let term = Term::from_field_text(self.fields.analyzer, analyzer);
                per_analyzer.push((Occur::Must, Box::new(TermQuery::new(term, IndexRecordOption::Basic))));
            }
            clauses.push((Occur::Should, Box::new(BooleanQuery::new(per_analyzer))));
        }
        let query = BooleanQuery::new(clauses);
        let searcher = self.reader.searcher();
        let top = searcher.search(&query, &TopDocs::with_limit(limit.max(1)).order_by_score())?;
        let mut hits = Vec::with_capacity(top.len());
        for (score, address) in top {
            let document: TantivyDocument = searcher.doc(address)?;
            let text = |field: Field| {
                document
                    .get_first(field)
                    .and_then(|value| value.as_str().map(str::to_owned))
                    .unwrap_or_default()
            };
            let analyzer = self.analyzer_for(&text(self.fields.locale));
            let body = self.text_fields(analyzer).body;
            let snippet = SnippetGenerator::create(&searcher, &query, body)
                .map(|generator| generator.snippet_from_doc(&document).to_html())
                .unwrap_or_default();
            hits.push(IndexHit {
                article_id: text(self.fields.article_id),
                title: text(self.fields.title_stored),
                snippet,
                score,
            });
        }
        Ok(hits)
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
        }
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
        let hits = index.search("how long do refunds take", "en", 3).expect("search");
        assert_eq!(ids(&hits).first(), Some(&"refunds"), "{hits:?}");
        assert!(hits[0].snippet.contains("<b>"), "{}", hits[0].snippet);
        let hits = index.search("forgot my pasword", "en", 3).expect("search");
        assert_eq!(ids(&hits).first(), Some(&"password"), "{hits:?}");
    }

    #[test]
    fn traditional_chinese_finds_its_article_and_locales_filter() {
        let index = index();
        let hits = index.search("我想退貨，要怎麼做？", "zh-Hant", 3).expect("search");
        assert_eq!(ids(&hits), ["returns-zh"]);
        let hits = index.search("reembolso", "es", 3).expect("search");
        assert_eq!(ids(&hits), ["returns-es"]);
        let everywhere = index.search("refund", "", 5).expect("search");
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
        index.remove("password");
        index.commit().expect("committed");
        assert_eq!(ids(&index.search("courier parcel", "en", 5).expect("search")), ["tracking"]);
        assert!(index.search("password", "en", 5).expect("search").is_empty());
    }
}
