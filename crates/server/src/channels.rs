//! `serve` settings of the channels and the notifier: listeners, secrets, relays, targets.

use std::{collections::BTreeMap, net::SocketAddr, path::PathBuf};

use anyhow::Context as _;
use clap::Args;

#[derive(Debug, Args)]
pub struct ChannelArgs {
    /// The channels' HTTP listener: signed webhooks (email inbound-parse, social, SMS).
    #[arg(long, env = "SWITCHBOARD_HTTP_ADDR", default_value = "127.0.0.1:8080")]
    pub http_addr: SocketAddr,
    /// The SMTP listener for inbound email.
    #[arg(long, env = "SWITCHBOARD_SMTP_ADDR", default_value = "127.0.0.1:2525")]
    pub smtp_addr: SocketAddr,
    /// Secret inbound webhooks are checked with (email inbound-parse, social, SMS); they are
    /// refused without it. Survey links are signed with a key derived from it.
    #[arg(long, env = "SWITCHBOARD_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,
    /// Secret outbound webhooks are signed with (receivers know it; it checks nothing inbound).
    #[arg(long, env = "SWITCHBOARD_SIGNING_SECRET", hide_env_values = true)]
    pub signing_secret: Option<String>,
    /// Web chat sites as JSON: token to the origin it may be embedded on, e.g. `{"demo": "*"}`.
    #[arg(long, env = "SWITCHBOARD_CHAT_SITES")]
    pub chat_sites: Option<String>,
    /// Per chat site, the secret signed-in customers' ids are signed with, as JSON, e.g.
    /// `{"shop": "..."}`; the widget's data-user-hash is HMAC-SHA256 of the id under it.
    #[arg(long, env = "SWITCHBOARD_CHAT_IDENTITY_SECRETS", hide_env_values = true)]
    pub chat_identity_secrets: Option<String>,
    /// The other tenants' channel credentials as JSON, by tenant: `webhook_secret` (their
    /// webhooks post to `/tenants/<tenant>/...`), `chat_sites`, `chat_identity_secrets`, `email`
    /// (inbound addresses or domains), `voice_numbers`, `twilio_auth_token`. The settings above
    /// are the default tenant's.
    #[arg(long, env = "SWITCHBOARD_CHANNEL_TENANTS", hide_env_values = true)]
    pub channel_tenants: Option<String>,
    /// Intake's gRPC endpoint for the chat; this process when unset.
    #[arg(long, env = "SWITCHBOARD_INTAKE_ENDPOINT")]
    pub intake_endpoint: Option<String>,
    /// The gRPC endpoint the web console (/console) calls: Desk and Auth; this process when unset.
    #[arg(long, env = "SWITCHBOARD_DESK_ENDPOINT")]
    pub desk_endpoint: Option<String>,
    /// The gRPC endpoint serving Analytics, for the console's dashboard; this process when unset.
    #[arg(long, env = "SWITCHBOARD_ANALYTICS_ENDPOINT")]
    pub analytics_endpoint: Option<String>,
    /// The telephony account's auth token, which signs voice webhooks (`X-Twilio-Signature`).
    #[arg(long, env = "SWITCHBOARD_TWILIO_AUTH_TOKEN", hide_env_values = true)]
    pub twilio_auth_token: Option<String>,
    /// The phone line a voice hand-off dials, e.g. `+15550199`.
    #[arg(long, env = "SWITCHBOARD_SUPPORT_LINE")]
    pub support_line: Option<String>,
    /// Largest inbound email, in bytes.
    #[arg(long, env = "SWITCHBOARD_MAX_EMAIL_BYTES", default_value_t = 10 * 1024 * 1024)]
    pub max_email_bytes: usize,
    /// POST every web, API and voice reply here as JSON.
    #[arg(long, env = "SWITCHBOARD_WEBHOOK_URL")]
    pub webhook_url: Option<String>,
    /// SMTP relay for outbound email, e.g. `smtp://127.0.0.1:25` or `smtps://user:pass@host`.
    #[arg(long, env = "SWITCHBOARD_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The sender of outbound email.
    #[arg(
        long,
        env = "SWITCHBOARD_EMAIL_FROM",
        default_value = "Switchboard Support <support@switchboard.localhost>"
    )]
    pub email_from: String,
    /// `team:` targets as JSON, e.g. `{"warehouse": "email:wh@acme.example"}`.
    #[arg(long, env = "SWITCHBOARD_TEAMS")]
    pub teams: Option<String>,
    /// Outbound gateways of social and SMS as JSON, e.g. `{"sms": "https://gw.example/sms"}`.
    #[arg(long, env = "SWITCHBOARD_GATEWAYS")]
    pub gateways: Option<String>,
    /// Message templates (YAML, like the bundled crates/notifier/templates.yaml).
    #[arg(long, env = "SWITCHBOARD_TEMPLATES")]
    pub templates: Option<PathBuf>,
    /// Seconds after a conversation closes that its survey goes out.
    #[arg(long, env = "SWITCHBOARD_SURVEY_DELAY_SECS", default_value_t = 3600)]
    pub survey_delay_secs: u64,
    /// What surveys ask: `csat` (satisfaction 1-5) or `nps` (likely to recommend, 0-10).
    #[arg(long, env = "SWITCHBOARD_SURVEY_KIND", default_value = "csat")]
    pub survey_kind: String,
    /// The channels' public base URL, for links in messages (survey pages).
    #[arg(long, env = "SWITCHBOARD_PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
    pub public_url: String,
    /// Private networks outbound webhooks may reach, comma-separated (e.g. `10.1.0.0/16,127.0.0.1`);
    /// loopback, private, link-local and reserved addresses are refused otherwise.
    #[arg(long, env = "SWITCHBOARD_OUTBOUND_ALLOW", default_value = "")]
    pub outbound_allow: String,
    /// Open HTTP connections at once, and from one client (address, or IPv6 /64); more are
    /// answered 503.
    #[arg(long, env = "SWITCHBOARD_HTTP_MAX_CONNECTIONS", default_value_t = 1024)]
    pub http_max_connections: usize,
    #[arg(long, env = "SWITCHBOARD_HTTP_MAX_PER_CLIENT", default_value_t = 64)]
    pub http_max_per_client: usize,
    /// Seconds to send a request's headers (and the longest a kept-alive connection idles).
    #[arg(long, env = "SWITCHBOARD_HTTP_HEADER_TIMEOUT_SECS", default_value_t = 10)]
    pub http_header_timeout_secs: u64,
    /// Seconds to send a request's body and get the answer.
    #[arg(long, env = "SWITCHBOARD_HTTP_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub http_request_timeout_secs: u64,
    /// HTTP requests per second from one client address, and the burst above it; 429 past them.
    #[arg(long, env = "SWITCHBOARD_HTTP_RATE", default_value_t = 20)]
    pub http_rate: u32,
    #[arg(long, env = "SWITCHBOARD_HTTP_BURST", default_value_t = 60)]
    pub http_burst: u32,
    /// Signed webhook requests per second for one tenant (webhooks and inbound email posts
    /// together), and the burst above it; 429 past them.
    #[arg(long, env = "SWITCHBOARD_WEBHOOK_SITE_RATE", default_value_t = 100)]
    pub webhook_site_rate: u32,
    #[arg(long, env = "SWITCHBOARD_WEBHOOK_SITE_BURST", default_value_t = 200)]
    pub webhook_site_burst: u32,
    /// Proxies whose X-Forwarded-For names the client, comma-separated networks.
    #[arg(long, env = "SWITCHBOARD_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,
    /// SMTP connections at once, and from one client address.
    #[arg(long, env = "SWITCHBOARD_SMTP_MAX_CONNECTIONS", default_value_t = 64)]
    pub smtp_max_connections: usize,
    #[arg(long, env = "SWITCHBOARD_SMTP_MAX_PER_CLIENT", default_value_t = 8)]
    pub smtp_max_per_client: usize,
    /// Seconds an SMTP session may last in all.
    #[arg(long, env = "SWITCHBOARD_SMTP_SESSION_SECS", default_value_t = 600)]
    pub smtp_session_secs: u64,
    /// Whether SPF of the SMTP client can verify an email's sender (besides DKIM). Set `false`
    /// behind a relay MTA whose address is in the SPF record of a domain whose mail it forwards.
    #[arg(long, env = "SWITCHBOARD_EMAIL_SPF", default_value_t = true, action = clap::ArgAction::Set)]
    pub email_spf: bool,
    /// DATA bytes held in memory across SMTP sessions at once; past it mail is deferred (452).
    #[arg(long, env = "SWITCHBOARD_SMTP_DATA_IN_FLIGHT", default_value_t = 64 * 1024 * 1024)]
    pub smtp_data_in_flight: usize,
    /// Webhook body bytes read at once across requests; past it a webhook is answered 503.
    #[arg(long, env = "SWITCHBOARD_WEBHOOK_BYTES_IN_FLIGHT", default_value_t = 32 * 1024 * 1024)]
    pub webhook_bytes_in_flight: usize,
    /// Chat frames per second from one socket and its burst; from one site's sockets together.
    #[arg(long, env = "SWITCHBOARD_CHAT_RATE", default_value_t = 5)]
    pub chat_rate: u32,
    #[arg(long, env = "SWITCHBOARD_CHAT_BURST", default_value_t = 20)]
    pub chat_burst: u32,
    /// Chat frames per second from one client address's sockets together (IPv6: one /64), and
    /// its burst; messages per second from it, and their burst.
    #[arg(long, env = "SWITCHBOARD_CHAT_CLIENT_RATE", default_value_t = 20)]
    pub chat_client_rate: u32,
    #[arg(long, env = "SWITCHBOARD_CHAT_CLIENT_BURST", default_value_t = 100)]
    pub chat_client_burst: u32,
    #[arg(long, env = "SWITCHBOARD_CHAT_CLIENT_MESSAGE_RATE", default_value_t = 5)]
    pub chat_client_message_rate: u32,
    #[arg(long, env = "SWITCHBOARD_CHAT_CLIENT_MESSAGE_BURST", default_value_t = 20)]
    pub chat_client_message_burst: u32,
    #[arg(long, env = "SWITCHBOARD_CHAT_SITE_RATE", default_value_t = 200)]
    pub chat_site_rate: u32,
    #[arg(long, env = "SWITCHBOARD_CHAT_SITE_BURST", default_value_t = 1000)]
    pub chat_site_burst: u32,
    /// Chat messages per second from one site's sockets together, and the burst above it (the
    /// frames that make work for the whole cluster; one socket may send one a second, five at once).
    #[arg(long, env = "SWITCHBOARD_CHAT_SITE_MESSAGE_RATE", default_value_t = 50)]
    pub chat_site_message_rate: u32,
    #[arg(long, env = "SWITCHBOARD_CHAT_SITE_MESSAGE_BURST", default_value_t = 200)]
    pub chat_site_message_burst: u32,
    /// Seconds a chat socket may stay silent (only the customer's text counts) before it is closed.
    #[arg(long, env = "SWITCHBOARD_CHAT_IDLE_SECS", default_value_t = 600)]
    pub chat_idle_secs: u64,
    /// A fault to inject, for crash tests: `notifier-halt-after-send`.
    #[arg(long, env = "SWITCHBOARD_FAILPOINT", hide = true)]
    pub failpoint: Option<String>,
}

