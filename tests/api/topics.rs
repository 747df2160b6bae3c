//! Topics: the operator defines the kinds of mail there are.

use serde_json::json;

use crate::support::{each_backend, without_times};

each_backend! {
    fn a_topic_is_created_and_read_back(app) {
        let created = app.topic("newsletter")
            .opt_out()
            .with("name", json!("Newsletter"))
            .with("description", json!("Monthly news"))
            .with("translations", json!({"fr": {"name": "Lettre d'information", "description": "Chaque mois"}}))
            .create();
        let expected = json!({
            "key": "newsletter", "name": "Newsletter", "description": "Monthly news", "frequency": null,
            "category": "promotional", "default_subscribed": true, "public": true, "position": 0,
            "translations": {"fr": {"name": "Lettre d'information", "description": "Chaque mois"}},
            "archived_at": null,
        });
        assert_eq!(without_times(created.clone()), expected);
        let read = app.get("/v1/topics/newsletter").send();
        assert_eq!(read.status, 200);
        assert_eq!(read.json(), created);
    }

    fn defaults_are_opt_in_and_public(app) {
        let topic = app.topic("offers").create();
        assert_eq!(topic["default_subscribed"], false);
        assert_eq!(topic["public"], true);
        assert_eq!(topic["translations"], json!({}));
    }

    fn a_duplicate_key_is_a_conflict(app) {
        app.topic("news").create();
        app.post("/v1/topics").json(json!({"key": "news", "name": "Again", "category": "promotional"}))
            .send()
            .problem(409, "topic_exists");
    }

    fn invalid_topics_name_the_field(app) {
        let cases = [
            (json!({"key": "News!", "name": "x", "category": "promotional"}), "key"),
            (json!({"key": "news", "name": "x", "category": "marketing"}), "category"),
            (json!({"key": "news", "name": "  ", "category": "promotional"}), "name"),
            (json!({"key": "news", "category": "promotional"}), "body"),
            (json!({"key": "news", "name": "x", "category": "promotional", "colour": "red"}), "colour"),
            (json!({"key": "news", "name": "x", "category": "promotional", "translations": {"french": {"name": "x"}}}), "translations.french"),
        ];
        for (body, field) in cases {
            let problem = app.post("/v1/topics").json(body.clone()).send().problem(422, "invalid");
            assert_eq!(problem["errors"][0]["field"], field, "{body} gave {problem}");
        }
        assert_eq!(app.get("/v1/topics").send().json(), json!([]), "nothing was created");
    }

    fn topics_list_in_the_operators_order(app) {
        app.topic("b").create();
        app.topic("a").create();
        app.topic("c").with("position", json!(-1)).create();
        let keys: Vec<String> = app.get("/v1/topics").send().json().as_array().unwrap()
            .iter().map(|t| t["key"].as_str().unwrap().to_owned()).collect();
        assert_eq!(keys, ["c", "b", "a"]);
    }

    fn a_patch_changes_only_what_it_names(app) {
        app.topic("news").with("translations", json!({"fr": {"name": "Nouvelles"}})).create();
        let patched = app.patch("/v1/topics/news")
            .json(json!({"description": "Weekly", "translations": {"de": {"name": "Neuigkeiten"}}}))
            .send();
        assert_eq!(patched.status, 200, "{}", patched.body);
        let topic = patched.json();
        assert_eq!(topic["name"], "NEWS");
        assert_eq!(topic["description"], "Weekly");
        assert_eq!(topic["translations"], json!({"de": {"name": "Neuigkeiten", "description": ""}}));
        app.patch("/v1/topics/nope").json(json!({"name": "x"})).send().problem(404, "not_found");
        app.patch("/v1/topics/news").json(json!({"key": "other"})).send().problem(422, "invalid");
    }

    fn deleting_an_unused_topic_removes_it(app) {
        app.topic("news").create();
        assert_eq!(app.delete("/v1/topics/news").send().status, 204);
        app.get("/v1/topics/news").send().problem(404, "not_found");
        app.delete("/v1/topics/news").send().problem(404, "not_found");
        app.topic("news").create();
    }

    fn deleting_a_topic_in_use_archives_it(app) {
        app.topic("news").create();
        app.contact("a@example.com", json!({"subscriptions": {"news": "subscribed"}}));
        assert_eq!(app.delete("/v1/topics/news").send().status, 204);
        let topic = app.get("/v1/topics/news").send().json();
        assert!(topic["archived_at"].is_string(), "{topic}");
        assert_eq!(app.get("/v1/topics").send().json(), json!([]));
        assert_eq!(app.get("/v1/topics?include_archived=true").send().json().as_array().unwrap().len(), 1);
        // An archived topic takes no new statuses, and its key stays taken.
        app.put("/v1/contacts/b@example.com").json(json!({"subscriptions": {"news": "subscribed"}}))
            .send().problem(422, "invalid");
        app.post("/v1/topics").json(json!({"key": "news", "name": "x", "category": "promotional"}))
            .send().problem(409, "topic_exists");
        // The contact keeps its status, and the operator can restore the topic.
        assert_eq!(app.get("/v1/contacts/a%40example.com").send().json()["subscriptions"], json!({"news": "subscribed"}));
        let restored = app.patch("/v1/topics/news").json(json!({"archived": false})).send().json();
        assert_eq!(restored["archived_at"], json!(null));
    }
}
