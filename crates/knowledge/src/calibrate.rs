//! Fitting the hybrid blend on validation queries (never on the test queries): the dense weight
//! that ranks the right article first most often, a logistic model of "the top article is right"
//! on the top score and its lead, and the lowest confidence at which wrong answers stay within
//! a budget. Prints what `HYBRID_BLEND` and `HYBRID_MIN_CONFIDENCE` are set to.

use std::collections::HashSet;

use serde::Serialize;

use crate::eval::LabelledQuery;
use crate::index::{ArticleIndex, Blend, Candidate, Filters, HitScores, IndexError, rank};

/// Wrong answers allowed, as a share of all validation questions: under the 2% target, so the
/// threshold holds on questions it was not chosen on.
pub const WRONG_BUDGET: f64 = 0.015;

#[derive(Debug, Clone, Serialize)]
pub struct Calibration {
    pub blend: Blend,
    pub threshold: f32,
    pub n: usize,
    /// On the validation queries, at `threshold`: right answers, wrong answers (shares of all).
    pub recall_at_1: f64,
    pub answered_right: f64,
    pub answered_wrong: f64,
}

/// One query's candidates, and which are right.
type Scored = Vec<(Candidate, bool)>;

pub fn calibrate(
    index: &ArticleIndex,
    queries: &[LabelledQuery],
    locale: &str,
) -> Result<Calibration, IndexError> {
    let filters = Filters { locale, ..Filters::default() };
    let mut scored: Vec<Scored> = Vec::with_capacity(queries.len());
    for labelled in queries {
        let relevant: HashSet<&str> = labelled.relevant.iter().map(String::as_str).collect();
        let candidates = index.candidates(&labelled.query, &filters, false)?;
        scored.push(
            candidates
                .into_iter()
                .map(|c| {
                    let right = relevant.contains(c.hit.article_id.as_str());
                    (c, right)
                })
                .collect(),
        );
    }
    let dense_weight = (0..=20)
        .map(|step| step as f32 / 20.0)
        .max_by(|a, b| right_at_1(&scored, *a).total_cmp(&right_at_1(&scored, *b)))
        .unwrap_or(0.5);
    let tops: Vec<(HitScores, bool)> = scored.iter().map(|query| top_of(query, dense_weight)).collect();
    let (weights, intercept) = fit_logistic(&tops);
    let blend = Blend { dense_weight, weights, intercept };
    let confidences: Vec<(f32, bool)> =
        tops.iter().map(|(scores, right)| (blend.confidence(scores), *right)).collect();
    let n = queries.len().max(1) as f64;
    let at = |threshold: f32| {
        let answered = confidences.iter().filter(|(confidence, _)| *confidence >= threshold);
        let (right, wrong) =
            answered.fold((0, 0), |(r, w), (_, ok)| if *ok { (r + 1, w) } else { (r, w + 1) });
        (f64::from(right) / n, f64::from(wrong) / n)
    };
    let threshold = (50..100)
        .map(|step| step as f32 / 100.0)
        .find(|threshold| at(*threshold).1 <= WRONG_BUDGET)
        .unwrap_or(0.99);
    let (answered_right, answered_wrong) = at(threshold);
    Ok(Calibration {
        blend,
        threshold,
        n: queries.len(),
        recall_at_1: right_at_1(&scored, dense_weight),
        answered_right,
        answered_wrong,
    })
}

/// The share of queries whose best candidate under `dense_weight` is right.
fn right_at_1(scored: &[Scored], dense_weight: f32) -> f64 {
    let right = scored.iter().filter(|query| top_of(query, dense_weight).1).count();
    right as f64 / scored.len().max(1) as f64
}

/// The best candidate's scores under `dense_weight`, and whether it is right.
fn top_of(query: &Scored, dense_weight: f32) -> (HitScores, bool) {
    let blend = Blend { dense_weight, weights: [0.0; 4], intercept: 0.0 };
    let right: HashSet<&str> =
        query.iter().filter(|(_, right)| *right).map(|(c, _)| c.hit.article_id.as_str()).collect();
    let candidates: Vec<Candidate> = query.iter().map(|(c, _)| c.clone()).collect();
    rank(candidates, &blend).into_iter().next().map_or((HitScores::default(), false), |(scores, hit)| {
        (scores, right.contains(hit.article_id.as_str()))
    })
}

/// Logistic regression of `right` on the hit's features, by gradient descent: (weights,
/// intercept).
fn fit_logistic(tops: &[(HitScores, bool)]) -> ([f32; 4], f32) {
    let (mut weights, mut intercept) = ([0.0f64; 4], 0.0f64);
    let n = tops.len().max(1) as f64;
    let rate = 2.0;
    for _ in 0..20_000 {
        let (mut gradient, mut gradient_intercept) = ([0.0f64; 4], 0.0);
        for (scores, right) in tops {
            let x = scores.features().map(f64::from);
            let z: f64 = weights.iter().zip(&x).map(|(w, x)| w * x).sum::<f64>() + intercept;
            let error = 1.0 / (1.0 + (-z).exp()) - f64::from(u8::from(*right));
            for (g, x) in gradient.iter_mut().zip(&x) {
                *g += error * x;
            }
            gradient_intercept += error;
        }
        for (w, g) in weights.iter_mut().zip(gradient) {
            *w -= rate * g / n;
        }
        intercept -= rate * gradient_intercept / n;
    }
    (weights.map(|w| w as f32), intercept as f32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::IndexHit;

    fn candidate(id: &str, similarity: f32, lexical: f32) -> Candidate {
        Candidate { hit: IndexHit { article_id: id.into(), ..IndexHit::default() }, similarity, lexical }
    }

    #[test]
    fn the_logistic_fit_separates_confident_right_answers_from_wrong_ones() {
        let mut tops = Vec::new();
        for i in 0..50 {
            let jitter = i as f32 / 500.0;
            let hit = |fused: f32, next| HitScores { fused, next, similarity: fused, lexical: fused };
            tops.push((hit(0.8 + jitter, 0.3), true));
            tops.push((hit(0.4 + jitter, 0.35), false));
        }
        let (weights, intercept) = fit_logistic(&tops);
        let blend = Blend { dense_weight: 0.5, weights, intercept };
        let sure = HitScores { fused: 0.85, next: 0.3, similarity: 0.85, lexical: 0.85 };
        let unsure = HitScores { fused: 0.42, next: 0.35, similarity: 0.42, lexical: 0.42 };
        assert!(blend.confidence(&sure) > 0.9, "{blend:?}");
        assert!(blend.confidence(&unsure) < 0.1, "{blend:?}");
    }

    #[test]
    fn the_weight_that_puts_right_articles_first_is_chosen() {
        // Similarity is right where lexical confidence is wrong.
        let query = vec![(candidate("a", 0.9, 0.2), true), (candidate("b", 0.3, 0.6), false)];
        let scored = vec![query; 3];
        assert_eq!(right_at_1(&scored, 1.0), 1.0);
        assert_eq!(right_at_1(&scored, 0.0), 0.0);
    }
}
