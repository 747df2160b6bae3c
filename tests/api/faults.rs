//! The promises that matter most, under the faults that break them: a connection cut
//! right after COMMIT, a database that stops answering, a process killed with
//! SIGKILL. The proxy tests run on PostgreSQL only: SQLite is a file in the process,
//! with no connection to cut or freeze.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::proxy::Proxy;
use crate::support::{each_backend, Served, TestApp, TestDb};

fn postgres_addr(url: &str) -> std::net::SocketAddr {
    let parsed = url::Url::parse(url).expect("a PostgreSQL URL");
    let host = parsed.host_str().unwrap_or("127.0.0.1");
    let host = if host == "localhost" { "127.0.0.1" } else { host };
    format!("{host}:{}", parsed.port().unwrap_or(5432)).parse().expect("a socket address")
}

/// A server on a fresh PostgreSQL schema, reached through a fault proxy.
pub(crate) fn proxied(adjust: impl Fn(&mut prefcenter::Config) + 'static) -> (TestApp, Proxy) {
    let db = TestDb::postgres();
    let proxy = Proxy::start(postgres_addr(db.url()));
    let url = proxy.url(db.url());
    (TestApp::start_at(db, &url, adjust), proxy)
}

fn unsubscribe_path(app: &TestApp, email: &str) -> String {
    let links = app.post("/v1/links").json(json!({"email": email, "topic": "news"})).send();
    assert_eq!(links.status, 200, "{}", links.body);
    links.json()["unsubscribe_url"].as_str().unwrap().trim_start_matches(app.base()).to_owned()
}

/// The promise: once an unsubscribe is acknowledged, no check of this process says
/// yes again — not even when the database vanishes between the COMMIT and the index
/// catching up. Every answer until the database is back is a "no" or a 503.
#[test]
#[cfg_attr(not(postgres_tests), ignore = "PREFCENTER_TEST_DATABASE_URL was not set at build time")]
fn no_yes_after_an_acknowledged_no_when_the_connection_drops_after_commit() {
    let (app, proxy) = proxied(|_| {});
    app.topic("news").opt_out().create();
    app.contact("ann@example.com", json!({}));
    let path = unsubscribe_path(&app, "ann@example.com");
    assert_eq!(app.reason("ann@example.com", "news"), "default_subscribed");

    proxy.cut_after_next_commit(Duration::from_secs(3));
    let reply = app
        .post(&path)
        .anonymous()
        .body("application/x-www-form-urlencoded", "List-Unsubscribe=One-Click")
        .send();
    assert!(proxy.has_cut(), "the proxy cut the connections after the COMMIT");
    // Committed, so acknowledged: the answer comes from what the write returned, not
    // from a read after it.
    assert_eq!(reply.status, 200, "{}", reply.body);

    let mut answers = Vec::new();
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        let check = app.post("/v1/check").json(json!({"email": "ann@example.com", "topic": "news"})).send();
        let answer = match check.status {
            200 => check.json()["reason"].as_str().unwrap().to_owned(),
            status => status.to_string(),
        };
        assert!(
            answer == "unsubscribed_topic" || answer == "503",
            "a check answered {answer} after an acknowledged unsubscribe ({answers:?})"
        );
        answers.push(answer);
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(answers.iter().any(|a| a == "unsubscribed_topic"), "{answers:?}");
    crate::support::wait_until_ready(app.base());
    assert_eq!(app.reason("ann@example.com", "news"), "unsubscribed_topic");
}

