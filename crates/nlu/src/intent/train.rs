//! Training: vocabulary and IDF from the training texts, the linear head, then calibration
//! (temperature, out-of-scope thresholds) on validation data — a given set, or a stratified
//! tenth held out of the training data, after which the head is refitted on all of it.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::calibrate::{self, Calibration};
use super::features::{CountedGrams, FeatureConfig, Gram, GramMap, Sparse};
use super::linear::{Fit, Linear, SplitMix};
use super::model::{EncoderUse, IntentModel, ModelInfo, append_embedding, vectorize, weighed};
use super::{Example, MAX_TEXT_BYTES};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub features: FeatureConfig,
    pub epochs: usize,
    pub learning_rate: f32,
    /// L2 penalty per example.
    pub l2: f32,
    /// Grams seen in fewer training texts are dropped.
    pub min_df: u32,
    pub seed: u64,
    /// Label of out-of-scope examples in the data, if any.
    pub oos_label: Option<String>,
    /// Cost of a wrong automated answer relative to the value of a right one; sets thresholds.
    pub wrong_cost: f32,
    /// Validation answers needed before the empirical cut replaces the break-even threshold.
    pub min_empirical: usize,
    /// Validation predictions of a label needed for it to get a threshold of its own.
    pub min_per_label: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            features: FeatureConfig::default(),
            epochs: 12,
            learning_rate: 0.4,
            l2: 2e-6,
            min_df: 1,
            seed: 42,
            oos_label: None,
            wrong_cost: 2.0,
            min_empirical: 500,
            min_per_label: 30,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TrainError {
    #[error("the training data is empty")]
    Empty,
    #[error("the training data has a single label ({0}); at least two are needed")]
    OneClass(String),
    #[error("example {index} has empty {what}")]
    EmptyField { index: usize, what: &'static str },
    #[error("example {index} is {bytes} bytes; at most {MAX_TEXT_BYTES} are accepted")]
    TooLong { index: usize, bytes: usize },
    #[error("validation label {0:?} is not among the training labels")]
    UnknownValidationLabel(String),
    #[error("sentence encoder: {0}")]
    Encoder(String),
}

/// Fewest validation examples from which the cascade threshold is chosen.
const MIN_CASCADE_VALIDATION: usize = 500;
/// A cascade threshold above every probability.
const ALWAYS_EMBED: f32 = 1.01;
/// Fewest gradient steps a fit takes: small data sets get more epochs.
const MIN_STEPS: usize = 40_000;
const MAX_EPOCHS: usize = 100;

fn epochs(configured: usize, examples: usize) -> usize {
    configured.max(MIN_STEPS.div_ceil(examples.max(1)).min(MAX_EPOCHS))
}

/// Computes unit-length sentence embeddings for texts, in order.
pub type Embedder<'a> = &'a dyn Fn(&[&str]) -> Result<Vec<Vec<f32>>, String>;

/// An n-gram model.
pub fn train(
    examples: &[Example],
    validation: Option<&[Example]>,
    config: &TrainConfig,
) -> Result<IntentModel, TrainError> {
    train_with(examples, validation, config, None)
}

/// With `encoder`, also a full head over n-grams and embeddings, used when the n-gram head is unsure.
pub fn train_with(
    examples: &[Example],
    validation: Option<&[Example]>,
    config: &TrainConfig,
    encoder: Option<(EncoderSpec, Embedder<'_>)>,
) -> Result<IntentModel, TrainError> {
    check(examples)?;
    let labels = labels(examples)?;
    if let Some(validation) = validation {
        check(validation)?;
        if let Some(unknown) = validation.iter().find(|e| !labels.contains(&e.label)) {
            return Err(TrainError::UnknownValidationLabel(unknown.label.clone()));
        }
    }
    let embed = |set: &[Example]| -> Result<Option<Vec<Vec<f32>>>, TrainError> {
        let Some((_, embedder)) = &encoder else { return Ok(None) };
        let texts: Vec<&str> = set.iter().map(|e| e.text.as_str()).collect();
        embedder(&texts).map(Some).map_err(TrainError::Encoder)
    };
    let all = Set { examples: examples.to_vec(), embeddings: embed(examples)? };
    let spec = encoder.as_ref().map(|(spec, _)| spec.clone());
    let (fitting, calibration_set, refit) = match validation {
        Some(validation) => {
            (all.clone(), Set { examples: validation.to_vec(), embeddings: embed(validation)? }, false)
        }
        None => {
            let (fitting, held_out) = hold_out(examples, config.seed);
            (all.pick(&fitting), all.pick(&held_out), true)
        }
    };
    let spec = spec.map(|spec| choose_weight(spec, &fitting, &calibration_set, &labels, config));
    let heads = Heads::fit(&fitting, &labels, config, spec.as_ref());
    let calibration = heads.calibrate(&calibration_set, &labels, config, spec.as_ref());
    let heads = if refit && !calibration_set.examples.is_empty() {
        Heads::fit(&all, &labels, config, spec.as_ref())
    } else {
        heads
    };
    Ok(heads.into_model(labels, config, calibration, examples.len(), calibration_set.examples.len()))
}

/// What the caller tells training about its sentence encoder.
#[derive(Debug, Clone, PartialEq)]
pub struct EncoderSpec {
    pub name: String,
    pub dimensions: usize,
    /// Scale of the embedding beside the n-gram groups.
    pub weight: f32,
}

/// Embedding weights tried on validation data: few examples favour the embedding.
const WEIGHTS: [f32; 3] = [1.0, 2.0, 3.0];

/// The weight whose full head best fits the validation data (lowest calibrated log-loss).
fn choose_weight(
    spec: EncoderSpec,
    fitting: &Set,
    validation: &Set,
    labels: &[String],
    config: &TrainConfig,
) -> EncoderSpec {
    if validation.examples.is_empty() {
        return spec;
    }
    let truth = truth(labels, &validation.examples);
    let loss = |weight: f32| {
        let spec = EncoderSpec { weight, ..spec.clone() };
        let heads = Heads::fit(fitting, labels, config, Some(&spec));
        let (_, full) = heads.logits(validation, config, Some(&spec));
        full.map_or(f32::INFINITY, |full| calibrate::fitted_loss(&full, &truth))
    };
    let weight = WEIGHTS
        .iter()
        .map(|&w| (w, loss(w)))
        .fold((spec.weight, f32::INFINITY), |best, (w, l)| if l < best.1 { (w, l) } else { best });
    EncoderSpec { weight: weight.0, ..spec }
}

fn truth(labels: &[String], examples: &[Example]) -> Vec<usize> {
    examples.iter().map(|e| labels.iter().position(|l| *l == e.label).unwrap_or(usize::MAX)).collect()
}

#[derive(Clone)]
struct Set {
    examples: Vec<Example>,
    embeddings: Option<Vec<Vec<f32>>>,
}

impl Set {
    fn pick(&self, indices: &[usize]) -> Self {
        Self {
            examples: indices.iter().map(|&i| self.examples[i].clone()).collect(),
            embeddings: self.embeddings.as_ref().map(|e| indices.iter().map(|&i| e[i].clone()).collect()),
        }
    }
}

struct Heads {
    grams: Vec<Gram>,
    idf: Vec<f32>,
    cheap: Linear,
    full: Option<Linear>,
}

struct Calibrated {
    calibration: Calibration,
    encoder: Option<EncoderUse>,
}

impl Heads {
    fn fit(set: &Set, labels: &[String], config: &TrainConfig, spec: Option<&EncoderSpec>) -> Self {
        let counted_grams: Vec<CountedGrams> =
            set.examples.iter().map(|e| CountedGrams::of(&e.text, &config.features)).collect();
        let (grams, idf) = vocabulary(&counted_grams, config.min_df);
        let index: GramMap<u32> = grams.iter().enumerate().map(|(row, gram)| (*gram, row as u32)).collect();
        let lookup = |gram: Gram| index.get(&gram).map(|&row| (row, idf[row as usize]));
        let xs: Vec<Sparse> =
            counted_grams.iter().map(|counted| weighed(counted, &config.features, lookup)).collect();
        let label_index: HashMap<&str, u32> =
            labels.iter().enumerate().map(|(i, label)| (label.as_str(), i as u32)).collect();
        let ys: Vec<u32> = set.examples.iter().map(|e| label_index[e.label.as_str()]).collect();
        let fit = Fit {
            epochs: epochs(config.epochs, xs.len()),
            learning_rate: config.learning_rate,
            l2: config.l2,
            seed: config.seed,
        };
        let cheap = Linear::fit(&xs, &ys, grams.len(), labels.len(), fit);
        let full = spec.zip(set.embeddings.as_ref()).map(|(spec, embeddings)| {
            let xs: Vec<Sparse> = xs
                .iter()
                .zip(embeddings)
                .map(|(x, e)| {
                    let mut x = x.clone();
                    append_embedding(&mut x, e, grams.len(), spec.weight);
                    x
                })
                .collect();
            Linear::fit(&xs, &ys, grams.len() + spec.dimensions, labels.len(), fit)
        });
        Self { grams, idf, cheap, full }
    }

    fn logits(
        &self,
        set: &Set,
        config: &TrainConfig,
        spec: Option<&EncoderSpec>,
    ) -> (Vec<Vec<f32>>, Option<Vec<Vec<f32>>>) {
        let index: GramMap<u32> =
            self.grams.iter().enumerate().map(|(row, gram)| (*gram, row as u32)).collect();
        let lookup = |gram: Gram| index.get(&gram).map(|&row| (row, self.idf[row as usize]));
        let xs: Vec<Sparse> =
            set.examples.iter().map(|e| vectorize(&e.text, &config.features, lookup)).collect();
        let cheap = xs.iter().map(|x| self.cheap.logits(x)).collect();
        let full =
            (self.full.as_ref().zip(spec).zip(set.embeddings.as_ref())).map(|((full, spec), embeddings)| {
                xs.iter()
                    .zip(embeddings)
                    .map(|(x, e)| {
                        let mut x = x.clone();
                        append_embedding(&mut x, e, self.grams.len(), spec.weight);
                        full.logits(&x)
                    })
                    .collect()
            });
        (cheap, full)
    }

    fn calibrate(
        &self,
        set: &Set,
        labels: &[String],
        config: &TrainConfig,
        spec: Option<&EncoderSpec>,
    ) -> Calibrated {
        if set.examples.is_empty() {
            return Calibrated { calibration: Calibration::neutral(), encoder: None };
        }
        let (cheap, full) = self.logits(set, config, spec);
        let cheap_calibration = calibrate::fit(labels, &cheap, &set.examples, config);
        let (Some(full), Some(spec)) = (full, spec) else {
            return Calibrated { calibration: cheap_calibration, encoder: None };
        };
        let truth = truth(labels, &set.examples);
        // Too little validation data cannot show when the n-gram head is sure: always embed.
        let cascade_threshold = if set.examples.len() >= MIN_CASCADE_VALIDATION {
            calibrate::cascade_threshold(&cheap, cheap_calibration.temperature, &full, &truth)
        } else {
            ALWAYS_EMBED
        };
        let encoder = EncoderUse {
            name: spec.name.clone(),
            dimensions: spec.dimensions,
            weight: spec.weight,
            cheap_temperature: cheap_calibration.temperature,
            cascade_threshold,
        };
        Calibrated {
            calibration: calibrate::fit(labels, &full, &set.examples, config),
            encoder: Some(encoder),
        }
    }

    fn into_model(
        self,
        labels: Vec<String>,
        config: &TrainConfig,
        calibrated: Calibrated,
        training_examples: usize,
        validation_examples: usize,
    ) -> IntentModel {
        let Calibrated { calibration, encoder } = calibrated;
        let info = ModelInfo {
            oos_label: config.oos_label.clone().filter(|label| labels.contains(label)),
            labels,
            features: config.features.clone(),
            temperature: calibration.temperature,
            threshold: calibration.threshold,
            label_thresholds: calibration.label_thresholds,
            training_examples,
            validation_examples,
            encoder: encoder.filter(|_| self.full.is_some()),
        };
        IntentModel::new(info, self.grams, self.idf, self.cheap, self.full)
    }
}

fn check(examples: &[Example]) -> Result<(), TrainError> {
    if examples.is_empty() {
        return Err(TrainError::Empty);
    }
    for (index, example) in examples.iter().enumerate() {
        if example.text.trim().is_empty() {
            return Err(TrainError::EmptyField { index, what: "text" });
        }
        if example.label.trim().is_empty() {
            return Err(TrainError::EmptyField { index, what: "label" });
        }
        if example.text.len() > MAX_TEXT_BYTES {
            return Err(TrainError::TooLong { index, bytes: example.text.len() });
        }
    }
    Ok(())
}

fn labels(examples: &[Example]) -> Result<Vec<String>, TrainError> {
    let mut labels: Vec<String> = examples.iter().map(|e| e.label.clone()).collect();
    labels.sort_unstable();
    labels.dedup();
    match labels.as_slice() {
        [only] => Err(TrainError::OneClass(only.clone())),
        _ => Ok(labels),
    }
}

/// Indices of a stratified tenth of each label with at least five examples, and of the rest.
fn hold_out(examples: &[Example], seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut by_label: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (index, example) in examples.iter().enumerate() {
        by_label.entry(&example.label).or_default().push(index);
    }
    let mut rng = SplitMix(seed ^ 0x5eed);
    let (mut fitting, mut held_out) = (Vec::new(), Vec::new());
    for (_, mut group) in by_label {
        rng.shuffle(&mut group);
        let take = if group.len() >= 5 { group.len().div_ceil(10) } else { 0 };
        held_out.extend_from_slice(&group[..take]);
        fitting.extend_from_slice(&group[take..]);
    }
    (fitting, held_out)
}

/// Grams in at least `min_df` texts, in a stable order, with smoothed IDF.
fn vocabulary(texts: &[CountedGrams], min_df: u32) -> (Vec<Gram>, Vec<f32>) {
    let mut df: GramMap<u32> = GramMap::default();
    for counted in texts {
        for (gram, _) in counted.words.iter().chain(&counted.chars) {
            *df.entry(*gram).or_default() += 1;
        }
    }
    let mut kept: Vec<(Gram, u32)> = df.into_iter().filter(|(_, count)| *count >= min_df.max(1)).collect();
    kept.sort_unstable();
    let n = texts.len() as f32;
    let idf = kept.iter().map(|(_, count)| ((1.0 + n) / (1.0 + *count as f32)).ln() + 1.0).collect();
    (kept.into_iter().map(|(gram, _)| gram).collect(), idf)
}
