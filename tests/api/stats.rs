//! The dashboard's data (`GET /v1/stats`): what recipients, senders and providers did
//! through the real routes, counted per day, topic, source and reason from the daily
//! rollup of the ledger — exactly once, across restarts and with two processes.

use serde_json::{json, Value};

use crate::support::{each_backend, encode, wait_until_ready, Served, TestApp, TestDb};

fn stats(app: &TestApp, days: u32) -> Value {
    let reply = app.get(&format!("/v1/stats?days={days}")).send();
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()
}

fn unsubscribe_path(app: &TestApp, email: &str, topic: &str) -> String {
    let links = app.post("/v1/links").json(json!({"email": email, "topic": topic})).send().json();
    links["unsubscribe_url"].as_str().unwrap().trim_start_matches(app.base()).to_owned()
}

fn form(app: &TestApp, path: &str, body: &str) -> u16 {
    app.post(path).anonymous().body("application/x-www-form-urlencoded", body.to_owned()).send().status
}

/// One topic's entry (`None`: all promotional mail).
fn topic<'a>(stats: &'a Value, key: Option<&str>) -> &'a Value {
    stats["topics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["topic"].as_str() == key)
        .unwrap_or_else(|| panic!("no topic {key:?} in {stats}"))
}

/// `{series name: total}` of a breakdown.
fn totals(breakdown: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for series in breakdown["series"].as_array().unwrap() {
        out.insert(series["name"].as_str().unwrap().to_owned(), series["total"].clone());
    }
    Value::Object(out)
}

/// The sum of a breakdown's values over its days: what its total must be.
fn summed(breakdown: &Value) -> i64 {
    breakdown["daily"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).sum()
}

/// What one round of the story writes: unsubscribes by one click, by the landing page
/// and by a reason's answer, sign-ups by the API, suppressions by hand and by feedback.
fn story(app: &TestApp, round: u32) {
    let a = format!("a{round}@example.com");
    let b = format!("b{round}@example.com");
    app.contact(&a, json!({"subscriptions": {"offers": "subscribed"}}));
    app.contact(&b, json!({"subscriptions": {"offers": "subscribed"}}));
    let news = unsubscribe_path(app, &a, "news");
    assert_eq!(form(app, &news, "List-Unsubscribe=One-Click"), 200);
    assert_eq!(form(app, &news, "List-Unsubscribe=One-Click"), 200, "a second click counts nothing");
    assert_eq!(form(app, &format!("{news}/reason"), "reason=too_frequent&comment=weekly+would+do"), 200);
    let offers = unsubscribe_path(app, &b, "offers");
    assert_eq!(form(app, &offers, ""), 200, "the landing page's button");
    assert_eq!(form(app, &format!("{offers}/reason"), "reason=not_relevant"), 200);
    let put = app.put(&format!("/v1/suppressions/{}", encode(&format!("manual{round}@example.com"))));
    assert_eq!(put.json(json!({"reason": "manual"})).send().status, 201);
    let report = app
        .post("/v1/feedback/generic")
        .json(json!([
            {"email": format!("hard{round}@example.com"), "type": "hard_bounce", "id": format!("h-{round}")},
            {"email": format!("angry{round}@example.com"), "type": "complaint", "id": format!("c-{round}")},
        ]))
        .send()
        .json();
    assert_eq!(report["applied"], 2, "{report}");
}

/// What `rounds` rounds of the story add up to.
fn assert_counts(stats: &Value, rounds: i64) {
    assert_eq!(totals(&stats["unsubscribes"]), json!({"one_click": rounds, "page": rounds}), "{stats}");
    assert_eq!(stats["unsubscribes"]["total"], 2 * rounds);
    assert_eq!(summed(&stats["unsubscribes"]), 2 * rounds);
    assert_eq!(totals(&stats["subscribes"]), json!({"api": 2 * rounds}));
    let news = topic(stats, Some("news"));
    assert_eq!(totals(&news["unsubscribes"]), json!({"one_click": rounds}));
    assert_eq!(news["unsubscribe_reasons"], json!([{"name": "too_frequent", "count": rounds}]));
    let offers = topic(stats, Some("offers"));
    assert_eq!(totals(&offers["subscribes"]), json!({"api": 2 * rounds}));
    assert_eq!(totals(&offers["unsubscribes"]), json!({"page": rounds}));
    assert_eq!(offers["unsubscribe_reasons"], json!([{"name": "not_relevant", "count": rounds}]));
    assert_eq!(
        (offers["subscribed"].as_i64(), offers["unsubscribed"].as_i64()),
        (Some(rounds), Some(rounds))
    );
    assert_eq!(topic(stats, None)["unsubscribes"]["total"], 0, "nobody left all promotional mail");
    assert_eq!(stats["complaints"]["total"], rounds);
    assert_eq!(totals(&stats["bounces"]), json!({"hard_bounce": rounds}));
    assert_eq!(
        totals(&stats["suppressions"]),
        json!({"complaint": rounds, "hard_bounce": rounds, "manual": rounds})
    );
    assert_eq!(
        totals(&stats["unsubscribe_reasons"]),
        json!({"not_relevant": rounds, "too_frequent": rounds})
    );
    let held = &stats["totals"];
    let mut by_reason = held["suppressions"].as_array().unwrap().clone();
    by_reason.sort_by_key(|c| c["name"].as_str().unwrap().to_owned());
    assert_eq!(
        json!(by_reason),
        json!([{"name": "complaint", "count": rounds}, {"name": "hard_bounce", "count": rounds}, {"name": "manual", "count": rounds}])
    );
    assert_eq!(held["suppressed"], 3 * rounds);
    assert_eq!(held["contacts"], stats["contacts_created"]["total"], "{stats}");
    let health = &stats["health"];
    assert_eq!(health["rollup_behind"], 0, "{health}");
    assert_eq!(health["rollup_seq"], health["ledger_seq"]);
}

