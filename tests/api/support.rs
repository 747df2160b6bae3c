//! The test harness: a real prefcenter server on an ephemeral loopback port, on a
//! fresh database of each backend, driven over HTTP.
//!
//! SQLite runs always, on a temporary file. PostgreSQL runs when
//! `PREFCENTER_TEST_DATABASE_URL` was set when the tests were built (`build.rs` turns
//! on `cfg(postgres_tests)`); each test then gets its own schema, dropped afterwards.
//! Without it, the PostgreSQL half of each test is compiled as ignored, so the summary
//! counts it as ignored, never as passed. When the variable is set and the server
//! cannot be reached, the tests fail.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread::JoinHandle;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use prefcenter::domain::KeyScope;
use prefcenter::service::api_keys::{self, NewKey};
use prefcenter::Config;
use reqwest::blocking::{Client, RequestBuilder};
use reqwest::Method;
use serde_json::{json, Value};

/// Declares a test that runs once per backend: `mod name { fn sqlite(); fn postgres(); }`.
/// `fn name(app) with adjust { … }` starts the server with `adjust(&mut Config)` applied;
/// `fn name(TestDb);` runs the function `name(db: TestDb)` on each backend's database.
macro_rules! each_backend {
    ($(fn $name:ident(TestDb);)+) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name($crate::support::TestDb::sqlite());
            }
            #[test]
            #[cfg_attr(not(postgres_tests), ignore = "PREFCENTER_TEST_DATABASE_URL was not set at build time")]
            fn postgres() {
                super::$name($crate::support::TestDb::postgres());
            }
        }
    )+};
    ($($(#[$meta:meta])* fn $name:ident($app:pat) $(with $settings:path)? $body:block)*) => {$(
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[test]
            fn sqlite() {
                let $app = $crate::support::TestApp::start_with(
                    $crate::support::TestDb::sqlite(),
                    |_config: &mut prefcenter::Config| { $($settings(_config);)? },
                );
                $body
            }
            #[test]
            #[cfg_attr(not(postgres_tests), ignore = "PREFCENTER_TEST_DATABASE_URL was not set at build time")]
            fn postgres() {
                let $app = $crate::support::TestApp::start_with(
                    $crate::support::TestDb::postgres(),
                    |_config: &mut prefcenter::Config| { $($settings(_config);)? },
                );
                $body
            }
        }
    )*};
}
pub(crate) use each_backend;

/// A fresh database, removed when dropped.
pub enum TestDb {
    Sqlite { _dir: tempfile::TempDir, url: String },
    Postgres { server: String, schema: String, url: String },
}

impl TestDb {
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("prefcenter.db").display());
        TestDb::Sqlite { _dir: dir, url }
    }

    /// A fresh schema on the server named by `PREFCENTER_TEST_DATABASE_URL`. A
    /// PostgreSQL test that runs without it fails: it never passes without running.
    pub fn postgres() -> Self {
        let server = std::env::var("PREFCENTER_TEST_DATABASE_URL")
            .expect("a PostgreSQL test runs only with PREFCENTER_TEST_DATABASE_URL set");
        let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::establish(&server)
            .unwrap_or_else(|e| panic!("PREFCENTER_TEST_DATABASE_URL is set but unreachable: {e}"));
        conn.batch_execute(&format!("CREATE SCHEMA {schema}")).expect("create a test schema");
        let separator = if server.contains('?') { '&' } else { '?' };
        let url = format!("{server}{separator}options=-csearch_path%3D{schema}");
        TestDb::Postgres { server, schema, url }
    }

    pub fn url(&self) -> &str {
        match self {
            TestDb::Sqlite { url, .. } | TestDb::Postgres { url, .. } => url,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { server, schema, .. } = self {
            if let Ok(mut conn) = PgConnection::establish(server) {
                let _ = conn.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
            }
        }
    }
}

