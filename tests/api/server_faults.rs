//! Faults of the service's own — a statement the database fails, a lost connection —
//! fail the whole request with 5xx, so that a provider or an importer sends it again;
//! they are never an entry of a 200's `errors`, and their words never reach the
//! client. Faults of the request's own entries stay per-entry errors of a 200.
//!
//! The faults are injected into the real database: a trigger that fails every insert
//! into one table (SQLite and PostgreSQL), or one that ends its own connection
//! (PostgreSQL).

use serde_json::{json, Value};

use crate::support::{each_backend, Reply, TestApp, TestDb};

/// Makes every insert into `table` fail inside the database until [`heal`].
fn break_inserts(app: &TestApp, table: &str) {
    match app.db {
        TestDb::Sqlite { .. } => app.sql(&format!(
            "CREATE TRIGGER injected_fault BEFORE INSERT ON {table} BEGIN SELECT RAISE(ABORT, 'injected fault'); END;"
        )),
        TestDb::Postgres { .. } => app.sql(&format!(
            "CREATE FUNCTION injected_fault() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$;
             CREATE TRIGGER injected_fault BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION injected_fault();"
        )),
    }
}

fn heal(app: &TestApp, table: &str) {
    match app.db {
        TestDb::Sqlite { .. } => app.sql("DROP TRIGGER injected_fault"),
        TestDb::Postgres { .. } => {
            app.sql(&format!("DROP TRIGGER injected_fault ON {table}; DROP FUNCTION injected_fault();"))
        }
    }
}

/// Asserts a 5xx problem whose words say nothing of the database.
fn server_fault(reply: &Reply, status: u16, kind: &str) {
    reply.problem(status, kind);
    let body = reply.body.to_lowercase();
    for word in
        ["injected", "trigger", "database", "suppressions", "contacts", "events", "sqlite", "constraint"]
    {
        assert!(!body.contains(word), "the answer leaks {word:?}: {}", reply.body);
    }
}

fn counts(report: &Value) -> (Option<u64>, Option<u64>) {
    (report["created"].as_u64(), report["failed"].as_u64())
}

each_backend! {
    fn a_database_fault_fails_a_feedback_delivery_so_the_provider_retries(app) {
        app.topic("news").opt_out().create();
        let delivery = json!([
            {"email": "bounced@example.com", "type": "hard_bounce", "id": "n-1"},
            {"email": "not-an-address", "type": "hard_bounce", "id": "n-2"},
        ]);
        break_inserts(&app, "suppressions");
        server_fault(&app.post("/v1/feedback/generic").json(delivery.clone()).send(), 500, "internal");
        assert_eq!(app.reason("bounced@example.com", "news"), "default_subscribed");

        heal(&app, "suppressions");
        // The retry applies it: the failed delivery left no receipt that would make it a duplicate.
        let reply = app.post("/v1/feedback/generic").json(delivery).send();
        assert_eq!(reply.status, 200, "{}", reply.body);
        let report = reply.json();
        assert_eq!(
            (report["applied"].as_u64(), report["duplicates"].as_u64(), report["failed"].as_u64()),
            (Some(1), Some(0), Some(1)),
            "{report}"
        );
        assert_eq!(report["errors"][0]["index"], 1, "the bad entry stays an entry's error: {report}");
        assert_eq!(app.reason("bounced@example.com", "news"), "suppressed:hard_bounce");
    }

    fn a_database_fault_fails_an_import_and_its_retry_applies_it(app) {
        let ndjson = [
            r#"{"email": "one@example.com", "reason": "hard_bounce"}"#,
            r#"{"email": "not-an-address", "reason": "hard_bounce"}"#,
            r#"{"email": "two@example.com", "reason": "complaint"}"#,
        ].join("\n");
        let csv = "email,reason\nthree@example.com,manual\n";
        break_inserts(&app, "suppressions");
        for (content_type, body) in [("application/x-ndjson", &ndjson), ("text/csv", &csv.to_owned())] {
            let reply = app.post("/v1/suppressions/import").body(content_type, body.clone()).send();
            server_fault(&reply, 500, "internal");
        }
        heal(&app, "suppressions");
        let reply = app.post("/v1/suppressions/import").body("application/x-ndjson", ndjson).send();
        let report = reply.json();
        assert_eq!(counts(&report), (Some(2), Some(1)), "{report}");
        assert_eq!(report["errors"][0]["line"], 2, "{report}");

        // The contact import, in both of its paths: new contacts in bulk, a known one line by line.
        app.contact("known@example.com", json!({}));
        let contacts = "{\"email\": \"new@example.com\"}\n{\"email\": \"known@example.com\", \"locale\": \"fr\"}\n";
        break_inserts(&app, "events");
        let reply = app.post("/v1/contacts/import").body("application/x-ndjson", contacts).send();
        server_fault(&reply, 500, "internal");
        let reply = app.post("/v1/contacts/import").body("application/x-ndjson", "{\"email\": \"known@example.com\", \"locale\": \"fr\"}\n").send();
        server_fault(&reply, 500, "internal");
        heal(&app, "events");
        let report = app.post("/v1/contacts/import").body("application/x-ndjson", contacts).send().json();
        assert_eq!((report["created"].as_u64(), report["updated"].as_u64(), report["failed"].as_u64()), (Some(1), Some(1), Some(0)), "{report}");
    }

    fn a_uniqueness_no_check_caught_is_a_409_without_the_databases_words(app) {
        // A rule the service does not know of, so that only the database can refuse.
        app.sql("CREATE UNIQUE INDEX injected_unique ON suppressions (reason)");
        let first = app.put("/v1/suppressions/a%40example.com").json(json!({"reason": "manual"})).send();
        assert_eq!(first.status, 201, "{}", first.body);
        let reply = app.put("/v1/suppressions/b%40example.com").json(json!({"reason": "manual"})).send();
        reply.problem(409, "conflict");
        let body = reply.body.to_lowercase();
        for word in ["injected_unique", "suppressions", "unique", "duplicate", "constraint"] {
            assert!(!body.contains(word), "the answer leaks {word:?}: {}", reply.body);
        }
    }
}

/// A trigger that ends its own connection, as a database restart or a failover would.
#[test]
#[cfg_attr(not(postgres_tests), ignore = "PREFCENTER_TEST_DATABASE_URL was not set at build time")]
fn a_lost_connection_is_503_with_retry_after_on_postgres() {
    let app = TestApp::start(TestDb::postgres());
    app.topic("news").opt_out().create();
    app.sql(
        "CREATE FUNCTION injected_fault() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(1); RETURN NEW; END $$;
         CREATE TRIGGER injected_fault BEFORE INSERT ON suppressions FOR EACH ROW EXECUTE FUNCTION injected_fault();",
    );
    let put = || app.put("/v1/suppressions/lost%40example.com").json(json!({"reason": "hard_bounce"})).send();
    let reply = put();
    server_fault(&reply, 503, "unavailable");
    assert!(reply.header("retry-after").is_some(), "{:?}", reply.headers);
    let delivery = json!({"email": "lost@example.com", "type": "hard_bounce", "id": "n-1"});
    let reply = app.post("/v1/feedback/generic").json(delivery.clone()).send();
    server_fault(&reply, 503, "unavailable");

    heal(&app, "suppressions");
    assert_eq!(put().status, 201, "a retry on a fresh connection succeeds");
    assert_eq!(app.reason("lost@example.com", "news"), "suppressed:hard_bounce");
    let report = app.post("/v1/feedback/generic").json(delivery).send().json();
    assert_eq!(report["applied"], 1, "{report}");
}
