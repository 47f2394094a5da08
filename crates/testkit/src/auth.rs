//! Tokens for tests: one fixed test key, and tokens of any tenant, role and subject signed with it.

use std::time::Duration;

use switchboard_auth::{Credentials, Grant, Keys, Role};

/// The key test clusters sign and check tokens with (never used outside tests).
pub const TEST_AUTH_KEY: &str = "switchboard-test-key-never-used-in-production";

pub fn auth_keys() -> Keys {
    Keys::from_secret(TEST_AUTH_KEY.as_bytes()).expect("the test key is long enough")
}

/// A token of `tenant` for `subject` in `role`, valid for an hour.
pub fn token(tenant: &str, role: Role, subject: &str) -> String {
    let grant =
        Grant { tenant: tenant.into(), subject: subject.into(), role, ttl: Duration::from_secs(3600) };
    auth_keys().issue(&grant).expect("test grants are valid").0
}

/// Credentials carrying [`token`].
pub fn credentials(tenant: &str, role: Role, subject: &str) -> Credentials {
    Credentials::bearer(&token(tenant, role, subject)).expect("tokens are header-safe")
}
