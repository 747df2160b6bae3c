//! The change feed: the ledger in order, without gaps, even under concurrent writers.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};

use crate::support::{each_backend, TestApp};

fn feed(app: &TestApp, after: i64, limit: usize) -> Value {
    let reply = app.get(&format!("/v1/changes?after={after}&limit={limit}")).send();
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()
}

each_backend! {
    fn the_feed_says_what_a_sender_needs(app) {
        app.topic("news").create();
        app.contact("a@example.com", json!({"subscriptions": {"news": "subscribed"}}));
        app.put("/v1/suppressions/b%40example.com").json(json!({"reason": "complaint"})).send();
        app.patch("/v1/contacts/a%40example.com").json(json!({"email": "c@example.com"})).send();
        let page = feed(&app, 0, 100);
        let events = page["events"].as_array().unwrap();
        let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
        assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>(), "gap-free from 1");
        assert_eq!(page["next"], *seqs.last().unwrap());
        let subscribed = events.iter().find(|e| e["type"] == "subscription_changed").unwrap();
        assert_eq!((subscribed["topic"].as_str(), subscribed["status"].as_str()), (Some("news"), Some("subscribed")));
        assert_eq!(subscribed["email"], "c@example.com", "the address held now");
        assert_eq!(subscribed["email_hash"].as_str().map(str::len), Some(64));
        let complaint = events.iter().find(|e| e["type"] == "suppression_added").unwrap();
        assert_eq!((complaint["email"].as_str(), complaint["reason"].as_str(), complaint["scope"].as_str()), (Some("b@example.com"), Some("complaint"), Some("promotional")));
        // Paging: after the last event there is nothing, and `next` stays put.
        let last = page["next"].as_i64().unwrap();
        assert_eq!(feed(&app, last, 10), json!({"events": [], "next": last}));
        assert_eq!(feed(&app, 1, 2)["events"].as_array().unwrap().len(), 2);
        app.get("/v1/changes?limit=10001").send().problem(422, "invalid");
        app.get("/v1/changes?after=-1").send().problem(422, "invalid");
        app.get("/v1/changes").key(&app.key(&["check"])).send().problem(403, "forbidden");
    }

    fn a_reader_sees_every_event_of_concurrent_writers_exactly_once(app) {
        app.topic("news").create();
        let app = Arc::new(app);
        let done = Arc::new(AtomicBool::new(false));
        let reader = {
            let (app, done) = (app.clone(), done.clone());
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                let mut after = 0;
                loop {
                    let finished = done.load(Ordering::SeqCst);
                    let page = feed(&app, after, 7);
                    for e in page["events"].as_array().unwrap() {
                        seen.push(e["seq"].as_i64().unwrap());
                    }
                    after = page["next"].as_i64().unwrap();
                    if finished && page["events"].as_array().unwrap().is_empty() {
                        return seen;
                    }
                }
            })
        };
        let writers: Vec<_> = (0..6).map(|w| {
            let app = app.clone();
            std::thread::spawn(move || {
                for i in 0..15 {
                    let status = if i % 2 == 0 { "subscribed" } else { "unsubscribed" };
                    app.contact(&format!("w{w}-{}@example.com", i % 4), json!({"subscriptions": {"news": status}}));
                }
            })
        }).collect();
        for w in writers {
            w.join().unwrap();
        }
        done.store(true, Ordering::SeqCst);
        let seen = reader.join().unwrap();
        let all: Vec<i64> = feed(&app, 0, 10_000)["events"].as_array().unwrap().iter().map(|e| e["seq"].as_i64().unwrap()).collect();
        assert_eq!(all, (1..=all.len() as i64).collect::<Vec<_>>(), "no gaps");
        assert_eq!(seen, all, "the tailing reader saw every event once, in order");
        assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), seen.len());
    }
}
