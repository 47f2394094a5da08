//! `WatchInbox`: the changes to a person's views, in stream order, read from the desk's read
//! model (so any replica serves them) after the last sequence the watcher saw. Each row is sent
//! as it stands after its latest change; changes between two reads of one conversation arrive
//! as the latest. Who sees what, and as what, is a pure function.

use std::time::Duration;

use sqlx::PgPool;
use switchboard_auth::{Caller, Role};
use switchboard_proto::desk::v1::{ChangeKind, InboxChange};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tonic::Status;

use crate::{
    conversation::{Change, Conversation, Status as ConversationStatus},
    grpc::wire,
    store,
};

/// Rows read at a time.
const BATCH: i64 = 200;
/// How long a watcher waits for the projection before reading again anyway (a standby replica
/// does not project, so it is not told).
const POLL: Duration = Duration::from_millis(500);

/// How `c`'s latest change shows to `caller`. Every conversation people work is in someone's
/// "all" view, so each change reaches everyone of the tenant; what concerns the caller is told
/// as such: assigned to them, their customer replied, an SLA warning or breach on what they hold
/// or what waits unassigned (supervisors: on everything). To others it is an update. What only
/// automation has handled is nobody's news.
///
/// `seen` is the last stream sequence the watcher was sent: a conversation that came to people
/// after it and still waits for one is new to them, whatever changed since (a bot's reply in the
/// same moment does not hide it); one assigned to the caller after it is told as assigned to
/// them, whatever changed since (an SLA timer's update in the same moment does not hide it).
pub fn change_for(caller: &Caller, c: &Conversation, seen: u64) -> Option<ChangeKind> {
    if c.status() == ConversationStatus::Open && c.assignee.is_empty() {
        return None;
    }
    let waits = c.assignee.is_empty() && !c.closed;
    if waits && c.arrived_at > seen && c.last_change != Change::New {
        return Some(ChangeKind::New);
    }
    let mine = c.assignee == caller.subject && !c.closed;
    if mine && c.assigned_at > seen && c.last_change != Change::Assigned {
        return Some(ChangeKind::AssignedToMe);
    }
    let concerned = c.assignee == caller.subject || c.assignee.is_empty() || caller.role != Role::Agent;
    Some(match c.last_change {
        Change::New => ChangeKind::New,
        Change::Assigned if c.assignee == caller.subject => ChangeKind::AssignedToMe,
        Change::CustomerReplied if concerned => ChangeKind::CustomerReplied,
        Change::SlaWarning if concerned => ChangeKind::SlaWarning,
        Change::SlaBreached if concerned => ChangeKind::SlaBreached,
        _ => ChangeKind::Updated,
    })
}

/// Streams the caller's changes after `after` (0: from now) until the watcher goes away or
/// the service stops.
pub async fn watch(
    pool: PgPool,
    checkpoint: watch::Receiver<u64>,
    shutdown: CancellationToken,
    caller: Caller,
    after: u64,
) -> Result<mpsc::Receiver<Result<InboxChange, Status>>, sqlx::Error> {
    let start = if after == 0 { store::last_sequence(&pool, &caller.tenant).await? } else { after };
    let (sender, receiver) = mpsc::channel(64);
    tokio::spawn(async move {
        tokio::select! {
            () = follow(pool, checkpoint, caller, start, sender) => {}
            () = shutdown.cancelled() => {}
        }
    });
    Ok(receiver)
}

