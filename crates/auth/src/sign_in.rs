//! People sign in with a password: an admin sets it (an argon2 hash kept as a `CredentialSet`
//! event, the last one per person counting), the person trades it for a token. Attempts are
//! limited per person and per client address in each process, and a wrong tenant, subject or
//! password get the same answer after the same work.

use std::{net::IpAddr, num::NonZeroU32, time::Duration};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock as _};
use tonic::Status;

use crate::{Role, secret_hash};

/// How long a signed-in person's token lives.
pub const SIGNED_IN_TTL: Duration = Duration::from_secs(12 * 3600);

const MIN_PASSWORD: usize = 12;
const MAX_PASSWORD: usize = 128;

/// A well-formed argon2 hash of nothing anyone knows, verified against when a person is unknown.
const DECOY: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c3dpdGNoYm9hcmRzYWx0$6l3G4uV0UJUuQeX1s8VWmgv8xhbl6ACaeHoy1Z1tZtg";

/// The aggregate id a person's credential events are kept under.
pub fn credential_id(tenant: &str, subject: &str) -> String {
    switchboard_bus::key_id(&format!("credential/{tenant}/{subject}")).to_string()
}

/// An email a person signs in with, in the one form it is kept in (lower case), or why not.
pub fn email_login(text: &str) -> Result<String, Status> {
    let email = text.trim().to_lowercase();
    let well_formed = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.contains('@') && !domain.starts_with('.')
        });
    if well_formed {
        Ok(email)
    } else {
        Err(Status::invalid_argument(format!(
            "email {text:?} is not an email address such as ana@example.com"
        )))
    }
}

/// The credential key an email is kept under (beside the person's own).
pub fn email_key(email: &str) -> String {
    format!("email:{email}")
}

/// The roles a password may be set for: people, not systems or owners.
pub fn person_role(role: &str) -> Result<Role, Status> {
    match role.parse::<Role>().map_err(Status::invalid_argument)? {
        role @ (Role::Agent | Role::Supervisor) => Ok(role),
        other => Err(Status::invalid_argument(format!(
            "a password is for an agent or a supervisor, not a {other}; tokens for systems and admins are issued"
        ))),
    }
}

/// The argon2 hash of an acceptable password.
pub fn hash_password(password: &str) -> Result<String, Status> {
    let length = password.chars().count();
    if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&length) {
        return Err(Status::invalid_argument(format!(
            "a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters"
        )));
    }
    secret_hash::hash(password).map_err(|_| Status::internal("the password could not be hashed"))
}

/// Whether `password` is the one `stored` hashes. Without a stored hash the work is done anyway
/// against a fixed one, so that a missing person answers as slowly as a wrong password.
pub fn verify(stored: Option<&str>, password: &str) -> bool {
    let matched = secret_hash::matches(stored.unwrap_or(DECOY), password);
    matched && stored.is_some()
}

/// Wrong passwords a person may give in a window before signing in waits.
const FAILURES_PER_WINDOW: u32 = 5;
const WINDOW: Duration = Duration::from_secs(60);

/// Sign-in attempts allowed: any attempts per client address (checked first, so a client past
/// its budget costs nobody anything), and wrong passwords per person (so a flood of refused
/// attempts cannot lock a person out, only wrong guesses at them do).
pub struct Attempts {
    clients: DefaultKeyedRateLimiter<IpAddr>,
    failures: std::sync::Mutex<std::collections::HashMap<String, (u32, std::time::Instant)>>,
}

impl Default for Attempts {
    fn default() -> Self {
        let per_minute = Quota::per_minute(NonZeroU32::new(20).unwrap_or(NonZeroU32::MIN));
        Self { clients: RateLimiter::keyed(per_minute), failures: Default::default() }
    }
}

fn waiting(wait: Duration) -> Status {
    Status::resource_exhausted(format!("too many sign-in attempts; try again in {} s", wait.as_secs().max(1)))
}

