//! The language a call is held in: the texts the caller hears, and the locale the telephony
//! provider speaks (`<Say language>`) and listens in (`<Gather language>`). A number's webhook
//! names it (`/voice/incoming?lang=de-DE`); every later turn carries it on.

/// The locale each served language is spoken in when a number names only the language.
const LOCALES: &[(&str, &str)] = &[
    ("en", "en-US"),
    ("es", "es-ES"),
    ("fr", "fr-FR"),
    ("de", "de-DE"),
    ("pt", "pt-BR"),
    ("it", "it-IT"),
    ("nl", "nl-NL"),
    ("ru", "ru-RU"),
    ("ar", "ar-SA"),
    ("hi", "hi-IN"),
    ("tr", "tr-TR"),
    ("vi", "vi-VN"),
    ("th", "th-TH"),
    ("id", "id-ID"),
    ("ja", "ja-JP"),
    ("ko", "ko-KR"),
    ("zh-Hans", "zh-CN"),
    ("zh-Hant", "zh-TW"),
    ("he", "he-IL"),
    ("el", "el-GR"),
];

/// A call's language: the tag of its texts and the provider's locale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallLanguage {
    pub tag: &'static str,
    pub locale: String,
}

impl CallLanguage {
    /// From a number's `lang`: a locale (`de-DE`, `ar-EG`, `zh-HK`) is spoken as given, a bare
    /// language (`de`, `zh-Hant`) in its usual locale. A language without texts of its own, or
    /// none, is held in English. `None` for a value that is not a language tag.
    pub fn named(lang: &str) -> Option<Self> {
        let tag_like = lang.len() <= 16 && lang.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !tag_like {
            return None;
        }
        let Some(tag) = switchboard_phrases::served_as_named(lang) else {
            return Some(Self::default());
        };
        let usual = || LOCALES.iter().find(|(t, _)| *t == tag).map_or("en-US", |(_, l)| l);
        let locale = if has_region(lang) { lang.to_string() } else { usual().to_string() };
        Some(Self { tag, locale })
    }

    /// The text under `voice.<key>` in the call's language.
    pub fn say(&self, key: &str) -> String {
        switchboard_phrases::say(self.tag, &format!("voice.{key}"), &[])
    }
}

impl Default for CallLanguage {
    fn default() -> Self {
        Self { tag: "en", locale: "en-US".into() }
    }
}

/// Whether a tag names a region (`DE`, `419`) after its language and script.
fn has_region(lang: &str) -> bool {
    lang.split('-').skip(1).any(|part| {
        (part.len() == 2 && part.chars().all(|c| c.is_ascii_alphabetic()))
            || (part.len() == 3 && part.chars().all(|c| c.is_ascii_digit()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(lang: &str) -> (&'static str, String) {
        let call = CallLanguage::named(lang).expect("a tag");
        (call.tag, call.locale)
    }

    #[test]
    fn a_number_names_its_language_or_its_locale() {
        assert_eq!(named("de"), ("de", "de-DE".into()));
        assert_eq!(named("de-AT"), ("de", "de-AT".into()));
        assert_eq!(named("ar-EG"), ("ar", "ar-EG".into()));
        assert_eq!(named("zh-Hant"), ("zh-Hant", "zh-TW".into()));
        assert_eq!(named("zh-HK"), ("zh-Hant", "zh-HK".into()));
        assert_eq!(named("es-419"), ("es", "es-419".into()));
    }

    #[test]
    fn a_language_without_texts_is_held_in_english() {
        assert_eq!(named(""), ("en", "en-US".into()));
        assert_eq!(named("pl-PL"), ("en", "en-US".into()));
        assert!(CallLanguage::named("de DE").is_none());
        assert!(CallLanguage::named("<x>").is_none());
    }

    #[test]
    fn every_served_language_has_a_locale_and_its_voice_texts() {
        for tag in switchboard_phrases::languages() {
            assert!(LOCALES.iter().any(|(t, _)| *t == tag), "{tag} has no locale");
            let call = CallLanguage::named(tag).expect("a tag");
            assert_eq!(call.tag, tag);
            assert!(!call.say("greeting").is_empty());
        }
    }
}
