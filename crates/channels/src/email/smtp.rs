//! The project's own SMTP listener (RFC 5321, plain text behind the company's MTA): EHLO, MAIL,
//! RCPT, DATA, RSET, NOOP, QUIT, with SIZE. A message is answered `250` only once it is on the
//! stream; a refused one gets a `5xx` with the reason, so the sending MTA bounces it clearly.
//! Connections, sessions and DATA held in memory are bounded ([`SmtpLimits`]).

use std::{net::IpAddr, sync::Arc, time::Duration};

use tokio::{
    io::{
        AsyncBufRead, AsyncBufReadExt as _, AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _,
        BufReader,
    },
    net::TcpListener,
};
use tokio_util::sync::CancellationToken;

use super::{
    Inbox, Mailroom, Outcome, SmtpClient,
    limits::{Budget, Busy, Gate, SmtpLimits},
};

/// Longest command line (RFC 5321 says 512 with the CRLF; some clients send more).
const MAX_LINE: usize = 4096;
const MAX_RECIPIENTS: usize = 100;
const IDLE: Duration = Duration::from_secs(300);

/// Serves SMTP on `listener` until `shutdown`, within `limits`.
pub async fn serve(
    listener: TcpListener,
    inbox: Inbox,
    hostname: String,
    limits: SmtpLimits,
    shutdown: CancellationToken,
) {
    let gate = Gate::new(limits);
    let hostname: Arc<str> = hostname.into();
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, peer)) = accepted else { continue };
        let (inbox, hostname, gate) = (inbox.clone(), hostname.clone(), gate.clone());
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let _admitted = match gate.admit(peer.ip()) {
                Ok(admitted) => admitted,
                Err(busy) => return refuse(&mut write, busy).await,
            };
            let session = Session::new(&inbox, &hostname, &gate, peer.ip()).run(read, &mut write);
            match tokio::time::timeout(gate.limits.session_deadline, session).await {
                Ok(Err(error)) => tracing::debug!(%error, "smtp session ended"),
                Ok(Ok(())) => {}
                Err(_) => {
                    let closing = reply(&mut write, "421 4.4.2 session too long; closing");
                    let _ = tokio::time::timeout(Duration::from_secs(1), closing).await;
                }
            }
        });
    }
}

/// `421` to a connection that finds no place, then close.
async fn refuse(write: &mut (impl AsyncWrite + Unpin), busy: Busy) {
    let text = match busy {
        Busy::Listener => "421 4.3.2 too busy; try again later",
        Busy::Client => "421 4.7.0 too many connections from your address; try again later",
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), reply(write, text)).await;
}

/// One SMTP session over `read` and `write`, as the listener runs it for each connection (without
/// its connection limits and deadline), its messages going to `mailroom`.
pub async fn converse(
    mailroom: &impl Mailroom,
    hostname: &str,
    limits: SmtpLimits,
    peer: IpAddr,
    read: impl AsyncRead + Unpin,
    write: impl AsyncWrite + Unpin,
) -> std::io::Result<()> {
    let gate = Gate::new(limits);
    Session::new(mailroom, hostname, &gate, peer).run(read, write).await
}

/// One connection's state.
struct Session<'a, M> {
    inbox: &'a M,
    hostname: &'a str,
    gate: &'a Gate,
    /// The client's address and the name it gave in `EHLO`/`HELO`: what SPF checks.
    peer: IpAddr,
    helo: String,
    greeted: bool,
    sender: Option<String>,
    recipients: usize,
    /// The tenant of the first recipient: one message is one tenant's.
    tenant: Option<String>,
}

impl<'a, M: Mailroom> Session<'a, M> {
    fn new(inbox: &'a M, hostname: &'a str, gate: &'a Gate, peer: IpAddr) -> Self {
        let helo = String::new();
        Self { inbox, hostname, gate, peer, helo, greeted: false, sender: None, recipients: 0, tenant: None }
    }

