//! Outbound webhook: each reply POSTed as JSON, with the reply id as `Idempotency-Key`
//! so a receiver can drop the rare resend after a crash mid-request.

use std::time::Duration;

use switchboard_proto::events::v1::{Channel, ReplyRequested};

use crate::Error;

/// How a webhook attempt ended.
pub(crate) enum Attempt {
    Sent,
    /// Worth trying again (network, timeout, 408, 429, 5xx).
    Retry(String),
    /// Refused for good (other 4xx).
    Refused(String),
}

#[derive(Clone)]
pub(crate) struct Webhook {
    target: Option<(reqwest::Client, reqwest::Url)>,
}

impl Webhook {
    pub(crate) fn new(url: Option<&str>, timeout: Duration) -> Result<Self, Error> {
        let Some(url) = url.filter(|url| !url.is_empty()) else {
            return Ok(Self { target: None });
        };
        let parsed = reqwest::Url::parse(url).map_err(|_| Error::WebhookUrl(url.into()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Error::WebhookUrl(url.into()));
        }
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|error| Error::Http(error.to_string()))?;
        Ok(Self { target: Some((client, parsed)) })
    }

    pub(crate) fn is_configured(&self) -> bool {
        self.target.is_some()
    }

    pub(crate) async fn send(&self, reply: &ReplyRequested) -> Attempt {
        let Some((client, url)) = &self.target else {
            return Attempt::Sent;
        };
        let channel = Channel::try_from(reply.channel).unwrap_or(Channel::Unspecified);
        let body = serde_json::json!({
            "reply_id": reply.reply_id,
            "conversation_id": reply.conversation_id,
            "in_reply_to": reply.in_reply_to,
            "customer_id": reply.customer_id,
            "channel": channel.slug(),
            "text": reply.text,
            "article_ids": reply.article_ids,
        });
        let sent =
            client.post(url.clone()).header("Idempotency-Key", &reply.reply_id).json(&body).send().await;
        match sent {
            Err(error) => Attempt::Retry(format!("webhook unreachable: {error}")),
            Ok(response) if response.status().is_success() => Attempt::Sent,
            Ok(response) => {
                let status = response.status();
                let reason = format!("webhook answered {status}");
                let retry = status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429;
                if retry { Attempt::Retry(reason) } else { Attempt::Refused(reason) }
            }
        }
    }
}
