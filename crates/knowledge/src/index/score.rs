//! How hits are scored: BM25 mapped to 0..1, the lexical confidence, and the hybrid blend of
//! similarity and lexical confidence with its calibrated confidence.

/// BM25 scores are unbounded; callers compare against thresholds in 0..1.
pub fn relevance(score: f32) -> f32 {
    1.0 - (-score / RELEVANCE_SCALE).exp()
}

/// A BM25 score of this size maps to a relevance of about 0.63.
const RELEVANCE_SCALE: f32 = 5.0;

/// How sure a lexical hit answers the query, 0..1: mostly how much of the query it covers (which
/// does not depend on the size of the knowledge base, as BM25 does), then its relevance, scaled
/// by its lead over the next hit. `score` and `runner_up` are BM25 scores.
pub fn lexical_confidence(score: f32, coverage: f32, runner_up: f32) -> f32 {
    if score <= 0.0 {
        return 0.0;
    }
    let lead = ((score - runner_up) / score).clamp(0.0, 1.0);
    (0.6 * coverage.clamp(0.0, 1.0) + 0.4 * relevance(score)) * (0.7 + 0.3 * lead)
}

/// The hybrid ranking and its confidence. Ranking: `dense_weight · similarity + (1 −
/// dense_weight) · lexical confidence`. Confidence: a logistic model of the hit's blended score,
/// its lead over the next hit, its similarity and its lexical confidence; an estimate of the
/// probability that the hit is the right article.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Blend {
    pub dense_weight: f32,
    /// Weights of (score, lead, similarity, lexical confidence).
    pub weights: [f32; 4],
    pub intercept: f32,
}

/// What the confidence of a hybrid hit is computed from.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct HitScores {
    pub fused: f32,
    /// The next hit's blended score.
    pub next: f32,
    pub similarity: f32,
    pub lexical: f32,
}

impl HitScores {
    pub fn features(&self) -> [f32; 4] {
        [self.fused, (self.fused - self.next).max(0.0), self.similarity, self.lexical]
    }
}

/// Fitted on the validation part of the Bitext knowledge set (`make eval`; see
/// docs/KNOWLEDGE.md): `switchboard knowledge calibrate` prints these figures.
pub const HYBRID_BLEND: Blend = Blend {
    dense_weight: 0.65,
    weights: [0.274_864_17, 22.976_004, 1.061_677_3, -1.186_352_4],
    intercept: 0.076_292_17,
};

impl Blend {
    pub fn fused(&self, similarity: f32, lexical: f32) -> f32 {
        self.dense_weight * similarity.clamp(0.0, 1.0) + (1.0 - self.dense_weight) * lexical.clamp(0.0, 1.0)
    }

    /// The confidence of a hit.
    pub fn confidence(&self, scores: &HitScores) -> f32 {
        let z: f32 =
            self.weights.iter().zip(scores.features()).map(|(w, x)| w * x).sum::<f32>() + self.intercept;
        1.0 / (1.0 + (-z).exp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexical_confidence_grows_with_relevance_coverage_and_lead() {
        assert_eq!(lexical_confidence(0.0, 1.0, 0.0), 0.0);
        assert!(lexical_confidence(20.0, 1.0, 0.0) > lexical_confidence(20.0, 0.3, 0.0));
        assert!(lexical_confidence(20.0, 1.0, 2.0) > lexical_confidence(20.0, 1.0, 19.0));
        assert!(lexical_confidence(20.0, 1.0, 0.0) > lexical_confidence(3.0, 1.0, 0.0));
        assert!(lexical_confidence(1000.0, 1.0, 0.0) <= 1.0);
    }

    #[test]
    fn relevance_stays_between_zero_and_one() {
        assert_eq!(relevance(0.0), 0.0);
        assert!(relevance(5.0) > 0.6 && relevance(5.0) < 0.7);
        assert!(relevance(1000.0) <= 1.0);
    }

    #[test]
    fn hybrid_confidence_grows_with_the_score_and_its_lead() {
        let blend = HYBRID_BLEND;
        let hit = |fused, next| HitScores { fused, next, similarity: fused, lexical: fused };
        assert!(blend.confidence(&hit(0.9, 0.2)) > blend.confidence(&hit(0.9, 0.85)));
        assert!(blend.confidence(&hit(0.9, 0.5)) > blend.confidence(&hit(0.6, 0.5)));
        assert!((0.0..=1.0).contains(&blend.confidence(&hit(5.0, 0.0))));
        assert!(blend.fused(1.0, 1.0) <= 1.0 && blend.fused(0.0, 0.0) == 0.0);
    }
}
