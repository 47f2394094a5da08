//! The chat's own notices, in the customer's language: that a person takes over (now, or when
//! the team is back), and that one is taking the conversation over. The texts are the phrases
//! `handoff.*`; a language not served, or none, gets English.

/// Which notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handoff {
    /// A person takes over now.
    Now,
    /// A person answers when the team is open again.
    WhenOpen,
    /// A person is taking the conversation over (a resumed conversation).
    UnderWay,
}

/// The notice in `language` (a BCP 47 tag; English when not served).
pub fn handoff_text(notice: Handoff, language: &str) -> String {
    let key = match notice {
        Handoff::Now => "handoff.now",
        Handoff::WhenOpen => "handoff.when_open",
        Handoff::UnderWay => "handoff.under_way",
    };
    switchboard_phrases::say(language, key, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_language_gets_its_own_notices_and_others_get_english() {
        assert!(handoff_text(Handoff::Now, "zh-Hant").starts_with("我們團隊"));
        assert!(handoff_text(Handoff::Now, "zh-TW").starts_with("我們團隊"));
        assert!(handoff_text(Handoff::Now, "zh").starts_with("我们团队"));
        assert!(handoff_text(Handoff::WhenOpen, "de-AT").starts_with("Eine Person"));
        assert!(handoff_text(Handoff::UnderWay, "pt-BR").starts_with("Uma pessoa"));
        assert!(handoff_text(Handoff::Now, "").starts_with("A person"));
        assert!(handoff_text(Handoff::Now, "und").starts_with("A person"));
        assert!(handoff_text(Handoff::Now, "sw").starts_with("A person"));
    }
}