/// A database that stops answering (as one stopped with SIGSTOP does) gets callers a
/// 503 with Retry-After within the configured bound, not a hung request; and once
/// it is back, everything works again.
#[test]
#[cfg_attr(not(postgres_tests), ignore = "PREFCENTER_TEST_DATABASE_URL was not set at build time")]
fn a_frozen_database_gets_503_within_a_bound() {
    let (app, proxy) = proxied(|config| config.database_timeout_ms = 1000);
    app.topic("news").opt_out().create();
    app.contact("bob@example.com", json!({}));
    let path = unsubscribe_path(&app, "bob@example.com");

    proxy.freeze();
    // The client gives up long after the server's bound: a hang fails the test.
    let bounded = reqwest::blocking::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    let write = bounded
        .put(format!("{}/v1/contacts/carol%40example.com", app.base()))
        .bearer_auth(&app.admin)
        .json(&json!({"locale": "fr"}))
        .send()
        .expect("a write answers while the database is frozen");
    assert_eq!(write.status(), 503);
    assert!(write.headers().contains_key("retry-after"));
    let ready = bounded.get(format!("{}/readyz", app.base())).send().expect("/readyz answers");
    assert_eq!(ready.status(), 503);
    let read = bounded
        .get(format!("{}/v1/contacts/bob%40example.com", app.base()))
        .bearer_auth(&app.admin)
        .send()
        .expect("a read answers while the database is frozen");
    assert_eq!(read.status(), 503);
    let page = bounded.get(format!("{}{path}", app.base())).send().expect("a page answers");
    assert_eq!(page.status(), 503);

    proxy.thaw();
    crate::support::wait_until_ready(app.base());
    // A write refused with 503 before it ran is not applied later behind the
    // caller's back.
    let carol = app.get("/v1/contacts/carol%40example.com").send();
    assert_eq!(carol.status, 404, "{}", carol.body);
    app.contact("carol@example.com", json!({"locale": "fr"}));
    assert_eq!(app.reason("carol@example.com", "news"), "default_subscribed");
}

each_backend! {
    /// Acknowledged writes survive SIGKILL: every unsubscribe answered 200 before the
    /// kill is there after the restart, on the process's own index and in the ledger.
    fn acknowledged_unsubscribes_survive_kill_9(app) {
        app.topic("news").opt_out().create();
        let url = app.db.url().to_owned();
        let served = Served::start(&url);
        served.wait_for("prefcenter is serving");
        crate::support::wait_until_ready(&served.base);
        let client = reqwest::blocking::Client::new();
        let mut paths = Vec::new();
        for n in 0..200 {
            let email = format!("k{n}@example.com");
            paths.push((email.clone(), unsubscribe_path(&app, &email)));
        }
        // Unsubscribe through the separate process from several threads, then kill it
        // while some requests are still in flight.
        let acknowledged = std::sync::Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for chunk in paths.chunks(50) {
                let (client, acknowledged, base) = (&client, &acknowledged, &served.base);
                scope.spawn(move || {
                    for (email, path) in chunk {
                        let reply = client
                            .post(format!("{base}{path}"))
                            .form(&[("List-Unsubscribe", "One-Click")])
                            .send();
                        if reply.is_ok_and(|r| r.status() == 200) {
                            acknowledged.lock().unwrap().push(email.clone());
                        }
                    }
                });
            }
            std::thread::sleep(Duration::from_millis(150));
            served.kill();
        });
        let acknowledged = acknowledged.into_inner().unwrap();
        let again = Served::start(&url);
        again.wait_for("prefcenter is serving");
        crate::support::wait_until_ready(&again.base);
        for email in &acknowledged {
            let check = client
                .post(format!("{}/v1/check", again.base))
                .bearer_auth(&app.admin)
                .json(&json!({"email": email, "topic": "news"}))
                .send()
                .unwrap();
            let body: serde_json::Value = check.json().unwrap();
            assert_eq!(body["reason"], "unsubscribed_topic", "{email} was acknowledged, then lost: {body}");
        }
        // And every unsubscribe committed, acknowledged or not, is in the ledger,
        // without a gap: on PostgreSQL the killed process may have committed writes
        // it had not numbered yet, which a live process numbers within a poll.
        let committed = app.count("SELECT count(*) AS n FROM subscriptions WHERE status = 'unsubscribed'");
        assert!(committed >= acknowledged.len() as i64);
        let started = std::time::Instant::now();
        let events = loop {
            let page = app.get("/v1/changes?limit=10000").send().json();
            let events = page["events"].as_array().unwrap().clone();
            let unsubscribes = events.iter().filter(|e| e["status"] == "unsubscribed").count() as i64;
            if unsubscribes == committed {
                break events;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{committed} unsubscribes committed, {unsubscribes} in the ledger"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
        assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>(), "no gaps");
        assert_eq!(app.count("SELECT count(*) AS n FROM events WHERE seq < 0"), 0, "nothing waits for a number");
        again.kill();
    }
}

