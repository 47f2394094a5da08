//! The built-in model measured on held-out messages (`data/intents-eval`): written by other
//! hands than the training examples, before anything was tuned, and never trained on or used
//! to choose anything. `switchboard classifier builtin` and `make eval` print these figures.

use serde::Serialize;

use crate::understanding::Understanding;

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

/// One score per language, in the order above.
pub fn score_builtin(understanding: &Understanding) -> Vec<LanguageScore> {
    HELD_OUT.iter().map(|(language, data)| score(understanding, language, data)).collect()
}

fn score(understanding: &Understanding, language: &'static str, data: &str) -> LanguageScore {
    let rows: Vec<(String, String)> = data
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|row| Some((row["text"].as_str()?.to_owned(), row["label"].as_str()?.to_owned())))
        .collect();
    let (mut right, mut wrong, mut handed, mut top) = (0, 0, 0, 0);
    for (text, label) in &rows {
        let reading = understanding.read(text, None);
        let best = reading.alternatives.first().map(|a| a.intent.as_str());
        right += usize::from(reading.intent == *label);
        wrong += usize::from(!reading.out_of_scope && reading.intent != *label);
        handed += usize::from(reading.out_of_scope && reading.intent != *label);
        top += usize::from(reading.intent == *label || (reading.out_of_scope && best == Some(label)));
    }
    let share = |count: usize| count as f64 / rows.len().max(1) as f64;
    LanguageScore {
        language,
        n: rows.len(),
        accuracy: share(right),
        answered_wrongly: share(wrong),
        handed_off: share(handed),
        top_intent: share(top),
    }
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

    /// A guard against regressions, well under the figures `make eval` reports.
    #[test]
    fn the_builtin_model_reads_held_out_messages_in_every_language() {
        let understanding = Understanding::builtin().expect("built-in model trains");
        for score in score_builtin(&understanding) {
            println!("{score:?}");
            let LanguageScore { language, top_intent, accuracy, answered_wrongly, .. } = score;
            assert!(
                top_intent >= 0.8 && accuracy >= 0.5,
                "{language}: top {top_intent:.3}, accuracy {accuracy:.3}"
            );
            assert!(answered_wrongly <= 0.10, "{language}: {answered_wrongly:.3} answered wrongly");
        }
    }
}
