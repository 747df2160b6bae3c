//! Several processes on one database: each keeps its own decision index, current
//! within a second of any process's write.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{each_backend, wait_until_ready, Served, TestApp, TestDb};

/// Asks `base` until `email`'s reason for `topic` is `expected`; returns how long
/// that took.
fn until_reason(base: &str, key: &str, email: &str, topic: &str, expected: &str) -> Duration {
    let client = reqwest::blocking::Client::new();
    let started = Instant::now();
    loop {
        let reply = client
            .post(format!("{base}/v1/check"))
            .bearer_auth(key)
            .json(&json!({"email": email, "topic": topic}))
            .send()
            .unwrap();
        let body: Value = reply.json().unwrap();
        if body["reason"] == expected {
            return started.elapsed();
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{base} still says {body} for {email}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn feed(base: &str, key: &str) -> Value {
    reqwest::blocking::Client::new()
        .get(format!("{base}/v1/changes?limit=10000"))
        .bearer_auth(key)
        .send()
        .unwrap()
        .json()
        .unwrap()
}

each_backend! {
    fn two_processes(db: TestDb) {
        let a = TestApp::start(db);
        let b = Served::start(a.db.url());
        b.wait_for("prefcenter is serving");
        wait_until_ready(&b.base);
        let key = a.admin.clone();

        a.topic("news").opt_out().create();
        a.topic("receipts").with("category", json!("transactional")).create();
        until_reason(&b.base, &key, "x@example.com", "news", "default_subscribed");

        let mut delays = Vec::new();
        // A suppression and an unsubscribe through A reach B's index.
        a.put("/v1/suppressions/bounced%40example.com").json(json!({"reason": "hard_bounce"})).send();
        delays.push(until_reason(&b.base, &key, "bounced@example.com", "receipts", "suppressed:hard_bounce"));
        a.contact("reader@example.com", json!({"subscriptions": {"news": "unsubscribed"}}));
        delays.push(until_reason(&b.base, &key, "reader@example.com", "news", "unsubscribed_topic"));
        // And the other way round.
        let reply = reqwest::blocking::Client::new()
            .put(format!("{}/v1/contacts/other%40example.com", b.base))
            .bearer_auth(&key)
            .json(&json!({"unsubscribed_all": true}))
            .send()
            .unwrap();
        assert_eq!(reply.status(), 201);
        delays.push(until_reason(a.base(), &key, "other@example.com", "news", "unsubscribed_all"));
        // Printed for a reader, not asserted: tests never assert on time (the bound in
        // `until_reason` only stops a test that would otherwise wait forever).
        eprintln!("cross-process delays: {delays:?}");
        assert_eq!(feed(a.base(), &key), feed(&b.base, &key), "the change feed is the same through either");
        assert!(b.terminate().success());
    }
}