/// `SWITCHBOARD_OUTBOUND_ALLOW`: networks, comma-separated.
fn outbound_allow(list: &str) -> anyhow::Result<switchboard_channels::outbound::Destinations> {
    Ok(switchboard_channels::outbound::Destinations::allowing(networks("SWITCHBOARD_OUTBOUND_ALLOW", list)?))
}

/// A rate or burst of the setting `name`, which must be above zero.
fn positive(value: u32, name: &str) -> anyhow::Result<std::num::NonZeroU32> {
    std::num::NonZeroU32::new(value).with_context(|| format!("{name} must be above zero"))
}

/// Networks, comma-separated, from the setting `name`.
fn networks(name: &str, list: &str) -> anyhow::Result<Vec<switchboard_channels::outbound::Network>> {
    list.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| item.parse().map_err(|error: String| anyhow::anyhow!("{name}: {error}")))
        .collect()
}

impl ChannelArgs {
    fn webhook_secret(&self) -> Option<String> {
        self.webhook_secret.clone().filter(|secret| !secret.is_empty())
    }

    fn survey_secret(&self) -> Option<String> {
        let signing = self.signing_secret.as_deref().filter(|secret| !secret.is_empty());
        self.webhook_secret().map(|webhook| switchboard_channels::signature::survey_secret(&webhook, signing))
    }

