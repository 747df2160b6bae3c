//! Hostile text: control characters, invalid UTF-8, invisible and lookalike characters,
//! values of the wrong JSON type. Each is refused where it enters, names what is wrong,
//! and stores nothing; what a recipient's link carries never stops their unsubscribe.

use prefcenter::domain::token::{Audience, Link, Recipient, TokenKeys};
use prefcenter::domain::TopicKey;
use serde_json::{json, Value};

use crate::support::{each_backend, encode, TestApp};

/// Characters no one-line field may hold: NUL (which PostgreSQL refuses outright), an
/// escape, DEL and a C1 control.
const CONTROLS: [char; 4] = ['\u{0}', '\u{1b}', '\u{7f}', '\u{85}'];

fn events(app: &TestApp) -> usize {
    app.get("/v1/changes?limit=10000").send().json()["events"].as_array().unwrap().len()
}

fn setup(app: &TestApp) {
    app.topic("news").opt_out().create();
    app.topic("offers").opt_out().create();
    app.contact("a@example.com", json!({"external_id": "user-1"}));
}

/// The JSON bodies whose field `field` is set to `value`, by route.
fn bodies(value: &str) -> Vec<(&'static str, &'static str, Value, &'static str)> {
    let address = format!("b{value}@example.com");
    vec![
        ("POST", "/v1/topics", json!({"key": "t1", "name": value, "category": "promotional"}), "name"),
        (
            "POST",
            "/v1/topics",
            json!({"key": "t1", "name": "T", "description": value, "category": "promotional"}),
            "description",
        ),
        (
            "POST",
            "/v1/topics",
            json!({"key": "t1", "name": "T", "category": "promotional", "translations": {"fr": {"name": value}}}),
            "translations.fr.name",
        ),
        ("PATCH", "/v1/topics/news", json!({"name": value}), "name"),
        (
            "PATCH",
            "/v1/topics/news",
            json!({"translations": {"fr": {"name": "N", "description": value}}}),
            "translations.fr.description",
        ),
        ("PUT", "/v1/contacts/b%40example.com", json!({"external_id": value}), "external_id"),
        (
            "PUT",
            "/v1/contacts/b%40example.com",
            json!({"message_id": value, "subscriptions": {"news": "unsubscribed"}}),
            "message_id",
        ),
        (
            "PUT",
            "/v1/contacts/b%40example.com",
            json!({"resubscribe": {"consent": value}}),
            "resubscribe.consent",
        ),
        (
            "PUT",
            "/v1/contacts/b%40example.com",
            json!({"resubscribe": {"consent": "form v3", "legal_basis": value}}),
            "resubscribe.legal_basis",
        ),
        ("PATCH", "/v1/contacts/a%40example.com", json!({"external_id": value}), "external_id"),
        ("PATCH", "/v1/contacts/a%40example.com", json!({"email": address}), "email"),
        (
            "PUT",
            "/v1/contacts/a%40example.com/subscriptions/news",
            json!({"status": "unsubscribed", "message_id": value}),
            "message_id",
        ),
        ("PUT", "/v1/suppressions/b%40example.com", json!({"reason": "manual", "note": value}), "note"),
        ("POST", "/v1/api-keys", json!({"name": value, "scopes": ["check"]}), "name"),
        (
            "POST",
            "/v1/check",
            json!({"email": "b@example.com", "topic": "news", "message_id": value}),
            "message_id",
        ),
        ("POST", "/v1/check", json!({"email": address, "topic": "news"}), "email"),
        (
            "POST",
            "/v1/check/batch",
            json!({"topic": "news", "emails": ["b@example.com"], "message_id": value}),
            "message_id",
        ),
        (
            "POST",
            "/v1/links",
            json!({"email": "b@example.com", "topic": "news", "message_id": value}),
            "message_id",
        ),
        ("POST", "/v1/links", json!({"email": address, "topic": "news"}), "email"),
        ("POST", "/v1/subscribe", json!({"email": address, "topics": ["news"]}), "email"),
        ("POST", "/v1/preferences/link", json!({"email": address}), "email"),
    ]
}

fn method(name: &str) -> reqwest::Method {
    name.parse().unwrap()
}

/// The report of a bulk route that got one line.
fn one_line(app: &TestApp, path: &str, content_type: &str, line: String) -> Value {
    let reply = app.post(path).body(content_type, line).send();
    assert_eq!(reply.status, 200, "{path}: {}", reply.body);
    reply.json()
}

