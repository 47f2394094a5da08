//! What the SMTP listener allows: connections in all and per client address, a deadline for a
//! whole session, and a budget of DATA bytes held in memory across every session at once.

use std::{net::IpAddr, sync::Arc, time::Duration};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::http::{PerClient, Place};

#[derive(Debug, Clone)]
pub struct SmtpLimits {
    pub max_connections: usize,
    pub max_per_client: usize,
    /// The longest a session may last, whatever it does.
    pub session_deadline: Duration,
    /// DATA bytes held at once across sessions; past it a message is deferred (452).
    pub data_in_flight: usize,
}

impl Default for SmtpLimits {
    fn default() -> Self {
        Self {
            max_connections: 64,
            max_per_client: 8,
            session_deadline: Duration::from_secs(600),
            data_in_flight: 64 * 1024 * 1024,
        }
    }
}

/// Bytes per permit of the DATA budget (a semaphore counts in u32 permits).
const UNIT: usize = 1024;

/// Shared by every session of a listener.
#[derive(Clone)]
pub(crate) struct Gate {
    pub limits: SmtpLimits,
    slots: Arc<Semaphore>,
    per_client: PerClient,
    data: Arc<Semaphore>,
}

/// A session's places, in all and for its client: held while it runs, given back on drop.
pub(crate) struct Admitted {
    _slot: OwnedSemaphorePermit,
    _place: Place,
}

/// Why a connection was not admitted; the text follows a `421` reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Busy {
    Listener,
    Client,
}

impl Gate {
    pub fn new(limits: SmtpLimits) -> Self {
        let data_units = (limits.data_in_flight / UNIT).clamp(1, Semaphore::MAX_PERMITS);
        Self {
            slots: Arc::new(Semaphore::new(limits.max_connections.max(1))),
            per_client: PerClient::default(),
            data: Arc::new(Semaphore::new(data_units)),
            limits,
        }
    }

    /// A place for a session from `client`, or why there is none.
    pub fn admit(&self, client: IpAddr) -> Result<Admitted, Busy> {
        let slot = self.slots.clone().try_acquire_owned().map_err(|_| Busy::Listener)?;
        let place = self.per_client.take(client, self.limits.max_per_client).ok_or(Busy::Client)?;
        Ok(Admitted { _slot: slot, _place: place })
    }

    /// Room for DATA as it is read.
    pub fn budget(&self) -> Budget {
        Budget { data: self.data.clone(), held: Vec::new(), reserved: 0, exhausted: false }
    }
}

/// The DATA bytes one message holds, taken from the shared budget and given back on drop.
pub(crate) struct Budget {
    data: Arc<Semaphore>,
    held: Vec<OwnedSemaphorePermit>,
    /// Bytes covered by the permits held.
    reserved: usize,
    pub exhausted: bool,
}

impl Budget {
    /// Makes room for `total` bytes in all; false (and exhausted from then on) when the shared
    /// budget has none left.
    pub fn cover(&mut self, total: usize) -> bool {
        if self.exhausted {
            return false;
        }
        while self.reserved < total {
            let units = u32::try_from((total - self.reserved).div_ceil(UNIT)).unwrap_or(u32::MAX);
            match self.data.clone().try_acquire_many_owned(units) {
                Ok(permit) => {
                    self.reserved += units as usize * UNIT;
                    self.held.push(permit);
                }
                Err(_) => {
                    self.exhausted = true;
                    self.held.clear();
                    self.reserved = 0;
                    return false;
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    fn admits_up_to_the_limits_and_frees_places_on_drop() {
        let gate = Gate::new(SmtpLimits { max_connections: 3, max_per_client: 2, ..SmtpLimits::default() });
        let first = gate.admit(ip("192.0.2.1")).expect("first");
        let _second = gate.admit(ip("192.0.2.1")).expect("second");
        assert_eq!(gate.admit(ip("192.0.2.1")).err(), Some(Busy::Client));
        let _other = gate.admit(ip("192.0.2.2")).expect("another client");
        assert_eq!(gate.admit(ip("192.0.2.3")).err(), Some(Busy::Listener));
        drop(first);
        assert!(gate.admit(ip("192.0.2.1")).is_ok());
    }

    #[test]
    fn the_data_budget_is_shared_and_given_back() {
        let gate = Gate::new(SmtpLimits { data_in_flight: 10 * UNIT, ..SmtpLimits::default() });
        let mut one = gate.budget();
        assert!(one.cover(6 * UNIT));
        let mut two = gate.budget();
        assert!(!two.cover(6 * UNIT), "only 4 KiB left");
        assert!(two.exhausted && !two.cover(1));
        drop(one);
        assert!(gate.budget().cover(10 * UNIT));
    }
}
