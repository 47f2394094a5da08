use std::collections::BTreeMap;

use super::*;

fn placeholders(text: &str) -> Vec<String> {
    let pattern = regex::Regex::new(r"\{[a-z_0-9]+\}").expect("a valid pattern");
    let mut found: Vec<String> = pattern.find_iter(text).map(|m| m.as_str().to_string()).collect();
    found.sort();
    found
}

/// Keys whose text may be the same as English's: how sentences and times are put together.
const SHAPES: &[&str] = &["join", "when"];

#[test]
fn every_language_has_every_text() {
    let english: BTreeMap<String, String> = serde_norway::from_str(FILES[0].1).expect("en.yaml parses");
    for (tag, file) in FILES {
        let table: BTreeMap<String, String> =
            serde_norway::from_str(file).unwrap_or_else(|error| panic!("{tag}.yaml: {error}"));
        let keys: Vec<&String> = table.keys().collect();
        assert_eq!(keys, english.keys().collect::<Vec<_>>(), "{tag}.yaml has other keys than en.yaml");
        for (key, text) in &table {
            let model = &english[key];
            assert_eq!(placeholders(text), placeholders(model), "{tag}.yaml {key}: other placeholders");
            assert!(!text.trim().is_empty() || key == "join", "{tag}.yaml {key} is empty");
            if *tag != "en" && !SHAPES.contains(&key.as_str()) {
                assert_ne!(text, model, "{tag}.yaml {key} is left in English");
            }
        }
    }
    assert_eq!(TABLES.len(), FILES.len(), "every file parses");
}

#[test]
fn every_language_the_classifier_detects_is_served() {
    for tag in switchboard_nlu::language::supported() {
        assert_eq!(served(tag), tag, "{tag} has no texts");
    }
}

#[test]
fn a_tag_is_served_by_its_script_or_its_language_else_english() {
    for (tag, expected) in [
        ("zh-TW", "zh-Hant"),
        ("zh_hk", "zh-Hant"),
        ("zh-Hant-TW", "zh-Hant"),
        ("zh-MO", "zh-Hant"),
        ("zh", "zh-Hans"),
        ("zh-CN", "zh-Hans"),
        ("pt-BR", "pt"),
        ("DE", "de"),
        ("sv", "en"),
        ("und", "en"),
        ("", "en"),
    ] {
        assert_eq!(served(tag), expected, "{tag}");
    }
}

#[test]
fn arabic_and_hebrew_are_written_right_to_left() {
    assert_eq!(["ar", "he-IL", "en", "zh-TW", "sv"].map(direction), ["rtl", "rtl", "ltr", "ltr", "ltr"]);
}

#[test]
fn a_text_takes_its_values_and_falls_back_to_english() {
    let text = say("de", "order.shipped", &[("id", "12345"), ("carrier", "DHL")]);
    assert!(text.contains("12345") && text.contains("DHL") && !text.contains('{'), "{text}");
    assert_eq!(say("sv", "clarify.none", &[]), "None of these");
    assert_eq!(say("de", "no.such.key", &[]), "no.such.key");
}

#[test]
fn sentences_and_times_follow_the_language() {
    let parts = ["A.".to_string(), "B.".to_string()];
    assert_eq!(join("en", &parts), "A. B.");
    assert_eq!(join("zh-Hans", &parts), "A.B.");
    let at = |weekday: u32, date: &str, zone: &str| LocalTime {
        weekday,
        date: date.into(),
        time: "09:00".into(),
        zone: zone.into(),
    };
    assert_eq!(when("en", &at(1, "2026-12-07", "Europe/Berlin")), "Monday 2026-12-07 09:00 (Europe/Berlin)");
    let chinese = when("zh-Hant", &at(7, "2026-12-13", "Asia/Taipei"));
    assert!(chinese.contains("2026-12-13") && chinese.contains("日"), "{chinese}");
}

#[test]
fn a_section_is_every_text_under_its_prefix() {
    let widget = section("fr", "widget.");
    assert_eq!(widget.len(), section("en", "widget.").len());
    assert!(widget.contains_key("send") && !widget.contains_key("widget.send"));
    assert_ne!(widget["send"], "Send");
}

#[test]
fn every_language_served_has_its_own_name() {
    for tag in languages() {
        assert_ne!(endonym(tag), tag, "{tag} has no name");
    }
    assert_eq!(endonym("de-AT"), "Deutsch");
    assert_eq!(endonym("zh-TW"), "繁體中文");
    assert_eq!(endonym("pl-PL"), "pl-PL");
}
