//! Signed webhooks out: JSON POSTed with `Idempotency-Key` (the delivery id, so a receiver drops
//! the rare resend after a crash mid-request) and, with a secret, `X-Switchboard-Signature`.

use std::time::Duration;

use super::{Attempt, Error};
use crate::signature;

#[derive(Clone)]
pub struct SignedPost {
    client: reqwest::Client,
    secret: Option<Vec<u8>>,
}

impl SignedPost {
    pub fn new(secret: Option<&str>, timeout: Duration) -> Result<Self, Error> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|error| Error::Http(error.to_string()))?;
        Ok(Self { client, secret: secret.filter(|s| !s.is_empty()).map(|s| s.as_bytes().to_vec()) })
    }

    /// Whether `url` is one this can post to.
    pub fn is_valid_url(url: &str) -> bool {
        reqwest::Url::parse(url).is_ok_and(|url| matches!(url.scheme(), "http" | "https"))
    }

    pub async fn post(&self, url: &str, delivery_id: &str, body: &serde_json::Value) -> Attempt {
        if !Self::is_valid_url(url) {
            return Attempt::Refused(format!("{url:?} is not an http(s) URL"));
        }
        let bytes = body.to_string();
        let mut request = self
            .client
            .post(url)
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", delivery_id);
        if let Some(secret) = &self.secret {
            let now = chrono::Utc::now().timestamp();
            request = request.header(signature::HEADER, signature::sign(secret, now, bytes.as_bytes()));
        }
        match request.body(bytes).send().await {
            Err(error) => Attempt::Retry(format!("webhook unreachable: {error}")),
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
