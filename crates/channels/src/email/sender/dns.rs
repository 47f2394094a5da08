//! The DNS sender checks ask: the host's resolver, or only records given in the configuration
//! (hosts without DNS, and tests), which reach mail-auth as its TXT cache.

use std::{borrow::Borrow, collections::BTreeMap, collections::HashMap, hash::Hash, time::Duration};

use mail_auth::{
    MessageAuthenticator, ResolverCache, Txt,
    common::{parse::TxtRecordParser as _, verify::DomainKey},
    dmarc::Dmarc,
    hickory_resolver::{
        config::{ResolverConfig, ResolverOpts},
        system_conf::read_system_conf,
    },
    spf::Spf,
};

/// Where DKIM keys and SPF records are looked up.
#[derive(Debug, Clone)]
pub enum SenderDns {
    /// The host's resolver (`/etc/resolv.conf`); each query is given up after `timeout`.
    System { timeout: Duration },
    /// Only these TXT records, by name (`sel._domainkey.example.com` → `v=DKIM1; k=ed25519; p=...`,
    /// `example.com` → `v=spf1 ip4:192.0.2.1 -all`), and no other DNS: any other name is a DNS
    /// error, so a sender relying on it stays unverified.
    Records(BTreeMap<String, String>),
}

impl SenderDns {
    /// The authenticator and the TXT records it is given before asking DNS.
    pub(super) fn authenticator(&self) -> Result<(MessageAuthenticator, Records), String> {
        match self {
            Self::System { timeout } => Ok((system(*timeout)?, Records::default())),
            Self::Records(records) => Ok((offline()?, Records::new(records))),
        }
    }
}

/// The system resolver, bounded; without one (no readable `resolv.conf`) no DNS at all, so
/// every sender is unverified, as is said at start.
fn system(timeout: Duration) -> Result<MessageAuthenticator, String> {
    let built = read_system_conf().and_then(|(config, mut options)| {
        options.timeout = timeout;
        options.attempts = 2;
        MessageAuthenticator::new(config, options)
    });
    built.or_else(|error| {
        tracing::error!(%error, "no DNS resolver: email senders cannot be verified");
        offline()
    })
}

/// A resolver with no name servers: every lookup fails at once.
fn offline() -> Result<MessageAuthenticator, String> {
    let config = ResolverConfig::from_parts(None, Vec::new(), Vec::new());
    MessageAuthenticator::new(config, ResolverOpts::default())
        .map_err(|error| format!("a resolver without name servers: {error}"))
}

/// TXT records known before asking DNS, as mail-auth's TXT cache; what DNS answers is not
/// kept (the resolver caches it).
#[derive(Clone, Default)]
pub struct Records(HashMap<Box<str>, Txt>);

impl Records {
    /// Parses each record as what it declares: SPF (`v=spf1`), DMARC (`v=DMARC1`), else a DKIM key.
    pub fn new(records: &BTreeMap<String, String>) -> Self {
        let parsed = records.iter().map(|(name, text)| (fqdn(name).into_boxed_str(), parse(text.as_bytes())));
        Self(parsed.collect())
    }
}

fn fqdn(name: &str) -> String {
    format!("{}.", name.trim().trim_end_matches('.').to_ascii_lowercase())
}

fn parse(text: &[u8]) -> Txt {
    let starts =
        |prefix: &[u8]| text.len() >= prefix.len() && text[..prefix.len()].eq_ignore_ascii_case(prefix);
    if starts(b"v=spf1") {
        Spf::parse(text).into()
    } else if starts(b"v=dmarc1") {
        Dmarc::parse(text).into()
    } else {
        DomainKey::parse(text).into()
    }
}

impl ResolverCache<Box<str>, Txt> for Records {
    fn get<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.get(name).cloned()
    }

    fn remove<Q>(&self, _: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        None
    }

    fn insert(&self, _: Box<str>, _: Txt, _: std::time::Instant) {}
}
