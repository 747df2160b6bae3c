//! The recipients' pages: server-rendered HTML in the recipient's language and the
//! sender's brand, from the templates in `templates/pages/` (one struct per page; the
//! templates escape every value), with the headers a page reached through a token
//! needs — the token is in the URL, so no referrer and no caching; a strict
//! Content-Security-Policy; no cookies, nothing from third parties; never indexed.

pub mod brand;
pub mod erase;
pub mod link;
pub mod preferences;
pub mod signup;
pub mod unsubscribe;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse, ResponseError};
use askama::Template;

use crate::domain::token::{Audience, Link, TokenError};
use crate::error::{ConflictCode, Error};
use crate::http::openapi::problems;
use crate::i18n::{Lang, Words};
use crate::service::Context;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(unsubscribe::configure)
        .configure(signup::configure)
        .configure(preferences::configure)
        .configure(erase::configure)
        .configure(link::configure)
        .configure(brand::configure)
        .service(web::scope("/static").service(super::resource("/{name}").route(web::get().to(asset))));
}

const CSP: &str =
    "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self'; \
                   form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// What the base layout (`templates/pages/base.html`) needs of every page: its
/// language and words, its title, the brand, and whether it loads the preference
/// page's script.
pub struct Layout<'a> {
    pub lang: &'static str,
    pub words: &'static Words,
    pub title: String,
    pub brand: &'a crate::brand::Brand,
    pub script: bool,
}

impl<'a> Layout<'a> {
    pub fn new(brand: &'a crate::brand::Brand, lang: Lang, title: impl Into<String>) -> Layout<'a> {
        Layout { lang: lang.code(), words: lang.words(), title: title.into(), brand, script: false }
    }

    /// The same layout, loading `/static/preferences.js`.
    pub fn with_script(self) -> Layout<'a> {
        Layout { script: true, ..self }
    }

    /// The sender's name: the brand's, or what the pages are.
    pub fn sender(&self) -> &str {
        self.brand.name.as_deref().unwrap_or(self.words.default_sender)
    }

    /// The logo's text alternative: the brand's name (empty, so decorative, without one).
    pub fn logo_alt(&self) -> &str {
        self.brand.name.as_deref().unwrap_or_default()
    }
}

/// A page with a paragraph or two: an error's words, or a form's outcome (`done`),
/// and, where a fresh link would help, the form that mails one.
#[derive(Template)]
#[template(path = "pages/notice.html")]
pub struct Notice<'a> {
    pub layout: Layout<'a>,
    pub text: String,
    pub more: Option<&'static str>,
    pub done: bool,
    pub link_form: bool,
    /// A link back (its text, its URL).
    pub back: Option<(&'static str, String)>,
}

impl<'a> Notice<'a> {
    pub fn new(layout: Layout<'a>, text: impl Into<String>) -> Self {
        Notice { layout, text: text.into(), more: None, done: false, link_form: false, back: None }
    }

    pub fn done(self) -> Self {
        Notice { done: true, ..self }
    }
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
        // Links carry tokens and pages name people's choices: no search engine keeps one.
        .insert_header(("x-robots-tag", HeaderValue::from_static("noindex, nofollow")))
        .body(html)
}

/// A redirect after a form's POST (303, so the reload of the page it leads to
/// re-posts nothing), with the pages' headers.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        .insert_header(("x-robots-tag", HeaderValue::from_static("noindex, nofollow")))
        .finish()
}

