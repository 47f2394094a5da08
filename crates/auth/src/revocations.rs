//! Revoked tokens, folded from `TokenRevoked` events: every one so far at start, then each new
//! one as it is published, so every replica refuses a revoked token within moments.

use std::{
    collections::HashSet,
    sync::{Arc, RwLock},
};

use switchboard_bus::{Bus, Error, apply_live};
use switchboard_proto::events::v1::{Event, event::Body};
use tokio_util::sync::CancellationToken;

/// The subjects revocations are published on.
pub const REVOCATION_SUBJECTS: &str = "switchboard.events.token.>";

/// The set of revoked token ids, per tenant; cheap to clone and shared.
#[derive(Debug, Clone, Default)]
pub struct Revocations {
    revoked: Arc<RwLock<HashSet<(String, String)>>>,
}

impl Revocations {
    pub fn is_revoked(&self, tenant: &str, token_id: &str) -> bool {
        self.revoked
            .read()
            .map(|set| set.contains(&(tenant.to_string(), token_id.to_string())))
            .unwrap_or(true)
    }

    /// Records a revocation event; returns whether the token was newly revoked.
    pub fn apply(&self, event: &Event) -> bool {
        let Some(Body::TokenRevoked(revoked)) = &event.body else { return false };
        match self.revoked.write() {
            Ok(mut set) => set.insert((event.tenant.clone(), revoked.token_id.clone())),
            Err(_) => false,
        }
    }

    /// Every revocation so far, and a future that applies the later ones until `shutdown`.
    pub async fn follow(
        bus: &Bus,
        shutdown: CancellationToken,
    ) -> Result<(Self, impl Future<Output = ()> + Send + 'static), Error> {
        let (history, live) = bus.read_then_follow(&[REVOCATION_SUBJECTS]).await?;
        let revocations = Self::default();
        for (event, _) in &history {
            revocations.apply(event);
        }
        let applier = revocations.clone();
        let following = apply_live(live, shutdown, "token revocations", move |event, _| {
            if applier.apply(event) {
                tracing::info!(tenant = event.tenant, "token revoked");
            }
        });
        Ok((revocations, following))
    }
}

#[cfg(test)]
mod tests {
    use switchboard_bus::Draft;
    use switchboard_proto::events::v1::TokenRevoked;

    use super::*;

    fn revoked(tenant: &str, token_id: &str) -> Event {
        let body = Body::TokenRevoked(TokenRevoked { token_id: token_id.into(), ..Default::default() });
        Draft::new(tenant, token_id, body).build().expect("event")
    }

    #[test]
    fn a_revocation_counts_for_its_own_tenant_only() {
        let revocations = Revocations::default();
        assert!(revocations.apply(&revoked("acme", "t1")));
        assert!(!revocations.apply(&revoked("acme", "t1")), "already revoked");
        assert!(revocations.is_revoked("acme", "t1"));
        assert!(!revocations.is_revoked("globex", "t1"));
        assert!(!revocations.is_revoked("acme", "t2"));
    }
}
