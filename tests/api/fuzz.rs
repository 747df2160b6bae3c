//! A property test over the whole HTTP surface: every text field of every body, every
//! path segment and every query of every route gets arbitrary text — NUL and other
//! controls, lone surrogates written as JSON escapes (`\ud800`), bidi overrides and
//! invisible characters, invalid UTF-8 in paths, strings of up to a megabyte — and the
//! server must never answer 5xx, nor stop answering.
//!
//! The routes come from a table here; the test first checks that the table covers every
//! route of the OpenAPI document the server serves, so that a new route cannot be
//! left out.

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::Method;
use serde_json::{json, Value};

use prefcenter::domain::token::{Audience, Link, Recipient, TokenKeys};

use crate::support::{each_backend, TestApp};

/// Cases per field of the API's own bodies, paths and queries.
const CASES: u32 = 64;
/// Cases per field of a provider's payload: most of it is read by pure code that looks
/// at a few fields (the feedback readers have a fuzz target of their own).
const PROVIDER_CASES: u32 = 16;

/// One piece of a hostile value.
#[derive(Debug, Clone)]
enum Piece {
    Text(String),
    /// A JSON escape, with the character it stands for (none for a lone surrogate).
    Escape(&'static str, Option<char>),
    /// A raw byte in a path or query (`%FF`): may make it invalid UTF-8.
    Byte(u8),
}

const ESCAPES: &[(&str, Option<char>)] = &[
    (r"\u0000", Some('\u{0}')),
    (r"\u0001", Some('\u{1}')),
    (r"\u001b", Some('\u{1b}')),
    (r"\u007f", Some('\u{7f}')),
    (r"\u0085", Some('\u{85}')),
    (r"\n", Some('\n')),
    (r"\r", Some('\r')),
    (r"\t", Some('\t')),
    (r"\u2028", Some('\u{2028}')),
    (r"\u202e", Some('\u{202e}')),
    (r"\u200b", Some('\u{200b}')),
    (r"\ufeff", Some('\u{feff}')),
    (r"\uffff", Some('\u{ffff}')),
    (r"\ud800", None),
    (r"\udfff", None),
    (r"\ud83d\ude00", Some('😀')),
];

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        8 => any::<String>().prop_map(Piece::Text),
        8 => proptest::sample::select(ESCAPES).prop_map(|(e, c)| Piece::Escape(e, c)),
        3 => any::<u8>().prop_map(Piece::Byte),
        2 => proptest::sample::select(&["z@example.com", "ｚ＠ｅｘａｍｐｌｅ．ｃｏｍ", "news", "2099-01-01T00:00:00Z", "-1", "9223372036854775808", "null", "true", "%", "/", "..", "\"", "'", ","][..])
            .prop_map(|s| Piece::Text(s.to_owned())),
        // Long strings; rarely one over the 1 MiB body limit.
        1 => prop_oneof![
            15 => (1usize..20_000).prop_map(|n| Piece::Text("é".repeat(n))),
            1 => Just(Piece::Text("x".repeat(1_100_000))),
        ],
    ]
}

fn value() -> impl Strategy<Value = Vec<Piece>> {
    proptest::collection::vec(piece(), 0..6)
}

/// The value as the inside of a JSON string literal.
fn json_literal(pieces: &[Piece]) -> String {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Text(s) => serde_json::to_string(s).unwrap().trim_matches('"').to_owned(),
            Piece::Escape(e, _) => (*e).to_owned(),
            Piece::Byte(b) => format!("\\u{:04x}", b),
        })
        .collect()
}

/// The value as text (a CSV field, a form).
fn text(pieces: &[Piece]) -> String {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Text(s) => s.clone(),
            Piece::Escape(_, c) => c.map(String::from).unwrap_or_default(),
            Piece::Byte(b) => char::from(*b).to_string(),
        })
        .collect()
}

