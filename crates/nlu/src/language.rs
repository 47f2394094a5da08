//! Language detection for customer messages: scripts first (Hangul, kana, Han, Thai, Arabic,
//! Devanagari, Cyrillic…), Chinese told apart as Simplified or Traditional by characters whose
//! forms differ, and Latin-script languages by whatlang's trigram model restricted to the
//! languages the product serves (a short list keeps short messages right more often).
//! Tags are BCP 47: `en`, `zh-Hans`, `zh-Hant`, `ja`, `ko`, `pt`, …

use std::collections::HashSet;
use std::sync::OnceLock;

use whatlang::{Detector, Lang};

/// A detection. `reliable` is false when the text is too short or mixed to be sure; a
/// conversation's pinned language should then win.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    pub language: &'static str,
    pub confidence: f64,
    pub reliable: bool,
}

/// Tag for text with no letters.
pub const UNDETERMINED: &str = "und";

const LATIN: &[(Lang, &str)] = &[
    (Lang::Eng, "en"),
    (Lang::Spa, "es"),
    (Lang::Fra, "fr"),
    (Lang::Deu, "de"),
    (Lang::Por, "pt"),
    (Lang::Ita, "it"),
    (Lang::Nld, "nl"),
    (Lang::Tur, "tr"),
    (Lang::Vie, "vi"),
    (Lang::Ind, "id"),
];

const CYRILLIC: &[(Lang, &str)] = &[(Lang::Rus, "ru")];

/// Every tag `detect` can return.
pub fn supported() -> Vec<&'static str> {
    let mut tags = vec!["zh-Hans", "zh-Hant", "ja", "ko", "th", "ar", "hi", "he", "el"];
    tags.extend(LATIN.iter().chain(CYRILLIC).map(|(_, tag)| *tag));
    tags
}

/// The tag `detect` would give for a BCP 47 tag a channel names (`de-DE` → `de`, `zh-TW` →
/// `zh-Hant`, `zh-CN` → `zh-Hans`); `None` for a language not detected.
pub fn tag_of(bcp47: &str) -> Option<&'static str> {
    let lower = bcp47.to_ascii_lowercase();
    let mut parts = lower.split(['-', '_']);
    let primary = parts.next().unwrap_or_default();
    let wanted = match primary {
        "zh" if parts.any(|part| matches!(part, "hant" | "tw" | "hk" | "mo")) => "zh-Hant",
        "zh" => "zh-Hans",
        // Hebrew's older code, still sent by some systems.
        "iw" => "he",
        primary => primary,
    };
    supported().into_iter().find(|tag| *tag == wanted)
}

#[derive(Default)]
struct Scripts {
    han: usize,
    kana: usize,
    hangul: usize,
    thai: usize,
    arabic: usize,
    devanagari: usize,
    cyrillic: usize,
    hebrew: usize,
    greek: usize,
    latin: usize,
}

fn scripts(text: &str) -> Scripts {
    let mut counts = Scripts::default();
    for c in text.chars().filter(|c| c.is_alphabetic()) {
        match c as u32 {
            0x3040..=0x30ff | 0x31f0..=0x31ff | 0xff66..=0xff9f => counts.kana += 1,
            0x3400..=0x4dbf | 0x4e00..=0x9fff | 0xf900..=0xfaff | 0x20000..=0x2fa1f => counts.han += 1,
            0x1100..=0x11ff | 0x3130..=0x318f | 0xac00..=0xd7af => counts.hangul += 1,
            0x0e00..=0x0e7f => counts.thai += 1,
            0x0600..=0x06ff | 0x0750..=0x077f | 0xfb50..=0xfdff | 0xfe70..=0xfeff => counts.arabic += 1,
            0x0900..=0x097f => counts.devanagari += 1,
            0x0400..=0x04ff => counts.cyrillic += 1,
            0x0590..=0x05ff => counts.hebrew += 1,
            0x0370..=0x03ff => counts.greek += 1,
            _ if c.is_ascii_alphabetic()
                || ('\u{c0}'..='\u{24f}').contains(&c)
                || ('\u{1e00}'..='\u{1eff}').contains(&c) =>
            {
                counts.latin += 1
            }
            _ => {}
        }
    }
    counts
}

