//! Sentiment and urgency heads trained on labelled customer messages written for this project
//! (`data/sentiment/train-*.jsonl`, 1,200 in English and both Chinese scripts): the intent
//! model's n-gram logistic regression, one head each, trained once on first use (about a second).
//! The lexicon stays: its critical cues (safety, fraud, legal threats) decide urgency before the
//! head, and where a head is unsure its word stands (see [`Heads::read`]).

use std::collections::HashMap;
use std::sync::LazyLock;

use super::{Feeling, Sentiment, Urgency};
use crate::intent::{Example, IntentModel, Text, TrainConfig, TrainError, train};

/// The labelled messages the heads learn from: (JSON lines of `{"text", "language",
/// "sentiment", "urgency"}`).
const TRAINING: &[&str] = &[
    include_str!("../../data/sentiment/train-en.jsonl"),
    include_str!("../../data/sentiment/train-zh.jsonl"),
];

/// How the heads and the lexicon are combined.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trust {
    /// The sentiment head's probability under which the lexicon's sentiment is taken instead.
    pub sentiment: f32,
    /// The same for urgency (0: the head always, above 1: the lexicon alone).
    pub urgency: f32,
    /// The lexicon's `high` (time pressure, lock-outs, anger) raises a lower urgency.
    pub lexicon_high: bool,
}

/// The combination chosen by cross-validation on the training messages (docs/CLASSIFIER.md).
pub const TRUST: Trust = Trust { sentiment: 0.5, urgency: 0.0, lexicon_high: true };

static HEADS: LazyLock<Result<Heads, TrainError>> = LazyLock::new(|| Heads::train(&labelled()));

/// The trained heads, trained on first use; an error only if the built-in data cannot train
/// (then the lexicon reads alone).
pub fn heads() -> Result<&'static Heads, &'static TrainError> {
    HEADS.as_ref()
}

/// One labelled message.
#[derive(Debug, Clone, PartialEq)]
pub struct Labelled {
    pub text: String,
    pub language: String,
    pub sentiment: String,
    pub urgency: String,
}

/// Parses JSON lines of labelled messages; lines that do not parse are skipped (the data is
/// the project's own and checked by its tests).
pub fn parse(data: &str) -> Vec<Labelled> {
    data.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|value| {
            let field = |name: &str| value.get(name).and_then(|v| v.as_str()).map(str::to_owned);
            Some(Labelled {
                text: field("text")?,
                language: field("language")?,
                sentiment: field("sentiment")?,
                urgency: field("urgency")?,
            })
        })
        .collect()
}

/// Every built-in training message.
pub fn labelled() -> Vec<Labelled> {
    TRAINING.iter().flat_map(|data| parse(data)).collect()
}

pub struct Heads {
    sentiment: IntentModel,
    urgency: IntentModel,
}

impl Heads {
    pub fn train(rows: &[Labelled]) -> Result<Self, TrainError> {
        let examples = |label: fn(&Labelled) -> &str| -> Vec<Example> {
            rows.iter().map(|row| Example { text: row.text.clone(), label: label(row).to_owned() }).collect()
        };
        let config = TrainConfig::default();
        Ok(Self {
            sentiment: train(&examples(|row| &row.sentiment), None, &config)?,
            urgency: train(&examples(|row| &row.urgency), None, &config)?,
        })
    }

    /// The heads' reading, the lexicon's (`lexicon`) where a head is unsure; a critical cue in
    /// the lexicon makes the message critical (and not positive) whatever the head says.
    pub fn read(&self, text: &Text<'_>, lexicon: Feeling) -> Feeling {
        self.read_trusting(text, lexicon, TRUST)
    }

    /// [`Heads::read`] combined as `trust` says.
    pub fn read_trusting(&self, text: &Text<'_>, lexicon: Feeling, trust: Trust) -> Feeling {
        let (sentiment_label, sentiment_p, score) = best_and_score(&self.sentiment, text);
        let (urgency_label, urgency_p, _) = best_and_score(&self.urgency, text);
        let sure_of_sentiment = sentiment_p >= trust.sentiment;
        let mut sentiment = if sure_of_sentiment {
            sentiment_of(&sentiment_label).unwrap_or(lexicon.sentiment)
        } else {
            lexicon.sentiment
        };
        let mut urgency = match (lexicon.urgency, urgency_p >= trust.urgency) {
            (Urgency::Critical, _) => Urgency::Critical,
            (_, true) => urgency_of(&urgency_label).unwrap_or(lexicon.urgency),
            (read, false) => read,
        };
        if trust.lexicon_high && lexicon.urgency == Urgency::High {
            urgency = urgency.max(Urgency::High);
        }
        if urgency == Urgency::Critical && sentiment == Sentiment::Positive {
            sentiment = Sentiment::Negative;
        }
        if !sure_of_sentiment {
            return Feeling { score: lexicon.score, sentiment, urgency };
        }
        let score = match sentiment {
            Sentiment::Negative => score.min(-0.25),
            Sentiment::Positive => score.max(0.25),
            Sentiment::Neutral => score.clamp(-0.24, 0.24),
        };
        Feeling { score, sentiment, urgency }
    }
}