each_backend! {
    /// A body trickled a byte at a time is cut (408) once the bound has passed, and no
    /// key is needed to be cut: the public sign-up route is where a trickle would hurt.
    fn a_trickled_body_is_cut(app) with short_body_timeout {
        use std::io::{Read, Write};
        let address = app.base().trim_start_matches("http://").to_owned();
        let mut socket = std::net::TcpStream::connect(&address).unwrap();
        socket.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let body = br#"{"email": "slow@example.com", "topics": ["news"]}"#;
        write!(
            socket,
            "POST /v1/subscribe HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .unwrap();
        let started = Instant::now();
        let mut answer = Vec::new();
        for byte in body {
            if socket.write_all(&[*byte]).is_err() || started.elapsed() > Duration::from_secs(15) {
                break;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        let _ = socket.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("/problems/request_timeout"), "{answer}");
    }
}

fn short_body_timeout(config: &mut prefcenter::Config) {
    config.body_timeout_ms = 1000;
}

/// A small tmpfs mounted for one test, unmounted when dropped.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    /// `None` (said on stderr) where mounting needs a root this run does not have.
    fn mount(at: &std::path::Path) -> Option<Self> {
        std::fs::create_dir_all(at).unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            eprintln!("full-disk test SKIPPED: mounting a tmpfs needs root");
            return None;
        }
        Some(Self(at.to_owned()))
    }

    /// Fills the disk with a file, returning its path.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let path = self.0.join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        // To the last byte: a remainder smaller than a large block is still room for a
        // few database pages, and a write there would succeed.
        for size in [64 * 1024, 4096, 512, 1] {
            let block = vec![0u8; size];
            while file.write_all(&block).is_ok() {}
        }
        let _ = file.sync_all();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// `/readyz` must not say ready while every write fails: on a full disk it says
/// which part fails, and once there is room again, it recovers by itself.
#[test]
fn readyz_says_when_writes_fail_on_a_full_disk() {
    let dir = tempfile::tempdir().unwrap();
    let Some(disk) = SmallDisk::mount(&dir.path().join("small")) else { return };
    let url = format!("sqlite://{}", disk.0.join("prefcenter.db").display());
    let app = TestApp::start(TestDb::Sqlite { _dir: tempfile::tempdir().unwrap(), url });
    app.topic("news").opt_out().create();
    assert_eq!(app.get("/readyz").anonymous().send().status, 200);

    let filler = disk.fill();
    for n in 0..3 {
        let write =
            app.put(&format!("/v1/contacts/full{n}%40example.com")).json(json!({"locale": "fr"})).send();
        assert!(write.status >= 500, "a write on a full disk: {} {}", write.status, write.body);
        assert!(!write.body.contains("disk"), "no cause leaves the server: {}", write.body);
    }
    let ready = app.get("/readyz").anonymous().send();
    assert_eq!(ready.status, 503, "{}", ready.body);
    assert_eq!(ready.json()["writes"], "failing", "{}", ready.body);

    std::fs::remove_file(filler).unwrap();
    app.contact("full@example.com", json!({"locale": "fr"}));
    let ready = app.get("/readyz").anonymous().send();
    assert_eq!(ready.status, 200, "{}", ready.body);
    drop(app);
}
