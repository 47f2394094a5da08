//! Email out, through the configured SMTP relay, threaded: `Message-ID` of our own,
//! `In-Reply-To` the customer's last message, `References` the thread.

use lettre::{
    AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor,
    message::{Mailbox, header::ContentType},
    transport::smtp::PoolConfig,
};

use super::{Attempt, Error};

/// A message to send.
#[derive(Debug, Clone, Default)]
pub struct OutgoingEmail {
    pub to: String,
    pub to_name: String,
    pub subject: String,
    pub text: String,
    /// The id to send it under, e.g. from [`Mailer::message_id`]: a resend keeps it.
    pub message_id: String,
    pub in_reply_to: String,
    pub references: Vec<String>,
}

#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    /// `url` as lettre reads it: `smtp://host:port` (plain), `smtp://host:587?tls=required`
    /// (STARTTLS), `smtps://user:password@host` (TLS); each step of a send waits at most `timeout`.
    /// Each send has a connection of its own: a send cut short (the caller's time limit) leaves
    /// its connection mid-transaction, and a pool would hand that one to the next send, which
    /// the relay then refuses for good ("bad sequence of commands").
    pub fn new(url: &str, from: &str, timeout: std::time::Duration) -> Result<Self, Error> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|error| Error::SmtpUrl { url: redact(url), reason: error.to_string() })?
            .timeout(Some(timeout))
            .pool_config(PoolConfig::new().max_size(0))
            .build();
        let from = from.parse::<Mailbox>().map_err(|_| Error::From(from.into()))?;
        Ok(Self { transport, from })
    }

    /// Our Message-ID for a delivery: stable, so a resend after a crash is the same message.
    pub fn message_id(&self, delivery_id: &str) -> String {
        format!("<{delivery_id}@{}>", self.from.email.domain())
    }

    pub async fn send(&self, email: &OutgoingEmail) -> Attempt {
        let message = match self.build(email) {
            Ok(message) => message,
            Err(reason) => return Attempt::Refused(reason),
        };
        match self.transport.send(message).await {
            Ok(_) => Attempt::Sent { external_id: email.message_id.clone() },
            Err(error) if error.is_permanent() => {
                Attempt::Refused(format!("relay refused the message: {error}"))
            }
            Err(error) => Attempt::Retry(format!("relay unavailable: {error}")),
        }
    }

    fn build(&self, email: &OutgoingEmail) -> Result<Message, String> {
        let to = Mailbox::new(
            (!email.to_name.is_empty()).then(|| email.to_name.clone()),
            email.to.parse().map_err(|_| format!("{:?} is not an email address", email.to))?,
        );
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject.clone())
            .message_id(Some(email.message_id.clone()))
            .header(ContentType::TEXT_PLAIN);
        if !email.in_reply_to.is_empty() {
            builder = builder.in_reply_to(email.in_reply_to.clone());
        }
        if !email.references.is_empty() {
            builder = builder.references(email.references.join(" "));
        }
        builder.body(email.text.clone()).map_err(|error| format!("cannot build the email: {error}"))
    }
}

/// A relay URL without its password, for errors.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}***{}", &url[..scheme + 3], &url[at..]),
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

    // The relay's connection pool lives on the tokio runtime.
    #[tokio::test]
    async fn builds_threaded_messages() {
        let mailer = Mailer::new("smtp://127.0.0.1:2525", "Acme Support <support@acme.example>", TIMEOUT)
            .expect("mailer");
        assert_eq!(mailer.message_id("r1"), "<r1@acme.example>");
        let email = OutgoingEmail {
            to: "ana@example.com".into(),
            to_name: "Ana Ruiz".into(),
            subject: "Re: Where is my order? [#SB-9A0C12D4AB]".into(),
            text: "It shipped.".into(),
            message_id: mailer.message_id("r1"),
            in_reply_to: "<m2@example.com>".into(),
            references: vec!["<m1@example.com>".into(), "<m2@example.com>".into()],
        };
        let formatted = String::from_utf8(mailer.build(&email).expect("built").formatted()).expect("utf-8");
        assert!(formatted.contains("In-Reply-To: <m2@example.com>"), "{formatted}");
        assert!(formatted.contains("References: <m1@example.com> <m2@example.com>"), "{formatted}");
        assert!(formatted.contains("Message-ID: <r1@acme.example>"), "{formatted}");
        assert!(mailer.build(&OutgoingEmail { to: "not an address".into(), ..email }).is_err());
    }

    #[tokio::test]
    async fn bad_settings_are_explained_without_secrets() {
        let error =
            Mailer::new("gopher://u:secret@h", "a@b.example", TIMEOUT).err().expect("refused").to_string();
        assert!(!error.contains("secret"), "{error}");
        assert!(Mailer::new("smtp://h:25", "no address", TIMEOUT).is_err());
    }
}
