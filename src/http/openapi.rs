//! The OpenAPI document, generated from the handlers' annotations and served at
//! `/openapi.json`. The modifiers below add what every operation shares — the security
//! schemes, the one set of problem answers, the problem codes — so no handler repeats
//! them and none can forget them. The answers an operation adds (what a 404 or a 409
//! means there) are a set declared once with `problems!` and named in its `responses`.

use actix_web::HttpResponse;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::schema::{Object, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, Header, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::{api, ops, pages};
use crate::error::PROBLEM_CODES;

#[derive(OpenApi)]
#[openapi(
    info(title = "prefcenter", description = "Email preference center and suppression-list service. Errors are RFC 9457 application/problem+json with a stable `type`."),
    paths(
        ops::healthz, ops::readyz, ops::metrics, super::openapi::serve,
        api::check::one, api::check::batch, api::check::links,
        api::suppressions::put, api::suppressions::get, api::suppressions::delete, api::suppressions::list,
        api::suppressions::import, api::suppressions::export,
        api::changes::list,
        api::feedback::generic, api::feedback::ses, api::feedback::ses_confirmations, api::feedback::sendgrid,
        api::feedback::postmark, api::feedback::mailgun,
        api::inbound::ses, api::inbound::sendgrid, api::inbound::mailgun, api::inbound::postmark,
        pages::preferences::get, pages::preferences::put, pages::preferences::export, pages::erase::api,
        api::reasons::counts, api::stats::get,
        api::contacts::export, api::contacts::erase,
        pages::signup::request_link, pages::signup::subscribe,
        api::topics::create, api::topics::list, api::topics::get, api::topics::update, api::topics::delete,
        api::contacts::upsert, api::contacts::import, api::contacts::get, api::contacts::correct, api::contacts::set_status, api::contacts::events,
        api::api_keys::create, api::api_keys::list, api::api_keys::revoke,
        api::consumers::acknowledge, api::consumers::list, api::consumers::delete,
        api::webhooks::create, api::webhooks::list, api::webhooks::get, api::webhooks::update, api::webhooks::delete,
        api::webhooks::deliveries, api::webhooks::replay, api::webhooks::rotate,
        pages::unsubscribe::landing, pages::unsubscribe::post, pages::unsubscribe::reason,
        pages::preferences::show, pages::preferences::save_form,
        pages::erase::question, pages::erase::ask, pages::erase::confirmation, pages::erase::erase,
        pages::signup::show, pages::signup::confirm,
        pages::link::show, pages::link::send,
        pages::asset, pages::brand::logo, pages::brand::favicon,
    ),
    components(schemas(crate::error::Problem, crate::error::FieldError)),
    modifiers(&SecuritySchemes, &HeadOperationIds, &ProblemResponses),
)]
pub struct ApiDoc;

/// The document, built once: it never changes while the process runs.
pub fn document() -> &'static serde_json::Value {
    static DOCUMENT: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut document = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
        // A problem's text describes the request, whatever the request held: the
        // answers' schemas take no text pattern.
        let schemas = &mut document["components"]["schemas"];
        let answers: Vec<_> = ["Problem", "FieldError"]
            .into_iter()
            .filter_map(|name| Some((name, schemas.as_object_mut()?.remove(name)?)))
            .collect();
        TextPatterns::new().apply(&mut document);
        for (name, schema) in answers {
            document["components"]["schemas"][name] = schema;
        }
        document
    })
}

/// What the server refuses in free text (controls everywhere; invisible characters
/// in identifiers — see `domain::text`), written into the document as patterns so
/// that a client or a fuzzer reading it knows what is valid. Fields are recognised by
/// name, the same names in every schema; path and query parameters refuse controls.
struct TextPatterns {
    identifier: [String; 2],
    line: [String; 2],
    paragraph: [String; 2],
    parameter: String,
}

impl TextPatterns {
    fn new() -> Self {
        use crate::domain::text::{pattern, Shape};
        let both = |shape| [pattern(shape, false), pattern(shape, true)];
        Self {
            identifier: both(Shape::Identifier),
            line: both(Shape::Line),
            paragraph: both(Shape::Paragraph),
            // What the edge refuses in a decoded path or query: control characters.
            parameter: "^[^\\u0000-\\u001f\\u007f-\\u009f]*$".to_owned(),
        }
    }

    fn for_field(&self, name: &str) -> Option<&[String; 2]> {
        match name {
            "message_id" | "external_id" | "id" | "topic_arn" => Some(&self.identifier),
            "name" | "consent" | "legal_basis" | "frequency" => Some(&self.line),
            "description" | "note" | "detail" | "comment" => Some(&self.paragraph),
            _ => None,
        }
    }