    pub fn channels(&self) -> anyhow::Result<switchboard_channels::Config> {
        Ok(switchboard_channels::Config {
            webhook_secret: self.webhook_secret(),
            survey_secret: self.survey_secret(),
            max_email_bytes: self.max_email_bytes,
            chat_sites: json_map("SWITCHBOARD_CHAT_SITES", self.chat_sites.as_deref())?,
            chat_identity_secrets: json_map(
                "SWITCHBOARD_CHAT_IDENTITY_SECRETS",
                self.chat_identity_secrets.as_deref(),
            )?,
            twilio_auth_token: self.twilio_auth_token.clone().filter(|token| !token.is_empty()),
            tenants: channel_tenants(self.channel_tenants.as_deref())?,
            public_url: self.public_url.clone(),
            support_line: self.support_line.clone().filter(|line| !line.is_empty()),
            http_limits: self.http_limits()?,
            chat_limits: self.chat_limits()?,
            webhook_bytes_in_flight: self.webhook_bytes_in_flight.max(self.max_email_bytes),
            smtp_limits: switchboard_channels::email::SmtpLimits {
                max_connections: self.smtp_max_connections.max(1),
                max_per_client: self.smtp_max_per_client.max(1),
                session_deadline: std::time::Duration::from_secs(self.smtp_session_secs.max(1)),
                data_in_flight: self.smtp_data_in_flight.max(self.max_email_bytes),
            },
            sender_verification: switchboard_channels::email::SenderVerification {
                spf: self.email_spf,
                ..Default::default()
            },
            ..Default::default()
        })
    }

