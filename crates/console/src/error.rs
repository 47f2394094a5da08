//! The console API's one error: a gRPC status (or a refusal of the console's own) as an HTTP
//! status with a JSON body `{"code": "failed_precondition", "message": "…"}`. Messages the
//! services wrote for people pass through; causes of transport and internal failures are logged,
//! never sent.

use axum::{
    Json,
    response::{IntoResponse, Response},
};
use http::StatusCode;
use tonic::Code;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    /// The gRPC code's name in lower case, e.g. `failed_precondition`.
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    /// Bad input the console itself refuses before calling anything.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, code: "invalid_argument", message: message.into() }
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self { status: StatusCode::UNAUTHORIZED, code: "unauthenticated", message: message.into() }
    }
}

/// The HTTP status and code name of a gRPC code, and whether its message is meant for people.
fn mapped(code: Code) -> (StatusCode, &'static str, bool) {
    match code {
        Code::InvalidArgument | Code::OutOfRange => (StatusCode::BAD_REQUEST, "invalid_argument", true),
        Code::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated", true),
        Code::PermissionDenied => (StatusCode::FORBIDDEN, "permission_denied", true),
        Code::NotFound => (StatusCode::NOT_FOUND, "not_found", true),
        Code::FailedPrecondition => (StatusCode::CONFLICT, "failed_precondition", true),
        Code::AlreadyExists => (StatusCode::CONFLICT, "already_exists", true),
        Code::Aborted => (StatusCode::CONFLICT, "aborted", true),
        Code::ResourceExhausted => (StatusCode::TOO_MANY_REQUESTS, "resource_exhausted", true),
        Code::Unimplemented => (StatusCode::NOT_IMPLEMENTED, "unimplemented", true),
        Code::DeadlineExceeded => (StatusCode::GATEWAY_TIMEOUT, "deadline_exceeded", false),
        Code::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", false),
        _ => (StatusCode::BAD_GATEWAY, "internal", false),
    }
}

impl From<tonic::Status> for ApiError {
    fn from(status: tonic::Status) -> Self {
        let (http, code, for_people) = mapped(status.code());
        let message = if for_people {
            status.message().to_string()
        } else {
            tracing::warn!(code = ?status.code(), cause = status.message(), "console call failed");
            "the service is unavailable or failed; try again".to_string()
        };
        Self { status: http, code, message }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"code": self.code, "message": self.message});
        (self.status, Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_keep_their_message_and_failures_hide_their_cause() {
        let held =
            ApiError::from(tonic::Status::failed_precondition("conversation \"c\" is held by agent \"bob\""));
        assert_eq!((held.status, held.code), (StatusCode::CONFLICT, "failed_precondition"));
        assert!(held.message.contains("bob"));
        let broken = ApiError::from(tonic::Status::unavailable("tcp connect error 10.0.0.1:50051"));
        assert_eq!(broken.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(!broken.message.contains("10.0.0.1"), "{}", broken.message);
        let internal = ApiError::from(tonic::Status::internal("relation desk.x does not exist"));
        assert_eq!((internal.status, internal.code), (StatusCode::BAD_GATEWAY, "internal"));
        assert!(!internal.message.contains("relation"));
        let missing = ApiError::from(tonic::Status::unimplemented("not built yet"));
        assert_eq!(missing.status, StatusCode::NOT_IMPLEMENTED);
    }
}
