//! Email sender verification on the running cluster: a DKIM signature made here with a fresh key
//! whose record is in the cluster's DNS (the records of `SenderDns::Records`, through mail-auth's
//! real verification), and SPF for the SMTP client (Python's smtplib on 127.0.0.1). Only a
//! passing result aligned with the From domain verifies the customer; the rest is taken, unverified.

mod common;

use std::collections::BTreeMap;

use base64::Engine as _;
use common::{
    Backing, Cluster, cluster_with_mail,
    peers::{post_signed, smtp_send},
    wait_for_event,
};
use mail_auth::{
    common::{crypto::Ed25519Key, headers::HeaderWriter as _},
    dkim::DkimSigner,
};
use switchboard_channels::email::SenderDns;
use switchboard_proto::{
    events::v1::{MessageReceived, OrderStatus, OrderUpdated, event::Body},
    router::v1::{PublishRulesRequest, router_client::RouterClient},
};

const SECRET: &str = "whsec-email-auth-tests";
const TO: &str = "support@acme.example";
const RULES: &str = "rules:\n  - name: orders\n    when: {keywords: [order]}\n    then: {action: answer, playbook: order_status, queue: orders}\n\
                     \x20 - name: everything-else\n    then: {action: queue, queue: general}\n";

/// An Ed25519 key of `shop.example` (selector `s1`), made for this run.
struct Signer {
    pkcs8: Vec<u8>,
}

impl Signer {
    fn new() -> anyhow::Result<Self> {
        Ok(Self { pkcs8: Ed25519Key::generate_pkcs8().map_err(|e| anyhow::anyhow!("{e}"))? })
    }

    /// Its DNS record: name and TXT text.
    fn record(&self) -> anyhow::Result<(String, String)> {
        let public =
            Ed25519Key::from_pkcs8_der(&self.pkcs8).map_err(|e| anyhow::anyhow!("{e}"))?.public_key();
        let text =
            format!("v=DKIM1; k=ed25519; p={}", base64::engine::general_purpose::STANDARD.encode(public));
        Ok(("s1._domainkey.shop.example".into(), text))
    }

    /// `raw` with a DKIM-Signature of `d=shop.example` on top.
    fn sign(&self, raw: &[u8]) -> anyhow::Result<Vec<u8>> {
        let key = Ed25519Key::from_pkcs8_der(&self.pkcs8).map_err(|e| anyhow::anyhow!("{e}"))?;
        let signer = DkimSigner::from_key(key).domain("shop.example").selector("s1").headers([
            "From",
            "To",
            "Subject",
            "Message-ID",
        ]);
        let signature = signer.sign(raw).map_err(|e| anyhow::anyhow!("{e}"))?.to_header();
        Ok([signature.as_bytes(), raw].concat())
    }
}

