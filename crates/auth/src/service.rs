//! `switchboard.auth.v1.Auth`: who a token names, issuing tokens for one's tenant, revoking.

use std::time::Duration;

use switchboard_bus::{Bus, Draft, Published, is_aggregate_id};
use switchboard_proto::{
    auth::v1::{
        Identity, IssueTokenRequest, IssuedToken, RevokeTokenRequest, RevokeTokenResponse,
        SetPasswordRequest, SetPasswordResponse, SignInRequest, WhoAmIRequest,
        auth_server::{self, AuthServer},
    },
    events::v1::{CredentialSet, Event, TokenIssued, TokenRevoked, event::Body},
    time::to_timestamp,
};
use tonic::{Request, Response, Status};

use crate::{
    Caller, DEFAULT_TTL, Grant, Keys, Revocations, Role, TokenError,
    sign_in::{Attempts, SIGNED_IN_TTL, credential_id, hash_password, person_role, verify},
    valid_tenant,
};

/// The Auth API over the cluster key, the bus (revocations, credentials) and this process's
/// revocation set and sign-in budgets.
pub struct AuthApi {
    keys: Keys,
    bus: Bus,
    revocations: Revocations,
    attempts: Attempts,
}

impl AuthApi {
    pub fn server(keys: Keys, bus: Bus, revocations: Revocations) -> AuthServer<Self> {
        AuthServer::new(Self { keys, bus, revocations, attempts: Attempts::default() })
    }

    /// Publishes an event of this API; `what` names it in the answer when the bus cannot take it.
    async fn record(&self, draft: Draft, what: &str) -> Result<(Event, Published), Status> {
        let event = draft.build().map_err(|error| Status::internal(error.to_string()))?;
        let published = self.bus.publish(&event).await.map_err(|error| {
            tracing::error!(%error, what, "not recorded");
            Status::unavailable(format!("the {what} could not be recorded; try again"))
        })?;
        Ok((event, published))
    }

    /// The password hash last set for a person, if any.
    async fn stored_hash(&self, tenant: &str, subject: &str) -> Result<Option<(String, Role)>, Status> {
        if !switchboard_bus::is_tenant(tenant) {
            return Ok(None);
        }
        let found =
            self.bus.last_event_of("credential", tenant, &credential_id(tenant, subject)).await.map_err(
                |error| {
                    tracing::error!(%error, "credentials unreadable");
                    Status::unavailable("sign-in is unavailable; try again")
                },
            )?;
        Ok(found.and_then(|(event, _)| match event.body {
            Some(Body::CredentialSet(set)) if event.tenant == tenant && set.subject == subject => {
                set.role.parse().ok().map(|role| (set.password_hash, role))
            }
            _ => None,
        }))
    }
}

fn identity(caller: &Caller) -> Identity {
    Identity {
        tenant: caller.tenant.clone(),
        subject: caller.subject.clone(),
        role: caller.role.name().into(),
        token_id: caller.token_id.clone(),
        expires_at: Some(to_timestamp(caller.expires_at)),
        rights: caller.role.rights().into_iter().map(String::from).collect(),
    }
}

/// The asked lifetime (the default for 0), no longer than what is left of the caller's token.
fn ttl(seconds: &u64, caller: &Caller) -> Result<Duration, Status> {
    let asked = if *seconds == 0 { DEFAULT_TTL } else { Duration::from_secs(*seconds) };
    let left = (caller.expires_at - chrono::Utc::now()).to_std().unwrap_or_default();
    if left.is_zero() {
        return Err(Status::unauthenticated("the token has expired"));
    }
    Ok(asked.min(left))
}

fn token_status(error: TokenError) -> Status {
    match error {
        TokenError::Signing => Status::internal("the token could not be signed"),
        other => Status::invalid_argument(other.to_string()),
    }
}

#[tonic::async_trait]
impl auth_server::Auth for AuthApi {
    async fn who_am_i(&self, request: Request<WhoAmIRequest>) -> Result<Response<Identity>, Status> {
        Ok(Response::new(identity(&Caller::of(&request)?)))
    }

