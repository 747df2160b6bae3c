//! The load generator: a fixed number of connections, each sending one request after
//! another for a fixed time, recording each latency.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

/// What one scenario measured.
#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    pub name: String,
    pub requests: u64,
    pub errors: u64,
    pub requests_per_second: f64,
    pub decisions_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Requests per second over the baseline's, in the same run.
    pub ratio: Option<f64>,
}

/// One request of a scenario.
pub struct Request {
    pub method: reqwest::Method,
    pub url: String,
    pub body: Option<String>,
    pub content_type: &'static str,
    pub bearer: Option<String>,
}

impl Request {
    /// A JSON POST.
    pub fn json(url: String, body: String, bearer: Option<&str>) -> Self {
        Self {
            method: reqwest::Method::POST,
            url,
            body: Some(body),
            content_type: "application/json",
            bearer: bearer.map(str::to_owned),
        }
    }
}

/// Sends `requests` (round robin, each connection its own share) from `connections`
/// tasks for `duration`.
pub fn run(
    name: &str,
    requests: Arc<Vec<Request>>,
    decisions_per_request: usize,
    connections: usize,
    duration: Duration,
) -> Measured {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let (latencies, errors) = runtime.block_on(async {
        let client =
            reqwest::Client::builder().pool_max_idle_per_host(connections).build().expect("a client");
        let deadline = Instant::now() + duration;
        let tasks: Vec<_> = (0..connections)
            .map(|c| {
                let (client, requests) = (client.clone(), requests.clone());
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    let mut errors = 0u64;
                    let mut i = c;
                    while Instant::now() < deadline {
                        let r = &requests[i % requests.len()];
                        i += connections;
                        let mut request =
                            client.request(r.method.clone(), &r.url).header("content-type", r.content_type);
                        if let Some(body) = &r.body {
                            request = request.body(body.clone());
                        }
                        if let Some(bearer) = &r.bearer {
                            request = request.bearer_auth(bearer);
                        }
                        let started = Instant::now();
                        match request.send().await {
                            Ok(reply) if reply.status().is_success() => {
                                let _ = reply.bytes().await;
                                latencies.push(started.elapsed().as_micros() as u32);
                            }
                            _ => errors += 1,
                        }
                    }
                    (latencies, errors)
                })
            })
            .collect();
        let mut all = Vec::new();
        let mut errors = 0;
        for task in tasks {
            let (l, e) = task.await.expect("a load task");
            all.extend(l);
            errors += e;
        }
        (all, errors)
    });
    let mut sorted = latencies;
    sorted.sort_unstable();
    let pick = |q: f64| {
        sorted
            .get(((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1)))
            .map_or(0.0, |us| *us as f64 / 1000.0)
    };
    let rps = sorted.len() as f64 / duration.as_secs_f64();
    Measured {
        name: name.to_owned(),
        requests: sorted.len() as u64,
        errors,
        requests_per_second: rps,
        decisions_per_second: rps * decisions_per_request as f64,
        p50_ms: pick(0.50),
        p99_ms: pick(0.99),
        ratio: None,
    }
}
