//! The console's JSON: the gRPC answers as the browser reads them. Enums are lower-case names
//! (`escalated`, `web`), timestamps RFC 3339 strings (or `null`), stream sequences strings (a
//! JavaScript number cannot hold every `u64`).

mod analytics;
mod conversation;
mod people;

pub use analytics::{article, deflection, gap, report, trends};
pub use conversation::{change, conversation, view};
pub use people::{agent, approval, desk_macro, identity, issued, overview};

use prost_types::Timestamp;
use serde_json::Value;

/// An enum value's name without its prefix, lower case: `CONVERSATION_STATUS_ESCALATED` with
/// prefix `CONVERSATION_STATUS_` is `escalated`.
pub fn slug(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix).unwrap_or(name).to_ascii_lowercase()
}

/// The enum value named `slug` (as [`slug`] gives it), through prost's `from_str_name`.
pub fn from_slug<E>(slug: &str, prefix: &str, from_str_name: fn(&str) -> Option<E>) -> Option<E> {
    let valid = !slug.is_empty() && slug.chars().all(|c| c.is_ascii_lowercase() || c == '_');
    valid.then(|| from_str_name(&format!("{prefix}{}", slug.to_ascii_uppercase()))).flatten()
}

/// RFC 3339 in UTC, or `null` when unset.
pub fn time(at: Option<&Timestamp>) -> Value {
    at.map_or(Value::Null, |at| {
        Value::String(
            switchboard_proto::time::to_datetime(Some(at))
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        )
    })
}

/// A stream sequence, as a string.
pub fn sequence(sequence: u64) -> Value {
    Value::String(sequence.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_proto::desk::v1::ConversationStatus;

    #[test]
    fn enum_names_go_both_ways_and_unknown_names_are_none() {
        let name = ConversationStatus::Escalated.as_str_name();
        assert_eq!(slug(name, "CONVERSATION_STATUS_"), "escalated");
        let parsed = from_slug("escalated", "CONVERSATION_STATUS_", ConversationStatus::from_str_name);
        assert_eq!(parsed, Some(ConversationStatus::Escalated));
        for bad in ["", "ESCALATED", "escalated ", "nope", "status_escalated"] {
            assert_eq!(
                from_slug(bad, "CONVERSATION_STATUS_", ConversationStatus::from_str_name),
                None,
                "{bad}"
            );
        }
    }

    #[test]
    fn times_are_rfc3339_in_utc_and_sequences_strings() {
        let at = Timestamp { seconds: 1_700_000_000, nanos: 5_000_000 };
        assert_eq!(time(Some(&at)), Value::String("2023-11-14T22:13:20.005Z".into()));
        assert_eq!(time(None), Value::Null);
        assert_eq!(sequence(u64::MAX), Value::String("18446744073709551615".into()));
    }
}
