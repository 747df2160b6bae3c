//! Several processes on one database: each keeps its own decision index, current
//! within a second of any process's write; their writes run side by side (on
//! PostgreSQL) yet keep each person's changes in order and the ledger without gaps.

use std::sync::Arc;
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
    fn a_topic_renamed_through_one_process_shows_on_the_others_preference_page(db: TestDb) {
        // The preference page reads topics from the decision index, which follows the
        // ledger: a change made elsewhere reaches it as decisions do.
        let a = TestApp::start(db);
        let b = Served::start(a.db.url());
        b.wait_for("prefcenter is serving");
        wait_until_ready(&b.base);
        a.topic("news").create();
        a.contact("reader@example.com", json!({}));
        let links = a.post("/v1/links").json(json!({"email": "reader@example.com", "topic": "news"})).send().json();
        let token = links["preferences_url"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
        let names = |base: &str| -> Vec<String> {
            let page: Value = reqwest::blocking::Client::new()
                .get(format!("{base}/v1/preferences"))
                .bearer_auth(&token)
                .send()
                .unwrap()
                .json()
                .unwrap();
            page["topics"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap().to_owned()).collect()
        };
        let renamed = a.patch("/v1/topics/news").json(json!({"name": "The Weekly"})).send();
        assert_eq!(renamed.status, 200, "{}", renamed.body);
        assert_eq!(names(a.base()), ["The Weekly"], "at once in the process that wrote it");
        let started = Instant::now();
        while names(&b.base) != ["The Weekly"] {
            assert!(started.elapsed() < Duration::from_secs(10), "B still shows {:?}", names(&b.base));
            std::thread::sleep(Duration::from_millis(20));
        }
    }

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

/// Two processes on one database, for tests that write through both at once.
struct Pair {
    a: Arc<TestApp>,
    b: Served,
    http: reqwest::blocking::Client,
}

impl Pair {
    fn start(db: TestDb) -> Self {
        let a = TestApp::start(db);
        let b = Served::start(a.db.url());
        b.wait_for("prefcenter is serving");
        wait_until_ready(&b.base);
        Self { a: Arc::new(a), b, http: reqwest::blocking::Client::new() }
    }

    /// Both processes' addresses.
    fn bases(&self) -> [String; 2] {
        [self.a.base().to_owned(), self.b.base.clone()]
    }
}

/// Every event of the ledger, read through `base` a page at a time as a tailing
/// consumer would.
fn whole_feed(http: &reqwest::blocking::Client, base: &str, key: &str) -> Vec<Value> {
    let (mut events, mut after) = (Vec::new(), 0);
    loop {
        let page: Value = http
            .get(format!("{base}/v1/changes?after={after}&limit=50"))
            .bearer_auth(key)
            .send()
            .unwrap()
            .json()
            .unwrap();
        let got = page["events"].as_array().unwrap();
        if got.is_empty() {
            return events;
        }
        events.extend(got.iter().cloned());
        after = page["next"].as_i64().unwrap();
    }
}

each_backend! {
    fn a_reader_sees_every_event_of_two_writing_processes_exactly_once(db: TestDb) {
        let pair = Pair::start(db);
        let key = pair.a.admin.clone();
        pair.a.topic("news").create();
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        // A consumer tails the feed through A while both processes write.
        let reader = {
            let (base, key, done) = (pair.a.base().to_owned(), key.clone(), done.clone());
            std::thread::spawn(move || {
                let http = reqwest::blocking::Client::new();
                let (mut seen, mut after) = (Vec::new(), 0);
                loop {
                    let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                    let page: Value = http.get(format!("{base}/v1/changes?after={after}&limit=7"))
                        .bearer_auth(&key).send().unwrap().json().unwrap();
                    let got = page["events"].as_array().unwrap();
                    seen.extend(got.iter().map(|e| e["seq"].as_i64().unwrap()));
                    after = page["next"].as_i64().unwrap();
                    if finished && got.is_empty() {
                        return seen;
                    }
                }
            })
        };
        let writers: Vec<_> = (0..8).map(|w| {
            let (base, key) = (pair.bases()[w % 2].clone(), key.clone());
            std::thread::spawn(move || {
                let http = reqwest::blocking::Client::new();
                for i in 0..20 {
                    let status = if i % 2 == 0 { "subscribed" } else { "unsubscribed" };
                    let reply = http.put(format!("{base}/v1/contacts/w{w}-{}%40example.com", i % 5))
                        .bearer_auth(&key)
                        .json(&json!({"subscriptions": {"news": status}}))
                        .send().unwrap();
                    assert!(reply.status().is_success(), "{}", reply.text().unwrap());
                }
            })
        }).collect();
        for w in writers {
            w.join().unwrap();
        }
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        let seen = reader.join().unwrap();
        let all: Vec<i64> = whole_feed(&pair.http, &pair.b.base, &key).iter().map(|e| e["seq"].as_i64().unwrap()).collect();
        assert_eq!(all, (1..=all.len() as i64).collect::<Vec<_>>(), "no gaps");
        assert_eq!(seen, all, "the tailing reader saw every event once, in order");
    }

    fn two_processes_never_undo_an_acknowledged_unsubscribe(db: TestDb) {
        // Through A, an API keeps writing "subscribed" for the same people (allowed
        // while they chose nothing themselves); through B, each person unsubscribes in
        // one click. However the two interleave, once B has acknowledged a person's
        // unsubscribe no write may turn it back, and each status change in the ledger
        // starts from the status the one before it left.
        let pair = Pair::start(db);
        let key = pair.a.admin.clone();
        pair.a.topic("news").opt_out().create();
        let people: Vec<String> = (0..24).map(|i| format!("p{i}@example.com")).collect();
        let mut clicks = Vec::new();
        for email in &people {
            pair.a.contact(email, json!({"subscriptions": {"news": "pending"}}));
            let links = pair.a.post("/v1/links").json(json!({"email": email, "topic": "news"})).send().json();
            let url = links["unsubscribe_url"].as_str().unwrap().to_owned();
            clicks.push(format!("{}{}", pair.b.base, &url[url.find("/u/").unwrap()..]));
        }
        let api: Vec<_> = (0..4).map(|t| {
            let (base, key, people) = (pair.a.base().to_owned(), key.clone(), people.clone());
            std::thread::spawn(move || {
                let http = reqwest::blocking::Client::new();
                for round in 0..6 {
                    for email in people.iter().skip((t + round) % 3) {
                        let reply = http.put(format!("{base}/v1/contacts/{}", crate::support::encode(email)))
                            .bearer_auth(&key)
                            .json(&json!({"subscriptions": {"news": "subscribed"}}))
                            .send().unwrap();
                        assert!(matches!(reply.status().as_u16(), 200 | 409), "{}", reply.text().unwrap());
                    }
                }
            })
        }).collect();
        let recipients: Vec<_> = clicks.chunks(6).map(|part| {
            let part = part.to_vec();
            std::thread::spawn(move || {
                let http = reqwest::blocking::Client::new();
                for url in part {
                    let reply = http.post(&url)
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body("List-Unsubscribe=One-Click").send().unwrap();
                    assert_eq!(reply.status(), 200, "{}", reply.text().unwrap());
                }
            })
        }).collect();
        for t in api.into_iter().chain(recipients) {
            t.join().unwrap();
        }
        for email in &people {
            let contact = pair.a.get(&format!("/v1/contacts/{}", crate::support::encode(email))).send().json();
            assert_eq!(contact["subscriptions"]["news"], "unsubscribed", "{email}: {contact}");
            // Its chain of statuses has no break: no write decided on a status another
            // had already changed.
            let history = pair.a.get(&format!("/v1/contacts/{}/events?limit=1000", crate::support::encode(email))).send().json();
            let mut before = Value::Null;
            for event in history["events"].as_array().unwrap().iter().filter(|e| e["type"] == "subscription_changed") {
                assert_eq!(event["old_status"], before, "{email}: {history}");
                before = event["status"].clone();
            }
        }
        assert!(pair.b.terminate().success());
    }
}

/// One number read from the PostgreSQL test database.
fn pg_count(conn: &mut diesel::PgConnection, query: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let rows: Vec<Count> = diesel::RunQueryDsl::load(diesel::sql_query(query), conn).unwrap();
    rows[0].n
}

/// Waits (at most ten seconds) until `query` counts `expected`.
fn until_count(conn: &mut diesel::PgConnection, query: &str, expected: i64) {
    let started = Instant::now();
    while pg_count(conn, query) != expected {
        assert!(started.elapsed() < Duration::from_secs(10), "{query} is still {}", pg_count(conn, query));
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Counts the events committed but still waiting for their ledger number.
const WAITING: &str = "SELECT count(*) AS n FROM events WHERE seq < 0";

/// An event written as a write transaction writes it on PostgreSQL (its id first, then
/// a provisional number), for every contact: moving `news` to `status`.
fn provisional_event(status: &str) -> String {
    format!(
        "INSERT INTO events (seq, occurred_at, kind, contact_id, address_hash, topic_key, old_status, new_status, source)
           SELECT -nextval('events_provisional'), now(), 'subscription_changed', c.id, c.address_hash,
                  'news', 'subscribed', '{status}', 'api'
           FROM contacts c WHERE pg_current_xact_id() IS NOT NULL;"
    )
}

/// The sequence numbers of the whole feed, read through `app` as a consumer would.
fn ledger_seqs(app: &TestApp) -> Vec<i64> {
    whole_feed(&reqwest::blocking::Client::new(), app.base(), &app.admin)
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect()
}

/// On PostgreSQL a write transaction never takes the ledger's head row (the lock that
/// made the writers of several processes wait for each other's commits): it commits
/// under provisional numbers, and only its answer waits for the numbering after it.
#[test]
#[cfg_attr(not(postgres_tests), ignore = "PREFCENTER_TEST_DATABASE_URL was not set at build time")]
fn a_write_commits_while_another_holds_the_ledgers_head_on_postgres() {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    let app = Arc::new(TestApp::start(TestDb::postgres()));
    app.topic("news").create();
    let mut holder = diesel::PgConnection::establish(app.db.url()).unwrap();
    let mut looker = diesel::PgConnection::establish(app.db.url()).unwrap();
    let head = pg_count(&mut looker, "SELECT seq AS n FROM ledger_head");
    holder.batch_execute("BEGIN; SELECT seq FROM ledger_head FOR UPDATE").unwrap();
    let write = {
        let app = app.clone();
        std::thread::spawn(move || {
            app.contact("held@example.com", json!({"subscriptions": {"news": "unsubscribed"}}))
        })
    };
    // Committed while the head row is held elsewhere: the contact and its events are
    // there, under provisional numbers, not yet in the ledger.
    until_count(&mut looker, WAITING, 2);
    assert_eq!(pg_count(&mut looker, "SELECT count(*) AS n FROM contacts"), 1);
    assert!(!write.is_finished(), "the write is not answered before its events are numbered");
    let feed_now = app.get(&format!("/v1/changes?after={head}")).send().json();
    assert_eq!(feed_now["events"], json!([]), "the feed shows nothing unnumbered");
    holder.batch_execute("COMMIT").unwrap();
    let contact = write.join().unwrap();
    assert_eq!(contact["subscriptions"]["news"], "unsubscribed");
    assert_eq!(app.reason("held@example.com", "news"), "unsubscribed_topic");
    assert_eq!(pg_count(&mut looker, WAITING), 0);
    assert_eq!(
        ledger_seqs(&app),
        (1..=head + 2).collect::<Vec<_>>(),
        "numbered after the others, without a gap"
    );
}

/// A process that dies between its commit and the numbering after it leaves events
/// under provisional numbers: any live process numbers them within a poll, and they
/// reach every index as other processes' writes do.
#[test]
#[cfg_attr(not(postgres_tests), ignore = "PREFCENTER_TEST_DATABASE_URL was not set at build time")]
fn events_a_dead_process_left_unnumbered_are_numbered_on_postgres() {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    let app = TestApp::start(TestDb::postgres());
    app.topic("news").opt_out().create();
    app.contact("gone@example.com", json!({"subscriptions": {"news": "subscribed"}}));
    let mut conn = diesel::PgConnection::establish(app.db.url()).unwrap();
    let head = pg_count(&mut conn, "SELECT seq AS n FROM ledger_head");
    // What the dead process committed: the status and its event, but no number.
    let event = provisional_event("unsubscribed");
    conn.batch_execute(&format!("BEGIN; UPDATE subscriptions SET status = 'unsubscribed'; {event} COMMIT;"))
        .unwrap();
    until_count(&mut conn, WAITING, 0);
    assert_eq!(pg_count(&mut conn, "SELECT seq AS n FROM ledger_head"), head + 1);
    assert_eq!(pg_count(&mut conn, "SELECT max(seq) AS n FROM events"), head + 1);
    // The index learns it from the ledger, as any other process's write.
    let started = Instant::now();
    while app.reason("gone@example.com", "news") != "unsubscribed_topic" {
        assert!(started.elapsed() < Duration::from_secs(10), "the index never applied the numbered event");
        std::thread::sleep(Duration::from_millis(20));
    }
    let last = &app.get(&format!("/v1/changes?after={head}")).send().json()["events"][0];
    assert_eq!((last["seq"].as_i64(), last["type"].as_str()), (Some(head + 1), Some("subscription_changed")));
}

/// The numbering's scan starts below a floor under which every provisional number is
/// numbered; the floor must never pass a transaction still in flight. Here one takes
/// its provisional number, then waits while the server writes and numbers many times;
/// once it commits, its event is still numbered.
#[test]
#[cfg_attr(not(postgres_tests), ignore = "PREFCENTER_TEST_DATABASE_URL was not set at build time")]
fn a_slow_transaction_is_numbered_however_many_numberings_pass_it_on_postgres() {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    let app = TestApp::start(TestDb::postgres());
    app.topic("news").create();
    app.contact("slow@example.com", json!({"subscriptions": {"news": "subscribed"}}));
    let mut slow = diesel::PgConnection::establish(app.db.url()).unwrap();
    let mut looker = diesel::PgConnection::establish(app.db.url()).unwrap();
    // As a write transaction does: its id first, then its number, then its event.
    slow.batch_execute(&format!("BEGIN; {}", provisional_event("unsubscribed"))).unwrap();
    for i in 0..12 {
        app.contact(&format!("busy{i}@example.com"), json!({"subscriptions": {"news": "subscribed"}}));
    }
    let floor_before = pg_count(&mut looker, "SELECT numbered_through AS n FROM ledger_head");
    let taken = pg_count(&mut slow, "SELECT -max(seq) AS n FROM events WHERE seq < 0");
    assert!(floor_before < taken, "the floor ({floor_before}) passed a number ({taken}) still in flight");
    slow.batch_execute("UPDATE subscriptions SET status = 'unsubscribed' WHERE contact_id = (SELECT contact_id FROM events WHERE seq < 0); COMMIT;").unwrap();
    for i in 0..12 {
        app.contact(&format!("after{i}@example.com"), json!({}));
    }
    until_count(&mut looker, WAITING, 0);
    let floor_after = pg_count(&mut looker, "SELECT numbered_through AS n FROM ledger_head");
    assert!(
        floor_after > floor_before,
        "the floor moved on once the slow transaction ended ({floor_before} → {floor_after})"
    );
    let seqs = ledger_seqs(&app);
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>(), "no gaps");
    assert_eq!(app.reason("slow@example.com", "news"), "unsubscribed_topic");
}

/// The scenario a reviewer found: a transaction takes its provisional number and is
/// still in flight while the ledger tailer numbers other processes' events around it,
/// with no write of this process's finishing in between. The floor must stay below its
/// number, so that once it commits its event is numbered.
#[test]
#[cfg_attr(not(postgres_tests), ignore = "PREFCENTER_TEST_DATABASE_URL was not set at build time")]
fn the_floor_never_passes_a_transaction_in_flight_between_strays_on_postgres() {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    let stray = provisional_event("subscribed");
    let app = TestApp::start(TestDb::postgres());
    app.topic("news").create();
    app.contact("slow@example.com", json!({"subscriptions": {"news": "subscribed"}}));
    let mut slow = diesel::PgConnection::establish(app.db.url()).unwrap();
    let mut other = diesel::PgConnection::establish(app.db.url()).unwrap();
    other.batch_execute(&format!("BEGIN; {stray} COMMIT;")).unwrap();
    slow.batch_execute(&format!("BEGIN; {stray}")).unwrap();
    let taken = pg_count(&mut slow, "SELECT -max(seq) AS n FROM events WHERE seq < 0");
    // Committed events of "another process" (the one before the slow transaction
    // took its number, then three after), each numbered by the tailer's poll.
    until_count(&mut other, WAITING, 0);
    for _ in 0..3 {
        other.batch_execute(&format!("BEGIN; {stray} COMMIT;")).unwrap();
        until_count(&mut other, WAITING, 0);
    }
    let floor = pg_count(&mut other, "SELECT numbered_through AS n FROM ledger_head");
    assert!(floor < taken, "the floor ({floor}) passed a number ({taken}) still in flight");
    slow.batch_execute("COMMIT").unwrap();
    until_count(&mut other, WAITING, 0);
    let seqs = ledger_seqs(&app);
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>(), "no gaps");
    assert_eq!(pg_count(&mut other, "SELECT count(*) AS n FROM events"), seqs.len() as i64);
}