    async fn run(
        mut self,
        read: impl AsyncRead + Unpin,
        mut write: impl AsyncWrite + Unpin,
    ) -> std::io::Result<()> {
        let mut read = BufReader::new(read);
        reply(&mut write, &format!("220 {} Switchboard ESMTP ready", self.hostname)).await?;
        loop {
            let Some(line) = read_line(&mut read).await? else { return Ok(()) };
            let Ok(line) = String::from_utf8(line) else {
                reply(&mut write, "500 5.5.2 command is not UTF-8").await?;
                continue;
            };
            let (verb, argument) = line.split_once(' ').unwrap_or((line.as_str(), ""));
            let answer = match verb.to_ascii_uppercase().as_str() {
                "EHLO" => self.ehlo(argument),
                "HELO" => self.helo(argument),
                "MAIL" => self.mail(argument),
                "RCPT" => self.rcpt(argument),
                "DATA" if self.recipients == 0 => "503 5.5.1 RCPT TO first".to_string(),
                "DATA" => {
                    reply(&mut write, "354 end data with <CR><LF>.<CR><LF>").await?;
                    let data = read_data(&mut read, self.inbox.max_bytes(), self.gate.budget()).await?;
                    let envelope = (self.sender.take(), self.tenant.take());
                    self.reset();
                    self.data(data, envelope).await
                }
                "RSET" => {
                    self.reset();
                    "250 2.0.0 reset".to_string()
                }
                "NOOP" => "250 2.0.0 ok".to_string(),
                "VRFY" => "252 2.1.5 cannot verify; send and see".to_string(),
                "QUIT" => {
                    reply(&mut write, "221 2.0.0 bye").await?;
                    return Ok(());
                }
                _ => "502 5.5.2 command not implemented".to_string(),
            };
            reply(&mut write, &answer).await?;
        }
    }

    fn ehlo(&mut self, name: &str) -> String {
        self.greet(name);
        let size = self.inbox.max_bytes();
        format!("250-{}\r\n250-SIZE {size}\r\n250-8BITMIME\r\n250-PIPELINING\r\n250 SMTPUTF8", self.hostname)
    }

    fn helo(&mut self, name: &str) -> String {
        self.greet(name);
        format!("250 {}", self.hostname)
    }

    fn greet(&mut self, name: &str) {
        self.greeted = true;
        self.helo = name.trim().to_lowercase();
        self.reset();
    }

    fn mail(&mut self, argument: &str) -> String {
        if !self.greeted {
            return "503 5.5.1 EHLO first".into();
        }
        let Some(path) = strip_prefix_ignore_case(argument, "FROM:") else {
            return "501 5.5.4 syntax: MAIL FROM:<address>".into();
        };
        let (address, parameters) = path_and_parameters(path);
        let declared =
            parameters.iter().find_map(|p| strip_prefix_ignore_case(p, "SIZE=")?.parse::<usize>().ok());
        if declared.is_some_and(|size| size > self.inbox.max_bytes()) {
            return format!("552 5.3.4 message size exceeds the limit of {} bytes", self.inbox.max_bytes());
        }
        self.sender = Some(address);
        "250 2.1.0 ok".into()
    }

    fn rcpt(&mut self, argument: &str) -> String {
        if self.sender.is_none() {
            return "503 5.5.1 MAIL FROM first".into();
        }
        let Some(path) = strip_prefix_ignore_case(argument, "TO:") else {
            return "501 5.5.4 syntax: RCPT TO:<address>".into();
        };
        if self.recipients >= MAX_RECIPIENTS {
            return "452 4.5.3 too many recipients".into();
        }
        let (address, _) = path_and_parameters(path);
        let tenant = self.inbox.tenants().email_tenant(&address);
        match &self.tenant {
            // RFC 5321: the client sends the refused recipients again in a transaction of their own.
            Some(taken) if taken != tenant => return "452 4.5.3 one company per message; send again".into(),
            Some(_) => {}
            None => self.tenant = Some(tenant.to_string()),
        }
        self.recipients += 1;
        "250 2.1.5 ok".into()
    }

    /// The message's outcome; `envelope` is its `MAIL FROM` and its recipients' tenant.
    async fn data(&self, data: Data, envelope: (Option<String>, Option<String>)) -> String {
        let sender = envelope.0.as_deref();
        let tenant = envelope.1.as_deref().unwrap_or(switchboard_bus::DEFAULT_TENANT);
        let outcome = match data {
            Data::TooLarge(size) => {
                let reason =
                    format!("message is {size} bytes; at most {} are accepted", self.inbox.max_bytes());
                self.inbox.refuse_unread(size, reason, sender, tenant).await
            }
            Data::BareLf(size) => {
                let reason = "message has lines ending in a bare LF; SMTP requires CRLF".to_string();
                self.inbox.refuse_unread(size, reason, sender, tenant).await
            }
            Data::Busy(size) => {
                tracing::warn!(size, "email deferred: the listener holds too much mail at once");
                return "452 4.3.1 too much mail in progress; try again later".into();
            }
            Data::Complete(raw, _budget) => {
                let client = SmtpClient {
                    ip: self.peer,
                    helo: self.helo.clone(),
                    mail_from: sender.unwrap_or_default().to_string(),
                };
                self.inbox.accept(&raw, Some(&client), tenant).await
            }
        };
        // What the message said goes into one reply line, whatever it holds.
        match outcome {
            Ok(Outcome::Accepted { message_id, .. }) => {
                format!("250 2.0.0 accepted {}", one_line(&message_id))
            }
            Ok(Outcome::Refused { reason }) if reason.contains("at most") => {
                format!("552 5.3.4 {}", one_line(&reason))
            }
            Ok(Outcome::Refused { reason }) => format!("550 5.6.0 {}", one_line(&reason)),
            Err(error) => {
                tracing::warn!(%error, "email not taken; the sender will retry");
                "451 4.3.0 temporarily unavailable; try again later".into()
            }
        }
    }

