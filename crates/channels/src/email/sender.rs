//! Whether an email's From domain is authenticated: DKIM signatures (mail-auth) and, for mail
//! received over SMTP, the SPF result of the connecting client. A result counts only when it
//! passes and its domain is aligned with the From domain (DMARC's relaxed identifier alignment,
//! RFC 7489 3.1, without needing a DMARC record). Anything else, DNS trouble included, leaves the
//! sender unverified; the check never refuses or delays a message past its deadline.

mod dns;

use std::{net::IpAddr, time::Duration};

use mail_auth::{
    AuthenticatedMessage, DkimOutput, DkimResult, MessageAuthenticator, Parameters, SpfResult,
    common::to_a_label, spf::verify::SpfParameters,
};

pub use dns::{Records, SenderDns};

/// How senders are verified: the DNS asked, and how long one email's checks may take.
#[derive(Debug, Clone)]
pub struct SenderVerification {
    pub dns: SenderDns,
    /// Past this, the email is taken unverified (`temperror`).
    pub deadline: Duration,
    /// Whether the SPF result of the SMTP client counts. Turn it off when the listener sits
    /// behind a relay that also forwards mail claiming domains whose SPF records list the relay.
    pub spf: bool,
}

impl Default for SenderVerification {
    fn default() -> Self {
        Self {
            dns: SenderDns::System { timeout: Duration::from_secs(2) },
            deadline: Duration::from_secs(10),
            spf: true,
        }
    }
}

/// What the SMTP session knows of its client: what SPF checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpClient {
    pub ip: IpAddr,
    /// The name given in `EHLO`/`HELO`.
    pub helo: String,
    /// The `MAIL FROM` address (empty for the null reverse-path).
    pub mail_from: String,
}

/// One mechanism's result, as Authentication-Results names it (RFC 8601).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    SoftFail,
    Neutral,
    None,
    TempError,
    PermError,
    /// Not checked: SPF of mail that did not come over SMTP.
    Unchecked,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::SoftFail => "softfail",
            Self::Neutral => "neutral",
            Self::None => "none",
            Self::TempError => "temperror",
            Self::PermError => "permerror",
            Self::Unchecked => "unchecked",
        }
    }
}

/// A domain one mechanism vouched for, or did not: a DKIM signature's `d=`, SPF's `MAIL FROM`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub verdict: Verdict,
    pub domain: String,
}

/// The outcome for one email: the DKIM result (`pass` when any signature passed), the SPF result,
/// and whether a passing one is aligned with the From domain: then the sender is verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderCheck {
    pub dkim: Verdict,
    pub spf: Verdict,
    pub aligned: bool,
}

impl SenderCheck {
    pub fn verified(&self) -> bool {
        self.aligned
    }

    fn timed_out(smtp: bool) -> Self {
        let spf = if smtp { Verdict::TempError } else { Verdict::Unchecked };
        Self { dkim: Verdict::TempError, spf, aligned: false }
    }
}

/// Relaxed alignment: the two domains are equal or share their organizational domain (the
/// registrable domain under the Public Suffix List). Case, a trailing dot and IDN forms are ignored.
pub fn aligned(author: &str, identifier: &str) -> bool {
    let (author, identifier) = (normalized(author), normalized(identifier));
    if author.is_empty() || identifier.is_empty() {
        return false;
    }
    if author == identifier {
        return true;
    }
    match (psl::domain_str(&author), psl::domain_str(&identifier)) {
        (Some(left), Some(right)) => left == right,
        _ => false,
    }
}

fn normalized(domain: &str) -> String {
    to_a_label(domain.trim().trim_end_matches('.')).to_ascii_lowercase()
}

/// The decision, from what each mechanism found for `author` (the From domain; `None` when the
/// message has no single From domain, which nothing can then verify).
pub fn decide(author: Option<&str>, dkim: &[Identity], spf: Option<&Identity>) -> SenderCheck {
    let counts = |identity: &Identity| {
        identity.verdict == Verdict::Pass && author.is_some_and(|author| aligned(author, &identity.domain))
    };
    let dkim_verdict = match dkim.iter().find(|identity| identity.verdict == Verdict::Pass) {
        Some(_) => Verdict::Pass,
        None => dkim.first().map_or(Verdict::None, |identity| identity.verdict),
    };
    SenderCheck {
        dkim: dkim_verdict,
        spf: spf.map_or(Verdict::Unchecked, |identity| identity.verdict),
        aligned: dkim.iter().any(counts) || spf.is_some_and(counts),
    }
}

