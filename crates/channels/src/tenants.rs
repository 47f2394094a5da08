//! Which tenant a channel's traffic belongs to. Each tenant's own channel credentials name it: a
//! chat site token, the webhook secret (with the tenant in the webhook's path), an inbound email
//! address or domain, a voice number. Nothing the sender writes in a message chooses the tenant.
//! The flat settings (`SWITCHBOARD_CHAT_SITES`, `SWITCHBOARD_WEBHOOK_SECRET`, ...) are the default
//! tenant's; `SWITCHBOARD_CHANNEL_TENANTS` gives the others'.

use std::collections::BTreeMap;

use serde::Deserialize;
use switchboard_bus::DEFAULT_TENANT;

/// Shortest secret accepted where a secret signs something (identity hashes, webhooks).
const MIN_SECRET_BYTES: usize = 32;

/// One tenant's channel credentials.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantChannels {
    /// Signs this tenant's webhooks, posted to `/tenants/<tenant>/...`.
    #[serde(default)]
    pub webhook_secret: Option<String>,
    /// Chat site tokens and the origin each may be embedded on (`*`: any).
    #[serde(default)]
    pub chat_sites: BTreeMap<String, String>,
    /// Per chat site, the secret signed-in customers' ids are signed with.
    #[serde(default)]
    pub chat_identity_secrets: BTreeMap<String, String>,
    /// Inbound email: whole addresses (`support@acme.example`) or domains (`acme.example`).
    #[serde(default)]
    pub email: Vec<String>,
    /// Phone numbers callers dial, as the telephony provider sends them (`+15550100`).
    #[serde(default)]
    pub voice_numbers: Vec<String>,
    /// The telephony account's auth token of this tenant's numbers, when it has its own.
    #[serde(default)]
    pub twilio_auth_token: Option<String>,
}

impl std::fmt::Debug for TenantChannels {
    /// Sites, addresses and numbers; never a secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantChannels")
            .field("chat_sites", &self.chat_sites)
            .field("email", &self.email)
            .field("voice_numbers", &self.voice_numbers)
            .finish_non_exhaustive()
    }
}

/// A chat site: whose it is, where it may be embedded and how its customers are signed.
pub struct Site<'a> {
    pub tenant: &'a str,
    pub origin: &'a str,
    pub identity_secret: Option<&'a str>,
}

/// Every tenant's channel credentials, the default tenant's included, checked so that no site
/// token, address, domain or number names two tenants.
#[derive(Clone, Debug, Default)]
pub struct Tenants {
    by_tenant: BTreeMap<String, TenantChannels>,
}

impl Tenants {
    /// The default tenant's credentials and the other tenants'; refuses ambiguous or weak ones.
    pub fn new(default: TenantChannels, others: BTreeMap<String, TenantChannels>) -> Result<Self, String> {
        let mut by_tenant = others;
        if by_tenant.contains_key(DEFAULT_TENANT) {
            return Err(format!(
                "SWITCHBOARD_CHANNEL_TENANTS: {DEFAULT_TENANT:?} is set by the flat settings, not here"
            ));
        }
        by_tenant.insert(DEFAULT_TENANT.to_string(), default);
        let tenants = Self { by_tenant };
        tenants.check()?;
        Ok(tenants)
    }

    fn check(&self) -> Result<(), String> {
        let mut claimed: BTreeMap<String, &str> = BTreeMap::new();
        for (tenant, channels) in &self.by_tenant {
            if !switchboard_bus::is_tenant(tenant) {
                return Err(format!("tenant {tenant:?}: use at most 64 letters, digits, '-' and '_'"));
            }
            check_secrets(tenant, channels)?;
            let names = channels
                .chat_sites
                .keys()
                .map(|site| format!("chat site {site:?}"))
                .chain(channels.email.iter().map(|email| format!("email {:?}", email.to_lowercase())))
                .chain(channels.voice_numbers.iter().map(|number| format!("voice number {number:?}")));
            for name in names {
                if let Some(other) = claimed.insert(name.clone(), tenant) {
                    return Err(format!("{name} is claimed by tenants {other:?} and {tenant:?}"));
                }
            }
        }
        Ok(())
    }

    /// The chat site of `token`, if any tenant has it.
    pub fn site(&self, token: &str) -> Option<Site<'_>> {
        self.by_tenant.iter().find_map(|(tenant, channels)| {
            channels.chat_sites.get(token).map(|origin| Site {
                tenant,
                origin,
                identity_secret: channels.chat_identity_secrets.get(token).map(String::as_str),
            })
        })
    }

    /// The secret `tenant`'s webhooks are signed with.
    pub fn webhook_secret(&self, tenant: &str) -> Option<&str> {
        self.by_tenant.get(tenant)?.webhook_secret.as_deref().filter(|secret| !secret.is_empty())
    }

    /// The tenant an email to `recipient` is for: the tenant naming the whole address, else its
    /// domain; a recipient no tenant names is the default tenant's.
    pub fn email_tenant(&self, recipient: &str) -> &str {
        let recipient = recipient.trim().trim_start_matches('<').trim_end_matches('>').to_lowercase();
        let domain = recipient.rsplit_once('@').map_or("", |(_, domain)| domain);
        let names = |wanted: &str| {
            self.by_tenant
                .iter()
                .find(|(_, channels)| channels.email.iter().any(|email| email.eq_ignore_ascii_case(wanted)))
                .map(|(tenant, _)| tenant.as_str())
        };
        names(&recipient)
            .or_else(|| (!domain.is_empty()).then(|| names(domain)).flatten())
            .unwrap_or(DEFAULT_TENANT)
    }

    /// The tenant whose number was dialled; a number no tenant names is the default tenant's.
    pub fn voice_tenant(&self, dialled: &str) -> &str {
        self.by_tenant
            .iter()
            .find(|(_, channels)| channels.voice_numbers.iter().any(|number| number == dialled))
            .map_or(DEFAULT_TENANT, |(tenant, _)| tenant.as_str())
    }

    /// The auth token signing `tenant`'s voice webhooks: its own, else the default tenant's
    /// (one telephony account often holds several companies' numbers).
    pub fn twilio_auth_token(&self, tenant: &str) -> Option<&str> {
        let own = |tenant: &str| {
            self.by_tenant.get(tenant)?.twilio_auth_token.as_deref().filter(|token| !token.is_empty())
        };
        own(tenant).or_else(|| own(DEFAULT_TENANT))
    }
}

