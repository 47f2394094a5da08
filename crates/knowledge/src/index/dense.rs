//! Dense retrieval: each published article is embedded by the sentence encoder (title, example
//! questions, body paragraphs; one vector each), the vectors are stored with the article's
//! document in the index (half precision) and kept in memory by tenant; an article's similarity
//! to a question is the mean of the two best cosines among its vectors. Brute force: a tenant's
//! knowledge base is thousands of articles, not millions.

use std::collections::HashMap;
use std::sync::Arc;

use half::f16;
use switchboard_nlu::embed::{ENCODER_NAME, SentenceEncoder};

use super::{Filters, IndexedArticle, language_of, tenant_or_default};

/// Body paragraphs embedded per article at most (the first ones: articles lead with the answer).
const MAX_BODY_PASSAGES: usize = 8;
/// Characters of a paragraph embedded at most (the encoder reads 128 tokens anyway).
const MAX_PASSAGE_CHARS: usize = 600;

/// The encoder's name as the index records it beside each article's vectors.
pub fn encoder_id(encoder: Option<&SentenceEncoder>) -> &'static str {
    if encoder.is_some() { ENCODER_NAME } else { "" }
}

/// What of an article is embedded: its title, each example question, its first paragraphs.
pub fn texts_of(article: &IndexedArticle) -> Vec<String> {
    let mut texts = vec![article.title.clone()];
    texts.extend(article.example_questions.iter().cloned());
    let paragraphs = article
        .body
        .split("\n\n")
        .map(|paragraph| paragraph.trim().trim_start_matches('#').trim())
        .filter(|paragraph| paragraph.chars().any(char::is_alphanumeric))
        .take(MAX_BODY_PASSAGES)
        .map(|paragraph| paragraph.chars().take(MAX_PASSAGE_CHARS).collect::<String>());
    texts.extend(paragraphs);
    texts
}

/// An article's vectors, concatenated, with what the filters need.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ArticleVectors {
    pub language: String,
    pub tags: Vec<String>,
    pub product_area: String,
    pub vectors: Vec<f32>,
}

/// The vectors of every article in the index, by tenant and article id.
#[derive(Default)]
pub struct DenseStore {
    dimensions: usize,
    tenants: HashMap<String, HashMap<String, ArticleVectors>>,
}

impl DenseStore {
    pub fn new(encoder: Option<&Arc<SentenceEncoder>>) -> Self {
        Self { dimensions: encoder.map_or(0, |e| e.dimensions()), tenants: HashMap::new() }
    }

    pub fn insert(&mut self, tenant: &str, article_id: &str, vectors: ArticleVectors) {
        if self.dimensions == 0 || !vectors.vectors.len().is_multiple_of(self.dimensions) {
            return;
        }
        let tenant = tenant_or_default(tenant).to_owned();
        self.tenants.entry(tenant).or_default().insert(article_id.to_owned(), vectors);
    }

    pub fn remove(&mut self, tenant: &str, article_id: &str) {
        if let Some(articles) = self.tenants.get_mut(tenant_or_default(tenant)) {
            articles.remove(article_id);
        }
    }

    /// The articles `filters` allow, most similar to `query` (a unit vector) first, with their
    /// similarity.
    pub fn nearest(&self, query: &[f32], filters: &Filters<'_>, limit: usize) -> Vec<(String, f32)> {
        let Some(articles) = self.tenants.get(tenant_or_default(filters.tenant)) else { return Vec::new() };
        if self.dimensions == 0 || query.len() != self.dimensions || limit == 0 {
            return Vec::new();
        }
        let language = (!filters.locale.is_empty()).then(|| language_of(filters.locale));
        let mut scored: Vec<(&String, f32)> = articles
            .iter()
            .filter(|(_, article)| language.as_ref().is_none_or(|l| *l == article.language))
            .filter(|(_, article)| filters.tags.iter().all(|tag| article.tags.contains(tag)))
            .filter(|(_, article)| {
                filters.product_area.is_empty() || article.product_area == filters.product_area
            })
            .map(|(id, article)| (id, best_cosine(query, &article.vectors, self.dimensions)))
            .collect();
        let order = |a: &(&String, f32), b: &(&String, f32)| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0));
        if scored.len() > limit {
            scored.select_nth_unstable_by(limit - 1, order);
            scored.truncate(limit);
        }
        scored.sort_by(order);
        scored.into_iter().map(|(id, similarity)| (id.clone(), similarity)).collect()
    }

    /// The tenant's article's similarity to `query` (0 when it has no vectors).
    pub fn similarity(&self, tenant: &str, article_id: &str, query: &[f32]) -> f32 {
        self.tenants
            .get(tenant_or_default(tenant))
            .and_then(|articles| articles.get(article_id))
            .filter(|_| query.len() == self.dimensions && self.dimensions > 0)
            .map_or(0.0, |article| best_cosine(query, &article.vectors, self.dimensions))
    }
}