/// The From domain of `customer` (the address the message is taken as from), if the message has
/// exactly one From header with exactly that one address: a second From (RFC 5322 allows one)
/// could name someone other than the signed one.
pub fn author_domain(customer: &str, message: &AuthenticatedMessage<'_>) -> Option<String> {
    let from_headers = message.headers.iter().filter(|(name, _)| name.eq_ignore_ascii_case(b"from")).count();
    match (from_headers, message.from.as_slice()) {
        (1, [only]) if only.eq_ignore_ascii_case(customer) => {
            customer.rsplit_once('@').map(|(_, domain)| domain.to_string())
        }
        _ => None,
    }
}

/// Checks senders with mail-auth against the configured DNS.
#[derive(Clone)]
pub struct SenderAuth {
    authenticator: MessageAuthenticator,
    records: std::sync::Arc<Records>,
    deadline: Duration,
    spf: bool,
    /// This host's name, for SPF's `%{r}` macro.
    hostname: String,
}

impl SenderAuth {
    pub fn new(settings: &SenderVerification, hostname: &str) -> Result<Self, String> {
        let (authenticator, records) = settings.dns.authenticator()?;
        Ok(Self {
            authenticator,
            records: std::sync::Arc::new(records),
            deadline: settings.deadline,
            spf: settings.spf,
            hostname: hostname.to_string(),
        })
    }

    /// Checks `raw`, taken as from `customer`, received from `smtp` when over SMTP.
    pub async fn check(&self, raw: &[u8], customer: &str, smtp: Option<&SmtpClient>) -> SenderCheck {
        let checking = self.run(raw, customer, smtp);
        tokio::time::timeout(self.deadline, checking)
            .await
            .unwrap_or_else(|_| SenderCheck::timed_out(smtp.is_some() && self.spf))
    }

    async fn run(&self, raw: &[u8], customer: &str, smtp: Option<&SmtpClient>) -> SenderCheck {
        let Some(message) = AuthenticatedMessage::parse(raw) else {
            return decide(None, &[], None);
        };
        let author = author_domain(customer, &message);
        let dkim = self.dkim(&message).await;
        let spf = match smtp {
            Some(client) if self.spf => Some(self.spf(client).await),
            _ => None,
        };
        decide(author.as_deref(), &dkim, spf.as_ref())
    }

    async fn dkim(&self, message: &AuthenticatedMessage<'_>) -> Vec<Identity> {
        let parameters = Parameters::new(message).with_txt_cache(&*self.records);
        let outputs = self.authenticator.verify_dkim(parameters).await;
        outputs.iter().map(dkim_identity).collect()
    }

    async fn spf(&self, client: &SmtpClient) -> Identity {
        let helo = client.helo.as_str();
        let parameters = SpfParameters::verify(client.ip, helo, &self.hostname, &client.mail_from);
        let parameters = Parameters::new(parameters).with_txt_cache(&*self.records);
        let output = self.authenticator.verify_spf(parameters).await;
        Identity { verdict: spf_verdict(output.result()), domain: output.domain().to_string() }
    }
}

/// A signature's result and `d=`. A passing signature that does not sign the From header, or
/// signs only part of the body (`l=`, so text can be appended), vouches for nothing: `neutral`.
fn dkim_identity(output: &DkimOutput<'_>) -> Identity {
    let Some(signature) = output.signature() else {
        return Identity { verdict: dkim_verdict(output.result()), domain: String::new() };
    };
    let signs_from = signature.h.iter().any(|header| header.eq_ignore_ascii_case("from"));
    let verdict = match dkim_verdict(output.result()) {
        Verdict::Pass if !signs_from || signature.l != 0 => Verdict::Neutral,
        verdict => verdict,
    };
    Identity { verdict, domain: signature.d.clone() }
}

fn dkim_verdict(result: &DkimResult) -> Verdict {
    match result {
        DkimResult::Pass => Verdict::Pass,
        DkimResult::Neutral(_) => Verdict::Neutral,
        DkimResult::Fail(_) => Verdict::Fail,
        DkimResult::PermError(_) => Verdict::PermError,
        DkimResult::TempError(_) => Verdict::TempError,
        DkimResult::None => Verdict::None,
    }
}

fn spf_verdict(result: SpfResult) -> Verdict {
    match result {
        SpfResult::Pass => Verdict::Pass,
        SpfResult::Fail => Verdict::Fail,
        SpfResult::SoftFail => Verdict::SoftFail,
        SpfResult::Neutral => Verdict::Neutral,
        SpfResult::TempError => Verdict::TempError,
        SpfResult::PermError => Verdict::PermError,
        SpfResult::None => Verdict::None,
    }
}

#[cfg(test)]
mod tests;
