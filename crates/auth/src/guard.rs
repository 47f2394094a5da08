//! The one layer in front of every gRPC service: a call passes only with a valid, unrevoked
//! token whose role holds the right its RPC declares; the handler then finds the [`Caller`] in
//! the request's extensions.

use std::task::{Context, Poll};

use futures::future::{Either, Ready, ready};
use tonic::{Status, body::Body};

use crate::{Access, Caller, Keys, Revocations, TokenError, access_of};

/// Checks tokens and rights; a [`tower::Layer`] over the server's routes.
#[derive(Debug, Clone)]
pub struct Guard {
    keys: Keys,
    revocations: Revocations,
}

impl Guard {
    pub fn new(keys: Keys, revocations: Revocations) -> Self {
        Self { keys, revocations }
    }

    /// Decides a call on `path` with `headers`: the caller to hand on (none for open
    /// services), or the status to answer with.
    pub fn admit(&self, path: &str, headers: &http::HeaderMap) -> Result<Option<Caller>, Status> {
        let access = access_of(path);
        if access == Some(Access::Open) {
            return Ok(None);
        }
        let caller = self.authenticate(headers)?;
        let Some(Access::Requires(right)) = access else {
            return Err(Status::unimplemented(format!("{path} is not an RPC of this server")));
        };
        if !caller.role.grants(right) {
            tracing::info!(path, tenant = caller.tenant, role = %caller.role, "call refused: missing right");
            return Err(Status::permission_denied(format!(
                "role {} lacks the right {} that this call needs",
                caller.role,
                right.name()
            )));
        }
        Ok(Some(caller))
    }

    fn authenticate(&self, headers: &http::HeaderMap) -> Result<Caller, Status> {
        let token = bearer(headers)?;
        let claims = self.keys.verify(token).map_err(|error| match error {
            TokenError::Expired => Status::unauthenticated("the token has expired"),
            _ => Status::unauthenticated("the token is not valid"),
        })?;
        if self.revocations.is_revoked(&claims.tenant, &claims.jti) {
            return Err(Status::unauthenticated("the token has been revoked"));
        }
        Ok(Caller::from(claims))
    }
}

fn bearer(headers: &http::HeaderMap) -> Result<&str, Status> {
    let missing = || Status::unauthenticated("send a token: authorization: Bearer <token>");
    let value = headers.get(http::header::AUTHORIZATION).ok_or_else(missing)?;
    let value = value.to_str().map_err(|_| missing())?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => {
            Ok(token.trim())
        }
        _ => Err(missing()),
    }
}

impl<S> tower::Layer<S> for Guard {
    type Service = Guarded<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Guarded { inner, guard: self.clone() }
    }
}

/// A service behind the [`Guard`].
#[derive(Debug, Clone)]
pub struct Guarded<S> {
    inner: S,
    guard: Guard,
}

impl<S, B> tower::Service<http::Request<B>> for Guarded<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<Body>>,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Either<S::Future, Ready<Result<Self::Response, Self::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        match self.guard.admit(request.uri().path(), request.headers()) {
            Ok(caller) => {
                if let Some(caller) = caller {
                    request.extensions_mut().insert(caller);
                }
                Either::Left(self.inner.call(request))
            }
            Err(status) => Either::Right(ready(Ok(status.into_http()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use switchboard_bus::Draft;
    use switchboard_proto::events::v1::{TokenRevoked, event::Body as EventBody};
    use tonic::Code;

    use super::*;
    use crate::{Grant, Role};

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn guard() -> Guard {
        Guard::new(Keys::from_secret(KEY).expect("key"), Revocations::default())
    }

    fn token(role: Role) -> (String, crate::Claims) {
        let grant =
            Grant { tenant: "acme".into(), subject: "ana".into(), role, ttl: Duration::from_secs(60) };
        Keys::from_secret(KEY).expect("key").issue(&grant).expect("token")
    }

    fn headers(authorization: &str) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::AUTHORIZATION, authorization.parse().expect("header"));
        headers
    }

    const REPLY: &str = "/switchboard.intake.v1.Intake/SendAgentReply";
    const RULES: &str = "/switchboard.router.v1.Router/PublishRules";

    #[test]
    fn open_services_need_no_token() {
        assert_eq!(guard().admit("/grpc.health.v1.Health/Check", &http::HeaderMap::new()).ok(), Some(None));
    }

    #[test]
    fn a_missing_or_bad_token_is_unauthenticated() {
        let code = |headers: &http::HeaderMap| guard().admit(REPLY, headers).expect_err("refused").code();
        assert_eq!(code(&http::HeaderMap::new()), Code::Unauthenticated);
        assert_eq!(code(&headers("Bearer nonsense")), Code::Unauthenticated);
        assert_eq!(code(&headers("Basic dXNlcjpwYXNz")), Code::Unauthenticated);
        let (other, _) = Keys::from_secret(b"another key that is 32 bytes ...")
            .expect("key")
            .issue(&Grant {
                tenant: "acme".into(),
                subject: "x".into(),
                role: Role::Admin,
                ttl: Duration::from_secs(9),
            })
            .expect("token");
        assert_eq!(code(&headers(&format!("Bearer {other}"))), Code::Unauthenticated);
    }

    #[test]
    fn a_role_without_the_right_is_denied_naming_it() {
        let (agent, claims) = token(Role::Agent);
        let caller = guard().admit(REPLY, &headers(&format!("Bearer {agent}"))).expect("agents reply");
        assert_eq!(
            caller.map(|c| (c.tenant, c.subject, c.role)),
            Some(("acme".into(), "ana".into(), Role::Agent))
        );
        let denied = guard().admit(RULES, &headers(&format!("bearer {agent}"))).expect_err("denied");
        assert_eq!(denied.code(), Code::PermissionDenied);
        assert!(denied.message().contains("rules.write"), "{}", denied.message());
        assert_eq!(claims.role, Role::Agent);
    }

    #[test]
    fn a_revoked_token_is_refused_and_unknown_paths_unimplemented() {
        let (admin, claims) = token(Role::Admin);
        let guard = guard();
        let authorization = headers(&format!("Bearer {admin}"));
        assert!(guard.admit(RULES, &authorization).is_ok());
        let code =
            guard.admit("/switchboard.router.v1.Router/Nope", &authorization).expect_err("unknown").code();
        assert_eq!(code, Code::Unimplemented);
        let body =
            EventBody::TokenRevoked(TokenRevoked { token_id: claims.jti.clone(), ..Default::default() });
        guard.revocations.apply(&Draft::new("acme", claims.jti, body).build().expect("event"));
        assert_eq!(guard.admit(RULES, &authorization).expect_err("revoked").code(), Code::Unauthenticated);
    }
}