/// What kind of link a page was reached by, for the title of a page that refuses it.
fn kind(words: &'static Words, audience: Audience) -> &'static str {
    match audience {
        Audience::Unsubscribe => words.link_kind.unsubscribe,
        Audience::Preferences => words.link_kind.preferences,
        Audience::Confirm => words.link_kind.confirm,
        Audience::Erase => words.link_kind.erase,
    }
}

/// An error as a readable page, never a stack trace: the status tells machines, the
/// words tell people, each kind of fault under its own title. Where a fresh link
/// would help (a link cut short, expired, or for an address no longer held), the page
/// offers to mail one.
pub fn error(brand: &crate::brand::Brand, lang: Lang, audience: Audience, error: &Error) -> HttpResponse {
    // This is where a page's error becomes an answer, as `error_response` is for the
    // API: it is logged here, the same way, once.
    error.log();
    let w = lang.words();
    let (title, text, link_form) = match error {
        Error::Link(TokenError::Expired) => (w.expired_title.with(kind(w, audience)), w.link_expired, true),
        Error::NotFound(_) => (w.link_gone_title.to_owned(), w.link_gone, true),
        Error::Conflict { code: ConflictCode::Erased, .. } => (w.erased_title.to_owned(), w.erased, false),
        Error::Unavailable(_) | Error::Internal(_) => (w.trouble_title.to_owned(), w.try_again, false),
        Error::RateLimited { .. } => (w.trouble_title.to_owned(), w.too_many, false),
        _ => (w.invalid_title.with(kind(w, audience)), w.link_invalid, true),
    };
    let notice = Notice { link_form, ..Notice::new(Layout::new(brand, lang, title), text) };
    let mut response = page(error.status_code(), &notice);
    // As the API's answers say it: when asking again may work.
    let retry_after = match error {
        Error::RateLimited { retry_after } => Some(retry_after.to_string()),
        Error::Unavailable(_) => Some("1".to_owned()),
        _ => None,
    };
    if let Some(value) = retry_after.and_then(|s| HeaderValue::from_str(&s).ok()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
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

/// Whether a verified link is still within its validity.
pub fn is_fresh(link: &Link) -> bool {
    link.expires_at > chrono::Utc::now().timestamp()
}

/// The fields of a form body, as the pages post them.
pub fn form_fields(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// One field of a form body.
pub fn form_field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

const STYLE: &str = include_str!("../../../static/style.css");
const SCRIPT: &str = include_str!("../../../static/preferences.js");
const CONSOLE_STYLE: &str = include_str!("../../../static/console.css");

problems!(AssetProblems: (404, "No such file"), (422, "The path holds a control character"));

/// The pages' stylesheet (with the brand's colours) and script.
#[utoipa::path(get, path = "/static/{name}", tag = "recipients", operation_id = "getAsset",
    params(("name" = String, Path, description = "`style.css`, `chart.css`, `preferences.js` or `console.css`")),
    responses((status = 200, description = "The file", content(("text/css"), ("text/javascript"))), AssetProblems))]
pub async fn asset(cx: web::Data<Context>, name: web::Path<String>) -> Result<HttpResponse, Error> {
    let (body, content_type) = match name.as_str() {
        // The brand's colours come last, so they override the stylesheet's defaults.
        "style.css" => (format!("{STYLE}{}", cx.brand.theme.css()), "text/css; charset=utf-8"),
        "preferences.js" => (SCRIPT.to_owned(), "text/javascript; charset=utf-8"),
        // The operators' console's own stylesheet, without the brand's colours.
        "console.css" => (CONSOLE_STYLE.to_owned(), "text/css; charset=utf-8"),
        "chart.css" => (crate::http::chart::STYLESHEET.to_owned(), "text/css; charset=utf-8"),
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
        let config = crate::Config::for_database("sqlite://unused.db").unwrap();
        let brand = crate::brand::Brand::load(&config.brand).unwrap();
        let cx = &brand;
        let fault = || Error::internal("reading a topic", std::io::Error::other("disk on fire"));
        let api = logged(|| drop(fault().error_response()));
        let page = logged(|| {
            let page = error(cx, Lang::En, Audience::Unsubscribe, &fault());
            assert_eq!(page.status(), StatusCode::INTERNAL_SERVER_ERROR);
        });
        let without_time = |log: &str| log.split_once("ERROR").map(|(_, line)| line.to_owned());
        assert_eq!(page.lines().count(), 1, "{page}");
        assert_eq!(without_time(&page), without_time(&api));
        assert!(page.contains("reading a topic: disk on fire"), "{page}");
        let unavailable = logged(|| {
            drop(error(cx, Lang::En, Audience::Unsubscribe, &Error::Unavailable("database: gone".into())))
        });
        assert!(unavailable.contains("WARN") && unavailable.contains("database: gone"), "{unavailable}");
        assert_eq!(
            logged(|| drop(error(cx, Lang::En, Audience::Unsubscribe, &Error::not_found("contact")))),
            ""
        );
    }
}
