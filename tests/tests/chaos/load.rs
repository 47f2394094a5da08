//! The load: customer messages over gRPC (intake) and over the channels' SMTP listener, each
//! sent again with the same idempotency key (or Message-ID) until it is accepted.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::Context as _;
use futures::{StreamExt as _, stream};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Tokio1Executor, address::Envelope};
use switchboard_proto::intake::v1::intake_client::IntakeClient;

use crate::common;

/// One message of the load; every fifth goes by email.
pub struct Message {
    pub index: usize,
}

impl Message {
    pub fn by_email(&self) -> bool {
        self.index % 5 == 4
    }

    /// The gRPC idempotency key, or the email's Message-ID.
    pub fn key(&self) -> String {
        if self.by_email() {
            format!("<chaos-{}@example.com>", self.index)
        } else {
            format!("chaos-{}", self.index)
        }
    }

    /// Most ask where an order is (the bot answers), some ask for a person, some something else.
    pub fn text(&self) -> String {
        match self.index % 10 {
            3 => "I want to talk to a real person please".into(),
            7 => format!("Do you sell gift cards for {} people?", self.index),
            _ => format!("Where is my order {}?", 1000 + self.index),
        }
    }

    fn customer(&self) -> String {
        format!("chaos-customer-{}", self.index)
    }
}

/// Counts of what sending took.
#[derive(Default)]
pub struct Sent {
    pub accepted: AtomicU64,
    /// Attempts refused or failed (a process down, the database away), sent again.
    pub retried: AtomicU64,
}

/// Where the messages go, and how fast.
pub struct Target {
    pub intake: SocketAddr,
    pub smtp: SocketAddr,
    /// Messages per second, over all senders.
    pub rate: u32,
}

/// Sends `count` messages at `target.rate`, each until accepted.
pub async fn send(target: &Target, count: usize, sent: Arc<Sent>) -> anyhow::Result<()> {
    let mailer = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(target.smtp.ip().to_string())
        .port(target.smtp.port())
        .timeout(Some(Duration::from_secs(10)))
        .build();
    let (start, every) = (tokio::time::Instant::now(), Duration::from_secs(1) / target.rate.max(1));
    stream::iter(0..count)
        .map(|index| {
            let (mailer, sent) = (&mailer, &sent);
            async move {
                tokio::time::sleep_until(start + every * index as u32).await;
                send_one(target, mailer, Message { index }, sent).await
            }
        })
        .buffer_unordered(64)
        .collect::<Vec<anyhow::Result<()>>>()
        .await
        .into_iter()
        .collect()
}

async fn send_one(
    target: &Target,
    mailer: &AsyncSmtpTransport<Tokio1Executor>,
    message: Message,
    sent: &Sent,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    loop {
        let attempt = if message.by_email() {
            mail(mailer, &message).await
        } else {
            submit(target.intake, &message).await
        };
        match attempt {
            Ok(()) => {
                sent.accepted.fetch_add(1, Ordering::Relaxed);
                return Ok(());
            }
            Err(error) if tokio::time::Instant::now() > deadline => {
                return Err(error.context(format!("message {} never accepted", message.index)));
            }
            Err(_) => {
                sent.retried.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }
}

async fn submit(intake: SocketAddr, message: &Message) -> anyhow::Result<()> {
    let api = tokio::time::timeout(Duration::from_secs(5), common::channel(intake)).await??;
    let request = common::message(&message.customer(), &message.text(), &message.key());
    tokio::time::timeout(Duration::from_secs(10), IntakeClient::new(api).submit_message(request))
        .await
        .context("intake did not answer")??;
    Ok(())
}

async fn mail(mailer: &AsyncSmtpTransport<Tokio1Executor>, message: &Message) -> anyhow::Result<()> {
    let from = format!("{}@example.com", message.customer());
    let raw = format!(
        "From: {from}\r\nTo: support@acme.example\r\nSubject: A question\r\nMessage-ID: {}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n",
        message.key(),
        message.text()
    );
    let envelope = Envelope::new(Some(from.parse()?), vec!["support@acme.example".parse()?])?;
    mailer.send_raw(&envelope, raw.as_bytes()).await?;
    Ok(())
}
