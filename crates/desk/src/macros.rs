//! Macros: canned replies with per-locale texts and placeholders, that may also set a status,
//! tags, a queue or a priority. Checking, versioning, choosing the locale and rendering are pure
//! functions here; `macro_calls.rs` does the I/O.

use std::collections::BTreeMap;

use switchboard_bus::Expected;
use switchboard_proto::{
    desk::v1::{Macro, MacroActions, StatusChange},
    events::v1::{MacroSaved, event::Body},
};

use crate::Error;

/// The placeholders a macro text may use.
pub const PLACEHOLDERS: [&str; 4] = ["customer_name", "order_id", "agent_name", "article_link"];

const MAX_NAME: usize = 100;
const MAX_TEXT: usize = 4096;
const MAX_TAGS: usize = 20;

fn invalid(message: String) -> Error {
    Error::InvalidArgument(message)
}

/// `macro` checked and made into the event body of its next save (`version` and `author`
/// filled by the caller).
pub fn checked(wire: &Macro) -> Result<MacroSaved, Error> {
    if !switchboard_bus::is_aggregate_id(&wire.macro_id) {
        return Err(invalid("macro_id is required: up to 128 letters, digits, '-' and '_'".into()));
    }
    let name = wire.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(invalid(format!("name is required, at most {MAX_NAME} characters")));
    }
    if wire.texts.is_empty() {
        return Err(invalid(
            "texts needs at least one locale, e.g. {\"en\": \"Hello {{customer_name}}\"}".into(),
        ));
    }
    for (locale, text) in &wire.texts {
        check_text(locale, text)?;
    }
    let default_locale = match (wire.default_locale.as_str(), wire.texts.len()) {
        ("", 1) => wire.texts.keys().next().cloned().unwrap_or_default(),
        ("", _) => return Err(invalid("default_locale is required when there are several texts".into())),
        (locale, _) if wire.texts.contains_key(locale) => locale.to_string(),
        (locale, _) => return Err(invalid(format!("default_locale {locale:?} has no text"))),
    };
    let actions = wire.actions.clone().unwrap_or_default();
    if actions.queue.chars().count() > 128 || actions.queue.chars().any(char::is_control) {
        return Err(invalid("actions.queue: at most 128 characters, no control characters".into()));
    }
    Ok(MacroSaved {
        macro_id: wire.macro_id.clone(),
        name: name.to_string(),
        texts: wire.texts.clone().into_iter().collect(),
        default_locale,
        set_status: status_action(&actions)?.to_string(),
        add_tags: checked_tags(&actions.add_tags)?,
        queue: actions.queue.trim().to_string(),
        priority: actions.priority,
        ..MacroSaved::default()
    })
}

fn check_text(locale: &str, text: &str) -> Result<(), Error> {
    let well_formed = !locale.is_empty()
        && locale.len() <= 35
        && locale.split('-').all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric()));
    if !well_formed {
        return Err(invalid(format!("locale {locale:?} is not a language tag such as en or zh-Hant")));
    }
    if text.trim().is_empty() || text.len() > MAX_TEXT {
        return Err(invalid(format!("the {locale} text is required, at most {MAX_TEXT} bytes")));
    }
    match placeholders_of(text).into_iter().find(|name| !PLACEHOLDERS.contains(&name.as_str())) {
        Some(unknown) => Err(invalid(format!(
            "the {locale} text has an unknown placeholder {{{{{unknown}}}}}; known: {}",
            PLACEHOLDERS.join(", ")
        ))),
        None => Ok(()),
    }
}

fn status_action(actions: &MacroActions) -> Result<&'static str, Error> {
    Ok(match actions.status() {
        StatusChange::Unspecified => "",
        StatusChange::Open => "open",
        StatusChange::Pending => "pending",
        StatusChange::Resolved => "resolved",
        StatusChange::Reopened => return Err(invalid("a macro cannot reopen a conversation".into())),
    })
}

fn checked_tags(tags: &[String]) -> Result<Vec<String>, Error> {
    let tags: Vec<String> =
        tags.iter().map(|tag| tag.trim().to_lowercase()).filter(|tag| !tag.is_empty()).collect();
    if tags.len() > MAX_TAGS || tags.iter().any(|tag| tag.len() > 50) {
        return Err(invalid(format!("at most {MAX_TAGS} tags of at most 50 bytes")));
    }
    Ok(tags)
}

/// The names inside `{{...}}` in `text`, in order.
pub fn placeholders_of(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        names.push(after[..end].trim().to_string());
        rest = &after[end + 2..];
    }
    names
}

/// The macro's last version in the stream and whether it is deleted.
pub fn last_version(last: Option<&Body>) -> (u32, bool) {
    match last {
        Some(Body::MacroSaved(saved)) => (saved.version, false),
        Some(Body::MacroDeleted(deleted)) => (deleted.version, true),
        _ => (0, true),
    }
}

/// The version a save makes, given the last one (`sequence` of the stream's last macro event):
/// the edit must start from the version in force (0 for a new or deleted macro).
pub fn next_version(
    id: &str,
    last: (u32, bool),
    sequence: Option<u64>,
    expected: u32,
) -> Result<(u32, Expected), Error> {
    let (version, deleted) = last;
    let in_force = if deleted { 0 } else { version };
    if expected != in_force {
        return Err(Error::Stale(format!(
            "macro {id:?} is at version {in_force}, not {expected}; reload it and edit again"
        )));
    }
    Ok((version + 1, sequence.map_or(Expected::Empty, Expected::Sequence)))
}

