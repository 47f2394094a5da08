//! Configuration of a `switchboard serve` process.

use std::{net::SocketAddr, path::PathBuf, str::FromStr, time::Duration};

/// One of the services a process can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Intake,
    Classifier,
    Router,
    Knowledge,
    Notifier,
    Analytics,
    Desk,
    Channels,
}

impl Service {
    pub const ALL: [Self; 8] = [
        Self::Intake,
        Self::Classifier,
        Self::Router,
        Self::Knowledge,
        Self::Notifier,
        Self::Analytics,
        Self::Desk,
        Self::Channels,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Intake => "intake",
            Self::Classifier => "classifier",
            Self::Router => "router",
            Self::Knowledge => "knowledge",
            Self::Notifier => "notifier",
            Self::Analytics => "analytics",
            Self::Desk => "desk",
            Self::Channels => "channels",
        }
    }

    /// `all`, or a comma-separated list such as `intake,router`.
    pub fn parse_list(list: &str) -> Result<Vec<Self>, String> {
        if list.trim() == "all" {
            return Ok(Self::ALL.to_vec());
        }
        let mut services = Vec::new();
        for name in list.split(',').map(str::trim).filter(|name| !name.is_empty()) {
            let service = name.parse()?;
            if !services.contains(&service) {
                services.push(service);
            }
        }
        if services.is_empty() {
            return Err("no services named; use `all` or e.g. `intake,router`".into());
        }
        Ok(services)
    }
}

impl FromStr for Service {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|service| service.name() == name).ok_or_else(|| {
            let known: Vec<_> = Self::ALL.iter().map(|s| s.name()).collect();
            format!("unknown service {name:?}; known: {}", known.join(", "))
        })
    }
}

/// The gRPC listener's certificate and key (PEM), and what this process's own calls to it trust.
#[derive(Clone)]
pub struct ServerTls {
    pub certificate: Vec<u8>,
    pub key: Vec<u8>,
    /// The CA this process's calls to its own listener trust; the certificate itself by default.
    pub ca: Option<Vec<u8>>,
    /// The name those calls expect in the certificate.
    pub domain: String,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls").field("domain", &self.domain).finish_non_exhaustive()
    }
}

impl ServerTls {
    /// What a client of this listener trusts.
    pub fn peer(&self) -> switchboard_auth::PeerTls {
        let ca_pem = self.ca.clone().unwrap_or_else(|| self.certificate.clone());
        switchboard_auth::PeerTls { ca_pem, domain: self.domain.clone() }
    }
}

