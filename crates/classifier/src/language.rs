//! Language detection (whatlang), answered as a BCP 47 tag; `und` when unsure.

/// The language of a text, e.g. `en`, `zh`, `es`; `und` when it cannot tell.
pub fn detect(text: &str) -> String {
    let Some(info) = whatlang::detect(text) else {
        return "und".into();
    };
    if info.confidence() < 0.1 {
        return "und".into();
    }
    let code = info.lang().code();
    two_letter(code).unwrap_or(code).to_string()
}

fn two_letter(code: &str) -> Option<&'static str> {
    const TABLE: &[(&str, &str)] = &[
        ("eng", "en"),
        ("cmn", "zh"),
        ("jpn", "ja"),
        ("kor", "ko"),
        ("spa", "es"),
        ("fra", "fr"),
        ("deu", "de"),
        ("por", "pt"),
        ("ita", "it"),
        ("nld", "nl"),
        ("rus", "ru"),
        ("arb", "ar"),
        ("hin", "hi"),
        ("tur", "tr"),
        ("vie", "vi"),
        ("tha", "th"),
        ("ind", "id"),
        ("pol", "pl"),
        ("ukr", "uk"),
        ("swe", "sv"),
        ("dan", "da"),
        ("nob", "nb"),
        ("fin", "fi"),
        ("ell", "el"),
        ("heb", "he"),
        ("ces", "cs"),
        ("ron", "ro"),
        ("hun", "hu"),
    ];
    TABLE.iter().find(|(three, _)| *three == code).map(|(_, two)| *two)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_common_languages() {
        assert_eq!(detect("Where is my order? It has not arrived and I am worried."), "en");
        assert_eq!(detect("我的订单在哪里？我已经等了一个星期了。"), "zh");
        assert_eq!(detect("¿Dónde está mi pedido? Lo compré hace una semana."), "es");
    }

    #[test]
    fn says_und_for_no_language() {
        assert_eq!(detect("12345 !!!"), "und");
    }
}
