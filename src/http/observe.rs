//! One log line per request, inside a span that carries a request id; the id sent
//! back as `X-Request-Id`; and the request counted in `/metrics` by route pattern.
//! The line names the route pattern, never the path itself: a path can hold an
//! address or a token. Client addresses are never logged.
//!
//! What runs on every request is kept cheap: the id is a process prefix and a keyed
//! hash of a counter (no system call), and the span's fields are only worked out when
//! a subscriber wants the span (at `info`); the metrics take the pattern actix
//! already matched.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;
use rand::RngCore;
use tracing::Instrument;

use super::metrics::{Metrics, Record, Recorded};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A caller's id, kept when it is short and plain, so logs can be joined across
/// services.
fn callers_id(req: &ServiceRequest) -> Option<HeaderValue> {
    let value = req.headers().get(&REQUEST_ID)?;
    let text = value.to_str().ok()?;
    let plain = !text.is_empty()
        && text.len() <= 64
        && text.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_');
    plain.then(|| value.clone())
}

/// A new id: 32 hex digits, as a v4 UUID's simple form was: a random prefix drawn once
/// a process, then a counter under a keyed hash. Not the bare counter: the header goes
/// to every client, and a counter would tell them how many requests the process has
/// served. Both cost no system call.
fn new_id() -> HeaderValue {
    static KEYS: OnceLock<(u64, RandomState)> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let (prefix, keyed) = KEYS.get_or_init(|| (rand::rngs::OsRng.next_u64(), RandomState::new()));
    let n = keyed.hash_one(COUNTER.fetch_add(1, Ordering::Relaxed));
    let mut id = [0u8; 32];
    for (i, digit) in id.iter_mut().enumerate() {
        let word = if i < 16 { *prefix } else { n };
        let nibble = (word >> (60 - 4 * (i % 16))) & 0xf;
        *digit = b"0123456789abcdef"[nibble as usize];
    }
    HeaderValue::from_bytes(&id).expect("hex digits are a header value")
}

pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = callers_id(&req).unwrap_or_else(new_id);
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let span = tracing::info_span!(
        "request",
        id = %id.to_str().unwrap_or_default(),
        method = %req.method(),
        route = tracing::field::Empty
    );
    if !span.is_disabled() {
        // Before routing, so that what the request logs on its way carries it.
        let route = req.match_pattern();
        span.record("route", tracing::field::display(route.as_deref().unwrap_or("unmatched")));
    }
    let started = Instant::now();
    let result = next.call(req).instrument(span.clone()).await;
    let _entered = span.enter();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    match result {
        Ok(mut res) => {
            let status = res.status();
            if status.as_u16() >= 500 {
                tracing::warn!(status = status.as_u16(), ms, "request failed");
            } else {
                tracing::info!(status = status.as_u16(), ms, "request");
            }
            res.headers_mut().insert(REQUEST_ID, id);
            // The method as routed (HEAD answered as GET), as the metrics always had it.
            let record = metrics.map(|metrics| Record {
                metrics,
                pattern: res.request().match_pattern(),
                method: res.request().method().clone(),
                status,
                started,
            });
            Ok(res.map_body(|_, body| Recorded::new(body, record)))
        }
        Err(e) => {
            tracing::warn!(error = %e, ms, "request error");
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    /// Ids are unique, 32 hex digits, and say nothing of how many came before.
    #[test]
    fn new_ids_are_unique_and_do_not_count() {
        let ids: Vec<String> = (0..1000).map(|_| super::new_id().to_str().unwrap().to_owned()).collect();
        assert!(ids.iter().all(|id| id.len() == 32 && id.bytes().all(|c| c.is_ascii_hexdigit())));
        assert_eq!(ids.iter().collect::<std::collections::HashSet<_>>().len(), ids.len());
        let low = |id: &str| u64::from_str_radix(&id[16..], 16).unwrap();
        let steps_of_one = ids.windows(2).filter(|w| low(&w[1]).wrapping_sub(low(&w[0])) == 1).count();
        assert!(steps_of_one < 5, "{steps_of_one} ids follow their predecessor by one");
    }
}