/// Everything a `serve` process needs to know.
#[derive(Debug, Clone)]
pub struct Config {
    pub services: Vec<Service>,
    pub grpc_addr: SocketAddr,
    /// The key every token of the cluster is signed with; `serve` refuses to start without it.
    pub auth_keys: Option<switchboard_auth::Keys>,
    /// TLS on the gRPC listener, when set.
    pub tls: Option<ServerTls>,
    pub nats_url: String,
    pub database_url: String,
    /// Pool size and statement and lock timeouts.
    pub database: crate::connection::DatabaseLimits,
    /// NATS credentials and TLS.
    pub nats_access: switchboard_bus::Access,
    pub inbound_retention: switchboard_bus::Retention,
    pub dead_letter_retention: switchboard_bus::Retention,
    pub stream_replicas: usize,
    /// Router rule table (JSON); the bundled table when unset.
    pub rules_file: Option<PathBuf>,
    /// Knowledge endpoint for the router; this process's own listener when unset.
    pub knowledge_endpoint: Option<String>,
    /// Article links for the desk (`{id}` replaced); empty: none.
    pub article_url: String,
    /// Intake endpoint for the chat (history on reconnect); this process's own listener when unset.
    pub intake_endpoint: Option<String>,
    /// The endpoint the web console calls (Desk, Auth); this process's own listener when unset.
    pub desk_endpoint: Option<String>,
    /// The endpoint the console's dashboard reads Analytics from; this process's own when unset.
    pub analytics_endpoint: Option<String>,
    /// The channels' HTTP listener (webhooks); none when unset.
    pub http_addr: Option<SocketAddr>,
    /// The channels' SMTP listener (inbound email); none when unset.
    pub smtp_addr: Option<SocketAddr>,
    /// Where Prometheus scrapes `/metrics`; none when unset.
    pub metrics_addr: Option<SocketAddr>,
    /// Whether the operator chose `metrics_addr`; the default one gives way to a free port when
    /// another process on the host holds it.
    pub metrics_addr_chosen: bool,
    pub channels: switchboard_channels::Config,
    pub notifier: switchboard_notifier::Config,
    /// The classifier's sentence encoder (all-MiniLM-L6-v2 directory), for models with a full head.
    pub encoder_dir: Option<PathBuf>,
    /// The knowledge search index directory; in memory (rebuilt at every start) when unset.
    pub index_dir: Option<PathBuf>,
    /// Lowest confidence at which knowledge answers and deflects confidently.
    pub answer_confidence: Option<f32>,
    /// The desk closes bot-only conversations this long quiet; `None`: never.
    pub bot_idle_close: Option<Duration>,
    /// How long an agent may stay offline before their conversations go back to their queues.
    pub desk_offline_grace: Duration,
    /// How long after a conversation closed a customer's message reopens it (later: a new one).
    pub reopen_window: Duration,
    pub ack_wait: Duration,
    pub max_deliver: i64,
    /// How long shutdown waits for in-flight work.
    pub shutdown_grace: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            services: Service::ALL.to_vec(),
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 50051)),
            auth_keys: None,
            tls: None,
            nats_url: "nats://127.0.0.1:4222".into(),
            database_url: "postgres://postgres@127.0.0.1:5432/switchboard".into(),
            database: crate::connection::DatabaseLimits::default(),
            nats_access: switchboard_bus::Access::default(),
            inbound_retention: switchboard_bus::Config::default().inbound_retention,
            dead_letter_retention: switchboard_bus::Config::default().dead_letter_retention,
            stream_replicas: 1,
            rules_file: None,
            knowledge_endpoint: None,
            article_url: String::new(),
            intake_endpoint: None,
            desk_endpoint: None,
            analytics_endpoint: None,
            http_addr: None,
            smtp_addr: None,
            metrics_addr: None,
            metrics_addr_chosen: false,
            channels: switchboard_channels::Config::default(),
            notifier: switchboard_notifier::Config::default(),
            encoder_dir: None,
            index_dir: None,
            answer_confidence: None,
            bot_idle_close: Some(Duration::from_secs(24 * 3600)),
            desk_offline_grace: Duration::from_secs(300),
            reopen_window: switchboard_intake::DEFAULT_REOPEN_WINDOW,
            ack_wait: Duration::from_secs(30),
            max_deliver: 5,
            shutdown_grace: Duration::from_secs(20),
        }
    }
}

impl Config {
    pub(crate) fn bus(&self) -> switchboard_bus::Config {
        switchboard_bus::Config {
            url: self.nats_url.clone(),
            ack_wait: self.ack_wait,
            max_deliver: self.max_deliver,
            access: self.nats_access.clone(),
            inbound_retention: self.inbound_retention,
            dead_letter_retention: self.dead_letter_retention,
            replicas: self.stream_replicas,
            ..switchboard_bus::Config::default()
        }
    }
}

impl Config {
    /// The configuration as `--dump-config` prints it: every secret replaced by `***`, and
    /// passwords in URLs hidden.
    pub fn dump(&self) -> String {
        let mut text = format!("{self:#?}");
        let (channels, notifier) = (&self.channels, &self.notifier);
        let secrets = [&channels.webhook_secret, &channels.survey_secret, &channels.twilio_auth_token];
        let secrets =
            secrets.into_iter().chain([&notifier.signing_secret, &notifier.survey_secret]).flatten();
        // Webhook URLs may carry a credential in their path or query (chat-app hooks do).
        let hooks =
            notifier.webhook_url.iter().chain(notifier.gateways.values()).chain(notifier.teams.values());
        let hidden = secrets
            .chain(channels.chat_identity_secrets.values())
            .chain(channels.chat_sites.keys())
            .chain(channels.tenants.values().flat_map(|tenant| tenant.chat_sites.keys()))
            .chain(hooks)
            .filter(|value| !value.is_empty());
        for value in hidden {
            text = text.replace(&format!("{value:?}"), "\"***\"");
        }
        let urls = [Some(&self.database_url), notifier.smtp_url.as_ref()].into_iter().flatten();
        let shown = urls
            .map(|url| (url, redacted(url)))
            .chain([(&self.nats_url, switchboard_bus::redacted_url(&self.nats_url))]);
        for (url, shown) in shown {
            text = text.replace(&format!("{url:?}"), &format!("{shown:?}"));
        }
        text
    }
}

