//! The cluster's gRPC API as the console calls it: every call carries the signed-in person's own
//! token, so the API's auth layer decides each right; the console holds no rights of its own.

use std::time::Duration;

use axum::extract::FromRequestParts;
use http::{header, request::Parts};
use switchboard_auth::{Authorized, Credentials};
use switchboard_proto::{
    analytics::v1::analytics_client::AnalyticsClient, auth::v1::auth_client::AuthClient,
    desk::v1::desk_client::DeskClient, knowledge::v1::knowledge_client::KnowledgeClient,
};
use tonic::transport::Channel;

use crate::error::ApiError;

/// How long one call may take; a live stream has no deadline.
const CALL_TIMEOUT: Duration = Duration::from_secs(25);

/// Connections to the API, made on first use.
#[derive(Clone)]
pub struct Backend {
    calls: Channel,
    streams: Channel,
    analytics: Channel,
    knowledge: Channel,
}

impl Backend {
    /// Fails only on a malformed endpoint.
    pub fn new(config: &crate::Config) -> Result<Self, String> {
        let tls = config.tls.as_ref();
        Ok(Self {
            calls: switchboard_auth::lazy_channel(&config.endpoint, tls, Some(CALL_TIMEOUT))?,
            streams: switchboard_auth::lazy_channel(&config.endpoint, tls, None)?,
            analytics: switchboard_auth::lazy_channel(&config.analytics_endpoint, tls, Some(CALL_TIMEOUT))?,
            knowledge: switchboard_auth::lazy_channel(&config.knowledge_endpoint, tls, Some(CALL_TIMEOUT))?,
        })
    }

    /// Analytics, as the person `bearer` names.
    pub fn analytics(&self, bearer: &Bearer) -> AnalyticsClient<Authorized> {
        AnalyticsClient::with_interceptor(self.analytics.clone(), bearer.0.clone())
    }

    /// Knowledge, as the person `bearer` names.
    pub fn knowledge(&self, bearer: &Bearer) -> KnowledgeClient<Authorized> {
        KnowledgeClient::with_interceptor(self.knowledge.clone(), bearer.0.clone())
    }

    /// The desk, as the person `bearer` names.
    pub fn desk(&self, bearer: &Bearer) -> DeskClient<Authorized> {
        DeskClient::with_interceptor(self.calls.clone(), bearer.0.clone())
    }

    /// The desk for a long-lived stream (no call deadline).
    pub fn desk_stream(&self, bearer: &Bearer) -> DeskClient<Authorized> {
        DeskClient::with_interceptor(self.streams.clone(), bearer.0.clone())
    }

    /// Auth, as `bearer`, or anonymous (signing in needs no token).
    pub fn auth(&self, bearer: Option<&Bearer>) -> AuthClient<Authorized> {
        let credentials = bearer.map_or_else(Credentials::default, |bearer| bearer.0.clone());
        AuthClient::with_interceptor(self.calls.clone(), credentials)
    }
}

/// The token the browser sent (`Authorization: Bearer …`), passed on as it is: the API checks it.
#[derive(Clone)]
pub struct Bearer(Credentials);

/// The token of an `Authorization` header value, if it is a well-formed bearer one.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    let plausible = scheme.eq_ignore_ascii_case("bearer")
        && !token.is_empty()
        && token.len() <= 4096
        && token.bytes().all(|b| b.is_ascii_graphic());
    plausible.then_some(token)
}

impl<S: Send + Sync> FromRequestParts<S> for Bearer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let value = parts.headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok());
        let token = value
            .and_then(bearer_token)
            .ok_or_else(|| ApiError::unauthenticated("sign in first (no bearer token sent)"))?;
        let credentials = Credentials::bearer(token).map_err(ApiError::unauthenticated)?;
        Ok(Self(credentials))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_bearer_tokens_are_taken() {
        assert_eq!(bearer_token("Bearer abc.def"), Some("abc.def"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        for bad in ["abc", "Basic abc", "Bearer ", "Bearer a b", "Bearer ab\u{7f}"] {
            assert_eq!(bearer_token(bad), None, "{bad:?}");
        }
    }
}