/// The locale of `texts` to use for a conversation in `language`: the same tag, else the same
/// language (`zh-TW` finds `zh-Hant` or `zh`), else the default.
pub fn locale_for<'a>(
    texts: &'a BTreeMap<String, String>,
    default_locale: &'a str,
    language: &str,
) -> &'a str {
    let primary = |tag: &str| tag.split(['-', '_']).next().unwrap_or_default().to_lowercase();
    let wanted = language.to_lowercase();
    if let Some((locale, _)) = texts.iter().find(|(locale, _)| locale.to_lowercase() == wanted) {
        return locale;
    }
    let same_language: Vec<&String> =
        texts.keys().filter(|locale| !wanted.is_empty() && primary(locale) == primary(&wanted)).collect();
    let traditional = ["tw", "hk", "mo", "hant"].iter().any(|region| wanted.contains(region));
    let preferred = same_language
        .iter()
        .find(|locale| traditional == locale.to_lowercase().contains("hant"))
        .or_else(|| same_language.first());
    preferred.map_or(default_locale, |locale| locale.as_str())
}

/// `text` with its placeholders filled from `values`; a placeholder without a value is an
/// error naming it (a reply with a hole in it is never sent).
pub fn render(text: &str, values: &BTreeMap<&str, String>) -> Result<String, Error> {
    let mut rendered = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let name = after[..end].trim();
        let value = values.get(name).filter(|value| !value.is_empty()).ok_or_else(|| {
            Error::Unfillable(format!("the macro needs {{{{{name}}}}} and this conversation has none"))
        })?;
        rendered.push_str(&rest[..start]);
        rendered.push_str(value);
        rest = &after[end + 2..];
    }
    rendered.push_str(rest);
    Ok(rendered)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(texts: &[(&str, &str)], default_locale: &str) -> Macro {
        Macro {
            macro_id: "shipping-delay".into(),
            name: "Shipping delay".into(),
            texts: texts.iter().map(|(l, t)| (l.to_string(), t.to_string())).collect(),
            default_locale: default_locale.into(),
            ..Macro::default()
        }
    }

    #[test]
    fn a_macro_needs_an_id_a_name_texts_and_known_placeholders() {
        assert!(
            checked(&wire(&[("en", "Hi {{customer_name}}")], "")).is_ok_and(|m| m.default_locale == "en")
        );
        for (bad, expected) in [
            (Macro { macro_id: "a b".into(), ..wire(&[("en", "x")], "") }, "macro_id"),
            (Macro { name: " ".into(), ..wire(&[("en", "x")], "") }, "name"),
            (wire(&[], ""), "texts"),
            (wire(&[("en", "Hi {{nickname}}")], ""), "unknown placeholder {{nickname}}"),
            (wire(&[("en", "x"), ("de", "y")], ""), "default_locale is required"),
            (wire(&[("en", "x")], "fr"), "\"fr\" has no text"),
            (wire(&[("e n", "x")], ""), "not a language tag"),
            (
                Macro {
                    actions: Some(MacroActions { queue: "bill\ning".into(), ..Default::default() }),
                    ..wire(&[("en", "x")], "")
                },
                "actions.queue",
            ),
        ] {
            let error = checked(&bad).expect_err(expected).to_string();
            assert!(error.contains(expected), "{error}");
        }
    }

    #[test]
    fn an_edit_must_start_from_the_version_in_force() {
        assert_eq!(next_version("m", last_version(None), None, 0).ok(), Some((1, Expected::Empty)));
        let saved = Body::MacroSaved(MacroSaved { version: 3, ..MacroSaved::default() });
        assert_eq!(
            next_version("m", last_version(Some(&saved)), Some(40), 3).ok(),
            Some((4, Expected::Sequence(40)))
        );
        let stale = next_version("m", last_version(Some(&saved)), Some(40), 2).expect_err("stale");
        assert!(stale.to_string().contains("at version 3, not 2"), "{stale}");
        let deleted = Body::MacroDeleted(switchboard_proto::events::v1::MacroDeleted {
            version: 4,
            ..Default::default()
        });
        assert_eq!(
            next_version("m", last_version(Some(&deleted)), Some(41), 0).ok(),
            Some((5, Expected::Sequence(41)))
        );
    }

    #[test]
    fn the_conversation_s_language_picks_the_text() {
        let texts: BTreeMap<String, String> =
            [("en", "Hi"), ("zh-Hans", "你好"), ("zh-Hant", "您好"), ("de", "Hallo")]
                .iter()
                .map(|(l, t)| (l.to_string(), t.to_string()))
                .collect();
        assert_eq!(locale_for(&texts, "en", "zh-TW"), "zh-Hant");
        assert_eq!(locale_for(&texts, "en", "zh-Hant"), "zh-Hant");
        assert_eq!(locale_for(&texts, "en", "zh-CN"), "zh-Hans");
        assert_eq!(locale_for(&texts, "en", "de-AT"), "de");
        assert_eq!(locale_for(&texts, "en", "fr"), "en");
        assert_eq!(locale_for(&texts, "en", ""), "en");
    }

    #[test]
    fn rendering_fills_every_placeholder_or_names_the_missing_one() {
        let values = BTreeMap::from([("customer_name", "Pat".to_string()), ("order_id", String::new())]);
        assert_eq!(
            render("Hi {{customer_name}}, {{ customer_name }}!", &values).ok().as_deref(),
            Some("Hi Pat, Pat!")
        );
        let missing = render("Your order {{order_id}}", &values).expect_err("no order").to_string();
        assert!(missing.contains("{{order_id}}"), "{missing}");
    }
}