fn email(from: &str, message_id: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {TO}\r\nSubject: Order\r\nMessage-ID: {message_id}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// A cluster whose sender checks see only `shop.example`'s DKIM key and `outlet.example`'s SPF
/// record (mail from 127.0.0.1 passes); rules that answer order questions.
async fn cluster(backing: &Backing, signer: &Signer) -> anyhow::Result<Cluster> {
    let mut records = BTreeMap::from([signer.record()?]);
    records.insert("outlet.example".into(), "v=spf1 ip4:127.0.0.1 -all".into());
    let (cluster, _sink) = cluster_with_mail(backing, |config| {
        config.channels.webhook_secret = Some(SECRET.into());
        config.channels.sender_verification.dns = SenderDns::Records(records);
    })
    .await?;
    let request = PublishRulesRequest { text: RULES.into(), wait: true };
    RouterClient::new(cluster.channel().await?).publish_rules(request).await?;
    Ok(cluster)
}

/// The `MessageReceived` of the email with this Message-ID.
async fn received(backing: &Backing, message_id: &str) -> anyhow::Result<MessageReceived> {
    let bus = backing.bus().await?;
    let (received, _) =
        wait_for_event(&bus, "switchboard.events.conversation.>", |event| match &event.body {
            Some(Body::MessageReceived(m))
                if m.email.as_ref().is_some_and(|e| e.message_id == message_id) =>
            {
                Some(m.clone())
            }
            _ => None,
        })
        .await?;
    Ok(received)
}

/// Sends `raw` over SMTP with `mail_from` and returns whether its sender came out verified.
async fn verified_over_smtp(
    backing: &Backing,
    cluster: &Cluster,
    mail_from: &str,
    raw: &[u8],
    message_id: &str,
) -> anyhow::Result<bool> {
    let (code, reason) = smtp_send(cluster.smtp, mail_from, TO, raw).await?;
    anyhow::ensure!(code == 250, "{code} {reason}");
    Ok(received(backing, message_id).await?.customer_verified)
}

#[tokio::test]
async fn a_message_signed_by_its_from_domain_is_verified_and_told_its_order() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let signer = Signer::new()?;
    let cluster = cluster(&backing, &signer).await?;
    let bus = backing.bus().await?;
    let order = OrderUpdated {
        order_id: "12345".into(),
        customer_id: "pat@shop.example".into(),
        status: OrderStatus::Shipped.into(),
        carrier: "DHL".into(),
        ..Default::default()
    };
    bus.publish(&switchboard_bus::Draft::new("default", "12345", Body::OrderUpdated(order)).build()?).await?;

    // MAIL FROM on a domain without SPF: only the signature can verify Pat.
    let signed =
        signer.sign(&email("pat@shop.example", "<dkim-1@shop.example>", "where is my order 12345"))?;
    let (code, reason) = smtp_send(cluster.smtp, "pat@shop.example", TO, &signed).await?;
    assert_eq!(code, 250, "{reason}");
    let asked = received(&backing, "<dkim-1@shop.example>").await?;
    assert!(asked.customer_verified);
    let (told, _) = wait_for_event(&bus, "switchboard.events.reply.>", |event| match &event.body {
        // The proactive shipping notice may reach the new conversation first; it answers nothing.
        Some(Body::ReplyRequested(r))
            if r.conversation_id == asked.conversation_id && !r.in_reply_to.is_empty() =>
        {
            Some(r.text.clone())
        }
        _ => None,
    })
    .await?;
    assert!(told.contains("Your order 12345 has shipped with DHL"), "{told}");

    // The same content with the body changed after signing: taken, unverified.
    let tampered = String::from_utf8(signer.sign(&email(
        "pat@shop.example",
        "<dkim-2@shop.example>",
        "where is my order 12345",
    ))?)?
    .replace("12345", "12346");
    assert!(
        !verified_over_smtp(
            &backing,
            &cluster,
            "pat@shop.example",
            tampered.as_bytes(),
            "<dkim-2@shop.example>"
        )
        .await?
    );

    // A valid shop.example signature on mail From another domain vouches for nothing.
    let unaligned =
        signer.sign(&email("pat@evil.example", "<dkim-3@evil.example>", "where is my order 12345"))?;
    assert!(
        !verified_over_smtp(&backing, &cluster, "pat@evil.example", &unaligned, "<dkim-3@evil.example>")
            .await?
    );
    cluster.stop().await
}

#[tokio::test]
async fn spf_verifies_an_aligned_smtp_sender_and_nothing_else() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = cluster(&backing, &Signer::new()?).await?;

    // outlet.example's SPF lists 127.0.0.1, where smtplib connects from; MAIL FROM and From agree.
    let aligned = email("lee@outlet.example", "<spf-1@outlet.example>", "where is my order 777");
    assert!(
        verified_over_smtp(&backing, &cluster, "lee@outlet.example", &aligned, "<spf-1@outlet.example>")
            .await?
    );

    // The envelope passes SPF but the From domain is another: unverified.
    let unaligned = email("pat@shop.example", "<spf-2@outlet.example>", "where is my order 12345");
    assert!(
        !verified_over_smtp(&backing, &cluster, "lee@outlet.example", &unaligned, "<spf-2@outlet.example>")
            .await?
    );

    // A From domain with neither SPF nor DKIM: unverified.
    let spoofed = email("ana@bank.example", "<spf-3@bank.example>", "where is my order 12345");
    assert!(
        !verified_over_smtp(&backing, &cluster, "ana@bank.example", &spoofed, "<spf-3@bank.example>").await?
    );
    cluster.stop().await
}

#[tokio::test]
async fn over_the_webhook_only_an_aligned_signature_verifies() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let signer = Signer::new()?;
    let cluster = cluster(&backing, &signer).await?;
    let url = format!("http://{}/email/inbound", cluster.http);

    let signed =
        signer.sign(&email("pat@shop.example", "<hook-1@shop.example>", "where is my order 12345"))?;
    let (status, answer) = post_signed(&url, Some(SECRET), signed).await?;
    assert_eq!(status, 202, "{answer}");
    assert!(received(&backing, "<hook-1@shop.example>").await?.customer_verified);

    // No SMTP client, so no SPF: outlet.example's record cannot verify it.
    let unsigned = email("lee@outlet.example", "<hook-2@outlet.example>", "where is my order 777");
    let (status, answer) = post_signed(&url, Some(SECRET), unsigned).await?;
    assert_eq!(status, 202, "{answer}");
    assert!(!received(&backing, "<hook-2@outlet.example>").await?.customer_verified);
    cluster.stop().await
}
