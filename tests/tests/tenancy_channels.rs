//! Channels put each message in the tenant its channel credentials name: the chat site token, the
//! webhook's path and the secret that signs it, the email recipient's address or domain, the
//! dialled number. Two tenants' customers with the same ids and message ids stay apart.

mod common;

use std::collections::BTreeMap;

use base64::Engine as _;
use common::{Backing, Cluster, peers::post_signed, peers::smtp_send, wait_for_event};
use futures::SinkExt as _;
use hmac::{Hmac, Mac as _};
use switchboard_auth::Role;
use switchboard_bus::{Bus, Draft};
use switchboard_channels::tenants::TenantChannels;
use switchboard_proto::{
    events::v1::{AccountUpdated, MessageReceived, event::Body},
    intake::v1::{GetConversationRequest, intake_client::IntakeClient},
};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _};

const DEFAULT_SECRET: &str = "whsec-default-tenant";
const ACME_SECRET: &str = "whsec-acme-0123456789abcdef0123456789";
const TWILIO_TOKEN: &str = "twilio-auth-token-for-tests";
const ACME_LINE: &str = "+15550123";
const CALLER: &str = "+15550100";

fn acme() -> TenantChannels {
    TenantChannels {
        webhook_secret: Some(ACME_SECRET.into()),
        chat_sites: [("acme-shop".to_string(), "*".to_string())].into(),
        email: vec!["acme.example".into()],
        voice_numbers: vec![ACME_LINE.into()],
        ..Default::default()
    }
}

async fn two_tenant_cluster(backing: &Backing) -> anyhow::Result<Cluster> {
    let mut config = backing.config();
    config.channels.webhook_secret = Some(DEFAULT_SECRET.into());
    config.channels.chat_sites = [("demo".to_string(), "*".to_string())].into();
    config.channels.twilio_auth_token = Some(TWILIO_TOKEN.into());
    let globex = TenantChannels { email: vec!["globex.example".into()], ..Default::default() };
    config.channels.tenants = BTreeMap::from([("acme".to_string(), acme()), ("globex".to_string(), globex)]);
    Cluster::start(config).await
}

/// The first `MessageReceived` of `tenant` that `wanted` picks.
async fn received_in(
    bus: &Bus,
    tenant: &str,
    wanted: impl Fn(&MessageReceived) -> bool,
) -> anyhow::Result<MessageReceived> {
    Ok(received_at(bus, tenant, wanted).await?.0)
}

/// [`received_in`], with the event's stream sequence (for reads that must see it).
async fn received_at(
    bus: &Bus,
    tenant: &str,
    wanted: impl Fn(&MessageReceived) -> bool,
) -> anyhow::Result<(MessageReceived, u64)> {
    let filter = format!("switchboard.events.conversation.{tenant}.>");
    wait_for_event(bus, &filter, |event| match &event.body {
        Some(Body::MessageReceived(m)) if event.tenant == tenant && wanted(m) => Some(m.clone()),
        _ => None,
    })
    .await
}

fn sms(customer: &str, text: &str, message_id: &str) -> Vec<u8> {
    serde_json::json!({ "customer_id": customer, "text": text, "message_id": message_id })
        .to_string()
        .into_bytes()
}

