//! The built-in model measured on held-out messages (`data/intents-eval`): written by other
//! hands than the training examples, before anything was tuned, and never trained on or used
//! to choose anything. `switchboard classifier builtin` and `make eval` print these figures.
//! Choices are made on the training examples alone, by cross-validation
//! (`switchboard classifier builtin --cross-validate K`).

use std::collections::BTreeMap;

use serde::Serialize;
use switchboard_nlu::intent::{Example, TrainConfig, train};

use crate::understanding::{BuiltinError, Understanding, builtin_examples_by_language};

/// (language, JSON lines of `{"text", "label", "language"}`).
const HELD_OUT: &[(&str, &str)] = &[
    ("en", include_str!("../data/intents-eval/en.jsonl")),
    ("zh-Hans", include_str!("../data/intents-eval/zh-Hans.jsonl")),
    ("zh-Hant", include_str!("../data/intents-eval/zh-Hant.jsonl")),
    ("es", include_str!("../data/intents-eval/es.jsonl")),
    ("fr", include_str!("../data/intents-eval/fr.jsonl")),
    ("de", include_str!("../data/intents-eval/de.jsonl")),
    ("pt", include_str!("../data/intents-eval/pt.jsonl")),
    ("it", include_str!("../data/intents-eval/it.jsonl")),
    ("nl", include_str!("../data/intents-eval/nl.jsonl")),
    ("ru", include_str!("../data/intents-eval/ru.jsonl")),
    ("ar", include_str!("../data/intents-eval/ar.jsonl")),
    ("hi", include_str!("../data/intents-eval/hi.jsonl")),
    ("tr", include_str!("../data/intents-eval/tr.jsonl")),
    ("vi", include_str!("../data/intents-eval/vi.jsonl")),
    ("th", include_str!("../data/intents-eval/th.jsonl")),
    ("id", include_str!("../data/intents-eval/id.jsonl")),
    ("ja", include_str!("../data/intents-eval/ja.jsonl")),
    ("ko", include_str!("../data/intents-eval/ko.jsonl")),
    ("he", include_str!("../data/intents-eval/he.jsonl")),
    ("el", include_str!("../data/intents-eval/el.jsonl")),
];

/// How the built-in model did on one language's held-out messages.
#[derive(Debug, Clone, Serialize)]
pub struct LanguageScore {
    pub language: &'static str,
    pub n: usize,
    /// Answered with the right intent (an out-of-scope message counts when set aside).
    pub accuracy: f64,
    /// Answered with another intent: the costly error.
    pub answered_wrongly: f64,
    /// Set aside under the break-even threshold: a person (or a clarifying question) takes it.
    pub handed_off: f64,
    /// The model's best intent is right, whatever the threshold.
    pub top_intent: f64,
}

/// Counts of outcomes, added up over messages.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    n: usize,
    right: usize,
    wrong: usize,
    handed: usize,
    top: usize,
}

impl Tally {
    fn of(understanding: &Understanding, text: &str, label: &str) -> Self {
        let reading = understanding.read(text, None);
        let best = reading.alternatives.first().map(|a| a.intent.as_str());
        Self {
            n: 1,
            right: usize::from(reading.intent == label),
            wrong: usize::from(!reading.out_of_scope && reading.intent != label),
            handed: usize::from(reading.out_of_scope && reading.intent != label),
            top: usize::from(reading.intent == label || (reading.out_of_scope && best == Some(label))),
        }
    }

    fn add(self, other: Self) -> Self {
        Self {
            n: self.n + other.n,
            right: self.right + other.right,
            wrong: self.wrong + other.wrong,
            handed: self.handed + other.handed,
            top: self.top + other.top,
        }
    }

    fn score(self, language: &'static str) -> LanguageScore {
        let share = |count: usize| count as f64 / self.n.max(1) as f64;
        LanguageScore {
            language,
            n: self.n,
            accuracy: share(self.right),
            answered_wrongly: share(self.wrong),
            handed_off: share(self.handed),
            top_intent: share(self.top),
        }
    }
}

