//! The bot's own texts in every language Switchboard serves: one YAML file a language under
//! `data/`, each with the keys of `en.yaml` and the same `{placeholders}`. A reply is chosen by
//! the conversation's BCP 47 tag: Chinese by script (`zh-TW`, `zh-HK`, `zh-MO`, `zh-Hant`
//! Traditional, other `zh` Simplified), any other tag by its primary language, and English for a
//! language not served (or none). Texts a tenant writes (rules, articles, macros) are not here.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use switchboard_calendar::LocalTime;

/// (tag, file) for every language served, English first.
const FILES: &[(&str, &str)] = &[
    ("en", include_str!("../data/en.yaml")),
    ("zh-Hans", include_str!("../data/zh-Hans.yaml")),
    ("zh-Hant", include_str!("../data/zh-Hant.yaml")),
    ("ja", include_str!("../data/ja.yaml")),
    ("ko", include_str!("../data/ko.yaml")),
    ("th", include_str!("../data/th.yaml")),
    ("vi", include_str!("../data/vi.yaml")),
    ("id", include_str!("../data/id.yaml")),
    ("es", include_str!("../data/es.yaml")),
    ("fr", include_str!("../data/fr.yaml")),
    ("de", include_str!("../data/de.yaml")),
    ("pt", include_str!("../data/pt.yaml")),
    ("it", include_str!("../data/it.yaml")),
    ("nl", include_str!("../data/nl.yaml")),
    ("tr", include_str!("../data/tr.yaml")),
    ("ru", include_str!("../data/ru.yaml")),
    ("ar", include_str!("../data/ar.yaml")),
    ("hi", include_str!("../data/hi.yaml")),
    ("he", include_str!("../data/he.yaml")),
    ("el", include_str!("../data/el.yaml")),
];

type Table = BTreeMap<String, String>;

/// The parsed files. A file that does not parse is left out (its language gets English), and the
/// test `every_language_has_every_text` fails on it, so no such file ships.
static TABLES: LazyLock<Vec<(&'static str, Table)>> = LazyLock::new(|| {
    FILES
        .iter()
        .filter_map(|(tag, text)| serde_norway::from_str::<Table>(text).ok().map(|table| (*tag, table)))
        .collect()
});

/// Every tag with texts, English first.
pub fn languages() -> Vec<&'static str> {
    FILES.iter().map(|(tag, _)| *tag).collect()
}

/// The served tag for a BCP 47 tag (`pt-BR` → `pt`, `zh-TW` → `zh-Hant`), English when the
/// language is not served.
pub fn served(language: &str) -> &'static str {
    served_as_named(language).unwrap_or("en")
}

/// The served tag for a BCP 47 tag when its own language is served (`de-AT` → `de`); `None`
/// when [`served`] would fall back to English for another language.
pub fn served_as_named(language: &str) -> Option<&'static str> {
    let lower = language.to_ascii_lowercase();
    let mut parts = lower.split(['-', '_']);
    let primary = parts.next().unwrap_or_default();
    let wanted = if primary == "zh" {
        let traditional = parts.any(|part| matches!(part, "hant" | "tw" | "hk" | "mo"));
        if traditional { "zh-Hant" } else { "zh-Hans" }
    } else {
        primary
    };
    FILES.iter().map(|(tag, _)| *tag).find(|tag| *tag == wanted)
}

/// Each served language's name as its speakers write it.
const ENDONYMS: &[(&str, &str)] = &[
    ("en", "English"),
    ("es", "Español"),
    ("fr", "Français"),
    ("de", "Deutsch"),
    ("pt", "Português"),
    ("it", "Italiano"),
    ("nl", "Nederlands"),
    ("ru", "Русский"),
    ("ar", "العربية"),
    ("hi", "हिन्दी"),
    ("tr", "Türkçe"),
    ("vi", "Tiếng Việt"),
    ("th", "ไทย"),
    ("id", "Bahasa Indonesia"),
    ("ja", "日本語"),
    ("ko", "한국어"),
    ("zh-Hans", "简体中文"),
    ("zh-Hant", "繁體中文"),
    ("he", "עברית"),
    ("el", "Ελληνικά"),
];

/// The name of the language of `locale` as its speakers write it (`de-AT` → `Deutsch`); the
/// tag itself for a language not served.
pub fn endonym(locale: &str) -> &str {
    let Some(tag) = served_as_named(locale) else { return locale };
    ENDONYMS.iter().find(|(served, _)| *served == tag).map_or(locale, |(_, name)| name)
}

/// How `language` is written: `rtl` (Arabic, Hebrew) or `ltr`, as HTML's `dir` takes it.
pub fn direction(language: &str) -> &'static str {
    if matches!(served(language), "ar" | "he") { "rtl" } else { "ltr" }
}

/// The text `key` in `language`, with each `{name}` replaced by its value in `vars`. A key missing
/// in the language falls back to English, and a key missing in English is returned as it is.
pub fn say(language: &str, key: &str, vars: &[(&str, &str)]) -> String {
    let mut text = text(served(language), key).or_else(|| text("en", key)).unwrap_or(key).to_string();
    for (name, value) in vars {
        text = text.replace(&format!("{{{name}}}"), value);
    }
    text
}

/// Every text under `prefix` (e.g. `widget.`) in `language`, keyed without the prefix: English
/// where the language lacks one.
pub fn section(language: &str, prefix: &str) -> BTreeMap<String, String> {
    let mut texts = BTreeMap::new();
    for tag in ["en", served(language)] {
        let Some(table) = table(tag) else { continue };
        for (key, value) in table.range(prefix.to_string()..).take_while(|(key, _)| key.starts_with(prefix)) {
            texts.insert(key[prefix.len()..].to_string(), value.clone());
        }
    }
    texts
}

/// Two sentences of one reply, as the language joins them.
pub fn join(language: &str, sentences: &[String]) -> String {
    sentences.join(&say(language, "join", &[]))
}

/// A local time as the language writes it.
pub fn when(language: &str, at: &LocalTime) -> String {
    let day = say(language, &format!("weekday.{}", at.weekday), &[]);
    say(language, "when", &[("weekday", &day), ("date", &at.date), ("time", &at.time), ("zone", &at.zone)])
}

fn table(tag: &str) -> Option<&'static Table> {
    TABLES.iter().find(|(served, _)| *served == tag).map(|(_, table)| table)
}

fn text(tag: &str, key: &str) -> Option<&'static str> {
    table(tag)?.get(key).map(String::as_str)
}

#[cfg(test)]
mod tests;
