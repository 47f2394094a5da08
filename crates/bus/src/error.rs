use crate::publish::Expected;

/// What can go wrong on the bus.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot connect to NATS at {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error(
        "NATS server {found} is too old: Switchboard needs {required} or newer \
         (older servers silently ignore consumer filter_subjects)"
    )]
    ServerTooOld { found: String, required: &'static str },
    #[error("JetStream is not enabled on the NATS server at {url}: start it with -js")]
    NoJetStream { url: String },
    #[error("jetstream {operation} failed: {source}")]
    JetStream { operation: &'static str, source: Box<dyn std::error::Error + Send + Sync> },
    #[error("concurrency conflict on {subject}: expected {expected:?}")]
    Conflict { subject: String, expected: Expected },
    #[error("invalid aggregate id {0:?}: use letters, digits, '-' and '_'")]
    InvalidAggregateId(String),
    #[error("invalid tenant {0:?}: use at most 64 letters, digits, '-' and '_'")]
    InvalidTenant(String),
    #[error("event {0} has no body")]
    MissingBody(String),
    #[error("no message at stream sequence {0}")]
    NotFound(u64),
    #[error("message at stream sequence {sequence} is not a valid event: {reason}")]
    Undecodable { sequence: u64, reason: String },
}

impl Error {
    pub(crate) fn jetstream(
        operation: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::JetStream { operation, source: Box::new(source) }
    }
}
