//! TwiML answers: what the caller hears next.

/// `text` safe inside XML.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn say(text: &str) -> String {
    format!("<Say>{}</Say>", escape(text))
}

/// Says `text` while listening for speech, or keys ended by `#` (a PIN), posted to `action`.
pub fn gather(text: &str, action: &str) -> String {
    format!(
        "<Response><Gather input=\"dtmf speech\" finishOnKey=\"#\" action=\"{}\" method=\"POST\" speechTimeout=\"auto\">{}</Gather>{}</Response>",
        escape(action),
        say(text),
        say("I did not hear anything. Call us again any time. Goodbye.")
    )
}

/// Says `text`, then connects the call to `line` (or says a person will call back without one).
pub fn dial(text: &str, line: Option<&str>) -> String {
    match line {
        Some(line) => format!("<Response>{}<Dial>{}</Dial></Response>", say(text), escape(line)),
        None => format!(
            "<Response>{}{}<Hangup/></Response>",
            say(text),
            say("A person from our team will call you back.")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_it_says_and_where_it_posts() {
        let xml = gather("Tom & Jerry <3", "/voice/gather?turn=2&conversation=c1");
        assert!(xml.contains("<Say>Tom &amp; Jerry &lt;3</Say>"), "{xml}");
        assert!(xml.contains("action=\"/voice/gather?turn=2&amp;conversation=c1\""), "{xml}");
        assert_eq!(
            dial("Connecting", Some("+15550199")),
            "<Response><Say>Connecting</Say><Dial>+15550199</Dial></Response>"
        );
    }
}
