//! Sentiment and urgency measured on the labelled sets written for them (English, Simplified and
//! Traditional Chinese): `labelled.jsonl` (221 messages; the lexicon was revised after a first
//! measurement on it, so its figures are optimistic) and `heldout.jsonl` (70 messages written
//! afterwards and never used to change the lexicon). Prints the figures; fails under the floors.

use switchboard_nlu::sentiment::read;

struct Labelled {
    text: String,
    language: String,
    sentiment: String,
    urgency: String,
}

fn parse(data: &str) -> Vec<Labelled> {
    data.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).expect("labelled line is JSON");
            let field = |name: &str| value[name].as_str().expect("string field").to_owned();
            Labelled {
                text: field("text"),
                language: field("language"),
                sentiment: field("sentiment"),
                urgency: field("urgency"),
            }
        })
        .collect()
}

fn accuracy(rows: &[&Labelled], right: impl Fn(&Labelled) -> bool) -> f64 {
    rows.iter().filter(|row| right(row)).count() as f64 / rows.len().max(1) as f64
}

fn measure(set: &str, rows: &[Labelled], floors: &[(&str, f64, f64)]) {
    for &(group, floor_sentiment, floor_urgency) in floors {
        let picked: Vec<&Labelled> = rows.iter().filter(|r| r.language.starts_with(group)).collect();
        let sentiment = accuracy(&picked, |r| read(&r.text).sentiment.as_str() == r.sentiment);
        let urgency = accuracy(&picked, |r| read(&r.text).urgency.as_str() == r.urgency);
        let urgent_or_not = accuracy(&picked, |r| {
            let high = |u: &str| u == "high" || u == "critical";
            high(read(&r.text).urgency.as_str()) == high(&r.urgency)
        });
        println!(
            "{set} {group}: n {} sentiment accuracy {sentiment:.3} urgency accuracy {urgency:.3} urgent-or-not {urgent_or_not:.3}",
            picked.len()
        );
        assert!(sentiment >= floor_sentiment, "{group} sentiment {sentiment:.3}");
        assert!(urgency >= floor_urgency, "{group} urgency {urgency:.3}");
    }
}

#[test]
fn sentiment_and_urgency_are_measured_on_english_and_chinese() {
    let rows = parse(include_str!("../data/sentiment/labelled.jsonl"));
    assert!(rows.len() >= 200, "the set has {} messages", rows.len());
    measure("labelled", &rows, &[("en", 0.90, 0.90), ("zh", 0.90, 0.90)]);
}

#[test]
fn sentiment_and_urgency_are_measured_on_held_out_messages() {
    let rows = parse(include_str!("../data/sentiment/heldout.jsonl"));
    measure("held-out", &rows, &[("en", 0.55, 0.55), ("zh", 0.60, 0.50)]);
}