pub fn detect(text: &str) -> Detection {
    let s = scripts(text);
    let letters = s.han
        + s.kana
        + s.hangul
        + s.thai
        + s.arabic
        + s.devanagari
        + s.cyrillic
        + s.hebrew
        + s.greek
        + s.latin;
    if letters == 0 {
        return Detection { language: UNDETERMINED, confidence: 0.0, reliable: false };
    }
    let share = |n: usize| n as f64 / letters as f64;
    let script = |language, n: usize| Detection { language, confidence: share(n), reliable: share(n) >= 0.5 };
    // Japanese writes Han with kana; Korean may mix in Han.
    if s.kana > 0 && s.kana * 10 >= s.han {
        return script("ja", s.kana + s.han);
    }
    if s.hangul > 0 && s.hangul >= s.han {
        return script("ko", s.hangul + s.han);
    }
    let largest = [s.han, s.thai, s.arabic, s.devanagari, s.cyrillic, s.hebrew, s.greek, s.latin]
        .into_iter()
        .max()
        .unwrap_or(0);
    match largest {
        n if n == s.latin => by_trigrams(text, LATIN, share(n)),
        n if n == s.han => script(chinese_variant(text), n),
        n if n == s.thai => script("th", n),
        n if n == s.arabic => script("ar", n),
        n if n == s.devanagari => script("hi", n),
        n if n == s.cyrillic => by_trigrams(text, CYRILLIC, share(n)),
        n if n == s.hebrew => script("he", n),
        n => script("el", n),
    }
}

/// Very common words (function words, greetings, customer-service staples) per Latin-script
/// language: short messages carry too few trigrams, but almost always one of these.
#[rustfmt::skip]
const COMMON_WORDS: &[(&str, &[&str])] = &[
    ("en", &["the", "is", "my", "i", "you", "to", "a", "and", "of", "it", "for", "in", "where", "what",
        "how", "can", "please", "not", "do", "this", "with", "me", "have", "thanks", "thank", "hello",
        "hi", "your", "want", "need", "order", "why", "when", "was", "are", "be", "on", "at", "from",
        "i'm", "don't", "can't", "there", "yes", "no", "hey", "good", "morning", "bye", "cancel", "refund",
        "help", "account", "password", "card", "wrong", "still"]),
    ("es", &["el", "la", "los", "las", "de", "que", "y", "mi", "es", "un", "una", "por", "favor", "para",
        "con", "no", "se", "quiero", "dónde", "cómo", "cuándo", "está", "hola", "gracias", "pedido",
        "buenos", "días", "tengo", "necesito", "puedo", "me", "lo", "del", "al", "muy"]),
    ("fr", &["le", "la", "les", "de", "des", "du", "et", "est", "mon", "ma", "mes", "je", "vous", "un",
        "une", "pour", "pas", "ne", "que", "qui", "où", "comment", "bonjour", "merci", "commande", "avec",
        "sur", "j'ai", "c'est", "svp", "au", "aux", "veux", "suis"]),
    ("de", &["der", "die", "das", "und", "ist", "mein", "meine", "ich", "nicht", "ein", "eine", "zu",
        "mit", "sie", "wo", "wie", "bitte", "danke", "hallo", "bestellung", "für", "auf", "kann", "habe",
        "den", "dem", "es", "wurde", "guten", "mir"]),
    ("pt", &["o", "a", "os", "as", "de", "do", "da", "que", "e", "meu", "minha", "é", "um", "uma", "para",
        "com", "não", "por", "favor", "onde", "está", "olá", "obrigado", "obrigada", "pedido", "quero",
        "bom", "dia", "você", "foi", "no", "na", "encomenda"]),
    ("it", &["il", "lo", "la", "gli", "le", "di", "che", "e", "è", "mio", "mia", "un", "una", "per", "con",
        "non", "dove", "come", "ciao", "grazie", "ordine", "voglio", "buongiorno", "sono", "ho", "del",
        "della", "mi"]),
    ("nl", &["de", "het", "een", "en", "is", "mijn", "ik", "niet", "van", "te", "met", "waar", "hoe",
        "wat", "alstublieft", "graag", "dank", "bedankt", "hallo", "bestelling", "voor", "op", "kan",
        "heb", "wil", "je", "jullie"]),
    ("tr", &["bir", "ve", "bu", "ne", "nasıl", "nerede", "benim", "siparişim", "lütfen", "teşekkürler",
        "merhaba", "için", "ile", "değil", "mi", "mı", "var", "yok", "istiyorum", "çok"]),
    ("vi", &["tôi", "của", "là", "và", "không", "có", "đơn", "hàng", "bạn", "cảm", "ơn", "xin", "chào",
        "muốn", "được", "này", "đâu", "khi", "nào", "giúp"]),
    ("id", &["saya", "yang", "dan", "di", "ke", "dari", "tidak", "ini", "itu", "apa", "bagaimana", "mana",
        "tolong", "terima", "kasih", "halo", "pesanan", "mau", "ingin", "bisa", "sudah", "belum", "untuk",
        "dengan"]),
];

