//! Rate limits for the public routes that send mail: per address and per client
//! network, so that nobody can use prefcenter to flood a mailbox or probe addresses.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::Error;

/// A fixed-window counter per key.
struct Window {
    max: u32,
    period: Duration,
    seen: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Window {
    fn new(max: u32, period: Duration) -> Self {
        Self { max, period, seen: Mutex::new(HashMap::new()) }
    }

    fn hit(&self, key: &str) -> Result<(), Error> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() > 100_000 {
            seen.retain(|_, (_, since)| since.elapsed() < self.period);
        }
        let entry = seen.entry(key.to_owned()).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= self.period {
            *entry = (0, Instant::now());
        }
        if entry.0 >= self.max {
            let retry_after = (self.period.saturating_sub(entry.1.elapsed())).as_secs().max(1);
            return Err(Error::RateLimited { retry_after });
        }
        entry.0 += 1;
        Ok(())
    }
}

pub struct Limits {
    per_address: Window,
    per_client: Window,
}

impl Default for Limits {
    /// Three mails an address in ten minutes; twenty requests a client network in ten
    /// minutes.
    fn default() -> Self {
        Self {
            per_address: Window::new(3, Duration::from_secs(600)),
            per_client: Window::new(20, Duration::from_secs(600)),
        }
    }
}

impl Limits {
    /// Counts one request from `client` (a pseudonym) about `address` (a hash).
    pub fn mail_request(&self, client: &str, address: &str) -> Result<(), Error> {
        self.per_client.hit(client)?;
        self.per_address.hit(address)
    }
}
