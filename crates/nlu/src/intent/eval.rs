//! Evaluation of a model on labelled data: accuracy, macro F1, out-of-scope figures and the
//! per-message latency of the whole prediction (features, head, calibration).

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use serde::Serialize;

use super::{Example, IntentModel, Text};
use crate::embed::{EncoderError, SentenceEncoder};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub n: usize,
    pub accuracy: f64,
    pub macro_f1: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_scope_accuracy: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oos_recall: Option<f64>,
    pub p50_us: f64,
    pub p95_us: f64,
    pub p99_us: f64,
    /// Examples whose label the model was not trained on (always counted wrong).
    pub unknown_labels: usize,
    /// Share of messages for which the cascade paid for a sentence embedding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embedded_share: Option<f64>,
}

/// With `oos_label`, a prediction under its threshold counts as that label. A model with a full
/// head is evaluated as it runs: the cascade, with `encoder` (the n-gram head alone without it).
pub fn evaluate(
    model: &IntentModel,
    examples: &[Example],
    oos_label: Option<&str>,
    encoder: Option<&SentenceEncoder>,
) -> Result<Report, EncoderError> {
    let mut latencies = Vec::with_capacity(examples.len());
    let mut predicted = Vec::with_capacity(examples.len());
    let mut embedded = 0_usize;
    for example in examples {
        let started = Instant::now();
        let prediction = match encoder {
            Some(encoder) => {
                let (prediction, used) = model.predict_with(&Text::new(&example.text), |text| {
                    encoder.embed(&[text]).map(|mut e| e.pop().unwrap_or_default())
                })?;
                embedded += usize::from(used);
                prediction
            }
            None => model.predict(&Text::new(&example.text)),
        };
        latencies.push(started.elapsed().as_secs_f64() * 1e6);
        let label = match oos_label {
            Some(oos) if prediction.out_of_scope => oos.to_owned(),
            _ => prediction.label().to_owned(),
        };
        predicted.push(label);
    }
    let known: HashSet<&str> = model.labels().iter().map(String::as_str).chain(oos_label).collect();
    let truth: Vec<&str> = examples.iter().map(|e| e.label.as_str()).collect();
    let share = |keep: &dyn Fn(&str) -> bool| -> Option<f64> {
        let picked: Vec<bool> =
            truth.iter().zip(&predicted).filter(|(t, _)| keep(t)).map(|(t, p)| *t == p.as_str()).collect();
        (!picked.is_empty())
            .then(|| picked.iter().filter(|right| **right).count() as f64 / picked.len() as f64)
    };
    latencies.sort_by(f64::total_cmp);
    Ok(Report {
        n: examples.len(),
        accuracy: share(&|_| true).unwrap_or(0.0),
        macro_f1: macro_f1(&truth, &predicted),
        in_scope_accuracy: oos_label.and_then(|oos| share(&|t| t != oos)),
        oos_recall: oos_label.and_then(|oos| share(&|t| t == oos)),
        p50_us: percentile(&latencies, 0.50),
        p95_us: percentile(&latencies, 0.95),
        p99_us: percentile(&latencies, 0.99),
        unknown_labels: truth.iter().filter(|t| !known.contains(*t)).count(),
        embedded_share: (encoder.is_some() && model.encoder().is_some())
            .then(|| embedded as f64 / examples.len().max(1) as f64),
    })
}

/// Mean F1 over the labels present in the truth.
pub fn macro_f1(truth: &[&str], predicted: &[String]) -> f64 {
    let mut counts: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new(); // tp, fp, fn
    for (t, p) in truth.iter().zip(predicted) {
        if *t == p.as_str() {
            counts.entry(t).or_default().0 += 1;
        } else {
            counts.entry(t).or_default().2 += 1;
            if let Some(entry) = counts.get_mut(p.as_str()) {
                entry.1 += 1;
            } else {
                counts.insert(p.as_str(), (0, 1, 0));
            }
        }
    }
    let present: Vec<f64> = counts
        .iter()
        .filter(|(label, _)| truth.contains(label))
        .map(|(_, &(tp, fp, fn_))| if tp == 0 { 0.0 } else { 2.0 * tp as f64 / (2 * tp + fp + fn_) as f64 })
        .collect();
    if present.is_empty() { 0.0 } else { present.iter().sum::<f64>() / present.len() as f64 }
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macro_f1_averages_per_label_scores() {
        let truth = ["a", "a", "b", "b"];
        let predicted: Vec<String> = ["a", "b", "b", "b"].iter().map(|s| s.to_string()).collect();
        // a: tp 1, fn 1 -> 2/3; b: tp 2, fp 1 -> 4/5.
        assert!((macro_f1(&truth, &predicted) - (2.0 / 3.0 + 0.8) / 2.0).abs() < 1e-9);
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 0.5), 50.0);
        assert_eq!(percentile(&values, 0.99), 99.0);
        assert_eq!(percentile(&[3.0], 0.99), 3.0);
    }
}
