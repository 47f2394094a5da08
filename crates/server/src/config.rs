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
    Channels,
}

impl Service {
    pub const ALL: [Self; 7] = [
        Self::Intake,
        Self::Classifier,
        Self::Router,
        Self::Knowledge,
        Self::Notifier,
        Self::Analytics,
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

/// Everything a `serve` process needs to know.
#[derive(Debug, Clone)]
pub struct Config {
    pub services: Vec<Service>,
    pub grpc_addr: SocketAddr,
    /// The key every token of the cluster is signed with; `serve` refuses to start without it.
    pub auth_keys: Option<switchboard_auth::Keys>,
    pub nats_url: String,
    pub database_url: String,
    /// Router rule table (JSON); the bundled table when unset.
    pub rules_file: Option<PathBuf>,
    /// Knowledge endpoint for the router; this process's own listener when unset.
    pub knowledge_endpoint: Option<String>,
    /// Intake endpoint for the chat (history on reconnect); this process's own listener when unset.
    pub intake_endpoint: Option<String>,
    /// The channels' HTTP listener (webhooks); none when unset.
    pub http_addr: Option<SocketAddr>,
    /// The channels' SMTP listener (inbound email); none when unset.
    pub smtp_addr: Option<SocketAddr>,
    pub channels: switchboard_channels::Config,
    pub notifier: switchboard_notifier::Config,
    /// The classifier's sentence encoder (all-MiniLM-L6-v2 directory), for models with a full head.
    pub encoder_dir: Option<PathBuf>,
    /// The knowledge search index directory; in memory (rebuilt at every start) when unset.
    pub index_dir: Option<PathBuf>,
    /// Lowest confidence at which knowledge answers and deflects confidently.
    pub answer_confidence: f32,
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
            nats_url: "nats://127.0.0.1:4222".into(),
            database_url: "postgres://postgres@127.0.0.1:5432/switchboard".into(),
            rules_file: None,
            knowledge_endpoint: None,
            intake_endpoint: None,
            http_addr: None,
            smtp_addr: None,
            channels: switchboard_channels::Config::default(),
            notifier: switchboard_notifier::Config::default(),
            encoder_dir: None,
            index_dir: None,
            answer_confidence: switchboard_knowledge::DEFAULT_MIN_CONFIDENCE,
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
            ..switchboard_bus::Config::default()
        }
    }
}

/// A database URL with any password replaced, for logs and errors.
pub(crate) fn redacted(url: &str) -> String {
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

    #[test]
    fn parses_service_lists() {
        assert_eq!(Service::parse_list("all").map(|s| s.len()), Ok(7));
        assert_eq!(Service::parse_list("intake, router,intake"), Ok(vec![Service::Intake, Service::Router]));
        let error = Service::parse_list("intake,fax").expect_err("unknown");
        assert!(error.contains("unknown service \"fax\""), "{error}");
        assert!(Service::parse_list(" , ").is_err());
    }

    #[test]
    fn hides_passwords() {
        assert_eq!(redacted("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redacted("postgres://u@h/db"), "postgres://u@h/db");
    }
}
