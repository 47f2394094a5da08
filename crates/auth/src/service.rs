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
    sign_in::{
        Attempts, SIGNED_IN_TTL, credential_id, email_key, email_login, hash_password, person_role, verify,
    },
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

    /// The credential last kept under `key` (a person's id, or [`email_key`]), if any.
    async fn credential(&self, tenant: &str, key: &str) -> Result<Option<CredentialSet>, Status> {
        if !switchboard_bus::is_tenant(tenant) {
            return Ok(None);
        }
        let found = self.bus.last_event_of("credential", tenant, &credential_id(tenant, key)).await.map_err(
            |error| {
                tracing::error!(%error, "credentials unreadable");
                Status::unavailable("sign-in is unavailable; try again")
            },
        )?;
        Ok(found.and_then(|(event, _)| match event.body {
            Some(Body::CredentialSet(set)) if event.tenant == tenant => Some(set),
            _ => None,
        }))
    }

    /// The password hash last set for a person, if any.
    async fn stored_hash(&self, tenant: &str, subject: &str) -> Result<Option<(String, Role)>, Status> {
        let set = self.credential(tenant, subject).await?.filter(|set| set.subject == subject);
        Ok(set.and_then(|set| set.role.parse().ok().map(|role| (set.password_hash, role))))
    }

    /// The person a sign-in name names: an email set with a password names its person; anything
    /// else is taken as the person's id.
    async fn person_named(&self, tenant: &str, name: &str) -> Result<Option<String>, Status> {
        if !name.contains('@') {
            return Ok(is_aggregate_id(name).then(|| name.to_string()));
        }
        let Ok(email) = email_login(name) else { return Ok(None) };
        let alias = self.credential(tenant, &email_key(&email)).await?;
        Ok(alias.map(|alias| alias.subject).filter(|subject| !subject.is_empty()))
    }

    /// Keeps `email` as `subject`'s sign-in name, unless it is another person's.
    async fn keep_email(&self, tenant: &str, subject: &str, email: &str, by: &str) -> Result<(), Status> {
        let taken = |set: &CredentialSet| !set.subject.is_empty() && set.subject != subject;
        if let Some(other) = self.credential(tenant, &email_key(email)).await?.filter(taken) {
            return Err(Status::already_exists(format!(
                "{email} is the sign-in of {:?} already",
                other.subject
            )));
        }
        let alias = Body::CredentialSet(CredentialSet {
            subject: subject.into(),
            email: email.into(),
            set_by: by.into(),
            ..CredentialSet::default()
        });
        self.record(Draft::new(tenant, credential_id(tenant, &email_key(email)), alias), "email").await?;
        Ok(())
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
        let SetPasswordRequest { subject, role, password, email } = request.into_inner();
        let role = person_role(&role)?;
        if !is_aggregate_id(&subject) {
            return Err(Status::invalid_argument("subject: the agent's id (letters, digits, '-', '_')"));
        }
        let password_hash = hash_password(&password)?;
        let before =
            self.credential(&caller.tenant, &subject).await?.map(|set| set.email).unwrap_or_default();
        let email = match email.trim() {
            // None given: the one set before stays.
            "" => before.clone(),
            given => email_login(given)?,
        };
        if !email.is_empty() {
            self.keep_email(&caller.tenant, &subject, &email, &caller.subject).await?;
        }
        let still_theirs =
            |alias: &Option<CredentialSet>| alias.as_ref().is_some_and(|set| set.subject == subject);
        if !before.is_empty()
            && before != email
            && still_theirs(&self.credential(&caller.tenant, &email_key(&before)).await?)
        {
            // The email given up signs nobody in any more (and is free for someone else).
            let freed =
                Body::CredentialSet(CredentialSet { email: before.clone(), ..CredentialSet::default() });
            let draft = Draft::new(&caller.tenant, credential_id(&caller.tenant, &email_key(&before)), freed);
            self.record(draft, "email").await?;
        }
        let body = Body::CredentialSet(CredentialSet {
            subject: subject.clone(),
            role: role.name().into(),
            password_hash,
            set_by: caller.subject.clone(),
            email,
        });
        let draft = Draft::new(&caller.tenant, credential_id(&caller.tenant, &subject), body);
        self.record(draft, "password").await?;
        tracing::info!(tenant = caller.tenant, by = caller.subject, subject, role = %role, "password set");
        Ok(Response::new(SetPasswordResponse {}))
    }

    async fn sign_in(&self, request: Request<SignInRequest>) -> Result<Response<IssuedToken>, Status> {
        let client = request.remote_addr().map(|address| address.ip());
        let SignInRequest { tenant, subject: name, password } = request.into_inner();
        let refused = || Status::unauthenticated("wrong tenant, subject or password");
        if !valid_tenant(&tenant) || name.len() > 254 || password.len() > 1024 {
            return Err(refused());
        }
        self.attempts.admit_client(client)?;
        let found = self.person_named(&tenant, &name).await?;
        // Whoever the name turns out to be, the attempt counts against it (an email that names
        // nobody counts against itself).
        let person = format!("{tenant}/{}", found.as_deref().unwrap_or(name.as_str()));
        self.attempts.admit_person(&person)?;
        let subject = found.unwrap_or_default();
        // Nobody found still reads a credential (none can be kept under an empty id), so that a
        // known email and an unknown one take the same work.
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
