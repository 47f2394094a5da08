//! Reading the index: search with filters, as-you-type suggestions; each within one tenant.

use std::collections::HashSet;

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, Query, TermQuery};
use tantivy::schema::document::Value as _;
use tantivy::schema::{Field, IndexRecordOption, TantivyDocument};
use tantivy::snippet::SnippetGenerator;
use tantivy::{Searcher, Term};

use super::{
    ArticleIndex, FUZZY_BOOST, FUZZY_MIN_CHARS, HYBRID_BLEND, IndexError, IndexHit, Ranking, Reading,
    TITLE_BOOST, language_of, lexical_confidence, relevance, tenant_or_default,
};

/// Which articles a search may return.
#[derive(Debug, Clone, Copy, Default)]
pub struct Filters<'a> {
    /// Only this tenant's articles, always; empty: the default tenant's (offline tools only).
    pub tenant: &'a str,
    /// Only articles in this locale's language, analysed by its rules; empty: every language.
    pub locale: &'a str,
    /// Only articles with all these tags.
    pub tags: &'a [String],
    /// Only articles of this product area; empty: any.
    pub product_area: &'a str,
}

type Clauses = Vec<(Occur, Box<dyn Query>)>;

impl ArticleIndex {
    /// The query's distinct terms as `analyzer` cuts them.
    pub fn terms(&self, analyzer: &str, text: &str) -> Result<Vec<String>, IndexError> {
        let mut tokenizer = self.index.tokenizer_for_field(self.text_fields(analyzer).body)?;
        let mut stream = tokenizer.token_stream(text);
        let mut terms: Vec<String> = Vec::new();
        while let Some(token) = stream.next() {
            if !terms.contains(&token.text) {
                terms.push(token.text.clone());
            }
        }
        Ok(terms)
    }

    /// Any of the query's terms in title (or example questions) or body; near misses of longer
    /// words count for less. `None` when the query has no terms for this analyzer.
    fn words_query(&self, analyzer: &str, query: &str) -> Result<Option<Box<dyn Query>>, IndexError> {
        let fields = self.text_fields(analyzer);
        let terms = self.terms(analyzer, query)?;
        if terms.is_empty() {
            return Ok(None);
        }
        let full = self.ranking == Ranking::Full;
        let title_boost = if full { TITLE_BOOST } else { 1.0 };
        let mut clauses: Clauses = Vec::new();
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

    /// The analyzers a search in `locale` asks: its own, or all of them.
    fn analyzers(&self, locale: &str) -> Vec<&'static str> {
        if locale.is_empty() {
            self.fields.text.iter().map(|(name, _)| *name).collect()
        } else {
            vec![self.analyzer_for(locale)]
        }
    }

    /// Filter clauses that match without adding to the score; the tenant's is always there.
    fn filter_clauses(&self, filters: &Filters<'_>) -> Clauses {
        let exact = |field: Field, value: &str| -> (Occur, Box<dyn Query>) {
            let term = TermQuery::new(Term::from_field_text(field, value), IndexRecordOption::Basic);
            (Occur::Must, Box::new(ConstScoreQuery::new(Box::new(term), 0.0)))
        };
        let mut clauses = vec![exact(self.fields.tenant, tenant_or_default(filters.tenant))];
        if !filters.locale.is_empty() {
            clauses.push(exact(self.fields.language, &language_of(filters.locale)));
        }
        for tag in filters.tags {
            clauses.push(exact(self.fields.tags, tag));
        }
        if !filters.product_area.is_empty() {
            clauses.push(exact(self.fields.product_area, filters.product_area));
        }
        clauses
    }

    /// Articles for `query`, best first: hybrid where the encoder reads the locale's language,
    /// lexical elsewhere (where `coverage` and `confidence` are left at 0).
    pub fn search(
        &self,
        query: &str,
        filters: &Filters<'_>,
        limit: usize,
    ) -> Result<Vec<IndexHit>, IndexError> {
        self.search_reading(query, filters, limit, Reading::LISTED)
    }

    /// As [`search`](Self::search), with each hit's `coverage` of the query and `confidence`
    /// (it reads each hit's text, so plain searches skip it).
    pub fn search_scored(
        &self,
        query: &str,
        filters: &Filters<'_>,
        limit: usize,
    ) -> Result<Vec<IndexHit>, IndexError> {
        self.search_reading(query, filters, limit, Reading::SCORED)
    }

    /// As [`search`](Self::search), reading of each hit what `reading` asks for.
    pub fn search_reading(
        &self,
        query: &str,
        filters: &Filters<'_>,
        limit: usize,
        reading: Reading,
    ) -> Result<Vec<IndexHit>, IndexError> {
        if self.hybrid_for(filters.locale) {
            return self.search_hybrid(query, filters, limit, &HYBRID_BLEND, reading);
        }
        self.search_with(query, filters, limit, reading)
    }

    pub(super) fn search_with(
        &self,
        query: &str,
        filters: &Filters<'_>,
        limit: usize,
        reading: Reading,
    ) -> Result<Vec<IndexHit>, IndexError> {
        let mut words: Clauses = Vec::new();
        for analyzer in self.analyzers(filters.locale) {
            if let Some(query) = self.words_query(analyzer, query)? {
                words.push((Occur::Should, query));
            }
        }
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let mut clauses = self.filter_clauses(filters);
        clauses.push((Occur::Must, Box::new(BooleanQuery::new(words))));
        let tantivy_query = BooleanQuery::new(clauses);
        let searcher = self.reader.searcher();
        let top = searcher.search(&tantivy_query, &TopDocs::with_limit(limit.max(1)).order_by_score())?;
        let runners_up: Vec<f32> = top.iter().skip(1).map(|(score, _)| *score).collect();
        let mut hits = Vec::with_capacity(top.len());
        let mut snippets = Snippets::default();
        for (i, (score, address)) in top.into_iter().enumerate() {
            let document: TantivyDocument = searcher.doc(address)?;
            let snippets = reading.snippets.then_some(&mut snippets);
            let mut hit = self.hit((&searcher, &tantivy_query, snippets), &document, score);
            if reading.scored {
                hit.coverage = self.coverage(&document, &hit, query)?;
                let runner_up = runners_up.get(i).copied().unwrap_or(0.0);
                hit.confidence = lexical_confidence(score, hit.coverage, runner_up);
            }
            hits.push(hit);
        }
        Ok(hits)
    }

