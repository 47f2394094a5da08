//! Tokens: JWTs signed with HS256 under the cluster's shared key (the `jsonwebtoken` crate does
//! the cryptography). A token names its tenant, subject and role, an id to revoke it by, and
//! when it expires.

use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::{MAX_TTL, Role};

const ISSUER: &str = "switchboard";

/// The shortest key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 32;

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub tenant: String,
    pub role: Role,
    /// The token's id, for revocation.
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
}

impl Claims {
    pub fn expires_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.exp, 0).unwrap_or_default()
    }
}

/// What a new token is for.
#[derive(Debug, Clone)]
pub struct Grant {
    pub tenant: String,
    pub subject: String,
    pub role: Role,
    pub ttl: Duration,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the signing key has {0} bytes; it needs at least {MIN_KEY_BYTES}")]
    ShortKey(usize),
    #[error("tenant {0:?}: use 1 to 64 letters, digits, '-' or '_'")]
    BadTenant(String),
    #[error("subject {0:?}: use 1 to 128 letters, digits, '-', '_', '.' or '@'")]
    BadSubject(String),
    #[error("a token lives at least a second and at most 400 days")]
    BadTtl,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid")]
    Invalid,
    #[error("the token cannot be signed")]
    Signing,
}

/// The key tokens are signed and checked with; every process of a cluster holds the same one.
/// During a rotation, previous keys still check tokens they signed (they sign nothing).
#[derive(Clone)]
pub struct Keys {
    encoding: EncodingKey,
    decoding: Vec<DecodingKey>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

impl Keys {
    /// Keys from a shared secret of at least [`MIN_KEY_BYTES`] bytes.
    pub fn from_secret(secret: &[u8]) -> Result<Self, TokenError> {
        if secret.len() < MIN_KEY_BYTES {
            return Err(TokenError::ShortKey(secret.len()));
        }
        Ok(Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: vec![DecodingKey::from_secret(secret)],
        })
    }

    /// Also accepts tokens signed with a previous key, until it is dropped from the settings.
    pub fn with_previous(mut self, secret: &[u8]) -> Result<Self, TokenError> {
        if secret.len() < MIN_KEY_BYTES {
            return Err(TokenError::ShortKey(secret.len()));
        }
        self.decoding.push(DecodingKey::from_secret(secret));
        Ok(self)
    }

    /// Signs a new token; returns it with its claims.
    pub fn issue(&self, grant: &Grant) -> Result<(String, Claims), TokenError> {
        let claims = claims_for(grant, Utc::now())?;
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|_| TokenError::Signing)?;
        Ok((token, claims))
    }

    /// The claims of a token signed with this key, not expired, naming a valid tenant and
    /// subject. Only HS256 is accepted (no `none`, no algorithm confusion).
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = 5;
        let mut refusal = TokenError::Invalid;
        let decoded = self.decoding.iter().find_map(|key| {
            match jsonwebtoken::decode::<Claims>(token, key, &validation) {
                Ok(data) => Some(data.claims),
                Err(error) => {
                    if matches!(error.kind(), jsonwebtoken::errors::ErrorKind::ExpiredSignature) {
                        refusal = TokenError::Expired;
                    }
                    None
                }
            }
        });
        let claims = decoded.ok_or(refusal)?;
        if !valid_tenant(&claims.tenant) || !valid_subject(&claims.sub) {
            return Err(TokenError::Invalid);
        }
        Ok(claims)
    }
}

fn claims_for(grant: &Grant, now: DateTime<Utc>) -> Result<Claims, TokenError> {
    if !valid_tenant(&grant.tenant) {
        return Err(TokenError::BadTenant(grant.tenant.clone()));
    }
    if !valid_subject(&grant.subject) {
        return Err(TokenError::BadSubject(grant.subject.clone()));
    }
    if grant.ttl < Duration::from_secs(1) || grant.ttl > MAX_TTL {
        return Err(TokenError::BadTtl);
    }
    let ttl = i64::try_from(grant.ttl.as_secs()).map_err(|_| TokenError::BadTtl)?;
    Ok(Claims {
        iss: ISSUER.into(),
        sub: grant.subject.clone(),
        tenant: grant.tenant.clone(),
        role: grant.role,
        jti: uuid::Uuid::now_v7().to_string(),
        iat: now.timestamp(),
        exp: now.timestamp() + ttl,
    })
}

