//! The rule sets in force, one per tenant: the last `RoutingRulesPublished` of each tenant
//! (aggregate `routing-rules`, id = the tenant), followed by every replica. A tenant that has
//! published nothing is routed by the configured rules (the rules file, else the built-in
//! set), which are also published as the default tenant's at start. Publishing validates
//! first, so a bad rule set never replaces a good one.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use sha2::{Digest as _, Sha256};
use switchboard_bus::{Bus, DEFAULT_TENANT, Draft, Expected, apply_live, tenant_of};
use switchboard_projection::Task;
use switchboard_proto::events::v1::{Event, RoutingRulesPublished, event::Body};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::{Error, rules::Rules};

const AGGREGATE: &str = "routing-rules";
/// Every tenant's rule sets.
const SUBJECTS: &str = "switchboard.events.routing-rules.>";

/// A version of the rules, parsed.
#[derive(Debug)]
pub struct ActiveRules {
    pub version: u32,
    pub text: String,
    pub source: String,
    pub rules: Rules,
}

/// The rules every decision of this replica uses, per tenant, and the versions it has reached.
pub struct RuleStore {
    /// Every tenant's rules until it publishes its own (version 0).
    configured: Arc<ActiveRules>,
    by_tenant: RwLock<HashMap<String, Arc<ActiveRules>>>,
    versions: watch::Sender<HashMap<String, u32>>,
}

impl RuleStore {
    fn new(configured: ActiveRules) -> Self {
        Self {
            configured: Arc::new(configured),
            by_tenant: RwLock::default(),
            versions: watch::Sender::new(HashMap::new()),
        }
    }

    /// The rules `tenant`'s messages are decided by.
    pub fn current(&self, tenant: &str) -> Arc<ActiveRules> {
        let by_tenant = self.by_tenant.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        by_tenant.get(tenant).unwrap_or(&self.configured).clone()
    }

    /// Waits until `tenant`'s rules in force are at `version` or later; `false` on timeout.
    pub async fn wait_for_version(&self, tenant: &str, version: u32, timeout: Duration) -> bool {
        let mut versions = self.versions.subscribe();
        let reached = versions.wait_for(|versions| versions.get(tenant).is_some_and(|v| *v >= version));
        tokio::time::timeout(timeout, reached).await.is_ok_and(|waited| waited.is_ok())
    }

    fn apply(&self, event: &Event) {
        let Some(Body::RoutingRulesPublished(published)) = &event.body else { return };
        let tenant = tenant_of(event).to_string();
        match Rules::parse(&published.text) {
            Ok(rules) => {
                let active = ActiveRules {
                    version: published.version,
                    text: published.text.clone(),
                    source: published.source.clone(),
                    rules,
                };
                self.by_tenant
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(tenant.clone(), Arc::new(active));
                tracing::info!(
                    tenant,
                    version = published.version,
                    source = published.source,
                    "routing rules in force"
                );
                self.versions.send_modify(|versions| {
                    versions.insert(tenant, published.version);
                });
            }
            // Validated before publishing; only a rule set from a newer release could fail here.
            Err(error) => {
                tracing::error!(tenant, version = published.version, %error, "routing rules not applied")
            }
        }
    }
}