/// The value percent-encoded for a path segment or a query, raw bytes kept raw. Paths
/// are cut at 8,000 characters: beyond, the HTTP layer refuses the request line itself.
fn encoded(pieces: &[Piece]) -> String {
    let mut out = String::new();
    let mut push = |bytes: &[u8]| {
        out.extend(bytes.iter().map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => char::from(*b).to_string(),
            _ => format!("%{b:02X}"),
        }))
    };
    for p in pieces {
        match p {
            Piece::Text(s) => push(s.as_bytes()),
            // A lone surrogate as WTF-8 would write it: not UTF-8.
            Piece::Escape(_, None) => push(&[0xED, 0xA0, 0x80]),
            Piece::Escape(_, Some(c)) => push(c.to_string().as_bytes()),
            Piece::Byte(b) => push(&[*b]),
        }
    }
    out.chars().take(8_000).collect()
}

#[derive(Clone)]
enum Body {
    None,
    Json(Value),
    /// One NDJSON line.
    Ndjson(Value),
    /// A CSV header and one row.
    Csv(&'static str, &'static [&'static str]),
    /// A form body, fuzzed whole.
    Form,
}

#[derive(Clone, Copy)]
enum Auth {
    Admin,
    Anonymous,
    Preferences,
}

#[derive(Clone)]
struct Route {
    method: &'static str,
    /// As the OpenAPI document writes it.
    pattern: &'static str,
    /// A value for each `{parameter}`, in order, naming something that exists.
    params: Vec<String>,
    body: Body,
    auth: Auth,
    cases: u32,
}

fn route(method: &'static str, pattern: &'static str, params: &[&str], body: Body, auth: Auth) -> Route {
    Route {
        method,
        pattern,
        params: params.iter().map(|p| p.to_string()).collect(),
        body,
        auth,
        cases: CASES,
    }
}

fn fixture(path: &str) -> Value {
    let path = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn provider(pattern: &'static str, payload: Value) -> Route {
    Route { cases: PROVIDER_CASES, ..route("POST", pattern, &[], Body::Json(payload), Auth::Admin) }
}

/// Every route, with a body that exercises its fields.
fn routes(tokens: &Tokens) -> Vec<Route> {
    use Auth::*;
    let c = "a%40example.com";
    let contact = json!({"locale": "fr", "external_id": "u-1", "subscriptions": {"news": "subscribed"},
        "unsubscribed_all": false, "resubscribe": {"consent": "form v3", "legal_basis": "consent"},
        "source": "api", "message_id": "m-1"});
    let topic = json!({"key": "k", "name": "K", "description": "D", "category": "promotional",
        "default_subscribed": true, "public": true, "position": 1, "translations": {"fr": {"name": "N", "description": "D"}}});
    let notice = json!({"email": "n@example.com", "type": "soft_bounce", "topic": "news", "message_id": "m-1",
        "detail": "452 full", "id": "n-1", "occurred_at": "2020-01-01T00:00:00Z"});
    let sendgrid: Vec<Value> = fixture("sendgrid/events.json")
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            ["bounce", "dropped", "spamreport", "group_unsubscribe"]
                .contains(&e["event"].as_str().unwrap_or_default())
        })
        .cloned()
        .collect();
    let webhook = json!({"url": "https://hooks.example.com/prefs", "types": ["suppression_added"], "description": "CRM"});
    let webhook_patch = json!({"url": "https://hooks.example.com/v2", "types": ["contact_created"], "description": "D",
        "status": "enabled"});
    let (u, p, confirm, d) = (
        tokens.unsubscribe.as_str(),
        tokens.preferences.as_str(),
        tokens.confirm.as_str(),
        tokens.erase.as_str(),
    );
    let w = tokens.webhook.as_str();
    vec![
        route("GET", "/healthz", &[], Body::None, Anonymous),
        route("GET", "/readyz", &[], Body::None, Anonymous),
        route("GET", "/openapi.json", &[], Body::None, Anonymous),
        route("GET", "/metrics", &[], Body::None, Anonymous),
        route("GET", "/{path}", &["nope"], Body::None, Anonymous),
        route("POST", "/v1/{path}", &["nope"], Body::None, Admin),
        route(
            "POST",
            "/v1/check",
            &[],
            Body::Json(json!({"email": "a@example.com", "topic": "news", "message_id": "m-1"})),
            Admin,
        ),
        route(
            "POST",
            "/v1/check/batch",
            &[],
            Body::Json(
                json!({"topic": "news", "emails": ["a@example.com", "b@example.com"], "message_id": "m-1"}),
            ),
            Admin,
        ),
        route(
            "POST",
            "/v1/links",
            &[],
            Body::Json(json!({"email": "a@example.com", "topic": "news", "message_id": "m-1"})),
            Admin,
        ),
        route("GET", "/v1/topics", &[], Body::None, Admin),
        route("POST", "/v1/topics", &[], Body::Json(topic.clone()), Admin),
        route("GET", "/v1/topics/{key}", &["news"], Body::None, Admin),
        route(
            "PATCH",
            "/v1/topics/{key}",
            &["news"],
            Body::Json(json!({"name": "News", "description": "D", "category": "promotional",
            "default_subscribed": true, "public": true, "position": 0, "translations": {"fr": {"name": "N"}}, "archived": false})),
            Admin,
        ),
        route("DELETE", "/v1/topics/{key}", &["gone"], Body::None, Admin),
        route("PUT", "/v1/contacts/{contact}", &[c], Body::Json(contact.clone()), Admin),
        route("GET", "/v1/contacts/{contact}", &[c], Body::None, Admin),
        route(
            "PATCH",
            "/v1/contacts/{contact}",
            &[c],
            Body::Json(json!({"email": "a@example.com", "locale": "fr", "external_id": "u-1"})),
            Admin,
        ),
        route("DELETE", "/v1/contacts/{contact}", &["gone%40example.com"], Body::None, Admin),
        route("GET", "/v1/contacts/{contact}/events", &[c], Body::None, Admin),
        route("GET", "/v1/contacts/{contact}/export", &[c], Body::None, Admin),
        route(
            "PUT",
            "/v1/contacts/{contact}/subscriptions/{topic}",
            &[c, "news"],
            Body::Json(json!({"status": "subscribed",
            "resubscribe": {"consent": "form v3", "legal_basis": "consent"}, "source": "api", "message_id": "m-1"})),
            Admin,
        ),
        route(
            "POST",
            "/v1/contacts/import",
            &[],
            Body::Ndjson(json!({"email": "i@example.com", "locale": "fr", "external_id": "i-1",
            "subscriptions": {"news": "subscribed"}, "message_id": "m-1"})),
            Admin,
        ),
        route("GET", "/v1/suppressions", &[], Body::None, Admin),
        route(
            "PUT",
            "/v1/suppressions/{email}",
            &["s%40example.com"],
            Body::Json(json!({"reason": "manual", "scope": "all", "note": "n",
            "expires_at": "2099-01-01T00:00:00Z"})),
            Admin,
        ),
        route("GET", "/v1/suppressions/{email}", &["s%40example.com"], Body::None, Admin),
        route("DELETE", "/v1/suppressions/{email}", &["gone%40example.com"], Body::None, Admin),
        route(
            "POST",
            "/v1/suppressions/import",
            &[],
            Body::Ndjson(json!({"email": "i@example.com", "reason": "manual", "scope": "all",
            "note": "n", "expires_at": "2099-01-01T00:00:00Z"})),
            Admin,
        ),
        route(
            "POST",
            "/v1/suppressions/import",
            &[],
            Body::Csv(
                "email,reason,scope,note,expires_at",
                &["i@example.com", "manual", "all", "n", "2099-01-01T00:00:00Z"],
            ),
            Admin,
        ),
        route("GET", "/v1/suppressions/export", &[], Body::None, Admin),
        route("GET", "/v1/changes", &[], Body::None, Admin),
        route("POST", "/v1/feedback/generic", &[], Body::Json(json!([notice.clone()])), Admin),
        route("POST", "/v1/feedback/generic", &[], Body::Json(notice), Admin),
        provider("/v1/feedback/ses", fixture("ses/bounce-permanent.json")),
        provider("/v1/feedback/ses", fixture("ses/envelope-subscription-confirmation.json")),
        provider("/v1/feedback/ses", fixture("ses/envelope-notification.json")),
        provider("/v1/feedback/sendgrid", Value::Array(sendgrid)),
        provider("/v1/feedback/postmark", fixture("postmark/hard-bounce.json")),
        provider("/v1/feedback/postmark", fixture("postmark/subscription-change.json")),
        provider("/v1/feedback/mailgun", fixture("mailgun/failed-permanent.json")),
        provider("/v1/feedback/mailgun", fixture("mailgun/unsubscribed.json")),
        route("GET", "/v1/feedback/ses/confirmations", &[], Body::None, Admin),
        provider("/v1/inbound/ses", fixture("inbound/ses-received.json")),
        provider("/v1/inbound/postmark", fixture("inbound/postmark-inbound.json")),
        Route { cases: PROVIDER_CASES, ..route("POST", "/v1/inbound/sendgrid", &[], Body::Form, Admin) },
        Route { cases: PROVIDER_CASES, ..route("POST", "/v1/inbound/mailgun", &[], Body::Form, Admin) },
        route("GET", "/v1/api-keys", &[], Body::None, Admin),
        route("POST", "/v1/api-keys", &[], Body::Json(json!({"name": "k", "scopes": ["check"]})), Admin),
        route("DELETE", "/v1/api-keys/{id}", &["00000000-0000-0000-0000-000000000000"], Body::None, Admin),
        route("GET", "/v1/changes/consumers", &[], Body::None, Admin),
        route("PUT", "/v1/changes/consumers/{name}", &["crm"], Body::Json(json!({"after": 0})), Admin),
        route("DELETE", "/v1/changes/consumers/{name}", &["gone"], Body::None, Admin),
        route("GET", "/v1/webhooks", &[], Body::None, Admin),
        route("POST", "/v1/webhooks", &[], Body::Json(webhook.clone()), Admin),
        route("GET", "/v1/webhooks/{id}", &[w], Body::None, Admin),
        route("PATCH", "/v1/webhooks/{id}", &[w], Body::Json(webhook_patch), Admin),
        route("DELETE", "/v1/webhooks/{id}", &["00000000-0000-0000-0000-000000000000"], Body::None, Admin),
        route("GET", "/v1/webhooks/{id}/deliveries", &[w], Body::None, Admin),
        route("POST", "/v1/webhooks/{id}/replay", &[w], Body::Json(json!({"after": 0})), Admin),
        route(
            "POST",
            "/v1/webhooks/{id}/rotate",
            &[w],
            Body::Json(json!({"previous_valid_hours": 1})),
            Admin,
        ),
        route("POST", "/v1/preferences/link", &[], Body::Json(json!({"email": "a@example.com"})), Anonymous),
        route(
            "POST",
            "/v1/subscribe",
            &[],
            Body::Json(json!({"email": "new@example.com", "topics": ["news"], "locale": "fr"})),
            Anonymous,
        ),
        route("GET", "/v1/preferences", &[], Body::None, Preferences),
        route(
            "PUT",
            "/v1/preferences",
            &[],
            Body::Json(json!({"topics": {"news": false}, "unsubscribed_all": false, "locale": "fr"})),
            Preferences,
        ),
        route("GET", "/v1/preferences/export", &[], Body::None, Preferences),
        route("GET", "/v1/unsubscribe-reasons", &[], Body::None, Admin),
        route("GET", "/v1/stats", &[], Body::None, Admin),
        route("GET", "/u/{token}", &[u], Body::None, Anonymous),
        route("HEAD", "/u/{token}", &[u], Body::None, Anonymous),
        route("POST", "/u/{token}", &[u], Body::Form, Anonymous),
        route("POST", "/u/{token}/reason", &[u], Body::Form, Anonymous),
        route("GET", "/p/{token}", &[p], Body::None, Anonymous),
        route("POST", "/p/{token}", &[p], Body::Form, Anonymous),
        route("GET", "/p/{token}/delete", &[p], Body::None, Anonymous),
        // Mail the link that confirms an erasure (then refuse, past the mail limits).
        route("POST", "/p/{token}/delete", &[p], Body::Form, Anonymous),
        route("DELETE", "/v1/preferences", &[], Body::None, Preferences),
        route("GET", "/d/{token}", &[d], Body::None, Anonymous),
        route("GET", "/c/{token}", &[confirm], Body::None, Anonymous),
        route("HEAD", "/c/{token}", &[confirm], Body::None, Anonymous),
        route("POST", "/c/{token}", &[confirm], Body::Form, Anonymous),
        route("GET", "/link", &[], Body::None, Anonymous),
        route("POST", "/link", &[], Body::Form, Anonymous),
        route("GET", "/static/{name}", &["style.css"], Body::None, Anonymous),
        route("GET", "/brand/logo", &[], Body::None, Anonymous),
        route("GET", "/favicon.svg", &[], Body::None, Anonymous),
        // Last: it erases the preference link's owner.
        route("POST", "/d/{token}", &[d], Body::Form, Anonymous),
    ]
}

struct Tokens {
    unsubscribe: String,
    preferences: String,
    confirm: String,
    /// A webhook's id (not a token, but made in the same set-up).
    webhook: String,
    erase: String,
}

/// The paths of scalar leaves of a JSON value, as JSON pointers.
fn leaves(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(fields) => {
            for (name, field) in fields {
                leaves(field, format!("{at}/{}", name.replace('~', "~0").replace('/', "~1")), out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                leaves(item, format!("{at}/{i}"), out);
            }
        }
        _ => out.push(at),
    }
}

const MARKER: &str = "\u{1}fuzz\u{1}";

/// `template` as JSON text, the leaf at `pointer` replaced by a string of `pieces`.
fn with_leaf(template: &Value, pointer: &str, pieces: &[Piece]) -> String {
    let mut value = template.clone();
    *value.pointer_mut(pointer).unwrap() = Value::String(MARKER.into());
    let marker = serde_json::to_string(MARKER).unwrap();
    serde_json::to_string(&value).unwrap().replace(&marker, &format!("\"{}\"", json_literal(pieces)))
}

/// What is fuzzed in one run of cases.
#[derive(Debug, Clone)]
enum Field {
    Param(usize),
    Query,
    Leaf(String),
    CsvColumn(usize),
    Form,
}

fn fields(route: &Route) -> Vec<Field> {
    let mut fields: Vec<Field> = (0..route.params.len()).map(Field::Param).collect();
    fields.push(Field::Query);
    match &route.body {
        Body::Json(template) | Body::Ndjson(template) => {
            let mut pointers = Vec::new();
            leaves(template, String::new(), &mut pointers);
            fields.extend(pointers.into_iter().map(Field::Leaf));
        }
        Body::Csv(_, row) => fields.extend((0..row.len()).map(Field::CsvColumn)),
        Body::Form => fields.push(Field::Form),
        Body::None => {}
    }
    fields
}

/// One request: the route with `field` set to `pieces`. Returns what was sent and the
/// status.
fn send(
    app: &TestApp,
    tokens: &Tokens,
    route: &Route,
    field: &Field,
    pieces: &[Piece],
) -> (String, u16, String) {
    let mut params = route.params.clone();
    let mut query = String::new();
    match field {
        Field::Param(i) => params[*i] = encoded(pieces),
        Field::Query => query = format!("?x={}&after={0}&limit={0}&reason={0}", encoded(pieces)),
        _ => {}
    }
    let mut path = route.pattern.to_owned();
    for param in &params {
        let start = path.find('{').unwrap();
        let end = path[start..].find('}').unwrap() + start;
        path.replace_range(start..=end, param);
    }
    path.push_str(&query);
    let mut call = app.request(route.method.parse::<Method>().unwrap(), &path);
    call = match route.auth {
        Auth::Admin => call,
        Auth::Anonymous => call.anonymous(),
        Auth::Preferences => call.key(&tokens.preferences),
    };
    let leaf = |template: &Value| match field {
        Field::Leaf(pointer) => with_leaf(template, pointer, pieces),
        _ => serde_json::to_string(template).unwrap(),
    };
    let (content_type, body) = match &route.body {
        Body::None => (None, String::new()),
        Body::Json(template) => (Some("application/json"), leaf(template)),
        Body::Ndjson(template) => (Some("application/x-ndjson"), leaf(template)),
        Body::Csv(header, row) => {
            let mut row: Vec<String> = row.iter().map(|c| c.to_string()).collect();
            if let Field::CsvColumn(i) = field {
                row[*i] = text(pieces);
            }
            (Some("text/csv"), format!("{header}\n{}\n", row.join(",")))
        }
        Body::Form => (
            Some("application/x-www-form-urlencoded"),
            if matches!(field, Field::Form) { text(pieces) } else { "List-Unsubscribe=One-Click".into() },
        ),
    };
    if let Some(content_type) = content_type {
        call = call.body(content_type, body.clone());
    }
    let reply = call.send();
    let shown: String = body.chars().take(300).collect();
    (
        format!("{} {} {shown}", route.method, path.chars().take(300).collect::<String>()),
        reply.status,
        reply.body,
    )
}

fn setup(app: &TestApp) -> Tokens {
    app.topic("news").opt_out().create();
    app.topic("gone").create();
    app.topic("receipts").transactional().create();
    app.contact("a@example.com", json!({"external_id": "u-0"}));
    app.contact("gone@example.com", json!({}));
    let owner = app.contact("p@example.com", json!({"locale": "fr"}));
    let links = app.post("/v1/links").json(json!({"email": "p@example.com", "topic": "news"})).send().json();
    let token = |field: &str| links[field].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let webhook =
        app.post("/v1/webhooks").json(json!({"url": "https://hooks.example.com/prefs"})).send().json();
    // The link an erasure mails, signed as the server would (the keys are the test's).
    let now = chrono::Utc::now().timestamp();
    let erase = TokenKeys::parse(&signing_keys()).unwrap().sign(&Link {
        recipient: Recipient::Contact(owner["id"].as_str().unwrap().parse().unwrap()),
        audience: Audience::Erase,
        topic: None,
        message_id: None,
        issued_at: now,
        expires_at: now + 3600,
    });
    // A confirmation link needs a mail; any well-formed token exercises the page.
    Tokens {
        unsubscribe: token("unsubscribe_url"),
        preferences: token("preferences_url"),
        confirm: token("unsubscribe_url"),
        webhook: webhook["id"].as_str().unwrap().to_owned(),
        erase,
    }
}

fn signing_keys() -> String {
    use base64::Engine;
    format!("fuzz:{}", base64::engine::general_purpose::STANDARD.encode([7u8; 32]))
}

fn with_keys(config: &mut prefcenter::Config) {
    config.signing_keys = Some(signing_keys());
}

/// Every route of the OpenAPI document has a row in the table.
fn assert_covers_the_api(app: &TestApp, routes: &[Route]) {
    let document = app.get("/openapi.json").anonymous().send().json();
    let documented: BTreeSet<(String, String)> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, methods)| {
            methods.as_object().unwrap().keys().map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let fuzzed: BTreeSet<(String, String)> =
        routes.iter().map(|r| (r.method.to_owned(), r.pattern.to_owned())).collect();
    let missing: Vec<_> = documented.difference(&fuzzed).collect();
    assert!(missing.is_empty(), "routes without a fuzz row: {missing:?}");
}

each_backend! {
    fn no_text_in_any_field_or_path_makes_a_5xx(app) with with_keys {
        let tokens = setup(&app);
        let routes = routes(&tokens);
        assert_covers_the_api(&app, &routes);
        let started = std::time::Instant::now();
        let requests = std::cell::Cell::new(0u64);
        for route in &routes {
            for field in fields(route) {
                let mut runner = TestRunner::new(Config {
                    cases: route.cases,
                    failure_persistence: None,
                    max_shrink_iters: 200,
                    ..Config::default()
                });
                let result = runner.run(&value(), |pieces| {
                    requests.set(requests.get() + 1);
                    let (sent, status, body) = send(&app, &tokens, route, &field, &pieces);
                    if status >= 500 {
                        return Err(TestCaseError::fail(format!("{sent} ({field:?}) → {status} {body}")));
                    }
                    Ok(())
                });
                if let Err(e) = result {
                    panic!("{} {} {field:?}: {e}", route.method, route.pattern);
                }
            }
        }
        assert_eq!(app.get("/healthz").send().status, 200, "still serving");
        eprintln!("fuzz: {} requests in {:.1} s", requests.get(), started.elapsed().as_secs_f64());
    }
}
