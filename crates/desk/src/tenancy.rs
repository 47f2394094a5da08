//! Tenancy: every event names its tenant, and everything the router keeps (read models, folds,
//! timers, agents) is keyed on it, never on a bare id: customer `c-1` of one tenant is not
//! customer `c-1` of another.

pub use switchboard_bus::tenant_of;

/// An id within one tenant: (tenant, id).
pub type Scoped = (String, String);

pub fn scoped(tenant: &str, id: &str) -> Scoped {
    (tenant.to_string(), id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_bus::DEFAULT_TENANT;
    use switchboard_proto::events::v1::Event;

    #[test]
    fn an_event_without_a_tenant_is_the_default_tenants() {
        let old = Event::default();
        let acme = Event { tenant: "acme".into(), ..Event::default() };
        assert_eq!(tenant_of(&old), DEFAULT_TENANT);
        assert_eq!(tenant_of(&acme), "acme");
        assert_ne!(scoped("acme", "c-1"), scoped("globex", "c-1"));
    }
}
