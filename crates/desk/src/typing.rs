//! Typing, both ways, on core NATS (not kept: a signal missed is gone, and nothing resumes):
//! the customer typing reaches the person watching the conversation (`WatchTyping`), and a
//! person typing reaches the customer's chat (`SignalTyping`: "An agent is typing…").

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt as _;
use sqlx::PgPool;
use switchboard_auth::Caller;
use switchboard_bus::{Bus, typing_subject};
use switchboard_proto::{desk::v1::TypingSignal, time::to_timestamp};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tonic::Status;

use crate::{Error, work};

/// The author a signal's body names, if it is one the desk passes on (the customer's).
pub fn customer_typing(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body).is_ok_and(|value| value["author"] == "customer")
}

/// Streams the customer's typing in the caller's tenant's conversation until the watcher goes
/// away or `streams_end`.
pub async fn watch(
    bus: &Bus,
    pool: &PgPool,
    caller: &Caller,
    conversation_id: &str,
    streams_end: CancellationToken,
) -> Result<mpsc::Receiver<Result<TypingSignal, Status>>, Error> {
    let c = work::conversation(pool, &caller.tenant, conversation_id).await?;
    let mut signals =
        bus.client().subscribe(typing_subject(&caller.tenant, &c.conversation_id)).await.map_err(
            |error| {
                Error::Bus(switchboard_bus::Error::JetStream {
                    operation: "typing subscribe",
                    source: Box::new(error),
                })
            },
        )?;
    let (sender, receiver) = mpsc::channel(16);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = streams_end.cancelled() => return,
                () = sender.closed() => return,
                signal = signals.next() => match signal {
                    Some(signal) if customer_typing(&signal.payload) => {
                        let typing = TypingSignal { author: "customer".into(), at: Some(to_timestamp(chrono::Utc::now())) };
                        // A watcher too slow to take it misses one signal; the next comes soon.
                        let _ = sender.try_send(Ok(typing));
                    }
                    Some(_) => {}
                    None => return,
                },
            }
        }
    });
    Ok(receiver)
}

/// Tells the customer's chat that `caller` is typing, if they may answer the conversation.
pub async fn signal(bus: &Bus, pool: &PgPool, caller: &Caller, conversation_id: &str) -> Result<(), Error> {
    let c = work::conversation(pool, &caller.tenant, conversation_id).await?;
    work::may_work(caller, &c)?;
    let subject = typing_subject(&caller.tenant, &c.conversation_id);
    let publish = bus.client().publish(subject, Bytes::from_static(br#"{"author":"agent"}"#));
    // A lost typing signal is harmless (the reply itself follows): logged, not refused.
    match tokio::time::timeout(Duration::from_secs(2), publish).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!(%error, "typing signal not sent"),
        Err(_) => tracing::warn!("typing signal not sent in time"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_customer_s_typing_is_passed_on() {
        assert!(customer_typing(br#"{"author":"customer"}"#));
        assert!(!customer_typing(br#"{"author":"agent"}"#));
        assert!(!customer_typing(b"not json"));
    }
}
