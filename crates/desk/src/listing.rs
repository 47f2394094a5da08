//! What `ListConversations` asks, checked: filters, page size and the cursor. The sort is SLA
//! due time (none last), priority (highest first), age (oldest first), then id; a cursor is
//! the sort key of a page's last row, so the next page starts strictly after it.

use std::cmp::Reverse;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use switchboard_proto::desk::v1::{ConversationStatus, ListConversationsRequest};

use crate::{Error, conversation::Status};

pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 200;

/// Whose conversations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assignee {
    Anyone,
    Unassigned,
    Agent(String),
}

/// A checked request: every filter, `None`/`Anyone` where the caller set none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub queue: Option<String>,
    pub status: Option<Status>,
    pub assignee: Assignee,
    pub channel: Option<i32>,
    pub priority: Option<i32>,
    /// Lower case; matches the language or its primary subtag.
    pub language: Option<String>,
    /// Due by this instant; breached targets are (they keep the due time they missed).
    pub due_before: Option<DateTime<Utc>>,
    pub page_size: u32,
    pub after: Option<SortKey>,
}

impl Query {
    /// The request of `caller` (an agent id, for `me`) at `now`.
    pub fn of(request: &ListConversationsRequest, caller: &str, now: DateTime<Utc>) -> Result<Self, Error> {
        let non_empty = |text: &str| (!text.is_empty()).then(|| text.to_string());
        Ok(Self {
            queue: non_empty(&request.queue),
            status: status_of(request.status)?,
            assignee: match request.assignee.as_str() {
                "" => Assignee::Anyone,
                "unassigned" => Assignee::Unassigned,
                "me" => Assignee::Agent(caller.to_string()),
                agent => Assignee::Agent(agent.to_string()),
            },
            channel: (request.channel != 0).then_some(request.channel),
            priority: (request.priority != 0).then_some(request.priority),
            language: non_empty(&request.language.to_ascii_lowercase()),
            due_before: request
                .sla_at_risk_minutes
                .map(|minutes| now + Duration::minutes(i64::from(minutes))),
            page_size: page_size_of(request.page_size)?,
            after: match request.cursor.as_str() {
                "" => None,
                cursor => Some(SortKey::decode(cursor)?),
            },
        })
    }
}

fn status_of(value: i32) -> Result<Option<Status>, Error> {
    let status = ConversationStatus::try_from(value)
        .map_err(|_| Error::InvalidArgument(format!("unknown status {value}")))?;
    Ok(match status {
        ConversationStatus::Unspecified => None,
        ConversationStatus::Open => Some(Status::Open),
        ConversationStatus::Queued => Some(Status::Queued),
        ConversationStatus::Escalated => Some(Status::Escalated),
        ConversationStatus::Assigned => Some(Status::Assigned),
        ConversationStatus::Pending => Some(Status::Pending),
        ConversationStatus::Resolved => Some(Status::Resolved),
    })
}

/// The wire status of a folded one.
pub fn wire_status(status: Status) -> ConversationStatus {
    match status {
        Status::Open => ConversationStatus::Open,
        Status::Queued => ConversationStatus::Queued,
        Status::Escalated => ConversationStatus::Escalated,
        Status::Assigned => ConversationStatus::Assigned,
        Status::Pending => ConversationStatus::Pending,
        Status::Resolved => ConversationStatus::Resolved,
    }
}

fn page_size_of(requested: u32) -> Result<u32, Error> {
    match requested {
        0 => Ok(DEFAULT_PAGE),
        size if size > MAX_PAGE => Err(Error::InvalidArgument(format!("page_size is at most {MAX_PAGE}"))),
        size => Ok(size),
    }
}

/// Where a row sorts. Its order is the listing's (the SQL `ORDER BY` mirrors it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    pub sla_due_at: Option<DateTime<Utc>>,
    pub priority: i32,
    pub created_at: DateTime<Utc>,
    pub conversation_id: String,
}

impl SortKey {
    fn order(&self) -> (DateTime<Utc>, Reverse<i32>, DateTime<Utc>, &str) {
        let due = self.sla_due_at.unwrap_or(DateTime::<Utc>::MAX_UTC);
        (due, Reverse(self.priority), self.created_at, &self.conversation_id)
    }

