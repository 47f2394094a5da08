//! Where outbound webhooks may go. Loopback, private, link-local, shared, reserved and
//! multicast addresses are refused unless the operator allows their network: a rule author
//! cannot make Switchboard call the cluster's own services or a cloud metadata endpoint. The
//! check sits in the HTTP client's resolver, so the address checked is the address connected
//! to (no DNS rebinding); IP literals are checked before the request.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    str::FromStr,
    sync::Arc,
};

/// A network in CIDR notation, e.g. `10.1.0.0/16` or `127.0.0.1` (one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    address: IpAddr,
    prefix: u8,
}

impl FromStr for Network {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{text:?} is not a network: give an address or address/prefix, e.g. 10.0.0.0/8");
        let (address, prefix) = match text.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text.trim(), None),
        };
        let address: IpAddr = address.parse().map_err(|_| bad())?;
        let longest = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix.parse::<u8>().ok().filter(|p| *p <= longest).ok_or_else(bad)?,
            None => longest,
        };
        Ok(Self { address, prefix })
    }
}

impl Network {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.address, canonical(ip)) {
            (IpAddr::V4(network), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(network) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(network) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Which addresses outbound requests may reach: public ones, and those in `allowed`.
#[derive(Debug, Clone, Default)]
pub struct Destinations {
    allowed: Arc<Vec<Network>>,
}

impl Destinations {
    pub fn allowing(allowed: Vec<Network>) -> Self {
        Self { allowed: Arc::new(allowed) }
    }

    pub fn permits(&self, ip: IpAddr) -> bool {
        is_public(canonical(ip)) || self.allowed.iter().any(|network| network.contains(ip))
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => is_public_v6(ip),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let special = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier-grade NAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240; // reserved
    !special
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    let special = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link-local
        || (first == 0x2001 && ip.segments()[1] == 0x0db8) // documentation
        || (first == 0x64 && ip.segments()[1] == 0xff9b) // NAT64 (may reach private IPv4)
        || ip.to_ipv4().is_some_and(|v4| !is_public_v4(v4)); // IPv4-compatible forms
    !special
}

/// A host that resolves only to addresses outbound requests may not reach.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error(
    "the webhook's host resolves only to private, loopback, link-local or reserved addresses, \
     which outbound requests may not reach (SWITCHBOARD_OUTBOUND_ALLOW)"
)]
pub(crate) struct NotPermitted;

/// The HTTP client's resolver: only permitted addresses come back.
#[derive(Debug, Clone)]
pub(crate) struct GuardedResolver {
    pub destinations: Destinations,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let destinations = self.destinations.clone();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let permitted: Vec<SocketAddr> =
                found.into_iter().filter(|address| destinations.permits(address.ip())).collect();
            if permitted.is_empty() {
                return Err(Box::new(NotPermitted) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(permitted.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    fn refuses_internal_addresses_and_allows_public_ones() {
        let none = Destinations::default();
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "::",
        ] {
            assert!(!none.permits(ip(internal)), "{internal} permitted");
        }
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(none.permits(ip(public)), "{public} refused");
        }
    }

    #[test]
    fn allowed_networks_open_exactly_their_addresses() {
        let allowed = Destinations::allowing(vec![
            "127.0.0.0/8".parse().expect("net"),
            "fd00::5".parse().expect("net"),
        ]);
        assert!(allowed.permits(ip("127.0.0.1")) && allowed.permits(ip("127.255.0.9")));
        assert!(allowed.permits(ip("::ffff:127.0.0.1")));
        assert!(allowed.permits(ip("fd00::5")) && !allowed.permits(ip("fd00::6")));
        assert!(!allowed.permits(ip("10.0.0.1")));
    }

    #[test]
    fn parses_networks() {
        assert_eq!("10.0.0.0/8".parse::<Network>().map(|n| n.prefix), Ok(8));
        assert_eq!("::1".parse::<Network>().map(|n| n.prefix), Ok(128));
        assert!("10.0.0.0/33".parse::<Network>().is_err());
        assert!("example.com".parse::<Network>().expect_err("bad").contains("not a network"));
        assert!("0.0.0.0/0".parse::<Network>().expect("all").contains(ip("8.8.8.8")));
    }
}
