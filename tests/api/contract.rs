//! The OpenAPI document, read as a linter would: generated clients and outside testers
//! rely on it, so it must be well-formed and true to the routes.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use crate::support::each_backend;

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// Every operation of the document: (method, path, operation).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut all = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                all.push((method.to_owned(), path.clone(), operation.clone()));
            }
        }
    }
    all
}

/// Follows a `$ref` inside the document, if the value is one.
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> Option<&'a Value> {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => doc.pointer(reference.strip_prefix('#')?),
        None => Some(value),
    }
}

/// Every `$ref` string anywhere in `value`.
fn references(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r.clone());
            }
            map.values().for_each(|v| references(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, out)),
        _ => {}
    }
}

fn template_params(path: &str) -> BTreeSet<String> {
    path.split('{').skip(1).filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_owned())).collect()
}

each_backend! {
    fn the_openapi_document_passes_a_linters_reading(app) {
        let doc = app.get("/openapi.json").anonymous().send().json();
        let mut wrong = Vec::new();
        let schemes: BTreeSet<String> =
            doc["components"]["securitySchemes"].as_object().expect("security schemes").keys().cloned().collect();
        let mut ids = BTreeMap::<String, String>::new();
        for (method, path, operation) in operations(&doc) {
            let at = format!("{} {path}", method.to_uppercase());
            // Parameters: every template name declared in the path, nothing else there.
            let params: Vec<&Value> = operation["parameters"].as_array().map(|p| p.iter().collect()).unwrap_or_default();
            let in_path: BTreeSet<String> = params.iter()
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().unwrap_or_default().to_owned())
                .collect();
            if in_path != template_params(&path) {
                wrong.push(format!("{at}: path parameters {in_path:?}, the template names {:?}", template_params(&path)));
            }
            for p in &params {
                if p["in"] == "path" && p["required"] != true {
                    wrong.push(format!("{at}: path parameter {} is not required", p["name"]));
                }
            }
            // Operation ids: present, unique, usable as method names.
            match operation["operationId"].as_str() {
                Some(id) if id.chars().next().is_some_and(|c| c.is_ascii_lowercase()) && id.chars().all(|c| c.is_ascii_alphanumeric()) => {
                    if let Some(other) = ids.insert(id.to_owned(), at.clone()) {
                        wrong.push(format!("{at}: operationId {id} is also {other}'s"));
                    }
                }
                other => wrong.push(format!("{at}: operationId {other:?} is not a camelCase name")),
            }
            // Security: every scheme named is defined.
            let named: BTreeSet<String> = operation["security"].as_array().into_iter().flatten()
                .filter_map(Value::as_object).flat_map(|r| r.keys().cloned()).collect();
            for scheme in named.difference(&schemes) {
                wrong.push(format!("{at}: security scheme {scheme} is not defined"));
            }
            // The shared problem answers of the JSON API, each a problem+json Problem.
            let responses = operation["responses"].as_object().expect("responses");
            if path.starts_with("/v1/") {
                let mut expected = vec!["503"];
                if !named.is_empty() {
                    expected.extend(["401", "429"]);
                }
                if named.contains("api_key") {
                    expected.push("403");
                }
                if operation.get("requestBody").is_some() {
                    expected.extend(["400", "413", "422"]);
                }
                if params.iter().any(|p| p["in"] == "query") {
                    expected.push("422");
                }
                if !in_path.is_empty() {
                    expected.extend(["400", "404"]);
                }
                for status in expected {
                    let problem = responses.get(status).and_then(|r| resolve(&doc, r))
                        .and_then(|r| r.pointer("/content/application~1problem+json/schema/$ref"));
                    if problem != Some(&json!("#/components/schemas/Problem")) {
                        wrong.push(format!("{at}: no {status} problem+json answer"));
                    }
                }
            }
            // A form's POST may answer with a redirect to its page (303).
            if !responses.keys().any(|s| s.starts_with('2') || s == "303") {
                wrong.push(format!("{at}: no success answer"));
            }
        }
        // Every reference resolves.
        let mut refs = Vec::new();
        references(&doc, &mut refs);
        for r in refs {
            if r.strip_prefix('#').and_then(|p| doc.pointer(p)).is_none() {
                wrong.push(format!("{r} does not resolve"));
            }
        }
        assert!(wrong.is_empty(), "the document is wrong:\n{}", wrong.join("\n"));
    }

    fn the_openapi_document_says_what_the_routes_take_and_answer(app) {
        let doc = app.get("/openapi.json").anonymous().send().json();
        let operation = |method: &str, path: &str| doc["paths"][path][method].clone();
        let param = |method: &str, path: &str, name: &str| -> Value {
            operation(method, path)["parameters"].as_array().into_iter().flatten()
                .find(|p| p["name"] == name).cloned().unwrap_or(Value::Null)
        };
        let schema_of = |value: &Value| resolve(&doc, value).cloned().unwrap_or(Value::Null);

        // Paging parameters are optional query parameters with the server's bounds.
        for (path, max) in [("/v1/changes", 10000), ("/v1/suppressions", 1000), ("/v1/contacts/{contact}/events", 1000)] {
            let limit = param("get", path, "limit");
            assert_eq!((limit["in"].as_str(), limit["required"].as_bool()), (Some("query"), Some(false)), "{path}: {limit}");
            assert_eq!((limit["schema"]["minimum"].as_i64(), limit["schema"]["maximum"].as_i64()), (Some(1), Some(max)), "{path}");
            assert_eq!(param("get", path, "after")["in"], "query", "{path}");
        }
        assert_eq!(param("get", "/v1/topics", "include_archived")["in"], "query");
        assert_eq!(param("get", "/v1/suppressions", "reason")["in"], "query");

        // Constraints the server enforces.
        let schemas = &doc["components"]["schemas"];
        assert_eq!(schemas["CheckRequest"]["properties"]["email"]["format"], "email");
        assert_eq!(schemas["CheckRequest"]["properties"]["email"]["maxLength"], 254);
        assert_eq!(schemas["BatchRequest"]["properties"]["emails"]["maxItems"], 10000);
        assert_eq!(schemas["Reason"]["enum"], json!(["hard_bounce", "soft_bounce", "complaint", "unsubscribe", "manual", "erasure"]));
        assert_eq!(schemas["Scope"]["enum"], json!(["all", "promotional"]));
        assert_eq!(schemas["Category"]["enum"], json!(["promotional", "transactional"]));
        assert_eq!(schemas["Status"]["enum"], json!(["subscribed", "unsubscribed", "pending"]));
        assert_eq!(schemas["Kind"]["enum"], json!(["hard_bounce", "soft_bounce", "complaint", "unsubscribe"]));
        let kinds = schemas["Problem"]["properties"]["type"]["enum"].as_array().expect("Problem.type is an enum");
        for kind in ["/problems/invalid", "/problems/unauthorized", "/problems/consent_required", "/problems/unavailable"] {
            assert!(kinds.contains(&json!(kind)), "{kind} is not among Problem.type's values");
        }

        // Bulk routes speak CSV as well as NDJSON.
        let import = operation("post", "/v1/suppressions/import");
        assert!(import["requestBody"]["content"]["text/csv"].is_object(), "{import}");
        assert!(import["requestBody"]["content"]["application/x-ndjson"].is_object(), "{import}");
        let export = operation("get", "/v1/suppressions/export");
        assert!(export["responses"]["200"]["content"]["text/csv"].is_object(), "{export}");

        // The recipients' pages answer HTML; /metrics Prometheus text.
        for (method, path) in [("get", "/u/{token}"), ("head", "/u/{token}"), ("post", "/u/{token}"), ("post", "/u/{token}/reason"),
            ("get", "/p/{token}"), ("get", "/p/{token}/delete"), ("post", "/p/{token}/delete"), ("get", "/d/{token}"), ("post", "/d/{token}"),
            ("get", "/c/{token}"), ("head", "/c/{token}"), ("post", "/c/{token}")] {
            let page = operation(method, path);
            assert!(page["responses"]["200"]["content"]["text/html"].is_object(), "{method} {path}: {page}");
            assert!(page["responses"]["400"]["content"]["text/html"].is_object(), "{method} {path}: {page}");
        }
        // The preference form's POST redirects to its page (no re-post on reload).
        let save = operation("post", "/p/{token}");
        assert!(save["responses"]["303"]["headers"]["Location"].is_object(), "{save}");
        assert!(save["responses"]["400"]["content"]["text/html"].is_object(), "{save}");
        assert!(operation("get", "/metrics")["responses"]["200"]["content"]["text/plain"].is_object());

        // What SES's confirmations route answers is what the document says it answers.
        let confirmations = app.get("/v1/feedback/ses/confirmations").send();
        assert_eq!(confirmations.json(), json!({"confirmations": []}));
        let declared = schema_of(&operation("get", "/v1/feedback/ses/confirmations")["responses"]["200"]["content"]["application/json"]["schema"]);
        assert_eq!(declared["type"], "object", "{declared}");
        assert_eq!(declared["properties"]["confirmations"]["type"], "array", "{declared}");

        // The main routes carry examples.
        for (method, path) in [("post", "/v1/check"), ("post", "/v1/check/batch"), ("put", "/v1/suppressions/{email}"), ("put", "/v1/contacts/{contact}")] {
            let ok = &operation(method, path)["responses"]["200"]["content"]["application/json"];
            assert!(ok.get("example").is_some() || ok.get("examples").is_some(), "{method} {path} has no example");
        }
    }
}
