//! The one error map for consumers: what a handler's failure means for its message.
//!
//! Handlers return their database and bus errors with `?`; these conversions decide whether the
//! message waits for the dependency (held), is tried again (retried, then dead-lettered), or is
//! set aside now (dead-lettered).

use crate::{Error, HandlerError};

/// True for failures of the database's availability rather than of the data: anything
/// [`is_refusal`] does not blame on the data waits for the database instead of dropping it.
pub fn is_outage(error: &sqlx::Error) -> bool {
    !is_refusal(error)
}

/// True when the database refused the data itself: SQLSTATE class 22 (data exception, such as a
/// NUL in text) or 23 (integrity constraint violation), or a row the data refers to is missing.
/// No retry mends these, so the message is the one to set aside. Everything else (connections,
/// a failover to a read-only standby, 25006; lock and statement timeouts, 55P03 and 57014;
/// resources, 53; system errors, 58 and XX; protocol and decode errors) is the database's
/// trouble or ours, not the message's.
pub fn is_refusal(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(database) => {
            database.code().is_some_and(|code| code.starts_with("22") || code.starts_with("23"))
        }
        sqlx::Error::RowNotFound => true,
        _ => false,
    }
}

/// True for failures a retry may mend soon: the connection (lost, refused, the pool exhausted or
/// closed), a standby that takes no writes (25006), a serialisation failure or deadlock (40001,
/// 40P01), resources (53), a lock or statement timeout (55P03, 57014), an administrator's or a
/// crash's shutdown (57P01 to 57P03). What gRPC callers are told to try again.
pub fn is_transient(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(database) => database.code().is_some_and(|code| {
            code.starts_with("08")
                || code.starts_with("53")
                || ["25006", "40001", "40P01", "55P03", "57014", "57P01", "57P02", "57P03"].contains(&&*code)
        }),
        _ => false,
    }
}

/// A refusal of the data is the message's fault (dead-lettered); anything else holds it until
/// the database is back.
impl From<sqlx::Error> for HandlerError {
    fn from(error: sqlx::Error) -> Self {
        if is_refusal(&error) {
            Self::Permanent(format!("the database refused the data: {error}"))
        } else {
            Self::Unavailable(format!("database: {error}"))
        }
    }
}

/// The bus down is waited out; a lost race is tried again (the handler reads anew); an event
/// that cannot be built or read is set aside.
impl From<Error> for HandlerError {
    fn from(error: Error) -> Self {
        let reason = error.to_string();
        match error {
            Error::Connect { .. } | Error::ServerTooOld { .. } | Error::NoJetStream { .. } => {
                Self::Unavailable(reason)
            }
            Error::JetStream { .. } => Self::Unavailable(reason),
            Error::Conflict { .. } | Error::NotFound(_) => Self::Transient(reason),
            Error::InvalidAggregateId(_)
            | Error::InvalidTenant(_)
            | Error::MissingBody(_)
            | Error::Undecodable { .. }
            | Error::NoDeadLetter(_)
            | Error::TakesNoLetters(_)
            | Error::NotEmpty { .. } => Self::Permanent(reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_data_is_refused_and_the_rest_waits() {
        assert!(is_refusal(&sqlx::Error::RowNotFound));
        assert!(matches!(HandlerError::from(sqlx::Error::RowNotFound), HandlerError::Permanent(_)));
        let waits: [fn() -> sqlx::Error; 4] = [
            || sqlx::Error::PoolTimedOut,
            || sqlx::Error::Protocol("unexpected message".into()),
            || sqlx::Error::Decode("bad column".into()),
            || sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset)),
        ];
        for error in waits {
            assert!(is_outage(&error()) && !is_refusal(&error()), "{}", error());
            assert!(matches!(HandlerError::from(error()), HandlerError::Unavailable(_)));
        }
    }

    #[test]
    fn callers_are_told_to_try_again_only_where_a_retry_may_mend_it() {
        assert!(is_transient(&sqlx::Error::PoolTimedOut));
        assert!(is_transient(&sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset))));
        assert!(!is_transient(&sqlx::Error::RowNotFound));
        assert!(!is_transient(&sqlx::Error::Protocol("unexpected message".into())));
    }

    #[test]
    fn the_bus_down_waits_a_lost_race_retries_and_a_bad_event_is_set_aside() {
        let down = Error::Connect { url: "nats://x".into(), reason: "refused".into() };
        assert!(matches!(HandlerError::from(down), HandlerError::Unavailable(_)));
        let raced = Error::Conflict { subject: "s".into(), expected: crate::Expected::Empty };
        assert!(matches!(HandlerError::from(raced), HandlerError::Transient(_)));
        let bad = Error::InvalidTenant("a b".into());
        assert!(matches!(HandlerError::from(bad), HandlerError::Permanent(_)));
    }
}