/// Publishes the configured `text` from `source` as the default tenant's rules unless the same
/// text from the same source was published before (so a restart does not undo a version
/// published over gRPC since); then follows every tenant's rules.
pub async fn start(
    bus: &Bus,
    text: &str,
    source: &str,
    shutdown: CancellationToken,
) -> Result<(Arc<RuleStore>, Task), Error> {
    let rules = Rules::parse(text).map_err(Error::Rules)?;
    for _ in 0..3 {
        match publish_if_new(bus, DEFAULT_TENANT, text, source).await {
            Err(Error::Bus(switchboard_bus::Error::Conflict { .. })) => continue,
            other => {
                other?;
                break;
            }
        }
    }
    let configured = ActiveRules { version: 0, text: text.to_string(), source: source.to_string(), rules };
    let store = Arc::new(RuleStore::new(configured));
    let (current, live) = bus.follow_last(SUBJECTS).await?;
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

/// Validates and publishes `tenant`'s next version; returns it.
pub async fn publish(bus: &Bus, tenant: &str, text: &str, source: &str) -> Result<u32, Error> {
    Rules::parse(text).map_err(Error::Rules)?;
    let history = bus.events_of(AGGREGATE, tenant, tenant).await?;
    append(bus, tenant, &history, text, source).await
}

async fn publish_if_new(bus: &Bus, tenant: &str, text: &str, source: &str) -> Result<(), Error> {
    let history = bus.events_of(AGGREGATE, tenant, tenant).await?;
    let digest = digest(text);
    let seen = history.iter().any(|(event, _)| {
        matches!(&event.body, Some(Body::RoutingRulesPublished(p)) if p.digest == digest && p.source == source)
    });
    if !seen {
        append(bus, tenant, &history, text, source).await?;
    }
    Ok(())
}

async fn append(
    bus: &Bus,
    tenant: &str,
    history: &[(Event, u64)],
    text: &str,
    source: &str,
) -> Result<u32, Error> {
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
    let event = Draft::new(tenant, tenant, body).build()?;
    let expected = history.last().map_or(Expected::Empty, |(_, sequence)| Expected::Sequence(*sequence));
    bus.append(&event, expected, None).await?;
    tracing::info!(tenant, version, source, "routing rules published");
    Ok(version)
}

fn digest(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GENERAL: &str = "rules:\n  - name: everything\n    then: {action: queue, queue: general}\n";
    const ACME: &str = "rules:\n  - name: acme-all\n    then: {action: queue, queue: acme-desk}\n";
    const GLOBEX: &str = "rules:\n  - name: globex-all\n    then: {action: escalate, queue: globex-desk}\n";

    fn store() -> RuleStore {
        let rules = Rules::parse(GENERAL).expect("valid rules");
        RuleStore::new(ActiveRules { version: 0, text: GENERAL.into(), source: "builtin".into(), rules })
    }

    fn published(tenant: &str, version: u32, text: &str) -> Event {
        let body = Body::RoutingRulesPublished(RoutingRulesPublished {
            version,
            text: text.into(),
            source: "grpc".into(),
            digest: digest(text),
        });
        Draft::new(tenant, tenant, body).build().expect("a valid event")
    }

    fn first_rule(store: &RuleStore, tenant: &str) -> (u32, String) {
        let active = store.current(tenant);
        (active.version, active.rules.rules()[0].name.clone())
    }

    #[test]
    fn given_two_tenants_publishing_when_folded_then_each_has_its_own_rules_and_others_the_configured() {
        let store = store();
        store.apply(&published("acme", 1, ACME));
        store.apply(&published("globex", 1, GLOBEX));
        assert_eq!(first_rule(&store, "acme"), (1, "acme-all".into()));
        assert_eq!(first_rule(&store, "globex"), (1, "globex-all".into()));
        assert_eq!(first_rule(&store, "initech"), (0, "everything".into()), "published nothing");
        assert_eq!(store.current(DEFAULT_TENANT).source, "builtin");
    }

    #[test]
    fn given_a_tenants_new_version_when_folded_then_only_that_tenant_changes() {
        let store = store();
        store.apply(&published("acme", 1, ACME));
        store.apply(&published("globex", 1, GLOBEX));
        store.apply(&published("acme", 2, GENERAL));
        assert_eq!(first_rule(&store, "acme"), (2, "everything".into()));
        assert_eq!(first_rule(&store, "globex"), (1, "globex-all".into()));
        assert_eq!(store.versions.borrow().get("acme"), Some(&2));
    }

    #[test]
    fn given_a_rule_set_that_does_not_parse_when_folded_then_the_tenant_keeps_its_rules() {
        let store = store();
        store.apply(&published("acme", 1, ACME));
        store.apply(&published("acme", 2, "rules: [oops"));
        assert_eq!(first_rule(&store, "acme"), (1, "acme-all".into()));
    }

    #[tokio::test]
    async fn waiting_for_a_version_waits_for_that_tenant() {
        let store = store();
        store.apply(&published("globex", 3, GLOBEX));
        assert!(!store.wait_for_version("acme", 1, Duration::from_millis(1)).await, "not acme's");
        store.apply(&published("acme", 1, ACME));
        assert!(store.wait_for_version("acme", 1, Duration::from_millis(1)).await);
    }
}
