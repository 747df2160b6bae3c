//! A webhook receiver on loopback: a real HTTP server (actix-web, in a thread of its
//! own) that records every request it is sent, answers as the test tells it, and can be
//! taken down and brought back on the same port. Signatures are checked with the
//! Standard Webhooks reference verifier (the `standardwebhooks` crate), not with
//! prefcenter's own code.

use std::collections::VecDeque;
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;

/// One request the receiver was sent.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// `webhook-id`.
    pub id: String,
    pub method: String,
    pub path: String,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
    /// The status it was answered.
    pub answered: u16,
}

impl Delivery {
    /// The event's sequence number, from `webhook-id` (`evt_<seq>`).
    pub fn seq(&self) -> i64 {
        self.id
            .strip_prefix("evt_")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("webhook-id {:?}", self.id))
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    /// Whether the Standard Webhooks reference verifier accepts it with `secret`.
    pub fn verifies_with(&self, secret: &str) -> bool {
        standardwebhooks::Webhook::new(secret)
            .expect("a whsec_ secret")
            .verify(&self.body, &self.headers)
            .is_ok()
    }

    fn accepted(&self) -> bool {
        (200..300).contains(&self.answered)
    }
}

#[derive(Default)]
struct State {
    deliveries: Mutex<Vec<Delivery>>,
    /// Statuses for the next requests, in order; 204 once they are used up.
    answers: Mutex<VecDeque<u16>>,
    /// Every request's answer while set (a receiver that fails for a while).
    always: Mutex<Option<u16>>,
    delay: Mutex<Duration>,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
}

pub struct Receiver {
    pub url: String,
    port: u16,
    state: Arc<State>,
    running: Option<(ServerHandle, JoinHandle<()>)>,
}

impl Receiver {
    /// A receiver on a free loopback port, answering 204.
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut receiver = Self {
            url: format!("http://127.0.0.1:{port}/hooks"),
            port,
            state: Arc::default(),
            running: None,
        };
        receiver.up();
        receiver
    }

    /// Serves again on the same port, after [`Receiver::down`].
    pub fn up(&mut self) {
        assert!(self.running.is_none(), "the receiver is already up");
        let state = web::Data::from(self.state.clone());
        let listener = TcpListener::bind(("127.0.0.1", self.port)).expect("the receiver's port");
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = actix_web::HttpServer::new(move || {
                    actix_web::App::new().app_data(state.clone()).default_service(web::to(receive))
                })
                .workers(2)
                .disable_signals()
                .shutdown_timeout(0)
                .listen(listener)
                .expect("the receiver listens")
                .run();
                tx.send(server.handle()).unwrap();
                let _ = server.await;
            })
        });
        self.running = Some((rx.recv().expect("the receiver starts"), thread));
    }

    /// Stops serving: connections to its port are refused until [`Receiver::up`].
    pub fn down(&mut self) {
        if let Some((handle, thread)) = self.running.take() {
            actix_web::rt::System::new().block_on(handle.stop(false));
            thread.join().unwrap();
        }
    }

    /// The next requests are answered with these statuses, in order.
    pub fn answer_next(&self, statuses: &[u16]) {
        self.state.answers.lock().unwrap().extend(statuses);
    }

    /// Every request is answered `status` until this is called again with `None`.
    pub fn answer_always(&self, status: Option<u16>) {
        *self.state.always.lock().unwrap() = status;
    }

    /// Each request waits this long before it is answered.
    pub fn delay(&self, delay: Duration) {
        *self.state.delay.lock().unwrap() = delay;
    }

    /// Every request so far, in the order they arrived.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.state.deliveries.lock().unwrap().clone()
    }

    /// The requests answered 2xx, in order.
    pub fn accepted(&self) -> Vec<Delivery> {
        self.deliveries().into_iter().filter(Delivery::accepted).collect()
    }

    /// The most requests it was handling at once.
    pub fn most_at_once(&self) -> usize {
        self.state.most_in_flight.load(Ordering::SeqCst)
    }

    /// Waits until `done` holds of the requests so far (at most a minute).
    pub fn wait_until(&self, what: &str, done: impl Fn(&[Delivery]) -> bool) -> Vec<Delivery> {
        let started = Instant::now();
        loop {
            let deliveries = self.deliveries();
            if done(&deliveries) {
                return deliveries;
            }
            let ids: Vec<(&str, u16)> = deliveries.iter().map(|d| (d.id.as_str(), d.answered)).collect();
            assert!(started.elapsed() < Duration::from_secs(60), "never {what}; received {ids:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the events `seqs` have all been accepted, and returns what was.
    pub fn wait_for_seqs(&self, seqs: &[i64]) -> Vec<Delivery> {
        self.wait_until(&format!("accepted {seqs:?}"), |all| {
            seqs.iter().all(|seq| all.iter().any(|d| d.accepted() && d.seq() == *seq))
        })
        .into_iter()
        .filter(Delivery::accepted)
        .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.down();
    }
}

async fn receive(request: HttpRequest, body: web::Bytes, state: web::Data<State>) -> HttpResponse {
    let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    state.most_in_flight.fetch_max(now, Ordering::SeqCst);
    let delay = *state.delay.lock().unwrap();
    if !delay.is_zero() {
        actix_web::rt::time::sleep(delay).await;
    }
    let scripted = state.answers.lock().unwrap().pop_front();
    let status = scripted.or(*state.always.lock().unwrap()).unwrap_or(204);
    let mut headers = reqwest::header::HeaderMap::new();
    for (name, value) in request.headers() {
        if let (Ok(name), Ok(value)) = (
            reqwest::header::HeaderName::from_bytes(name.as_str().as_bytes()),
            reqwest::header::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            headers.append(name, value);
        }
    }
    let id = headers.get("webhook-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let (method, path) = (request.method().to_string(), request.path().to_owned());
    state.deliveries.lock().unwrap().push(Delivery {
        id,
        method,
        path,
        headers,
        body: body.to_vec(),
        answered: status,
    });
    state.in_flight.fetch_sub(1, Ordering::SeqCst);
    let mut answer = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
    if (300..400).contains(&status) {
        // Somewhere a sender that follows redirects would go next.
        answer.insert_header(("Location", "/elsewhere"));
    }
    answer.finish()
}
