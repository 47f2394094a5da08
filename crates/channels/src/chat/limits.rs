//! How much one chat socket and one site may send: frames per second per socket and per site
//! (a site's sockets share one budget, so a flood through many sockets is held too), an idle
//! deadline, and pings that keep a live widget's connection open through proxies.

use std::{num::NonZeroU32, sync::Arc, time::Duration};

use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};

#[derive(Debug, Clone)]
pub struct ChatLimits {
    /// Frames per second from one socket, and the burst above it.
    pub socket_rate: NonZeroU32,
    pub socket_burst: NonZeroU32,
    /// Frames per second from all sockets of one site, and the burst above it.
    pub site_rate: NonZeroU32,
    pub site_burst: NonZeroU32,
    /// Messages (the frames that make work for the whole cluster: a classification, a decision,
    /// maybe an answer) per second from one socket and from one site, with their bursts. A person
    /// types far slower; a site's total is what the cluster can take besides everyone else's.
    pub message_rate: NonZeroU32,
    pub message_burst: NonZeroU32,
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
            site_rate: n(200),
            site_burst: n(1000),
            message_rate: n(1),
            message_burst: n(5),
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

/// The per-site budgets and per-client sockets, shared by every socket.
#[derive(Clone)]
pub(crate) struct SiteBudgets {
    pub limits: ChatLimits,
    sites: Arc<DefaultKeyedRateLimiter<String>>,
    site_messages: Arc<DefaultKeyedRateLimiter<String>>,
    pub sockets: crate::http::PerClient,
}

impl SiteBudgets {
    pub fn new(limits: ChatLimits) -> Self {
        let quota = Quota::per_second(limits.site_rate).allow_burst(limits.site_burst);
        let messages = Quota::per_second(limits.site_message_rate).allow_burst(limits.site_message_burst);
        Self {
            sites: Arc::new(RateLimiter::keyed(quota)),
            site_messages: Arc::new(RateLimiter::keyed(messages)),
            limits,
            sockets: Default::default(),
        }
    }

    /// A socket's own budgets: for any frame, and for messages.
    pub fn socket(&self) -> SocketBudget {
        let limits = &self.limits;
        SocketBudget {
            frames: RateLimiter::direct(
                Quota::per_second(limits.socket_rate).allow_burst(limits.socket_burst),
            ),
            messages: RateLimiter::direct(
                Quota::per_second(limits.message_rate).allow_burst(limits.message_burst),
            ),
        }
    }

    /// Whether a frame (a `message` when `message`) from `site` on a socket with `budget` may
    /// be handled now.
    pub fn admit(&self, site: &str, budget: &SocketBudget, message: bool) -> bool {
        let frame = budget.frames.check().is_ok() && self.sites.check_key(&site.to_string()).is_ok();
        frame
            && (!message
                || (budget.messages.check().is_ok()
                    && self.site_messages.check_key(&site.to_string()).is_ok()))
    }

    /// Forgets sites that have been quiet, so memory stays bounded.
    pub fn prune(&self) {
        self.sites.retain_recent();
        self.site_messages.retain_recent();
    }
}

/// One socket's budgets.
pub(crate) struct SocketBudget {
    frames: DefaultDirectRateLimiter,
    messages: DefaultDirectRateLimiter,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_and_a_site_are_held_to_their_budgets() {
        let n = |value| NonZeroU32::new(value).expect("non-zero");
        let limits = ChatLimits {
            socket_rate: n(1),
            socket_burst: n(3),
            site_rate: n(1),
            site_burst: n(5),
            ..ChatLimits::default()
        };
        let budgets = SiteBudgets::new(limits);
        let one = budgets.socket();
        assert_eq!((0..10).filter(|_| budgets.admit("shop", &one, false)).count(), 3, "the socket's burst");
        let two = budgets.socket();
        assert_eq!(
            (0..10).filter(|_| budgets.admit("shop", &two, false)).count(),
            2,
            "what is left of the site's"
        );
        let three = budgets.socket();
        assert!(budgets.admit("other", &three, false), "another site has its own budget");
        let four = budgets.socket();
        let messages = (0..20).filter(|_| budgets.admit("third", &four, true)).count();
        assert_eq!(messages, 3, "messages share the frames' budget");
        let chatty = SiteBudgets::new(ChatLimits { message_burst: n(2), ..ChatLimits::default() });
        let five = chatty.socket();
        assert_eq!((0..10).filter(|_| chatty.admit("shop", &five, true)).count(), 2, "the socket's messages");
        assert!(chatty.admit("shop", &five, false), "typing still passes");
    }
}
