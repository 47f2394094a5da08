//! How operator commands reach a running server: its endpoint and the token their calls carry.

use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use switchboard_auth::{Authorized, Credentials};
use tonic::transport::Channel;

/// The server a command calls, and as whom.
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    #[arg(long, env = "SWITCHBOARD_ENDPOINT", default_value = "http://127.0.0.1:50051")]
    pub endpoint: String,
    /// The token every call carries (`switchboard token issue`).
    #[arg(long, env = "SWITCHBOARD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

impl ApiArgs {
    /// A channel carrying the token, once the server answers (waiting up to a minute).
    pub async fn connect(&self) -> anyhow::Result<Authorized> {
        let token =
            self.token.as_deref().filter(|token| !token.trim().is_empty()).context(
                "no token: set SWITCHBOARD_TOKEN (or --token) to one from `switchboard token issue`",
            )?;
        let credentials = Credentials::bearer(token).map_err(anyhow::Error::msg)?;
        let endpoint = Channel::from_shared(self.endpoint.clone())
            .with_context(|| format!("endpoint {:?} is not a URL", self.endpoint))?;
        for _ in 0..120 {
            if let Ok(channel) = endpoint.connect().await {
                return Ok(Authorized::new(channel, credentials));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        anyhow::bail!("no server answered at {} within a minute", self.endpoint)
    }
}