/// The language with the most common words in `text`, if one has strictly more than any other,
/// with its count and the runner-up's.
fn by_common_words(text: &str) -> Option<(&'static str, usize, usize)> {
    let lower = text.to_lowercase();
    let words: Vec<&str> =
        lower.split(|c: char| !c.is_alphanumeric() && c != '\'').filter(|w| !w.is_empty()).collect();
    let mut counts: Vec<(&'static str, usize)> = COMMON_WORDS
        .iter()
        .map(|(tag, common)| (*tag, words.iter().filter(|w| common.contains(w)).count()))
        .collect();
    counts.sort_by_key(|(_, count)| std::cmp::Reverse(*count));
    match counts.as_slice() {
        [(tag, best), (_, second), ..] if *best > *second => Some((tag, *best, *second)),
        _ => None,
    }
}

/// Texts up to this many words may be decided by common words alone.
const COMMON_WORDS_UP_TO: usize = 15;

fn by_trigrams(text: &str, languages: &[(Lang, &'static str)], script_share: f64) -> Detection {
    if languages.first().is_some_and(|(lang, _)| *lang == Lang::Eng) {
        let words = text.split_whitespace().count();
        // Short texts carry too few trigrams; up to a sentence or two, a clear majority of
        // common words decides too ("I have a question about my invoice" is not French).
        let decisive = |hits: usize, second: usize| {
            words <= 6 || (words <= COMMON_WORDS_UP_TO && hits >= 3 && hits >= 2 * second.max(1))
        };
        if let Some((language, hits, _)) =
            by_common_words(text).filter(|(_, hits, second)| decisive(*hits, *second))
        {
            let confidence = (hits as f64 / words.max(1) as f64).min(1.0);
            return Detection { language, confidence, reliable: hits >= 2 && script_share >= 0.5 };
        }
    }
    if let [(_, only)] = languages {
        return Detection { language: only, confidence: script_share, reliable: script_share >= 0.5 };
    }
    let detector = Detector::with_allowlist(languages.iter().map(|(lang, _)| *lang).collect());
    let Some(info) = detector.detect(text) else {
        let fallback = languages.first().map_or(UNDETERMINED, |(_, tag)| *tag);
        return Detection { language: fallback, confidence: 0.0, reliable: false };
    };
    let language =
        languages.iter().find(|(lang, _)| *lang == info.lang()).map_or(UNDETERMINED, |(_, tag)| *tag);
    Detection { language, confidence: info.confidence(), reliable: info.is_reliable() && script_share >= 0.5 }
}

/// Characters whose Simplified and Traditional forms differ (`simplified\ttraditional`).
const VARIANTS: &str = include_str!("../data/zh_variants.tsv");

struct Variants {
    simplified: HashSet<char>,
    traditional: HashSet<char>,
}

fn variants() -> &'static Variants {
    static VARIANTS_SETS: OnceLock<Variants> = OnceLock::new();
    VARIANTS_SETS.get_or_init(|| {
        let pairs: Vec<(char, char)> = VARIANTS
            .lines()
            .filter_map(|line| {
                let mut chars = line.split('\t').map(|field| field.trim().chars().next());
                Some((chars.next()??, chars.next()??))
            })
            .collect();
        let lefts: HashSet<char> = pairs.iter().map(|(s, _)| *s).collect();
        let rights: HashSet<char> = pairs.iter().map(|(_, t)| *t).collect();
        Variants {
            simplified: lefts.difference(&rights).copied().collect(),
            traditional: rights.difference(&lefts).copied().collect(),
        }
    })
}

/// `zh-Hant` when Traditional-only characters outnumber Simplified-only ones; `zh-Hans` otherwise
/// (including text written only with characters common to both).
pub fn chinese_variant(text: &str) -> &'static str {
    let variants = variants();
    let simplified = text.chars().filter(|c| variants.simplified.contains(c)).count();
    let traditional = text.chars().filter(|c| variants.traditional.contains(c)).count();
    if traditional > simplified { "zh-Hant" } else { "zh-Hans" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_detected_tag_of_a_channels_locale() {
        assert_eq!(tag_of("de-DE"), Some("de"));
        assert_eq!(tag_of("zh-TW"), Some("zh-Hant"));
        assert_eq!(tag_of("zh-Hant-HK"), Some("zh-Hant"));
        assert_eq!(tag_of("zh-CN"), Some("zh-Hans"));
        assert_eq!(tag_of("pt_BR"), Some("pt"));
        assert_eq!(tag_of("iw-IL"), Some("he"));
        assert_eq!(tag_of("pl-PL"), None);
        assert_eq!(tag_of(""), None);
    }
}
