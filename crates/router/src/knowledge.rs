//! The router's calls to the knowledge service, made as the tenant whose message is answered,
//! so a tenant's bot answers from that tenant's articles only.

use std::collections::HashMap;
use std::sync::Mutex;

use switchboard_auth::{Authorized, Credentials};
use switchboard_proto::knowledge::v1::knowledge_client::KnowledgeClient;
use tonic::transport::Channel;

pub(crate) struct Knowledge {
    channel: Channel,
    credentials: Credentials,
    /// The credentials acting for each tenant met so far (a minted token is reused until it
    /// renews).
    by_tenant: Mutex<HashMap<String, Credentials>>,
}

impl Knowledge {
    pub(crate) fn new(channel: Channel, credentials: Credentials) -> Self {
        Self { channel, credentials, by_tenant: Mutex::default() }
    }

    /// A client whose calls act as `tenant`.
    pub(crate) fn client_for(&self, tenant: &str) -> KnowledgeClient<Authorized> {
        let credentials = self
            .by_tenant
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(tenant.to_string())
            .or_insert_with(|| self.credentials.for_tenant(tenant))
            .clone();
        KnowledgeClient::with_interceptor(self.channel.clone(), credentials)
    }
}
