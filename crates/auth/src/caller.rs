//! The caller of a request, as the [`Guard`](crate::Guard) found it in its token.

use chrono::{DateTime, Utc};
use tonic::Status;

use crate::{Claims, Role};

/// Who is calling: set by the guard on every request that needed a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub tenant: String,
    pub subject: String,
    pub role: Role,
    pub token_id: String,
    pub expires_at: DateTime<Utc>,
}

impl From<Claims> for Caller {
    fn from(claims: Claims) -> Self {
        let expires_at = claims.expires_at();
        Self {
            tenant: claims.tenant,
            subject: claims.sub,
            role: claims.role,
            token_id: claims.jti,
            expires_at,
        }
    }
}

impl Caller {
    /// A service of this same process calling another in process (no token crosses a wire),
    /// acting for `tenant` as it would over gRPC with its service token.
    pub fn in_process(tenant: &str, service: &str) -> Self {
        Self {
            tenant: tenant.to_string(),
            subject: service.to_string(),
            role: Role::Service,
            token_id: String::new(),
            expires_at: DateTime::<Utc>::MAX_UTC,
        }
    }

    /// The caller of `request`. Without one the guard was not in front of the service: refused.
    pub fn of<T>(request: &tonic::Request<T>) -> Result<Self, Status> {
        request
            .extensions()
            .get::<Self>()
            .cloned()
            .ok_or_else(|| Status::unauthenticated("this call needs a token (authorization: Bearer <token>)"))
    }

    /// The tenant a call acts on: always the caller's. A request field naming another tenant is
    /// refused; an empty one means the caller's.
    pub fn tenant_for(&self, field: &str) -> Result<String, Status> {
        if field.is_empty() || field == self.tenant {
            return Ok(self.tenant.clone());
        }
        Err(Status::permission_denied(format!("tenant {field:?} is not this token's tenant")))
    }

    /// The agent a call acts as: always the caller's subject. A request naming another agent is
    /// refused; an empty one means the caller.
    pub fn agent_for(&self, field: &str) -> Result<String, Status> {
        if field.is_empty() || field == self.subject {
            return Ok(self.subject.clone());
        }
        Err(Status::permission_denied(format!("agent_id {field:?} is not this token's subject")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller() -> Caller {
        Caller {
            tenant: "acme".into(),
            subject: "ana".into(),
            role: Role::Agent,
            token_id: "t".into(),
            expires_at: DateTime::default(),
        }
    }

    #[test]
    fn the_tenant_and_agent_are_the_tokens() {
        assert_eq!(caller().tenant_for("").ok().as_deref(), Some("acme"));
        assert_eq!(caller().tenant_for("acme").ok().as_deref(), Some("acme"));
        let refused = caller().tenant_for("globex").expect_err("another tenant");
        assert_eq!(refused.code(), tonic::Code::PermissionDenied);
        assert_eq!(caller().agent_for("").ok().as_deref(), Some("ana"));
        assert_eq!(
            caller().agent_for("bob").expect_err("impersonation").code(),
            tonic::Code::PermissionDenied
        );
    }

    #[test]
    fn a_request_without_a_caller_is_unauthenticated() {
        let request = tonic::Request::new(());
        assert_eq!(Caller::of(&request).expect_err("none").code(), tonic::Code::Unauthenticated);
    }
}
