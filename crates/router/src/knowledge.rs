//! The router's calls to the knowledge service, made as the tenant whose message is answered,
//! so a tenant's bot answers from that tenant's articles only: over gRPC to another process, or
//! to the knowledge service of this same process without a wire (same API, same checks).

use std::sync::Arc;

use switchboard_auth::{Caller, Credentials, TenantPeer};
use switchboard_proto::knowledge::v1::{
    AnswerRequest, AnswerResponse, knowledge_client::KnowledgeClient,
    knowledge_server::Knowledge as KnowledgeService,
};
use tonic::{Request, Status, transport::Channel};

/// The knowledge service of this process, for the router to call in process.
#[derive(Clone)]
pub struct LocalKnowledge(pub Arc<dyn KnowledgeService>);

impl std::fmt::Debug for LocalKnowledge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalKnowledge")
    }
}

pub(crate) enum Knowledge {
    Remote(TenantPeer),
    Local(LocalKnowledge),
}

impl Knowledge {
    pub(crate) fn remote(channel: Channel, credentials: Credentials) -> Self {
        Self::Remote(TenantPeer::new(channel, credentials))
    }

    /// The answer to `request` from `tenant`'s knowledge base.
    pub(crate) async fn answer(
        &self,
        tenant: &str,
        request: AnswerRequest,
    ) -> Result<AnswerResponse, Status> {
        match self {
            Self::Remote(peer) => {
                let (channel, credentials) = peer.for_tenant(tenant);
                let mut client = KnowledgeClient::with_interceptor(channel, credentials);
                Ok(client.answer(request).await?.into_inner())
            }
            Self::Local(LocalKnowledge(service)) => {
                let mut request = Request::new(request);
                request.extensions_mut().insert(Caller::in_process(tenant, "router"));
                Ok(service.answer(request).await?.into_inner())
            }
        }
    }
}