fn check_secrets(tenant: &str, channels: &TenantChannels) -> Result<(), String> {
    if let Some((site, _)) = channels.chat_identity_secrets.iter().find(|(_, s)| s.len() < MIN_SECRET_BYTES) {
        return Err(format!(
            "tenant {tenant:?}: the identity secret of chat site {site:?} needs at least {MIN_SECRET_BYTES} bytes"
        ));
    }
    if let Some(site) =
        channels.chat_identity_secrets.keys().find(|site| !channels.chat_sites.contains_key(*site))
    {
        return Err(format!(
            "tenant {tenant:?}: identity secret for chat site {site:?}, which it does not have"
        ));
    }
    let others = tenant != DEFAULT_TENANT;
    if others && channels.webhook_secret.as_ref().is_some_and(|secret| secret.len() < MIN_SECRET_BYTES) {
        return Err(format!("tenant {tenant:?}: the webhook secret needs at least {MIN_SECRET_BYTES} bytes"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn acme() -> TenantChannels {
        TenantChannels {
            webhook_secret: Some(SECRET.into()),
            chat_sites: [("acme-shop".to_string(), "https://shop.acme.example".to_string())].into(),
            chat_identity_secrets: [("acme-shop".to_string(), SECRET.to_string())].into(),
            email: vec!["acme.example".into(), "help@globex.example".into()],
            voice_numbers: vec!["+15550100".into()],
            twilio_auth_token: None,
        }
    }

    fn tenants() -> Tenants {
        let default = TenantChannels {
            webhook_secret: Some("short-is-allowed-for-the-default".into()),
            chat_sites: [("demo".to_string(), "*".to_string())].into(),
            twilio_auth_token: Some("default-token".into()),
            ..Default::default()
        };
        let globex = TenantChannels { email: vec!["globex.example".into()], ..Default::default() };
        Tenants::new(default, [("acme".to_string(), acme()), ("globex".to_string(), globex)].into())
            .expect("valid tenants")
    }

    #[test]
    fn each_credential_names_its_tenant() {
        let tenants = tenants();
        let site = tenants.site("acme-shop").expect("acme's site");
        assert_eq!(
            (site.tenant, site.origin, site.identity_secret),
            ("acme", "https://shop.acme.example", Some(SECRET))
        );
        assert_eq!(tenants.site("demo").map(|site| site.tenant), Some("default"));
        assert!(tenants.site("nobodys").is_none());
        assert_eq!(tenants.webhook_secret("acme"), Some(SECRET));
        assert_eq!(tenants.webhook_secret("globex"), None, "globex takes no webhooks");
        assert_eq!(tenants.voice_tenant("+15550100"), "acme");
        assert_eq!(tenants.voice_tenant("+15550199"), "default");
        assert_eq!(tenants.twilio_auth_token("acme"), Some("default-token"), "the shared account's token");
    }

    #[test]
    fn an_email_goes_to_the_tenant_of_its_address_before_its_domain() {
        let tenants = tenants();
        assert_eq!(tenants.email_tenant("Orders@ACME.example"), "acme");
        assert_eq!(tenants.email_tenant("<sales@globex.example>"), "globex");
        assert_eq!(tenants.email_tenant("help@globex.example"), "acme", "the whole address wins");
        assert_eq!(tenants.email_tenant("someone@elsewhere.example"), "default");
    }

    #[test]
    fn ambiguous_or_weak_credentials_are_refused_with_the_reason() {
        let twice = Tenants::new(acme(), [("acme".to_string(), acme())].into()).expect_err("site twice");
        assert!(twice.contains("chat site \"acme-shop\" is claimed by tenants"), "{twice}");
        let weak = TenantChannels { webhook_secret: Some("short".into()), ..Default::default() };
        let error = Tenants::new(Default::default(), [("acme".to_string(), weak)].into()).expect_err("weak");
        assert!(error.contains("at least 32 bytes"), "{error}");
        let default_here = Tenants::new(Default::default(), [("default".to_string(), acme())].into());
        assert!(default_here.is_err(), "the default tenant's are the flat settings");
        let bad_name = Tenants::new(Default::default(), [("a.b".to_string(), Default::default())].into());
        assert!(bad_name.expect_err("a subject-breaking name").contains("tenant \"a.b\""));
    }
}
