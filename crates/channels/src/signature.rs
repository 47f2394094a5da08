//! Signed webhooks, both ways: `X-Switchboard-Signature: t=<unix seconds>,v1=<hex>` where the hex is
//! HMAC-SHA256 of `"<t>.<body>"` under the shared secret. The timestamp bounds replays.

use hmac::{Hmac, Mac as _};
use sha2::Sha256;

/// The header carrying the signature.
pub const HEADER: &str = "X-Switchboard-Signature";
/// How far a signature's timestamp may be from now, in seconds.
pub const TOLERANCE_SECS: i64 = 300;

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("missing {HEADER} header")]
    Missing,
    #[error("malformed {HEADER} header; expected t=<unix seconds>,v1=<hex hmac-sha256>")]
    Malformed,
    #[error("signature timestamp is more than {TOLERANCE_SECS} s from now")]
    Stale,
    #[error("signature does not match the body")]
    Mismatch,
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("hmac takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header value signing `body` at `timestamp`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let digest = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex::encode(digest))
}

/// Signatures a header may carry (one per secret during a rotation); more is malformed.
const MAX_SIGNATURES: usize = 4;

/// A well-formed, fresh signature header, not yet checked against a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    timestamp: i64,
    signatures: Vec<Vec<u8>>,
}

impl Claimed {
    /// Whether it signs `body`; the body's MAC is computed once, whatever the header holds.
    pub fn signs(&self, secret: &[u8], body: &[u8]) -> Result<(), Refusal> {
        let expected = mac(secret, self.timestamp, body).finalize().into_bytes();
        let matches = self.signatures.iter().any(|given| same(given, &expected));
        if matches { Ok(()) } else { Err(Refusal::Mismatch) }
    }
}

/// Checks a header value against `body`, at time `now` (unix seconds).
pub fn verify(secret: &[u8], header: Option<&str>, body: &[u8], now: i64) -> Result<(), Refusal> {
    claimed(header, now)?.signs(secret, body)
}

/// The header's timestamp and signatures, refused when missing, malformed or stale: checked
/// before a body is read, so an unsigned flood costs no buffering.
pub fn claimed(header: Option<&str>, now: i64) -> Result<Claimed, Refusal> {
    let header = header.ok_or(Refusal::Missing)?;
    let (mut timestamp, mut signatures) = (None, Vec::new());
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = Some(value.parse::<i64>().map_err(|_| Refusal::Malformed)?),
            Some(("v1", value)) if signatures.len() < MAX_SIGNATURES && value.len() == 64 => {
                signatures.push(hex::decode(value).map_err(|_| Refusal::Malformed)?);
            }
            Some(("v1", _)) => return Err(Refusal::Malformed),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(Refusal::Malformed)?;
    if signatures.is_empty() {
        return Err(Refusal::Malformed);
    }
    if now.abs_diff(timestamp) > TOLERANCE_SECS.unsigned_abs() {
        return Err(Refusal::Stale);
    }
    Ok(Claimed { timestamp, signatures })
}

