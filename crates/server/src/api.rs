//! How operator commands reach a running server: its endpoint and the token their calls carry.

use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use switchboard_auth::{Authorized, Credentials};
use tonic::transport::Channel;

/// Where the server is when nothing says otherwise: `serve`'s default listener.
const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:50051";

/// The server a command calls, and as whom: the token comes from `SWITCHBOARD_TOKEN`, never
/// a flag (argv is visible to every user of the machine).
#[derive(Clone, Args)]
pub struct ApiArgs {
    /// The server's URL; when unset, the address `serve` is told to listen on
    /// (`SWITCHBOARD_GRPC_ADDR`), else http://127.0.0.1:50051.
    #[arg(long, env = "SWITCHBOARD_ENDPOINT")]
    pub endpoint: Option<String>,
    #[arg(skip = std::env::var("SWITCHBOARD_GRPC_ADDR").ok())]
    pub grpc_addr: Option<String>,
    #[arg(skip = std::env::var("SWITCHBOARD_TOKEN").ok())]
    pub token: Option<String>,
}

/// The URL a command calls: `explicit` when given, else one that reaches `listen` (a wildcard
/// host such as `0.0.0.0` is reached on loopback), else the default.
pub fn endpoint_for(explicit: Option<&str>, listen: Option<&str>) -> String {
    let given = |text: Option<&str>| text.map(str::trim).filter(|text| !text.is_empty()).map(str::to_string);
    if let Some(explicit) = given(explicit) {
        return explicit;
    }
    let Some(listen) = given(listen) else { return DEFAULT_ENDPOINT.into() };
    match listen.parse::<std::net::SocketAddr>() {
        Ok(mut address) => {
            if address.ip().is_unspecified() {
                address.set_ip(match address {
                    std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                    std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
                });
            }
            format!("http://{address}")
        }
        Err(_) => format!("http://{listen}"),
    }
}

impl std::fmt::Debug for ApiArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiArgs")
            .field("endpoint", &self.endpoint())
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish()
    }
}

impl ApiArgs {
    /// The server's URL (see [`endpoint_for`]).
    pub fn endpoint(&self) -> String {
        endpoint_for(self.endpoint.as_deref(), self.grpc_addr.as_deref())
    }

    /// A channel carrying the token, once the server answers (waiting up to a minute).
    pub async fn connect(&self) -> anyhow::Result<Authorized> {
        let token = self
            .token
            .as_deref()
            .filter(|token| !token.trim().is_empty())
            .context("no token: set SWITCHBOARD_TOKEN to one from `switchboard token issue`")?;
        let credentials = Credentials::bearer(token).map_err(anyhow::Error::msg)?;
        let url = self.endpoint();
        let endpoint =
            Channel::from_shared(url.clone()).with_context(|| format!("endpoint {url:?} is not a URL"))?;
        for _ in 0..120 {
            if let Ok(channel) = endpoint.connect().await {
                return Ok(Authorized::new(channel, credentials));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        anyhow::bail!("no server answered at {url} within a minute (set SWITCHBOARD_ENDPOINT or --endpoint)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_find_the_server_where_serve_listens_unless_told() {
        assert_eq!(endpoint_for(None, None), "http://127.0.0.1:50051");
        assert_eq!(endpoint_for(None, Some("127.0.0.1:6000")), "http://127.0.0.1:6000");
        assert_eq!(endpoint_for(None, Some("0.0.0.0:6000")), "http://127.0.0.1:6000");
        assert_eq!(endpoint_for(None, Some("[::]:6000")), "http://[::1]:6000");
        assert_eq!(endpoint_for(None, Some("switchboard:50051")), "http://switchboard:50051");
        assert_eq!(
            endpoint_for(Some("https://sb.example:443"), Some("0.0.0.0:6000")),
            "https://sb.example:443"
        );
        assert_eq!(endpoint_for(Some(" "), Some("")), "http://127.0.0.1:50051");
    }
}
