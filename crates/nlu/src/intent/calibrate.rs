//! Calibration on validation data: a softmax temperature minimising the negative log-likelihood,
//! then the confidence thresholds under which a prediction is treated as out of scope.
//!
//! A threshold maximises the utility of the answers it lets through: +1 for a right one,
//! `-wrong_cost` for a wrong one (an out-of-scope message answered counts as wrong), 0 for a
//! hand-off. Labels predicted at least `min_per_label` times get their own threshold. With fewer
//! than `min_empirical` validation answers, the threshold is the break-even probability instead.

use std::collections::HashMap;

use super::linear::softmax;
use super::{Example, train::TrainConfig};

// Below `TrainConfig::min_empirical` validation answers the empirical cut is noise (one
// confident mistake moves it to the top); the decision threshold of calibrated probabilities is
// used instead: answering pays when `p - wrong_cost * (1 - p) > 0`.

#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    pub temperature: f32,
    pub threshold: f32,
    pub label_thresholds: HashMap<String, f32>,
}

impl Calibration {
    pub fn neutral() -> Self {
        Self { temperature: 1.0, threshold: 0.0, label_thresholds: HashMap::new() }
    }
}

/// One validation prediction: predicted label index, its confidence, whether answering is right.
struct Outcome {
    label: usize,
    confidence: f32,
    answerable: bool,
    right: bool,
}

/// Calibrates from the head's logits for each validation example.
pub fn fit(
    labels: &[String],
    logits: &[Vec<f32>],
    validation: &[Example],
    config: &TrainConfig,
) -> Calibration {
    let truth: Vec<usize> =
        validation.iter().map(|e| labels.iter().position(|l| *l == e.label).unwrap_or(usize::MAX)).collect();
    let temperature = temperature(logits, &truth);
    let oos = config.oos_label.as_ref().and_then(|oos| labels.iter().position(|l| l == oos));
    let outcomes: Vec<Outcome> = logits
        .iter()
        .zip(&truth)
        .map(|(z, &truth)| {
            let (label, confidence) = argmax(&scaled(z, temperature));
            Outcome { label, confidence, answerable: Some(label) != oos, right: label == truth }
        })
        .collect();
    let all: Vec<&Outcome> = outcomes.iter().collect();
    let threshold = threshold(&all, config);
    let mut label_thresholds = HashMap::new();
    for (index, label) in labels.iter().enumerate() {
        let group: Vec<&Outcome> = outcomes.iter().filter(|o| o.label == index && o.answerable).collect();
        if group.len() >= config.min_per_label {
            label_thresholds.insert(label.clone(), threshold_of(&group, config.wrong_cost));
        }
    }
    Calibration { temperature, threshold, label_thresholds }
}

/// The lowest confidence of the cheap head (at `temperature`) above which it answers as well as
/// the full head did on validation: from there down, the embedding is worth its cost.
pub fn cascade_threshold(cheap: &[Vec<f32>], temperature: f32, full: &[Vec<f32>], truth: &[usize]) -> f32 {
    let mut rows: Vec<(f32, bool, bool)> = cheap
        .iter()
        .zip(full)
        .zip(truth)
        .map(|((c, f), &truth)| {
            let (cheap_label, confidence) = argmax(&scaled(c, temperature));
            let (full_label, _) = argmax(f);
            (confidence, cheap_label == truth, full_label == truth)
        })
        .collect();
    rows.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut cheap_right, mut full_right, mut cut) = (0_i64, 0_i64, 1.0_f32);
    for (confidence, cheap_ok, full_ok) in rows {
        cheap_right += i64::from(cheap_ok);
        full_right += i64::from(full_ok);
        if cheap_right >= full_right {
            cut = confidence;
        }
    }
    cut
}

pub(crate) fn scaled(z: &[f32], temperature: f32) -> Vec<f32> {
    let mut p: Vec<f32> = z.iter().map(|s| s / temperature).collect();
    softmax(&mut p);
    p
}

pub(crate) fn argmax(p: &[f32]) -> (usize, f32) {
    p.iter().copied().enumerate().fold((0, f32::MIN), |best, (i, v)| if v > best.1 { (i, v) } else { best })
}

