//! Bad input gets a clear problem+json answer and changes nothing.

use serde_json::json;

use crate::support::each_backend;

each_backend! {
    fn malformed_json_is_400(app) {
        for body in ["{", "", "{\"key\":", r#"{"key": "a", "name": "A", "category": "promotional"} trailing"#] {
            app.post("/v1/topics").body("application/json", body).send().problem(400, "malformed");
        }
    }

    fn another_content_type_is_415(app) {
        let body = r#"{"key": "news", "name": "News", "category": "promotional"}"#;
        app.post("/v1/topics").body("text/plain", body).send().problem(415, "unsupported_media_type");
        app.post("/v1/topics").body("application/x-www-form-urlencoded", "key=news").send().problem(415, "unsupported_media_type");
        assert_eq!(app.post("/v1/topics").body("application/json; charset=utf-8", body).send().status, 201);
    }

    fn an_oversized_body_is_413(app) {
        let big = format!(r#"{{"key": "news", "name": "News", "category": "promotional", "description": "{}"}}"#, "x".repeat(1024 * 1024));
        app.post("/v1/topics").body("application/json", big).send().problem(413, "too_large");
        app.get("/v1/topics/news").send().problem(404, "not_found");
    }

    fn wrong_values_are_422_naming_the_field(app) {
        app.topic("news").create();
        let cases = [
            (json!({"locale": "français"}), "locale"),
            (json!({"unsubscribed_all": "yes"}), "unsubscribed_all"),
            (json!({"subscriptions": ["news"]}), "subscriptions"),
            (json!({"source": "carrier-pigeon"}), "source"),
            (json!({"resubscribe": {"consent": ""}}), "resubscribe.consent"),
            (json!({"external_id": ""}), "external_id"),
            (json!({"nickname": "al"}), "nickname"),
        ];
        for (body, field) in cases {
            let problem = app.put("/v1/contacts/a%40example.com").json(body.clone()).send().problem(422, "invalid");
            assert_eq!(problem["errors"][0]["field"], field, "{body} gave {problem}");
        }
        app.get("/v1/contacts/a%40example.com").send().problem(404, "not_found");
    }

    fn unknown_routes_and_methods(app) {
        app.get("/nope").send().problem(404, "not_found");
        app.get("/v1/nope").send().problem(404, "not_found");
        app.get("/v1/nope").anonymous().send().problem(401, "unauthorized");
        app.post("/healthz").send().problem(405, "method_not_allowed");
        app.delete("/v1/contacts/a%40example.com/events").send().problem(405, "method_not_allowed");
    }
}
