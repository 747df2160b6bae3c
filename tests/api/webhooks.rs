//! Webhooks: the ledger delivered to a real receiver on loopback, signed as Standard
//! Webhooks specifies (checked with its reference verifier), in order and at least
//! once — through failures, a receiver that is down, `kill -9` and several processes
//! on one database — with type filters, replays, rotations and the guard against
//! private addresses; and the feed's pulling consumers with their lag.

use std::time::{Duration, Instant};

use prefcenter::Config;
use serde_json::{json, Value};

use crate::support::{each_backend, Delivery, Receiver, Served, TestApp, TestDb};

/// Quick retries and polls, and receivers on loopback allowed.
fn fast(config: &mut Config) {
    let w = &mut config.webhooks;
    w.allow_private = true;
    w.poll = Duration::from_millis(20);
    w.retry_base = Duration::from_millis(50);
    w.retry_max = Duration::from_millis(200);
    w.timeout = Duration::from_millis(2000);
    w.lease = Duration::from_millis(5000);
}

/// As [`fast`], with the guard against private addresses on.
fn fast_guarded(config: &mut Config) {
    fast(config);
    config.webhooks.allow_private = false;
}

/// As [`fast`], giving up after a second of failures.
fn fast_giving_up(config: &mut Config) {
    fast(config);
    config.webhooks.disable_after = Duration::from_secs(1);
}

/// The same settings for a `prefcenter` process, with a short lease so that a killed
/// one is taken over quickly.
const FAST_PROCESS: &[(&str, &str)] = &[
    ("PREFCENTER_WEBHOOK_ALLOW_PRIVATE", "true"),
    ("PREFCENTER_WEBHOOK_POLL_MS", "20"),
    ("PREFCENTER_WEBHOOK_RETRY_BASE_MS", "50"),
    ("PREFCENTER_WEBHOOK_RETRY_MAX_MS", "200"),
    ("PREFCENTER_WEBHOOK_TIMEOUT_MS", "1000"),
    ("PREFCENTER_WEBHOOK_LEASE_MS", "2000"),
];

/// Delivers nothing from the test's own server.
fn not_delivering_here(config: &mut Config) {
    config.webhooks.deliver = false;
}

/// A server that only answers the API: the processes under test deliver.
fn not_delivering(db: TestDb) -> TestApp {
    TestApp::start_with(db, |config| {
        config.webhooks.deliver = false;
        config.webhooks.allow_private = true;
    })
}

/// A secret no webhook has.
const STRANGER: &str = "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

/// Creates a webhook with this body; returns its id and secret.
fn webhook(app: &TestApp, body: Value) -> (String, String) {
    let reply = app.post("/v1/webhooks").json(body).send();
    assert_eq!(reply.status, 201, "{}", reply.body);
    let created = reply.json();
    (created["id"].as_str().unwrap().to_owned(), created["secret"].as_str().unwrap().to_owned())
}

fn view(app: &TestApp, id: &str) -> Value {
    let reply = app.get(&format!("/v1/webhooks/{id}")).send();
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()
}

