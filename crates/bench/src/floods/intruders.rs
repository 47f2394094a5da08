//! The webhook and SMTP flooders of the load run.

use std::{
    net::{IpAddr, SocketAddr},
    sync::{Arc, atomic::Ordering::Relaxed},
    time::Duration,
};

use switchboard_channels::signature;

use tokio::{
    io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader},
    net::tcp::OwnedReadHalf,
    time::Instant,
};

use super::{RETRY, SECRET, Tally, add, connect_from, flooder_address, unix_now};

/// Posts SMS webhooks as fast as it can: unsigned, or signed with the wrong secret.
pub(super) async fn hook_flooder(http: SocketAddr, index: usize, end: Instant, tally: Arc<Tally>) {
    let url = format!("http://{http}/hooks/sms");
    let client = reqwest::Client::builder()
        .local_address(flooder_address(4 + index % 4))
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_default();
    for n in 0u64.. {
        if Instant::now() >= end {
            break;
        }
        let body = serde_json::json!({
            "customer_id": format!("flood-{index}"), "text": "flood", "message_id": format!("m-{index}-{n}"),
        })
        .to_string();
        let mut request = client.post(&url);
        if n % 2 == 1 {
            request = request
                .header(signature::HEADER, signature::sign(b"not-the-secret", unix_now(), body.as_bytes()));
        }
        let status = request.body(body).send().await.map(|r| r.status().as_u16()).unwrap_or(0);
        tally.hooks.count(status);
    }
}

/// Declares 500 MB bodies and sends none: unsigned, or signed (for an empty body) so the size is
/// what refuses them.
pub(super) async fn huge_flooder(http: SocketAddr, index: usize, end: Instant, tally: Arc<Tally>) {
    let address = flooder_address(4 + index % 4);
    while Instant::now() < end {
        let status = huge_request(http, address, index % 2 == 1).await.unwrap_or(0);
        tally.huge.count(status);
    }
}

async fn huge_request(http: SocketAddr, address: IpAddr, signed: bool) -> anyhow::Result<u16> {
    let mut stream = connect_from(address, http).await?;
    let signature = match signed {
        true => format!("{}: {}\r\n", signature::HEADER, signature::sign(SECRET.as_bytes(), unix_now(), b"")),
        false => String::new(),
    };
    let head = format!(
        "POST /hooks/sms HTTP/1.1\r\nHost: bench\r\n{signature}\
         Content-Type: application/json\r\nContent-Length: 500000000\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await?;
    let mut first = [0u8; 12];
    tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut first)).await??;
    let status = String::from_utf8_lossy(&first[9..12]).parse()?;
    Ok(status)
}

// --- SMTP ---

pub(super) async fn smtp_flooder(smtp: SocketAddr, index: usize, end: Instant, tally: Arc<Tally>) {
    while Instant::now() < end {
        add(&tally.smtp_opened);
        if smtp_session(smtp, index.is_multiple_of(2), end, &tally).await.is_err() {
            tally.smtp_replies.count(0);
        }
    }
}

/// Keeps `smtp_held_now` (and its peak) while a session is admitted.
struct Held<'a>(&'a Tally);

impl<'a> Held<'a> {
    fn new(tally: &'a Tally) -> Self {
        let now = tally.smtp_held_now.fetch_add(1, Relaxed) + 1;
        tally.smtp_held_peak.fetch_max(now, Relaxed);
        Self(tally)
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.smtp_held_now.fetch_sub(1, Relaxed);
    }
}

/// One connection: refused at the greeting, or admitted and then fed garbage (or commands one
/// byte at a time) slowly until the flood ends.
async fn smtp_session(smtp: SocketAddr, garbage: bool, end: Instant, tally: &Tally) -> anyhow::Result<()> {
    let (read, mut write) = connect_from(flooder_address(8), smtp).await?.into_split();
    let mut read = BufReader::new(read);
    let greeting = reply(&mut read).await?;
    tally.smtp_greetings.count(code(&greeting));
    if !greeting.starts_with("220") {
        if greeting.contains("your address") {
            add(&tally.smtp_refused_address);
        }
        tokio::time::sleep(RETRY).await;
        return Ok(());
    }
    let _held = Held::new(tally);
    while Instant::now() < end {
        let command: &[u8] = if garbage { b"XYZZY \x7f\x7f plugh\r\n" } else { b"NOOP\r\n" };
        if garbage {
            write.write_all(command).await?;
            tokio::time::sleep(Duration::from_millis(500)).await;
        } else {
            dribble(&mut write, command).await?;
        }
        let line = reply(&mut read).await?;
        tally.smtp_replies.count(code(&line));
        if line.is_empty() {
            break;
        }
    }
    Ok(())
}

async fn dribble(write: &mut tokio::net::tcp::OwnedWriteHalf, bytes: &[u8]) -> std::io::Result<()> {
    for byte in bytes {
        write.write_all(&[*byte]).await?;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    Ok(())
}

async fn reply(read: &mut BufReader<OwnedReadHalf>) -> anyhow::Result<String> {
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(10), read.read_line(&mut line)).await??;
    Ok(line)
}

/// An SMTP reply's code (0: none, e.g. the connection was closed).
fn code(line: &str) -> u16 {
    line.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0)
}

// --- report ---
