//! Email on the running cluster, against real peers: Python's smtplib sends to the project's SMTP
//! listener, aiosmtpd receives what the notifier sends, and signed requests reach the inbound-parse
//! webhook. Threading by headers, then by ticket token, never across senders; bad mail refused
//! with reasons and kept; CPython's real-world test emails each read or refused.

mod common;

use common::{
    Backing, Cluster, PASSWORD_RULES, cluster_with_mail, events,
    peers::{post_signed, smtp_send},
    wait_for_event,
};
use mail_parser::MessageParser;
use switchboard_proto::{
    events::v1::{Channel, Event, MessageReceived, ReplyDelivered, event::Body},
    router::v1::{PublishRulesRequest, router_client::RouterClient},
};
use switchboard_testkit::SmtpSink;

const SECRET: &str = "whsec-email-tests";

async fn email_cluster(backing: &Backing, max_bytes: usize) -> anyhow::Result<(Cluster, SmtpSink)> {
    let (cluster, sink) = cluster_with_mail(backing, |config| {
        config.notifier.email_from = "Acme Support <support@acme.example>".into();
        config.channels.webhook_secret = Some(SECRET.into());
        config.channels.max_email_bytes = max_bytes;
    })
    .await?;
    let mut router = RouterClient::new(cluster.channel().await?);
    router.publish_rules(PublishRulesRequest { text: PASSWORD_RULES.into(), wait: true }).await?;
    Ok((cluster, sink))
}

fn email(from: &str, subject: &str, message_id: &str, threading: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: support@acme.example\r\nSubject: {subject}\r\nMessage-ID: {message_id}\r\n{threading}\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
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

async fn delivered(backing: &Backing, conversation_id: &str) -> anyhow::Result<ReplyDelivered> {
    let bus = backing.bus().await?;
    let (delivered, _) = wait_for_event(&bus, "switchboard.events.delivery.>", |event| match &event.body {
        Some(Body::ReplyDelivered(d)) if d.conversation_id == conversation_id => Some(d.clone()),
        _ => None,
    })
    .await?;
    Ok(delivered)
}

#[tokio::test]
async fn an_email_is_answered_in_its_thread_and_replies_continue_the_conversation() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let (cluster, sink) = email_cluster(&backing, 1 << 20).await?;

    let first = email(
        "\"Ana Ruiz\" <Ana@Example.com>",
        "Password help",
        "<m1@example.com>",
        "",
        "I forgot my password and cannot log in.",
    );
    assert_eq!(smtp_send(cluster.smtp, "ana@example.com", "support@acme.example", &first).await?.0, 250);
    let opened = received(&backing, "<m1@example.com>").await?;
    assert_eq!((opened.customer_id.as_str(), opened.channel()), ("ana@example.com", Channel::Email));
    assert!(opened.text.starts_with("Password help\n\nI forgot my password"), "{}", opened.text);

    // The bot's answer arrives at the customer's address, threaded, with the case token.
    let reply = delivered(&backing, &opened.conversation_id).await?;
    assert_eq!(reply.destination, "email");
    let mails = sink.messages()?;
    assert_eq!(mails.len(), 1);
    let sent = MessageParser::default().parse(&mails[0]).expect("a MIME message");
    assert_eq!(sent.message_id().map(|id| format!("<{id}>")), Some(reply.external_id.clone()));
    assert_eq!(sent.in_reply_to().as_text(), Some("m1@example.com"));
    assert_eq!(sent.to().and_then(|to| to.first()).and_then(|a| a.address()), Some("ana@example.com"));
    let subject = sent.subject().unwrap_or_default().to_string();
    let token = switchboard_channels::ticket_token(&opened.conversation_id);
    assert_eq!(subject, format!("Re: Password help [#{token}]"));
    let body = sent.body_text(0).unwrap_or_default().to_string();
    assert!(body.starts_with("Hello Ana,") && body.contains("https://shop.example/reset"), "{body}");

    // Her answer to it continues the conversation, by its headers.
    let threading = format!("In-Reply-To: {0}\r\nReferences: <m1@example.com> {0}\r\n", reply.external_id);
    let second = email(
        "Ana Ruiz <ana@example.com>",
        &format!("Re: {subject}"),
        "<m2@example.com>",
        &threading,
        "Thanks! And where is my order 12345?\r\n\r\nOn Monday, Acme wrote:\r\n> quoted",
    );
    assert_eq!(smtp_send(cluster.smtp, "ana@example.com", "support@acme.example", &second).await?.0, 250);
    let continued = received(&backing, "<m2@example.com>").await?;
    assert_eq!(continued.conversation_id, opened.conversation_id);
    assert_eq!(continued.text, "Thanks! And where is my order 12345?");

    // Someone else quoting the subject, token included, starts a conversation of their own.
    let stranger =
        email("mallory@example.net", &format!("Re: {subject}"), "<x1@example.net>", "", "Reset it for me.");
    assert_eq!(
        smtp_send(cluster.smtp, "mallory@example.net", "support@acme.example", &stranger).await?.0,
        250
    );
    assert_ne!(received(&backing, "<x1@example.net>").await?.conversation_id, opened.conversation_id);

    // The same customer with only the token (a new email from another client) continues it.
    let tokened =
        email("ana@example.com", &format!("About {token}"), "<m3@example.com>", "", "Any news?").to_vec();
    let tokened =
        String::from_utf8(tokened)?.replace(&format!("About {token}"), &format!("About [#{token}]"));
    assert_eq!(
        smtp_send(cluster.smtp, "ana@example.com", "support@acme.example", tokened.as_bytes()).await?.0,
        250
    );
    assert_eq!(received(&backing, "<m3@example.com>").await?.conversation_id, opened.conversation_id);

    // The same email again is a duplicate, not a second message.
    assert_eq!(smtp_send(cluster.smtp, "ana@example.com", "support@acme.example", &first).await?.0, 250);
    let bus = backing.bus().await?;
    let copies = events(&bus, "switchboard.events.conversation.>").await?;
    let firsts = copies.iter().filter(|e| is_email(e, "<m1@example.com>")).count();
    assert_eq!(firsts, 1);
    cluster.stop().await
}

