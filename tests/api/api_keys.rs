//! API keys: who may call what.

use serde_json::json;

use crate::support::each_backend;

each_backend! {
    fn scopes_are_enforced_per_route(app) {
        app.topic("news").create();
        let check = app.key(&["check"]);
        let contacts = app.key(&["contacts"]);
        let admin = app.key(&["admin"]);
        // Topics and keys need admin.
        app.get("/v1/topics").key(&check).send().problem(403, "forbidden");
        app.get("/v1/topics").key(&contacts).send().problem(403, "forbidden");
        assert_eq!(app.get("/v1/topics").key(&admin).send().status, 200);
        app.get("/v1/api-keys").key(&contacts).send().problem(403, "forbidden");
        // Contacts need contacts (or admin, which implies every scope).
        app.put("/v1/contacts/a%40example.com").key(&check).json(json!({})).send().problem(403, "forbidden");
        assert_eq!(app.put("/v1/contacts/a%40example.com").key(&contacts).json(json!({})).send().status, 201);
        assert_eq!(app.get("/v1/contacts/a%40example.com").key(&admin).send().status, 200);
    }

    fn missing_or_wrong_credentials_are_401(app) {
        let reply = app.get("/v1/topics").anonymous().send();
        reply.problem(401, "unauthorized");
        assert_eq!(reply.header("www-authenticate"), Some("Bearer, Basic realm=\"prefcenter\""));
        app.get("/v1/topics").key("pc_0000000000_00000000000000000000000000000000").send().problem(401, "unauthorized");
        app.get("/v1/topics").key("not-even-a-key").send().problem(401, "unauthorized");
        app.get("/v1/topics").anonymous().header("authorization", "Basic YTpi").send().problem(401, "unauthorized");
        // Authentication comes before the body is read.
        app.post("/v1/topics").anonymous().body("application/json", "{broken").send().problem(401, "unauthorized");
        app.post("/v1/topics").key(&app.key(&["check"])).body("application/json", "{broken").send().problem(403, "forbidden");
    }

    fn a_created_key_works_and_its_secret_is_never_listed(app) {
        let created = app.post("/v1/api-keys").json(json!({"name": "mailer", "scopes": ["check", "suppressions"]})).send();
        assert_eq!(created.status, 201, "{}", created.body);
        let created = created.json();
        let secret = created["secret"].as_str().unwrap();
        assert!(secret.starts_with(created["prefix"].as_str().unwrap()));
        assert_eq!(created["scopes"], json!(["check", "suppressions"]));
        let listed = app.get("/v1/api-keys").send();
        assert!(!listed.body.contains(secret), "a listing never holds a secret");
        assert!(listed.json().as_array().unwrap().iter().any(|k| k["id"] == created["id"]));
        app.post("/v1/api-keys").json(json!({"name": "x", "scopes": []})).send().problem(422, "invalid");
        app.post("/v1/api-keys").json(json!({"name": "", "scopes": ["check"]})).send().problem(422, "invalid");
        app.post("/v1/api-keys").json(json!({"name": "x", "scopes": ["root"]})).send().problem(422, "invalid");
    }

    fn a_revoked_key_stops_working_at_once(app) {
        let secret = app.key(&["admin"]);
        assert_eq!(app.get("/v1/topics").key(&secret).send().status, 200, "verified and cached");
        let id = app.get("/v1/api-keys").send().json().as_array().unwrap().iter()
            .find(|k| secret.starts_with(k["prefix"].as_str().unwrap())).unwrap()["id"].as_str().unwrap().to_owned();
        assert_eq!(app.delete(&format!("/v1/api-keys/{id}")).send().status, 204);
        app.get("/v1/topics").key(&secret).send().problem(401, "unauthorized");
        app.delete(&format!("/v1/api-keys/{id}")).send().problem(404, "not_found");
        let listed = app.get("/v1/api-keys").send().json();
        let revoked = listed.as_array().unwrap().iter().find(|k| k["id"] == id.as_str()).unwrap();
        assert!(revoked["revoked_at"].is_string());
    }

    fn repeated_wrong_secrets_for_one_key_are_rate_limited(app) {
        let secret = app.key(&["check"]);
        let (known, _) = secret.rsplit_once('_').unwrap();
        let wrong = format!("{known}_{}", "x".repeat(32));
        for _ in 0..5 {
            app.get("/v1/topics").key(&wrong).send().problem(401, "unauthorized");
        }
        let limited = app.get("/v1/topics").key(&wrong).send();
        limited.problem(429, "rate_limited");
        assert!(limited.header("retry-after").unwrap().parse::<u64>().unwrap() > 0);
    }
}
