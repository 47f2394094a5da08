//! Starting the enabled services and mounting their gRPC services on one router.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use switchboard_nlu::embed::SentenceEncoder;
use switchboard_projection::{Deps, Task};
use switchboard_proto::knowledge::v1::knowledge_server::Knowledge as KnowledgeService;
use tokio_util::sync::CancellationToken;
use tonic::{server::NamedService, service::RoutesBuilder};

use crate::{Config, Service};

/// The started services: their routes, background tasks and gRPC service names.
#[derive(Default)]
pub(crate) struct Mounted {
    pub routes: RoutesBuilder,
    pub tasks: Vec<Task>,
    pub names: Vec<&'static str>,
}

fn name_of<S: NamedService>(_: &S) -> &'static str {
    S::NAME
}

/// Adds a started service's gRPC service and tasks.
macro_rules! add {
    ($mounted:ident, $service:expr, $start:expr) => {{
        let started = $start.await.with_context(|| format!("starting {}", $service.name()))?;
        mounted!($mounted, started);
    }};
}

/// Mounts what a service's `start` returned: its gRPC service and tasks.
macro_rules! mounted {
    ($mounted:ident, $started:expr) => {{
        let started = $started;
        $mounted.names.push(name_of(&started.service));
        $mounted.routes.add_service(started.service);
        $mounted.tasks.extend(started.tasks);
    }};
}

/// Starts each enabled service (migrations, consumers) and collects what to serve.
pub(crate) async fn mount(
    config: &Config,
    deps: &Deps,
    local: SocketAddr,
    mut listeners: Option<switchboard_channels::Listeners>,
    work: &CancellationToken,
    serving: &CancellationToken,
) -> anyhow::Result<Mounted> {
    let mut mounted = Mounted::default();
    let encoder = load_encoder(config).await?;
    // Knowledge before the router, which calls it in process when both run here.
    let mut local_knowledge = None;
    for service in in_start_order(&config.services) {
        let (deps, work) = (deps.clone(), work.clone());
        match service {
            Service::Intake => {
                let intake = switchboard_intake::Config {
                    reopen_window: config.reopen_window,
                    ..switchboard_intake::Config::default()
                };
                add!(mounted, service, switchboard_intake::start(deps, intake, work))
            }
            Service::Classifier => {
                let classifier = switchboard_classifier::Config {
                    encoder: encoder.clone(),
                    ..switchboard_classifier::Config::default()
                };
                add!(mounted, service, switchboard_classifier::start(deps, classifier, work))
            }
            Service::Router => {
                let router = router_config(config, local, local_knowledge.clone())?;
                add!(mounted, service, switchboard_router::start(deps, router, work))
            }
            Service::Knowledge => {
                let knowledge = knowledge_config(config, encoder.clone());
                let started = switchboard_knowledge::start(deps, knowledge, work)
                    .await
                    .context("starting knowledge")?;
                if config.knowledge_endpoint.is_none() {
                    let api: Arc<dyn KnowledgeService> = started.api.clone();
                    local_knowledge = Some(switchboard_router::LocalKnowledge(api));
                }
                mounted!(mounted, started);
            }
            Service::Notifier => {
                add!(mounted, service, switchboard_notifier::start(deps, notifier_config(config), work))
            }
            Service::Analytics => {
                let analytics = switchboard_analytics::Config {
                    reopen_window: config.reopen_window,
                    ..switchboard_analytics::Config::default()
                };
                add!(mounted, service, switchboard_analytics::start(deps, analytics, work))
            }
            Service::Desk => {
                add!(
                    mounted,
                    service,
                    switchboard_desk::start(deps, desk_config(config, local, serving)?, work)
                )
            }
            Service::Channels => {
                let listeners = listeners.take().unwrap_or_default();
                let here = own_endpoint(config, local);
                let channels = switchboard_channels::Config {
                    intake_endpoint: config.intake_endpoint.clone().unwrap_or_else(|| here.clone()),
                    knowledge_endpoint: config.knowledge_endpoint.clone().unwrap_or(here),
                    credentials: service_credentials(config, "channels")?,
                    tls: config.tls.as_ref().map(crate::ServerTls::peer),
                    ..config.channels.clone()
                };
                let started = switchboard_channels::start(deps, channels, listeners, work)
                    .await
                    .context("starting channels")?;
                mounted.tasks.extend(started.tasks);
            }
        }
        tracing::info!(service = service.name(), "service started");
    }
    Ok(mounted)
}

