//! SLA timers: every replica folds the `sla` and `routing` events into each conversation's
//! clocks ([`fold`], pure), publishes what the fold plans (targets starting when a person takes a
//! conversation, resuming when the customer writes), and sleeps until the next warning or due
//! time — no polling — then publishes `SlaWarning` or `SlaBreached`. The events are the durable
//! state: after a restart the fold gives the same clocks (from its last snapshot, in
//! `desk.fold_snapshots`, and the events after it), and a deadline passed while down fires at
//! once. A conversation's clocks end when it closes. Event ids derive from the target or the cause, so replicas acting together publish
//! one event, and so do calls made twice at once (a met target by the start it ends, a pause by
//! the resume before it, a resume by the pause it ends). Targets are per tenant's conversation.

mod fold;
mod policy;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use switchboard_bus::{Bus, Draft, LiveEvents, apply_live};
use switchboard_projection::{Task, TaskResult};
use switchboard_proto::{
    events::v1::{Event, SlaBreached, SlaMet, SlaPaused, SlaResumed, SlaWarning, event::Body},
    time::to_timestamp,
};
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

pub use fold::{Clocks, PENDING_CLOSE};
use fold::{Planned, State, plan};

use crate::{
    Error,
    breach::Breach,
    snapshot,
    tenancy::{Scoped, scoped},
};

const SUBJECTS: [&str; 3] = [
    "switchboard.events.sla.>",
    "switchboard.events.routing.>",
    "switchboard.events.conversation-lifecycle.>",
];
/// The longest a timer sleeps without looking again (clock changes, missed wake-ups).
const MAX_SLEEP: std::time::Duration = std::time::Duration::from_secs(300);
/// How soon planned events that could not be published are tried again.
const RETRY: std::time::Duration = std::time::Duration::from_secs(1);

pub struct Timers {
    bus: Bus,
    state: Mutex<Fold>,
    wake: Notify,
    /// Where breaches whose policy says what a breach does are told (see [`crate::breach`]).
    breaches: mpsc::UnboundedSender<Breach>,
}

/// The fold, and what the edge keeps beside it.
#[derive(Default)]
struct Fold {
    state: State,
    /// Conversations whose plan may have changed since it was last published.
    touched: BTreeSet<Scoped>,
}

impl Timers {
    fn lock(&self) -> std::sync::MutexGuard<'_, Fold> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The tenant's conversation's clocks as folded so far.
    pub fn clocks(&self, tenant: &str, conversation_id: &str) -> Clocks {
        self.lock().state.clocks.get(&scoped(tenant, conversation_id)).cloned().unwrap_or_default()
    }

    /// Marks a running target met; nothing for a target not running.
    pub async fn met(&self, tenant: &str, conversation_id: &str, metric: &str) -> Result<bool, Error> {
        let Some(since) = self.clocks(tenant, conversation_id).running.get(metric).map(|t| t.since) else {
            return Ok(false);
        };
        self.publish_met(tenant, conversation_id, metric, since).await?;
        Ok(true)
    }

    /// Publishes the running target `metric` (started at `since`) met, under an id of that target.
    async fn publish_met(
        &self,
        tenant: &str,
        conversation_id: &str,
        metric: &str,
        since: u64,
    ) -> Result<(), Error> {
        let body = Body::SlaMet(SlaMet { conversation_id: conversation_id.into(), metric: metric.into() });
        let key = format!("{tenant}/sla/{conversation_id}/{metric}/met/{since}");
        self.publish_once(tenant, conversation_id, body, &key).await
    }

    /// The conversation waits on the customer: its running targets stop, keeping the open time
    /// they had left, and the fold starts the clock that closes it. `except` lists targets just
    /// met (their `SlaMet` may not be folded yet). Nothing when it waits already.
    pub async fn pause(
        &self,
        tenant: &str,
        conversation_id: &str,
        now: DateTime<Utc>,
        except: &[&str],
    ) -> Result<Vec<String>, Error> {
        let clocks = self.clocks(tenant, conversation_id);
        if clocks.is_paused() {
            return Ok(Vec::new());
        }
        let targets = clocks.to_pause(now, except);
        let metrics = targets.iter().map(|t| t.metric.clone()).collect();
        let body = Body::SlaPaused(SlaPaused { conversation_id: conversation_id.into(), targets });
        let life = match clocks.born {
            0 => self.opened_at(tenant, conversation_id).await?,
            born => born,
        };
        let key = format!("{tenant}/sla/{conversation_id}/paused/after/{life}-{}", clocks.resumed_at());
        self.publish_once(tenant, conversation_id, body, &key).await?;
        Ok(metrics)
    }