/// Mean negative log-likelihood of the truth at the best temperature: how well logits fit.
pub fn fitted_loss(logits: &[Vec<f32>], truth: &[usize]) -> f32 {
    let t = temperature(logits, truth);
    let losses: Vec<f32> = logits
        .iter()
        .zip(truth)
        .filter(|(_, truth)| **truth != usize::MAX)
        .map(|(z, &truth)| -scaled(z, t)[truth].max(1e-12).ln())
        .collect();
    losses.iter().sum::<f32>() / losses.len().max(1) as f32
}

/// The temperature on a log grid from 0.05 to 20 with the lowest mean negative log-likelihood.
fn temperature(logits: &[Vec<f32>], truth: &[usize]) -> f32 {
    let nll = |t: f32| -> f32 {
        logits
            .iter()
            .zip(truth)
            .filter(|(_, truth)| **truth != usize::MAX)
            .map(|(z, &truth)| -scaled(z, t)[truth].max(1e-12).ln())
            .sum()
    };
    (0..=80)
        .map(|step| (0.05_f32.ln() + step as f32 * (20.0_f32.ln() - 0.05_f32.ln()) / 80.0).exp())
        .map(|t| (t, nll(t)))
        .fold((1.0, f32::INFINITY), |best, (t, loss)| if loss < best.1 { (t, loss) } else { best })
        .0
}

fn threshold(outcomes: &[&Outcome], config: &TrainConfig) -> f32 {
    let answerable: Vec<&Outcome> = outcomes.iter().copied().filter(|o| o.answerable).collect();
    if answerable.len() < config.min_empirical {
        return config.wrong_cost / (1.0 + config.wrong_cost);
    }
    threshold_of(&answerable, config.wrong_cost)
}

/// Lowest confidence accepted by the best cut of `outcomes` sorted by confidence.
fn threshold_of(outcomes: &[&Outcome], wrong_cost: f32) -> f32 {
    let mut sorted: Vec<&Outcome> = outcomes.to_vec();
    sorted.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    let (mut utility, mut best, mut cut) = (0.0_f32, 0.0_f32, None);
    for (i, outcome) in sorted.iter().enumerate() {
        utility += if outcome.right { 1.0 } else { -wrong_cost };
        if utility > best {
            best = utility;
            cut = Some(i);
        }
    }
    match cut {
        // Everything answered at the cut; anything less confident than all of it is a hand-off.
        Some(i) if i + 1 == sorted.len() => 0.0,
        Some(i) => sorted[i].confidence,
        None => 1.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(confidence: f32, right: bool) -> Outcome {
        Outcome { label: 0, confidence, answerable: true, right }
    }

    #[test]
    fn the_threshold_stops_where_wrong_answers_outweigh_right_ones() {
        let outcomes = [
            outcome(0.95, true),
            outcome(0.9, true),
            outcome(0.8, true),
            outcome(0.5, false),
            outcome(0.45, true),
            outcome(0.3, false),
        ];
        let refs: Vec<&Outcome> = outcomes.iter().collect();
        assert_eq!(threshold_of(&refs, 2.0), 0.8);
        assert_eq!(threshold_of(&refs, 0.5), 0.45);
    }

    #[test]
    fn all_right_accepts_everything_and_all_wrong_nothing() {
        let right = [outcome(0.6, true), outcome(0.2, true)];
        assert_eq!(threshold_of(&right.iter().collect::<Vec<_>>(), 2.0), 0.0);
        let wrong = [outcome(0.6, false)];
        assert_eq!(threshold_of(&wrong.iter().collect::<Vec<_>>(), 2.0), 1.0);
    }

    #[test]
    fn temperature_softens_overconfident_logits() {
        // Confident logits that are wrong half the time want a temperature above one.
        let logits = vec![vec![8.0, 0.0], vec![8.0, 0.0]];
        assert!(temperature(&logits, &[0, 1]) > 1.0);
        assert!(temperature(&logits, &[0, 0]) < 1.0);
    }
}
