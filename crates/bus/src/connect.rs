//! Connecting, the server version check, and idempotent stream set-up.

use async_nats::jetstream::{self, stream};

use crate::{
    Access, Bus, Config, DEAD_LETTER_STREAM, DEAD_LETTER_SUBJECT_PREFIX, EVENTS_STREAM,
    EVENTS_SUBJECT_PREFIX, Error, INBOUND_STREAM, INBOUND_SUBJECT_PREFIX,
};

/// Oldest NATS server accepted: 2.10 brought consumer `filter_subjects`.
pub const MINIMUM_SERVER_VERSION: &str = "2.10";

/// Connects and creates the streams that are missing; with `update`, also brings existing
/// streams to `config`'s settings (the services do). Without, existing streams stay exactly as
/// they are (operator commands, which must not shrink a cluster's replicas or retention to their
/// own defaults).
pub(crate) async fn connect(config: Config, update: bool) -> Result<Bus, Error> {
    let refused = |reason: String| Error::Connect { url: redacted_url(&config.url), reason };
    let (url, in_url) = without_credentials(&config.url).map_err(refused)?;
    let mut access = config.access.clone();
    if access.user_and_password.is_none() && access.token.is_none() {
        match in_url {
            Some(UrlCredentials::UserAndPassword(user, password)) => {
                access.user_and_password = Some((user, password))
            }
            Some(UrlCredentials::Token(token)) => access.token = Some(token),
            None => {}
        }
    }
    let options = options(&access).await.map_err(|error| refused(error.to_string()))?;
    let client = options.connect(url.as_str()).await.map_err(|source| refused(source.to_string()))?;
    check_server_version(&client.server_info().version)?;
    let jetstream = jetstream::new(client.clone());
    jetstream.query_account().await.map_err(|_| Error::NoJetStream { url: redacted_url(&config.url) })?;
    let bus = Bus { client, jetstream, config, connected_at: std::time::SystemTime::now() };
    ensure_streams(&bus, update).await?;
    tracing::info!(server = %bus.client.server_info().version, "connected to nats");
    Ok(bus)
}

/// Refuses a server version older than [`MINIMUM_SERVER_VERSION`].
pub fn check_server_version(found: &str) -> Result<(), Error> {
    let too_old = || Error::ServerTooOld { found: found.to_string(), required: MINIMUM_SERVER_VERSION };
    let mut parts = found.trim_start_matches('v').split(['.', '-']);
    let mut number = || parts.next().and_then(|part| part.parse::<u32>().ok());
    let (major, minor) = (number().ok_or_else(too_old)?, number().ok_or_else(too_old)?);
    if (major, minor) < (2, 10) {
        return Err(too_old());
    }
    Ok(())
}

/// Connection options: a name, a connect timeout, and the configured credentials and TLS.
async fn options(access: &Access) -> std::io::Result<async_nats::ConnectOptions> {
    let mut options = async_nats::ConnectOptions::new()
        .name("switchboard")
        .connection_timeout(std::time::Duration::from_secs(5))
        .require_tls(access.require_tls)
        .event_callback(|event| async move { observe_connection(&event) });
    if let Some(path) = &access.credentials_file {
        options = options.credentials_file(path).await?;
    }
    if let Some((user, password)) = &access.user_and_password {
        options = options.user_and_password(user.clone(), password.clone());
    }
    if let Some(token) = &access.token {
        options = options.token(token.clone());
    }
    if let Some(path) = &access.root_certificates {
        options = options.add_root_certificates(path.clone());
    }
    if let Some((certificate, key)) = &access.client_certificate {
        options = options.add_client_certificate(certificate.clone(), key.clone());
    }
    Ok(options)
}

/// Logs and counts what happens to the connection. The client reconnects by itself, and a drop,
/// a slow consumer or an error the server sent would otherwise go unseen.
fn observe_connection(event: &async_nats::Event) {
    use async_nats::Event;
    let kind = match event {
        Event::Connected => "connected",
        Event::Disconnected => "disconnected",
        Event::LameDuckMode => "lame_duck_mode",
        Event::Draining => "draining",
        Event::Closed => "closed",
        Event::SlowConsumer(_) => "slow_consumer",
        Event::ServerError(_) => "server_error",
        Event::ClientError(_) => "client_error",
    };
    metrics::counter!("switchboard_bus_connection_events_total", "event" => kind).increment(1);
    match event {
        Event::Connected | Event::Draining | Event::Closed => tracing::info!(event = kind, "bus connection"),
        _ => tracing::warn!(event = kind, detail = %event, "bus connection"),
    }
}

/// Credentials written in a NATS URL, which the client does not read by itself.
enum UrlCredentials {
    UserAndPassword(String, String),
    Token(String),
}

/// The URL without its user part, and what that part held (percent-decoded).
fn without_credentials(url: &str) -> Result<(String, Option<UrlCredentials>), String> {
    if !url.contains('@') {
        return Ok((url.to_string(), None));
    }
    let mut parsed = url::Url::parse(url).map_err(|_| "the NATS URL is not a URL".to_string())?;
    let decode = |text: &str| percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned();
    let user = decode(parsed.username());
    let credentials = match parsed.password().map(decode) {
        Some(password) => Some(UrlCredentials::UserAndPassword(user, password)),
        None if !user.is_empty() => Some(UrlCredentials::Token(user)),
        None => None,
    };
    let cleared = parsed.set_username("").is_ok() && parsed.set_password(None).is_ok();
    if !cleared {
        return Err("the NATS URL's credentials cannot be read".into());
    }
    Ok((parsed.to_string(), credentials))
}