    fn reset(&mut self) {
        self.sender = None;
        self.recipients = 0;
        self.tenant = None;
    }
}

enum Data {
    /// The message, with the share of the DATA budget it holds until dropped.
    Complete(Vec<u8>, Budget),
    /// Read to its end and dropped: the DATA budget was spent; how many bytes were read.
    Busy(usize),
    /// Read to its end and dropped past the limit; how many bytes were read.
    TooLarge(usize),
    /// A line ended with a bare LF: refused (RFC 5321 2.3.8; it is how SMTP smuggling works).
    BareLf(usize),
}

/// Bytes read at once inside DATA: a line longer than this is read in pieces.
const PIECE: u64 = 64 * 1024;

/// Reads a DATA section to `CRLF . CRLF`, undoing dot-stuffing. Only a dot line after a CRLF
/// ends it, so a bare LF can never end a message early and smuggle another one after it.
async fn read_data(
    read: &mut (impl AsyncBufRead + Unpin),
    max: usize,
    mut budget: Budget,
) -> std::io::Result<Data> {
    let (mut raw, mut size, mut bare_lf) = (Vec::new(), 0usize, false);
    let mut line_start = true;
    let mut piece = Vec::new();
    loop {
        piece.clear();
        let n = tokio::time::timeout(IDLE, (&mut *read).take(PIECE).read_until(b'\n', &mut piece))
            .await
            .map_err(timeout)??;
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed in DATA"));
        }
        if line_start && piece == b".\r\n" {
            return Ok(match (bare_lf, size > max, budget.exhausted) {
                (true, _, _) => Data::BareLf(size),
                (false, true, _) => Data::TooLarge(size),
                (false, false, true) => Data::Busy(size),
                (false, false, false) => Data::Complete(raw, budget),
            });
        }
        bare_lf |= piece.ends_with(b"\n") && !piece.ends_with(b"\r\n");
        let unstuffed = if line_start && piece.starts_with(b"..") { &piece[1..] } else { &piece[..] };
        size += unstuffed.len();
        if size <= max && budget.cover(size) {
            raw.extend_from_slice(unstuffed);
        } else if budget.exhausted {
            raw = Vec::new();
        }
        line_start = piece.ends_with(b"\r\n");
    }
}

/// A command line without its CRLF; `None` at the end of the connection.
async fn read_line(read: &mut (impl AsyncBufRead + Unpin)) -> std::io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    let n = tokio::time::timeout(IDLE, (&mut *read).take(MAX_LINE as u64).read_until(b'\n', &mut line))
        .await
        .map_err(timeout)??;
    if n == 0 {
        return Ok(None);
    }
    if !line.ends_with(b"\n") {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "command line too long"));
    }
    while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        line.pop();
    }
    Ok(Some(line))
}

async fn reply(write: &mut (impl AsyncWrite + Unpin), text: &str) -> std::io::Result<()> {
    write.write_all(format!("{text}\r\n").as_bytes()).await?;
    write.flush().await
}

fn timeout(_: tokio::time::error::Elapsed) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::TimedOut, "smtp client idle")
}

/// `text` with control characters (line breaks among them) as spaces: a reply line stays one.
fn one_line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

fn strip_prefix_ignore_case<'t>(text: &'t str, prefix: &str) -> Option<&'t str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &text[prefix.len()..])
}

