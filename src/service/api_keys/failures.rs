//! Failed API-key verifications per client network, and the gate in front of the
//! work a presented secret can cause (a database read for a key this process does not
//! know yet, argon2 for a legacy row).
//!
//! Failures count against the network they come from (the pseudonym of its /24 or
//! /48), never against the key they name: a key's lookup prefix is no secret, and
//! counting per key would let anyone lock a key out. The gate counts work *before* it
//! starts — a request that may fail holds a reservation that is a failure unless it is
//! released — so a burst of concurrent wrong secrets cannot all pass the check before
//! any of them is counted.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::Error;

/// Failed (or still running) verifications a network may have in a window before it
/// is refused work.
pub const MAX_FAILURES: u32 = 20;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug)]
struct Tally {
    failures: u32,
    since: Instant,
    in_flight: u32,
}

impl Tally {
    /// Starts a new window when the last one is over; reservations outlive windows.
    fn current(&mut self) -> &mut Self {
        if self.since.elapsed() >= FAILURE_WINDOW {
            self.failures = 0;
            self.since = Instant::now();
        }
        self
    }

    fn exhausted(&self) -> bool {
        self.failures + self.in_flight >= MAX_FAILURES
    }

    fn retry_after(&self) -> u64 {
        FAILURE_WINDOW.saturating_sub(self.since.elapsed()).as_secs().max(1)
    }
}

#[derive(Default)]
pub struct Failures {
    networks: Mutex<HashMap<String, Tally>>,
}

impl Failures {
    fn with<T>(&self, network: &str, f: impl FnOnce(&mut Tally) -> T) -> T {
        let mut networks = self.networks.lock().unwrap_or_else(|e| e.into_inner());
        if networks.len() >= 100_000 {
            networks.retain(|_, t| t.in_flight > 0 || t.since.elapsed() < FAILURE_WINDOW);
        }
        let tally = networks.entry(network.to_owned()).or_insert_with(|| Tally {
            failures: 0,
            since: Instant::now(),
            in_flight: 0,
        });
        f(tally.current())
    }

    /// Reserves the right to do work for one verification from `network`, or refuses
    /// it (429) when the network has used up its failures.
    pub fn reserve<'a>(&'a self, network: &str) -> Result<Reservation<'a>, Error> {
        self.with(network, |t| {
            if t.exhausted() {
                return Err(Error::RateLimited { retry_after: t.retry_after() });
            }
            t.in_flight += 1;
            Ok(())
        })?;
        Ok(Reservation { failures: self, network: network.to_owned(), failed: true })
    }

    /// Counts a wrong secret that cost no reserved work (a keyed hash of a known key),
    /// and says how to answer it: 401, or 429 once the network is over its limit.
    pub fn fail(&self, network: &str) -> Error {
        self.with(network, |t| {
            if t.exhausted() {
                return Error::RateLimited { retry_after: t.retry_after() };
            }
            t.failures += 1;
            Error::Unauthorized
        })
    }

    #[cfg(test)]
    fn is_limited(&self, network: &str) -> bool {
        self.with(network, |t| t.exhausted())
    }

    fn settle(&self, network: &str, failed: bool) {
        self.with(network, |t| {
            t.in_flight = t.in_flight.saturating_sub(1);
            if failed {
                t.failures += 1;
            }
        });
    }
}

/// Work reserved by [`Failures::reserve`]. Dropped, it counts as a failure — also when
/// the request is abandoned half-way, since its work was done all the same — unless it
/// was [released](Reservation::release).
pub struct Reservation<'a> {
    failures: &'a Failures,
    network: String,
    failed: bool,
}

impl Reservation<'_> {
    /// The work ended well (the secret verified) or failed through no fault of the
    /// caller (the database could not answer): no failure is counted.
    pub fn release(mut self) {
        self.failed = false;
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.failures.settle(&self.network, self.failed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_count_before_the_work_ends() {
        let failures = Failures::default();
        let held: Vec<_> = (0..MAX_FAILURES).map(|_| failures.reserve("a").unwrap()).collect();
        assert!(matches!(failures.reserve("a"), Err(Error::RateLimited { .. })), "in flight counts");
        assert!(failures.reserve("b").is_ok(), "another network is not concerned");
        for r in held {
            r.release();
        }
        assert!(!failures.is_limited("a"), "released work is no failure");
        for _ in 0..MAX_FAILURES {
            drop(failures.reserve("a").unwrap());
        }
        assert!(failures.is_limited("a"), "dropped reservations are failures");
        assert!(matches!(failures.fail("a"), Error::RateLimited { .. }));
    }

    #[test]
    fn cheap_failures_answer_401_then_429() {
        let failures = Failures::default();
        for _ in 0..MAX_FAILURES {
            assert!(matches!(failures.fail("n"), Error::Unauthorized));
        }
        assert!(matches!(failures.fail("n"), Error::RateLimited { retry_after } if retry_after > 0));
    }
}
