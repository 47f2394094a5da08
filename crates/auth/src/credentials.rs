//! The client side: a token attached to every call a client makes, as a tonic interceptor.
//! Either a given token (the CLI's `SWITCHBOARD_TOKEN`) or one the process mints for itself
//! with the cluster key (a service calling another, e.g. the router asking knowledge).

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use tonic::{
    Request, Status,
    metadata::{AsciiMetadataValue, MetadataValue},
    service::Interceptor,
};

use crate::{Grant, Keys, Role};

/// How long a self-minted token lives; it is replaced at half its life.
const MINTED_TTL: Duration = Duration::from_secs(3600);

/// Credentials a client sends with every call. Their `Debug` shows no token.
#[derive(Clone)]
pub struct Credentials {
    source: Arc<Source>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.source.as_ref() {
            Source::Anonymous => "anonymous",
            Source::Given(_) => "a given token",
            Source::Minted { .. } => "minted service tokens",
        };
        write!(f, "Credentials({kind})")
    }
}

enum Source {
    /// No token: only for servers without the guard.
    Anonymous,
    Given(AsciiMetadataValue),
    Minted {
        keys: Keys,
        grant: Grant,
        current: Mutex<Option<(AsciiMetadataValue, Instant)>>,
    },
}

impl Default for Credentials {
    /// No token at all: a guarded server refuses such calls as unauthenticated.
    fn default() -> Self {
        Self { source: Arc::new(Source::Anonymous) }
    }
}

impl Credentials {
    /// A given token.
    pub fn bearer(token: &str) -> Result<Self, String> {
        let mut value = MetadataValue::try_from(format!("Bearer {}", token.trim()))
            .map_err(|_| "the token has characters a header cannot carry".to_string())?;
        value.set_sensitive(true);
        Ok(Self { source: Arc::new(Source::Given(value)) })
    }

    /// Service tokens for `tenant`, minted with the cluster key as `subject` (e.g. `router`).
    pub fn service(keys: Keys, tenant: &str, subject: &str) -> Self {
        let grant =
            Grant { tenant: tenant.into(), subject: subject.into(), role: Role::Service, ttl: MINTED_TTL };
        Self { source: Arc::new(Source::Minted { keys, grant, current: Mutex::new(None) }) }
    }

    /// The same service's credentials acting for `tenant`: a service working on a tenant's event
    /// calls other services as that tenant. A given token is bound to its own tenant, and
    /// anonymous credentials to none: both are returned unchanged (the callee decides).
    pub fn for_tenant(&self, tenant: &str) -> Self {
        match self.source.as_ref() {
            Source::Minted { keys, grant, .. } if grant.tenant != tenant => {
                Self::service(keys.clone(), tenant, &grant.subject)
            }
            _ => self.clone(),
        }
    }

    /// The `authorization` value to send now; none for anonymous credentials.
    pub fn authorization(&self) -> Result<Option<AsciiMetadataValue>, Status> {
        match self.source.as_ref() {
            Source::Anonymous => Ok(None),
            Source::Given(value) => Ok(Some(value.clone())),
            Source::Minted { keys, grant, current } => {
                let mut current =
                    current.lock().map_err(|_| Status::internal("credentials lock poisoned"))?;
                if let Some((value, renew_at)) = current.as_ref()
                    && Instant::now() < *renew_at
                {
                    return Ok(Some(value.clone()));
                }
                let (token, _) = keys.issue(grant).map_err(|error| Status::internal(error.to_string()))?;
                let mut value = MetadataValue::try_from(format!("Bearer {token}"))
                    .map_err(|_| Status::internal("a minted token is not a header value"))?;
                value.set_sensitive(true);
                *current = Some((value.clone(), Instant::now() + MINTED_TTL / 2));
                Ok(Some(value))
            }
        }
    }
}

/// Every call carries the credentials, and the caller's trace context (W3C `traceparent`,
/// `tracestate`) so that the callee's spans join the caller's trace.
impl Interceptor for Credentials {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(authorization) = self.authorization()? {
            request.metadata_mut().insert("authorization", authorization);
        }
        let (traceparent, tracestate) = switchboard_bus::current_context();
        for (name, value) in [("traceparent", traceparent), ("tracestate", tracestate)] {
            if let (false, Ok(value)) = (value.is_empty(), value.parse()) {
                request.metadata_mut().insert(name, value);
            }
        }
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_credentials_verify_as_a_service_of_their_tenant() {
        let keys = Keys::from_secret(b"0123456789abcdef0123456789abcdef").expect("key");
        let credentials = Credentials::service(keys.clone(), "acme", "router");
        let first = credentials.authorization().expect("minted").expect("a token");
        assert_eq!(credentials.authorization().expect("cached"), Some(first.clone()), "reused until renewal");
        let token = first.to_str().expect("ascii").trim_start_matches("Bearer ");
        let claims = keys.verify(token).expect("valid");
        assert_eq!(
            (claims.tenant.as_str(), claims.sub.as_str(), claims.role),
            ("acme", "router", Role::Service)
        );
        let for_globex = credentials.for_tenant("globex").authorization().expect("minted").expect("a token");
        let token = for_globex.to_str().expect("ascii").trim_start_matches("Bearer ");
        let claims = keys.verify(token).expect("valid");
        assert_eq!((claims.tenant.as_str(), claims.sub.as_str()), ("globex", "router"));
        let given = Credentials::bearer("abc").expect("a header value");
        assert_eq!(
            given.for_tenant("globex").authorization().expect("given"),
            given.authorization().expect("given")
        );
        assert!(Credentials::bearer("a\nb").is_err());
        assert_eq!(Credentials::default().authorization().expect("anonymous"), None);
        let shown = format!("{:?}", Credentials::bearer(token).expect("token"));
        assert!(!shown.contains(token) && shown.contains("given"), "{shown}");
    }
}