/// A database URL with any password replaced, for logs and errors.
pub(crate) fn redacted(url: &str) -> String {
    // A password in the query (`?password=...`) is dropped with the query.
    if url.contains("password=") {
        let base = url.split('?').next().unwrap_or_default();
        return format!("{}?***", redacted(base));
    }
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the image copies from the build stage's checkout exists in the checkout.
    #[test]
    fn the_image_copies_files_that_exist() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let dockerfile = include_str!("../../../deploy/Dockerfile");
        let copied = dockerfile.lines().filter_map(|line| line.strip_prefix("COPY --from=build /src/"));
        for source in copied.filter_map(|rest| rest.split_whitespace().next()) {
            let from_checkout = !source.starts_with("target/");
            assert!(
                !from_checkout || root.join(source).exists(),
                "the image copies {source}, which is not there"
            );
        }
    }

    /// The Kubernetes manifests run every service: one Deployment each, named for it.
    #[test]
    fn every_service_has_its_deployment_in_k8s() {
        let manifests = include_str!("../../../k8s/base/services.yaml");
        for service in Service::ALL {
            let name = service.name();
            let deployment = format!("kind: Deployment\nmetadata:\n  name: {name}\n");
            let runs = format!("- name: SWITCHBOARD_SERVICES\n              value: {name}\n");
            assert!(manifests.contains(&deployment) && manifests.contains(&runs), "k8s runs no {name}");
        }
        let config = include_str!("../../../k8s/base/config.yaml");
        assert!(config.contains("SWITCHBOARD_DESK_ENDPOINT: http://desk."), "the console's API");
        assert!(config.contains("SWITCHBOARD_ANALYTICS_ENDPOINT: http://analytics."), "the dashboard's");
    }

    #[test]
    fn parses_service_lists() {
        assert_eq!(Service::parse_list("all").map(|s| s.len()), Ok(8));
        assert_eq!(Service::parse_list("intake, router,intake"), Ok(vec![Service::Intake, Service::Router]));
        let error = Service::parse_list("intake,fax").expect_err("unknown");
        assert!(error.contains("unknown service \"fax\""), "{error}");
        assert!(Service::parse_list(" , ").is_err());
    }

    #[test]
    fn the_dumped_config_holds_no_secret() {
        let mut config = Config { database_url: "postgres://u:pg-pass@h/db".into(), ..Config::default() };
        config.channels.webhook_secret = Some("whsec-123".into());
        config.channels.twilio_auth_token = Some("twilio-456".into());
        config.channels.chat_sites.insert("site-token-789".into(), "*".into());
        config.notifier.signing_secret = Some("sign-abc".into());
        config.notifier.smtp_url = Some("smtps://mailer:smtp-pass@relay".into());
        config.nats_url = "nats://nats-token-0@nats:4222".into();
        config.notifier.webhook_url = Some("https://hooks.example/services/T000/B000/hook-secret".into());
        config.notifier.teams.insert("ops".into(), "webhook:https://ops.example/?key=team-key".into());
        config.auth_keys =
            Some(switchboard_auth::Keys::from_secret(b"auth-key-0123456789-0123456789-xyz").expect("key"));
        let dump = config.dump();
        for secret in [
            "hook-secret",
            "team-key",
            "nats-token-0",
            "pg-pass",
            "whsec-123",
            "twilio-456",
            "site-token-789",
            "sign-abc",
            "smtp-pass",
            "auth-key",
        ] {
            assert!(!dump.contains(secret), "{secret} in {dump}");
        }
        assert!(dump.contains("postgres://u:***@h/db"), "{dump}");
    }

    #[test]
    fn hides_passwords_in_the_query_too() {
        assert_eq!(redacted("postgres://u@h/db?password=secret&sslmode=require"), "postgres://u@h/db?***");
    }

    #[test]
    fn hides_passwords() {
        assert_eq!(redacted("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redacted("postgres://u@h/db"), "postgres://u@h/db");
    }
}
