//! Operations: health, readiness, metrics, the OpenAPI document, restarts.

use serde_json::json;

use crate::support::each_backend;

each_backend! {
    fn health_and_readiness(app) {
        let health = app.get("/healthz").anonymous().send();
        assert_eq!((health.status, health.json()), (200, json!({"status": "ok"})));
        let ready = app.get("/readyz").anonymous().send();
        assert_eq!(ready.status, 200);
        assert_eq!(ready.json(), json!({"database": "ok", "writes": "ok", "index": "current"}));
        assert!(ready.header("x-request-id").is_some_and(|id| id.len() >= 16));
        let echoed = app.get("/healthz").header("x-request-id", "trace-123").send();
        assert_eq!(echoed.header("x-request-id"), Some("trace-123"));
    }

    fn metrics_count_requests_by_route_pattern(app) {
        app.contact("secret.person@example.com", json!({}));
        app.get("/no/such/path/secret.person@example.com").send();
        let metrics = app.get("/metrics").anonymous().send();
        assert_eq!(metrics.status, 200);
        assert!(metrics.body.contains("prefcenter_http_requests_total"), "{}", metrics.body);
        assert!(metrics.body.contains(r#"endpoint="/v1/contacts/{contact}""#), "{}", metrics.body);
        assert!(!metrics.body.contains("secret.person"), "no address may reach the metrics");
        // The writer's commits: the contact above was at least one.
        let commits = metrics.body.lines().find_map(|l| l.strip_prefix("prefcenter_writes_per_commit_count ")).unwrap();
        assert!(commits.trim().parse::<u64>().unwrap() >= 1, "{commits}");
    }

    fn the_openapi_document_lists_every_route(app) {
        let doc = app.get("/openapi.json").anonymous().send().json();
        assert_eq!(doc["openapi"].as_str().unwrap().split('.').next(), Some("3"));
        let paths = doc["paths"].as_object().unwrap();
        let expected = [
            ("/healthz", "get"), ("/readyz", "get"),
            ("/v1/topics", "get"), ("/v1/topics", "post"),
            ("/v1/topics/{key}", "get"), ("/v1/topics/{key}", "patch"), ("/v1/topics/{key}", "delete"),
            ("/v1/contacts/{contact}", "put"), ("/v1/contacts/{contact}", "get"), ("/v1/contacts/{contact}", "patch"),
            ("/v1/contacts/{contact}/subscriptions/{topic}", "put"), ("/v1/contacts/{contact}/events", "get"),
            ("/v1/api-keys", "get"), ("/v1/api-keys", "post"), ("/v1/api-keys/{id}", "delete"),
            ("/v1/check", "post"), ("/v1/check/batch", "post"), ("/v1/links", "post"),
            ("/v1/suppressions", "get"), ("/v1/suppressions/{email}", "put"), ("/v1/suppressions/{email}", "get"),
            ("/v1/suppressions/{email}", "delete"), ("/v1/suppressions/import", "post"), ("/v1/suppressions/export", "get"),
            ("/v1/changes", "get"), ("/v1/contacts/import", "post"),
            ("/v1/feedback/generic", "post"), ("/v1/feedback/ses", "post"), ("/v1/feedback/ses/confirmations", "get"),
            ("/v1/feedback/sendgrid", "post"), ("/v1/feedback/postmark", "post"), ("/v1/feedback/mailgun", "post"),
        ];
        for (path, method) in expected {
            assert!(paths.get(path).and_then(|p| p.get(method)).is_some(), "{method} {path} is missing");
        }
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for schema in ["TopicView", "NewTopic", "ContactView", "ContactWrite", "Problem", "EventPage", "CheckResult", "BatchResponse", "SuppressionView", "ImportReport", "ChangePage"] {
            assert!(schemas.contains_key(schema), "schema {schema} is missing");
        }
    }

    fn a_restart_keeps_the_data(mut app) {
        app.topic("news").create();
        app.contact("a@example.com", json!({"subscriptions": {"news": "unsubscribed"}, "source": "one_click"}));
        let events = app.events("a@example.com");
        app.restart();
        assert_eq!(app.get("/v1/contacts/a%40example.com").send().json()["subscriptions"], json!({"news": "unsubscribed"}));
        assert_eq!(app.events("a@example.com"), events);
        // The rule about recipients' choices survives too: it is stored, not remembered.
        app.put("/v1/contacts/a%40example.com").json(json!({"subscriptions": {"news": "subscribed"}})).send()
            .problem(409, "consent_required");
    }
}

each_backend! {
    /// A process that cannot read the ledger stops deciding instead of answering from old
    /// state, and says so on /readyz; it recovers by itself.
    fn a_stale_index_never_says_yes(db: crate::support::TestDb) {
        let app = crate::support::TestApp::start_with(db, |c| {
            c.index_stale_ms = 1000;
            c.ledger_poll_ms = 50;
        });
        app.topic("news").opt_out().create();
        let check = || app.post("/v1/check").json(json!({"email": "a@example.com", "topic": "news"})).send();
        assert_eq!(check().status, 200);
        app.sql("ALTER TABLE events RENAME TO events_away");
        let started = std::time::Instant::now();
        let refused = loop {
            let reply = check();
            if reply.status != 200 {
                break reply;
            }
            assert!(started.elapsed() < std::time::Duration::from_secs(10), "still deciding from a stale index");
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        refused.problem(503, "unavailable");
        assert!(refused.header("retry-after").is_some());
        let ready = app.get("/readyz").send();
        assert_eq!((ready.status, ready.json()["index"].as_str()), (503, Some("stale")));
        app.sql("ALTER TABLE events_away RENAME TO events");
        crate::support::wait_until_ready(app.base());
        assert_eq!(check().status, 200);
    }
}
