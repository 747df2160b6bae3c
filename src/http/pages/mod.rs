//! The recipients' pages: server-rendered HTML in the recipient's language, with the
//! headers a page reached through a token needs — the token is in the URL, so no
//! referrer and no caching; a strict Content-Security-Policy; no cookies, nothing
//! from third parties.

pub mod preferences;
pub mod signup;
pub mod unsubscribe;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse, ResponseError};

use crate::domain::token::{Audience, Link};
use crate::error::{ConflictCode, Error};
use crate::html::escape;
use crate::i18n::Lang;
use crate::App;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(unsubscribe::configure)
        .configure(signup::configure)
        .configure(preferences::configure)
        .service(web::scope("/static").service(super::resource("/{name}").route(web::get().to(asset))));
}

const CSP: &str =
    "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self'; \
                   form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// A whole page around `body` (already HTML).
pub fn page(status: StatusCode, lang: Lang, title: &str, body: &str, script: bool) -> HttpResponse {
    let script = if script { r#"<script src="/static/preferences.js" defer></script>"# } else { "" };
    let html = format!(
        r#"<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="/static/style.css">
{script}
</head>
<body>
<main class="card">
<h1>{title}</h1>
{body}
</main>
</body>
</html>
"#,
        lang = lang.code(),
        title = escape(title),
    );
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        .insert_header((header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .body(html)
}

/// An error as a readable page, never a stack trace: the status tells machines, the
/// words tell people.
pub fn error(lang: Lang, error: &Error) -> HttpResponse {
    let words = lang.words();
    let message = match error {
        Error::Link(crate::domain::token::TokenError::Expired) => words.link_expired,
        Error::Link(_) => words.link_invalid,
        Error::NotFound(_) => words.link_gone,
        Error::Conflict { code: ConflictCode::Erased, .. } => words.erased,
        Error::Unavailable(_) | Error::Internal(_) => {
            // Logs the cause the same way the API does.
            let _ = error.error_response();
            words.try_again
        }
        _ => words.link_invalid,
    };
    page(error.status_code(), lang, words.unsubscribe_title, &format!("<p>{}</p>", escape(message)), false)
}

/// The answers a page reached by a link gives when the link cannot be used, each a
/// readable page: shared by every recipient route of the OpenAPI document.
pub struct PageErrors;

impl utoipa::IntoResponses for PageErrors {
    fn responses() -> std::collections::BTreeMap<String, utoipa::openapi::RefOr<utoipa::openapi::Response>> {
        [
            ("400", "The link is malformed, tampered with, signed with a key no longer accepted, or meant for another page"),
            ("404", "The link's contact is no longer held"),
            ("409", "The address was erased"),
            ("410", "The link has expired"),
            ("503", "The service cannot answer now; retry"),
        ]
        .into_iter()
        .map(|(status, description)| (status.to_owned(), html(description).into()))
        .chain([("422".to_owned(), control_in_path().into())])
        .collect()
    }
}

/// What the edge answers, before any page, for a path that holds a control character.
pub fn control_in_path() -> utoipa::openapi::Response {
    utoipa::openapi::ResponseBuilder::new()
        .description("The path holds a control character")
        .content(
            "application/problem+json",
            utoipa::openapi::Content::new(Some(utoipa::openapi::RefOr::Ref(
                utoipa::openapi::Ref::from_schema_name("Problem"),
            ))),
        )
        .build()
}

/// A `text/html` answer, for the OpenAPI document.
pub fn html(description: &str) -> utoipa::openapi::Response {
    utoipa::openapi::ResponseBuilder::new()
        .description(description)
        .content(
            "text/html",
            utoipa::openapi::Content::new(Some(utoipa::openapi::RefOr::T(
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::Type::String)
                    .build()
                    .into(),
            ))),
        )
        .build()
}

/// Verifies a link for `audience` at the current time.
pub fn verify(app: &App, token: &str, audience: Audience) -> Result<Link, Error> {
    app.tokens.verify(token, audience, chrono::Utc::now().timestamp()).map_err(Error::Link)
}

const STYLE: &str = include_str!("../../../static/style.css");
const SCRIPT: &str = include_str!("../../../static/preferences.js");

/// The pages' stylesheet and script.
#[utoipa::path(get, path = "/static/{name}", tag = "recipients", operation_id = "getAsset",
    params(("name" = String, Path, description = "`style.css` or `preferences.js`")),
    responses((status = 200, description = "The file", content(("text/css"), ("text/javascript"))),
        (status = 404, description = "No such file", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The path holds a control character", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn asset(name: web::Path<String>) -> Result<HttpResponse, Error> {
    let (body, content_type) = match name.as_str() {
        "style.css" => (STYLE, "text/css; charset=utf-8"),
        "preferences.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        _ => return Err(Error::not_found("no such file")),
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(body))
}
