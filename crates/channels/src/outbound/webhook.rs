//! Signed webhooks out: JSON POSTed with `Idempotency-Key` (the delivery id, so a receiver drops
//! the rare resend after a crash mid-request) and, with a secret, `X-Switchboard-Signature`.
//! Only to permitted addresses ([`Destinations`]), never through a proxy, never following a
//! redirect; reasons never name the URL (it may hold a credential).

use std::{net::IpAddr, sync::Arc, time::Duration};

use super::{
    Attempt, Error,
    destination::{Destinations, GuardedResolver, NotPermitted},
};
use crate::signature;

/// A failed request: refused for good when the host may not be reached, else retried. The
/// reason follows the error's causes, without the URL.
fn unreachable(error: reqwest::Error) -> Attempt {
    let mut causes = String::new();
    let mut cause = std::error::Error::source(&error);
    let mut not_permitted = false;
    while let Some(inner) = cause {
        not_permitted |= inner.downcast_ref::<NotPermitted>().is_some();
        causes.push_str(&format!(": {inner}"));
        cause = inner.source();
    }
    let reason = format!("webhook unreachable: {}{causes}", error.without_url());
    if not_permitted { Attempt::Refused(reason) } else { Attempt::Retry(reason) }
}

#[derive(Clone)]
pub struct SignedPost {
    client: reqwest::Client,
    secret: Option<Vec<u8>>,
    destinations: Destinations,
}

impl SignedPost {
    pub fn new(secret: Option<&str>, timeout: Duration, destinations: Destinations) -> Result<Self, Error> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver { destinations: destinations.clone() }))
            .build()
            .map_err(|error| Error::Http(error.without_url().to_string()))?;
        let secret = secret.filter(|s| !s.is_empty()).map(|s| s.as_bytes().to_vec());
        Ok(Self { client, secret, destinations })
    }

    /// Refuses a URL whose host is an address outbound requests may not reach.
    fn check_literal(&self, url: &reqwest::Url) -> Result<(), String> {
        // The URL parser has normalised numeric hosts (`0x7f.1` is `127.0.0.1`).
        let literal = url
            .host_str()
            .map(|host| host.trim_start_matches('[').trim_end_matches(']'))
            .and_then(|host| host.parse::<IpAddr>().ok());
        match literal {
            Some(ip) if !self.destinations.permits(ip) => {
                Err("the webhook's address is private, loopback, link-local or reserved, and not allowed \
                 (SWITCHBOARD_OUTBOUND_ALLOW)"
                    .into())
            }
            _ => Ok(()),
        }
    }

    /// Whether `url` is one this can post to.
    pub fn is_valid_url(url: &str) -> bool {
        reqwest::Url::parse(url).is_ok_and(|url| matches!(url.scheme(), "http" | "https"))
    }

    pub async fn post(&self, url: &str, delivery_id: &str, body: &serde_json::Value) -> Attempt {
        let Some(parsed) =
            reqwest::Url::parse(url).ok().filter(|url| matches!(url.scheme(), "http" | "https"))
        else {
            return Attempt::Refused("the webhook target is not an http(s) URL".into());
        };
        if let Err(reason) = self.check_literal(&parsed) {
            return Attempt::Refused(reason);
        }
        let bytes = body.to_string();
        let mut request = self
            .client
            .post(parsed)
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", delivery_id);
        if let Some(secret) = &self.secret {
            let now = chrono::Utc::now().timestamp();
            request = request.header(signature::HEADER, signature::sign(secret, now, bytes.as_bytes()));
        }
        match request.body(bytes).send().await {
            Err(error) => unreachable(error),
            Ok(response) if response.status().is_success() => Attempt::Sent { external_id: String::new() },
            Ok(response) => {
                let status = response.status();
                let reason = format!("webhook answered {status}");
                let retry = status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429;
                if retry { Attempt::Retry(reason) } else { Attempt::Refused(reason) }
            }
        }
    }
}