    fn apply(&self, value: &mut serde_json::Value) {
        use serde_json::Value;
        let Value::Object(object) = value else {
            if let Value::Array(items) = value {
                items.iter_mut().for_each(|item| self.apply(item));
            }
            return;
        };
        if let Some(Value::Object(properties)) = object.get_mut("properties") {
            for (name, schema) in properties.iter_mut() {
                if let Some(patterns) = self.for_field(name) {
                    set_text_pattern(schema, patterns);
                }
                // Times: UTC, 1970 to 9999 (see `domain::time`).
                if schema.get("format").and_then(Value::as_str) == Some("date-time") {
                    schema["pattern"] = Value::String(crate::domain::time::PATTERN.to_owned());
                }
            }
        }
        let is_parameter = matches!(object.get("in").and_then(Value::as_str), Some("path" | "query"));
        if is_parameter {
            if let Some(schema) = object.get_mut("schema") {
                // A time in a query, as in a body: UTC, 1970 to 9999.
                if schema.get("format").and_then(Value::as_str) == Some("date-time") {
                    schema["pattern"] = Value::String(crate::domain::time::PATTERN.to_owned());
                }
                if is_string(schema) && schema.get("pattern").is_none() {
                    schema["pattern"] = Value::String(self.parameter.clone());
                }
            }
        }
        object.values_mut().for_each(|child| self.apply(child));
    }
}

fn is_string(schema: &serde_json::Value) -> bool {
    match schema.get("type") {
        Some(serde_json::Value::String(t)) => t == "string",
        Some(serde_json::Value::Array(types)) => types.iter().any(|t| t == "string"),
        _ => false,
    }
}

/// A string schema's pattern for its shape: the non-blank one where the annotation
/// asked for a non-blank value (`\S`). Other patterns (topic keys…) stand.
fn set_text_pattern(schema: &mut serde_json::Value, patterns: &[String; 2]) {
    if !is_string(schema) || schema.get("format").is_some() {
        return;
    }
    let non_blank = match schema.get("pattern").and_then(serde_json::Value::as_str) {
        None => false,
        Some("\\S") => true,
        Some(_) => return,
    };
    schema["pattern"] = serde_json::Value::String(patterns[usize::from(non_blank)].clone());
}

/// This document, as JSON.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", operation_id = "getOpenApi",
    responses((status = 200, description = "This document", content_type = "application/json", body = Object)))]
pub async fn serve() -> HttpResponse {
    HttpResponse::Ok().json(document())
}

/// Every method of a path item, with its name.
fn operations(item: &mut PathItem) -> impl Iterator<Item = (&'static str, &mut Operation)> {
    [
        ("get", item.get.as_mut()),
        ("put", item.put.as_mut()),
        ("post", item.post.as_mut()),
        ("delete", item.delete.as_mut()),
        ("options", item.options.as_mut()),
        ("head", item.head.as_mut()),
        ("patch", item.patch.as_mut()),
        ("trace", item.trace.as_mut()),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.map(|o| (method, o)))
}

/// The names of the security schemes an operation accepts.
fn schemes(operation: &Operation) -> Vec<String> {
    let requirements = operation.security.as_deref().unwrap_or_default();
    requirements
        .iter()
        .filter_map(|r| serde_json::to_value(r).ok())
        .filter_map(|v| v.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()))
        .flatten()
        .collect()
}

/// The scopes an operation asks of the `api_key` scheme, if it takes one.
fn api_key_scopes(operation: &Operation) -> Option<Vec<String>> {
    let requirements = operation.security.as_deref().unwrap_or_default();
    requirements.iter().find_map(|r| {
        let value = serde_json::to_value(r).ok()?;
        let scopes = value.get(API_KEY)?.as_array()?;
        Some(scopes.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
    })
}

const API_KEY: &str = "api_key";
const API_KEY_BASIC: &str = "api_key_basic";
const PREFERENCE_TOKEN: &str = "preference_token";

/// The credentials: an API key as a bearer token or, for providers whose webhooks can
/// only carry credentials in their URL, as the password of basic credentials; and the
/// preference page's signed token. An operation that names `api_key` accepts the basic
/// form too, with the same scopes (the middleware reads both everywhere).
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            API_KEY,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key's secret, `pc_…`, as `Authorization: Bearer`. A key needs the scope an operation names (`admin` implies every scope)"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            API_KEY_BASIC,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some("An API key's secret as the password of basic credentials (any user name), for providers' webhooks that can only put credentials in their URL"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            PREFERENCE_TOKEN,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "The signed token of a preference link (`/p/{token}`), as `Authorization: Bearer`",
                    ))
                    .build(),
            ),
        );
        for item in openapi.paths.paths.values_mut() {
            for (_, operation) in operations(item) {
                if let Some(scopes) = api_key_scopes(operation) {
                    let security = operation.security.get_or_insert_with(Vec::new);
                    security.push(SecurityRequirement::new(API_KEY_BASIC, scopes));
                }
            }
        }
    }
}

