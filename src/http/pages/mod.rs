//! The recipients' pages: server-rendered HTML in the recipient's language, from the
//! templates in `templates/pages/` (one struct per page; the templates escape every
//! value), with the headers a page reached through a token needs — the token is in the
//! URL, so no referrer and no caching; a strict Content-Security-Policy; no cookies,
//! nothing from third parties.

pub mod preferences;
pub mod signup;
pub mod unsubscribe;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse, ResponseError};
use askama::Template;

use crate::domain::token::{Audience, Link};
use crate::error::{ConflictCode, Error};
use crate::http::openapi::problems;
use crate::i18n::Lang;
use crate::service::Context;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(unsubscribe::configure)
        .configure(signup::configure)
        .configure(preferences::configure)
        .service(web::scope("/static").service(super::resource("/{name}").route(web::get().to(asset))));
}

const CSP: &str =
    "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self'; \
                   form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// What the base layout (`templates/pages/base.html`) needs of every page: its language,
/// its title, and whether it loads the preference page's script.
pub struct Layout {
    pub lang: &'static str,
    pub title: &'static str,
    pub script: bool,
}

impl Layout {
    pub fn new(lang: Lang, title: &'static str) -> Layout {
        Layout { lang: lang.code(), title, script: false }
    }

    /// The same layout, loading `/static/preferences.js`.
    pub fn with_script(self) -> Layout {
        Layout { script: true, ..self }
    }
}

/// A page with one paragraph: an error's words, or a form's outcome (`done`).
#[derive(Template)]
#[template(path = "pages/notice.html")]
pub struct Notice {
    pub layout: Layout,
    pub text: &'static str,
    pub done: bool,
}

/// A rendered page template as the answer, with the headers every page carries.
pub fn page(status: StatusCode, template: &impl Template) -> HttpResponse {
    let html = match template.render() {
        Ok(html) => html,
        // Only a value's own formatting can fail; answered as any fault of ours is.
        Err(e) => return Error::internal("rendering a page", e).error_response(),
    };
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
    // This is where a page's error becomes an answer, as `error_response` is for the
    // API: it is logged here, the same way, once.
    error.log();
    let words = lang.words();
    let message = match error {
        Error::Link(crate::domain::token::TokenError::Expired) => words.link_expired,
        Error::Link(_) => words.link_invalid,
        Error::NotFound(_) => words.link_gone,
        Error::Conflict { code: ConflictCode::Erased, .. } => words.erased,
        Error::Unavailable(_) | Error::Internal(_) => words.try_again,
        _ => words.link_invalid,
    };
    let notice = Notice { layout: Layout::new(lang, words.unsubscribe_title), text: message, done: false };
    page(error.status_code(), &notice)
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
    crate::http::openapi::ProblemAnswer::new(422, "The path holds a control character").build()
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
pub fn verify(cx: &Context, token: &str, audience: Audience) -> Result<Link, Error> {
    cx.tokens.verify(token, audience, chrono::Utc::now().timestamp()).map_err(Error::Link)
}

const STYLE: &str = include_str!("../../../static/style.css");
const SCRIPT: &str = include_str!("../../../static/preferences.js");

problems!(AssetProblems: (404, "No such file"), (422, "The path holds a control character"));

/// The pages' stylesheet and script.
#[utoipa::path(get, path = "/static/{name}", tag = "recipients", operation_id = "getAsset",
    params(("name" = String, Path, description = "`style.css` or `preferences.js`")),
    responses((status = 200, description = "The file", content(("text/css"), ("text/javascript"))), AssetProblems))]
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::testing::logged;

    #[test]
    fn a_page_logs_a_fault_as_the_api_does_once() {
        let fault = || Error::internal("reading a topic", std::io::Error::other("disk on fire"));
        let api = logged(|| drop(fault().error_response()));
        let page = logged(|| {
            let page = error(Lang::En, &fault());
            assert_eq!(page.status(), StatusCode::INTERNAL_SERVER_ERROR);
        });
        let without_time = |log: &str| log.split_once("ERROR").map(|(_, line)| line.to_owned());
        assert_eq!(page.lines().count(), 1, "{page}");
        assert_eq!(without_time(&page), without_time(&api));
        assert!(page.contains("reading a topic: disk on fire"), "{page}");
        let unavailable = logged(|| drop(error(Lang::En, &Error::Unavailable("database: gone".into()))));
        assert!(unavailable.contains("WARN") && unavailable.contains("database: gone"), "{unavailable}");
        assert_eq!(logged(|| drop(error(Lang::En, &Error::not_found("contact")))), "");
    }
}