/// The services in the order they start: knowledge before the router.
fn in_start_order(services: &[Service]) -> Vec<Service> {
    let mut ordered = services.to_vec();
    ordered.sort_by_key(|service| *service != Service::Knowledge);
    ordered
}

/// The router's settings; with `local_knowledge` (this process runs knowledge, and no other
/// endpoint is named) its answers are asked in process.
fn router_config(
    config: &Config,
    local: SocketAddr,
    local_knowledge: Option<switchboard_router::LocalKnowledge>,
) -> anyhow::Result<switchboard_router::Config> {
    let (rules, rules_source) = match &config.rules_file {
        Some(path) => (
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the rules file {}", path.display()))?,
            format!("file:{}", path.display()),
        ),
        None => (switchboard_router::DEFAULT_RULES.to_string(), "builtin".to_string()),
    };
    let knowledge_endpoint = config.knowledge_endpoint.clone().unwrap_or_else(|| own_endpoint(config, local));
    let credentials = service_credentials(config, "router")?;
    let tls = config.tls.as_ref().map(crate::ServerTls::peer);
    Ok(switchboard_router::Config {
        rules,
        rules_source,
        knowledge_endpoint,
        credentials,
        tls,
        local_knowledge,
        ..Default::default()
    })
}

/// `serving` is cancelled when the listener stops taking calls: the desk's streams end then, or
/// the server would wait for them.
fn desk_config(
    config: &Config,
    local: SocketAddr,
    serving: &CancellationToken,
) -> anyhow::Result<switchboard_desk::Config> {
    Ok(switchboard_desk::Config {
        streams_end: serving.clone(),
        bot_idle_close: config.bot_idle_close,
        offline_grace: config.desk_offline_grace,
        knowledge_endpoint: config.knowledge_endpoint.clone().unwrap_or_else(|| own_endpoint(config, local)),
        credentials: service_credentials(config, "desk")?,
        tls: config.tls.as_ref().map(crate::ServerTls::peer),
        article_url: config.article_url.clone(),
        ..Default::default()
    })
}

/// This process's own gRPC listener, as its services call it.
pub(crate) fn own_endpoint(config: &Config, local: SocketAddr) -> String {
    match &config.tls {
        Some(_) => format!("https://{local}"),
        None => format!("http://{local}"),
    }
}

/// Service tokens a service mints for its calls to others (every tenant is the default one so far).
fn service_credentials(config: &Config, subject: &str) -> anyhow::Result<switchboard_auth::Credentials> {
    let keys = config
        .auth_keys
        .clone()
        .context("no auth key: set SWITCHBOARD_AUTH_KEY or SWITCHBOARD_AUTH_KEY_FILE")?;
    Ok(switchboard_auth::Credentials::service(keys, switchboard_bus::DEFAULT_TENANT, subject))
}

/// The sentence encoder, loaded once for the services of this process that use it (the
/// classifier's full-head models, knowledge's hybrid search); none when unset or unused. A
/// directory that holds no loadable encoder is an error, not a silent downgrade.
async fn load_encoder(config: &Config) -> anyhow::Result<Option<Arc<SentenceEncoder>>> {
    let used = config.services.iter().any(|s| matches!(s, Service::Classifier | Service::Knowledge));
    let Some(directory) = config.encoder_dir.clone().filter(|_| used) else { return Ok(None) };
    let encoder = tokio::task::spawn_blocking(move || SentenceEncoder::load(&directory))
        .await?
        .context("loading the sentence encoder")?;
    tracing::info!(dimensions = encoder.dimensions(), "sentence encoder loaded");
    Ok(Some(Arc::new(encoder)))
}

fn knowledge_config(config: &Config, encoder: Option<Arc<SentenceEncoder>>) -> switchboard_knowledge::Config {
    switchboard_knowledge::Config {
        index_dir: config.index_dir.clone(),
        min_confidence: config.answer_confidence,
        encoder,
        ..Default::default()
    }
}

fn notifier_config(config: &Config) -> switchboard_notifier::Config {
    config.notifier.clone()
}