/// Waits until the webhook's view satisfies `done`.
fn view_until(app: &TestApp, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let webhook = view(app, id);
        if done(&webhook) {
            return webhook;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "never {what}: {webhook}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn deliveries_log(app: &TestApp, id: &str) -> Vec<Value> {
    let reply = app.get(&format!("/v1/webhooks/{id}/deliveries?limit=1000")).send();
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["deliveries"].as_array().unwrap().clone()
}

/// The feed's events after `after`.
fn feed_after(app: &TestApp, after: i64) -> Vec<Value> {
    let reply = app.get(&format!("/v1/changes?after={after}&limit=10000")).send();
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["events"].as_array().unwrap().clone()
}

fn last_seq(app: &TestApp) -> i64 {
    feed_after(app, 0).last().map_or(0, |e| e["seq"].as_i64().unwrap())
}

fn seqs(events: &[Value]) -> Vec<i64> {
    events.iter().map(|e| e["seq"].as_i64().unwrap()).collect()
}

fn seqs_of(deliveries: &[Delivery]) -> Vec<i64> {
    deliveries.iter().map(Delivery::seq).collect()
}

/// A suppression added: one event.
fn suppress(app: &TestApp, email: &str) {
    let reply = app
        .put(&format!("/v1/suppressions/{}", crate::support::encode(email)))
        .json(json!({"reason": "manual"}))
        .send();
    assert_eq!(reply.status, 201, "{}", reply.body);
}

/// The value of a metric line from `/metrics`, if it is there.
fn metric(app: &TestApp, line_start: &str) -> Option<f64> {
    let body = app.get("/metrics").anonymous().send().body;
    body.lines().find_map(|line| line.strip_prefix(line_start)?.trim().parse().ok())
}

fn metric_until(app: &TestApp, line_start: &str, expected: Option<f64>) {
    let started = Instant::now();
    while metric(app, line_start) != expected {
        assert!(started.elapsed() < Duration::from_secs(30), "{line_start} never {expected:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until the metric is on `/metrics`, with whatever value.
fn metric_appears(app: &TestApp, line_start: &str) {
    let started = Instant::now();
    while metric(app, line_start).is_none() {
        assert!(started.elapsed() < Duration::from_secs(30), "{line_start} never appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
}

each_backend! {
    fn every_event_is_delivered_signed_in_order_as_the_feed_shows_it(app) with fast {
        let receiver = Receiver::start();
        app.topic("news").create();
        let start = last_seq(&app);
        let reply = app.post("/v1/webhooks").json(json!({"url": receiver.url, "description": "CRM"})).send();
        assert_eq!(reply.status, 201, "{}", reply.body);
        let created = reply.json();
        let (id, secret) = (created["id"].as_str().unwrap().to_owned(), created["secret"].as_str().unwrap().to_owned());
        assert!(secret.starts_with("whsec_"), "{secret}");
        assert_eq!((created["status"].as_str(), created["types"].clone(), created["after"].as_i64()), (Some("enabled"), Value::Null, Some(start)), "from now on");

        app.contact("a@example.com", json!({"subscriptions": {"news": "subscribed"}}));
        suppress(&app, "b@example.com");
        app.contact("a@example.com", json!({"subscriptions": {"news": "unsubscribed"}}));
        let events = feed_after(&app, start);
        assert!(events.len() >= 4, "{events:?}");
        let got = receiver.wait_for_seqs(&seqs(&events));
        assert_eq!(seqs_of(&got), seqs(&events), "every event once, in order, none from before the webhook");
        for (delivery, event) in got.iter().zip(&events) {
            assert!(delivery.verifies_with(&secret), "the reference verifier accepts {}", delivery.id);
            assert!(!delivery.verifies_with(STRANGER));
            assert_eq!(delivery.header("content-type"), "application/json");
            let sent: i64 = delivery.header("webhook-timestamp").parse().unwrap();
            assert!((chrono::Utc::now().timestamp() - sent).abs() < 60, "the attempt's time");
            let body = delivery.json();
            assert_eq!(body["type"], event["type"]);
            assert_eq!(body["timestamp"], event["occurred_at"]);
            assert_eq!(body["data"], *event, "the event exactly as /v1/changes shows it");
        }

        // The secret is never shown again: not by a read, a list, a change or the log.
        let done = view_until(&app, &id, "caught up", |w| w["after"] == events.last().unwrap()["seq"]);
        assert_eq!((done["lag_seconds"].as_i64(), &done["oldest_undelivered_at"]), (Some(0), &Value::Null));
        let patched = app.patch(&format!("/v1/webhooks/{id}")).json(json!({"description": "CRM, EU"})).send();
        assert_eq!(patched.json()["description"], "CRM, EU");
        for reply in [
            app.get("/v1/webhooks").send(),
            app.get(&format!("/v1/webhooks/{id}")).send(),
            app.get(&format!("/v1/webhooks/{id}/deliveries")).send(),
            patched,
        ] {
            assert_eq!(reply.status, 200, "{}", reply.body);
            assert!(!reply.body.contains(&secret) && !reply.body.contains("whsec_"), "{}", reply.body);
            assert!(!reply.body.contains("\"secret\""), "{}", reply.body);
        }
        // The log: one successful attempt per event.
        let log = deliveries_log(&app, &id);
        let logged: Vec<(i64, i64, i64, bool)> = log.iter().map(|d| (d["seq"].as_i64().unwrap(), d["attempt"].as_i64().unwrap(), d["status_code"].as_i64().unwrap(), d["delivered"].as_bool().unwrap())).collect();
        assert_eq!(logged, seqs(&events).into_iter().map(|s| (s, 1, 204, true)).collect::<Vec<_>>());
        assert!(log.iter().all(|d| d["error"].is_null() && d["latency_ms"].as_i64().unwrap() >= 0));
        let paged = app.get(&format!("/v1/webhooks/{id}/deliveries?after={}&limit=1", log[0]["id"])).send().json();
        assert_eq!(paged["deliveries"][0], log[1]);
        assert_eq!(paged["next"], log[1]["id"]);
        // Its lag is on /metrics, like a consumer's.
        metric_until(&app, &format!("prefcenter_webhook_lag_seconds{{webhook=\"{id}\"}}"), Some(0.0));
        assert!(metric(&app, "prefcenter_webhook_deliveries_total{outcome=\"delivered\"}").unwrap() >= events.len() as f64);
        // Scope: admin only.
        app.get("/v1/webhooks").key(&app.key(&["suppressions"])).send().problem(403, "forbidden");
        app.get("/v1/webhooks/nope").send().problem(404, "not_found");
        app.get(&format!("/v1/webhooks/{}", uuid::Uuid::new_v4())).send().problem(404, "not_found");
    }

    fn a_failing_receiver_gets_the_same_event_again_until_it_takes_it_then_the_next(app) with fast {
        let receiver = Receiver::start();
        let (id, secret) = webhook(&app, json!({"url": receiver.url}));
        // A redirect is a failure too, never followed.
        receiver.answer_next(&[500, 307, 429]);
        let start = last_seq(&app);
        for email in ["a@example.com", "b@example.com", "c@example.com"] {
            suppress(&app, email);
        }
        let expected = seqs(&feed_after(&app, start));
        let got = receiver.wait_for_seqs(&expected);
        assert_eq!(seqs_of(&got), expected);
        let all = receiver.deliveries();
        let first = expected[0];
        assert_eq!(seqs_of(&all), [vec![first; 4], expected[1..].to_vec()].concat(), "retried in order, the same webhook-id each time");
        assert!(all.iter().all(|d| d.verifies_with(&secret)));
        assert!(all.iter().all(|d| (d.method.as_str(), d.path.as_str()) == ("POST", "/hooks")), "no redirect followed");
        // The log says what happened at each attempt.
        let log = deliveries_log(&app, &id);
        let attempts: Vec<(i64, i64, Option<i64>, bool)> = log.iter().filter(|d| d["seq"] == first).map(|d| (d["attempt"].as_i64().unwrap(), d["seq"].as_i64().unwrap(), d["status_code"].as_i64(), d["delivered"].as_bool().unwrap())).collect();
        assert_eq!(attempts, [(1, first, Some(500), false), (2, first, Some(307), false), (3, first, Some(429), false), (4, first, Some(204), true)]);
        assert!(log[0]["error"].as_str().unwrap().contains("500"), "{}", log[0]);
        let webhook = view_until(&app, &id, "caught up", |w| w["after"] == *expected.last().unwrap());
        assert_eq!((webhook["failures"].as_i64(), &webhook["failing_since"], &webhook["next_attempt_at"]), (Some(0), &Value::Null, &Value::Null));
    }

    fn a_type_filter_delivers_only_its_types(app) with fast {
        let receiver = Receiver::start();
        app.topic("news").create();
        let wrong = app.post("/v1/webhooks").json(json!({"url": receiver.url, "types": []})).send();
        assert_eq!(wrong.problem(422, "invalid")["errors"][0]["field"], "types");
        let wrong = app.post("/v1/webhooks").json(json!({"url": receiver.url, "types": ["nope"]})).send();
        assert!(wrong.problem(422, "invalid")["errors"][0]["field"].as_str().unwrap().starts_with("types"));
        let (id, secret) = webhook(&app, json!({"url": receiver.url, "types": ["suppression_added"]}));
        assert_eq!(view(&app, &id)["types"], json!(["suppression_added"]));
        let start = last_seq(&app);
        app.contact("a@example.com", json!({"subscriptions": {"news": "subscribed"}}));
        suppress(&app, "b@example.com");
        app.contact("c@example.com", json!({"unsubscribed_all": true}));
        suppress(&app, "d@example.com");
        app.contact("e@example.com", json!({}));
        let events = feed_after(&app, start);
        let last = events.last().unwrap()["seq"].clone();
        let wanted: Vec<Value> = events.iter().filter(|e| e["type"] == "suppression_added").cloned().collect();
        assert_eq!(wanted.len(), 2);
        receiver.wait_for_seqs(&seqs(&wanted));
        view_until(&app, &id, "past the events of other types", |w| w["after"] == last);
        let got = receiver.accepted();
        assert_eq!(seqs_of(&got), seqs(&wanted), "only its types");
        assert!(got.iter().all(|d| d.json()["type"] == "suppression_added" && d.verifies_with(&secret)));

        // `null` takes every type again, from where it is.
        let patched = app.patch(&format!("/v1/webhooks/{id}")).json(json!({"types": null})).send();
        assert_eq!(patched.json()["types"], Value::Null);
        app.contact("f@example.com", json!({}));
        let next = seqs(&feed_after(&app, last.as_i64().unwrap()));
        receiver.wait_for_seqs(&next);
        assert_eq!(receiver.accepted().last().unwrap().json()["type"], "contact_created");
    }

    fn a_replay_delivers_again_from_a_sequence_number(app) with fast {
        let receiver = Receiver::start();
        let (id, secret) = webhook(&app, json!({"url": receiver.url}));
        let start = last_seq(&app);
        for email in ["a@example.com", "b@example.com", "c@example.com"] {
            suppress(&app, email);
        }
        let expected = seqs(&feed_after(&app, start));
        receiver.wait_for_seqs(&expected);
        let replayed = app.post(&format!("/v1/webhooks/{id}/replay")).json(json!({"after": expected[0]})).send();
        assert_eq!(replayed.status, 200, "{}", replayed.body);
        assert_eq!(replayed.json()["after"], expected[0]);
        receiver.wait_until("the replay", |all| all.len() == 5);
        let got = receiver.accepted();
        assert_eq!(seqs_of(&got), [expected.clone(), expected[1..].to_vec()].concat(), "the same events, in order, with the same ids");
        assert!(got.iter().all(|d| d.verifies_with(&secret)));
        assert_eq!(got[1].body, got[3].body, "the same event, the same body");

        let last = *expected.last().unwrap();
        let wrong = app.post(&format!("/v1/webhooks/{id}/replay")).json(json!({"after": last + 1})).send();
        assert_eq!(wrong.problem(422, "invalid")["errors"][0]["field"], "after");
        app.post(&format!("/v1/webhooks/{id}/replay")).json(json!({"after": -1})).send().problem(422, "invalid");
        app.post(&format!("/v1/webhooks/{}/replay", uuid::Uuid::new_v4())).json(json!({"after": 0})).send().problem(404, "not_found");
    }

    fn a_rotated_secret_signs_beside_the_old_one_for_its_window(app) with fast {
        let receiver = Receiver::start();
        let (id, old) = webhook(&app, json!({"url": receiver.url}));
        suppress(&app, "a@example.com");
        receiver.wait_until("a delivery", |all| all.len() == 1);

        let rotated = app.post(&format!("/v1/webhooks/{id}/rotate")).json(json!({"previous_valid_hours": 1})).send();
        assert_eq!(rotated.status, 200, "{}", rotated.body);
        let rotated = rotated.json();
        let new = rotated["secret"].as_str().unwrap().to_owned();
        assert!(new.starts_with("whsec_") && new != old);
        assert!(rotated["previous_secret_expires_at"].is_string());
        suppress(&app, "b@example.com");
        let during = receiver.wait_until("a second delivery", |all| all.len() == 2)[1].clone();
        assert!(during.verifies_with(&new) && during.verifies_with(&old), "either secret verifies during the window");
        assert_eq!(during.header("webhook-signature").split(' ').filter(|s| s.starts_with("v1,")).count(), 2);

        // Without a window, only the newest secret signs.
        let newest = app.post(&format!("/v1/webhooks/{id}/rotate")).json(json!({"previous_valid_hours": 0})).send().json();
        let newest = newest["secret"].as_str().unwrap().to_owned();
        suppress(&app, "c@example.com");
        let after = receiver.wait_until("a third delivery", |all| all.len() == 3)[2].clone();
        assert!(after.verifies_with(&newest));
        assert!(!after.verifies_with(&new) && !after.verifies_with(&old));
        assert_eq!(view(&app, &id)["previous_secret_expires_at"], Value::Null);
        app.post(&format!("/v1/webhooks/{id}/rotate")).json(json!({"previous_valid_hours": 169})).send().problem(422, "invalid");
        let listed = app.get("/v1/webhooks").send().body;
        assert!(![old, new, newest].iter().any(|s| listed.contains(s.as_str())));
    }

    fn a_webhook_failing_too_long_is_disabled_and_resumes_where_it_stopped(app) with fast_giving_up {
        let receiver = Receiver::start();
        receiver.answer_always(Some(500));
        let (id, secret) = webhook(&app, json!({"url": receiver.url}));
        let start = last_seq(&app);
        suppress(&app, "a@example.com");
        let disabled = view_until(&app, &id, "disabled", |w| w["status"] == "disabled");
        assert!(disabled["disabled_reason"].as_str().unwrap().contains("failed for"), "{disabled}");
        assert!(disabled["disabled_at"].is_string() && disabled["lag_seconds"].as_i64().is_some());
        assert_eq!(metric(&app, "prefcenter_webhooks_disabled_total"), Some(1.0));
        metric_until(&app, "prefcenter_webhooks_disabled ", Some(1.0));
        assert!(receiver.accepted().is_empty());

        // Nothing is sent while disabled; enabled again, it resumes from its first
        // undelivered event, skipping none.
        suppress(&app, "b@example.com");
        let expected = seqs(&feed_after(&app, start));
        receiver.answer_always(None);
        std::thread::sleep(Duration::from_millis(200));
        let tried = receiver.deliveries().len();
        assert!(receiver.deliveries().iter().all(|d| d.seq() == expected[0]));
        let enabled = app.patch(&format!("/v1/webhooks/{id}")).json(json!({"status": "enabled"})).send().json();
        assert_eq!((enabled["status"].as_str(), enabled["failures"].as_i64(), &enabled["disabled_reason"]), (Some("enabled"), Some(0), &Value::Null));
        let got = receiver.wait_for_seqs(&expected);
        assert_eq!(seqs_of(&got), expected);
        assert!(got.iter().all(|d| d.verifies_with(&secret)));
        assert!(receiver.deliveries().len() == tried + 2);

        // A receiver that answers 410 Gone wants no more: disabled at once.
        receiver.answer_next(&[410]);
        suppress(&app, "c@example.com");
        let gone = view_until(&app, &id, "disabled by a 410", |w| w["status"] == "disabled");
        assert!(gone["disabled_reason"].as_str().unwrap().contains("410"), "{gone}");
        // An operator disables one too.
        app.patch(&format!("/v1/webhooks/{id}")).json(json!({"status": "enabled"})).send();
        let paused = app.patch(&format!("/v1/webhooks/{id}")).json(json!({"status": "disabled"})).send().json();
        assert_eq!((paused["status"].as_str(), paused["disabled_reason"].as_str()), (Some("disabled"), Some("disabled by an operator")));
        assert_eq!(app.delete(&format!("/v1/webhooks/{id}")).send().status, 204);
        app.get(&format!("/v1/webhooks/{id}")).send().problem(404, "not_found");
        app.delete(&format!("/v1/webhooks/{id}")).send().problem(404, "not_found");
    }

    fn receivers_on_private_addresses_are_refused_without_the_setting(app) with fast_guarded {
        for url in [
            "http://127.0.0.1:8080/hooks", "http://localhost/hooks", "http://[::1]/", "http://10.1.2.3/",
            "http://192.168.0.10/", "http://172.16.5.4/", "http://169.254.169.254/latest/meta-data/",
            "http://[::ffff:127.0.0.1]/", "http://0x7f.1/", "http://2130706433/", "http://[fd00::1]/",
            "http://[fe80::1]/", "http://0.0.0.0/", "http://100.64.0.1/", "http://app.localhost/",
        ] {
            let refused = app.post("/v1/webhooks").json(json!({"url": url})).send();
            let problem = refused.problem(422, "invalid");
            assert_eq!(problem["errors"][0]["field"], "url", "{url}");
            assert!(problem["detail"].as_str().unwrap().contains("PREFCENTER_WEBHOOK_ALLOW_PRIVATE"), "{url}: {problem}");
        }
        for url in ["ftp://example.com/", "javascript:alert(1)", "http://", "hooks.example.com", "http://exa mple.com/"] {
            app.post("/v1/webhooks").json(json!({"url": url})).send().problem(422, "invalid");
        }
        app.post("/v1/webhooks").json(json!({"url": "http://a\u{0}b.example.com/"})).send().problem(422, "invalid");
        let (id, _) = webhook(&app, json!({"url": "https://hooks.example.com/prefs"}));
        app.patch(&format!("/v1/webhooks/{id}")).json(json!({"url": "http://127.0.0.1/"})).send().problem(422, "invalid");
        assert_eq!(view(&app, &id)["url"], "https://hooks.example.com/prefs");
        assert_eq!(app.delete(&format!("/v1/webhooks/{id}")).send().status, 204);

        // A name is checked as it resolves, at each delivery: one that points inward
        // is refused, and nothing reaches the receiver behind it.
        let Some(name) = inward_name() else {
            eprintln!("skipped the resolved-address check: this machine's name does not resolve to a private address");
            return;
        };
        let receiver = Receiver::start();
        let url = receiver.url.replace("127.0.0.1", &name);
        let (id, _) = webhook(&app, json!({"url": url}));
        suppress(&app, "a@example.com");
        let started = Instant::now();
        let refused = loop {
            let log = deliveries_log(&app, &id);
            if let Some(attempt) = log.first() {
                break attempt.clone();
            }
            assert!(started.elapsed() < Duration::from_secs(30), "no attempt");
            std::thread::sleep(Duration::from_millis(20));
        };
        let error = refused["error"].as_str().unwrap();
        assert!(error.starts_with(&format!("refused: {name} resolves to")) && error.ends_with("not a public address"), "{error}");
        assert_eq!((refused["delivered"].as_bool(), &refused["status_code"]), (Some(false), &Value::Null));
        std::thread::sleep(Duration::from_millis(200));
        assert!(receiver.deliveries().is_empty(), "nothing reached the receiver");
    }

    fn consumers_of_the_feed_record_their_place_and_their_lag_shows(app) with fast {
        app.topic("news").create();
        app.contact("a@example.com", json!({"subscriptions": {"news": "subscribed"}}));
        let events = feed_after(&app, 0);
        let last = *seqs(&events).last().unwrap();

        let created = app.put("/v1/changes/consumers/crm").json(json!({"after": 0})).send();
        assert_eq!(created.status, 201, "{}", created.body);
        let crm = created.json();
        assert_eq!((crm["name"].as_str(), crm["after"].as_i64(), crm["behind"].as_i64()), (Some("crm"), Some(0), Some(events.len() as i64)));
        assert_eq!(crm["oldest_unapplied_at"], events[0]["occurred_at"]);
        assert_eq!(crm["late"], false);
        metric_appears(&app, "prefcenter_feed_consumer_lag_seconds{consumer=\"crm\"}");

        let key = app.key(&["suppressions"]);
        let caught_up = app.put("/v1/changes/consumers/crm").key(&key).json(json!({"after": last})).send();
        assert_eq!(caught_up.status, 200, "{}", caught_up.body);
        let crm = caught_up.json();
        assert_eq!((crm["after"].as_i64(), crm["behind"].as_i64(), crm["lag_seconds"].as_i64(), &crm["oldest_unapplied_at"]), (Some(last), Some(0), Some(0), &Value::Null));
        // JSON Schema's integer may come with a zero fraction.
        let warehouse = app.put("/v1/changes/consumers/warehouse.eu-1").json(json!({"after": 1.0})).send();
        assert_eq!((warehouse.status, warehouse.json()["after"].as_i64()), (201, Some(1)), "{}", warehouse.body);
        let listed = app.get("/v1/changes/consumers").key(&key).send().json();
        let names: Vec<&str> = listed.as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["crm", "warehouse.eu-1"]);
        assert_eq!(listed[1]["behind"], events.len() as i64 - 1);
        metric_until(&app, "prefcenter_feed_consumer_lag_seconds{consumer=\"crm\"}", Some(0.0));
        metric_appears(&app, "prefcenter_feed_consumer_lag_seconds{consumer=\"warehouse.eu-1\"}");

        for (name, body, field) in [
            ("bad%20name", json!({"after": 0}), "name"),
            ("-crm", json!({"after": 0}), "name"),
            (&"a".repeat(65)[..], json!({"after": 0}), "name"),
            ("crm", json!({"after": -1}), "after"),
            ("crm", json!({"after": last + 1}), "after"),
            ("crm", json!({"after": "1"}), "after"),
            ("crm", json!({"after": 1.5}), "after"),
        ] {
            let wrong = app.put(&format!("/v1/changes/consumers/{name}")).json(body).send();
            assert_eq!(wrong.problem(422, "invalid")["errors"][0]["field"], field, "{name}");
        }
        app.put("/v1/changes/consumers/crm").json(json!({})).send().problem(422, "invalid");
        app.get("/v1/changes/consumers").key(&app.key(&["check"])).send().problem(403, "forbidden");
        assert_eq!(app.get("/v1/changes/consumers").send().json()[0]["after"], last, "refusals changed nothing");

        assert_eq!(app.delete("/v1/changes/consumers/warehouse.eu-1").send().status, 204);
        app.delete("/v1/changes/consumers/warehouse.eu-1").send().problem(404, "not_found");
        metric_until(&app, "prefcenter_feed_consumer_lag_seconds{consumer=\"warehouse.eu-1\"}", None);
    }

    fn the_delivery_log_is_kept_within_its_bounds(app) with not_delivering_here {
        use prefcenter::store::webhooks::{log_delivery, prune_deliveries, NewDelivery};
        let (id, _) = webhook(&app, json!({"url": "https://hooks.example.com/prefs"}));
        let now = chrono::Utc::now().naive_utc();
        let mut db = app.pool.get().unwrap();
        for (days_ago, count) in [(40, 5), (1, 10)] {
            for seq in 1..=count {
                let attempt = NewDelivery {
                    webhook_id: id.clone(),
                    seq,
                    attempt: 1,
                    attempted_at: now - chrono::TimeDelta::days(days_ago),
                    status_code: Some(500),
                    latency_ms: 3,
                    error: Some("the receiver answered 500 Internal Server Error".into()),
                    delivered: false,
                };
                log_delivery(&mut db, &attempt).unwrap();
            }
        }
        let removed = prune_deliveries(&mut db, now - chrono::TimeDelta::days(30), 4).unwrap();
        assert_eq!(removed, 5 + 6, "older than the bound, then beyond the last 4");
        let kept: Vec<i64> = deliveries_log(&app, &id).iter().map(|d| d["seq"].as_i64().unwrap()).collect();
        assert_eq!(kept, [7, 8, 9, 10], "the newest");
    }

    fn a_late_consumer_is_logged_and_so_is_its_catching_up(db: TestDb) {
        let app = not_delivering(db);
        suppress(&app, "a@example.com");
        let last = last_seq(&app);
        let late: Vec<(&str, &str)> = [FAST_PROCESS, &[("PREFCENTER_FEED_CONSUMER_LATE_SECONDS", "1")]].concat();
        let served = Served::start_with(app.db.url(), &late);
        served.wait_for("prefcenter is serving");
        app.put("/v1/changes/consumers/crm").json(json!({"after": 0})).send();
        let line = served.wait_for("late: events older than the bound").pop().unwrap();
        assert!(line.contains("consumer:crm"), "{line}");
        app.put("/v1/changes/consumers/crm").json(json!({"after": last})).send();
        let line = served.wait_for("caught up").pop().unwrap();
        assert!(line.contains("consumer:crm"), "{line}");
        assert!(served.terminate().success());
    }

    fn nothing_is_skipped_when_the_receiver_is_down_and_the_process_is_killed(db: TestDb) {
        let app = not_delivering(db);
        let mut receiver = Receiver::start();
        receiver.down();
        let first = Served::start_with(app.db.url(), FAST_PROCESS);
        first.wait_for("prefcenter is serving");
        let (id, secret) = webhook(&app, json!({"url": receiver.url}));
        let start = last_seq(&app);
        for email in ["a@example.com", "b@example.com", "c@example.com"] {
            suppress(&app, email);
        }
        // It tries, and fails: the receiver is down.
        let started = Instant::now();
        while deliveries_log(&app, &id).len() < 2 {
            assert!(started.elapsed() < Duration::from_secs(30), "no attempts");
            std::thread::sleep(Duration::from_millis(20));
        }
        let log = deliveries_log(&app, &id);
        assert!(log.iter().all(|d| d["error"].as_str().unwrap().starts_with("could not connect")), "{log:?}");
        first.kill();
        for email in ["d@example.com", "e@example.com"] {
            suppress(&app, email);
        }
        receiver.up();
        let second = Served::start_with(app.db.url(), FAST_PROCESS);
        let expected = seqs(&feed_after(&app, start));
        let got = receiver.wait_for_seqs(&expected);
        assert_eq!(seqs_of(&got), expected, "every event, in order, after the takeover");
        assert!(got.iter().all(|d| d.verifies_with(&secret)));
        view_until(&app, &id, "caught up", |w| w["after"] == *expected.last().unwrap());
        assert!(second.terminate().success());
        let mut db = app.pool.get().unwrap();
        let row = prefcenter::store::webhooks::find(&mut db, &id).unwrap().unwrap();
        assert_eq!(row.lease_holder, None, "a process that stops gracefully hands its webhooks back");
    }

    fn two_processes_deliver_each_event_one_at_a_time_and_a_killed_one_hands_over(db: TestDb) {
        let app = not_delivering(db);
        let receiver = Receiver::start();
        receiver.delay(Duration::from_millis(10));
        let processes = [Served::start_with(app.db.url(), FAST_PROCESS), Served::start_with(app.db.url(), FAST_PROCESS)];
        for process in &processes {
            process.wait_for("prefcenter is serving");
        }
        let (id, secret) = webhook(&app, json!({"url": receiver.url}));
        let start = last_seq(&app);
        for i in 0..20 {
            suppress(&app, &format!("p{i}@example.com"));
        }
        let expected = seqs(&feed_after(&app, start));
        let got = receiver.wait_for_seqs(&expected);
        assert_eq!(seqs_of(&got), expected, "each event once, in order");
        assert_eq!(receiver.most_at_once(), 1, "never two deliveries of the webhook at once");

        // Kill the process holding the webhook while it is delivering: the other
        // takes over once the lease expires, from the durable cursor.
        receiver.delay(Duration::from_millis(300));
        let middle = last_seq(&app);
        for i in 0..5 {
            suppress(&app, &format!("q{i}@example.com"));
        }
        receiver.wait_until("a delivery of the second batch", |all| all.iter().any(|d| d.seq() > middle));
        let holder = holder_pid(&app, &id);
        let (killed, survivor): (Vec<Served>, Vec<Served>) = processes.into_iter().partition(|p| p.pid() == holder);
        assert_eq!(killed.len(), 1, "the lease names one of the two processes");
        killed[0].kill();
        receiver.delay(Duration::from_millis(10));
        let all = seqs(&feed_after(&app, start));
        let got = receiver.wait_for_seqs(&all);
        let mut once = seqs_of(&got);
        assert!(once.windows(2).all(|w| w[0] <= w[1]), "in order: {once:?}");
        once.dedup();
        assert_eq!(once, all, "nothing skipped (an event cut off by the kill may arrive twice)");
        assert!(got.iter().all(|d| d.verifies_with(&secret)));
        assert_eq!(receiver.most_at_once(), 1, "never two deliveries of the webhook at once");
        assert!(survivor.into_iter().next().unwrap().terminate().success());
    }

    fn the_readme_s_python_receiver_verifies_deliveries(app) with fast {
        let Some(python) = python_with_standardwebhooks() else { return };
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let (_, secret) = webhook(&app, json!({"url": format!("http://127.0.0.1:{port}/prefcenter"), "types": ["suppression_added"]}));
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("receiver.py");
        std::fs::write(&script, readme_python()).unwrap();
        let mut child = std::process::Command::new(&python)
            .arg(&script)
            .env("PREFCENTER_WEBHOOK_SECRET", &secret)
            .env("PORT", port.to_string())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let lines = lines_of(child.stdout.take().unwrap());
        suppress(&app, "reader@example.com");
        let seq = last_seq(&app);
        let line = lines.recv_timeout(Duration::from_secs(30)).expect("the receiver prints the event");
        // A forged delivery is refused by the example.
        let forged = reqwest::blocking::Client::new()
            .post(format!("http://127.0.0.1:{port}/prefcenter"))
            .header("webhook-id", "evt_1")
            .header("webhook-timestamp", chrono::Utc::now().timestamp().to_string())
            .header("webhook-signature", "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
            .body("{}")
            .send()
            .unwrap()
            .status();
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(line, format!("evt_{seq} suppression_added reader@example.com"));
        assert_eq!(forged, 400);
    }
}

/// The pid in the lease of webhook `id` (`<pid>:<run>`).
fn holder_pid(app: &TestApp, id: &str) -> u32 {
    let mut db = app.pool.get().unwrap();
    let row = prefcenter::store::webhooks::find(&mut db, id).unwrap().unwrap();
    let holder = row.lease_holder.expect("a lease holder");
    holder.split(':').next().unwrap().parse().unwrap()
}

/// This machine's name, when it resolves only to addresses a delivery must not reach
/// (on most machines its /etc/hosts line, 127.0.1.1 or 127.0.0.1).
fn inward_name() -> Option<String> {
    use std::net::ToSocketAddrs;
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?.trim().to_owned();
    let addresses: Vec<_> = (name.as_str(), 80).to_socket_addrs().ok()?.collect();
    let inward =
        !addresses.is_empty() && addresses.iter().all(|a| prefcenter::domain::webhook::is_forbidden(a.ip()));
    (inward && name != "localhost").then_some(name)
}

/// A Python interpreter that can import `standardwebhooks`: the one
/// `PREFCENTER_TEST_PYTHON` names (CI's, which must have it), or `python3` if it
/// happens to (otherwise the test says it skipped).
fn python_with_standardwebhooks() -> Option<String> {
    let (python, required) = match std::env::var("PREFCENTER_TEST_PYTHON") {
        Ok(python) => (python, true),
        Err(_) => ("python3".to_owned(), false),
    };
    let ready = std::process::Command::new(&python)
        .args(["-c", "import standardwebhooks"])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    match (ready, required) {
        (true, _) => Some(python),
        (false, true) => panic!("PREFCENTER_TEST_PYTHON={python} cannot import standardwebhooks"),
        (false, false) => {
            eprintln!("skipped: python3 cannot import standardwebhooks (set PREFCENTER_TEST_PYTHON)");
            None
        }
    }
}

/// The Python example of README.md's "Webhooks" section.
fn readme_python() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = &readme[readme.find("\n## Webhooks").expect("a Webhooks section")..];
    let start = section.find("```python\n").expect("a Python example") + "```python\n".len();
    let end = section[start..].find("```").unwrap() + start;
    section[start..end].to_owned()
}

fn lines_of(stdout: std::process::ChildStdout) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}
