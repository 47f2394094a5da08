//! How much one chat socket, one client and one site may send: frames per second per socket, per
//! client address (IPv6: per /64) and per site. A client's sockets share its budget, so a flood
//! through many sockets or reconnects is held to it; a site's sockets share the site's, which
//! bounds what one site costs the cluster. Because each client is held well under the site's
//! budget, a flood from a few hosts cannot spend the site's budget that its other customers need.
//! Also an idle deadline, and pings that keep a live widget's connection open through proxies.

use std::{net::IpAddr, num::NonZeroU32, sync::Arc, time::Duration};

use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};

#[derive(Debug, Clone)]
pub struct ChatLimits {
    /// Frames per second from one socket, and the burst above it.
    pub socket_rate: NonZeroU32,
    pub socket_burst: NonZeroU32,
    /// Frames per second from all sockets of one client address, and the burst above it.
    pub client_rate: NonZeroU32,
    pub client_burst: NonZeroU32,
    /// Frames per second from all sockets of one site, and the burst above it.
    pub site_rate: NonZeroU32,
    pub site_burst: NonZeroU32,
    /// Messages (the frames that make work for the whole cluster: a classification, a decision,
    /// maybe an answer) per second from one socket and from one site, with their bursts. A person
    /// types far slower; a site's total is what the cluster can take besides everyone else's.
    pub message_rate: NonZeroU32,
    pub message_burst: NonZeroU32,
    /// Messages per second from one client address, with its burst: room for the many people a
    /// carrier's NAT may put behind one address, far under the site's.
    pub client_message_rate: NonZeroU32,
    pub client_message_burst: NonZeroU32,
    pub site_message_rate: NonZeroU32,
    pub site_message_burst: NonZeroU32,
    /// A socket that sends nothing (not even a pong) for this long is closed.
    pub idle: Duration,
    /// How often the server pings.
    pub ping_every: Duration,
    /// Frames refused for rate in a row before the socket is closed.
    pub strikes: u32,
    /// Open sockets from one client (address, or IPv6 /64).
    pub max_sockets_per_client: usize,
    /// The longest a frame to the widget may take to be written.
    pub send_timeout: Duration,
}

impl Default for ChatLimits {
    fn default() -> Self {
        let n = |value: u32| NonZeroU32::new(value).unwrap_or(NonZeroU32::MIN);
        Self {
            socket_rate: n(5),
            socket_burst: n(20),
            client_rate: n(20),
            client_burst: n(100),
            site_rate: n(200),
            site_burst: n(1000),
            message_rate: n(1),
            message_burst: n(5),
            client_message_rate: n(5),
            client_message_burst: n(20),
            site_message_rate: n(50),
            site_message_burst: n(200),
            idle: Duration::from_secs(600),
            ping_every: Duration::from_secs(30),
            strikes: 50,
            max_sockets_per_client: 20,
            send_timeout: Duration::from_secs(10),
        }
    }
}

/// The per-client and per-site budgets and per-client sockets, shared by every socket.
#[derive(Clone)]
pub(crate) struct SiteBudgets {
    pub limits: ChatLimits,
    clients: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    client_messages: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    sites: Arc<DefaultKeyedRateLimiter<String>>,
    site_messages: Arc<DefaultKeyedRateLimiter<String>>,
    pub sockets: crate::http::PerClient,
}

impl SiteBudgets {
    pub fn new(limits: ChatLimits) -> Self {
        Self {
            clients: keyed(limits.client_rate, limits.client_burst),
            client_messages: keyed(limits.client_message_rate, limits.client_message_burst),
            sites: keyed(limits.site_rate, limits.site_burst),
            site_messages: keyed(limits.site_message_rate, limits.site_message_burst),
            limits,
            sockets: Default::default(),
        }
    }

    /// The budgets of a socket opened from `client`: its own for any frame and for messages,
    /// beside its client's.
    pub fn socket(&self, client: IpAddr) -> SocketBudget {
        let limits = &self.limits;
        SocketBudget {
            client: crate::http::client_key(client),
            frames: RateLimiter::direct(
                Quota::per_second(limits.socket_rate).allow_burst(limits.socket_burst),
            ),
            messages: RateLimiter::direct(
                Quota::per_second(limits.message_rate).allow_burst(limits.message_burst),
            ),
        }
    }

