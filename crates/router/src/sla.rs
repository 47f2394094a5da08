//! SLA timers: every replica folds the `sla` events into the targets still running and sleeps
//! until the next warning or due time — no polling — then publishes `SlaWarning` or
//! `SlaBreached`. The events are the durable state: after a restart the fold gives the same
//! timers, and a deadline passed while down fires at once. Event ids derive from the target,
//! so replicas firing together publish one event. Targets are per tenant's conversation: the
//! fold keys on (tenant, conversation), and what fires is published for that tenant.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use switchboard_bus::{Bus, Draft, LiveEvents, apply_live};
use switchboard_projection::{Task, TaskResult};
use switchboard_proto::{
    events::v1::{
        Event, PausedTarget, SlaBreached, SlaMet, SlaPaused, SlaResumed, SlaStarted, SlaWarning, event::Body,
    },
    time::{to_datetime, to_timestamp},
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::{
    Error,
    rules::{Pending, Rules},
    tenancy::{Scoped, scoped, tenant_of},
};

/// The metric of the clock that closes conversations waiting on the customer.
pub const PENDING_CLOSE: &str = "pending_close";

fn key(tenant: &str, conversation: &str, metric: &str) -> Key {
    (tenant.to_string(), conversation.to_string(), metric.to_string())
}

const SUBJECT: &str = "switchboard.events.sla.>";
/// The longest a timer sleeps without looking again (clock changes, missed wake-ups).
const MAX_SLEEP: std::time::Duration = std::time::Duration::from_secs(300);

#[derive(Debug, Clone, PartialEq)]
struct Running {
    policy: String,
    due: DateTime<Utc>,
    warn: DateTime<Utc>,
    warned: bool,
}

/// (tenant, conversation, metric).
type Key = (String, String, String);

/// The fold of the `sla` events.
#[derive(Debug, Default)]
struct State {
    running: BTreeMap<Key, Running>,
    /// Targets ever started (first response and resolution start once per conversation).
    started: HashSet<Key>,
    /// Next-response targets started per conversation (their ids count).
    next_responses: HashMap<Scoped, u32>,
    /// Conversations an agent has answered (next-response targets apply).
    answered: HashSet<Scoped>,
    paused: HashMap<Scoped, Vec<PausedTarget>>,
}

impl State {
    /// Folds an `sla` event of its tenant; `false` for other events.
    fn apply(&mut self, event: &Event) -> bool {
        let tenant = tenant_of(event);
        match &event.body {
            Some(Body::SlaStarted(s)) => {
                let k = key(tenant, &s.conversation_id, &s.metric);
                let conversation = scoped(tenant, &s.conversation_id);
                if s.metric == "next_response" && !self.running.contains_key(&k) {
                    *self.next_responses.entry(conversation.clone()).or_default() += 1;
                }
                self.started.insert(k.clone());
                self.paused.remove(&conversation);
                let target = Running {
                    policy: s.policy.clone(),
                    due: to_datetime(s.due_at.as_ref()),
                    warn: to_datetime(s.warn_at.as_ref()),
                    warned: false,
                };
                self.running.entry(k).or_insert(target);
            }
            Some(Body::SlaWarning(w)) => {
                if let Some(target) = self.running.get_mut(&key(tenant, &w.conversation_id, &w.metric)) {
                    target.warned = true;
                }
            }
            Some(Body::SlaBreached(b)) => {
                self.running.remove(&key(tenant, &b.conversation_id, &b.metric));
            }
            Some(Body::SlaMet(m)) => {
                self.running.remove(&key(tenant, &m.conversation_id, &m.metric));
                if m.metric == "first_response" || m.metric == "next_response" {
                    self.answered.insert(scoped(tenant, &m.conversation_id));
                }
            }
            Some(Body::SlaPaused(p)) => {
                self.running
                    .retain(|(of, conversation, _), _| of != tenant || *conversation != p.conversation_id);
                self.paused.insert(scoped(tenant, &p.conversation_id), p.targets.clone());
            }
            Some(Body::SlaResumed(r)) => {
                self.paused.remove(&scoped(tenant, &r.conversation_id));
            }
            _ => return false,
        }
        true
    }
}

pub struct Timers {
    bus: Bus,
    state: Mutex<State>,
    wake: Notify,
}

/// Metrics that start once per conversation.
const ONCE: [&str; 2] = ["first_response", "resolution"];

impl Timers {
    /// Whether the tenant's conversation's `metric` target runs.
    pub fn is_running(&self, tenant: &str, conversation_id: &str, metric: &str) -> bool {
        self.lock().running.contains_key(&key(tenant, conversation_id, metric))
    }

    /// Whether a target should start now: first response and resolution once per conversation,
    /// a next response once an agent has answered and none runs.
    pub fn should_start(&self, tenant: &str, conversation_id: &str, metric: &str) -> bool {
        let state = self.lock();
        let k = key(tenant, conversation_id, metric);
        if state.running.contains_key(&k) {
            return false;
        }
        if ONCE.contains(&metric) {
            !state.started.contains(&k)
        } else {
            state.answered.contains(&scoped(tenant, conversation_id))
        }
    }

    /// Starts a target of the cause's tenant (one `SlaStarted` per target, whoever publishes).
    pub async fn start_target(&self, started: SlaStarted, cause: &Event) -> Result<(), Error> {
        let tenant = tenant_of(cause);
        if !self.should_start(tenant, &started.conversation_id, &started.metric) {
            return Ok(());
        }
        let conversation = scoped(tenant, &started.conversation_id);
        let round = self.lock().next_responses.get(&conversation).copied().unwrap_or(0);
        let id = format!("{tenant}/sla-start/{}/{}/{round}", started.conversation_id, started.metric);
        let conversation = started.conversation_id.clone();
        let event = Draft::caused_by(cause, conversation, Body::SlaStarted(started)).keyed(id).build()?;
        self.bus.publish(&event).await?;
        Ok(())
    }

    /// Marks a running target met; nothing for a target not running.
    pub async fn met(&self, tenant: &str, conversation_id: &str, metric: &str) -> Result<bool, Error> {
        if !self.is_running(tenant, conversation_id, metric) {
            return Ok(false);
        }
        let body = Body::SlaMet(SlaMet { conversation_id: conversation_id.into(), metric: metric.into() });
        self.bus.publish(&Draft::new(tenant, conversation_id, body).build()?).await?;
        Ok(true)
    }

    /// Stops the conversation's running targets, keeping the open time they had left.
    /// `except` lists targets just met (their `SlaMet` may not be folded yet).
    pub async fn pause(
        &self,
        tenant: &str,
        conversation_id: &str,
        rules: &Rules,
        now: DateTime<Utc>,
        except: &[&str],
    ) -> Result<Vec<String>, Error> {
        let targets: Vec<PausedTarget> = self
            .lock()
            .running
            .iter()
            .filter(|((of, conversation, metric), _)| {
                of == tenant && conversation == conversation_id && !except.contains(&metric.as_str())
            })
            .map(|((_, _, metric), target)| {
                let calendar = rules
                    .sla_named(&target.policy)
                    .and_then(|policy| policy.calendar.as_deref())
                    .and_then(|name| rules.calendar(name));
                let left = match calendar {
                    Some(calendar) => calendar.open_time_between(now, target.due),
                    None => target.due - now,
                };
                PausedTarget {
                    metric: metric.clone(),
                    policy: target.policy.clone(),
                    remaining_seconds: left.num_seconds().max(0),
                }
            })
            .collect();
        if targets.is_empty() {
            return Ok(Vec::new());
        }
        let metrics = targets.iter().map(|t| t.metric.clone()).collect();
        let body = Body::SlaPaused(SlaPaused { conversation_id: conversation_id.into(), targets });
        self.bus.publish(&Draft::new(tenant, conversation_id, body).build()?).await?;
        Ok(metrics)
    }

    /// Starts the paused targets of the cause's tenant's conversation again from `now` with the
    /// time they had left.
    pub async fn resume(
        &self,
        conversation_id: &str,
        rules: &Rules,
        now: DateTime<Utc>,
        cause: &Event,
    ) -> Result<(), Error> {
        let conversation = scoped(tenant_of(cause), conversation_id);
        let Some(paused) = self.lock().paused.get(&conversation).cloned() else { return Ok(()) };
        let body = Body::SlaResumed(SlaResumed { conversation_id: conversation_id.into() });
        self.bus.publish(&Draft::caused_by(cause, conversation_id, body).build()?).await?;
        for target in paused {
            let Some(policy) = rules.sla_named(&target.policy) else { continue };
            let calendar = policy.calendar.as_deref().and_then(|name| rules.calendar(name));
            let left = chrono::Duration::seconds(target.remaining_seconds);
            let Some((due, warn)) = policy.deadline(left, now, calendar) else { continue };
            let started = SlaStarted {
                conversation_id: conversation_id.into(),
                policy: target.policy,
                metric: target.metric,
                due_at: Some(to_timestamp(due)),
                warn_at: Some(to_timestamp(warn)),
            };
            let event = Draft::caused_by(cause, conversation_id, Body::SlaStarted(started)).build()?;
            self.bus.publish(&event).await?;
        }
        Ok(())
    }

    /// Starts the clock that closes a conversation waiting on the customer (metric
    /// `pending_close`: the warning is the last notice, the due time the close).
    pub async fn start_pending_close(
        &self,
        tenant: &str,
        conversation_id: &str,
        pending: Pending,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        if self.is_running(tenant, conversation_id, PENDING_CLOSE) {
            return Ok(());
        }
        let due = now + pending.close_after;
        let started = SlaStarted {
            conversation_id: conversation_id.into(),
            policy: "pending".into(),
            metric: PENDING_CLOSE.into(),
            due_at: Some(to_timestamp(due)),
            warn_at: Some(to_timestamp(due - pending.last_notice_before)),
        };
        self.bus.publish(&Draft::new(tenant, conversation_id, Body::SlaStarted(started)).build()?).await?;
        Ok(())
    }

    pub fn is_paused(&self, tenant: &str, conversation_id: &str) -> bool {
        self.lock().paused.contains_key(&scoped(tenant, conversation_id))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn apply(&self, event: &Event) {
        if self.lock().apply(event) {
            self.wake.notify_one();
        }
    }

    /// The next moment something is due, if anything runs.
    fn next(&self) -> Option<DateTime<Utc>> {
        self.lock().running.values().map(|t| if t.warned { t.due } else { t.warn.min(t.due) }).min()
    }

    /// Publishes what is due at `now`: warnings, then breaches.
    async fn fire(&self, now: DateTime<Utc>) {
        let due: Vec<(Key, Running)> = self
            .lock()
            .running
            .iter()
            .filter(|(_, t)| t.due <= now || (!t.warned && t.warn <= now))
            .map(|(k, t)| (k.clone(), t.clone()))
            .collect();
        for ((tenant, conversation, metric), target) in due {
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
            let id = format!("{tenant}/sla/{conversation}/{metric}/{kind}/{}", target.due.timestamp());
            match self.publish_once(&tenant, &conversation, body, &id).await {
                Ok(()) => tracing::info!(metric, kind, "sla timer fired"),
                Err(error) => tracing::warn!(metric, kind, %error, "sla event not published; retrying"),
            }
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

/// Folds the `sla` events so far, then follows new ones and runs the clock.
pub async fn start(bus: &Bus, shutdown: CancellationToken) -> Result<(Arc<Timers>, Vec<Task>), Error> {
    let (history, live) = bus.read_then_follow(&[SUBJECT]).await?;
    let timers =
        Arc::new(Timers { bus: bus.clone(), state: Mutex::new(State::default()), wake: Notify::new() });
    for (event, _) in &history {
        timers.apply(event);
    }
    tracing::info!(running = timers.lock().running.len(), "sla timers restored");
    let follower = tokio::spawn(follow(timers.clone(), live, shutdown.clone()));
    let clock = tokio::spawn(clock(timers.clone(), shutdown));
    Ok((timers, vec![follower, clock]))
}

async fn follow(timers: Arc<Timers>, live: LiveEvents, shutdown: CancellationToken) -> TaskResult {
    apply_live(live, shutdown, "sla", |event, _| timers.apply(event)).await;
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sla_event(tenant: &str, body: Body) -> Event {
        Draft::new(tenant, "c-1", body).build().expect("a valid event")
    }

    fn started(tenant: &str, metric: &str) -> Event {
        let at = Utc::now() + chrono::Duration::hours(1);
        let body = Body::SlaStarted(SlaStarted {
            conversation_id: "c-1".into(),
            policy: "standard".into(),
            metric: metric.into(),
            due_at: Some(to_timestamp(at)),
            warn_at: Some(to_timestamp(at)),
        });
        sla_event(tenant, body)
    }

    #[test]
    fn given_two_tenants_timing_one_conversation_id_when_one_meets_and_pauses_then_the_other_runs_on() {
        let mut state = State::default();
        for tenant in ["acme", "globex"] {
            assert!(state.apply(&started(tenant, "first_response")));
            assert!(state.apply(&started(tenant, "resolution")));
        }
        let met = SlaMet { conversation_id: "c-1".into(), metric: "first_response".into() };
        state.apply(&sla_event("acme", Body::SlaMet(met)));
        state.apply(&sla_event(
            "acme",
            Body::SlaPaused(SlaPaused { conversation_id: "c-1".into(), targets: vec![] }),
        ));
        assert!(state.answered.contains(&scoped("acme", "c-1")));
        assert!(!state.answered.contains(&scoped("globex", "c-1")));
        assert!(state.paused.contains_key(&scoped("acme", "c-1")));
        assert!(!state.paused.contains_key(&scoped("globex", "c-1")));
        let running: Vec<&Key> = state.running.keys().collect();
        assert_eq!(
            running,
            [&key("globex", "c-1", "first_response"), &key("globex", "c-1", "resolution")],
            "acme's targets stopped, globex's run on"
        );
    }
}
