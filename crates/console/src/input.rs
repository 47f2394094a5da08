//! What the browser sends, read into the API's requests. Names of enum values are the JSON's
//! (`escalated`, `resolved`); an unknown one is refused here with the names that would do.

use serde::Deserialize;
use switchboard_proto::{
    desk::v1::{ConversationStatus, ListConversationsRequest, Presence, StatusChange},
    events::v1::{Channel, Priority},
};

use crate::{error::ApiError, json::from_slug};

/// An enum value by its JSON name; empty is unspecified (0), an unknown name a clear refusal.
pub fn named<E: Into<i32>>(
    field: &str,
    name: &str,
    prefix: &str,
    from_str_name: fn(&str) -> Option<E>,
    known: &str,
) -> Result<i32, ApiError> {
    if name.is_empty() {
        return Ok(0);
    }
    from_slug(name, prefix, from_str_name)
        .map(Into::into)
        .ok_or_else(|| ApiError::invalid(format!("{field}: unknown {name:?}; one of {known}")))
}

/// The inbox's filters and page, as `ListConversations` takes them.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    pub queue: String,
    pub status: String,
    /// `me`, `unassigned`, or an agent id.
    pub assignee: String,
    pub channel: String,
    pub priority: String,
    pub language: String,
    pub sla_at_risk_minutes: Option<u32>,
    pub page_size: u32,
    pub cursor: String,
    pub min_sequence: u64,
}

impl ListQuery {
    pub fn request(self) -> Result<ListConversationsRequest, ApiError> {
        let statuses = "open, queued, escalated, assigned, pending, resolved";
        let channels = "web, email, voice, social, api, sms";
        Ok(ListConversationsRequest {
            status: named(
                "status",
                &self.status,
                "CONVERSATION_STATUS_",
                ConversationStatus::from_str_name,
                statuses,
            )?,
            channel: named("channel", &self.channel, "CHANNEL_", Channel::from_str_name, channels)?,
            priority: named(
                "priority",
                &self.priority,
                "PRIORITY_",
                Priority::from_str_name,
                "low, normal, high, urgent",
            )?,
            queue: self.queue,
            assignee: self.assignee,
            language: self.language,
            sla_at_risk_minutes: self.sla_at_risk_minutes,
            page_size: self.page_size,
            cursor: self.cursor,
            min_sequence: self.min_sequence,
        })
    }
}

/// A status change: `open`, `pending`, `resolved` or `reopened`.
pub fn status_change(name: &str) -> Result<i32, ApiError> {
    let known = "open, pending, resolved, reopened";
    match named("status", name, "STATUS_CHANGE_", StatusChange::from_str_name, known)? {
        0 => Err(ApiError::invalid(format!("status: say which, one of {known}"))),
        change => Ok(change),
    }
}

/// A presence: `online`, `away` or `offline`.
pub fn presence(name: &str) -> Result<i32, ApiError> {
    let known = "online, away, offline";
    match named("presence", name, "PRESENCE_", Presence::from_str_name, known)? {
        0 => Err(ApiError::invalid(format!("presence: say which, one of {known}"))),
        presence => Ok(presence),
    }
}

/// The stream sequence a reconnecting browser saw last (`Last-Event-ID`); none: from now.
pub fn last_event_id(header: Option<&str>) -> Result<u64, ApiError> {
    match header.map(str::trim) {
        None | Some("") => Ok(0),
        Some(id) => id
            .parse()
            .map_err(|_| ApiError::invalid(format!("Last-Event-ID: {id:?} is not a stream sequence"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_read_by_name_and_unknown_names_refused_with_the_known_ones() {
        let query = ListQuery { status: "escalated".into(), assignee: "me".into(), ..Default::default() };
        let request = query.request().expect("valid");
        assert_eq!(request.status(), ConversationStatus::Escalated);
        assert_eq!((request.channel, request.assignee.as_str()), (0, "me"));
        let refused =
            ListQuery { priority: "huge".into(), ..Default::default() }.request().expect_err("unknown");
        assert_eq!(refused.code, "invalid_argument");
        assert!(refused.message.contains("low, normal, high, urgent"), "{}", refused.message);
    }

    #[test]
    fn a_status_change_and_a_presence_must_be_named() {
        assert_eq!(status_change("resolved"), Ok(StatusChange::Resolved.into()));
        assert_eq!(presence("away"), Ok(Presence::Away.into()));
        for (refused, expected) in [(status_change(""), "say which"), (status_change("closed"), "unknown")] {
            assert!(refused.expect_err("refused").message.contains(expected));
        }
        assert!(presence("unspecified").is_err() && presence("ONLINE").is_err());
    }

    #[test]
    fn a_reconnect_resumes_after_the_last_sequence_seen() {
        assert_eq!(last_event_id(None), Ok(0));
        assert_eq!(last_event_id(Some(" 41 ")), Ok(41));
        assert!(last_event_id(Some("forty")).is_err());
    }
}
