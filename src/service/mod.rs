//! Use cases, one module per capability. Each reads and writes through `store` inside
//! one transaction, with the event that records the change.

pub mod api_keys;
pub mod contacts;
pub mod topics;

use chrono::{DateTime, NaiveDateTime, Utc};

/// Times leave the service as RFC 3339 UTC.
pub(crate) fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}
