//! Language detection measured on the built-in examples (written for this project, each tagged
//! with its language) and on the held-out messages: 20 languages, Simplified and Traditional
//! Chinese told apart.

use std::collections::BTreeMap;

use switchboard_nlu::language::detect;

const DATA: &[&str] = &[
    include_str!("../data/intents/en.jsonl"),
    include_str!("../data/intents/zh-Hans.jsonl"),
    include_str!("../data/intents/zh-Hant.jsonl"),
    include_str!("../data/intents/es.jsonl"),
    include_str!("../data/intents/fr.jsonl"),
    include_str!("../data/intents/de.jsonl"),
    include_str!("../data/intents/pt.jsonl"),
    include_str!("../data/intents/it.jsonl"),
    include_str!("../data/intents/nl.jsonl"),
    include_str!("../data/intents/ru.jsonl"),
    include_str!("../data/intents/ar.jsonl"),
    include_str!("../data/intents/hi.jsonl"),
    include_str!("../data/intents/tr.jsonl"),
    include_str!("../data/intents/vi.jsonl"),
    include_str!("../data/intents/th.jsonl"),
    include_str!("../data/intents/id.jsonl"),
    include_str!("../data/intents/ja.jsonl"),
    include_str!("../data/intents/ko.jsonl"),
    include_str!("../data/intents/he.jsonl"),
    include_str!("../data/intents/el.jsonl"),
];

/// The held-out messages, written by other hands (the detector was tuned on neither set).
const HELD_OUT: &[&str] = &[
    include_str!("../data/intents-eval/en.jsonl"),
    include_str!("../data/intents-eval/zh-Hans.jsonl"),
    include_str!("../data/intents-eval/zh-Hant.jsonl"),
    include_str!("../data/intents-eval/es.jsonl"),
    include_str!("../data/intents-eval/fr.jsonl"),
    include_str!("../data/intents-eval/de.jsonl"),
    include_str!("../data/intents-eval/pt.jsonl"),
    include_str!("../data/intents-eval/it.jsonl"),
    include_str!("../data/intents-eval/nl.jsonl"),
    include_str!("../data/intents-eval/ru.jsonl"),
    include_str!("../data/intents-eval/ar.jsonl"),
    include_str!("../data/intents-eval/hi.jsonl"),
    include_str!("../data/intents-eval/tr.jsonl"),
    include_str!("../data/intents-eval/vi.jsonl"),
    include_str!("../data/intents-eval/th.jsonl"),
    include_str!("../data/intents-eval/id.jsonl"),
    include_str!("../data/intents-eval/ja.jsonl"),
    include_str!("../data/intents-eval/ko.jsonl"),
    include_str!("../data/intents-eval/he.jsonl"),
    include_str!("../data/intents-eval/el.jsonl"),
];

#[test]
fn twenty_languages_are_told_apart_in_the_training_examples() {
    told_apart(DATA);
}

#[test]
fn twenty_languages_are_told_apart_in_the_held_out_messages() {
    told_apart(HELD_OUT);
}

fn told_apart(data: &[&str]) {
    let mut per_language: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new(); // n, right, right among reliable
    let mut reliable_total = (0, 0);
    for line in data.iter().flat_map(|data| data.lines()).filter(|l| !l.trim().is_empty()) {
        let value: serde_json::Value = serde_json::from_str(line).expect("example is JSON");
        let (text, language) =
            (value["text"].as_str().unwrap_or_default(), value["language"].as_str().unwrap_or_default());
        let detection = detect(text);
        let entry = per_language.entry(language.to_owned()).or_default();
        entry.0 += 1;
        entry.1 += usize::from(detection.language == language);
        if detection.reliable {
            reliable_total.0 += 1;
            reliable_total.1 += usize::from(detection.language == language);
        }
    }
    assert_eq!(per_language.len(), 20);
    let (mut n, mut right) = (0, 0);
    for (language, (count, correct, _)) in &per_language {
        let accuracy = *correct as f64 / *count as f64;
        println!("{language:<8} n {count:>4} accuracy {accuracy:.3}");
        assert!(accuracy >= 0.75, "{language}: {accuracy:.3}");
        n += count;
        right += correct;
    }
    let overall = right as f64 / n as f64;
    let reliable = reliable_total.1 as f64 / reliable_total.0.max(1) as f64;
    println!(
        "overall n {n} accuracy {overall:.3}; marked reliable {} with accuracy {reliable:.3}",
        reliable_total.0
    );
    assert!(overall >= 0.9, "{overall:.3}");
    assert!(reliable >= 0.95, "{reliable:.3}");
}

#[test]
fn a_plain_english_sentence_is_english() {
    for text in ["I have a question about my invoice", "Can you tell me when my order will arrive please"] {
        assert_eq!(switchboard_nlu::language::detect(text).language, "en", "{text}");
    }
}
