//! Who may call which API. Every gRPC call carries `authorization: Bearer <token>`; the token
//! (a JWT signed with HS256 under the cluster's shared key) binds a tenant, a subject and a role.
//! One tower layer ([`Guard`]) checks every call against one table of rights ([`RIGHTS`]) and
//! hands the handler a [`Caller`]; handlers take the tenant from the caller, never from a field.

#![forbid(unsafe_code)]

mod caller;
mod credentials;
mod guard;
mod peer;
mod revocations;
mod rights;
mod role;
pub mod secret_hash;
mod service;
mod sign_in;
mod token;

pub use caller::Caller;
pub use credentials::Credentials;

/// A client channel that sends [`Credentials`] with every call.
pub type Authorized<T = tonic::transport::Channel> =
    tonic::service::interceptor::InterceptedService<T, Credentials>;
pub use guard::Guard;
pub use peer::{PeerTls, TenantPeer, lazy_channel};
pub use revocations::Revocations;
pub use rights::{Access, OPEN_RPCS, RIGHTS, access_of};
pub use role::{Right, Role};
pub use service::AuthApi;
pub use token::{Claims, Grant, Keys, TokenError, valid_subject, valid_tenant};

/// The longest a token may live.
pub const MAX_TTL: std::time::Duration = std::time::Duration::from_secs(400 * 24 * 3600);

/// A token's lifetime when none is asked for.
pub const DEFAULT_TTL: std::time::Duration = std::time::Duration::from_secs(90 * 24 * 3600);