    fn chat_limits(&self) -> anyhow::Result<switchboard_channels::chat::ChatLimits> {
        anyhow::ensure!(self.chat_idle_secs > 0, "SWITCHBOARD_CHAT_IDLE_SECS must be above zero");
        Ok(switchboard_channels::chat::ChatLimits {
            socket_rate: positive(self.chat_rate, "SWITCHBOARD_CHAT_RATE")?,
            socket_burst: positive(self.chat_burst, "SWITCHBOARD_CHAT_BURST")?,
            client_rate: positive(self.chat_client_rate, "SWITCHBOARD_CHAT_CLIENT_RATE")?,
            client_burst: positive(self.chat_client_burst, "SWITCHBOARD_CHAT_CLIENT_BURST")?,
            client_message_rate: positive(
                self.chat_client_message_rate,
                "SWITCHBOARD_CHAT_CLIENT_MESSAGE_RATE",
            )?,
            client_message_burst: positive(
                self.chat_client_message_burst,
                "SWITCHBOARD_CHAT_CLIENT_MESSAGE_BURST",
            )?,
            site_rate: positive(self.chat_site_rate, "SWITCHBOARD_CHAT_SITE_RATE")?,
            site_burst: positive(self.chat_site_burst, "SWITCHBOARD_CHAT_SITE_BURST")?,
            site_message_rate: positive(self.chat_site_message_rate, "SWITCHBOARD_CHAT_SITE_MESSAGE_RATE")?,
            site_message_burst: positive(
                self.chat_site_message_burst,
                "SWITCHBOARD_CHAT_SITE_MESSAGE_BURST",
            )?,
            idle: std::time::Duration::from_secs(self.chat_idle_secs),
            ..Default::default()
        })
    }

    fn http_limits(&self) -> anyhow::Result<switchboard_channels::http::HttpLimits> {
        anyhow::ensure!(self.http_max_connections > 0, "SWITCHBOARD_HTTP_MAX_CONNECTIONS must be above zero");
        anyhow::ensure!(
            self.http_header_timeout_secs > 0 && self.http_request_timeout_secs > 0,
            "HTTP timeouts must be above zero"
        );
        Ok(switchboard_channels::http::HttpLimits {
            max_connections: self.http_max_connections,
            max_per_client: self.http_max_per_client.max(1),
            header_timeout: std::time::Duration::from_secs(self.http_header_timeout_secs),
            request_timeout: std::time::Duration::from_secs(self.http_request_timeout_secs),
            per_client_rate: positive(self.http_rate, "SWITCHBOARD_HTTP_RATE")?,
            per_client_burst: positive(self.http_burst, "SWITCHBOARD_HTTP_BURST")?,
            per_site_rate: positive(self.webhook_site_rate, "SWITCHBOARD_WEBHOOK_SITE_RATE")?,
            per_site_burst: positive(self.webhook_site_burst, "SWITCHBOARD_WEBHOOK_SITE_BURST")?,
            trusted_proxies: networks("SWITCHBOARD_TRUSTED_PROXIES", &self.trusted_proxies)?,
        })
    }

