//! Feedback: notifications become suppressions (the generic form).

use serde_json::{json, Value};

use crate::support::{each_backend, TestApp, TopicBuilder};

fn deliver(app: &TestApp, body: Value) -> Value {
    let reply = app.post("/v1/feedback/generic").json(body).send();
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()
}

each_backend! {
    fn bounces_and_complaints_become_suppressions(app) {
        app.topics().offers(TopicBuilder::opt_out).create();
        let report = deliver(&app, json!([
            {"email": "hard@example.com", "type": "hard_bounce", "detail": "550 5.1.1 user unknown", "id": "n-1"},
            {"email": "angry@example.com", "type": "complaint", "id": "n-2"},
            {"email": "gone@example.com", "type": "unsubscribe"},
            {"email": "picky@example.com", "type": "unsubscribe", "topic": "news"},
        ]));
        assert_eq!((report["applied"].as_u64(), report["failed"].as_u64()), (Some(4), Some(0)), "{report}");
        assert_eq!(app.reason("hard@example.com", "receipts"), "suppressed:hard_bounce");
        assert_eq!(app.reason("angry@example.com", "news"), "suppressed:complaint");
        assert_eq!(app.reason("angry@example.com", "receipts"), "transactional");
        assert_eq!(app.reason("gone@example.com", "offers"), "unsubscribed_all");
        assert_eq!(app.reason("picky@example.com", "news"), "unsubscribed_topic");
        assert_eq!(app.reason("picky@example.com", "offers"), "default_subscribed");
        let hard = app.get("/v1/suppressions/hard%40example.com").send().json();
        assert_eq!((hard["source"].as_str(), hard["note"].as_str(), hard["scope"].as_str()), (Some("feedback:generic"), Some("550 5.1.1 user unknown"), Some("all")));
        let event = app.get("/v1/changes?limit=100").send().json()["events"].as_array().unwrap().iter()
            .find(|e| e["reason"] == "hard_bounce").cloned().unwrap();
        assert_eq!(event["source"], "feedback:generic");
    }

    fn a_notification_delivered_twice_changes_nothing_the_second_time(app) {
        app.topics().offers(TopicBuilder::opt_out).create();
        let notice = json!({"email": "hard@example.com", "type": "hard_bounce", "id": "n-1"});
        assert_eq!(deliver(&app, notice.clone())["applied"], 1);
        let events = app.get("/v1/changes?limit=1000").send().json()["events"].as_array().unwrap().len();
        let again = deliver(&app, notice);
        assert_eq!((again["applied"].as_u64(), again["duplicates"].as_u64()), (Some(0), Some(1)));
        assert_eq!(app.get("/v1/changes?limit=1000").send().json()["events"].as_array().unwrap().len(), events);
    }

    fn soft_bounces_count_within_a_window(app) {
        app.topics().offers(TopicBuilder::opt_out).create();
        let at = |days: i64| (chrono::Utc::now() - chrono::TimeDelta::days(days)).to_rfc3339();
        // Two in the window and one long before: not yet.
        deliver(&app, json!([
            {"email": "full@example.com", "type": "soft_bounce", "occurred_at": at(30)},
            {"email": "full@example.com", "type": "soft_bounce", "occurred_at": at(3)},
            {"email": "full@example.com", "type": "soft_bounce", "occurred_at": at(2)},
        ]));
        assert_eq!(app.reason("full@example.com", "receipts"), "transactional");
        // A third within seven days: suppressed for seven days from it.
        deliver(&app, json!({"email": "full@example.com", "type": "soft_bounce", "occurred_at": at(1), "detail": "452 mailbox full"}));
        assert_eq!(app.reason("full@example.com", "receipts"), "suppressed:soft_bounce");
        let suppression = app.get("/v1/suppressions/full%40example.com").send().json();
        let expires = chrono::DateTime::parse_from_rfc3339(suppression["expires_at"].as_str().unwrap()).unwrap();
        let days = (expires.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_hours();
        assert!((140..=146).contains(&days), "about six days left: {days} hours");
        // A soft bounce never softens a hard block.
        deliver(&app, json!({"email": "hard@example.com", "type": "hard_bounce"}));
        deliver(&app, json!([
            {"email": "hard@example.com", "type": "soft_bounce"}, {"email": "hard@example.com", "type": "soft_bounce"},
            {"email": "hard@example.com", "type": "soft_bounce"},
        ]));
        assert_eq!(app.reason("hard@example.com", "receipts"), "suppressed:hard_bounce");
    }

    fn usable_entries_apply_and_the_rest_are_reported(app) {
        app.topics().offers(TopicBuilder::opt_out).create();
        let report = deliver(&app, json!([
            {"email": "ok@example.com", "type": "hard_bounce"},
            {"email": "not-an-address", "type": "hard_bounce"},
            {"email": "x@example.com", "type": "bounced"},
            {"email": "y@example.com", "type": "unsubscribe", "topic": "nope"},
            {"email": "z@example.com", "type": "complaint", "colour": "red"},
        ]));
        assert_eq!((report["applied"].as_u64(), report["failed"].as_u64()), (Some(1), Some(4)), "{report}");
        let failed: Vec<u64> = report["errors"].as_array().unwrap().iter().map(|e| e["index"].as_u64().unwrap()).collect();
        assert_eq!(failed, [1, 2, 3, 4]);
        assert_eq!(app.reason("ok@example.com", "receipts"), "suppressed:hard_bounce");
        app.get("/v1/contacts/y%40example.com").send().problem(404, "not_found");
        app.post("/v1/feedback/generic").body("application/json", "{broken").send().problem(400, "malformed");
        app.post("/v1/feedback/generic").json(json!("a string")).send().problem(400, "malformed");
        let problem = app.post("/v1/feedback/generic").json(json!({"email": "x@example.com"})).send().problem(400, "malformed");
        assert!(problem["detail"].as_str().unwrap().contains("type"), "{problem}");
        app.post("/v1/feedback/nope").json(json!([])).send().problem(404, "not_found");
        app.post("/v1/feedback/generic").key(&app.key(&["check"])).json(json!([])).send().problem(403, "forbidden");
    }
}
