//! Suppressions: one at a time, listed with a cursor, imported and exported in bulk.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::support::{each_backend, without_times, TestApp, TestDb};

fn import(app: &TestApp, content_type: &str, body: &str) -> Value {
    let reply = app.post("/v1/suppressions/import").body(content_type, body.to_owned()).send();
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()
}

fn counts(report: &Value) -> (Option<u64>, Option<u64>) {
    (report["created"].as_u64(), report["failed"].as_u64())
}

fn list_all(app: &TestApp, query: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut after = String::new();
    loop {
        let page = app.get(&format!("/v1/suppressions?limit=2{query}{after}")).send().json();
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next"].as_str() {
            Some(next) => after = format!("&after={next}"),
            None => return items,
        }
    }
}

each_backend! {
    fn a_suppression_is_put_read_replaced_and_lifted(app) {
        app.topic("news").opt_out().create();
        app.topic("receipts").transactional().create();
        let created = app.put("/v1/suppressions/Bounced%40Example.com")
            .json(json!({"reason": "hard_bounce", "note": "550 5.1.1"})).send();
        assert_eq!(created.status, 201, "{}", created.body);
        assert_eq!(without_times(created.json()), json!({
            "email": "bounced@example.com", "reason": "hard_bounce", "scope": "all",
            "source": "api", "note": "550 5.1.1", "expires_at": null,
        }));
        assert_eq!(app.get("/v1/suppressions/bounced%40example.com").send().json(), created.json());
        assert_eq!(app.reason("bounced@example.com", "receipts"), "suppressed:hard_bounce");
        let replaced = app.put("/v1/suppressions/bounced%40example.com").json(json!({"reason": "manual", "scope": "promotional"})).send();
        assert_eq!(replaced.status, 200);
        assert_eq!(app.reason("bounced@example.com", "receipts"), "transactional");
        assert_eq!(app.reason("bounced@example.com", "news"), "suppressed:manual");
        assert_eq!(app.delete("/v1/suppressions/bounced%40example.com").send().status, 204);
        app.get("/v1/suppressions/bounced%40example.com").send().problem(404, "not_found");
        app.delete("/v1/suppressions/bounced%40example.com").send().problem(404, "not_found");
        assert_eq!(app.reason("bounced@example.com", "news"), "default_subscribed");
        let kinds: Vec<String> = app.get("/v1/changes?limit=100").send().json()["events"].as_array().unwrap().iter()
            .filter(|e| e["type"] != "topic_changed").map(|e| e["type"].as_str().unwrap().to_owned()).collect();
        assert_eq!(kinds, ["suppression_added", "suppression_added", "suppression_removed"]);
    }

    fn each_reason_has_its_default_scope(app) {
        for (reason, scope) in [("hard_bounce", "all"), ("complaint", "promotional"), ("manual", "all"), ("unsubscribe", "promotional"), ("soft_bounce", "all")] {
            let reply = app.put(&format!("/v1/suppressions/{reason}%40example.com")).json(json!({"reason": reason})).send();
            assert_eq!(reply.json()["scope"], scope, "{reason}");
        }
    }

    fn bad_suppressions_are_refused(app) {
        for (body, field) in [
            (json!({"reason": "erasure"}), "reason"),
            (json!({"reason": "bounce"}), "reason"),
            (json!({"reason": "manual", "scope": "some"}), "scope"),
            (json!({"reason": "manual", "expires_at": "2001-01-01T00:00:00Z"}), "expires_at"),
            (json!({"reason": "manual", "expires_at": "tomorrow"}), "expires_at"),
        ] {
            let problem = app.put("/v1/suppressions/a%40example.com").json(body.clone()).send().problem(422, "invalid");
            assert_eq!(problem["errors"][0]["field"], field, "{body}");
        }
        app.put("/v1/suppressions/nope").json(json!({"reason": "manual"})).send().problem(422, "invalid");
        app.get("/v1/suppressions?limit=0").send().problem(422, "invalid");
        app.get("/v1/suppressions?after=%%%").send().problem(422, "invalid");
        app.get("/v1/suppressions").key(&app.key(&["check"])).send().problem(403, "forbidden");
        assert_eq!(app.get("/v1/suppressions").send().json(), json!({"items": [], "next": null}));
    }

    fn a_cursor_neither_skips_nor_repeats_while_rows_are_added(app) {
        for i in 0..9 {
            app.put(&format!("/v1/suppressions/first{i}%40example.com")).json(json!({"reason": "hard_bounce"})).send();
        }
        let mut seen = Vec::new();
        let mut after = String::new();
        let mut added = 0;
        loop {
            let page = app.get(&format!("/v1/suppressions?limit=2{after}")).send().json();
            seen.extend(page["items"].as_array().unwrap().iter().map(|i| i["email"].as_str().unwrap().to_owned()));
            // Rows arrive between pages.
            if added < 6 {
                app.put(&format!("/v1/suppressions/later{added}%40example.com")).json(json!({"reason": "complaint"})).send();
                added += 1;
            }
            match page["next"].as_str() {
                Some(next) => after = format!("&after={next}"),
                None => break,
            }
        }
        for more in added..6 {
            app.put(&format!("/v1/suppressions/later{more}%40example.com")).json(json!({"reason": "complaint"})).send();
        }
        let unique: BTreeSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "no row twice: {seen:?}");
        for i in 0..9 {
            assert!(seen.contains(&format!("first{i}@example.com")), "first{i} was skipped");
        }
        let complaints = list_all(&app, "&reason=complaint");
        assert_eq!(complaints.len(), 6);
        assert!(complaints.iter().all(|c| c["reason"] == "complaint"));
    }

    fn an_import_applies_good_lines_and_reports_bad_ones(app) {
        app.topic("news").opt_out().create();
        let ndjson = [
            r#"{"email": "one@example.com", "reason": "hard_bounce"}"#,
            r#"{"email": "not-an-address", "reason": "hard_bounce"}"#,
            "",
            r#"{"email": "two@example.com", "reason": "complaint", "note": "fbl"}"#,
            r#"{"email": "three@example.com", "reason": "whatever"}"#,
            r#"{"email": "four@example.com", "reason": "manual", "colour": "red"}"#,
            "{broken",
            r#"{"email": "five@example.com", "reason": "manual", "scope": "promotional"}"#,
        ].join("\n");
        let report = import(&app, "application/x-ndjson", &ndjson);
        assert_eq!((report["lines"].as_u64(), report["created"].as_u64(), report["failed"].as_u64()), (Some(7), Some(3), Some(4)), "{report}");
        let lines: Vec<u64> = report["errors"].as_array().unwrap().iter().map(|e| e["line"].as_u64().unwrap()).collect();
        assert_eq!(lines, [2, 5, 6, 7]);
        assert_eq!(app.reason("one@example.com", "news"), "suppressed:hard_bounce");
        assert_eq!(app.reason("two@example.com", "news"), "suppressed:complaint");
        assert_eq!(app.reason("five@example.com", "news"), "suppressed:manual");
        // The same file again changes nothing.
        let again = import(&app, "application/x-ndjson", &ndjson);
        assert_eq!((again["created"].as_u64(), again["unchanged"].as_u64()), (Some(0), Some(3)));
    }

    fn a_streamed_import_spans_many_transactions(app) {
        let mut file = String::new();
        for i in 1..=2_500 {
            if i % 500 == 0 {
                file.push_str("broken@\n");
            } else {
                file.push_str(&format!("user{i}@example.com,hard_bounce\n"));
            }
        }
        // Sent chunked, without a length, as a large upload would be.
        let reply = app.post("/v1/suppressions/import")
            .body("text/csv", reqwest::blocking::Body::new(std::io::Cursor::new(file.into_bytes())))
            .send();
        assert_eq!(reply.status, 200, "{}", reply.body);
        let report = reply.json();
        assert_eq!((report["lines"].as_u64(), report["created"].as_u64(), report["failed"].as_u64()), (Some(2_500), Some(2_495), Some(5)));
        let lines: Vec<u64> = report["errors"].as_array().unwrap().iter().map(|e| e["line"].as_u64().unwrap()).collect();
        assert_eq!(lines, [500, 1000, 1500, 2000, 2500]);
        assert_eq!(app.get("/v1/suppressions/user2499%40example.com").send().status, 200);
        let seqs = app.get("/v1/changes?limit=10000").send().json()["events"].as_array().unwrap().len();
        assert_eq!(seqs, 2_495, "one event per suppression");
    }

    fn an_ndjson_import_longer_than_a_record_bound_is_read_whole(app) {
        // 3,000 lines of about 60 bytes: well past the 64 KiB a single record may hold,
        // which bounds each line, not the body.
        let lines: Vec<String> = (0..3_000)
            .map(|i| format!(r#"{{"email": "user{i}@example.com", "reason": "hard_bounce"}}"#))
            .collect();
        let report = import(&app, "application/x-ndjson", &lines.join("\n"));
        assert_eq!((report["lines"].as_u64(), report["created"].as_u64(), report["failed"].as_u64()), (Some(3_000), Some(3_000), Some(0)), "{report}");
    }

    fn csv_imports_with_or_without_a_header(app) {
        let with_header = "email,reason,scope,note\r\nA@example.com,hard_bounce,,\"550, no such user\"\r\nb@example.com,complaint,all,\n";
        let report = import(&app, "text/csv", with_header);
        assert_eq!((report["created"].as_u64(), report["failed"].as_u64()), (Some(2), Some(0)), "{report}");
        assert_eq!(app.get("/v1/suppressions/a%40example.com").send().json()["note"], "550, no such user");
        assert_eq!(app.get("/v1/suppressions/b%40example.com").send().json()["scope"], "all");
        let report = import(&app, "text/csv", "c@example.com,manual\nbad,manual\nd@example.com\n");
        assert_eq!((report["created"].as_u64(), report["failed"].as_u64()), (Some(1), Some(2)), "{report}");
    }

    fn an_import_chunk_applies_its_lines_in_order(app) {
        // One chunk is read, decided and written at once (suppressions::apply_many):
        // each line must still see what the lines before it wrote, an erased address
        // must fail its own line alone, and a replaced block keeps its creation time.
        app.topic("news").opt_out().create();
        let old = app.put("/v1/suppressions/old%40example.com").json(json!({"reason": "manual", "note": "first"})).send().json();
        app.put("/v1/suppressions/erased%40example.com").json(json!({"reason": "manual"})).send();
        app.sql("UPDATE suppressions SET reason = 'erasure', email = NULL WHERE email = 'erased@example.com'");
        let ndjson = [
            r#"{"email": "twice@example.com", "reason": "complaint"}"#,
            r#"{"email": "erased@example.com", "reason": "hard_bounce"}"#,
            r#"{"email": "twice@example.com", "reason": "hard_bounce", "note": "550"}"#,
            r#"{"email": "old@example.com", "reason": "manual", "note": "second"}"#,
            r#"{"email": "twice@example.com", "reason": "hard_bounce", "note": "550"}"#,
        ].join("\n");
        let before = app.get("/v1/changes?limit=10000").send().json()["events"].as_array().unwrap().len();
        let report = import(&app, "application/x-ndjson", &ndjson);
        let got = ["created", "updated", "unchanged", "failed"].map(|k| report[k].as_u64().unwrap());
        assert_eq!(got, [1, 2, 1, 1], "{report}");
        assert_eq!(report["errors"][0]["line"], 2, "{report}");
        let twice = app.get("/v1/suppressions/twice%40example.com").send().json();
        assert_eq!((twice["reason"].as_str(), twice["scope"].as_str(), twice["note"].as_str()), (Some("hard_bounce"), Some("all"), Some("550")));
        let now = app.get("/v1/suppressions/old%40example.com").send().json();
        assert_eq!((now["note"].as_str(), &now["created_at"]), (Some("second"), &old["created_at"]));
        assert_eq!(app.reason("twice@example.com", "news"), "suppressed:hard_bounce");
        let events = app.get("/v1/changes?limit=10000").send().json()["events"].as_array().unwrap()[before..].to_vec();
        let reasons: Vec<&str> = events.iter().map(|e| e["reason"].as_str().unwrap()).collect();
        assert_eq!(reasons, ["complaint", "hard_bounce", "manual"], "one event per change, in line order");
    }

    fn an_import_never_narrows_a_block(app) {
        app.topic("receipts").transactional().create();
        app.put("/v1/suppressions/a%40example.com").json(json!({"reason": "hard_bounce"})).send();
        let report = import(&app, "application/x-ndjson", r#"{"email": "a@example.com", "reason": "complaint"}"#);
        assert_eq!(report["updated"].as_u64(), Some(1));
        let now = app.get("/v1/suppressions/a%40example.com").send().json();
        assert_eq!((now["reason"].as_str(), now["scope"].as_str()), (Some("complaint"), Some("all")));
        assert_eq!(app.reason("a@example.com", "receipts"), "suppressed:complaint");
    }

    fn imports_take_only_bulk_formats(app) {
        app.post("/v1/suppressions/import").body("application/json", "[]").send().problem(415, "unsupported_media_type");
        app.post("/v1/suppressions/import").anonymous().body("text/csv", "a@example.com,manual").send().problem(401, "unauthorized");
        let report = import(&app, "application/x-ndjson", "");
        assert_eq!(report["lines"].as_u64(), Some(0));
    }

    fn an_export_imports_into_a_fresh_server_with_the_same_decisions(app) {
        app.topic("news").opt_out().create();
        app.topic("receipts").transactional().create();
        let lines: Vec<String> = (0..30).map(|i| {
            let (reason, scope) = [("hard_bounce", "all"), ("complaint", "promotional"), ("manual", "promotional")][i % 3];
            format!(r#"{{"email": "user{i}@example.com", "reason": "{reason}", "scope": "{scope}", "note": "line {i}, \"quoted\""}}"#)
        }).collect();
        import(&app, "application/x-ndjson", &lines.join("\n"));
        let ndjson = app.get("/v1/suppressions/export").send();
        assert_eq!(ndjson.header("content-type"), Some("application/x-ndjson"));
        assert_eq!(ndjson.body.lines().count(), 30);
        let csv = app.get("/v1/suppressions/export").header("accept", "text/csv").send();
        assert!(csv.body.starts_with("email,reason,scope,note,expires_at"), "{}", csv.body);
        assert_eq!(csv.body.lines().count(), 31);

        for (content_type, body) in [("application/x-ndjson", &ndjson.body), ("text/csv", &csv.body)] {
            let fresh = TestApp::start(TestDb::sqlite());
            fresh.topic("news").opt_out().create();
            fresh.topic("receipts").transactional().create();
            let report = import(&fresh, content_type, body);
            assert_eq!((report["created"].as_u64(), report["failed"].as_u64()), (Some(30), Some(0)), "{report}");
            for i in 0..32 {
                for topic in ["news", "receipts"] {
                    let email = format!("user{i}@example.com");
                    assert_eq!(fresh.reason(&email, topic), app.reason(&email, topic), "{email} {topic} via {content_type}");
                }
            }
            assert_eq!(fresh.get("/v1/suppressions/user1%40example.com").send().json()["note"], "line 1, \"quoted\"");
        }
    }

    fn a_csv_export_imports_back_to_the_same_rows(app) {
        let notes = [
            "two\nlines",
            "a, comma",
            "a \"quoted\" word",
            "all three:\r\n\"550\", user unknown",
            "  spaces kept  ",
        ];
        for (i, note) in notes.iter().enumerate() {
            let body = json!({"reason": "manual", "scope": "promotional", "note": note, "expires_at": "2999-01-01T00:00:00Z"});
            let reply = app.put(&format!("/v1/suppressions/user{i}%40example.com")).json(body).send();
            assert_eq!(reply.status, 201, "{}", reply.body);
        }
        app.put("/v1/suppressions/plain%40example.com").json(json!({"reason": "hard_bounce"})).send();
        let rows = |app: &TestApp| -> Vec<Value> {
            list_all(app, "").into_iter().map(|mut row| {
                let row = row.as_object_mut().unwrap();
                row.remove("created_at");
                row.remove("source");
                Value::Object(row.clone())
            }).collect()
        };
        let before = rows(&app);
        let csv = app.get("/v1/suppressions/export").header("accept", "text/csv").send().body;
        for row in &before {
            let email = row["email"].as_str().unwrap();
            assert_eq!(app.delete(&format!("/v1/suppressions/{}", crate::support::encode(email))).send().status, 204);
        }
        // Sent chunked, so that records also cross the body's chunks.
        let reply = app.post("/v1/suppressions/import")
            .body("text/csv", reqwest::blocking::Body::new(std::io::Cursor::new(csv.into_bytes())))
            .send();
        assert_eq!(reply.status, 200, "{}", reply.body);
        let report = reply.json();
        assert_eq!(counts(&report), (Some(6), Some(0)), "{report}");
        assert_eq!(rows(&app), before);
        // A quote never closed is refused once it passes the longest record, not read to the end.
        let open = format!("x@example.com,manual,all,\"{}", "x\n".repeat(64 * 1024));
        app.post("/v1/suppressions/import").body("text/csv", open).send().problem(400, "malformed");
        app.get("/v1/suppressions/x%40example.com").send().problem(404, "not_found");
    }
}

/// `prefcenter purge` on the test database, as the hourly task would run it.
fn purge_now(app: &TestApp) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_prefcenter"))
        .arg("purge")
        .env("PREFCENTER_DATABASE_URL", app.db.url())
        .env("PREFCENTER_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

each_backend! {
    /// A time the store could not compare is refused; the latest one it can is kept,
    /// and the retention purge leaves it alone.
    fn far_future_expiries_are_bounded_and_survive_the_purge(mut app) {
        app.topic("news").opt_out().create();
        for too_far in ["+10000-01-01T00:00:00Z", "10000-01-01T00:00:00Z", "1969-12-31T23:59:59Z"] {
            let reply = app
                .put("/v1/suppressions/x%40example.com")
                .json(json!({"reason": "manual", "expires_at": too_far}))
                .send();
            let problem = reply.problem(422, "invalid");
            assert_eq!(problem["errors"][0]["field"], "expires_at", "{too_far}: {problem}");
        }
        app.get("/v1/suppressions/x%40example.com").send().problem(404, "not_found");
        let reply = app
            .put("/v1/suppressions/x%40example.com")
            .json(json!({"reason": "manual", "expires_at": "9999-12-31T23:59:59Z"}))
            .send();
        assert_eq!(reply.status, 201, "{}", reply.body);
        assert_eq!(reply.json()["expires_at"], "9999-12-31T23:59:59Z");
        // Three soft bounces dated at the end of time are refused, one by one, and
        // count for nothing; three dated now make a suppression expiring within the range.
        for (n, at) in ["9999-12-31T23:59:59Z"; 3].into_iter().chain([""; 3]).enumerate() {
            let mut notice = json!({"email": "y@example.com", "type": "soft_bounce", "id": format!("sb-{n}")});
            if !at.is_empty() {
                notice["occurred_at"] = json!(at);
            }
            let reply = app.post("/v1/feedback/generic").json(notice).send();
            assert_eq!(reply.status, 200, "{}", reply.body);
            assert_eq!(reply.json()["failed"], if at.is_empty() { 0 } else { 1 }, "{}", reply.body);
            if n == 2 {
                app.get("/v1/suppressions/y%40example.com").send().problem(404, "not_found");
            }
        }
        let soft = app.get("/v1/suppressions/y%40example.com").send();
        assert_eq!(soft.status, 200, "{}", soft.body);
        let expires = soft.json()["expires_at"].as_str().unwrap().to_owned();
        assert!(expires.starts_with("20"), "a week from now: {expires}");
        purge_now(&app);
        app.restart();
        assert_eq!(app.get("/v1/suppressions/x%40example.com").send().status, 200);
        assert_eq!(app.get("/v1/suppressions/y%40example.com").send().status, 200);
        assert_eq!(app.reason("x@example.com", "news"), "suppressed:manual");
        assert_eq!(app.reason("y@example.com", "news"), "suppressed:soft_bounce");
    }
}
