//! Outbound transports the notifier delivers with: email through an SMTP relay (lettre) and
//! signed HTTP webhooks. Each attempt says whether trying again could help.

mod destination;
mod mail;
mod webhook;

pub use destination::{Destinations, Network};
pub use mail::{Mailer, OutgoingEmail};
pub use webhook::SignedPost;

/// How one delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Sent; the channel's id of it (an email's Message-ID), if it has one.
    Sent { external_id: String },
    /// Worth trying again later (network, timeouts, 4xx SMTP replies, HTTP 408/429/5xx).
    Retry(String),
    /// Refused for good (a bad address, HTTP 4xx).
    Refused(String),
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("SMTP relay URL {url:?} is invalid: {reason}")]
    SmtpUrl { url: String, reason: String },
    #[error("sender address {0:?} is invalid; expected e.g. `Acme Support <support@acme.example>`")]
    From(String),
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
}
