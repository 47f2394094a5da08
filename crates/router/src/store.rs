//! The rule set in force: the last `RoutingRulesPublished` of the tenant, followed by every
//! replica; publishing validates first, so a bad rule set never replaces a good one.

use std::sync::{Arc, RwLock};

use sha2::{Digest as _, Sha256};
use switchboard_bus::{Bus, DEFAULT_TENANT, Draft, Expected, apply_live};
use switchboard_projection::Task;
use switchboard_proto::events::v1::{Event, RoutingRulesPublished, event::Body};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::{Error, rules::Rules};

const AGGREGATE: &str = "routing-rules";

/// A version of the rules, parsed.
#[derive(Debug)]
pub struct ActiveRules {
    pub version: u32,
    pub text: String,
    pub source: String,
    pub rules: Rules,
}

/// The rules every decision of this replica uses, and the version it has reached.
pub struct RuleStore {
    active: RwLock<Arc<ActiveRules>>,
    version: watch::Sender<u64>,
}

impl RuleStore {
    pub fn current(&self) -> Arc<ActiveRules> {
        self.active.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    pub fn version(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    fn apply(&self, event: &Event) {
        let Some(Body::RoutingRulesPublished(published)) = &event.body else { return };
        match Rules::parse(&published.text) {
            Ok(rules) => {
                let active = ActiveRules {
                    version: published.version,
                    text: published.text.clone(),
                    source: published.source.clone(),
                    rules,
                };
                *self.active.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(active);
                self.version.send_replace(u64::from(published.version));
                tracing::info!(
                    version = published.version,
                    source = published.source,
                    "routing rules in force"
                );
            }
            // Validated before publishing; only a rule set from a newer release could fail here.
            Err(error) => tracing::error!(version = published.version, %error, "routing rules not applied"),
        }
    }
}

/// Publishes `text` from `source` unless the same text from the same source was published
/// before (so a restart does not undo a version published over gRPC since); then follows.
pub async fn start(
    bus: &Bus,
    text: &str,
    source: &str,
    shutdown: CancellationToken,
) -> Result<(Arc<RuleStore>, Task), Error> {
    let rules = Rules::parse(text).map_err(Error::Rules)?;
    for _ in 0..3 {
        match publish_if_new(bus, text, source).await {
            Err(Error::Bus(switchboard_bus::Error::Conflict { .. })) => continue,
            other => {
                other?;
                break;
            }
        }
    }
    let initial = ActiveRules { version: 0, text: text.to_string(), source: source.to_string(), rules };
    let store =
        Arc::new(RuleStore { active: RwLock::new(Arc::new(initial)), version: watch::Sender::new(0) });
    let (current, live) =
        bus.follow_last(&format!("switchboard.events.{AGGREGATE}.{DEFAULT_TENANT}.{DEFAULT_TENANT}")).await?;
    for (event, _) in &current {
        store.apply(event);
    }
    let following = store.clone();
    let task = tokio::spawn(async move {
        apply_live(live, shutdown, "routing rules", |event, _| following.apply(event)).await;
        Ok(())
    });
    Ok((store, task))
}

/// Validates and publishes the next version; returns it.
pub async fn publish(bus: &Bus, text: &str, source: &str) -> Result<u32, Error> {
    Rules::parse(text).map_err(Error::Rules)?;
    let history = bus.events_of(AGGREGATE, DEFAULT_TENANT, DEFAULT_TENANT).await?;
    append(bus, &history, text, source).await
}

async fn publish_if_new(bus: &Bus, text: &str, source: &str) -> Result<(), Error> {
    let history = bus.events_of(AGGREGATE, DEFAULT_TENANT, DEFAULT_TENANT).await?;
    let digest = digest(text);
    let seen = history.iter().any(|(event, _)| {
        matches!(&event.body, Some(Body::RoutingRulesPublished(p)) if p.digest == digest && p.source == source)
    });
    if !seen {
        append(bus, &history, text, source).await?;
    }
    Ok(())
}

async fn append(bus: &Bus, history: &[(Event, u64)], text: &str, source: &str) -> Result<u32, Error> {
    let last_version = history
        .iter()
        .filter_map(|(event, _)| match &event.body {
            Some(Body::RoutingRulesPublished(p)) => Some(p.version),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    let version = last_version + 1;
    let body = Body::RoutingRulesPublished(RoutingRulesPublished {
        version,
        text: text.to_string(),
        source: source.to_string(),
        digest: digest(text),
    });
    let event = Draft::new(DEFAULT_TENANT, DEFAULT_TENANT, body).build()?;
    let expected = history.last().map_or(Expected::Empty, |(_, sequence)| Expected::Sequence(*sequence));
    bus.append(&event, expected, None).await?;
    tracing::info!(version, source, "routing rules published");
    Ok(version)
}

fn digest(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|byte| format!("{byte:02x}")).collect()
}