    /// Opaque to callers: `due|priority|created|id` (times in microseconds), base64url.
    pub fn encode(&self) -> String {
        let due = self.sla_due_at.map(|at| at.timestamp_micros().to_string()).unwrap_or_default();
        let text = format!(
            "{due}|{}|{}|{}",
            self.priority,
            self.created_at.timestamp_micros(),
            self.conversation_id
        );
        URL_SAFE_NO_PAD.encode(text)
    }

    pub fn decode(cursor: &str) -> Result<Self, Error> {
        let invalid = || Error::InvalidArgument("cursor is not one this service gave".into());
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let mut parts = text.splitn(4, '|');
        let mut next = || parts.next().ok_or_else(invalid);
        let (due, priority, created, id) = (next()?, next()?, next()?, next()?);
        let micros = |text: &str| {
            text.parse::<i64>().ok().and_then(DateTime::<Utc>::from_timestamp_micros).ok_or_else(invalid)
        };
        Ok(Self {
            sla_due_at: if due.is_empty() { None } else { Some(micros(due)?) },
            priority: priority.parse().map_err(|_| invalid())?,
            created_at: micros(created)?,
            conversation_id: id.to_string(),
        })
    }
}

impl Ord for SortKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.order().cmp(&other.order())
    }
}

impl PartialOrd for SortKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).expect("a time")
    }

    fn key(due: Option<i64>, priority: i32, created: i64, id: &str) -> SortKey {
        SortKey { sla_due_at: due.map(at), priority, created_at: at(created), conversation_id: id.into() }
    }

    #[test]
    fn sorts_by_due_time_then_priority_then_age_with_no_due_time_last() {
        let mut keys = [
            key(None, 4, 1, "no-sla-urgent"),
            key(Some(200), 1, 1, "later"),
            key(Some(100), 2, 5, "soon-normal-new"),
            key(Some(100), 2, 3, "soon-normal-old"),
            key(Some(100), 3, 9, "soon-high"),
            key(None, 2, 0, "no-sla-normal-oldest"),
        ];
        keys.sort();
        let ids: Vec<_> = keys.iter().map(|k| k.conversation_id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "soon-high",
                "soon-normal-old",
                "soon-normal-new",
                "later",
                "no-sla-urgent",
                "no-sla-normal-oldest"
            ]
        );
    }

    #[test]
    fn a_cursor_round_trips_and_a_forged_one_is_refused() {
        for original in [key(Some(1_700_000_000), 3, 1_600_000_000, "c|with|bars"), key(None, 0, 0, "c-1")] {
            assert_eq!(SortKey::decode(&original.encode()).ok(), Some(original));
        }
        for forged in ["", "!!", &URL_SAFE_NO_PAD.encode("x|y"), &URL_SAFE_NO_PAD.encode("|a|1|c")] {
            assert!(matches!(SortKey::decode(forged), Err(Error::InvalidArgument(_))), "{forged}");
        }
    }

    #[test]
    fn refuses_bad_input_with_a_reason() {
        let now = at(0);
        let too_big = ListConversationsRequest { page_size: MAX_PAGE + 1, ..Default::default() };
        assert!(Query::of(&too_big, "ana", now).is_err());
        let bad_status = ListConversationsRequest { status: 99, ..Default::default() };
        assert!(Query::of(&bad_status, "ana", now).is_err());
    }

    #[test]
    fn me_is_the_caller_and_defaults_are_filled_in() {
        let request = ListConversationsRequest {
            assignee: "me".into(),
            language: "EN".into(),
            sla_at_risk_minutes: Some(15),
            ..Default::default()
        };
        let query = Query::of(&request, "ana", at(0)).expect("valid");
        assert_eq!(query.assignee, Assignee::Agent("ana".into()));
        assert_eq!((query.page_size, query.language.as_deref()), (DEFAULT_PAGE, Some("en")));
        assert_eq!(query.due_before, Some(at(15 * 60)));
    }
}