/// A signed-in customer's chat identity: HMAC-SHA256 of their id under the site's identity secret
/// (what the company's server computes for the widget's `data-user-hash`).
pub fn identity(secret: &[u8], customer_id: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("hmac takes keys of any length");
    mac.update(customer_id.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The key survey links are signed with, derived from the inbound webhook secret (which gateways
/// know) and the outbound signing secret (which webhook receivers know), so that neither alone
/// can forge a rating.
pub fn survey_secret(webhook_secret: &str, signing_secret: Option<&str>) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(webhook_secret.as_bytes()).expect("hmac takes keys of any length");
    mac.update(b"switchboard survey links\0");
    mac.update(signing_secret.unwrap_or_default().as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The token of a survey link: the tenant, the conversation id and a MAC of both, so that only
/// the customer who got the link can rate that conversation, with nothing stored to look it up.
pub fn survey_token(secret: &[u8], tenant: &str, conversation_id: &str) -> String {
    let named = format!("{tenant}.{conversation_id}");
    format!("{named}.{}", survey_mac(secret, &named))
}

fn survey_mac(secret: &[u8], named: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("hmac takes keys of any length");
    mac.update(b"survey:");
    mac.update(named.as_bytes());
    hex::encode(mac.finalize().into_bytes())[..32].to_string()
}

/// The tenant and conversation a survey token is for, if the token is genuine. Links sent before
/// tokens named a tenant (`conversation.mac`) are the default tenant's.
pub fn survey_conversation(secret: &[u8], token: &str) -> Option<(String, String)> {
    let (named, _) = token.rsplit_once('.')?;
    let genuine = format!("{named}.{}", survey_mac(secret, named));
    if !same(genuine.as_bytes(), token.as_bytes()) {
        return None;
    }
    match named.split_once('.') {
        Some((tenant, conversation)) => Some((tenant.to_string(), conversation.to_string())),
        None => Some((switchboard_bus::DEFAULT_TENANT.to_string(), named.to_string())),
    }
}

/// Whether two signatures are equal, compared in full (no early exit that timing could reveal).
pub fn same(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len() && given.iter().zip(expected).fold(0, |d, (a, b)| d | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test";

    #[test]
    fn a_signed_body_verifies() {
        let header = sign(SECRET, 1_700_000_000, b"{\"a\":1}");
        assert_eq!(verify(SECRET, Some(&header), b"{\"a\":1}", 1_700_000_100), Ok(()));
    }

    #[test]
    fn the_survey_key_needs_both_secrets() {
        let key = survey_secret("inbound", Some("outbound"));
        assert_eq!(key, survey_secret("inbound", Some("outbound")));
        assert_ne!(key, survey_secret("inbound", Some("other")));
        assert_ne!(key, survey_secret("other", Some("outbound")));
        assert_ne!(key, "inbound");
    }

    #[test]
    fn survey_tokens_name_their_conversation_and_resist_forgery() {
        let token = survey_token(SECRET, "acme", "conv-1");
        let named = |tenant: &str, conversation: &str| Some((tenant.to_string(), conversation.to_string()));
        assert_eq!(survey_conversation(SECRET, &token), named("acme", "conv-1"));
        assert_eq!(survey_conversation(b"other", &token), None);
        assert_eq!(survey_conversation(SECRET, &token.replace("conv-1", "conv-2")), None);
        assert_eq!(survey_conversation(SECRET, &token.replace("acme", "globex")), None);
        assert_eq!(survey_conversation(SECRET, "garbage"), None);
        let before_tenants = format!("conv-1.{}", survey_mac(SECRET, "conv-1"));
        assert_eq!(survey_conversation(SECRET, &before_tenants), named("default", "conv-1"));
    }

    #[test]
    fn tampering_staleness_and_garbage_are_refused() {
        let header = sign(SECRET, 1_700_000_000, b"body");
        assert_eq!(verify(SECRET, Some(&header), b"body!", 1_700_000_000), Err(Refusal::Mismatch));
        assert_eq!(verify(b"other", Some(&header), b"body", 1_700_000_000), Err(Refusal::Mismatch));
        assert_eq!(verify(SECRET, Some(&header), b"body", 1_700_001_000), Err(Refusal::Stale));
        assert_eq!(verify(SECRET, None, b"body", 0), Err(Refusal::Missing));
        assert_eq!(verify(SECRET, Some("v1=zz"), b"body", 0), Err(Refusal::Malformed));
        assert_eq!(verify(SECRET, Some("t=1"), b"body", 1), Err(Refusal::Malformed));
        let flood = format!("t=1,{}", vec!["v1="; 100_000].join(","));
        assert_eq!(verify(SECRET, Some(&flood), b"body", 1), Err(Refusal::Malformed));
        let many = format!("t=1,{}", vec![format!("v1={}", "0".repeat(64)); 5].join(","));
        assert_eq!(verify(SECRET, Some(&many), b"body", 1), Err(Refusal::Malformed));
        let stale_min = format!("t={},v1={}", i64::MIN, "0".repeat(64));
        assert_eq!(verify(SECRET, Some(&stale_min), b"body", i64::MAX), Err(Refusal::Stale));
    }
}
