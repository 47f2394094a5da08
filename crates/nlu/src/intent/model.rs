//! A trained intent model: vocabulary, linear head, calibration and out-of-scope thresholds.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::features::{CountedGrams, FeatureConfig, Gram, GramMap, Sparse, Text, weigh};
use super::linear::{Linear, softmax};

/// What the model knows about itself; stored as the artifact's header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Class labels, in the linear head's order.
    pub labels: Vec<String>,
    pub features: FeatureConfig,
    /// Softmax temperature fitted on validation data.
    pub temperature: f32,
    /// Confidence below which a prediction is out of scope.
    pub threshold: f32,
    /// Per-label thresholds where validation data allowed one; `threshold` otherwise.
    pub label_thresholds: HashMap<String, f32>,
    /// The label that marks out-of-scope examples, if the training data had one.
    pub oos_label: Option<String>,
    pub training_examples: usize,
    pub validation_examples: usize,
    /// Set when the model also has a head over n-grams and sentence embeddings.
    #[serde(default)]
    pub encoder: Option<EncoderUse>,
}

/// How the full head uses sentence embeddings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncoderUse {
    /// The sentence encoder the head was trained with (see `embed::ENCODER_NAME`).
    pub name: String,
    pub dimensions: usize,
    /// Scale of the unit-length embedding beside the unit-length n-gram groups.
    pub weight: f32,
    /// Softmax temperature of the n-gram head when it answers alone.
    pub cheap_temperature: f32,
    /// The n-gram head answers alone at or above this confidence; below, the full head does.
    pub cascade_threshold: f32,
}

pub struct IntentModel {
    pub info: ModelInfo,
    pub(crate) vocabulary: GramMap<u32>,
    /// Vocabulary grams by row, and their inverse document frequencies.
    pub(crate) grams: Vec<Gram>,
    pub(crate) idf: Vec<f32>,
    pub(crate) head: Linear,
    /// Over the vocabulary rows then the embedding dimensions; present with `info.encoder`.
    pub(crate) full_head: Option<Linear>,
}

/// The model's answer for one text.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// (label, calibrated probability), best first.
    pub ranked: Vec<(String, f32)>,
    /// True when the best label is the out-of-scope label or its probability is under its threshold.
    pub out_of_scope: bool,
}

impl Prediction {
    pub fn label(&self) -> &str {
        self.ranked.first().map_or("", |(label, _)| label)
    }

    pub fn confidence(&self) -> f32 {
        self.ranked.first().map_or(0.0, |(_, p)| *p)
    }
}

impl IntentModel {
    pub(crate) fn new(
        info: ModelInfo,
        grams: Vec<Gram>,
        idf: Vec<f32>,
        head: Linear,
        full_head: Option<Linear>,
    ) -> Self {
        let vocabulary = grams.iter().enumerate().map(|(row, gram)| (*gram, row as u32)).collect();
        Self { info, vocabulary, grams, idf, head, full_head }
    }

    /// The sentence encoder the model wants, if it has a full head.
    pub fn encoder(&self) -> Option<&EncoderUse> {
        self.info.encoder.as_ref().filter(|_| self.full_head.is_some())
    }

    pub fn labels(&self) -> &[String] {
        &self.info.labels
    }

    pub fn vocabulary_size(&self) -> usize {
        self.grams.len()
    }

    pub fn features(&self, text: &Text<'_>) -> Sparse {
        weighed(&text.grams(&self.info.features), &self.info.features, |gram| {
            self.vocabulary.get(&gram).map(|&row| (row, self.idf[row as usize]))
        })
    }

    /// Calibrated probabilities in label order from the n-gram head alone.
    pub fn probabilities(&self, text: &Text<'_>) -> Vec<f32> {
        let temperature = self.encoder().map_or(self.info.temperature, |e| e.cheap_temperature);
        calibrated(self.head.logits(&self.features(text)), temperature)
    }

    /// The n-gram head's prediction (the whole model when it has no encoder).
    pub fn predict(&self, text: &Text<'_>) -> Prediction {
        self.decide(&self.probabilities(text))
    }

    /// The cascade: the n-gram head answers when sure; otherwise `embed` is asked for the text's
    /// sentence embedding and the full head answers. Without a full head, as `predict`.
    pub fn predict_with<E>(
        &self,
        text: &Text<'_>,
        embed: impl FnOnce(&str) -> Result<Vec<f32>, E>,
    ) -> Result<(Prediction, bool), E> {
        let cheap = self.probabilities(text);
        let (Some(encoder), Some(full)) = (self.encoder(), &self.full_head) else {
            return Ok((self.decide(&cheap), false));
        };
        if cheap.iter().copied().fold(0.0, f32::max) >= encoder.cascade_threshold {
            return Ok((self.decide(&cheap), false));
        }
        let mut x = self.features(text);
        append_embedding(&mut x, &embed(text.as_str())?, self.grams.len(), encoder.weight);
        Ok((self.decide(&calibrated(full.logits(&x), self.info.temperature)), true))
    }

    /// Ranks probabilities and applies the out-of-scope rule.
    pub fn decide(&self, probabilities: &[f32]) -> Prediction {
        let mut ranked: Vec<(String, f32)> =
            self.info.labels.iter().cloned().zip(probabilities.iter().copied()).collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        let out_of_scope = ranked.first().is_some_and(|(label, p)| {
            self.info.oos_label.as_deref() == Some(label.as_str()) || *p < self.threshold(label)
        });
        Prediction { ranked, out_of_scope }
    }

    pub fn threshold(&self, label: &str) -> f32 {
        self.info.label_thresholds.get(label).copied().unwrap_or(self.info.threshold)
    }
}

fn calibrated(mut z: Vec<f32>, temperature: f32) -> Vec<f32> {
    let temperature = temperature.max(1e-3);
    z.iter_mut().for_each(|s| *s /= temperature);
    softmax(&mut z);
    z
}

/// Embedding dimensions become features after the vocabulary rows.
pub(crate) fn append_embedding(x: &mut Sparse, embedding: &[f32], rows: usize, weight: f32) {
    x.extend(embedding.iter().enumerate().map(|(d, v)| ((rows + d) as u32, v * weight)));
}

/// TF-IDF vector of `text`: the word group and the character group, each of unit length
/// (the character group scaled by `char_weight`).
pub(crate) fn vectorize(
    text: &str,
    config: &FeatureConfig,
    lookup: impl Fn(Gram) -> Option<(u32, f32)>,
) -> Sparse {
    weighed(&CountedGrams::of(text, config), config, lookup)
}

/// [`vectorize`] from grams counted before.
pub(crate) fn weighed(
    grams: &CountedGrams,
    config: &FeatureConfig,
    lookup: impl Fn(Gram) -> Option<(u32, f32)>,
) -> Sparse {
    let mut vector = weigh(&grams.words, &lookup, 1.0);
    vector.extend(weigh(&grams.chars, &lookup, config.char_weight));
    vector
}
