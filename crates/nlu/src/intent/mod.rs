//! Intent classification: a multinomial logistic regression over hashed word and character
//! n-grams (TF-IDF), with calibrated probabilities and out-of-scope thresholds.

mod artifact;
mod calibrate;
pub mod dataset;
pub mod eval;
mod features;
mod linear;
mod model;
mod train;

pub use artifact::ArtifactError;
pub use features::{FeatureConfig, Text};
pub use model::{EncoderUse, IntentModel, ModelInfo, Prediction};
pub use train::{Embedder, EncoderSpec, TrainConfig, TrainError, train, train_with};

/// Longest text the model accepts, in bytes (as intake).
pub const MAX_TEXT_BYTES: usize = 32 * 1024;

/// A labelled text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    pub text: String,
    pub label: String,
}

impl Example {
    pub fn new(text: impl Into<String>, label: impl Into<String>) -> Self {
        Self { text: text.into(), label: label.into() }
    }
}

/// At most `limit` examples of each label, sampled with `seed`, in a stable order.
pub fn sample_per_label(examples: &[Example], limit: usize, seed: u64) -> Vec<Example> {
    let mut shuffled: Vec<&Example> = examples.iter().collect();
    linear::SplitMix(seed).shuffle(&mut shuffled);
    let mut taken: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    shuffled
        .into_iter()
        .filter(|example| {
            let count = taken.entry(example.label.as_str()).or_default();
            *count += 1;
            *count <= limit
        })
        .cloned()
        .collect()
}
