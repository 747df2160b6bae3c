//! A bound on the time a client may take to send a request's body. actix-web bounds
//! the request head (`client_request_timeout`) but not the body: a body trickled at a
//! byte every few seconds would hold a connection, and a worker's attention, for as
//! long as the client likes. Here a body must keep arriving (no pause longer than the
//! bound) and, once the bound has passed, at an average of at least [`MIN_RATE`] —
//! slow enough for any real upload, fast enough to cut a trickle within the bound.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::rt::time::{sleep_until, Sleep};
use actix_web::web::{self, Bytes};
use actix_web::HttpMessage;
use futures_util::Stream;

/// Bytes a second a body must average once the bound has passed.
pub const MIN_RATE: f64 = 1024.0;

/// The bound, as app data (from `PREFCENTER_BODY_TIMEOUT_MS`).
#[derive(Clone, Copy)]
pub struct BodyTimeout(pub Duration);

pub async fn bound_body(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let timeout = req.app_data::<web::Data<BodyTimeout>>().map(|d| *d.get_ref());
    if let (Some(BodyTimeout(bound)), true) = (timeout, has_body(&req)) {
        let inner = req.take_payload();
        let now = Instant::now();
        let bounded =
            Bounded { inner, bound, started: now, received: 0, pause_until: now + bound, idle: None };
        req.set_payload(Payload::Stream { payload: Box::pin(bounded) });
    }
    next.call(req).await
}

/// Whether the request says a body follows (a length above zero, or chunks).
fn has_body(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).is_some_and(|n| n.trim() != "0")
}

struct Bounded {
    inner: Payload,
    bound: Duration,
    started: Instant,
    received: u64,
    /// When the current pause in the body runs out.
    pause_until: Instant,
    /// The timer for it, armed only once the body has to be waited for: a body that
    /// arrives whole (the usual small JSON) never registers one.
    idle: Option<Pin<Box<Sleep>>>,
}

/// An I/O "timed out", which the error type answers with 408.
fn too_slow() -> PayloadError {
    PayloadError::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, "the body was sent too slowly"))
}

impl Stream for Bounded {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(bytes))) => {
                this.received += bytes.len() as u64;
                let elapsed = this.started.elapsed();
                if elapsed > this.bound && (this.received as f64) < elapsed.as_secs_f64() * MIN_RATE {
                    return Poll::Ready(Some(Err(too_slow())));
                }
                this.pause_until = Instant::now() + this.bound;
                Poll::Ready(Some(Ok(bytes)))
            }
            Poll::Pending => {
                let until = this.pause_until.into();
                let idle = this.idle.get_or_insert_with(|| Box::pin(sleep_until(until)));
                if idle.deadline() != until {
                    idle.as_mut().reset(until);
                }
                match idle.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(too_slow()))),
                    Poll::Pending => Poll::Pending,
                }
            }
            done => done,
        }
    }
}
