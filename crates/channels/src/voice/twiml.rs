//! TwiML answers: what the caller hears next, in the call's language.

use super::language::CallLanguage;

/// `text` safe inside XML.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn say(text: &str, locale: &str) -> String {
    format!("<Say language=\"{}\">{}</Say>", escape(locale), escape(text))
}

/// Says `text` (in `spoken`'s locale) while listening for speech in the call's language, or keys
/// ended by `#` (a PIN), posted to `action`.
pub fn gather(text: &str, spoken: &CallLanguage, call: &CallLanguage, action: &str) -> String {
    format!(
        "<Response><Gather input=\"dtmf speech\" language=\"{}\" finishOnKey=\"#\" action=\"{}\" method=\"POST\" speechTimeout=\"auto\">{}</Gather>{}</Response>",
        escape(&call.locale),
        escape(action),
        say(text, &spoken.locale),
        say(&call.say("silence"), &call.locale)
    )
}

/// Says `text`, then connects the call to `line` (or says a person will call back without one).
pub fn dial(text: &str, call: &CallLanguage, line: Option<&str>) -> String {
    let locale = &call.locale;
    match line {
        Some(line) => format!("<Response>{}<Dial>{}</Dial></Response>", say(text, locale), escape(line)),
        None => format!(
            "<Response>{}{}<Hangup/></Response>",
            say(text, locale),
            say(&call.say("call_back"), locale)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_it_says_and_where_it_posts() {
        let english = CallLanguage::default();
        let xml = gather("Tom & Jerry <3", &english, &english, "/voice/gather?turn=2&conversation=c1");
        assert!(xml.contains("<Say language=\"en-US\">Tom &amp; Jerry &lt;3</Say>"), "{xml}");
        assert!(xml.contains("action=\"/voice/gather?turn=2&amp;conversation=c1\""), "{xml}");
        assert_eq!(
            dial("Connecting", &english, Some("+15550199")),
            "<Response><Say language=\"en-US\">Connecting</Say><Dial>+15550199</Dial></Response>"
        );
    }

    #[test]
    fn speaks_and_listens_in_the_calls_language() {
        let german = CallLanguage::named("de-DE").expect("a tag");
        let xml = gather("Hallo", &german, &german, "/voice/gather?turn=1");
        assert!(xml.contains("<Gather input=\"dtmf speech\" language=\"de-DE\""), "{xml}");
        let silence = switchboard_phrases::say("de", "voice.silence", &[]);
        assert!(xml.contains(&format!("<Say language=\"de-DE\">{}</Say>", escape(&silence))), "{xml}");
        let xml = dial("Einen Moment", &german, None);
        let call_back = switchboard_phrases::say("de", "voice.call_back", &[]);
        assert!(xml.contains(&escape(&call_back)), "{xml}");
    }
}
