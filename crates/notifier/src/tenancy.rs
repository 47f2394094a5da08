//! Keys of what the notifier publishes, per tenant. Event keys (and the ids derived from them)
//! are deduplication ids across the whole stream, so a key built from a tenant's order, alert,
//! outage, customer or conversation ids names the tenant: two tenants' `order/A-1/shipped` are
//! two messages. The default tenant keeps the keys it had before tenancy, so the ids of messages,
//! deliveries and survey replies already out stay the same.

use switchboard_bus::DEFAULT_TENANT;

/// `key` scoped to `tenant`. The default tenant's keys all start with a word of their kind
/// (`order/`, `survey/`...), never with `@`: no tenant's key can equal one of them.
pub(crate) fn tenant_key(tenant: &str, key: &str) -> String {
    if tenant.is_empty() || tenant == DEFAULT_TENANT { key.to_string() } else { format!("@{tenant}/{key}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_tenants_keys_of_the_same_id_differ_and_the_default_keeps_its_own() {
        let (acme, globex) =
            (tenant_key("acme", "order/A-1/shipped"), tenant_key("globex", "order/A-1/shipped"));
        assert_ne!(acme, globex);
        assert_eq!(acme, "@acme/order/A-1/shipped");
        assert_ne!(tenant_key("order", "A-1/shipped"), tenant_key(DEFAULT_TENANT, "order/A-1/shipped"));
        assert_eq!(tenant_key(DEFAULT_TENANT, "order/A-1/shipped"), "order/A-1/shipped");
        assert_eq!(tenant_key("", "order/A-1/shipped"), "order/A-1/shipped");
    }
}
