//! Hybrid search: the BM25 hits and the dense neighbours of a question, each candidate scored by
//! its similarity and its lexical confidence, ranked by their blend. Used for the languages the
//! encoder was trained on; every other search stays lexical.

use tantivy::collector::TopDocs;
use tantivy::query::TermQuery;
use tantivy::schema::document::Value as _;
use tantivy::schema::{Field, IndexRecordOption, TantivyDocument};
use tantivy::{DocAddress, Term};

use super::dense::{self, ArticleVectors};
use super::{ArticleIndex, Filters, IndexError, IndexHit, IndexedArticle, Reading, article_key, language_of};

pub use super::score::{Blend, HYBRID_BLEND, HitScores};

/// Languages all-MiniLM-L6-v2 was trained on: its similarities elsewhere are noise.
const ENCODER_LANGUAGES: &[&str] = &["en"];
/// Candidates taken from each retriever before fusion.
const CANDIDATES: usize = 10;

/// A hit before fusion: its cosine similarity to the question and its lexical confidence (0 when
/// BM25 did not find it; such a hit holds its article id alone until it is among the results).
#[derive(Debug, Clone)]
pub struct Candidate {
    pub hit: IndexHit,
    pub similarity: f32,
    pub lexical: f32,
}

fn embeds(locale: &str) -> bool {
    ENCODER_LANGUAGES.contains(&language_of(locale).as_str())
}

impl ArticleIndex {
    /// Whether a search in `locale` is hybrid.
    pub fn hybrid_for(&self, locale: &str) -> bool {
        self.encoder.is_some() && embeds(locale)
    }

    /// The vectors to store with `article`: given, or computed here; none for a lexical index
    /// or a language the encoder does not read.
    pub(crate) fn vectors_of(&self, article: &IndexedArticle) -> Result<Option<Vec<f32>>, IndexError> {
        match (&self.encoder, &article.vectors) {
            (Some(_), Some(vectors)) => Ok(Some(vectors.clone())),
            (Some(encoder), None) if embeds(&article.locale) => {
                let texts = dense::texts_of(article);
                let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                Ok(Some(encoder.embed(&refs)?.concat()))
            }
            _ => Ok(None),
        }
    }

    /// Reads the stored vectors into memory; false when an article was embedded by another
    /// encoder, or not embedded though this index embeds its language.
    pub(super) fn load_vectors(&mut self) -> Result<bool, IndexError> {
        let searcher = self.reader.searcher();
        let wanted = dense::encoder_id(self.encoder.as_deref());
        let mut current = true;
        for (ordinal, segment) in searcher.segment_readers().iter().enumerate() {
            for doc_id in segment.doc_ids_alive() {
                let document: TantivyDocument = searcher.doc(DocAddress::new(ordinal as u32, doc_id))?;
                let text = |field: Field| first_text(&document, field);
                let locale = text(self.fields.locale);
                let encoder = text(self.fields.encoder);
                if self.encoder.is_some() && embeds(&locale) && encoder != wanted {
                    current = false;
                }
                let Some(bytes) = document.get_first(self.fields.vectors).and_then(|v| v.as_bytes()) else {
                    continue;
                };
                let vectors = ArticleVectors {
                    language: language_of(&locale),
                    tags: all_texts(&document, self.fields.tags),
                    product_area: text(self.fields.product_area),
                    vectors: dense::from_bytes(bytes),
                };
                self.dense.insert(&text(self.fields.tenant), &text(self.fields.article_id), vectors);
            }
        }
        Ok(current)
    }

