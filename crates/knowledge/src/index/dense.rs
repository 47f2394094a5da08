//! Dense retrieval: each published article is embedded by the sentence encoder (title, example
//! questions, body paragraphs; one vector each), the vectors are stored with the article's
//! document in the index (half precision) and kept in memory by tenant; an article's similarity
//! to a question is the mean of the two best cosines among its vectors. Brute force: a tenant's
//! knowledge base is thousands of articles, not millions. The scan reads each vector as 8-bit
//! codes (a quarter of the memory to stream: at 10,000 articles the full-precision vectors are
//! 30 MB, and reading them was most of a search's time), then ranks its shortlist exactly.

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

/// Articles the 8-bit scan keeps per result asked for, to rank exactly: its error (well under
/// 0.01 of a cosine) cannot move an article from beyond it into the results.
const SHORTLIST_PER_RESULT: usize = 4;

/// The vectors of every article in the index, by tenant.
#[derive(Default)]
pub struct DenseStore {
    dimensions: usize,
    tenants: HashMap<String, TenantVectors>,
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
        let store = self.tenants.entry(tenant).or_insert_with(|| TenantVectors::new(self.dimensions));
        store.insert(article_id, vectors);
    }

    pub fn remove(&mut self, tenant: &str, article_id: &str) {
        if let Some(store) = self.tenants.get_mut(tenant_or_default(tenant)) {
            store.remove(article_id);
        }
    }

    /// The articles `filters` allow, most similar to `query` (a unit vector) first, with their
    /// similarity.
    pub fn nearest(&self, query: &[f32], filters: &Filters<'_>, limit: usize) -> Vec<(String, f32)> {
        let Some(store) = self.tenants.get(tenant_or_default(filters.tenant)) else { return Vec::new() };
        if self.dimensions == 0 || query.len() != self.dimensions || limit == 0 {
            return Vec::new();
        }
        let language = (!filters.locale.is_empty()).then(|| language_of(filters.locale));
        let allowed = |article: &ArticleVectors| {
            language.as_ref().is_none_or(|l| *l == article.language)
                && filters.tags.iter().all(|tag| article.tags.contains(tag))
                && (filters.product_area.is_empty() || article.product_area == filters.product_area)
        };
        let shortlist = best(store.scan(query, allowed), limit.saturating_mul(SHORTLIST_PER_RESULT));
        let exact = shortlist
            .into_iter()
            .filter_map(|(slot, _)| store.articles.get(slot)?.as_ref())
            .map(|(id, article)| (id, best_cosine(query, &article.vectors, self.dimensions)))
            .collect();
        best(exact, limit).into_iter().map(|(id, similarity)| (id.clone(), similarity)).collect()
    }

    /// The tenant's article's similarity to `query` (0 when it has no vectors).
    pub fn similarity(&self, tenant: &str, article_id: &str, query: &[f32]) -> f32 {
        self.tenants
            .get(tenant_or_default(tenant))
            .and_then(|store| store.article(article_id))
            .filter(|_| query.len() == self.dimensions && self.dimensions > 0)
            .map_or(0.0, |article| best_cosine(query, &article.vectors, self.dimensions))
    }
}

/// One tenant's articles in slots, and every vector's 8-bit codes one after another, each with
/// its article's slot: the scan streams through memory instead of visiting an allocation per
/// article. A removed article leaves a hole, filled in when holes outnumber the live vectors.
struct TenantVectors {
    dimensions: usize,
    slots: HashMap<String, usize>,
    articles: Vec<Option<(String, ArticleVectors)>>,
    codes: Vec<i8>,
    scales: Vec<f32>,
    owners: Vec<usize>,
    dead_vectors: usize,
}

impl TenantVectors {
    fn new(dimensions: usize) -> Self {
        Self {
            dimensions,
            slots: HashMap::new(),
            articles: Vec::new(),
            codes: Vec::new(),
            scales: Vec::new(),
            owners: Vec::new(),
            dead_vectors: 0,
        }
    }

    fn article(&self, article_id: &str) -> Option<&ArticleVectors> {
        let slot = *self.slots.get(article_id)?;
        self.articles.get(slot)?.as_ref().map(|(_, article)| article)
    }

    fn insert(&mut self, article_id: &str, article: ArticleVectors) {
        self.remove(article_id);
        let slot = self.articles.len();
        for vector in article.vectors.chunks_exact(self.dimensions) {
            self.scales.push(quantise(vector, &mut self.codes));
            self.owners.push(slot);
        }
        self.slots.insert(article_id.to_owned(), slot);
        self.articles.push(Some((article_id.to_owned(), article)));
    }

    fn remove(&mut self, article_id: &str) {
        let Some(slot) = self.slots.remove(article_id) else { return };
        if let Some((_, article)) = self.articles.get_mut(slot).and_then(Option::take) {
            self.dead_vectors += article.vectors.len() / self.dimensions;
        }
        if self.dead_vectors > self.owners.len() / 2 {
            self.compact();
        }
    }

    fn compact(&mut self) {
        let live: Vec<(String, ArticleVectors)> =
            std::mem::take(&mut self.articles).into_iter().flatten().collect();
        *self = Self::new(self.dimensions);
        for (id, article) in live {
            self.insert(&id, article);
        }
    }