#[tokio::test]
async fn a_webhook_is_the_tenant_its_path_names_and_that_tenants_secret_signs() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = two_tenant_cluster(&backing).await?;
    let bus = backing.bus().await?;
    let base = format!("http://{}", cluster.http);

    // Given the same gateway message id from the same number, for acme and for the default tenant.
    let acme_url = format!("{base}/tenants/acme/hooks/sms");
    let (status, _) = post_signed(&acme_url, Some(ACME_SECRET), sms("+15557", "Hi acme", "sms-1")).await?;
    assert_eq!(status, 202);
    let (status, answer) =
        post_signed(&format!("{base}/hooks/sms"), Some(DEFAULT_SECRET), sms("+15557", "Hi", "sms-1")).await?;
    assert_eq!((status, answer["duplicate"].as_bool()), (202, Some(false)), "one id, two tenants: {answer}");

    // Then each lands in its own tenant.
    let (at_acme, sequence) = received_at(&bus, "acme", |m| m.text == "Hi acme").await?;
    let at_default = received_in(&bus, "default", |m| m.customer_id == "+15557").await?;
    assert_ne!(at_acme.conversation_id, at_default.conversation_id);

    // And another tenant's secret, or a tenant without webhooks, is refused before anything is taken.
    let (status, _) = post_signed(&acme_url, Some(DEFAULT_SECRET), sms("+15557", "forged", "sms-2")).await?;
    assert_eq!(status, 401, "the default tenant's secret does not sign for acme");
    let (status, _) =
        post_signed(&format!("{base}/hooks/sms"), Some(ACME_SECRET), sms("+1", "x", "sms-3")).await?;
    assert_eq!(status, 401, "acme's secret does not sign for the default tenant");
    let (status, _) =
        post_signed(&format!("{base}/tenants/globex/hooks/sms"), Some(ACME_SECRET), sms("+1", "x", "sms-4"))
            .await?;
    assert_eq!(status, 503, "globex takes no webhooks");

    // And a conversation is only found by its own tenant.
    let get =
        GetConversationRequest { conversation_id: at_acme.conversation_id.clone(), min_sequence: sequence };
    let mut as_default = IntakeClient::new(cluster.channel().await?);
    let hidden = as_default.get_conversation(get.clone()).await.expect_err("another tenant's");
    assert_eq!(hidden.code(), tonic::Code::NotFound);
    let mut as_acme = IntakeClient::new(cluster.channel_as("acme", Role::Agent, "ana").await?);
    assert_eq!(as_acme.get_conversation(get).await?.into_inner().customer_id, "+15557");
    cluster.stop().await
}

fn email(to: &str, message_id: &str) -> Vec<u8> {
    format!(
        "From: pat@customer.example\r\nTo: {to}\r\nSubject: Hello\r\nMessage-ID: {message_id}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nWhere is my parcel?\r\n"
    )
    .into_bytes()
}

/// One SMTP exchange, line by line; the last line of each reply.
async fn smtp_dialogue(address: std::net::SocketAddr, commands: &[&str]) -> anyhow::Result<Vec<String>> {
    let stream = tokio::net::TcpStream::connect(address).await?;
    let (read, mut write) = stream.into_split();
    let mut lines = tokio::io::BufReader::new(read).lines();
    let mut replies = Vec::new();
    let last_reply = async |lines: &mut tokio::io::Lines<_>| -> anyhow::Result<String> {
        loop {
            let line: String =
                tokio::time::timeout(common::WAIT, lines.next_line()).await??.unwrap_or_default();
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                return Ok(line);
            }
        }
    };
    last_reply(&mut lines).await?;
    for command in commands {
        write.write_all(format!("{command}\r\n").as_bytes()).await?;
        replies.push(last_reply(&mut lines).await?);
    }
    Ok(replies)
}

#[tokio::test]
async fn an_email_is_the_tenant_of_its_recipient_and_one_message_is_one_tenants() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = two_tenant_cluster(&backing).await?;
    let bus = backing.bus().await?;

    // Given one email (one Message-ID) sent to acme's domain and to an address no tenant names.
    let (code, _) = smtp_send(
        cluster.smtp,
        "pat@customer.example",
        "help@acme.example",
        &email("help@acme.example", "<m-1@customer.example>"),
    )
    .await?;
    assert_eq!(code, 250);
    let (code, _) = smtp_send(
        cluster.smtp,
        "pat@customer.example",
        "help@else.example",
        &email("help@else.example", "<m-1@customer.example>"),
    )
    .await?;
    assert_eq!(code, 250);

    // Then acme has one and the default tenant the other: the same Message-ID is no duplicate.
    let is_it =
        |m: &MessageReceived| m.email.as_ref().is_some_and(|e| e.message_id == "<m-1@customer.example>");
    let at_acme = received_in(&bus, "acme", is_it).await?;
    let at_default = received_in(&bus, "default", is_it).await?;
    assert_ne!(at_acme.conversation_id, at_default.conversation_id);

    // And recipients of two tenants in one transaction: the second is deferred to its own.
    let replies = smtp_dialogue(
        cluster.smtp,
        &[
            "EHLO client.example",
            "MAIL FROM:<pat@customer.example>",
            "RCPT TO:<a@acme.example>",
            "RCPT TO:<b@globex.example>",
            "RCPT TO:<c@acme.example>",
            "QUIT",
        ],
    )
    .await?;
    assert!(replies[2].starts_with("250") && replies[4].starts_with("250"), "{replies:?}");
    assert!(replies[3].starts_with("452"), "globex's recipient waits for its own message: {replies:?}");
    cluster.stop().await
}