    /// Whether a frame (a `message` when `message`) from `site` on a socket with `budget` may
    /// be handled now. The narrowest budget is asked first, so what a socket or a client is
    /// refused spends nothing of the wider budgets.
    pub fn admit(&self, site: &str, budget: &SocketBudget, message: bool) -> bool {
        let site = site.to_string();
        let frame = budget.frames.check().is_ok()
            && self.clients.check_key(&budget.client).is_ok()
            && self.sites.check_key(&site).is_ok();
        frame
            && (!message
                || (budget.messages.check().is_ok()
                    && self.client_messages.check_key(&budget.client).is_ok()
                    && self.site_messages.check_key(&site).is_ok()))
    }

    /// Forgets clients and sites that have been quiet, so memory stays bounded.
    pub fn prune(&self) {
        self.clients.retain_recent();
        self.client_messages.retain_recent();
        self.sites.retain_recent();
        self.site_messages.retain_recent();
    }
}

/// A budget per key of `rate` a second, `burst` at once.
fn keyed<K: std::hash::Hash + Eq + Clone>(
    rate: NonZeroU32,
    burst: NonZeroU32,
) -> Arc<DefaultKeyedRateLimiter<K>> {
    Arc::new(RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)))
}

/// One socket's budgets, and the client whose budgets it shares.
pub(crate) struct SocketBudget {
    client: IpAddr,
    frames: DefaultDirectRateLimiter,
    messages: DefaultDirectRateLimiter,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(value: u32) -> NonZeroU32 {
        NonZeroU32::new(value).expect("non-zero")
    }

    fn host(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    #[test]
    fn a_socket_and_a_site_are_held_to_their_budgets() {
        let limits = ChatLimits {
            socket_rate: n(1),
            socket_burst: n(3),
            site_rate: n(1),
            site_burst: n(5),
            ..ChatLimits::default()
        };
        let budgets = SiteBudgets::new(limits);
        let one = budgets.socket(host(1));
        assert_eq!((0..10).filter(|_| budgets.admit("shop", &one, false)).count(), 3, "the socket's burst");
        let two = budgets.socket(host(2));
        assert_eq!(
            (0..10).filter(|_| budgets.admit("shop", &two, false)).count(),
            2,
            "what is left of the site's"
        );
        let three = budgets.socket(host(3));
        assert!(budgets.admit("other", &three, false), "another site has its own budget");
        let four = budgets.socket(host(4));
        let messages = (0..20).filter(|_| budgets.admit("third", &four, true)).count();
        assert_eq!(messages, 3, "messages share the frames' budget");
        let chatty = SiteBudgets::new(ChatLimits { message_burst: n(2), ..ChatLimits::default() });
        let five = chatty.socket(host(5));
        assert_eq!((0..10).filter(|_| chatty.admit("shop", &five, true)).count(), 2, "the socket's messages");
        assert!(chatty.admit("shop", &five, false), "typing still passes");
    }

    #[test]
    fn a_clients_sockets_share_its_budget_and_leave_the_sites_to_other_customers() {
        let limits = ChatLimits {
            message_burst: n(5),
            client_message_burst: n(8),
            site_message_burst: n(30),
            ..ChatLimits::default()
        };
        let budgets = SiteBudgets::new(limits);
        // Given three flooding hosts, each opening ten sockets (or reconnecting ten times)
        let flooders: Vec<_> = (1..=3).flat_map(|h| (0..10).map(move |_| host(h))).collect();
        let taken: usize = flooders
            .iter()
            .map(|address| {
                let socket = budgets.socket(*address);
                (0..5).filter(|_| budgets.admit("shop", &socket, true)).count()
            })
            .sum();
        // then each host got its client's burst, not ten sockets' worth
        assert_eq!(taken, 3 * 8, "each flooding host is held to its client's budget");
        // and a customer on another address is still let in: the site's budget was not spent.
        let customer = budgets.socket(host(200));
        assert!(budgets.admit("shop", &customer, true), "the flooded site's own customer");
        let same_network = budgets.socket(IpAddr::from([0x2001, 0xdb8, 0, 1, 0, 0, 0, 1]));
        let same_prefix = budgets.socket(IpAddr::from([0x2001, 0xdb8, 0, 1, 0, 0, 0, 2]));
        let from_one = (0..10).filter(|_| budgets.admit("other", &same_network, true)).count();
        let from_other = (0..10).filter(|_| budgets.admit("other", &same_prefix, true)).count();
        assert_eq!((from_one, from_other), (5, 3), "an IPv6 /64 is one client");
    }
}
