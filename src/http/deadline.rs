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
        let bounded = Bounded::new(inner, bound, now);
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
    /// Whether the body is being waited for: a pause starts when a read finds nothing,
    /// not when the last bytes came, so the time a slow reader (an import's chunk being
    /// written) takes between its reads is never counted against the client.
    waiting: bool,
    /// The timer for it, armed only once the body has to be waited for: a body that
    /// arrives whole (the usual small JSON) never registers one.
    idle: Option<Pin<Box<Sleep>>>,
}

impl Bounded {
    fn new(inner: Payload, bound: Duration, now: Instant) -> Bounded {
        Bounded {
            inner,
            bound,
            started: now,
            received: 0,
            pause_until: now + bound,
            waiting: false,
            idle: None,
        }
    }
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
                this.waiting = false;
                Poll::Ready(Some(Ok(bytes)))
            }
            Poll::Pending => {
                if !this.waiting {
                    this.waiting = true;
                    this.pause_until = Instant::now() + this.bound;
                }
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

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    /// A reader busy for longer than the bound between two reads (an import writing a
    /// chunk) is not a client's pause: the next read that must wait starts the clock.
    #[actix_web::test]
    async fn a_slow_reader_is_not_a_slow_client() {
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<Result<Bytes, PayloadError>>();
        let arriving = futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx));
        let bound = Duration::from_millis(300);
        let mut body = Bounded::new(Payload::Stream { payload: Box::pin(arriving) }, bound, Instant::now());
        // Chunks large enough for the average rate, so that only the pause is tested.
        let chunk = Bytes::from(vec![b'x'; 4096]);
        sender.send(Ok(chunk.clone())).unwrap();
        assert_eq!(body.next().await.unwrap().unwrap(), chunk);
        std::thread::sleep(bound * 2); // the reader is busy elsewhere
        let later = chunk.clone();
        let sending = sender.clone();
        actix_web::rt::spawn(async move {
            actix_web::rt::time::sleep(bound / 3).await;
            sending.send(Ok(later)).unwrap();
        });
        let second = body.next().await.unwrap();
        assert_eq!(second.expect("the client kept sending: the wait began at this read"), chunk);
        // A client that then sends nothing for the bound is still cut.
        assert!(body.next().await.unwrap().is_err());
    }
}
