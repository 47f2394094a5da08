//! The web chat in a real browser (headless Chromium, driven by tests/browser/chat.cjs through
//! playwright-core): the widget suggests an article while the customer types, the bot answers,
//! the customer asks for a person and sees the hand-off, an agent's typing shows, and an agent's
//! reply sent while the widget was offline appears once it reconnects.

mod common;

use std::process::Stdio;

use anyhow::{Context as _, bail};
use common::{Backing, Cluster, WAIT, publish_tracking_article, wait_for_event};
use switchboard_proto::{
    events::v1::{OrderUpdated, event::Body},
    intake::v1::SendAgentReplyRequest,
};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};

#[tokio::test]
async fn a_customer_chats_with_the_bot_asks_for_a_person_and_gets_the_agents_reply() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let mut config = backing.config();
    config.channels.chat_sites = [("demo".to_string(), "*".to_string())].into();
    let cluster = Cluster::start(config).await?;
    publish_tracking_article(cluster.address).await?;
    let bus = backing.bus().await?;

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/browser/chat.cjs");
    let mut browser = tokio::process::Command::new("node")
        .arg(script)
        .arg(format!("http://{}/chat/demo", cluster.http))
        .env(
            "NODE_PATH",
            std::env::var("SWITCHBOARD_NODE_PATH").context("run `make env` (SWITCHBOARD_NODE_PATH)")?,
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("node")?;
    let mut to_browser = browser.stdin.take().context("stdin")?;
    let mut from_browser = BufReader::new(browser.stdout.take().context("stdout")?).lines();
    let mut next = async || -> anyhow::Result<String> {
        let line = tokio::time::timeout(WAIT * 2, from_browser.next_line())
            .await
            .context("the browser said nothing")??;
        let line = line.context("the browser script ended early")?;
        eprintln!("browser: {line}");
        Ok(line)
    };

    assert_eq!(next().await?, "SUGGESTED");
    let answer = next().await?;
    assert!(answer.starts_with("ANSWER ") && answer.contains("tracking link"), "{answer}");
    let conversation_id = next().await?.strip_prefix("HANDOFF ").context("hand-off")?.to_string();

    let typing = switchboard_bus::typing_subject(switchboard_bus::DEFAULT_TENANT, &conversation_id);
    bus.client().publish(typing, r#"{"author":"agent"}"#.into()).await?;
    to_browser.write_all(b"go\n").await?;
    assert_eq!(next().await?, "TYPING");
    assert_eq!(next().await?, "PAUSED");

    let ana = cluster.channel_as("default", switchboard_auth::Role::Agent, "ana").await?;
    let mut intake = switchboard_proto::intake::v1::intake_client::IntakeClient::new(ana);
    let reply = SendAgentReplyRequest {
        conversation_id: conversation_id.clone(),
        agent_id: "ana".into(),
        text: "Hi, I am Ana. Your order left our warehouse this morning.".into(),
        idempotency_key: "desk-1".into(),
    };
    let reply_id = intake.send_agent_reply(reply).await?.into_inner().reply_id;
    wait_for_event(&bus, "switchboard.events.delivery.>", |event| match &event.body {
        Some(Body::ReplyDelivered(d)) if d.reply_id == reply_id => Some(()),
        _ => None,
    })
    .await?;
    to_browser.write_all(b"go\n").await?;

    let shown = next().await?;
    let shown: Vec<String> = serde_json::from_str(shown.strip_prefix("MESSAGES ").context("messages")?)?;
    let agent: Vec<_> = shown.iter().filter(|m| m.starts_with("agent: ")).collect();
    assert_eq!(agent.len(), 1, "{shown:?}");
    // Each message once after the re-sync: three from the customer, two answers, the agent's.
    let customers: Vec<_> = shown.iter().filter(|m| m.starts_with("customer: ")).collect();
    assert_eq!(customers.len(), 3, "{shown:?}");
    assert_eq!(shown.len(), 6, "{shown:?}");
    assert_eq!(shown.first().map(String::as_str), Some("customer: How can I track my order?"));
    // On a German page the widget speaks German; a customer who writes Chinese is told in
    // Chinese that a person takes over, and the widget's own strings follow.
    let labels = |line: String, prefix: &str| -> anyhow::Result<serde_json::Value> {
        Ok(serde_json::from_str(line.strip_prefix(prefix).context("labels")?)?)
    };
    let page = labels(next().await?, "PAGE LABELS ")?;
    let german = |key: &str| switchboard_phrases::say("de", &format!("widget.{key}"), &[]);
    assert_eq!(
        page,
        serde_json::json!({
            "title": german("title"),
            "placeholder": german("placeholder"),
            "send": german("send"),
            "dir": "ltr",
        })
    );
    let chinese = next().await?;
    let notice: String = serde_json::from_str(chinese.strip_prefix("CHINESE HANDOFF ").context("notice")?)?;
    assert!(notice.contains("工作人员") || notice.contains("工作人員"), "{notice}");
    let customer = labels(next().await?, "CUSTOMER LABELS ")?;
    let titles = ["zh-Hans", "zh-Hant"].map(|tag| switchboard_phrases::say(tag, "widget.title", &[]));
    assert!(titles.iter().any(|title| customer["title"] == title.as_str()), "{customer}");
    assert_eq!(next().await?, "DONE");
    let received = common::events(&bus, "switchboard.events.conversation.>").await?;
    let asked: Vec<(String, String)> = received
        .iter()
        .filter_map(|event| match &event.body {
            Some(Body::MessageReceived(m)) if m.customer_id.starts_with("web:demo:") => {
                Some((m.customer_id.clone(), m.conversation_id.clone()))
            }
            _ => None,
        })
        .collect();
    // The first visitor's messages (the second visitor, in Chinese, has a chat of their own).
    let first = asked.first().map(|(customer, _)| customer.clone()).context("no chat message")?;
    let mut conversations: Vec<String> =
        asked.into_iter().filter(|(customer, _)| *customer == first).map(|(_, id)| id).collect();
    conversations.dedup();
    assert_eq!(conversations, std::slice::from_ref(&conversation_id), "one chat, one conversation");
    let status = tokio::time::timeout(WAIT, browser.wait()).await??;
    if !status.success() {
        bail!("the browser script failed: {status}");
    }
    cluster.stop().await
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next frame whose `type` is one of `types`.
async fn frame_of(socket: &mut Socket, types: &[&str]) -> anyhow::Result<serde_json::Value> {
    use futures::StreamExt as _;
    tokio::time::timeout(WAIT, async {
        while let Some(frame) = socket.next().await {
            let tokio_tungstenite::tungstenite::Message::Text(text) = frame? else { continue };
            let frame: serde_json::Value = serde_json::from_str(text.as_str())?;
            if types.iter().any(|wanted| frame["type"] == *wanted) {
                return Ok(frame);
            }
        }
        bail!("the chat closed")
    })
    .await
    .with_context(|| format!("no {types:?} frame within {WAIT:?}"))?
}

/// A widget that comes back after a quiet spell, when the stream's last event is of an aggregate
/// intake does not project (an order update), resumes its conversation: it is welcomed back to
/// it, and its next message lands in it (before, the re-sync waited for a sequence intake never
/// reaches, failed, and the next message started a new conversation).
#[tokio::test]
async fn a_widget_back_after_a_quiet_spell_resumes_its_conversation() -> anyhow::Result<()> {
    use futures::SinkExt as _;
    use tokio_tungstenite::tungstenite::Message;
    let backing = Backing::start().await?;
    let mut config = backing.config();
    config.channels.chat_sites = [("demo".to_string(), "*".to_string())].into();
    let cluster = Cluster::start(config).await?;
    let bus = backing.bus().await?;
    let url = format!("ws://{}/chat/ws?site=demo&visitor=v-quiet", cluster.http);

    let (mut socket, _) = tokio_tungstenite::connect_async(&url).await?;
    socket.send(Message::text(r#"{"type":"message","id":"m-1","text":"I want a human"}"#)).await?;
    let welcome = frame_of(&mut socket, &["welcome"]).await?;
    let conversation_id = welcome["conversation_id"].as_str().context("conversation id")?.to_string();
    frame_of(&mut socket, &["handoff"]).await?;
    let _ = socket.close(None).await;
    let update =
        OrderUpdated { order_id: "quiet-1".into(), customer_id: "c-quiet".into(), ..Default::default() };
    bus.publish(&switchboard_bus::Draft::new("", "quiet-1", Body::OrderUpdated(update)).build()?).await?;

    let (mut socket, _) = tokio_tungstenite::connect_async(&url).await?;
    let hello = serde_json::json!({ "type": "hello", "conversation_id": conversation_id });
    socket.send(Message::text(hello.to_string())).await?;
    let back = frame_of(&mut socket, &["welcome", "error"]).await?;
    assert_eq!(back, serde_json::json!({ "type": "welcome", "conversation_id": conversation_id }));
    socket.send(Message::text(r#"{"type":"message","id":"m-2","text":"one more thing"}"#)).await?;
    let (landed, _) = wait_for_event(&bus, "switchboard.events.conversation.>", |event| match &event.body {
        Some(Body::MessageReceived(m)) if m.text == "one more thing" => Some(m.conversation_id.clone()),
        _ => None,
    })
    .await?;
    assert_eq!(landed, conversation_id);
    let _ = socket.close(None).await;
    cluster.stop().await
}

/// The status line of a WebSocket handshake to the chat.
async fn handshake(http: std::net::SocketAddr, query: &str, origin: &str) -> anyhow::Result<String> {
    use tokio::io::AsyncReadExt as _;
    let mut stream = tokio::net::TcpStream::connect(http).await?;
    let request = format!(
        "GET /chat/ws?{query} HTTP/1.1\r\nHost: {http}\r\nOrigin: {origin}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut answer = vec![0; 512];
    let read = tokio::time::timeout(WAIT, stream.read(&mut answer)).await??;
    Ok(String::from_utf8_lossy(&answer[..read]).lines().next().unwrap_or_default().to_string())
}

#[tokio::test]
async fn the_chat_refuses_unknown_sites_foreign_origins_and_bad_visitors() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let mut config = backing.config();
    config.channels.chat_sites = [("shop".to_string(), "https://shop.example".to_string())].into();
    let cluster = Cluster::start(config).await?;
    let shop = "https://shop.example";
    assert!(handshake(cluster.http, "site=shop&visitor=v-1", shop).await?.contains("101"));
    assert!(handshake(cluster.http, "site=other&visitor=v-1", shop).await?.contains("404"));
    assert!(handshake(cluster.http, "site=shop&visitor=v-1", "https://evil.example").await?.contains("403"));
    assert!(handshake(cluster.http, "site=shop&visitor=a%20b", shop).await?.contains("400"));
    let widget = reqwest::get(format!("http://{}/chat/widget.js", cluster.http)).await?;
    assert_eq!(widget.headers()["content-type"], "text/javascript; charset=utf-8");
    assert!(widget.text().await?.contains("switchboardChat"));
    cluster.stop().await
}

#[tokio::test]
async fn a_signed_in_customer_chats_as_themselves_and_a_forged_identity_is_refused() -> anyhow::Result<()> {
    use futures::{SinkExt as _, StreamExt as _};
    use hmac::{Hmac, Mac as _};
    use tokio_tungstenite::tungstenite::Message;
    let backing = Backing::start().await?;
    let mut config = backing.config();
    config.channels.chat_sites = [("shop".to_string(), "*".to_string())].into();
    config.channels.chat_identity_secrets =
        [("shop".to_string(), "shop-identity-secret-of-32-bytes-or-more".to_string())].into();
    let mut short = config.clone();
    short.channels.chat_identity_secrets = [("shop".to_string(), String::new())].into();
    let refused = Cluster::start(short).await.err().expect("an empty secret signs for anyone");
    assert!(format!("{refused:#}").contains("at least 32 bytes"), "{refused:#}");
    let cluster = Cluster::start(config).await?;
    // What the company's server computes, here independently of the project's code.
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"shop-identity-secret-of-32-bytes-or-more")?;
    mac.update(b"cust-42");
    let hash = hex::encode(mac.finalize().into_bytes());
    let shop = "https://shop.example";
    let forged =
        handshake(cluster.http, &format!("site=shop&visitor=v-1&user=cust-7&user_hash={hash}"), shop).await?;
    assert!(forged.contains("403"), "{forged}");
    let url = format!("ws://{}/chat/ws?site=shop&visitor=v-1&user=cust-42&user_hash={hash}", cluster.http);
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await?;
    socket.send(Message::text(r#"{"type":"message","id":"m-1","text":"Hello there"}"#)).await?;
    let bus = backing.bus().await?;
    let (received, _) =
        wait_for_event(&bus, "switchboard.events.conversation.>", |event| match &event.body {
            Some(Body::MessageReceived(m)) if m.customer_id == "cust-42" => Some(m.clone()),
            _ => None,
        })
        .await?;
    assert!(received.customer_verified);
    let _ = socket.close(None).await;
    let _ = socket.next().await;
    // An anonymous visitor is not verified.
    let url = format!("ws://{}/chat/ws?site=shop&visitor=v-2", cluster.http);
    let (mut anonymous, _) = tokio_tungstenite::connect_async(url).await?;
    anonymous.send(Message::text(r#"{"type":"message","id":"m-2","text":"Hi"}"#)).await?;
    let (visitor, _) = wait_for_event(&bus, "switchboard.events.conversation.>", |event| match &event.body {
        Some(Body::MessageReceived(m)) if m.customer_id == "web:shop:v-2" => Some(m.clone()),
        _ => None,
    })
    .await?;
    assert!(!visitor.customer_verified);
    cluster.stop().await
}
