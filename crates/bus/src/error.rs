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
    #[error("no dead letter {0}: `switchboard dlq list` shows the ids")]
    NoDeadLetter(u64),
    #[error(
        "{0} takes no dead letters back: a projection is rebuilt by replay (`switchboard replay \
         <service>`), and a consumer that has never run against this server has nothing to take them"
    )]
    TakesNoLetters(String),
    #[error(
        "the events stream does not end at sequence {after}: a restore goes into an empty stream \
         (a new server), and nothing else may write to it meanwhile"
    )]
    NotEmpty { after: u64 },
}

impl Error {
    pub(crate) fn jetstream(
        operation: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::JetStream { operation, source: Box::new(source) }
    }
}