/// 1 to 64 ASCII letters, digits, '-' or '_'.
pub fn valid_tenant(tenant: &str) -> bool {
    (1..=64).contains(&tenant.len())
        && tenant.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// 1 to 128 ASCII letters, digits, '-', '_', '.' or '@' (an agent id, an email, a system's name).
pub fn valid_subject(subject: &str) -> bool {
    (1..=128).contains(&subject.len())
        && subject.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secret: &str) -> Keys {
        Keys::from_secret(secret.as_bytes()).expect("key")
    }

    fn grant() -> Grant {
        Grant {
            tenant: "acme".into(),
            subject: "ana".into(),
            role: Role::Agent,
            ttl: Duration::from_secs(60),
        }
    }

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn a_token_round_trips_its_claims() {
        let (token, claims) = keys(KEY).issue(&grant()).expect("issued");
        let read = keys(KEY).verify(&token).expect("valid");
        assert_eq!(read, claims);
        assert_eq!((read.tenant.as_str(), read.sub.as_str(), read.role), ("acme", "ana", Role::Agent));
    }

    #[test]
    fn refuses_other_keys_tampering_and_expiry() {
        let (token, _) = keys(KEY).issue(&grant()).expect("issued");
        assert_eq!(keys("another key, also of 32 bytes!!!").verify(&token), Err(TokenError::Invalid));
        // The same signature over claims that name another tenant.
        let (other, _) = keys(KEY).issue(&Grant { tenant: "globex".into(), ..grant() }).expect("issued");
        let forged: Vec<&str> = vec![
            token.split('.').next().expect("header"),
            other.split('.').nth(1).expect("claims"),
            token.split('.').nth(2).expect("signature"),
        ];
        assert_eq!(keys(KEY).verify(&forged.join(".")), Err(TokenError::Invalid));
        assert_eq!(keys(KEY).verify("not a token"), Err(TokenError::Invalid));
        let old = claims_for(&grant(), Utc::now() - chrono::Duration::hours(1)).expect("claims");
        let expired =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &old, &keys(KEY).encoding).expect("signed");
        assert_eq!(keys(KEY).verify(&expired), Err(TokenError::Expired));
    }

    #[test]
    fn a_previous_key_still_checks_its_tokens_during_a_rotation() {
        let old = "the old key of the cluster, 32 bytes+";
        let (token, _) = keys(old).issue(&grant()).expect("issued");
        assert_eq!(keys(KEY).verify(&token), Err(TokenError::Invalid));
        let rotated = keys(KEY).with_previous(old.as_bytes()).expect("previous");
        assert!(rotated.verify(&token).is_ok());
        let (new, _) = rotated.issue(&grant()).expect("issued");
        assert!(keys(KEY).verify(&new).is_ok(), "new tokens are signed with the current key");
        assert!(keys(KEY).with_previous(b"short").is_err());
    }

    #[test]
    fn refuses_an_unsigned_token() {
        let (token, _) = keys(KEY).issue(&grant()).expect("issued");
        let payload = token.split('.').nth(1).expect("payload");
        // {"alg":"none","typ":"JWT"}
        let unsigned = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
        assert_eq!(keys(KEY).verify(&unsigned), Err(TokenError::Invalid));
    }

    #[test]
    fn refuses_short_keys_and_bad_grants() {
        assert_eq!(Keys::from_secret(b"short").err(), Some(TokenError::ShortKey(5)));
        let issue = |change: fn(&mut Grant)| {
            let mut grant = grant();
            change(&mut grant);
            keys(KEY).issue(&grant).err()
        };
        assert_eq!(issue(|g| g.tenant = "a.b".into()), Some(TokenError::BadTenant("a.b".into())));
        assert_eq!(issue(|g| g.subject = String::new()), Some(TokenError::BadSubject(String::new())));
        assert_eq!(issue(|g| g.ttl = MAX_TTL + Duration::from_secs(1)), Some(TokenError::BadTtl));
        assert_eq!(issue(|g| g.ttl = Duration::ZERO), Some(TokenError::BadTtl));
    }
}