/// The head's best label and its probability, and P(positive) − P(negative) when it has them.
fn best_and_score(head: &IntentModel, text: &Text<'_>) -> (String, f32, f32) {
    let probabilities = head.probabilities(text);
    let p = |label: &str| {
        head.labels()
            .iter()
            .position(|l| l == label)
            .and_then(|i| probabilities.get(i))
            .copied()
            .unwrap_or(0.0)
    };
    let best = head
        .labels()
        .iter()
        .zip(&probabilities)
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(label, p)| (label.clone(), *p))
        .unwrap_or_default();
    (best.0, best.1, p("positive") - p("negative"))
}

fn sentiment_of(label: &str) -> Option<Sentiment> {
    match label {
        "negative" => Some(Sentiment::Negative),
        "neutral" => Some(Sentiment::Neutral),
        "positive" => Some(Sentiment::Positive),
        _ => None,
    }
}

fn urgency_of(label: &str) -> Option<Urgency> {
    match label {
        "low" => Some(Urgency::Low),
        "normal" => Some(Urgency::Normal),
        "high" => Some(Urgency::High),
        "critical" => Some(Urgency::Critical),
        _ => None,
    }
}

/// Held-out messages, written by other hands than the training messages and never used to
/// choose anything: `heldout.jsonl` (written after the lexicon's revision) and the larger
/// `heldout-en.jsonl` and `heldout-zh.jsonl`, written before the heads were trained.
pub const HELD_OUT: &[&str] = &[HELD_OUT_2024, HELD_OUT_EN, HELD_OUT_ZH];
/// The 70 held-out messages of the lexicon (labelled before the current definitions: a calm
/// fault report may be neutral there, a threat to leave normal).
pub const HELD_OUT_2024: &str = include_str!("../../data/sentiment/heldout.jsonl");
/// The 400 held-out messages written with the current definitions.
pub const HELD_OUT_EN: &str = include_str!("../../data/sentiment/heldout-en.jsonl");
pub const HELD_OUT_ZH: &str = include_str!("../../data/sentiment/heldout-zh.jsonl");

/// Accuracy of `read` (given each row's index and row) on the `rows` of one language group:
/// (n, sentiment, urgency).
pub fn accuracy(
    rows: &[Labelled],
    group: &str,
    read: impl Fn(usize, &Labelled) -> Feeling,
) -> (usize, f64, f64) {
    let (mut n, mut sentiment, mut urgency) = (0, 0, 0);
    for (index, row) in rows.iter().enumerate().filter(|(_, row)| row.language.starts_with(group)) {
        let feeling = read(index, row);
        n += 1;
        sentiment += usize::from(feeling.sentiment.as_str() == row.sentiment);
        urgency += usize::from(feeling.urgency.as_str() == row.urgency);
    }
    let share = |count: usize| count as f64 / n.max(1) as f64;
    (n, share(sentiment), share(urgency))
}

/// One cross-validated figure: the combination, the language group, and (n, sentiment, urgency).
pub type Folded = (Trust, &'static str, (usize, f64, f64));

/// K-fold cross-validation on the training messages at each of `trusts`: each message is read
/// by heads trained without it. What [`TRUST`] was chosen by.
pub fn cross_validate(folds: usize, trusts: &[Trust]) -> Result<Vec<Folded>, TrainError> {
    let rows = labelled();
    let folds = folds.max(2);
    let mut read: Vec<HashMap<usize, Feeling>> = vec![HashMap::new(); trusts.len()];
    for fold in 0..folds {
        let training: Vec<Labelled> =
            rows.iter().enumerate().filter(|(i, _)| i % folds != fold).map(|(_, row)| row.clone()).collect();
        let heads = Heads::train(&training)?;
        for (index, row) in rows.iter().enumerate().filter(|(i, _)| i % folds == fold) {
            let lexicon = super::read_lexicon(&row.text);
            let text = Text::new(&row.text);
            for (slot, &trust) in trusts.iter().enumerate() {
                read[slot].insert(index, heads.read_trusting(&text, lexicon, trust));
            }
        }
    }
    let mut figures = Vec::new();
    for (slot, &trust) in trusts.iter().enumerate() {
        for group in ["en", "zh"] {
            let feeling = |index: usize, row: &Labelled| {
                read[slot].get(&index).copied().unwrap_or_else(|| super::read_lexicon(&row.text))
            };
            figures.push((trust, group, accuracy(&rows, group, feeling)));
        }
    }
    Ok(figures)
}
