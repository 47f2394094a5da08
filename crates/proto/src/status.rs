//! The one mapping from service errors to gRPC status codes.

use tonic::{Code, Status};

/// What kind of failure an error is, as far as a caller is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidArgument,
    NotFound,
    AlreadyExists,
    /// The caller may do this in general, but not to this (an agent and another's conversation).
    PermissionDenied,
    FailedPrecondition,
    Unavailable,
    Internal,
}

/// A service error that can be answered to a gRPC caller.
pub trait ServiceError: std::error::Error {
    fn kind(&self) -> ErrorKind;
}

/// Converts a service error to a status. Internal causes are logged, never sent to the caller.
pub fn to_status(error: &impl ServiceError) -> Status {
    let code = match error.kind() {
        ErrorKind::InvalidArgument => Code::InvalidArgument,
        ErrorKind::NotFound => Code::NotFound,
        ErrorKind::AlreadyExists => Code::AlreadyExists,
        ErrorKind::PermissionDenied => Code::PermissionDenied,
        ErrorKind::FailedPrecondition => Code::FailedPrecondition,
        ErrorKind::Unavailable => Code::Unavailable,
        ErrorKind::Internal => Code::Internal,
    };
    if code == Code::Internal {
        tracing::error!(error = %error, "internal error");
        return Status::internal("internal error; see the service log");
    }
    Status::new(code, error.to_string())
}
