//! Search quality on a labelled set: for each query, the articles that answer it. Recall at 1 and
//! 5 (share of a query's relevant articles in the top k, averaged), MRR at 10, and the latency of
//! each search.

use std::collections::HashSet;
use std::time::Instant;

use serde::Serialize;

use crate::clarify::{HYBRID_FLOOR, LEXICAL_FLOOR, MAX_ALTERNATIVES, offered};
use crate::index::{ArticleIndex, Filters, IndexError};
use crate::{DEFAULT_MIN_CONFIDENCE, HYBRID_MIN_CONFIDENCE};

/// A query and the ids of the articles that answer it.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledQuery {
    pub query: String,
    pub relevant: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchReport {
    /// `hybrid` (BM25 fused with the encoder's similarity) or `lexical`.
    pub mode: &'static str,
    pub n: usize,
    pub recall_at_1: f64,
    pub recall_at_5: f64,
    pub mrr_at_10: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    /// `Answer` at the mode's default threshold: the share of queries answered, the share of
    /// those answered from a relevant article, and wrong answers as a share of all queries.
    pub answer_threshold: f32,
    pub answered: f64,
    pub answer_precision: f64,
    pub answered_wrong: f64,
    /// The same at other thresholds, to choose one.
    pub answer_curve: Vec<AnswerPoint>,
    /// Unanswered at the default threshold: how often the bot would ask the customer to choose
    /// between alternatives, at the mode's floor and at others.
    pub clarify: ClarifyPoint,
    pub clarify_curve: Vec<ClarifyPoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClarifyPoint {
    pub floor: f32,
    /// Share of all queries asked to choose.
    pub asked: f64,
    /// Share of those asked whose relevant article is among the alternatives.
    pub right_among: f64,
}

/// Floors the clarifying curve is measured at.
const FLOORS: [f32; 9] = [0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7];

/// One query's outcome: its top hit's confidence, whether that hit is relevant, the relevance of
/// the first hits, and where the first relevant hit ranks.
struct Outcome {
    confidence: f32,
    right: bool,
    relevances: Vec<f32>,
    relevant_at: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnswerPoint {
    pub threshold: f32,
    pub answered: f64,
    pub precision: f64,
}

/// Thresholds the answer curve is measured at.
const CURVE: [f32; 13] = [0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9];

pub fn evaluate(
    index: &ArticleIndex,
    queries: &[LabelledQuery],
    locale: &str,
) -> Result<SearchReport, IndexError> {
    let (mut at_1, mut at_5, mut reciprocal) = (0.0, 0.0, 0.0);
    let mut latencies = Vec::with_capacity(queries.len());
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(queries.len());
    for labelled in queries {
        let relevant: HashSet<&str> = labelled.relevant.iter().map(String::as_str).collect();
        let started = Instant::now();
        let hits = index.search_scored(&labelled.query, &Filters { locale, ..Filters::default() }, 10)?;
        latencies.push(started.elapsed().as_secs_f64() * 1e6);
        let ranked: Vec<&str> = hits.iter().map(|hit| hit.article_id.as_str()).collect();
        outcomes.push(Outcome {
            confidence: hits.first().map_or(0.0, |hit| hit.confidence),
            right: ranked.first().is_some_and(|top| relevant.contains(top)),
            relevant_at: ranked.iter().position(|id| relevant.contains(id)),
            relevances: hits.iter().take(MAX_ALTERNATIVES as usize).map(|hit| hit.relevance).collect(),
        });
        let found_in = |k: usize| ranked.iter().take(k).filter(|id| relevant.contains(*id)).count() as f64;
        let wanted = relevant.len().max(1) as f64;
        at_1 += found_in(1) / wanted;
        at_5 += found_in(5) / wanted;
        reciprocal +=
            ranked.iter().position(|id| relevant.contains(id)).map_or(0.0, |at| 1.0 / (at + 1) as f64);
    }
    latencies.sort_by(f64::total_cmp);
    let n = queries.len().max(1) as f64;
    let at = |threshold: f32| {
        let answered: Vec<bool> =
            outcomes.iter().filter(|o| o.confidence >= threshold).map(|o| o.right).collect();
        let right = answered.iter().filter(|right| **right).count() as f64;
        AnswerPoint {
            threshold,
            answered: answered.len() as f64 / n,
            precision: if answered.is_empty() { 0.0 } else { right / answered.len() as f64 },
        }
    };
    let hybrid = index.hybrid_for(locale);
    let threshold = if hybrid { HYBRID_MIN_CONFIDENCE } else { DEFAULT_MIN_CONFIDENCE };
    let default = at(threshold);
    let clarify_at = |floor: f32| clarify_point(&outcomes, threshold, floor, n);
    Ok(SearchReport {
        mode: if hybrid { "hybrid" } else { "lexical" },
        answer_threshold: threshold,
        answered: default.answered,
        answer_precision: default.precision,
        answered_wrong: default.answered * (1.0 - default.precision),
        answer_curve: CURVE.iter().map(|t| at(*t)).collect(),
        clarify: clarify_at(if hybrid { HYBRID_FLOOR } else { LEXICAL_FLOOR }),
        clarify_curve: FLOORS.iter().map(|f| clarify_at(*f)).collect(),
        n: queries.len(),
        recall_at_1: at_1 / n,
        recall_at_5: at_5 / n,
        mrr_at_10: reciprocal / n,
        p50_us: percentile(&latencies, 0.5),
        p99_us: percentile(&latencies, 0.99),
    })
}

/// Of the queries not answered at `threshold`: the share asked to choose, and how often rightly.
fn clarify_point(outcomes: &[Outcome], threshold: f32, floor: f32, n: f64) -> ClarifyPoint {
    let (mut asked, mut right_among) = (0usize, 0usize);
    for outcome in outcomes.iter().filter(|o| o.confidence < threshold) {
        let options = offered(outcome.relevances.iter().copied(), floor, MAX_ALTERNATIVES as usize);
        if options > 0 {
            asked += 1;
            right_among += usize::from(outcome.relevant_at.is_some_and(|at| at < options));
        }
    }
    let right_among = if asked == 0 { 0.0 } else { right_among as f64 / asked as f64 };
    ClarifyPoint { floor, asked: asked as f64 / n, right_among }
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
    sorted.get(rank - 1).copied().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::IndexedArticle;

    #[test]
    fn recall_and_mrr_count_where_the_answer_ranks() {
        let mut index = ArticleIndex::open(None).expect("index");
        for (id, title) in [("a", "reset your password"), ("b", "track your parcel")] {
            let article = IndexedArticle {
                article_id: id.into(),
                title: title.into(),
                body: title.into(),
                locale: "en".into(),
                tags: vec![],
                ..IndexedArticle::default()
            };
            index.upsert(&article).expect("indexed");
        }
        index.commit().expect("committed");
        let queries = [
            LabelledQuery { query: "password reset".into(), relevant: vec!["a".into()] },
            LabelledQuery { query: "parcel".into(), relevant: vec!["a".into()] },
        ];
        let report = evaluate(&index, &queries, "en").expect("evaluated");
        assert_eq!((report.n, report.recall_at_1, report.recall_at_5), (2, 0.5, 0.5));
        assert_eq!(report.mrr_at_10, 0.5);
    }
}