each_backend! {
    fn what_happened_is_counted_per_day_topic_source_and_reason(app) {
        app.topics().create();
        let empty = stats(&app, 30);
        assert_eq!(empty["days"], 30);
        assert_eq!(empty["dates"].as_array().unwrap().len(), 30);
        assert_eq!(empty["unsubscribes"]["daily"].as_array().unwrap().len(), 30);
        assert_eq!(empty["unsubscribes"]["total"], 0);
        let keys: Vec<Value> = empty["topics"].as_array().unwrap().iter().map(|t| t["topic"].clone()).collect();
        assert_eq!(keys, [Value::Null, json!("news"), json!("offers"), json!("receipts")]);

        story(&app, 1);
        let counted = stats(&app, 30);
        assert_counts(&counted, 1);
        // Everything happened today: the last day holds it all.
        assert_eq!(counted["unsubscribes"]["daily"].as_array().unwrap().last().unwrap(), 2);
        assert_eq!(counted["dates"].as_array().unwrap().last().unwrap(), &counted["to"]);
        let health = &counted["health"];
        assert_eq!((health["index_behind"].as_i64(), health["index_fresh"].as_bool()), (Some(0), Some(true)));
        assert!(health["writes"]["commits"].as_u64().unwrap() > 0, "{health}");
        assert_eq!(health["feed_consumers"], json!([]));

        // A pulling consumer of the feed shows with its lag.
        app.put("/v1/changes/consumers/crm").json(json!({"after": 0})).send();
        let consumers = stats(&app, 1)["health"]["feed_consumers"].clone();
        assert_eq!(consumers[0]["name"], "crm");
        assert_eq!(consumers[0]["behind"], counted["health"]["ledger_seq"]);

        // Erasure leaves the counts (they name nobody) and takes the contact.
        let before = stats(&app, 90);
        assert_eq!(app.delete("/v1/contacts/a1%40example.com").send().status, 204);
        let after = stats(&app, 90);
        assert_eq!(after["unsubscribes"], before["unsubscribes"]);
        assert_eq!(after["contacts_erased"]["total"], 1);
        assert_eq!(after["totals"]["contacts"], before["totals"]["contacts"].as_i64().unwrap() - 1);
        assert_eq!(after["totals"]["suppressions"].as_array().unwrap().iter().find(|c| c["name"] == "erasure").unwrap()["count"], 1);
    }

    fn days_are_checked_and_the_admin_scope_is_needed(app) {
        for bad in ["days=0", "days=367", "days=-1", "days=thirty", "days=", "weeks=4"] {
            app.get(&format!("/v1/stats?{bad}")).send().problem(422, "invalid");
        }
        assert_eq!(stats(&app, 366)["dates"].as_array().unwrap().len(), 366);
        assert_eq!(app.get("/v1/stats").send().json()["days"], 30);
        app.get("/v1/stats").key(&app.key(&["contacts", "suppressions", "check"])).send().problem(403, "forbidden");
        assert_eq!(app.get("/v1/stats").anonymous().send().status, 401);
    }

    fn a_restart_counts_nothing_twice(mut app) {
        app.topics().create();
        story(&app, 1);
        assert_counts(&stats(&app, 30), 1);
        app.restart();
        story(&app, 2);
        // Counted by the new process's rollup, from where the old one stopped.
        assert_counts(&stats(&app, 30), 2);
        // Written while no process counted, then counted after a restart.
        app.restart();
        assert_counts(&stats(&app, 30), 2);
    }

    fn two_processes_count_each_event_once(db: TestDb) {
        let a = TestApp::start(db);
        let b = Served::start(a.db.url());
        b.wait_for("prefcenter is serving");
        wait_until_ready(&b.base);
        a.topics().create();
        let http = reqwest::blocking::Client::new();
        let ask_b = || {
            let reply = http.get(format!("{}/v1/stats?days=7", b.base)).bearer_auth(&a.admin).send().unwrap();
            assert_eq!(reply.status(), 200);
            reply.json::<Value>().unwrap()
        };
        // Both processes count while writes arrive; each asks for the counts as well.
        std::thread::scope(|scope| {
            let asking = scope.spawn(|| (0..20).map(|_| ask_b()["unsubscribes"]["total"].as_i64().unwrap()).collect::<Vec<_>>());
            for n in 0..40 {
                a.contact(&format!("r{n}@example.com"), json!({"subscriptions": {"news": "unsubscribed"}}));
                if n % 10 == 0 {
                    stats(&a, 7);
                }
            }
            let seen = asking.join().unwrap();
            assert!(seen.windows(2).all(|w| w[0] <= w[1]) && seen.iter().all(|t| *t <= 40), "{seen:?}");
        });
        let from_a = stats(&a, 7);
        assert_eq!(totals(&topic(&from_a, Some("news"))["unsubscribes"]), json!({"api": 40}));
        assert_eq!(from_a["contacts_created"]["total"], 40);
        let from_b = ask_b();
        assert_eq!(from_b["unsubscribes"], from_a["unsubscribes"]);
        assert_eq!(from_b["health"]["rollup_seq"], from_a["health"]["ledger_seq"]);
    }
}
