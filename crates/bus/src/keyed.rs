//! Consuming in parallel while keeping order per key: messages with the same key (a customer,
//! a conversation) are handled one after another in stream order, messages with different keys
//! at once. A message waiting for an earlier one of its key is kept leased; a transient failure
//! is retried in place, so a later message of its key never overtakes it.

use std::{collections::HashMap, collections::VecDeque, hash::Hash};

use async_nats::jetstream::{AckKind, consumer::PullConsumer};
use futures::{StreamExt, stream::FuturesUnordered};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{
    Bus, Delivery, Error, Handler,
    consume::{ConsumerClosed, OnTransient, handle_one, hold_limit, pulled},
};

/// Runs `handler` on a durable consumer's messages until `shutdown`, up to `concurrency` held at
/// once (handled or waiting for their key), in stream order per `key_of`. Messages in hand when
/// shutdown comes are finished first; those still waiting are handed back to the server.
/// Dead letters of `name` put back (`switchboard dlq replay`) reach the same handler, outside
/// the order of their key (they are late by nature).
pub async fn process_keyed<T, H, K>(
    bus: &Bus,
    consumer: &PullConsumer,
    name: &str,
    handler: &H,
    concurrency: usize,
    key_of: impl Fn(&T) -> K,
    shutdown: &CancellationToken,
) -> Result<(), Error>
where
    T: prost::Message + Default + Clone,
    H: Handler<T>,
    K: Hash + Eq + Clone,
{
    let own = consume_keyed(bus, consumer, name, handler, concurrency, key_of, shutdown);
    let replayed = crate::dead_letters::take_back(bus, name, handler, shutdown);
    // Boxed: the two loops' state would make every caller's future large.
    futures::try_join!(Box::pin(own), Box::pin(replayed)).map(|_| ())
}

async fn consume_keyed<T, H, K>(
    bus: &Bus,
    consumer: &PullConsumer,
    name: &str,
    handler: &H,
    concurrency: usize,
    key_of: impl Fn(&T) -> K,
    shutdown: &CancellationToken,
) -> Result<(), Error>
where
    T: prost::Message + Default + Clone,
    H: Handler<T>,
    K: Hash + Eq + Clone,
{
    let concurrency = concurrency.max(1);
    let mut messages = pulled(consumer, concurrency).await?;
    let mut waiting: HashMap<K, VecDeque<Delivery>> = HashMap::new();
    let mut held = 0usize;
    let mut in_flight = FuturesUnordered::new();
    let handle = |delivery: Delivery, key: Option<K>| {
        let span = delivery.span(name);
        async move {
            let done = handle_one(bus, &delivery, name, handler, OnTransient::RetryInPlace, shutdown).await;
            (key, done)
        }
        .instrument(span)
    };
    let mut lease = tokio::time::interval(hold_limit(bus));
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            Some((key, done)) = in_flight.next(), if !in_flight.is_empty() => {
                let key: Option<K> = key;
                done?;
                held -= 1;
                if let Some(next) = key.as_ref().and_then(|key| next_of(&mut waiting, key)) {
                    in_flight.push(handle(next, key));
                }
            }
            _ = lease.tick() => keep_leased(&waiting).await,
            next = messages.next(), if held < concurrency => match next {
                Some(Ok(message)) => {
                    let delivery = Delivery::new(message)?;
                    held += 1;
                    // Undecodable: no key; handled (dead-lettered) at once.
                    let key = T::decode(delivery.payload()).ok().map(|message| key_of(&message));
                    match key.as_ref().and_then(|key| waiting.get_mut(key)) {
                        Some(queue) => queue.push_back(delivery),
                        None => {
                            if let Some(key) = &key {
                                waiting.insert(key.clone(), VecDeque::new());
                            }
                            in_flight.push(handle(delivery, key));
                        }
                    }
                }
                Some(Err(error)) => tracing::warn!(consumer = name, %error, "consumer stream error"),
                None => return Err(Error::jetstream("consume", ConsumerClosed)),
            },
        }
    }
    while let Some((_, done)) = in_flight.next().await {
        done?;
    }
    for delivery in waiting.into_values().flatten() {
        delivery.ack_with(AckKind::Nak(None)).await?;
    }
    Ok(())
}

/// The next message waiting for `key`, if any; the key is forgotten when none waits.
fn next_of<K: Hash + Eq>(waiting: &mut HashMap<K, VecDeque<Delivery>>, key: &K) -> Option<Delivery> {
    let next = waiting.get_mut(key).and_then(VecDeque::pop_front);
    if next.is_none() {
        waiting.remove(key);
    }
    next
}

/// Tells the server the waiting messages are still in hand (their ack timers restart).
async fn keep_leased<K>(waiting: &HashMap<K, VecDeque<Delivery>>) {
    for delivery in waiting.values().flatten() {
        if let Err(error) = delivery.ack_with(AckKind::Progress).await {
            tracing::warn!(sequence = delivery.stream_sequence, %error, "progress ack failed");
        }
    }
}
