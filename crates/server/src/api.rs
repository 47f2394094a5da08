//! How operator commands reach a running server: its endpoint and the token their calls carry.

use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use switchboard_auth::{Authorized, Credentials};
use tonic::transport::Channel;

/// The server a command calls, and as whom: the token comes from `SWITCHBOARD_TOKEN`, never
/// a flag (argv is visible to every user of the machine).
#[derive(Clone, Args)]
pub struct ApiArgs {
    #[arg(long, env = "SWITCHBOARD_ENDPOINT", default_value = "http://127.0.0.1:50051")]
    pub endpoint: String,
    #[arg(skip = std::env::var("SWITCHBOARD_TOKEN").ok())]
    pub token: Option<String>,
}

impl std::fmt::Debug for ApiArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiArgs")
            .field("endpoint", &self.endpoint)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish()
    }
}

impl ApiArgs {
    /// A channel carrying the token, once the server answers (waiting up to a minute).
    pub async fn connect(&self) -> anyhow::Result<Authorized> {
        let token = self
            .token
            .as_deref()
            .filter(|token| !token.trim().is_empty())
            .context("no token: set SWITCHBOARD_TOKEN to one from `switchboard token issue`")?;
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
