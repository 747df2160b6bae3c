//! The app under test: a real prefcenter server on an ephemeral loopback port, in a
//! thread of this process, on a test database.

use std::net::TcpListener;
use std::thread::JoinHandle;

use actix_web::dev::ServerHandle;
use prefcenter::domain::KeyScope;
use prefcenter::service::api_keys::{self, NewKey};
use prefcenter::Config;
use reqwest::blocking::Client;

use super::TestDb;

struct Running {
    base: String,
    /// The SMTP receiver's address, when the settings start one.
    smtp: Option<std::net::SocketAddr>,
    handle: ServerHandle,
    thread: JoinHandle<()>,
}

/// Starts a server on the database at `url`; returns it and a pool on the same database.
fn launch(url: &str, adjust: &dyn Fn(&mut Config)) -> (Running, prefcenter::store::Pool) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("an ephemeral port");
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut config = Config::for_database(url).expect("a valid test database URL");
    config.base_url = base.clone();
    config.workers = Some(2);
    config.pool_size = 4;
    adjust(&mut config);
    // The receiver's socket is bound here, on an ephemeral port, as the HTTP one is.
    let smtp_listener =
        config.smtp_receiver.as_ref().map(|_| TcpListener::bind("127.0.0.1:0").expect("a port"));
    let smtp = smtp_listener.as_ref().map(|l| l.local_addr().unwrap());
    let app = prefcenter::prepare(config).expect("the server prepares its database");
    let pool = app.pool.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let listeners = prefcenter::Listeners { http: listener, smtp: smtp_listener };
            let (server, _tailer) = prefcenter::server(app, listeners).expect("the server starts");
            tx.send(server.handle()).unwrap();
            let _ = server.await;
        })
    });
    let handle = rx.recv().expect("the server sends its handle");
    wait_until_ready(&base);
    (Running { base, smtp, handle, thread }, pool)
}

/// Waits for `/readyz`: the decision index loads in the background.
pub fn wait_until_ready(base: &str) {
    let client = Client::new();
    for _ in 0..600 {
        if client.get(format!("{base}/readyz")).send().is_ok_and(|r| r.status() == 200) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("{base} never became ready");
}

/// A running server on its own database, with an admin key.
pub struct TestApp {
    running: Option<Running>,
    pub admin: String,
    pub(super) http: Client,
    /// The running server's own pool, for tests that take its connections away
    /// (dropped before the database).
    pub pool: prefcenter::store::Pool,
    pub db: TestDb,
}

impl TestApp {
    pub fn start(db: TestDb) -> Self {
        Self::start_with(db, |_| {})
    }

    /// Starts with some settings changed.
    pub fn start_with(db: TestDb, adjust: impl Fn(&mut Config) + 'static) -> Self {
        let url = db.url().to_owned();
        Self::start_at(db, &url, adjust)
    }

    /// Starts on `db` reached through `url` (a fault proxy in front of it, say).
    pub fn start_at(db: TestDb, url: &str, adjust: impl Fn(&mut Config) + 'static) -> Self {
        let (running, pool) = launch(url, &adjust);
        let mut conn = pool.get().expect("a connection");
        let admin = api_keys::create_on(
            &mut conn,
            &NewKey { name: "test-admin".into(), scopes: vec![KeyScope::Admin] },
        )
        .expect("an admin key")
        .secret;
        drop(conn);
        // Redirects are answers to look at, not to follow: a form's POST answers 303.
        let http = Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("a client");
        Self { running: Some(running), admin, http, db, pool }
    }

    pub fn base(&self) -> &str {
        &self.running.as_ref().expect("running").base
    }

    /// The SMTP receiver's address (started when the settings name one).
    pub fn smtp(&self) -> std::net::SocketAddr {
        self.running.as_ref().expect("running").smtp.expect("an SMTP receiver is configured")
    }

    fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            drop(running.handle.stop(false));
            running.thread.join().expect("the server thread ends");
        }
    }

    /// Stops the server and starts a new one on the same database.
    pub fn restart(&mut self) {
        self.stop();
        let (running, pool) = launch(self.db.url(), &|_| {});
        self.running = Some(running);
        self.pool = pool;
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop();
    }
}
