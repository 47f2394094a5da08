//! SLA timers: every replica folds the `sla` events into the targets still running and sleeps
//! until the next warning or due time — no polling — then publishes `SlaWarning` or
//! `SlaBreached`. The events are the durable state: after a restart the fold gives the same
//! timers, and a deadline passed while down fires at once. Event ids derive from the target,
//! so replicas firing together publish one event.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use switchboard_bus::{Bus, DEFAULT_TENANT, Draft, LiveEvents};
use switchboard_projection::{Task, TaskResult};
use switchboard_proto::{
    events::v1::{Event, SlaBreached, SlaMet, SlaStarted, SlaWarning, event::Body},
    time::{to_datetime, to_timestamp},
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::Error;

const SUBJECT: &str = "switchboard.events.sla.>";
/// The longest a timer sleeps without looking again (clock changes, missed wake-ups).
const MAX_SLEEP: std::time::Duration = std::time::Duration::from_secs(300);

#[derive(Debug, Clone, Copy, PartialEq)]
struct Running {
    due: DateTime<Utc>,
    warn: DateTime<Utc>,
    warned: bool,
}

type Key = (String, String);

pub struct Timers {
    bus: Bus,
    running: Mutex<BTreeMap<Key, Running>>,
    wake: Notify,
}

impl Timers {
    /// Whether the conversation's `metric` target runs.
    pub fn is_running(&self, conversation_id: &str, metric: &str) -> bool {
        self.lock().contains_key(&(conversation_id.to_string(), metric.to_string()))
    }

    /// Starts a target unless it runs already (one `SlaStarted` per target, whoever publishes).
    pub async fn start_target(&self, started: SlaStarted, cause: &Event) -> Result<(), Error> {
        if self.is_running(&started.conversation_id, &started.metric) {
            return Ok(());
        }
        let id = format!("sla-start/{}/{}", started.conversation_id, started.metric);
        let conversation = started.conversation_id.clone();
        let mut event = Draft::caused_by(cause, conversation, Body::SlaStarted(started)).build()?;
        event.id = Uuid::new_v5(&Uuid::NAMESPACE_OID, id.as_bytes()).to_string();
        self.bus.publish(&event).await?;
        Ok(())
    }

    /// Marks a running target met; nothing for a target not running.
    pub async fn met(&self, conversation_id: &str, metric: &str) -> Result<bool, Error> {
        if !self.is_running(conversation_id, metric) {
            return Ok(false);
        }
        let body = Body::SlaMet(SlaMet { conversation_id: conversation_id.into(), metric: metric.into() });
        self.bus.publish(&Draft::new(DEFAULT_TENANT, conversation_id, body).build()?).await?;
        Ok(true)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<Key, Running>> {
        self.running.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn apply(&self, event: &Event) {
        let key = |conversation: &str, metric: &str| (conversation.to_string(), metric.to_string());
        let mut running = self.lock();
        match &event.body {
            Some(Body::SlaStarted(s)) => {
                let due = to_datetime(s.due_at.as_ref());
                let warn = to_datetime(s.warn_at.as_ref());
                running.entry(key(&s.conversation_id, &s.metric)).or_insert(Running {
                    due,
                    warn,
                    warned: false,
                });
            }
            Some(Body::SlaWarning(w)) => {
                if let Some(target) = running.get_mut(&key(&w.conversation_id, &w.metric)) {
                    target.warned = true;
                }
            }
            Some(Body::SlaBreached(b)) => {
                running.remove(&key(&b.conversation_id, &b.metric));
            }
            Some(Body::SlaMet(m)) => {
                running.remove(&key(&m.conversation_id, &m.metric));
            }
            _ => return,
        }
        drop(running);
        self.wake.notify_one();
    }

    /// The next moment something is due, if anything runs.
    fn next(&self) -> Option<DateTime<Utc>> {
        self.lock().values().map(|t| if t.warned { t.due } else { t.warn.min(t.due) }).min()
    }

    /// Publishes what is due at `now`: warnings, then breaches.
    async fn fire(&self, now: DateTime<Utc>) {
        let due: Vec<(Key, Running)> = self
            .lock()
            .iter()
            .filter(|(_, t)| t.due <= now || (!t.warned && t.warn <= now))
            .map(|(k, t)| (k.clone(), *t))
            .collect();
        for ((conversation, metric), target) in due {
            let breached = target.due <= now;
            let (kind, body) = if breached {
                let body = SlaBreached {
                    conversation_id: conversation.clone(),
                    metric: metric.clone(),
                    due_at: Some(to_timestamp(target.due)),
                };
                ("breach", Body::SlaBreached(body))
            } else {
                let body = SlaWarning {
                    conversation_id: conversation.clone(),
                    metric: metric.clone(),
                    due_at: Some(to_timestamp(target.due)),
                };
                ("warning", Body::SlaWarning(body))
            };
            let id = format!("sla/{conversation}/{metric}/{kind}/{}", target.due.timestamp());
            match self.publish_once(&conversation, body, &id).await {
                Ok(()) => tracing::info!(metric, kind, "sla timer fired"),
                Err(error) => tracing::warn!(metric, kind, %error, "sla event not published; retrying"),
            }
        }
    }

    async fn publish_once(&self, conversation: &str, body: Body, id: &str) -> Result<(), Error> {
        let mut event = Draft::new(DEFAULT_TENANT, conversation, body).build()?;
        event.id = Uuid::new_v5(&Uuid::NAMESPACE_OID, id.as_bytes()).to_string();
        self.bus.publish(&event).await?;
        Ok(())
    }
}

/// Folds the `sla` events so far, then follows new ones and runs the clock.
pub async fn start(bus: &Bus, shutdown: CancellationToken) -> Result<(Arc<Timers>, Vec<Task>), Error> {
    let (history, live) = bus.read_then_follow(&[SUBJECT]).await?;
    let timers =
        Arc::new(Timers { bus: bus.clone(), running: Mutex::new(BTreeMap::new()), wake: Notify::new() });
    for (event, _) in &history {
        timers.apply(event);
    }
    tracing::info!(running = timers.lock().len(), "sla timers restored");
    let follower = tokio::spawn(follow(timers.clone(), live, shutdown.clone()));
    let clock = tokio::spawn(clock(timers.clone(), shutdown));
    Ok((timers, vec![follower, clock]))
}

async fn follow(timers: Arc<Timers>, mut live: LiveEvents, shutdown: CancellationToken) -> TaskResult {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            next = live.next() => match next {
                Some(Ok((event, _))) => timers.apply(&event),
                Some(Err(error)) => tracing::warn!(%error, "sla stream error"),
                None => return Ok(()),
            },
        }
    }
}

async fn clock(timers: Arc<Timers>, shutdown: CancellationToken) -> TaskResult {
    loop {
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
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(sleep) => {}
            () = timers.wake.notified() => {}
        }
    }
}