#[tokio::test]
async fn a_chat_is_the_tenant_of_its_site_token() -> anyhow::Result<()> {
    use tokio_tungstenite::tungstenite::Message;
    let backing = Backing::start().await?;
    let cluster = two_tenant_cluster(&backing).await?;
    let bus = backing.bus().await?;

    // Given the same visitor and message id on acme's site and on the demo site.
    for site in ["acme-shop", "demo"] {
        let url = format!("ws://{}/chat/ws?site={site}&visitor=v-1", cluster.http);
        let (mut socket, _) = tokio_tungstenite::connect_async(url).await?;
        let text = format!(r#"{{"type":"message","id":"m-1","text":"Hello from {site}"}}"#);
        socket.send(Message::text(text)).await?;
        received_in(&bus, if site == "demo" { "default" } else { "acme" }, |m| {
            m.text == format!("Hello from {site}")
        })
        .await?;
        let _ = socket.close(None).await;
    }
    cluster.stop().await
}

fn twilio_signature(url: &str, fields: &[(&str, &str)]) -> String {
    let mut sorted = fields.to_vec();
    sorted.sort();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(TWILIO_TOKEN.as_bytes()).expect("any key length");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

async fn gather(cluster: &Cluster, fields: &[(&str, &str)]) -> anyhow::Result<String> {
    let url = format!("http://{}/voice/gather?turn=1", cluster.http);
    let response = reqwest::Client::new()
        .post(&url)
        .header("X-Twilio-Signature", twilio_signature(&url, fields))
        .form(fields)
        .send()
        .await?;
    anyhow::ensure!(response.status() == 200, "{}", response.status());
    Ok(response.text().await?)
}

#[tokio::test]
async fn a_call_is_the_tenant_of_the_dialled_number_and_a_pin_proves_only_there() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = two_tenant_cluster(&backing).await?;
    let bus = backing.bus().await?;

    // Given the caller's number is an account of acme with a PIN, and of no other tenant.
    let pin_hash = switchboard_channels::voice::pin::hash_pin("2468").map_err(anyhow::Error::msg)?;
    let account = AccountUpdated { customer_id: CALLER.into(), pin_hash, ..Default::default() };
    bus.publish(&Draft::new("acme", "p15550100", Body::AccountUpdated(account)).build()?).await?;

    let pool = backing.database.pool().await?;
    let projected = async {
        loop {
            let pins: i64 =
                sqlx::query_scalar("SELECT count(*) FROM channels.voice_pins WHERE tenant = 'acme'")
                    .fetch_one(&pool)
                    .await?;
            if pins == 1 {
                return anyhow::Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(common::WAIT, projected).await??;

    // When they key it in calling the default tenant's line, it is wrong there (no account).
    let to_default = [("CallSid", "CA0001"), ("From", CALLER), ("To", "+15550999"), ("Digits", "2468#")];
    let heard = gather(&cluster, &to_default).await?;
    assert!(heard.contains("not right"), "{heard}");

    // And calling acme's line, it is right.
    let to_acme = [("CallSid", "CA0002"), ("From", CALLER), ("To", ACME_LINE), ("Digits", "2468#")];
    let heard = gather(&cluster, &to_acme).await?;
    assert!(heard.contains("that is right"), "{heard}");

    // Then what they say on acme's line is acme's, verified.
    let said = [("CallSid", "CA0002"), ("From", CALLER), ("To", ACME_LINE), ("SpeechResult", "Hello there")];
    gather(&cluster, &said).await?;
    let received = received_in(&bus, "acme", |m| m.text == "Hello there").await?;
    assert!(received.customer_verified);
    cluster.stop().await
}