/// `<address> PARAM=VALUE ...` into the address and the parameters.
fn path_and_parameters(path: &str) -> (String, Vec<&str>) {
    let mut parts = path.split_whitespace();
    let address =
        parts.next().unwrap_or_default().trim_start_matches('<').trim_end_matches('>').to_lowercase();
    (address, parts.collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{email::Unavailable, tenants::Tenants};

    fn budget() -> Budget {
        Gate::new(SmtpLimits::default()).budget()
    }

    #[tokio::test]
    async fn data_is_unstuffed_and_bounded() {
        let input: &[u8] = b"Subject: x\r\n..leading dot\r\n.\r\n";
        let mut read = BufReader::new(input);
        let Data::Complete(raw, _) = read_data(&mut read, 100, budget()).await.expect("read") else {
            panic!("too large")
        };
        assert_eq!(raw, b"Subject: x\r\n.leading dot\r\n");
        let mut read = BufReader::new(input);
        assert!(matches!(read_data(&mut read, 5, budget()).await.expect("read"), Data::TooLarge(26)));
    }

    #[tokio::test]
    async fn a_message_past_the_shared_budget_is_read_through_and_deferred() {
        let gate = Gate::new(SmtpLimits { data_in_flight: 2048, ..SmtpLimits::default() });
        let mut input = vec![b'x'; 5000];
        input.extend_from_slice(b"\r\n.\r\nQUIT\r\n");
        let mut read = BufReader::new(&input[..]);
        assert!(matches!(read_data(&mut read, 10_000, gate.budget()).await.expect("read"), Data::Busy(5002)));
        let mut rest = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut read, &mut rest).await.expect("rest");
        assert_eq!(rest, "QUIT\r\n", "the whole DATA was consumed");
        assert!(gate.budget().cover(2048), "the budget was given back");
    }

    #[tokio::test]
    async fn a_bare_lf_never_ends_the_data_and_refuses_the_message() {
        // The smuggling shape: a dot after a bare LF, then a second message in the same DATA.
        let input: &[u8] = b"Subject: x\r\n\n.\r\nMAIL FROM:<evil@example.com>\r\n.\r\nQUIT\r\n";
        let mut read = BufReader::new(input);
        assert!(matches!(read_data(&mut read, 1000, budget()).await.expect("read"), Data::BareLf(_)));
        let mut rest = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut read, &mut rest).await.expect("rest");
        assert_eq!(rest, "QUIT\r\n", "the smuggled lines were read as data");
    }

    #[tokio::test]
    async fn a_line_without_end_is_read_in_bounded_pieces() {
        let mut input = vec![b'x'; 300_000];
        input.extend_from_slice(b"\r\n.\r\n");
        let mut read = BufReader::new(&input[..]);
        assert!(matches!(read_data(&mut read, 1000, budget()).await.expect("read"), Data::TooLarge(300_002)));
    }

    /// Takes every message, answering with what it was built to say.
    struct Saying(Outcome);

    impl Mailroom for Saying {
        fn max_bytes(&self) -> usize {
            1000
        }

        fn tenants(&self) -> &Tenants {
            static NONE: std::sync::LazyLock<Tenants> = std::sync::LazyLock::new(Tenants::default);
            &NONE
        }

        async fn accept(&self, _: &[u8], _: Option<&SmtpClient>, _: &str) -> Result<Outcome, Unavailable> {
            Ok(self.0.clone())
        }

        async fn refuse_unread(
            &self,
            _: usize,
            _: String,
            _: Option<&str>,
            _: &str,
        ) -> Result<Outcome, Unavailable> {
            Ok(self.0.clone())
        }
    }

    /// Found by fuzzing: what a message says about itself (its Message-ID, a refusal's reason)
    /// never breaks a reply line in two.
    #[tokio::test]
    async fn what_a_message_says_stays_inside_one_reply_line() {
        let session: &[u8] =
            b"HELO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<s@x.example>\r\nDATA\r\nx\r\n.\r\n";
        for said in [
            Outcome::Accepted { message_id: "<a\rb\n250 forged>".into(), duplicate: false },
            Outcome::Refused { reason: "no\r\n250 2.0.0 forged".into() },
        ] {
            let mut written = Vec::new();
            let peer = IpAddr::from([192, 0, 2, 1]);
            converse(&Saying(said), "mx", SmtpLimits::default(), peer, session, &mut written)
                .await
                .expect("session");
            let text = String::from_utf8(written).expect("utf-8");
            let lines: Vec<&str> = text.split_terminator("\r\n").collect();
            assert_eq!(lines.len(), 6, "{text:?}");
            assert!(lines.iter().all(|line| !line.contains(['\r', '\n'])), "{text:?}");
            assert!(!lines.iter().any(|line| line.starts_with("250 2.0.0 forged")), "{text:?}");
        }
    }

    #[test]
    fn reads_paths_and_parameters() {
        assert_eq!(strip_prefix_ignore_case("from:<a@b>", "FROM:"), Some("<a@b>"));
        let (address, parameters) = path_and_parameters("<A@B.example> SIZE=1000 BODY=8BITMIME");
        assert_eq!(address, "a@b.example");
        assert_eq!(parameters, ["SIZE=1000", "BODY=8BITMIME"]);
    }
}
