//! Connecting, the server version check, and idempotent stream set-up.

use async_nats::jetstream::{self, stream};

use crate::{
    Bus, Config, DEAD_LETTER_STREAM, DEAD_LETTER_SUBJECT_PREFIX, EVENTS_STREAM, EVENTS_SUBJECT_PREFIX, Error,
    INBOUND_STREAM, INBOUND_SUBJECT_PREFIX,
};

/// Oldest NATS server accepted: 2.10 brought consumer `filter_subjects`.
pub const MINIMUM_SERVER_VERSION: &str = "2.10";

pub(crate) async fn connect(config: Config) -> Result<Bus, Error> {
    let client = async_nats::ConnectOptions::new()
        .name("switchboard")
        .connection_timeout(std::time::Duration::from_secs(5))
        .connect(&config.url)
        .await
        .map_err(|source| Error::Connect { url: config.url.clone(), reason: source.to_string() })?;
    check_server_version(&client.server_info().version)?;
    let jetstream = jetstream::new(client.clone());
    jetstream.query_account().await.map_err(|_| Error::NoJetStream { url: config.url.clone() })?;
    let bus = Bus { client, jetstream, config };
    ensure_streams(&bus).await?;
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

async fn ensure_streams(bus: &Bus) -> Result<(), Error> {
    let window = bus.config.duplicate_window;
    for (name, prefix) in [
        (EVENTS_STREAM, EVENTS_SUBJECT_PREFIX),
        (INBOUND_STREAM, INBOUND_SUBJECT_PREFIX),
        (DEAD_LETTER_STREAM, DEAD_LETTER_SUBJECT_PREFIX),
    ] {
        let config = stream::Config {
            name: name.to_string(),
            subjects: vec![format!("{prefix}.>")],
            storage: stream::StorageType::File,
            duplicate_window: window,
            allow_direct: true,
            ..Default::default()
        };
        bus.jetstream
            .get_or_create_stream(config)
            .await
            .map_err(|source| Error::jetstream("create stream", source))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
