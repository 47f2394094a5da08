//! The mix of the generated conversations: tenants (one with 80 % of the rows), queues,
//! languages, channels, what becomes of each conversation, and the SLA targets by priority.

use chrono::Duration;
use switchboard_proto::events::v1::{Channel, Priority};

use crate::seeded::Seeded;

pub(crate) struct Tenant {
    pub name: &'static str,
    /// Share of the conversations, in per mille.
    pub share: u32,
    pub agents: usize,
}

pub(crate) static TENANTS: [Tenant; 4] = [
    Tenant { name: "acme", share: 800, agents: 100 },
    Tenant { name: "globex", share: 120, agents: 16 },
    Tenant { name: "initech", share: 60, agents: 8 },
    Tenant { name: "umbrella", share: 20, agents: 4 },
];

pub(crate) const QUEUES: [(&str, u32); 6] =
    [("general", 35), ("billing", 20), ("returns", 15), ("technical", 15), ("sales", 10), ("vip", 5)];

pub(crate) const LANGUAGES: [(&str, u32); 9] = [
    ("en", 45),
    ("en-GB", 10),
    ("de", 12),
    ("fr", 8),
    ("es", 8),
    ("nl", 5),
    ("zh-TW", 6),
    ("ja", 3),
    ("pt-BR", 3),
];

pub(crate) const CHANNELS: [(Channel, u32); 6] = [
    (Channel::Web, 40),
    (Channel::Email, 30),
    (Channel::Voice, 10),
    (Channel::Sms, 8),
    (Channel::Social, 7),
    (Channel::Api, 5),
];

pub(crate) const HANDOFF_REASONS: [&str; 5] =
    ["customer_asked", "negative_sentiment", "missing_knowledge", "low_confidence", "policy"];

/// The agent ids of a tenant: `agent-001`, ...
pub(crate) fn agent(n: usize) -> String {
    format!("agent-{:03}", n + 1)
}

/// Where a conversation ends up.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Fate {
    /// The bot answered; nobody else is involved yet.
    WithTheBot,
    Queued,
    Escalated,
    Assigned,
    /// An agent answered and waits on the customer.
    Pending,
    Resolved,
    /// Resolved, then the customer wrote again: back in a queue.
    Reopened,
}

pub(crate) const FATES: [(Fate, u32); 7] = [
    (Fate::Resolved, 60),
    (Fate::WithTheBot, 8),
    (Fate::Queued, 11),
    (Fate::Escalated, 5),
    (Fate::Assigned, 9),
    (Fate::Pending, 5),
    (Fate::Reopened, 2),
];

/// A tenant, each as likely as its share.
pub(crate) fn draw_tenant(rng: &mut Seeded) -> &'static Tenant {
    let mut left = rng.below(1000) as u32;
    for tenant in &TENANTS {
        if left < tenant.share {
            return tenant;
        }
        left -= tenant.share;
    }
    &TENANTS[0]
}

pub(crate) fn first_response_target(priority: Priority) -> Duration {
    match priority {
        Priority::Urgent => Duration::minutes(15),
        Priority::High => Duration::hours(1),
        Priority::Low => Duration::hours(8),
        Priority::Normal | Priority::Unspecified => Duration::hours(4),
    }
}

pub(crate) fn resolution_target(priority: Priority) -> Duration {
    match priority {
        Priority::Urgent => Duration::hours(4),
        Priority::High => Duration::hours(8),
        Priority::Low => Duration::hours(72),
        Priority::Normal | Priority::Unspecified => Duration::hours(24),
    }
}

pub(crate) fn channel_slug(channel: Channel) -> &'static str {
    match channel {
        Channel::Email => "email",
        Channel::Voice => "voice",
        Channel::Social => "social",
        Channel::Api => "api",
        Channel::Sms => "sms",
        Channel::Web | Channel::Unspecified => "web",
    }
}
