//! The router's calls to the knowledge service, made as the tenant whose message is answered,
//! so a tenant's bot answers from that tenant's articles only.

use switchboard_auth::{Authorized, Credentials, TenantPeer};
use switchboard_proto::knowledge::v1::knowledge_client::KnowledgeClient;
use tonic::transport::Channel;

pub(crate) struct Knowledge(TenantPeer);

impl Knowledge {
    pub(crate) fn new(channel: Channel, credentials: Credentials) -> Self {
        Self(TenantPeer::new(channel, credentials))
    }

    /// A client whose calls act as `tenant`.
    pub(crate) fn client_for(&self, tenant: &str) -> KnowledgeClient<Authorized> {
        let (channel, credentials) = self.0.for_tenant(tenant);
        KnowledgeClient::with_interceptor(channel, credentials)
    }
}