async fn follow(
    pool: PgPool,
    mut checkpoint: watch::Receiver<u64>,
    caller: Caller,
    mut after: u64,
    sender: mpsc::Sender<Result<InboxChange, Status>>,
) {
    loop {
        let rows = match store::changed_after(&pool, &caller.tenant, after, BATCH).await {
            Ok(rows) => rows,
            Err(error) => {
                tracing::warn!(%error, "inbox read failed; the watcher is told to reconnect");
                let _ = sender
                    .send(Err(Status::unavailable(
                        "the desk cannot read its inbox now; reconnect with after_sequence",
                    )))
                    .await;
                return;
            }
        };
        for c in &rows {
            let seen = after;
            after = after.max(c.sequence);
            let Some(kind) = change_for(&caller, c, seen) else { continue };
            let change = InboxChange { kind: kind.into(), conversation: Some(wire(c)), sequence: c.sequence };
            if sender.send(Ok(change)).await.is_err() {
                return;
            }
        }
        if rows.len() < BATCH as usize {
            tokio::select! {
                () = sender.closed() => return,
                _ = checkpoint.changed() => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::Routed;

    fn person(role: Role, subject: &str) -> Caller {
        Caller {
            tenant: "acme".into(),
            subject: subject.into(),
            role,
            token_id: String::new(),
            expires_at: chrono::Utc::now(),
        }
    }

    fn waiting(change: Change) -> Conversation {
        Conversation { routed: Routed::Queued, last_change: change, ..Conversation::default() }
    }

    #[test]
    fn a_hand_off_is_new_to_every_agent_and_a_claim_is_news_to_its_claimer_only() {
        let ana = person(Role::Agent, "ana");
        assert_eq!(change_for(&ana, &waiting(Change::New), 0), Some(ChangeKind::New));
        let claimed = Conversation { assignee: "ana".into(), ..waiting(Change::Assigned) };
        assert_eq!(change_for(&ana, &claimed, 0), Some(ChangeKind::AssignedToMe));
        let bob = person(Role::Agent, "bob");
        assert_eq!(
            change_for(&bob, &claimed, 0),
            Some(ChangeKind::Updated),
            "it leaves Bob's unassigned view"
        );
        let replied = Conversation { assignee: "ana".into(), ..waiting(Change::CustomerReplied) };
        assert_eq!(
            change_for(&bob, &replied, 0),
            Some(ChangeKind::Updated),
            "Ana's customer is not Bob's news"
        );
        assert_eq!(
            change_for(&person(Role::Supervisor, "sue"), &replied, 0),
            Some(ChangeKind::CustomerReplied)
        );
    }

    #[test]
    fn warnings_reach_the_holder_and_supervisors_and_the_bot_s_chats_nobody() {
        let warned = Conversation { assignee: "ana".into(), ..waiting(Change::SlaWarning) };
        assert_eq!(change_for(&person(Role::Agent, "ana"), &warned, 0), Some(ChangeKind::SlaWarning));
        assert_eq!(change_for(&person(Role::Supervisor, "sue"), &warned, 0), Some(ChangeKind::SlaWarning));
        assert_eq!(change_for(&person(Role::Agent, "bob"), &warned, 0), Some(ChangeKind::Updated));
        let bot_chat = Conversation { last_change: Change::CustomerReplied, ..Conversation::default() };
        assert_eq!(change_for(&person(Role::Supervisor, "sue"), &bot_chat, 0), None);
    }

    #[test]
    fn a_hand_off_the_watcher_has_not_seen_is_new_even_when_something_changed_since() {
        let ana = person(Role::Agent, "ana");
        let replied_since = Conversation { arrived_at: 7, sequence: 8, ..waiting(Change::Updated) };
        assert_eq!(
            change_for(&ana, &replied_since, 6),
            Some(ChangeKind::New),
            "the bot's reply came with it"
        );
        assert_eq!(change_for(&ana, &replied_since, 7), Some(ChangeKind::Updated), "seen already");
        let claimed = Conversation { assignee: "bob".into(), arrived_at: 7, ..waiting(Change::Assigned) };
        assert_eq!(change_for(&ana, &claimed, 6), Some(ChangeKind::Updated), "taken before Ana saw it");
    }

    #[test]
    fn a_claim_the_holder_has_not_seen_is_theirs_even_when_something_changed_since() {
        let bob = person(Role::Agent, "bob");
        let timed =
            Conversation { assignee: "bob".into(), assigned_at: 9, sequence: 10, ..waiting(Change::Updated) };
        assert_eq!(change_for(&bob, &timed, 8), Some(ChangeKind::AssignedToMe), "an SLA timer came with it");
        assert_eq!(change_for(&bob, &timed, 9), Some(ChangeKind::Updated), "seen already");
        assert_eq!(
            change_for(&person(Role::Agent, "ana"), &timed, 8),
            Some(ChangeKind::Updated),
            "not Ana's"
        );
    }
}