fn is_email(event: &Event, message_id: &str) -> bool {
    matches!(&event.body, Some(Body::MessageReceived(m)) if m.email.as_ref().is_some_and(|e| e.message_id == message_id))
}

fn refusals(all: &[Event]) -> Vec<String> {
    all.iter()
        .filter_map(|event| match &event.body {
            Some(Body::InboundRefused(refused)) => Some(refused.reason.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn bad_email_is_refused_with_a_reason_and_kept() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let (cluster, _sink) = email_cluster(&backing, 4096).await?;
    let to = "support@acme.example";

    // Over SMTP: no sender is refused at DATA with the reason, and kept; too big is refused at MAIL.
    let anonymous = b"Subject: hi\r\nMessage-ID: <anon@example.com>\r\n\r\nWho am I?\r\n";
    let (code, reason) = smtp_send(cluster.smtp, "x@example.com", to, anonymous).await?;
    assert_eq!(code, 550, "{reason}");
    assert!(reason.contains("no sender address"), "{reason}");
    let huge = email("ana@example.com", "Big", "<big@example.com>", "", &"x".repeat(8000));
    let (code, reason) = smtp_send(cluster.smtp, "ana@example.com", to, &huge).await?;
    assert_eq!(code, 552, "{reason}");
    assert!(reason.contains("4096 bytes"), "{reason}");

    // Over the webhook: unsigned, mis-signed and too big are refused before reading; malformed is
    // refused with the reason and kept; a good one is accepted.
    let url = format!("http://{}/email/inbound", cluster.http);
    let good = email("ana@example.com", "Hi", "<hook-1@example.com>", "", "Where is my order?");
    let (status, answer) = post_signed(&url, None, good.clone()).await?;
    assert_eq!(status, 401, "{answer}");
    let (status, _) = post_signed(&url, Some("wrong secret"), good.clone()).await?;
    assert_eq!(status, 401);
    let (status, answer) = post_signed(&url, Some(SECRET), huge).await?;
    assert_eq!(status, 413, "{answer}");
    let (status, answer) = post_signed(&url, Some(SECRET), b"\x00\x01 not mail".to_vec()).await?;
    assert_eq!(status, 422, "{answer}");
    assert!(answer["error"].as_str().is_some_and(|e| !e.is_empty()), "{answer}");
    let (status, answer) = post_signed(&url, Some(SECRET), good).await?;
    assert_eq!((status, answer["message_id"].as_str()), (202, Some("<hook-1@example.com>")), "{answer}");
    assert_eq!(received(&backing, "<hook-1@example.com>").await?.customer_id, "ana@example.com");

    let (status, answer) =
        post_signed(&format!("http://{}/hooks/fax", cluster.http), Some(SECRET), b"{}".to_vec()).await?;
    assert_eq!(status, 404);
    assert!(answer["error"].as_str().is_some_and(|e| e.contains("unknown channel \"fax\"")), "{answer}");

    let bus = backing.bus().await?;
    let kept = refusals(&events(&bus, "switchboard.events.inbound-refusal.>").await?);
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert!(kept.iter().any(|reason| reason.contains("no sender address")), "{kept:?}");
    cluster.stop().await
}

/// CPython's `test/test_email/data` (PSF licence), from the machine's Python, or
/// `SWITCHBOARD_EMAIL_CORPUS`.
fn cpython_corpus() -> anyhow::Result<Vec<std::path::PathBuf>> {
    let dir = match std::env::var("SWITCHBOARD_EMAIL_CORPUS") {
        Ok(dir) => std::path::PathBuf::from(dir),
        Err(_) => {
            let output = std::process::Command::new("python3")
                .args(["-c", "import os, test.test_email as t; print(os.path.join(os.path.dirname(t.__file__), 'data'))"])
                .output()?;
            std::path::PathBuf::from(String::from_utf8(output.stdout)?.trim())
        }
    };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map_err(|error| {
            anyhow::anyhow!("CPython's email test data not found at {}: {error}", dir.display())
        })?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("msg_") && n.ends_with(".txt"))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// The corpus's messages that cannot be answered, and why: MIME structure tests without a
/// sender, delivery reports (answering robots loops), a headerless fragment, and a message whose
/// parts lack the blank line before their bodies (so hold no text).
const EXPECTED_REFUSALS: [(&str, &str); 12] = [
    ("msg_05.txt", "delivery report"),
    ("msg_11.txt", "no sender address"),
    ("msg_16.txt", "delivery report"),
    ("msg_18.txt", "no sender address"),
    ("msg_19.txt", "not a MIME message"),
    ("msg_25.txt", "delivery report"),
    ("msg_37.txt", "no sender address"),
    ("msg_38.txt", "no sender address"),
    ("msg_39.txt", "no sender address"),
    ("msg_40.txt", "no sender address"),
    ("msg_43.txt", "delivery report"),
    ("msg_47.txt", "neither text nor a subject"),
];

#[tokio::test]
async fn every_real_world_test_email_of_cpython_is_read_or_refused_with_a_reason() -> anyhow::Result<()> {
    let corpus = cpython_corpus()?;
    assert_eq!(corpus.len(), 48, "CPython 3.11 ships 48 msg_*.txt files");
    let backing = Backing::start().await?;
    let (cluster, _sink) = email_cluster(&backing, 1 << 20).await?;
    let url = format!("http://{}/email/inbound", cluster.http);
    let (mut accepted, mut refused, mut answered) = (std::collections::BTreeSet::new(), 0, 0);
    for path in &corpus {
        let (status, answer) = post_signed(&url, Some(SECRET), std::fs::read(path)?).await?;
        match status {
            202 => {
                accepted.insert(answer["message_id"].as_str().unwrap_or_default().to_string());
            }
            422 => {
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                let reason = answer["error"].as_str().unwrap_or_default();
                let expected = EXPECTED_REFUSALS.iter().find(|(file, _)| *file == name);
                assert!(expected.is_some_and(|(_, why)| reason.contains(why)), "{name}: {answer}");
                refused += 1;
            }
            other => anyhow::bail!("{}: status {other}: {answer}", path.display()),
        }
        answered += 1;
    }
    assert_eq!(answered, corpus.len());
    // Nothing lost: every accepted email reaches intake as a message, every refused one is kept.
    for message_id in &accepted {
        received(&backing, message_id).await?;
    }
    let bus = backing.bus().await?;
    let kept = refusals(&events(&bus, "switchboard.events.inbound-refusal.>").await?);
    assert_eq!(kept.len(), refused, "{kept:?}");
    eprintln!(
        "cpython corpus: {} files, {} distinct accepted, {refused} refused: {kept:?}",
        corpus.len(),
        accepted.len()
    );
    assert_eq!(refused, EXPECTED_REFUSALS.len());
    cluster.stop().await
}

#[tokio::test]
async fn a_spoofed_from_address_is_told_no_order_and_asked_to_sign_in() -> anyhow::Result<()> {
    use switchboard_proto::events::v1::{AccountUpdated, OrderStatus, OrderUpdated};
    let backing = Backing::start().await?;
    let (cluster, sink) = cluster_with_mail(&backing, |config| {
        config.notifier.email_from = "Acme Support <support@acme.example>".into();
    })
    .await?;
    let rules = "rules:\n  - name: balance\n    when: {keywords: [balance]}\n    then: {action: answer, playbook: account_balance, queue: billing}\n\
                 \x20 - name: orders\n    when: {keywords: [order]}\n    then: {action: answer, playbook: order_status, queue: orders}\n\
                 \x20 - name: everything-else\n    then: {action: queue, queue: general}\n";
    let request = PublishRulesRequest { text: rules.into(), wait: true };
    RouterClient::new(cluster.channel().await?).publish_rules(request).await?;
    let bus = backing.bus().await?;
    let order = OrderUpdated {
        order_id: "12345".into(),
        customer_id: "ana@example.com".into(),
        status: OrderStatus::Shipped.into(),
        carrier: "DHL".into(),
        tracking_url: "https://track.example/JD0002".into(),
        ..Default::default()
    };
    bus.publish(&switchboard_bus::Draft::new("default", "12345", Body::OrderUpdated(order)).build()?).await?;
    let account = AccountUpdated {
        customer_id: "ana@example.com".into(),
        balance_minor: 4250,
        currency: "EUR".into(),
        ..Default::default()
    };
    bus.publish(&switchboard_bus::Draft::new("default", "acct-ana", Body::AccountUpdated(account)).build()?)
        .await?;

    // Anyone can write From: ana@example.com: the answers tell nothing of Ana's order or balance.
    let order_mail =
        email("ana@example.com", "Order", "<spoof-1@evil.example>", "", "Where is my order 12345?");
    assert_eq!(smtp_send(cluster.smtp, "ana@example.com", "support@acme.example", &order_mail).await?.0, 250);
    let asked = received(&backing, "<spoof-1@evil.example>").await?;
    assert!(!asked.customer_verified);
    // The answer to this message (the shipped order's proactive update, to the mailbox's owner,
    // may land in the same conversation).
    let (told, _) = wait_for_event(&bus, "switchboard.events.reply.>", |event| match &event.body {
        Some(Body::ReplyRequested(r)) if r.in_reply_to == asked.message_id => Some(r.text.clone()),
        _ => None,
    })
    .await?;
    assert!(told.contains("sign in") && !told.contains("DHL") && !told.contains("track.example"), "{told}");

    let balance_mail =
        email("ana@example.com", "Balance", "<spoof-2@evil.example>", "", "What is my balance?");
    assert_eq!(
        smtp_send(cluster.smtp, "ana@example.com", "support@acme.example", &balance_mail).await?.0,
        250
    );
    let asked = received(&backing, "<spoof-2@evil.example>").await?;
    let (told, _) = wait_for_event(&bus, "switchboard.events.reply.>", |event| match &event.body {
        Some(Body::ReplyRequested(r)) if r.in_reply_to == asked.message_id => Some(r.text.clone()),
        _ => None,
    })
    .await?;
    assert!(told.contains("sign in") && !told.contains("42.50"), "{told}");
    delivered(&backing, &asked.conversation_id).await?;
    // No mail tells the balance. (The shipped order's proactive update does go to ana@example.com:
    // to the mailbox's owner, not to whoever wrote From it.)
    let mails = sink.messages()?;
    assert!(!mails.is_empty());
    for mail in &mails {
        let text = String::from_utf8_lossy(mail);
        assert!(!text.contains("42.50"), "{text}");
    }
    cluster.stop().await
}