struct Running {
    base: String,
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
    let app = prefcenter::prepare(config).expect("the server prepares its database");
    let pool = app.pool.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let (server, _tailer) = prefcenter::server(app, listener).expect("the server starts");
            tx.send(server.handle()).unwrap();
            let _ = server.await;
        })
    });
    let handle = rx.recv().expect("the server sends its handle");
    wait_until_ready(&base);
    (Running { base, handle, thread }, pool)
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
    http: Client,
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
        Self { running: Some(running), admin, http: Client::new(), db, pool }
    }

    /// Everything the database holds, as text: on SQLite the database files
    /// themselves (with the log), on PostgreSQL every row of every table as JSON. For
    /// tests that must find no trace of something.
    pub fn database_contents(&self) -> Vec<u8> {
        match &self.db {
            TestDb::Sqlite { url, .. } => {
                let path = url.trim_start_matches("sqlite://");
                let mut all = Vec::new();
                for suffix in ["", "-wal", "-shm"] {
                    if let Ok(bytes) = std::fs::read(format!("{path}{suffix}")) {
                        all.extend(bytes);
                    }
                }
                all
            }
            TestDb::Postgres { url, .. } => {
                #[derive(diesel::QueryableByName)]
                struct Dump {
                    #[diesel(sql_type = diesel::sql_types::Text)]
                    text: String,
                }
                let mut conn = PgConnection::establish(url).unwrap();
                // Every table the schema holds, so that a table added later is searched too.
                #[derive(diesel::QueryableByName)]
                struct Table {
                    #[diesel(sql_type = diesel::sql_types::Text)]
                    name: String,
                }
                let tables: Vec<Table> = diesel::RunQueryDsl::load(
                    diesel::sql_query(
                        "SELECT table_name::text AS name FROM information_schema.tables \
                         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
                    ),
                    &mut conn,
                )
                .unwrap();
                assert!(tables.iter().any(|t| t.name == "contacts"), "the dump finds the schema's tables");
                let mut all = String::new();
                for Table { name } in tables {
                    let rows: Vec<Dump> = diesel::RunQueryDsl::load(
                        diesel::sql_query(format!("SELECT coalesce(string_agg(row_to_json(t)::text, E'\\n'), '') AS text FROM \"{name}\" t")),
                        &mut conn,
                    )
                    .unwrap();
                    for row in rows {
                        all.push_str(&row.text);
                    }
                }
                all.into_bytes()
            }
        }
    }

    /// Runs one SQL statement on the test database, for tests that break it on purpose.
    pub fn sql(&self, statement: &str) {
        use diesel::connection::SimpleConnection;
        let url = prefcenter::store::DatabaseUrl::parse(self.db.url()).unwrap();
        let pool = prefcenter::store::connect(&url, 1, Duration::from_secs(5)).expect("a connection");
        pool.get().unwrap().batch_execute(statement).expect("the statement runs");
    }

    pub fn base(&self) -> &str {
        &self.running.as_ref().expect("running").base
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

    pub fn request(&self, method: Method, path: &str) -> Call {
        Call {
            builder: self.http.request(method, format!("{}{path}", self.base())),
            key: Some(self.admin.clone()),
        }
    }

    pub fn get(&self, path: &str) -> Call {
        self.request(Method::GET, path)
    }
    pub fn post(&self, path: &str) -> Call {
        self.request(Method::POST, path)
    }
    pub fn put(&self, path: &str) -> Call {
        self.request(Method::PUT, path)
    }
    pub fn patch(&self, path: &str) -> Call {
        self.request(Method::PATCH, path)
    }
    pub fn delete(&self, path: &str) -> Call {
        self.request(Method::DELETE, path)
    }

    /// A new API key with these scopes.
    pub fn key(&self, scopes: &[&str]) -> String {
        let reply = self.post("/v1/api-keys").json(json!({"name": "test", "scopes": scopes})).send();
        assert_eq!(reply.status, 201, "{}", reply.body);
        reply.json()["secret"].as_str().unwrap().to_owned()
    }

    /// Starts describing a topic to create.
    pub fn topic(&self, key: &str) -> TopicBuilder<'_> {
        TopicBuilder {
            app: self,
            body: json!({"key": key, "name": key.to_uppercase(), "category": "promotional"}),
        }
    }

    /// Creates or updates a contact with this body (PUT), expecting success.
    pub fn contact(&self, email: &str, body: Value) -> Value {
        let reply = self.put(&format!("/v1/contacts/{}", encode(email))).json(body).send();
        assert!(reply.status == 200 || reply.status == 201, "{} {}", reply.status, reply.body);
        reply.json()
    }

    /// The `reason` of the send decision for `email` and `topic`.
    pub fn reason(&self, email: &str, topic: &str) -> String {
        let reply = self.post("/v1/check").json(json!({"email": email, "topic": topic})).send();
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()["reason"].as_str().unwrap().to_owned()
    }

    /// A contact's events, oldest first.
    pub fn events(&self, contact: &str) -> Vec<Value> {
        let reply = self.get(&format!("/v1/contacts/{}/events?limit=1000", encode(contact))).send();
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()["events"].as_array().unwrap().clone()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Percent-encodes a path segment.
pub fn encode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes()).collect::<String>().replace('+', "%20")
}