    /// The question's candidates from both retrievers, unranked; those only the dense retriever
    /// found hold their article id alone (see [`Candidate`]).
    pub fn candidates(
        &self,
        query: &str,
        filters: &Filters<'_>,
        snippets: bool,
    ) -> Result<Vec<Candidate>, IndexError> {
        let lexical = self.search_with(query, filters, CANDIDATES, Reading { scored: true, snippets })?;
        let Some(encoder) = self.encoder.as_ref().filter(|_| embeds(filters.locale)) else {
            let lexical_only = |hit: IndexHit| Candidate { lexical: hit.confidence, similarity: 0.0, hit };
            return Ok(lexical.into_iter().map(lexical_only).collect());
        };
        let question = encoder.embed(&[query])?.concat();
        let mut candidates: Vec<Candidate> = Vec::new();
        for hit in lexical {
            let similarity = self.dense.similarity(filters.tenant, &hit.article_id, &question);
            candidates.push(Candidate { lexical: hit.confidence, similarity, hit });
        }
        for (article_id, similarity) in self.dense.nearest(&question, filters, CANDIDATES) {
            if candidates.iter().any(|c| c.hit.article_id == article_id) {
                continue;
            }
            let hit = IndexHit { article_id, ..IndexHit::default() };
            candidates.push(Candidate { hit, similarity, lexical: 0.0 });
        }
        Ok(candidates)
    }

    /// Hybrid search: candidates ranked by `blend`, each with its relevance (the blend) and
    /// confidence (against the next hit).
    pub fn search_hybrid(
        &self,
        query: &str,
        filters: &Filters<'_>,
        limit: usize,
        blend: &Blend,
        reading: Reading,
    ) -> Result<Vec<IndexHit>, IndexError> {
        let ranked = rank(self.candidates(query, filters, reading.snippets)?, blend);
        let mut hits = Vec::with_capacity(limit.min(ranked.len()));
        for (scores, hit) in ranked.into_iter().take(limit) {
            // Only results are read from the store: a candidate BM25 did not find holds its id.
            let hit =
                if scores.lexical > 0.0 { Some(hit) } else { self.hit_of(filters.tenant, &hit.article_id)? };
            hits.extend(hit.map(|hit| IndexHit {
                relevance: scores.fused,
                confidence: blend.confidence(&scores),
                ..hit
            }));
        }
        Ok(hits)
    }

    /// The tenant's indexed article as a hit with no query behind it (its snippet the body's
    /// start).
    fn hit_of(&self, tenant: &str, article_id: &str) -> Result<Option<IndexHit>, IndexError> {
        let searcher = self.reader.searcher();
        let key = TermQuery::new(
            Term::from_field_text(self.fields.key, &article_key(tenant, article_id)),
            IndexRecordOption::Basic,
        );
        let Some((_, address)) = searcher.search(&key, &TopDocs::with_limit(1).order_by_score())?.pop()
        else {
            return Ok(None);
        };
        let document: TantivyDocument = searcher.doc(address)?;
        let locale = first_text(&document, self.fields.locale);
        let body = first_text(&document, self.text_fields(self.analyzer_for(&locale)).body);
        Ok(Some(IndexHit {
            article_id: article_id.to_owned(),
            title: first_text(&document, self.fields.title_stored),
            snippet: body.chars().take(SNIPPET_CHARS).collect(),
            locale,
            body,
            ..IndexHit::default()
        }))
    }
}

/// Candidates best first under `blend`, each with what its confidence is computed from.
pub fn rank(candidates: Vec<Candidate>, blend: &Blend) -> Vec<(HitScores, IndexHit)> {
    let mut ranked: Vec<(HitScores, IndexHit)> = candidates
        .into_iter()
        .map(|c| {
            let fused = blend.fused(c.similarity, c.lexical);
            (HitScores { fused, next: 0.0, similarity: c.similarity, lexical: c.lexical }, c.hit)
        })
        .collect();
    ranked.sort_by(|a, b| b.0.fused.total_cmp(&a.0.fused).then_with(|| a.1.article_id.cmp(&b.1.article_id)));
    for i in 1..ranked.len() {
        ranked[i - 1].0.next = ranked[i].0.fused;
    }
    ranked
}

/// Characters of a snippet made without a query match.
const SNIPPET_CHARS: usize = 150;

fn first_text(document: &TantivyDocument, field: Field) -> String {
    document.get_first(field).and_then(|value| value.as_str().map(str::to_owned)).unwrap_or_default()
}

fn all_texts(document: &TantivyDocument, field: Field) -> Vec<String> {
    document.get_all(field).filter_map(|value| value.as_str().map(str::to_owned)).collect()
}
