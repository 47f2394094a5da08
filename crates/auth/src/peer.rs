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