    /// What tells this opening of a conversation without clocks from its earlier ones: the
    /// sequence of its last closing or reopening (0: it never closed).
    async fn opened_at(&self, tenant: &str, conversation_id: &str) -> Result<u64, Error> {
        let last = self.bus.last_event_of("conversation-lifecycle", tenant, conversation_id).await?;
        Ok(last.map_or(0, |(_, sequence)| sequence))
    }

    /// A person took the conversation off waiting on the customer: its paused targets run again
    /// for the time they had left, and the clock that would close it stops. `false` when it was
    /// not waiting.
    pub async fn resume(&self, tenant: &str, conversation_id: &str) -> Result<bool, Error> {
        let clocks = self.clocks(tenant, conversation_id);
        let Some(paused_id) = clocks.paused_id() else {
            return Ok(false);
        };
        if let Some(closing) = clocks.running.get(PENDING_CLOSE) {
            self.publish_met(tenant, conversation_id, PENDING_CLOSE, closing.since).await?;
        }
        let body = Body::SlaResumed(SlaResumed { conversation_id: conversation_id.into() });
        let key = format!("{tenant}/sla/{conversation_id}/resumed/{paused_id}");
        self.publish_once(tenant, conversation_id, body, &key).await?;
        Ok(true)
    }

    fn apply(&self, event: &Event, sequence: u64) {
        let mut fold = self.lock();
        if let Some(conversation) = fold.state.apply(event, sequence) {
            fold.touched.insert(conversation);
            drop(fold);
            self.wake.notify_one();
        }
    }

    /// Publishes what the touched conversations' plans hold; `false` if some failed (they stay
    /// touched, to be tried again).
    async fn publish_planned(&self) -> bool {
        let planned: Vec<(Scoped, Vec<Planned>)> = {
            let mut fold = self.lock();
            let touched = std::mem::take(&mut fold.touched);
            touched
                .into_iter()
                .filter_map(|key| {
                    let clocks = fold.state.clocks.get(&key)?;
                    let planned = plan(&key.0, &key.1, clocks);
                    (!planned.is_empty()).then_some((key, planned))
                })
                .collect()
        };
        let mut all_published = true;
        for ((tenant, conversation), events) in planned {
            for Planned { key, body } in events {
                if let Err(error) = self.publish_once(&tenant, &conversation, body, &key).await {
                    tracing::warn!(%error, "planned sla event not published; trying again");
                    self.lock().touched.insert((tenant.clone(), conversation.clone()));
                    all_published = false;
                    break;
                }
            }
        }
        all_published
    }

    /// The next moment something is due, if anything runs.
    fn next(&self) -> Option<DateTime<Utc>> {
        self.lock().state.next()
    }

    /// Publishes what is due at `now`: warnings, then breaches.
    async fn fire(&self, now: DateTime<Utc>) {
        let due: Vec<(Scoped, String, fold::Running)> = self
            .lock()
            .state
            .running()
            .filter(|(_, _, t)| t.due <= now || (!t.warned && t.warn <= now))
            .map(|(conversation, metric, t)| (conversation.clone(), metric.clone(), t.clone()))
            .collect();
        for ((tenant, conversation), metric, target) in due {
            let breached = target.due <= now;
            let due_at = Some(to_timestamp(target.due));
            let (conversation_id, metric_name) = (conversation.clone(), metric.clone());
            let (kind, body) = if breached {
                ("breach", Body::SlaBreached(SlaBreached { conversation_id, metric: metric_name, due_at }))
            } else {
                ("warning", Body::SlaWarning(SlaWarning { conversation_id, metric: metric_name, due_at }))
            };
            let id = format!("{tenant}/sla/{conversation}/{metric}/{kind}/{}", target.due.timestamp());
            match self.publish_once(&tenant, &conversation, body, &id).await {
                // The closing clock of a conversation waiting on the customer is no target: its
                // "breach" closes the conversation, and calls for no breach actions.
                Ok(()) if breached && metric != PENDING_CLOSE => {
                    tracing::info!(metric, kind, "sla timer fired");
                    metrics::counter!("switchboard_sla_breaches_total", "target" => metric.clone())
                        .increment(1);
                    self.tell_breach(&tenant, &conversation, id);
                }
                Ok(()) => tracing::info!(metric, kind, "sla timer fired"),
                Err(error) => tracing::warn!(metric, kind, %error, "sla event not published; retrying"),
            }
        }
    }