/// The mean of the two highest dot products of `query` with the unit vectors in `vectors` (the
/// highest alone for an article of one vector): two of an article's texts agreeing is a surer
/// sign than one (chosen on validation questions: docs/KNOWLEDGE.md).
fn best_cosine(query: &[f32], vectors: &[f32], dimensions: usize) -> f32 {
    let (mut first, mut second) = (f32::MIN, f32::MIN);
    for vector in vectors.chunks_exact(dimensions) {
        let cosine = dot(vector, query);
        if cosine > first {
            (first, second) = (cosine, first);
        } else if cosine > second {
            second = cosine;
        }
    }
    let score = if second == f32::MIN { first } else { (first + second) / 2.0 };
    score.max(0.0)
}

/// The dot product, in eight independent lanes so that the compiler vectorises it (a single
/// running sum fixes the order of the additions and keeps it scalar).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (a_chunks, b_chunks) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a_chunks.remainder().iter().zip(b_chunks.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for lane in 0..8 {
            lanes[lane] += x[lane] * y[lane];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// Vectors as stored: half precision, little endian.
pub fn to_bytes(vectors: &[f32]) -> Vec<u8> {
    vectors.iter().flat_map(|v| f16::from_f32(*v).to_le_bytes()).collect()
}

pub fn from_bytes(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(2).map(|pair| f16::from_le_bytes([pair[0], pair[1]]).to_f32()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dimensions: usize) -> DenseStore {
        DenseStore { dimensions, tenants: HashMap::new() }
    }

    fn vectors(language: &str, vectors: Vec<f32>) -> ArticleVectors {
        ArticleVectors { language: language.into(), vectors, ..ArticleVectors::default() }
    }

    #[test]
    fn the_best_of_an_articles_vectors_ranks_it_within_its_tenant_and_language() {
        let mut dense = store(2);
        dense.insert("acme", "a", vectors("en", vec![1.0, 0.0, 0.0, 1.0]));
        dense.insert("acme", "b", vectors("en", vec![0.6, 0.8]));
        dense.insert("acme", "c", vectors("es", vec![0.0, 1.0]));
        dense.insert("globex", "d", vectors("en", vec![0.0, 1.0]));
        let filters = Filters { tenant: "acme", locale: "en", ..Filters::default() };
        let found = dense.nearest(&[0.0, 1.0], &filters, 5);
        assert_eq!(found, vec![("b".to_owned(), 0.8), ("a".to_owned(), 0.5)], "a's two vectors average");
        dense.remove("acme", "a");
        assert_eq!(dense.nearest(&[0.0, 1.0], &filters, 5), vec![("b".to_owned(), 0.8)]);
        dense.remove("globex", "b");
        assert_eq!(dense.nearest(&[0.0, 1.0], &filters, 5).len(), 1, "another tenant's removal");
    }

    #[test]
    fn the_lane_wise_dot_product_is_the_dot_product() {
        let a: Vec<f32> = (0..19).map(|i| i as f32 * 0.5).collect();
        let b: Vec<f32> = (0..19).map(|i| 1.0 - i as f32 * 0.1).collect();
        let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - plain).abs() < 1e-4);
    }

    #[test]
    fn vectors_of_the_wrong_size_are_not_kept_and_bytes_round_trip() {
        let mut dense = store(3);
        dense.insert("acme", "a", vectors("en", vec![1.0, 0.0]));
        assert!(dense.nearest(&[1.0, 0.0, 0.0], &Filters::default(), 5).is_empty());
        let values = [0.5, -0.25, 1.0];
        assert_eq!(from_bytes(&to_bytes(&values)), values);
    }

    #[test]
    fn an_article_is_embedded_by_title_questions_and_leading_paragraphs() {
        let article = IndexedArticle {
            title: "Returns".into(),
            example_questions: vec!["can I send it back?".into()],
            body: "## How\n\nPrint the label.\n\n\n\n---\n\nDrop it off.".into(),
            ..IndexedArticle::default()
        };
        assert_eq!(
            texts_of(&article),
            ["Returns", "can I send it back?", "How", "Print the label.", "Drop it off."]
        );
    }
}