/// A NATS URL with its user part (a password, or a token by itself) replaced, for errors, logs
/// and printed configurations.
pub fn redacted_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}***{}", &url[..scheme + 3], &url[at..]),
        _ => url.to_string(),
    }
}

/// A webhook URL as logs, events and API answers show it: scheme, host and port only. Its path
/// or query is often the secret itself (a chat tool's incoming-webhook token), and user and
/// password may be in it too. Something that does not parse as a URL is not shown at all.
pub fn shown_webhook(url: &str) -> String {
    let Ok(parsed) = url::Url::parse(url) else { return "(not a URL)".into() };
    let host = parsed.host_str().unwrap_or_default();
    let port = parsed.port().map(|port| format!(":{port}")).unwrap_or_default();
    let hidden = if parsed.path().trim_start_matches('/').is_empty() && parsed.query().is_none() {
        ""
    } else {
        "/…"
    };
    format!("{}://{host}{port}{hidden}", parsed.scheme())
}

/// A notification target as events and API answers show it: a `webhook:` target by its origin
/// only (see [`shown_webhook`]), any other (`team:`, `email:`) as it is.
pub fn shown_target(target: &str) -> String {
    match target.strip_prefix("webhook:") {
        Some(url) => format!("webhook:{}", shown_webhook(url)),
        None => target.to_string(),
    }
}

/// Creates the streams, or (with `update`) brings their limits and replicas to the configured ones.
async fn ensure_streams(bus: &Bus, update: bool) -> Result<(), Error> {
    let config = &bus.config;
    let replicas = config.replicas.clamp(1, 5);
    for (name, prefixes, retention) in [
        (EVENTS_STREAM, &[EVENTS_SUBJECT_PREFIX][..], None),
        (INBOUND_STREAM, &[INBOUND_SUBJECT_PREFIX][..], Some(config.inbound_retention)),
        (
            DEAD_LETTER_STREAM,
            &[DEAD_LETTER_SUBJECT_PREFIX, crate::REDRIVE_SUBJECT_PREFIX][..],
            Some(config.dead_letter_retention),
        ),
    ] {
        let mut stream = stream::Config {
            name: name.to_string(),
            subjects: prefixes.iter().map(|prefix| format!("{prefix}.>")).collect(),
            storage: stream::StorageType::File,
            duplicate_window: config.duplicate_window,
            allow_direct: true,
            num_replicas: replicas,
            ..Default::default()
        };
        if let Some(retention) = retention {
            stream.max_age = retention.max_age;
            stream.max_bytes = retention.max_bytes;
        }
        if !update && exists(bus, name).await? {
            continue;
        }
        bus.jetstream
            .create_or_update_stream(stream)
            .await
            .map_err(|source| Error::jetstream("create or update stream", source))?;
    }
    Ok(())
}

async fn exists(bus: &Bus, name: &str) -> Result<bool, Error> {
    use async_nats::jetstream::{ErrorCode, context::GetStreamErrorKind};
    match bus.jetstream.get_stream(name).await {
        Ok(_) => Ok(true),
        Err(error) => match error.kind() {
            GetStreamErrorKind::JetStream(error) if error.error_code() == ErrorCode::STREAM_NOT_FOUND => {
                Ok(false)
            }
            _ => Err(Error::jetstream("get stream", error)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_in_errors_hide_credentials() {
        assert_eq!(redacted_url("nats://user:secret@host:4222"), "nats://***@host:4222");
        assert_eq!(redacted_url("nats://s3cr3t-token@host"), "nats://***@host");
        assert_eq!(redacted_url("nats://host:4222"), "nats://host:4222");
    }

    #[test]
    fn webhooks_show_only_where_they_go() {
        let slack = "https://hooks.example.com/services/T000/B000/XXXXsecret?token=abc";
        assert_eq!(shown_webhook(slack), "https://hooks.example.com/…");
        assert_eq!(shown_webhook("http://ana:pw@10.0.0.1:8080/hook"), "http://10.0.0.1:8080/…");
        assert_eq!(shown_webhook("https://crm.example"), "https://crm.example");
        assert_eq!(shown_webhook("https://crm.example/?k=s3cr3t"), "https://crm.example/…");
        assert_eq!(shown_webhook("not a url with s3cr3t"), "(not a URL)");
        assert_eq!(
            shown_target("webhook:https://hooks.example.com/T/s3cr3t"),
            "webhook:https://hooks.example.com/…"
        );
        assert_eq!(shown_target("team:billing"), "team:billing");
    }

    #[test]
    fn accepts_current_servers() {
        for version in ["2.10.0", "2.15.1", "3.0.0", "v2.11.3-beta"] {
            assert!(check_server_version(version).is_ok(), "{version}");
        }
    }

    #[test]
    fn refuses_old_or_garbled_versions() {
        for version in ["2.9.10", "1.4.0", "", "two"] {
            let error = check_server_version(version).expect_err(version);
            assert!(error.to_string().contains("too old"), "{error}");
        }
    }
}
