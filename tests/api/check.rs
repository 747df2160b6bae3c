//! Send decisions: one address, batches, links.

use serde_json::{json, Value};

use crate::support::{each_backend, TestApp};

fn check(app: &TestApp, email: &str, topic: &str) -> Value {
    let reply = app.post("/v1/check").json(json!({"email": email, "topic": topic})).send();
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()
}

fn suppress(app: &TestApp, email: &str, body: Value) {
    let reply = app.put(&format!("/v1/suppressions/{}", crate::support::encode(email))).json(body).send();
    assert!(reply.status == 201 || reply.status == 200, "{}", reply.body);
}

each_backend! {
    fn every_rule_gives_its_reason(app) {
        app.topics().create();
        app.contact("sub@example.com", json!({"subscriptions": {"offers": "subscribed"}}));
        app.contact("unsub@example.com", json!({"subscriptions": {"news": "unsubscribed"}}));
        app.contact("pending@example.com", json!({"subscriptions": {"offers": "pending"}}));
        app.contact("all@example.com", json!({"unsubscribed_all": true, "subscriptions": {"offers": "subscribed"}}));
        suppress(&app, "bounced@example.com", json!({"reason": "hard_bounce"}));
        suppress(&app, "complained@example.com", json!({"reason": "complaint"}));
        let table = [
            ("new@example.com", "news", true, "default_subscribed"),
            ("new@example.com", "offers", false, "no_consent"),
            ("new@example.com", "receipts", true, "transactional"),
            ("sub@example.com", "offers", true, "subscribed"),
            ("unsub@example.com", "news", false, "unsubscribed_topic"),
            ("unsub@example.com", "receipts", true, "transactional"),
            ("pending@example.com", "offers", false, "pending_confirmation"),
            ("all@example.com", "offers", false, "unsubscribed_all"),
            ("all@example.com", "receipts", true, "transactional"),
            ("bounced@example.com", "receipts", false, "suppressed:hard_bounce"),
            ("complained@example.com", "news", false, "suppressed:complaint"),
            ("complained@example.com", "receipts", true, "transactional"),
        ];
        for (email, topic, allowed, why) in table {
            let decision = check(&app, email, topic);
            assert_eq!((decision["allowed"].as_bool().unwrap(), decision["reason"].as_str().unwrap()), (allowed, why), "{email} / {topic}");
        }
    }

    fn allowed_promotional_mail_carries_one_click_headers(app) {
        app.topics().create();
        let decision = check(&app, " New@Example.com", "news");
        assert_eq!(decision["email"], "new@example.com");
        assert_eq!(decision["topic"], "news");
        let headers = decision["headers"].as_object().unwrap();
        let unsubscribe = headers["List-Unsubscribe"].as_str().unwrap();
        assert!(unsubscribe.starts_with(&format!("<{}/u/", app.base())) && unsubscribe.ends_with('>'), "{unsubscribe}");
        assert!(!unsubscribe.contains("new%40example") && !unsubscribe.contains("new@example"), "no address in the link");
        assert_eq!(headers["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click");
        assert_eq!(check(&app, "new@example.com", "receipts")["headers"], json!({}), "transactional: no headers");
        assert_eq!(check(&app, "new@example.com", "offers")["headers"], json!({}), "denied: no headers");
    }

    fn a_decision_for_an_unknown_address_stores_nothing(app) {
        app.topics().create();
        assert!(check(&app, "stranger@example.com", "news")["allowed"].as_bool().unwrap());
        app.get("/v1/contacts/stranger%40example.com").send().problem(404, "not_found");
        let changes = app.get("/v1/changes?limit=1000").send().json();
        assert!(changes["events"].as_array().unwrap().iter().all(|e| e["type"] == "topic_changed"), "{changes}");
    }

    fn a_write_is_visible_to_the_next_check_at_once(app) {
        app.topics().create();
        assert_eq!(app.reason("a@example.com", "news"), "default_subscribed");
        app.contact("a@example.com", json!({"subscriptions": {"news": "unsubscribed"}}));
        assert_eq!(app.reason("a@example.com", "news"), "unsubscribed_topic");
        suppress(&app, "a@example.com", json!({"reason": "hard_bounce"}));
        assert_eq!(app.reason("a@example.com", "receipts"), "suppressed:hard_bounce");
        assert_eq!(app.delete("/v1/suppressions/a%40example.com").send().status, 204);
        assert_eq!(app.reason("a@example.com", "receipts"), "transactional");
        app.patch("/v1/topics/offers").json(json!({"default_subscribed": true})).send();
        assert_eq!(app.reason("b@example.com", "offers"), "default_subscribed");
        app.patch("/v1/topics/news").json(json!({"category": "transactional"})).send();
        assert_eq!(app.reason("a@example.com", "news"), "transactional");
    }

    fn a_corrected_address_takes_its_statuses_along(app) {
        app.topics().create();
        app.contact("old@example.com", json!({"subscriptions": {"offers": "subscribed"}}));
        suppress(&app, "old@example.com", json!({"reason": "hard_bounce"}));
        app.patch("/v1/contacts/old%40example.com").json(json!({"email": "new@example.com"})).send();
        assert_eq!(app.reason("new@example.com", "offers"), "subscribed");
        assert_eq!(app.reason("old@example.com", "offers"), "suppressed:hard_bounce", "the bounce stays with the address");
    }

    fn bad_checks_are_refused(app) {
        app.topics().create();
        let problem = app.post("/v1/check").json(json!({"email": "nope", "topic": "news"})).send().problem(422, "invalid");
        assert_eq!(problem["errors"][0]["field"], "email");
        app.post("/v1/check").json(json!({"email": "a@example.com", "topic": "nope"})).send().problem(404, "not_found");
        app.post("/v1/check").json(json!({"email": "a@example.com"})).send().problem(422, "invalid");
        app.post("/v1/check").key(&app.key(&["contacts"])).json(json!({"email": "a@example.com", "topic": "news"})).send().problem(403, "forbidden");
        assert_eq!(app.post("/v1/check").key(&app.key(&["check"])).json(json!({"email": "a@example.com", "topic": "news"})).send().status, 200);
    }

    fn a_batch_answers_in_request_order(app) {
        app.topics().create();
        app.contact("b@example.com", json!({"subscriptions": {"news": "unsubscribed"}}));
        let reply = app.post("/v1/check/batch")
            .json(json!({"topic": "news", "emails": ["a@example.com", "not-an-address", "B@example.com", ""]}))
            .send();
        assert_eq!(reply.status, 200, "{}", reply.body);
        let results = reply.json()["results"].as_array().unwrap().clone();
        assert_eq!(results.len(), 4);
        assert_eq!((results[0]["email"].as_str(), results[0]["reason"].as_str()), (Some("a@example.com"), Some("default_subscribed")));
        assert!(results[0]["headers"]["List-Unsubscribe"].is_string());
        assert_eq!(results[1], json!({"input": "not-an-address", "error": "invalid_email"}));
        assert_eq!((results[2]["email"].as_str(), results[2]["reason"].as_str()), (Some("b@example.com"), Some("unsubscribed_topic")));
        assert_eq!(results[2]["headers"], json!({}));
        assert_eq!(results[3], json!({"input": "", "error": "invalid_email"}));
    }

    fn a_full_batch_is_answered_and_a_larger_one_refused(app) {
        app.topics().create();
        let emails: Vec<String> = (0..10_000).map(|i| format!("user{i}@example.com")).collect();
        let reply = app.post("/v1/check/batch").json(json!({"topic": "offers", "emails": emails})).send();
        assert_eq!(reply.status, 200);
        let results = reply.json()["results"].as_array().unwrap().clone();
        assert_eq!(results.len(), 10_000);
        assert_eq!(results[9_999]["email"], "user9999@example.com");
        let too_many: Vec<String> = (0..10_001).map(|i| format!("user{i}@example.com")).collect();
        let problem = app.post("/v1/check/batch").json(json!({"topic": "offers", "emails": too_many})).send().problem(422, "invalid");
        assert_eq!(problem["errors"][0]["field"], "emails");
        app.post("/v1/check/batch").json(json!({"topic": "nope", "emails": ["a@example.com"]})).send().problem(404, "not_found");
    }

    fn links_are_made_for_promotional_topics_only(app) {
        app.topics().create();
        let reply = app.post("/v1/links").json(json!({"email": "a@example.com", "topic": "offers", "message_id": "m-1"})).send();
        assert_eq!(reply.status, 200, "{}", reply.body);
        let links = reply.json();
        assert!(links["unsubscribe_url"].as_str().unwrap().starts_with(&format!("{}/u/", app.base())));
        assert!(links["preferences_url"].as_str().unwrap().starts_with(&format!("{}/p/", app.base())));
        assert_eq!(links["headers"]["List-Unsubscribe"], format!("<{}>", links["unsubscribe_url"].as_str().unwrap()));
        app.post("/v1/links").json(json!({"email": "a@example.com", "topic": "receipts"})).send().problem(422, "invalid");
        app.post("/v1/links").json(json!({"email": "a@example.com", "topic": "nope"})).send().problem(404, "not_found");
    }
}