impl Attempts {
    /// Whether an attempt for `person` from `client` may be checked now (both checks at once).
    #[cfg(test)]
    pub fn admit(&self, person: &str, client: Option<IpAddr>) -> Result<(), Status> {
        self.admit_client(client)?;
        self.admit_person(person)
    }

    /// Whether `client` may make an attempt now (counted as one).
    pub fn admit_client(&self, client: Option<IpAddr>) -> Result<(), Status> {
        if let Some(client) = client {
            let now = self.clients.clock().now();
            self.clients.check_key(&client).map_err(|not_until| waiting(not_until.wait_time_from(now)))?;
        }
        Ok(())
    }

    /// Whether `person` may be tried now (not after too many wrong passwords).
    pub fn admit_person(&self, person: &str) -> Result<(), Status> {
        let failures = self.failures.lock().map_err(|_| Status::internal("sign-in state poisoned"))?;
        match failures.get(person) {
            Some((count, since)) if *count >= FAILURES_PER_WINDOW && since.elapsed() < WINDOW => {
                Err(waiting(WINDOW.saturating_sub(since.elapsed())))
            }
            _ => Ok(()),
        }
    }

    /// Counts a wrong password for `person`; forgets quiet people and clients as it goes.
    pub fn failed(&self, person: &str) {
        let Ok(mut failures) = self.failures.lock() else { return };
        if failures.len() > 10_000 {
            failures.retain(|_, (_, since)| since.elapsed() < WINDOW);
            self.clients.retain_recent();
        }
        let entry = failures.entry(person.to_string()).or_insert((0, std::time::Instant::now()));
        if entry.1.elapsed() >= WINDOW {
            *entry = (0, std::time::Instant::now());
        }
        entry.0 += 1;
    }

    /// A right password clears the person's wrong ones.
    pub fn succeeded(&self, person: &str) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(person);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_email_login_is_kept_in_lower_case_and_must_look_like_an_address() {
        assert_eq!(email_login(" Ana@Example.COM ").ok().as_deref(), Some("ana@example.com"));
        for bad in ["ana", "@example.com", "ana@example", "ana@@example.com", "a na@example.com", "ana@.com"]
        {
            assert!(email_login(bad).is_err(), "{bad}");
        }
        assert_ne!(credential_id("t", &email_key("ana@example.com")), credential_id("t", "ana"));
    }

    #[test]
    fn a_password_verifies_against_its_hash_only() {
        let hash = hash_password("correct horse battery").expect("hashed");
        assert!(verify(Some(&hash), "correct horse battery"));
        assert!(!verify(Some(&hash), "correct horse batterY"));
        assert!(!verify(None, "correct horse battery"));
        let decoy = argon2::password_hash::PasswordHash::new(DECOY);
        assert!(decoy.is_ok(), "the decoy must cost a real verification");
        assert_eq!(hash_password("short").expect_err("short").code(), tonic::Code::InvalidArgument);
    }

    #[test]
    fn only_people_have_passwords() {
        assert_eq!(person_role("agent").ok(), Some(Role::Agent));
        assert!(person_role("admin").is_err() && person_role("service").is_err());
    }

    #[test]
    fn wrong_passwords_are_limited_per_person_and_refused_attempts_cost_nobody() {
        let attempts = Attempts::default();
        let attacker: IpAddr = "192.0.2.66".parse().expect("ip");
        // A client past its own budget is refused before anyone's count moves.
        for _ in 0..20 {
            assert!(attempts.admit("acme/ana", Some(attacker)).is_ok());
        }
        for _ in 0..50 {
            assert!(attempts.admit("acme/ana", Some(attacker)).is_err());
        }
        assert!(attempts.admit("acme/ana", None).is_ok(), "the refused flood did not lock Ana out");
        for _ in 0..5 {
            attempts.failed("acme/ana");
        }
        let refused = attempts.admit("acme/ana", None).expect_err("limited");
        assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
        assert!(attempts.admit("acme/bo", None).is_ok());
        attempts.succeeded("acme/ana");
        assert!(attempts.admit("acme/ana", None).is_ok());
    }
}