    fn hit(
        &self,
        (searcher, tantivy_query, snippets): (&Searcher, &dyn Query, Option<&mut Snippets>),
        document: &TantivyDocument,
        score: f32,
    ) -> IndexHit {
        let texts = |field: Field| -> Vec<String> {
            document.get_all(field).filter_map(|value| value.as_str().map(str::to_owned)).collect()
        };
        let first = |field: Field| texts(field).into_iter().next().unwrap_or_default();
        let locale = first(self.fields.locale);
        let analyzer = self.analyzer_for(&locale);
        let body_field = self.text_fields(analyzer).body;
        let body = first(body_field);
        let snippet = snippets
            .map(|snippets| snippets.of(searcher, tantivy_query, body_field, document))
            .unwrap_or_default();
        IndexHit {
            article_id: first(self.fields.article_id),
            title: first(self.fields.title_stored),
            locale,
            snippet,
            score,
            relevance: relevance(score),
            coverage: 0.0,
            confidence: 0.0,
            body,
        }
    }

    /// Share of the query's words (numbers aside) in the hit's title, example questions or body.
    fn coverage(&self, document: &TantivyDocument, hit: &IndexHit, query: &str) -> Result<f32, IndexError> {
        let analyzer = self.analyzer_for(&hit.locale);
        // Numbers (order numbers, amounts) are facts of the case, not what is asked.
        let wanted: Vec<String> = self
            .terms(analyzer, query)?
            .into_iter()
            .filter(|t| !t.chars().all(|c| c.is_ascii_digit()))
            .collect();
        let questions: Vec<&str> =
            document.get_all(self.fields.questions_stored).filter_map(|value| value.as_str()).collect();
        let text = format!("{}\n{}\n{}", questions.join("\n"), hit.title, hit.body);
        let present: HashSet<String> = self.terms(analyzer, &text)?.into_iter().collect();
        let found = wanted.iter().filter(|term| present.contains(*term)).count();
        Ok(if wanted.is_empty() { 0.0 } else { found as f32 / wanted.len() as f32 })
    }

    /// [`suggest_in`](Self::suggest_in) the default tenant's articles (offline tools).
    pub fn suggest(
        &self,
        typed: &str,
        locale: &str,
        limit: usize,
    ) -> Result<Vec<(String, String)>, IndexError> {
        self.suggest_in(typed, &Filters { locale, ..Filters::default() }, limit)
    }

    /// Titles of the articles `filters` allow for what a customer has typed so far: earlier
    /// words as terms, the last one as a prefix (one edit allowed from four letters on) unless
    /// the text ends with a space.
    pub fn suggest_in(
        &self,
        typed: &str,
        filters: &Filters<'_>,
        limit: usize,
    ) -> Result<Vec<(String, String)>, IndexError> {
        let partial = !typed.ends_with(char::is_whitespace);
        let mut clauses: Clauses = Vec::new();
        for analyzer in self.analyzers(filters.locale) {
            let title = self.text_fields(analyzer).title;
            let terms = self.terms_in_order(title, typed)?;
            let Some(last) = terms.last().cloned() else { continue };
            let mut per_analyzer: Clauses = Vec::new();
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
            clauses.push((Occur::Should, Box::new(BooleanQuery::new(per_analyzer))));
        }
        if clauses.is_empty() {
            return Ok(Vec::new());
        }
        let mut all = self.filter_clauses(filters);
        all.push((Occur::Must, Box::new(BooleanQuery::new(clauses))));
        let searcher = self.reader.searcher();
        let top =
            searcher.search(&BooleanQuery::new(all), &TopDocs::with_limit(limit.max(1)).order_by_score())?;
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

    /// Every token of `text` as `field` cuts it, repeats included.
    fn terms_in_order(&self, field: Field, text: &str) -> Result<Vec<String>, IndexError> {
        let mut tokenizer = self.index.tokenizer_for_field(field)?;
        let mut stream = tokenizer.token_stream(text);
        let mut terms = Vec::new();
        while let Some(token) = stream.next() {
            terms.push(token.text.clone());
        }
        Ok(terms)
    }
}

/// One search's snippet generators, one per body field its hits are in: making one reads the
/// query's terms' statistics, so hits of one language share it.
#[derive(Default)]
struct Snippets(Vec<(Field, Option<SnippetGenerator>)>);

impl Snippets {
    fn of(
        &mut self,
        searcher: &Searcher,
        query: &dyn Query,
        field: Field,
        document: &TantivyDocument,
    ) -> String {
        let index = match self.0.iter().position(|(made_for, _)| *made_for == field) {
            Some(index) => index,
            None => {
                self.0.push((field, SnippetGenerator::create(searcher, query, field).ok()));
                self.0.len() - 1
            }
        };
        self.0[index]
            .1
            .as_ref()
            .map(|generator| generator.snippet_from_doc(document).to_html())
            .unwrap_or_default()
    }
}