/// One score per language, in the order above.
pub fn score_builtin(understanding: &Understanding) -> Vec<LanguageScore> {
    HELD_OUT
        .iter()
        .map(|(language, data)| {
            let rows = data
                .lines()
                .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
                .filter_map(|row| {
                    Some(Tally::of(understanding, row["text"].as_str()?, row["label"].as_str()?))
                });
            rows.fold(Tally::default(), Tally::add).score(language)
        })
        .collect()
}

/// K-fold cross-validation of the built-in model's training on its own examples, per language:
/// each example is scored once, by a model trained without it (folds stratified by language and
/// label). Choices are made on these figures; the held-out messages play no part.
///
/// With `score_first`, only the first N examples of each language and label (in file order) are
/// scored, each in the fold it had before later examples were added; the later ones are only
/// trained on. Data added later is thus judged on the same messages as before it.
pub fn cross_validate(
    folds: usize,
    config: &TrainConfig,
    score_first: Option<usize>,
) -> Result<Vec<LanguageScore>, BuiltinError> {
    let examples = builtin_examples_by_language()?;
    let folds = folds.max(2);
    let mut seen: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let (fold_of, scored): (Vec<usize>, Vec<bool>) = examples
        .iter()
        .map(|(language, example)| {
            let count = seen.entry((language, example.label.as_str())).or_default();
            *count += 1;
            (*count % folds, score_first.is_none_or(|first| *count <= first))
        })
        .unzip();
    let mut tallies: BTreeMap<&'static str, Tally> = BTreeMap::new();
    for fold in 0..folds {
        let in_fold = |f: &usize| *f == fold;
        let training: Vec<Example> =
            examples.iter().zip(&fold_of).filter(|(_, f)| !in_fold(f)).map(|((_, e), _)| e.clone()).collect();
        let understanding = Understanding::new(train(&training, None, config)?, format!("fold-{fold}"));
        let held =
            examples.iter().zip(&fold_of).zip(&scored).filter(|((_, f), scored)| in_fold(f) && **scored);
        for (((language, example), _), _) in held {
            let tally = Tally::of(&understanding, &example.text, &example.label);
            let entry = tallies.entry(language).or_default();
            *entry = entry.add(tally);
        }
    }
    Ok(HELD_OUT
        .iter()
        .filter_map(|(language, _)| tallies.get(language).map(|tally| tally.score(language)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_with_training_examples_is_held_out_too() {
        let held: Vec<&str> = HELD_OUT.iter().map(|(language, _)| *language).collect();
        for language in switchboard_nlu::language::supported() {
            assert!(held.contains(&language), "no held-out messages in {language}");
        }
        for (language, data) in HELD_OUT {
            assert!(data.lines().count() >= 40, "{language}: too few held-out messages");
        }
    }

    #[test]
    fn cross_validation_can_score_the_older_examples_alone() {
        // The first two examples of a label fall in different folds: both folds are scored.
        let scores = cross_validate(2, &crate::builtin_config(), Some(2)).expect("the folds train");
        assert_eq!(scores.len(), HELD_OUT.len());
        for score in scores {
            assert_eq!(score.n, 40, "{}: the first two examples of each of the 20 labels", score.language);
        }
    }

    /// A guard against regressions, well under the figures `make eval` reports.
    #[test]
    fn the_builtin_model_reads_held_out_messages_in_every_language() {
        let understanding = Understanding::builtin().expect("built-in model trains");
        for score in score_builtin(&understanding) {
            println!("{score:?}");
            let LanguageScore { language, top_intent, accuracy, answered_wrongly, .. } = score;
            assert!(
                top_intent >= 0.9 && accuracy >= 0.8,
                "{language}: top {top_intent:.3}, accuracy {accuracy:.3}"
            );
            assert!(answered_wrongly <= 0.05, "{language}: {answered_wrongly:.3} answered wrongly");
        }
    }
}