each_backend! {
    fn controls_in_free_text_are_422_naming_the_field_and_store_nothing(app) {
        setup(&app);
        let before = events(&app);
        let keys = app.get("/v1/api-keys").send().json().as_array().unwrap().len();
        for control in CONTROLS {
            let value = format!("x{control}y");
            for (verb, path, body, field) in bodies(&value) {
                let reply = app.request(method(verb), path).json(body.clone()).send();
                let problem = reply.problem(422, "invalid");
                assert_eq!(problem["errors"][0]["field"], field, "{verb} {path} {body}: {problem}");
            }
            // Bulk routes report the line, and apply none of it.
            let encoded = serde_json::to_string(&value).unwrap();
            for (path, content_type, line, field) in [
                ("/v1/suppressions/import", "application/x-ndjson", format!(r#"{{"email": "b@example.com", "reason": "manual", "note": {encoded}}}"#), "note"),
                ("/v1/suppressions/import", "text/csv", format!("b@example.com,manual,all,{value}"), "note"),
                ("/v1/contacts/import", "application/x-ndjson", format!(r#"{{"email": "b@example.com", "external_id": {encoded}}}"#), "external_id"),
                ("/v1/contacts/import", "application/x-ndjson", format!(r#"{{"email": "b@example.com", "message_id": {encoded}}}"#), "message_id"),
            ] {
                let report = one_line(&app, path, content_type, line);
                assert_eq!(report["failed"], 1, "{path} {content_type}: {report}");
                assert!(report["errors"][0]["error"].as_str().unwrap().contains(field), "{report}");
            }
            for field in ["detail", "message_id", "id"] {
                let mut entry = json!({"email": "b@example.com", "type": "hard_bounce"});
                entry[field] = json!(value);
                let report = app.post("/v1/feedback/generic").json(json!([entry])).send().json();
                assert_eq!(report["failed"], 1, "{report}");
                assert!(report["errors"][0]["error"].as_str().unwrap().starts_with(field), "{report}");
            }
        }
        assert_eq!(events(&app), before, "nothing was recorded");
        app.get("/v1/contacts/b%40example.com").send().problem(404, "not_found");
        app.get("/v1/suppressions/b%40example.com").send().problem(404, "not_found");
        app.get("/v1/topics/t1").send().problem(404, "not_found");
        assert_eq!(app.get("/v1/topics/news").send().json()["name"], "NEWS");
        assert_eq!(app.get("/v1/contacts/a%40example.com").send().json()["external_id"], "user-1");
        assert_eq!(app.get("/v1/api-keys").send().json().as_array().unwrap().len(), keys);
    }

    fn a_note_or_a_description_keeps_its_lines_and_a_name_does_not(app) {
        setup(&app);
        let note = "550 5.1.1 user unknown\r\n\tfrom mx.example.com";
        let reply = app.put("/v1/suppressions/b%40example.com").json(json!({"reason": "manual", "note": note})).send();
        assert_eq!(reply.status, 201, "{}", reply.body);
        assert_eq!(reply.json()["note"], note);
        let patched = app.patch("/v1/topics/news").json(json!({"description": "Monthly.\nUnsubscribe any time."})).send();
        assert_eq!(patched.status, 200, "{}", patched.body);
        let problem = app.patch("/v1/topics/news").json(json!({"name": "News\nletter"})).send().problem(422, "invalid");
        assert_eq!(problem["errors"][0]["field"], "name");
        // An identifier refuses a bidi override and invisible characters; a name keeps them.
        let problem = app.put("/v1/contacts/c%40example.com").json(json!({"external_id": "user\u{202e}1"})).send().problem(422, "invalid");
        assert_eq!(problem["errors"][0]["field"], "external_id");
        assert_eq!(app.patch("/v1/topics/news").json(json!({"name": "חדשות\u{200f}"})).send().status, 200);
    }

    fn controls_in_a_path_never_reach_the_database(app) {
        setup(&app);
        let before = events(&app);
        for segment in ["%00", "a%0Ab", "%7F", "a%C2%85"] {
            let paths = [
                ("GET", format!("/v1/topics/{segment}")),
                ("PATCH", format!("/v1/topics/{segment}")),
                ("DELETE", format!("/v1/topics/{segment}")),
                ("GET", format!("/v1/contacts/{segment}")),
                ("PUT", format!("/v1/contacts/a{segment}%40example.com")),
                ("DELETE", format!("/v1/contacts/{segment}")),
                ("GET", format!("/v1/contacts/{segment}/events")),
                ("GET", format!("/v1/contacts/{segment}/export")),
                ("PUT", format!("/v1/contacts/a%40example.com/subscriptions/{segment}")),
                ("PUT", format!("/v1/suppressions/{segment}%40example.com")),
                ("GET", format!("/v1/suppressions/{segment}")),
                ("DELETE", format!("/v1/suppressions/{segment}")),
                ("DELETE", format!("/v1/api-keys/{segment}")),
                ("GET", format!("/v1/changes?after={segment}")),
                ("GET", format!("/v1/suppressions?after={segment}")),
                ("GET", format!("/u/{segment}")),
                ("POST", format!("/u/{segment}")),
                ("GET", format!("/p/{segment}")),
                ("POST", format!("/c/{segment}")),
                ("GET", format!("/static/{segment}")),
            ];
            for (verb, path) in paths {
                let reply = app.request(method(verb), &path).json(json!({"status": "unsubscribed", "reason": "manual"})).send();
                let problem = reply.problem(422, "invalid");
                let field = if path.contains('?') { "query" } else { "path" };
                assert_eq!(problem["errors"][0]["field"], field, "{verb} {path}: {problem}");
            }
        }
        assert_eq!(events(&app), before);
    }

    fn a_path_that_is_not_utf8_is_400_and_creates_nothing(app) {
        setup(&app);
        let before = events(&app);
        // Each a request that would succeed if its path were read lossily.
        for (verb, path, body) in [
            ("PUT", "/v1/contacts/%FF%FE%40example.com", json!({})),
            ("PUT", "/v1/suppressions/a%C3%40example.com", json!({"reason": "manual"})),
            ("GET", "/v1/topics/%ED%A0%80", json!(null)),
            ("POST", "/u/%FF", json!(null)),
            ("GET", "/v1/changes?after=%FF", json!(null)),
        ] {
            app.request(method(verb), path).json(body).send().problem(400, "malformed");
        }
        assert_eq!(events(&app), before, "no contact, no suppression");
        app.get(&format!("/v1/contacts/{}", encode("\u{fffd}\u{fffd}@example.com"))).send().problem(404, "not_found");
    }

    fn invisible_characters_and_lookalikes_never_make_a_second_address(app) {
        setup(&app);
        // Fullwidth forms are the same address as their plain ones.
        let created = app.put(&format!("/v1/contacts/{}", encode("ｂｏｂ＠ｅｘａｍｐｌｅ．ｃｏｍ"))).json(json!({})).send();
        assert_eq!(created.status, 201, "{}", created.body);
        assert_eq!(created.json()["email"], "bob@example.com");
        let again = app.put("/v1/contacts/Bob%40example.com").json(json!({})).send();
        assert_eq!((again.status, again.json()["id"].clone()), (200, created.json()["id"].clone()));
        let suppressed = app.put(&format!("/v1/suppressions/{}", encode("ＣＡＲＯＬ@example.com"))).json(json!({"reason": "manual"})).send();
        assert_eq!(suppressed.json()["email"], "carol@example.com");
        assert_eq!(app.reason("carol@example.com", "news"), "suppressed:manual");
        assert_eq!(app.reason("ｃａｒｏｌ@example.com", "news"), "suppressed:manual");
        // Characters that show nothing are refused, wherever an address is read.
        for invisible in ['\u{200b}', '\u{202e}', '\u{feff}', '\u{ad}'] {
            let address = format!("bo{invisible}b@example.com");
            let problem = app.put(&format!("/v1/contacts/{}", encode(&address))).json(json!({})).send().problem(422, "invalid");
            assert_eq!(problem["errors"][0]["field"], "email");
            app.post("/v1/check").json(json!({"email": address, "topic": "news"})).send().problem(422, "invalid");
            let batch = app.post("/v1/check/batch").json(json!({"topic": "news", "emails": [address]})).send().json();
            assert_eq!(batch["results"][0]["error"], "invalid_email", "{batch}");
            app.put(&format!("/v1/suppressions/{}", encode(&address))).json(json!({"reason": "manual"})).send().problem(422, "invalid");
        }
        let contacts = app.get("/v1/changes?limit=10000").send().json()["events"].as_array().unwrap().iter()
            .filter(|e| e["type"] == "contact_created").count();
        assert_eq!(contacts, 2, "a@ and bob@ only");
    }

    fn a_value_of_the_wrong_json_type_is_422_naming_the_field(app) {
        setup(&app);
        for (verb, path, body, field) in [
            ("PUT", "/v1/suppressions/b%40example.com", json!({"reason": 7}), "reason"),
            ("PUT", "/v1/suppressions/b%40example.com", json!({"reason": "manual", "scope": true}), "scope"),
            ("POST", "/v1/topics", json!({"key": "k", "name": "K", "category": 7}), "category"),
            ("PUT", "/v1/contacts/a%40example.com/subscriptions/news", json!({"status": []}), "status"),
            ("PUT", "/v1/contacts/a%40example.com", json!({"subscriptions": {"news": 1}}), "subscriptions.news"),
            ("PUT", "/v1/contacts/a%40example.com", json!({"source": 1.5}), "source"),
            ("POST", "/v1/api-keys", json!({"name": "k", "scopes": [1]}), "scopes[0]"),
        ] {
            let problem = app.request(method(verb), path).json(body.clone()).send().problem(422, "invalid");
            assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem}");
        }
        app.get("/v1/suppressions/b%40example.com").send().problem(404, "not_found");
    }

    /// serde would read a struct from an array, field by field: a patch sent as
    /// `["x"]` would set whatever field comes first.
    fn an_array_for_an_object_is_422_and_changes_nothing(app) {
        setup(&app);
        let (before, topic_before): (usize, Value) = (events(&app), app.get("/v1/topics/news").send().json());
        for (verb, path, body) in [
            ("PATCH", "/v1/topics/news", json!(["Renamed"])),
            ("PATCH", "/v1/topics/news", json!([])),
            ("PUT", "/v1/contacts/a%40example.com", json!(["other-id"])),
            ("POST", "/v1/check", json!(["a@example.com", "news"])),
        ] {
            let problem = app.request(method(verb), path).json(body.clone()).send().problem(422, "invalid");
            assert_eq!(problem["errors"][0]["field"], "body", "{body}: {problem}");
        }
        assert_eq!(events(&app), before, "nothing was recorded");
        let topic: Value = app.get("/v1/topics/news").send().json();
        assert_eq!(topic["name"], topic_before["name"], "{topic}");
    }

    fn method_not_allowed_says_what_is(app) {
        let allowed = |verb: &str, path: &str| -> Vec<String> {
            let reply = app.request(method(verb), path).send();
            reply.problem(405, "method_not_allowed");
            let mut methods: Vec<String> = reply.header("allow").unwrap_or_default().split(',').map(|m| m.trim().to_owned()).collect();
            methods.sort();
            methods
        };
        assert_eq!(allowed("POST", "/healthz"), ["GET", "HEAD"]);
        assert_eq!(allowed("DELETE", "/v1/contacts/a%40example.com/events"), ["GET", "HEAD"]);
        assert_eq!(allowed("PATCH", "/v1/suppressions/a%40example.com"), ["DELETE", "GET", "HEAD", "PUT"]);
        assert_eq!(allowed("GET", "/v1/contacts/import"), ["POST"]);
        assert_eq!(allowed("PUT", "/u/not-a-token"), ["GET", "HEAD", "POST"]);
    }

    fn head_is_answered_wherever_get_is(app) {
        app.topic("news").create();
        for path in ["/healthz", "/readyz", "/openapi.json", "/v1/topics", "/v1/topics/news", "/static/style.css"] {
            let reply = app.request(reqwest::Method::HEAD, path).send();
            assert_eq!(reply.status, 200, "HEAD {path}");
            assert!(reply.body.is_empty(), "HEAD {path} has no body");
        }
        assert_eq!(app.request(reqwest::Method::HEAD, "/v1/topics/nope").send().status, 404);
        assert_eq!(app.request(reqwest::Method::HEAD, "/v1/topics").anonymous().send().status, 401);
    }

    fn a_soft_bounce_dated_in_the_future_does_not_count(app) {
        app.topic("receipts").transactional().create();
        let soon = |seconds: i64| (chrono::Utc::now() + chrono::TimeDelta::seconds(seconds)).to_rfc3339();
        let bounce = |email: &str, at: &str| json!({"email": email, "type": "soft_bounce", "occurred_at": at});
        let far = "9999-12-31T00:00:00Z";
        let report = app.post("/v1/feedback/generic").json(json!([
            bounce("full@example.com", far), bounce("full@example.com", far), bounce("full@example.com", far),
            bounce("full@example.com", &soon(86_400)),
        ])).send().json();
        assert_eq!((report["applied"].as_u64(), report["failed"].as_u64()), (Some(0), Some(4)), "{report}");
        assert!(report["errors"][0]["error"].as_str().unwrap().starts_with("occurred_at"), "{report}");
        assert_eq!(app.reason("full@example.com", "receipts"), "transactional", "not suppressed");
        // A provider's clock a little ahead of ours is forgiven: these count, as now.
        let report = app.post("/v1/feedback/generic").json(json!([
            bounce("full@example.com", &soon(0)), bounce("full@example.com", &soon(30)), bounce("full@example.com", &soon(60)),
        ])).send().json();
        assert_eq!(report["applied"], 3, "{report}");
        assert_eq!(app.reason("full@example.com", "receipts"), "suppressed:soft_bounce");
        let expires = app.get("/v1/suppressions/full%40example.com").send().json()["expires_at"].as_str().unwrap().to_owned();
        let expires = chrono::DateTime::parse_from_rfc3339(&expires).unwrap();
        assert!(expires < chrono::Utc::now() + chrono::TimeDelta::days(8), "suppressed for 7 days from now: {expires}");
    }

    fn a_link_whose_message_id_is_unusable_still_unsubscribes(app) with known_keys {
        setup(&app);
        let id = app.get("/v1/contacts/a%40example.com").send().json()["id"].as_str().unwrap().to_owned();
        let recipient = Recipient::Contact(id.parse().unwrap());
        let link = |audience, topic: Option<&str>, message_id: &str| signer().sign(&Link {
            recipient,
            audience,
            topic: topic.map(|t| TopicKey::parse(t).unwrap()),
            message_id: Some(message_id.to_owned()),
            issued_at: chrono::Utc::now().timestamp(),
            expires_at: chrono::Utc::now().timestamp() + 3600,
        });
        // One-click and the page's button on an unsubscribe link.
        let token = link(Audience::Unsubscribe, Some("news"), "m\u{0}1");
        assert_eq!(app.get(&format!("/u/{token}")).anonymous().send().status, 200, "the landing page");
        let reply = app.post(&format!("/u/{token}")).anonymous().body("application/x-www-form-urlencoded", "List-Unsubscribe=One-Click").send();
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(app.reason("a@example.com", "news"), "unsubscribed_topic");
        let token = link(Audience::Unsubscribe, None, "\u{202e}m2");
        let reply = app.post(&format!("/u/{token}")).anonymous().body("application/x-www-form-urlencoded", "action=unsubscribe").send();
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(app.reason("a@example.com", "offers"), "unsubscribed_all");
        // The preference API and the page's form on a preference link.
        app.contact("a@example.com", json!({"unsubscribed_all": false, "resubscribe": {"consent": "asked again"}}));
        let token = link(Audience::Preferences, None, "m\u{0}3");
        let reply = app.put("/v1/preferences").anonymous().header("authorization", &format!("Bearer {token}"))
            .json(json!({"topics": {"offers": false}})).send();
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(app.reason("a@example.com", "offers"), "unsubscribed_topic");
        let reply = app.post(&format!("/p/{token}")).anonymous().body("application/x-www-form-urlencoded", "shown=news&shown=offers").send();
        assert_eq!(reply.status, 303, "{}", reply.body);
        assert_eq!(app.reason("a@example.com", "news"), "unsubscribed_topic");
        // Recorded without the message id the links carried.
        let recorded: Vec<Value> = app.events("a@example.com").into_iter().filter(|e| e["source"] == "one_click" || e["source"] == "page").collect();
        assert!(recorded.len() >= 3, "{recorded:?}");
        assert!(recorded.iter().all(|e| e["message_id"].is_null()), "{recorded:?}");
    }
}

const SIGNING_KEY: [u8; 32] = [7; 32];

fn known_keys(config: &mut prefcenter::Config) {
    config.signing_keys = Some(signing_spec());
}

fn signing_spec() -> String {
    use base64::Engine;
    format!("k1:{}", base64::engine::general_purpose::STANDARD.encode(SIGNING_KEY))
}

fn signer() -> TokenKeys {
    TokenKeys::parse(&signing_spec()).unwrap()
}