    pub fn notifier(&self) -> anyhow::Result<switchboard_notifier::Config> {
        let templates = match &self.templates {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the templates file {}", path.display()))?,
            ),
            None => None,
        };
        let failpoint = match self.failpoint.as_deref() {
            None | Some("") => None,
            Some("notifier-halt-after-send") => Some(switchboard_notifier::Failpoint::HaltAfterSend),
            Some(other) => anyhow::bail!("unknown failpoint {other:?}; known: notifier-halt-after-send"),
        };
        Ok(switchboard_notifier::Config {
            webhook_url: self.webhook_url.clone().filter(|url| !url.is_empty()),
            signing_secret: self.signing_secret.clone().filter(|secret| !secret.is_empty()),
            survey_secret: self.survey_secret(),
            smtp_url: self.smtp_url.clone().filter(|url| !url.is_empty()),
            email_from: self.email_from.clone(),
            teams: json_map("SWITCHBOARD_TEAMS", self.teams.as_deref())?,
            gateways: json_map("SWITCHBOARD_GATEWAYS", self.gateways.as_deref())?,
            templates,
            survey_delay: std::time::Duration::from_secs(self.survey_delay_secs),
            survey_kind: match self.survey_kind.as_str() {
                "csat" => switchboard_notifier::SurveyKind::Csat,
                "nps" => switchboard_notifier::SurveyKind::Nps,
                other => anyhow::bail!("SWITCHBOARD_SURVEY_KIND {other:?}: use csat or nps"),
            },
            public_url: self.public_url.clone(),
            outbound_allow: outbound_allow(&self.outbound_allow)?,
            failpoint,
            ..Default::default()
        })
    }
}

/// `SWITCHBOARD_CHANNEL_TENANTS`: tenant to its channel credentials. Errors name the setting,
/// never its (secret) content.
fn channel_tenants(
    text: Option<&str>,
) -> anyhow::Result<BTreeMap<String, switchboard_channels::tenants::TenantChannels>> {
    match text.map(str::trim).filter(|text| !text.is_empty()) {
        None => Ok(BTreeMap::new()),
        Some(text) => serde_json::from_str(text).map_err(|error| {
            anyhow::anyhow!(
                "SWITCHBOARD_CHANNEL_TENANTS must be a JSON object of tenant to channel settings \
                 (webhook_secret, chat_sites, chat_identity_secrets, email, voice_numbers, \
                 twilio_auth_token); it is not, at line {} column {}",
                error.line(),
                error.column()
            )
        }),
    }
}

/// A JSON object of strings, e.g. `{"warehouse": "email:wh@acme.example"}`.
fn json_map(name: &str, text: Option<&str>) -> anyhow::Result<BTreeMap<String, String>> {
    match text.map(str::trim).filter(|text| !text.is_empty()) {
        None => Ok(BTreeMap::new()),
        Some(text) => serde_json::from_str(text).with_context(|| {
            format!(
                "{name} must be a JSON object of strings, e.g. {{\"warehouse\": \"email:wh@acme.example\"}}"
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_json_maps_and_explains_bad_ones() {
        let teams = json_map("T", Some(r#"{"warehouse": "email:wh@acme.example"}"#)).expect("valid");
        assert_eq!(teams["warehouse"], "email:wh@acme.example");
        assert!(json_map("T", None).expect("empty").is_empty());
        let error = json_map("SWITCHBOARD_TEAMS", Some("[1]")).expect_err("not an object").to_string();
        assert!(error.contains("SWITCHBOARD_TEAMS"), "{error}");
    }

    #[test]
    fn reads_channel_tenants_and_never_echoes_their_secrets() {
        let text = r#"{"acme": {"email": ["acme.example"], "webhook_secret": "s3cret-of-acme"}}"#;
        let tenants = channel_tenants(Some(text)).expect("valid");
        assert_eq!(tenants["acme"].email, ["acme.example"]);
        let typo = r#"{"acme": {"webhook_secert": "s3cret-of-acme"}}"#;
        let error = channel_tenants(Some(typo)).expect_err("unknown field").to_string();
        assert!(error.contains("SWITCHBOARD_CHANNEL_TENANTS") && !error.contains("s3cret"), "{error}");
    }
}
