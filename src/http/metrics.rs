//! Request counts and latencies by route pattern, and the registry every other metric
//! joins, served at `/metrics` in Prometheus's text format. The names, labels and
//! buckets are those actix-web-prom gave them (`prefcenter_http_requests_total`,
//! `prefcenter_http_requests_duration_seconds`, labels `endpoint`, `method`, `status`),
//! recorded by [`super::observe`] for the price of two label lookups.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use actix_web::body::{BodySize, MessageBody};
use actix_web::http::header::ContentType;
use actix_web::http::{Method, StatusCode};
use actix_web::web::{self, Bytes};
use actix_web::HttpResponse;
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder};

/// What a path that matches no route is counted under: a path may hold an address or
/// a token.
const UNMATCHED: &str = "UNMATCHED";

#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    requests: IntCounterVec,
    durations: HistogramVec,
}

impl Metrics {
    pub fn new() -> prometheus::Result<Self> {
        let labels = ["endpoint", "method", "status"];
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "Total number of HTTP requests").namespace("prefcenter"),
            &labels,
        )?;
        let durations = HistogramVec::new(
            HistogramOpts::new(
                "http_requests_duration_seconds",
                "HTTP request duration in seconds for all requests",
            )
            .namespace("prefcenter"),
            &labels,
        )?;
        let registry = Registry::new();
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(durations.clone()))?;
        Ok(Self { registry, requests, durations })
    }

    /// Counts a request that `started` and ends now.
    fn record(&self, pattern: Option<&str>, method: &Method, status: StatusCode, started: Instant) {
        let labels = [pattern.unwrap_or(UNMATCHED), method.as_str(), status.as_str()];
        self.durations.with_label_values(&labels).observe(started.elapsed().as_secs_f64());
        self.requests.with_label_values(&labels).inc();
    }

    /// The text exposition of every registered metric.
    fn text(&self) -> Vec<u8> {
        let mut buffer = Vec::new();
        // Encoding into a Vec fails only for metrics that do not describe themselves.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buffer);
        buffer
    }
}

/// `GET /metrics`.
pub async fn serve(metrics: web::Data<Metrics>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(ContentType("text/plain; version=0.0.4; charset=utf-8".parse().expect("a media type")))
        .body(metrics.text())
}

pin_project_lite::pin_project! {
    /// A response body that counts its request once it has been sent (or dropped): a
    /// streamed export's duration includes its streaming.
    pub struct Recorded<B> {
        #[pin]
        body: B,
        record: Option<Record>,
    }

    impl<B> PinnedDrop for Recorded<B> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(r) = this.project().record.take() {
                r.metrics.record(r.pattern.as_deref(), &r.method, r.status, r.started);
            }
        }
    }
}

/// What is counted when the body is done.
pub struct Record {
    pub metrics: web::Data<Metrics>,
    pub pattern: Option<String>,
    pub method: Method,
    pub status: StatusCode,
    pub started: Instant,
}

impl<B> Recorded<B> {
    pub fn new(body: B, record: Option<Record>) -> Self {
        Self { body, record }
    }
}

impl<B: MessageBody> MessageBody for Recorded<B> {
    type Error = B::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Self::Error>>> {
        self.project().body.poll_next(cx)
    }
}