/// A handler that serves both GET and HEAD is annotated once (`method(get, head)`);
/// its HEAD operation takes the id `head…` so that ids stay unique.
struct HeadOperationIds;

impl Modify for HeadOperationIds {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let get_id = item.get.as_ref().and_then(|o| o.operation_id.clone());
            if let (Some(head), Some(get_id)) = (item.head.as_mut(), get_id) {
                if head.operation_id.as_deref() == Some(get_id.as_str()) {
                    let name = get_id.strip_prefix("get").unwrap_or(&get_id);
                    head.operation_id = Some(format!("head{name}"));
                }
            }
        }
    }
}

/// One shared problem answer: its status, its name under `components/responses`, what
/// it means, and the header it carries.
struct Shared {
    status: &'static str,
    name: &'static str,
    description: &'static str,
    header: Option<(&'static str, &'static str)>,
}

const SHARED: &[Shared] = &[
    Shared {
        status: "400",
        name: "Malformed",
        description: "The body or a path segment is malformed (e.g. JSON that does not parse)",
        header: None,
    },
    Shared {
        status: "401",
        name: "Unauthorized",
        description: "No credential, or a wrong one",
        header: Some(("WWW-Authenticate", "The schemes accepted")),
    },
    Shared {
        status: "403",
        name: "Forbidden",
        description: "The API key lacks the scope this operation needs",
        header: None,
    },
    Shared {
        status: "404",
        name: "NotFound",
        description: "What the path names does not exist",
        header: None,
    },
    Shared {
        status: "413",
        name: "TooLarge",
        description: "The body is larger than this route's limit",
        header: None,
    },
    Shared {
        status: "415",
        name: "UnsupportedMediaType",
        description: "The body's content type is not one this operation takes",
        header: None,
    },
    Shared {
        status: "422",
        name: "Invalid",
        description: "A value is invalid; `errors` names the field",
        header: None,
    },
    Shared {
        status: "429",
        name: "RateLimited",
        description: "Too many requests (or too many wrong credentials from this network); retry later",
        header: Some(("Retry-After", "Seconds to wait")),
    },
    Shared {
        status: "503",
        name: "Unavailable",
        description: "The database or the decision index cannot answer now; retry",
        header: Some(("Retry-After", "Seconds to wait")),
    },
];

fn problem_response(shared: &Shared) -> Response {
    let answer = ProblemAnswer::new(shared.status.parse().expect("a status code"), shared.description);
    match shared.header {
        Some((name, description)) => answer.header(name, description),
        None => answer,
    }
    .build()
}

/// Which shared problem answers an operation can give, from its shape: every JSON
/// operation may meet a busy database (503); one with a credential may meet a wrong
/// one (401) and the failure limit (429), with an API key a missing scope (403), with a
/// preference token a contact no longer held (404); a
/// path parameter may name nothing (404) or be malformed (400); a body may be
/// malformed, too large, of the wrong type (providers' webhooks take any type) or
/// hold invalid values; a query may hold invalid values (422). The recipients' pages
/// answer HTML and declare their own; an answer a handler declares itself is kept.
fn applicable(path: &str, operation: &Operation) -> Vec<&'static str> {
    if !path.starts_with("/v1/") {
        return Vec::new();
    }
    let schemes = schemes(operation);
    let parameters = operation.parameters.as_deref().unwrap_or_default();
    let in_path =
        parameters.iter().any(|p| matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Path));
    let in_query =
        parameters.iter().any(|p| matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Query));
    let body = operation.request_body.is_some();
    let webhook =
        operation.tags.as_deref().unwrap_or_default().iter().any(|t| t == "feedback" || t == "inbound");
    let mut statuses = vec!["503"];
    if !schemes.is_empty() {
        statuses.extend(["401", "429"]);
    }
    if schemes.iter().any(|s| s == API_KEY) {
        statuses.push("403");
    }
    if schemes.iter().any(|s| s == PREFERENCE_TOKEN) {
        // The link's contact may no longer be held.
        statuses.push("404");
    }
    if in_path {
        statuses.extend(["400", "404", "422"]);
    }
    if body {
        statuses.extend(["400", "413", "422"]);
        if !webhook {
            statuses.push("415");
        }
    }
    if in_query {
        statuses.push("422");
    }
    statuses
}

