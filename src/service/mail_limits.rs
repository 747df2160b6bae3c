//! Rate limits on asking for mail (a preference link, a sign-up confirmation): per
//! address and per client network, so that nobody can use prefcenter to flood a
//! mailbox or probe addresses. A business rule, not a property of HTTP: every way in
//! that can make prefcenter send such a mail counts against the same windows.

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

/// The windows [`crate::service::signup`] counts each mail request against.
pub struct MailLimits {
    per_address: Window,
    per_client: Window,
}

impl Default for MailLimits {
    /// Three mails an address in ten minutes; twenty requests a client network in ten
    /// minutes.
    fn default() -> Self {
        Self {
            per_address: Window::new(3, Duration::from_secs(600)),
            per_client: Window::new(20, Duration::from_secs(600)),
        }
    }
}

impl MailLimits {
    /// Counts one request from `client` (a pseudonym) about `address` (a hash).
    pub fn count(&self, client: &str, address: &str) -> Result<(), Error> {
        self.per_client.hit(client)?;
        self.per_address.hit(address)
    }
}