    /// Every allowed article's approximate similarity (the mean of its two best cosines over
    /// the codes), by slot.
    fn scan(&self, query: &[f32], allowed: impl Fn(&ArticleVectors) -> bool) -> Vec<(usize, f32)> {
        let mut query_codes = Vec::with_capacity(self.dimensions);
        let query_scale = quantise(query, &mut query_codes);
        let open: Vec<bool> = self
            .articles
            .iter()
            .map(|slot| slot.as_ref().is_some_and(|(_, article)| allowed(article)))
            .collect();
        let mut best_two = vec![BestTwo::default(); self.articles.len()];
        let vectors = self.codes.chunks_exact(self.dimensions).zip(&self.scales).zip(&self.owners);
        for ((codes, scale), &slot) in vectors {
            if open[slot] {
                best_two[slot].keep(dot_codes(codes, &query_codes) as f32 * scale * query_scale);
            }
        }
        best_two
            .into_iter()
            .enumerate()
            .filter(|(slot, _)| open[*slot])
            .map(|(slot, best)| (slot, best.mean()))
            .collect()
    }
}

/// Appends `vector` as 8-bit codes scaled by its largest component (`value ≈ code · scale`);
/// returns the scale.
fn quantise(vector: &[f32], codes: &mut Vec<i8>) -> f32 {
    let largest = vector.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let scale = if largest > 0.0 { largest / 127.0 } else { 1.0 };
    codes.extend(vector.iter().map(|v| (v / scale).round().clamp(-127.0, 127.0) as i8));
    scale
}

/// The `limit` highest-scoring of `scored`, highest first, ties by key.
fn best<K: Ord>(mut scored: Vec<(K, f32)>, limit: usize) -> Vec<(K, f32)> {
    let order = |a: &(K, f32), b: &(K, f32)| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0));
    if limit == 0 {
        return Vec::new();
    }
    if scored.len() > limit {
        scored.select_nth_unstable_by(limit - 1, order);
        scored.truncate(limit);
    }
    scored.sort_by(order);
    scored
}

/// The dot product of two code vectors, in sixteen independent lanes so that it vectorises.
fn dot_codes(a: &[i8], b: &[i8]) -> i32 {
    let mut lanes = [0i32; 16];
    let (a_chunks, b_chunks) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: i32 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(x, y)| i32::from(*x) * i32::from(*y))
        .sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for lane in 0..16 {
            lanes[lane] += i32::from(i16::from(x[lane]) * i16::from(y[lane]));
        }
    }
    lanes.iter().sum::<i32>() + tail
}

/// The mean of the two highest dot products of `query` with the unit vectors in `vectors` (the
/// highest alone for an article of one vector): two of an article's texts agreeing is a surer
/// sign than one (chosen on validation questions: docs/KNOWLEDGE.md).
fn best_cosine(query: &[f32], vectors: &[f32], dimensions: usize) -> f32 {
    mean_of_best_two(vectors.chunks_exact(dimensions).map(|vector| dot(vector, query)))
}

fn mean_of_best_two(cosines: impl Iterator<Item = f32>) -> f32 {
    let mut best = BestTwo::default();
    cosines.for_each(|cosine| best.keep(cosine));
    best.mean()
}

/// The two highest cosines seen of an article's vectors.
#[derive(Debug, Clone, Copy)]
struct BestTwo {
    first: f32,
    second: f32,
}

impl Default for BestTwo {
    fn default() -> Self {
        Self { first: f32::MIN, second: f32::MIN }
    }
}

impl BestTwo {
    fn keep(&mut self, cosine: f32) {
        if cosine > self.first {
            (self.first, self.second) = (cosine, self.first);
        } else if cosine > self.second {
            self.second = cosine;
        }
    }

    /// Their mean (the highest alone for one vector), at least 0.
    fn mean(self) -> f32 {
        let score = if self.second == f32::MIN { self.first } else { (self.first + self.second) / 2.0 };
        score.max(0.0)
    }
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
    fn the_8_bit_scan_is_within_a_hundredth_of_a_cosine_and_results_are_exact() {
        let mut state = 7u64;
        let mut unit = |dimensions: usize| {
            let values: Vec<f32> = (0..dimensions)
                .map(|_| {
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
                })
                .collect();
            let norm = values.iter().map(|v| v * v).sum::<f32>().sqrt();
            values.into_iter().map(|v| v / norm).collect::<Vec<f32>>()
        };
        let mut dense = store(384);
        let query = unit(384);
        let mut exact = Vec::new();
        for i in 0..200 {
            let id = format!("a-{i}");
            let vectors = [unit(384), unit(384), unit(384)].concat();
            exact.push((id.clone(), best_cosine(&query, &vectors, 384)));
            dense.insert("", &id, ArticleVectors { vectors, ..ArticleVectors::default() });
            if i % 3 == 0 {
                dense.remove("", &id);
                exact.pop();
            }
        }
        let tenant = &dense.tenants[tenant_or_default("")];
        for (slot, approximate) in tenant.scan(&query, |_| true) {
            let Some((id, _)) = &tenant.articles[slot] else { panic!("a removed article was scanned") };
            let (_, exact) = exact.iter().find(|(known, _)| known == id).expect("a live article");
            assert!((exact - approximate).abs() < 0.01, "{id}: {exact} against {approximate}");
        }
        exact.sort_by(|a, b| b.1.total_cmp(&a.1));
        exact.truncate(5);
        assert_eq!(
            dense.nearest(&query, &Filters::default(), 5),
            exact,
            "the exact five best, exactly scored"
        );
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