/// Adds the shared problem answers to `components/responses` once, and a reference to
/// each that applies to every operation.
struct ProblemResponses;

impl Modify for ProblemResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for shared in SHARED {
            components.responses.insert(shared.name.to_owned(), RefOr::T(problem_response(shared)));
        }
        // Problem.type is a closed set: clients can match on it.
        if let Some(RefOr::T(Schema::Object(problem))) = components.schemas.get_mut("Problem") {
            if let Some(RefOr::T(Schema::Object(kind))) = problem.properties.get_mut("type") {
                kind.enum_values =
                    Some(PROBLEM_CODES.iter().map(|code| format!("/problems/{code}").into()).collect());
            }
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            for (_, operation) in operations(item) {
                for status in applicable(path, operation) {
                    let shared = SHARED.iter().find(|s| s.status == status).expect("a shared answer");
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| RefOr::Ref(Ref::from_response_name(shared.name)));
                }
            }
        }
    }
}

/// How a path names a contact: its id (a UUID) or its URL-encoded address.
pub struct ContactKey;

impl utoipa::PartialSchema for ContactKey {
    fn schema() -> RefOr<Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat};
        let uuid = ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)));
        let email = ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Email)))
            .max_length(Some(254));
        OneOfBuilder::new().item(uuid).item(email).into()
    }
}

impl utoipa::ToSchema for ContactKey {}

/// A bulk body (an import's NDJSON or CSV lines), sent as it is: `format: binary`, so
/// generated clients send bytes rather than try to encode a value.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct Lines(#[allow(dead_code)] String);

/// One problem answer an operation declares itself, beyond the shared ones
/// (`ProblemResponses` adds those): a problem+json body, with what it means there.
pub struct ProblemAnswer {
    status: u16,
    response: ResponseBuilder,
}

impl ProblemAnswer {
    pub fn new(status: u16, description: &str) -> Self {
        let response = ResponseBuilder::new().description(description).content(
            "application/problem+json",
            Content::new(Some(RefOr::Ref(Ref::from_schema_name("Problem")))),
        );
        Self { status, response }
    }

    /// The answer says, in `Retry-After`, how long to wait.
    pub fn retry_after(self) -> Self {
        self.header("Retry-After", "Seconds to wait")
    }

    fn header(mut self, name: &str, description: &str) -> Self {
        let mut header = Header::new(Object::with_type(Type::String));
        header.description = Some(description.to_owned());
        self.response = self.response.header(name, header);
        self
    }

    /// The answer, as a document's response.
    pub fn build(self) -> Response {
        self.response.build()
    }

    /// The answers, as `utoipa::IntoResponses` gives them.
    pub fn collect(
        answers: impl IntoIterator<Item = Self>,
    ) -> std::collections::BTreeMap<String, RefOr<Response>> {
        answers.into_iter().map(|a| (a.status.to_string(), RefOr::T(a.build()))).collect()
    }
}

/// Declares a set of problem answers an operation names in its `responses(…)`, once:
/// `problems!(pub TopicTaken: (409, "The key exists"), (422, "Invalid values"));`,
/// then `responses((status = 201, body = TopicView), TopicTaken)`. An empty description
/// leaves the meaning to the status; `(503, "…", retry_after)` adds `Retry-After`.
macro_rules! problems {
    ($(#[$meta:meta])* $vis:vis $name:ident: $(($status:literal, $description:literal $(, $extra:ident)?)),+ $(,)?) => {
        $(#[$meta])*
        $vis struct $name;

        impl utoipa::IntoResponses for $name {
            fn responses(
            ) -> std::collections::BTreeMap<String, utoipa::openapi::RefOr<utoipa::openapi::Response>> {
                use $crate::http::openapi::ProblemAnswer;
                ProblemAnswer::collect([$(ProblemAnswer::new($status, $description)$(.$extra())?),+])
            }
        }
    };
}
pub(crate) use problems;

problems!(
    /// A path that names nothing.
    pub NotFound: (404, "")
);
problems!(
    /// A body with a wrong value.
    pub Invalid: (422, "")
);
problems!(
    /// A bulk upload: over its limit, or of a type that is neither NDJSON nor CSV.
    pub BulkBody: (413, ""), (415, "")
);
problems!(
    /// A provider's delivery that is not its format.
    pub Unreadable: (400, "")
);
problems!(
    /// A provider's delivery that is not its format, or whose signature is wrong.
    pub Unverified: (400, ""), (401, "")
);
