//! How one service reaches another over gRPC: the endpoint, and the TLS trust when the
//! listener speaks TLS.

use std::time::Duration;

use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

/// What a client trusts when the server speaks TLS: the CA (or the server's own certificate)
/// and the name the certificate must carry.
#[derive(Debug, Clone)]
pub struct PeerTls {
    pub ca_pem: Vec<u8>,
    pub domain: String,
}

/// A channel to `endpoint`, connected on first use; TLS when `endpoint` is `https://`.
pub fn lazy_channel(
    endpoint: &str,
    tls: Option<&PeerTls>,
    timeout: Option<Duration>,
) -> Result<Channel, String> {
    let mut endpoint = Endpoint::from_shared(endpoint.to_string())
        .map_err(|error| format!("endpoint {endpoint:?}: {error}"))?;
    if let Some(tls) = tls {
        let config = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&tls.ca_pem))
            .domain_name(tls.domain.clone());
        endpoint = endpoint.tls_config(config).map_err(|error| format!("TLS: {error}"))?;
    }
    if let Some(timeout) = timeout {
        endpoint = endpoint.connect_timeout(Duration::from_secs(2)).timeout(timeout);
    }
    Ok(endpoint.connect_lazy())
}

/// Another service of the cluster, called on behalf of each tenant in turn: the channel, and the
/// cluster's service credentials acting for each tenant met so far (a minted token is reused
/// until it renews).
pub struct TenantPeer {
    channel: Channel,
    credentials: crate::Credentials,
    by_tenant: std::sync::Mutex<std::collections::HashMap<String, crate::Credentials>>,
}

impl TenantPeer {
    pub fn new(channel: Channel, credentials: crate::Credentials) -> Self {
        Self { channel, credentials, by_tenant: std::sync::Mutex::default() }
    }

    /// The channel and the credentials that act as `tenant`, for a generated client's
    /// `with_interceptor`.
    pub fn for_tenant(&self, tenant: &str) -> (Channel, crate::Credentials) {
        let credentials = self
            .by_tenant
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(tenant.to_string())
            .or_insert_with(|| self.credentials.for_tenant(tenant))
            .clone();
        (self.channel.clone(), credentials)
    }
}