    async fn issue_token(
        &self,
        request: Request<IssueTokenRequest>,
    ) -> Result<Response<IssuedToken>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let role: Role = request.role.parse().map_err(Status::invalid_argument)?;
        if role == Role::Admin {
            return Err(Status::permission_denied(
                "admin tokens are signed offline with the cluster key (switchboard token issue)",
            ));
        }
        let grant = Grant {
            tenant: caller.tenant.clone(),
            subject: request.subject,
            role,
            ttl: ttl(&request.ttl_seconds, &caller)?,
        };
        let (token, claims) = self.keys.issue(&grant).map_err(token_status)?;
        let issued = Body::TokenIssued(TokenIssued {
            token_id: claims.jti.clone(),
            subject: claims.sub.clone(),
            role: role.name().into(),
            expires_at: Some(to_timestamp(claims.expires_at())),
            issued_by: caller.subject.clone(),
            issued_by_token: caller.token_id.clone(),
        });
        self.record(Draft::new(&caller.tenant, &claims.jti, issued), "new token").await?;
        tracing::info!(
            tenant = caller.tenant, by = caller.subject, token_id = claims.jti, subject = claims.sub,
            role = %role, expires = %claims.expires_at(), "token issued"
        );
        Ok(Response::new(IssuedToken { token, identity: Some(identity(&Caller::from(claims))) }))
    }

    async fn revoke_token(
        &self,
        request: Request<RevokeTokenRequest>,
    ) -> Result<Response<RevokeTokenResponse>, Status> {
        let caller = Caller::of(&request)?;
        let RevokeTokenRequest { token_id, reason } = request.into_inner();
        if !is_aggregate_id(&token_id) {
            return Err(Status::invalid_argument("token_id: give the id `switchboard token issue` printed"));
        }
        let already = self.revocations.is_revoked(&caller.tenant, &token_id);
        let body = Body::TokenRevoked(TokenRevoked {
            token_id: token_id.clone(),
            revoked_by: caller.subject.clone(),
            reason: reason.chars().take(500).collect(),
        });
        let draft = Draft::new(&caller.tenant, &token_id, body)
            .keyed(format!("token-revoked/{}/{token_id}", caller.tenant));
        let (event, published) = self.record(draft, "revocation").await?;
        self.revocations.apply(&event);
        tracing::info!(tenant = caller.tenant, by = caller.subject, "token revocation recorded");
        Ok(Response::new(RevokeTokenResponse { revoked: !already && !published.duplicate }))
    }

    async fn set_password(
        &self,
        request: Request<SetPasswordRequest>,
    ) -> Result<Response<SetPasswordResponse>, Status> {
        let caller = Caller::of(&request)?;
        let SetPasswordRequest { subject, role, password } = request.into_inner();
        let role = person_role(&role)?;
        if !is_aggregate_id(&subject) {
            return Err(Status::invalid_argument("subject: the agent's id (letters, digits, '-', '_')"));
        }
        let body = Body::CredentialSet(CredentialSet {
            subject: subject.clone(),
            role: role.name().into(),
            password_hash: hash_password(&password)?,
            set_by: caller.subject.clone(),
        });
        let draft = Draft::new(&caller.tenant, credential_id(&caller.tenant, &subject), body);
        self.record(draft, "password").await?;
        tracing::info!(tenant = caller.tenant, by = caller.subject, subject, role = %role, "password set");
        Ok(Response::new(SetPasswordResponse {}))
    }

    async fn sign_in(&self, request: Request<SignInRequest>) -> Result<Response<IssuedToken>, Status> {
        let client = request.remote_addr().map(|address| address.ip());
        let SignInRequest { tenant, subject, password } = request.into_inner();
        let refused = || Status::unauthenticated("wrong tenant, subject or password");
        if !valid_tenant(&tenant) || !is_aggregate_id(&subject) || password.len() > 1024 {
            return Err(refused());
        }
        let person = format!("{tenant}/{subject}");
        self.attempts.admit(&person, client)?;
        let stored = self.stored_hash(&tenant, &subject).await?;
        let hash = stored.as_ref().map(|(hash, _)| hash.clone());
        // argon2 takes tens of milliseconds of CPU: off the async workers.
        let matched = tokio::task::spawn_blocking(move || verify(hash.as_deref(), &password))
            .await
            .map_err(|_| Status::internal("the password check failed"))?;
        if !matched {
            self.attempts.failed(&person);
            tracing::info!(tenant, "sign-in refused");
            return Err(refused());
        }
        self.attempts.succeeded(&person);
        let role = stored.map_or(Role::Agent, |(_, role)| role);
        let grant = Grant { tenant, subject, role, ttl: SIGNED_IN_TTL };
        let (token, claims) = self.keys.issue(&grant).map_err(token_status)?;
        tracing::info!(tenant = claims.tenant, token_id = claims.jti, role = %role, "signed in");
        Ok(Response::new(IssuedToken { token, identity: Some(identity(&Caller::from(claims))) }))
    }
}