    /// Tells the breach's actions, when the conversation's policy has some.
    fn tell_breach(&self, tenant: &str, conversation: &str, key: String) {
        let policy = self.clocks(tenant, conversation).policy;
        let Some(policy) = policy.filter(|p| p.breach_priority != 0 || !p.breach_queue.is_empty()) else {
            return;
        };
        let breach = Breach {
            tenant: tenant.to_string(),
            conversation_id: conversation.to_string(),
            priority: policy.breach_priority,
            queue: policy.breach_queue,
            key,
        };
        if self.breaches.send(breach).is_err() {
            tracing::warn!("sla breach actions not taken: the desk is stopping");
        }
    }

    async fn publish_once(
        &self,
        tenant: &str,
        conversation: &str,
        body: Body,
        id: &str,
    ) -> Result<(), Error> {
        let event = Draft::new(tenant, conversation, body).keyed(id).build()?;
        self.bus.publish(&event).await?;
        Ok(())
    }
}

/// Reads the last snapshot of the clocks, folds the `sla`, `routing` and closing events after
/// it, then follows new ones, publishes what the fold plans, runs the clock and saves snapshots.
pub async fn start(
    bus: &Bus,
    pool: &PgPool,
    breaches: mpsc::UnboundedSender<Breach>,
    shutdown: CancellationToken,
) -> Result<(Arc<Timers>, Vec<Task>), Error> {
    let state = snapshot::load::<State>(pool).await?.map(|(_, state)| state).unwrap_or_default();
    let (history, live) = bus.read_then_follow_after(&SUBJECTS, state.folded).await?;
    // Every kept conversation's plan is looked at once more: the snapshot does not say what was
    // published of it.
    let touched = state.clocks.keys().cloned().collect();
    let state = Mutex::new(Fold { state, touched });
    let timers = Arc::new(Timers { bus: bus.clone(), state, wake: Notify::new(), breaches });
    for (event, sequence) in &history {
        timers.apply(event, *sequence);
    }
    let (running, read) = (timers.lock().state.running().count(), history.len());
    tracing::info!(running, read, "sla timers restored");
    let follower = tokio::spawn(follow(timers.clone(), live, shutdown.clone()));
    let saver = tokio::spawn(snapshot::keep_saving(timers.clone(), pool.clone(), shutdown.clone()));
    let clock = tokio::spawn(clock(timers.clone(), shutdown));
    Ok((timers, vec![follower, clock, saver]))
}

impl snapshot::Saved for Timers {
    type State = State;

    fn state_after(&self, saved: u64) -> Option<(u64, State)> {
        let fold = self.lock();
        (fold.state.folded > saved).then(|| (fold.state.folded, fold.state.clone()))
    }
}

async fn follow(timers: Arc<Timers>, live: LiveEvents, shutdown: CancellationToken) -> TaskResult {
    apply_live(live, shutdown, "sla", |event, sequence| timers.apply(event, sequence)).await;
    Ok(())
}

async fn clock(timers: Arc<Timers>, shutdown: CancellationToken) -> TaskResult {
    loop {
        let published = timers.publish_planned().await;
        let now = Utc::now();
        let sleep = match timers.next() {
            Some(next) if next <= now => {
                timers.fire(now).await;
                // Fired events come back through the stream; give them a moment to.
                std::time::Duration::from_millis(200)
            }
            Some(next) => (next - now).to_std().unwrap_or_default().min(MAX_SLEEP),
            None => MAX_SLEEP,
        };
        let sleep = if published { sleep } else { sleep.min(RETRY) };
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(sleep) => {}
            () = timers.wake.notified() => {}
        }
    }
}
