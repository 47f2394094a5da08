//! Real peers for channel tests: Python's smtplib as an SMTP client, an HTTP receiver that
//! records what is POSTed to it, and signed requests to the channels' webhooks.

use std::{net::SocketAddr, sync::Arc};

use anyhow::Context as _;
use axum::{Router, body::Bytes, extract::State, http::HeaderMap, routing::post};
use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use tokio::{io::AsyncWriteExt as _, sync::watch};

/// Sends `raw` to the SMTP server at `address` with Python's smtplib; the server's last reply.
pub async fn smtp_send(
    address: SocketAddr,
    from: &str,
    to: &str,
    raw: &[u8],
) -> anyhow::Result<(u16, String)> {
    const CLIENT: &str = r#"
import json, smtplib, sys
host, port, sender, recipient = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
raw = sys.stdin.buffer.read()
try:
    with smtplib.SMTP(host, port, timeout=60) as smtp:
        smtp.sendmail(sender, [recipient], raw)
        code, message = 250, "accepted"
except smtplib.SMTPResponseException as error:
    code, message = error.smtp_code, error.smtp_error.decode("utf-8", "replace")
print(json.dumps({"code": code, "message": message}))
"#;
    let mut child = tokio::process::Command::new("python3")
        .args(["-c", CLIENT, &address.ip().to_string(), &address.port().to_string(), from, to])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("python3")?;
    let mut stdin = child.stdin.take().context("stdin")?;
    stdin.write_all(raw).await?;
    drop(stdin);
    let output = child.wait_with_output().await?;
    let answer: serde_json::Value = serde_json::from_slice(&output.stdout)
        .with_context(|| format!("smtplib said {:?}", String::from_utf8_lossy(&output.stdout)))?;
    let code = u16::try_from(answer["code"].as_u64().unwrap_or(0))?;
    Ok((code, answer["message"].as_str().unwrap_or_default().to_string()))
}

/// What a receiver was sent: path, `X-Switchboard-Signature`, `Idempotency-Key`, body.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub signature: String,
    pub idempotency_key: String,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }
}

/// Everything received so far; waiters are woken at each arrival.
pub type Inbox = Arc<watch::Sender<Vec<Received>>>;

/// A real HTTP server on a free port answering every POST with 200; returns its base URL.
pub async fn receiver() -> anyhow::Result<(String, Inbox)> {
    let inbox: Inbox = Arc::new(watch::Sender::new(Vec::new()));
    async fn record(
        State(inbox): State<Inbox>,
        uri: axum::http::Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> &'static str {
        let header =
            |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let received = Received {
            path: uri.path().to_string(),
            signature: header("x-switchboard-signature"),
            idempotency_key: header("idempotency-key"),
            body,
        };
        inbox.send_modify(|all| all.push(received));
        "ok"
    }
    let app = Router::new().route("/{*path}", post(record)).with_state(inbox.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, inbox))
}

/// Waits until the receiver holds something at `path` that `wanted` accepts.
pub async fn received(
    inbox: &Inbox,
    path: &str,
    wanted: impl Fn(&Received) -> bool,
) -> anyhow::Result<Received> {
    let mut seen = inbox.subscribe();
    let matches = |r: &Received| r.path == path && wanted(r);
    let all = tokio::time::timeout(super::WAIT, seen.wait_for(|all| all.iter().any(matches)))
        .await
        .with_context(|| format!("nothing received at {path}"))??;
    all.iter().find(|r| matches(r)).cloned().context("received")
}

/// The signature header for `body`, computed here independently of the project's code.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    format!("t={timestamp},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Whether `header` signs `body` under `secret` (timestamp not checked).
pub fn signed_by(secret: &str, header: &str, body: &[u8]) -> bool {
    let Some(timestamp) = header.split(',').find_map(|p| p.strip_prefix("t=")).and_then(|t| t.parse().ok())
    else {
        return false;
    };
    sign(secret, timestamp, body) == header
}

/// POSTs `body` to `url`, signed now under `secret` (unsigned when `None`); status and JSON.
pub async fn post_signed(
    url: &str,
    secret: Option<&str>,
    body: Vec<u8>,
) -> anyhow::Result<(u16, serde_json::Value)> {
    let mut request = reqwest::Client::new().post(url);
    if let Some(secret) = secret {
        request =
            request.header("X-Switchboard-Signature", sign(secret, chrono::Utc::now().timestamp(), &body));
    }
    let response = request.body(body).send().await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await.unwrap_or_default()))
}
