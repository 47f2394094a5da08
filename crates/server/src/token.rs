//! `switchboard token issue|revoke|key`: tokens for the API. Issuing signs offline with the
//! cluster key; revoking goes through the API (an admin's `SWITCHBOARD_TOKEN`), so every replica
//! learns of it from the bus. The flags and the last line of `issue` are a contract.

use std::{path::PathBuf, time::Duration};

use anyhow::Context as _;
use base64::Engine as _;
use clap::{Args, Subcommand};
use switchboard_auth::{DEFAULT_TTL, Grant, Keys, Role};
use switchboard_proto::auth::v1::{RevokeTokenRequest, auth_client::AuthClient};

use crate::api::ApiArgs;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Sign a token with the cluster key; prints its id, tenant, subject, role and expiry, then
    /// the token itself on the last line.
    Issue {
        #[arg(long)]
        tenant: String,
        /// service, agent, supervisor or admin.
        #[arg(long)]
        role: Role,
        /// Who holds it: an agent's id, a system's name; the role's name when unset.
        #[arg(long)]
        subject: Option<String>,
        /// Lifetime, e.g. `90d`, `12h`, `30m`, `3600s` (at most 400d).
        #[arg(long, default_value = "90d", value_parser = parse_ttl)]
        ttl: Duration,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Revoke a token by its id, through the API (needs an admin's SWITCHBOARD_TOKEN).
    Revoke {
        id: String,
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Print a new random key (48 bytes, base64) for SWITCHBOARD_AUTH_KEY.
    Key,
}

/// The cluster's signing key, from the environment (`SWITCHBOARD_AUTH_KEY`, never a flag: argv
/// is visible to every user of the machine) or a file.
#[derive(Clone, Args)]
pub struct KeyArgs {
    #[arg(skip = std::env::var("SWITCHBOARD_AUTH_KEY").ok())]
    pub auth_key: Option<String>,
    /// During a rotation, the previous key (`SWITCHBOARD_AUTH_KEY_PREVIOUS`): it still checks
    /// the tokens it signed, and signs nothing.
    #[arg(skip = std::env::var("SWITCHBOARD_AUTH_KEY_PREVIOUS").ok())]
    pub auth_key_previous: Option<String>,
    /// A file holding that secret (surrounding whitespace ignored), e.g. a mounted Secret.
    #[arg(long, env = "SWITCHBOARD_AUTH_KEY_FILE")]
    pub auth_key_file: Option<PathBuf>,
}

impl std::fmt::Debug for KeyArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyArgs")
            .field("auth_key", &self.auth_key.as_ref().map(|_| "***"))
            .field("auth_key_previous", &self.auth_key_previous.as_ref().map(|_| "***"))
            .field("auth_key_file", &self.auth_key_file)
            .finish()
    }
}

impl KeyArgs {
    /// The keys, if a secret was given; a short or unreadable one is an error.
    pub fn keys(&self) -> anyhow::Result<Option<Keys>> {
        let secret = match (&self.auth_key, &self.auth_key_file) {
            (Some(key), _) if !key.is_empty() => key.clone().into_bytes(),
            (_, Some(path)) if !path.as_os_str().is_empty() => {
                let text = std::fs::read(path)
                    .with_context(|| format!("cannot read the auth key file {}", path.display()))?;
                text.trim_ascii().to_vec()
            }
            _ => return Ok(None),
        };
        let keys = Keys::from_secret(&secret).context("SWITCHBOARD_AUTH_KEY")?;
        match self.auth_key_previous.as_deref().filter(|previous| !previous.is_empty()) {
            Some(previous) => {
                Ok(Some(keys.with_previous(previous.as_bytes()).context("SWITCHBOARD_AUTH_KEY_PREVIOUS")?))
            }
            None => Ok(Some(keys)),
        }
    }

    pub fn required(&self) -> anyhow::Result<Keys> {
        self.keys()?.context("no auth key: set SWITCHBOARD_AUTH_KEY or SWITCHBOARD_AUTH_KEY_FILE")
    }
}

pub async fn run(command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Issue { tenant, role, subject, ttl, key } => {
            let subject = subject.unwrap_or_else(|| role.name().to_string());
            let grant = Grant { tenant, subject, role, ttl };
            let (token, claims) = key.required()?.issue(&grant)?;
            println!("id: {}", claims.jti);
            println!("tenant: {}\nsubject: {}\nrole: {}", claims.tenant, claims.sub, claims.role);
            println!("expires: {}", claims.expires_at().to_rfc3339());
            println!("{token}");
            Ok(())
        }
        TokenCommand::Revoke { id, reason, api } => {
            let mut client = AuthClient::new(api.connect().await?);
            let revoked = client.revoke_token(RevokeTokenRequest { token_id: id.clone(), reason }).await?;
            let what = if revoked.into_inner().revoked { "revoked" } else { "was already revoked" };
            println!("token {id} {what}");
            Ok(())
        }
        TokenCommand::Key => {
            let mut secret = [0u8; 48];
            getrandom::fill(&mut secret).map_err(|error| anyhow::anyhow!("no randomness: {error}"))?;
            println!("{}", base64::engine::general_purpose::STANDARD.encode(secret));
            Ok(())
        }
    }
}

/// `90d`, `12h`, `30m`, `45s`, or plain seconds.
fn parse_ttl(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let number: u64 =
        number.parse().map_err(|_| format!("{text:?}: give a number and d, h, m or s, e.g. 90d"))?;
    let seconds = match unit {
        "d" => number.checked_mul(86_400),
        "h" => number.checked_mul(3_600),
        "m" => number.checked_mul(60),
        "s" => Some(number),
        _ => None,
    }
    .ok_or_else(|| format!("{text:?}: give a number and d, h, m or s, e.g. 90d"))?;
    let ttl = Duration::from_secs(seconds);
    if ttl.is_zero() || ttl > switchboard_auth::MAX_TTL {
        return Err(format!("{text:?}: a token lives at least 1s and at most 400d"));
    }
    Ok(ttl)
}

/// The default lifetime, for help texts and docs.
pub const DEFAULT_TTL_TEXT: &str = "90d";
const _: () = assert!(DEFAULT_TTL.as_secs() == 90 * 86_400);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lifetimes() {
        assert_eq!(parse_ttl("90d"), Ok(Duration::from_secs(90 * 86_400)));
        assert_eq!(parse_ttl("12h"), Ok(Duration::from_secs(12 * 3_600)));
        assert_eq!(parse_ttl("3600"), Ok(Duration::from_secs(3_600)));
        assert!(parse_ttl("0s").is_err());
        assert!(parse_ttl("401d").expect_err("too long").contains("400d"));
        assert!(parse_ttl("1w").is_err());
        assert!(parse_ttl("99999999999999999999d").is_err());
    }
}