pub struct TopicBuilder<'a> {
    app: &'a TestApp,
    body: Value,
}

impl TopicBuilder<'_> {
    pub fn opt_out(mut self) -> Self {
        self.body["default_subscribed"] = json!(true);
        self
    }
    pub fn transactional(mut self) -> Self {
        self.body["category"] = json!("transactional");
        self
    }
    pub fn with(mut self, field: &str, value: Value) -> Self {
        self.body[field] = value;
        self
    }
    pub fn create(self) -> Value {
        let reply = self.app.post("/v1/topics").json(self.body).send();
        assert_eq!(reply.status, 201, "{}", reply.body);
        reply.json()
    }
}

pub struct Call {
    builder: RequestBuilder,
    key: Option<String>,
}

impl Call {
    pub fn key(mut self, key: &str) -> Self {
        self.key = Some(key.to_owned());
        self
    }
    pub fn anonymous(mut self) -> Self {
        self.key = None;
        self
    }
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.builder = self.builder.header(name, value);
        self
    }
    pub fn json(mut self, body: Value) -> Self {
        self.builder = self.builder.json(&body);
        self
    }
    pub fn body(mut self, content_type: &str, body: impl Into<reqwest::blocking::Body>) -> Self {
        self.builder = self.builder.header("content-type", content_type).body(body);
        self
    }
    pub fn send(self) -> Reply {
        let builder = match self.key {
            Some(key) => self.builder.bearer_auth(key),
            None => self.builder,
        };
        let response = builder.send().expect("the server answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().expect("a readable body");
        Reply { status, headers, body }
    }
}

pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts an RFC 9457 problem with this status and type, and returns it.
    pub fn problem(&self, status: u16, kind: &str) -> Value {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.header("content-type"), Some("application/problem+json"), "{}", self.body);
        let problem = self.json();
        assert_eq!(problem["type"], format!("/problems/{kind}"), "{problem}");
        assert_eq!(problem["status"], status);
        assert!(problem["title"].is_string() && problem["detail"].is_string(), "{problem}");
        problem
    }
}

/// Drops the fields that differ between runs (ids, times).
pub fn without_times(mut value: Value) -> Value {
    if let Some(object) = value.as_object_mut() {
        for field in ["created_at", "updated_at", "occurred_at", "id"] {
            object.remove(field);
        }
    }
    value
}

/// The `prefcenter` binary serving on a database, as a separate process, its log
/// lines arriving on a channel.
pub struct Served {
    child: Child,
    lines: Receiver<String>,
    pub base: String,
}

impl Served {
    pub fn start(db: &str) -> Self {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_prefcenter"))
            .env("PREFCENTER_DATABASE_URL", db)
            .env("PREFCENTER_BIND", format!("127.0.0.1:{port}"))
            .env("PREFCENTER_LOG", "info")
            .env("PREFCENTER_WORKERS", "1")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("the server starts");
        let (tx, lines) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines, base: format!("http://127.0.0.1:{port}") }
    }

    /// The log lines up to and including the first that contains `needle`.
    pub fn wait_for(&self, needle: &str) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            match self.lines.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    let found = line.contains(needle);
                    seen.push(line);
                    if found {
                        return seen;
                    }
                }
                Err(_) => panic!("no log line with {needle:?}; saw:\n{}", seen.join("\n")),
            }
        }
    }

    /// SIGKILL: the process gets no chance to finish anything.
    pub fn kill(&self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-KILL", &pid]).status().unwrap().success());
    }

    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        self.wait_for("prefcenter stopped");
        self.child.wait().unwrap()
    }
}
