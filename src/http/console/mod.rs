//! The operators' console: server-rendered pages from `templates/console/`, in the
//! operator's language, behind a login. A session is a random id in the cookie
//! `pc_session` (HttpOnly, SameSite=Strict, Path=/console, Secure on an https base
//! URL); every state-changing form carries the session's CSRF token; pages carry the
//! recipients' strict headers and refuse to be framed. Each page group is one file;
//! every change goes through the same service functions as the API, on behalf of the
//! operator (`service::as_operator`), so that its event says `console` and who.

pub mod audit;
pub mod contacts;
pub mod dashboard;
pub mod integrations;
pub mod login;
pub mod suppressions;
pub mod topics;
pub mod upload;

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use askama::Template;
use subtle::ConstantTimeEq;

use crate::domain::Role;
use crate::error::Error;
use crate::i18n::console::ConsoleWords;
use crate::i18n::Lang;
use crate::service::operators::Session;
use crate::service::Context;

/// The session cookie's name.
pub const COOKIE: &str = "pc_session";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/console")
            .configure(login::configure)
            .configure(dashboard::configure)
            .configure(contacts::configure)
            .configure(topics::configure)
            .configure(suppressions::configure)
            .configure(integrations::configure)
            .configure(audit::configure)
            .default_service(web::to(not_found)),
    );
}

/// The operator who is logged in, as the header shows them.
pub struct Who {
    pub email: String,
    pub role: Role,
    pub csrf: String,
}

/// What the console's base layout (`templates/console/base.html`) needs.
pub struct Layout {
    pub lang: &'static str,
    pub w: &'static ConsoleWords,
    pub title: String,
    /// Which section of the header is current.
    pub section: &'static str,
    pub who: Option<Who>,
    /// The page's path (for the language switch to come back to).
    pub path: String,
}

impl Layout {
    /// The header's sections: (href, label, key).
    pub fn nav(&self) -> Vec<(&'static str, &'static str, &'static str)> {
        let w = self.w;
        vec![
            ("/console/", w.dashboard, "dashboard"),
            ("/console/contacts", w.contacts, "contacts"),
            ("/console/topics", w.topics, "topics"),
            ("/console/suppressions", w.suppressions, "suppressions"),
            ("/console/api-keys", w.api_keys, "api-keys"),
            ("/console/webhooks", w.webhooks, "webhooks"),
            ("/console/audit", w.audit, "audit"),
        ]
    }

    /// Whether `key` is the current section.
    pub fn is_current(&self, key: &str) -> bool {
        self.section == key
    }

    /// The sections but the dashboard, which the dashboard lists.
    pub fn sections(&self) -> Vec<(&'static str, &'static str)> {
        self.nav().into_iter().filter(|(_, _, key)| *key != "dashboard").map(|(h, l, _)| (h, l)).collect()
    }

    /// The language the switch in the header offers.
    pub fn other_lang(&self) -> &'static str {
        if self.lang == "fr" {
            "en"
        } else {
            "fr"
        }
    }

    /// That language's name, in itself.
    pub fn other_lang_name(&self) -> &'static str {
        if self.lang == "fr" {
            "English"
        } else {
            "Français"
        }
    }
}

/// A page with a sentence: an outcome (`done`) or why something was refused.
#[derive(Template)]
#[template(path = "console/notice.html")]
pub struct Notice {
    pub layout: Layout,
    pub text: String,
    pub done: bool,
    pub back: Option<String>,
}

/// A rendered console page with the recipients' pages' headers (no caching, no
/// referrer, the strict CSP, never indexed) and no framing.
pub fn render(status: StatusCode, template: &impl Template) -> HttpResponse {
    let mut response = crate::http::pages::page(status, template);
    response.headers_mut().insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// A 303 to `location` after a form, with the console's headers.
pub fn see_other(location: &str) -> HttpResponse {
    let mut response = crate::http::pages::see_other(location);
    response.headers_mut().insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// The value of the `pc_session` cookie, read from the `Cookie` headers.
pub fn session_cookie(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().to_owned())
}

/// The `Set-Cookie` value that sets the session cookie (`value`), or clears it (`None`).
pub fn set_cookie(cx: &Context, value: Option<&str>) -> String {
    let secure = if cx.config.base_url.starts_with("https://") { "; Secure" } else { "" };
    match value {
        Some(value) => format!("{COOKIE}={value}; Path=/console; HttpOnly; SameSite=Strict{secure}"),
        None => format!("{COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    }
}

fn login_redirect() -> actix_web::Error {
    actix_web::error::InternalError::from_response(
        "a console session is required",
        see_other("/console/login"),
    )
    .into()
}

/// The open session of the request's cookie. Without one, the request is answered with
/// a 303 to the login page before its handler runs.
pub struct Signed {
    pub session: Session,
    pub lang: Lang,
    /// The page's path, where the language switch comes back to.
    pub path: String,
}

impl FromRequest for Signed {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let cx = req.app_data::<web::Data<Context>>().cloned();
        let cookie = session_cookie(req);
        let path = req.path().to_owned();
        Box::pin(async move {
            let Some(cx) = cx else { return Err(Error::bug("application state is missing").into()) };
            let Some(cookie) = cookie.filter(|c| !c.is_empty() && c.len() <= 100) else {
                return Err(login_redirect());
            };
            match crate::service::operators::session(&cx, cookie).await? {
                Some(session) => {
                    let lang = Lang::choose(Some(&session.operator.locale), &[]);
                    Ok(Signed { session, lang, path })
                }
                None => Err(login_redirect()),
            }
        })
    }
}

impl Signed {
    pub fn words(&self) -> &'static ConsoleWords {
        self.lang.console()
    }

    pub fn layout(&self, title: impl Into<String>, section: &'static str) -> Layout {
        Layout {
            lang: self.lang.code(),
            w: self.words(),
            title: title.into(),
            section,
            path: self.path.clone(),
            who: Some(Who {
                email: self.session.operator.email.clone(),
                role: self.session.operator.role,
                csrf: self.session.csrf.clone(),
            }),
        }
    }

    pub fn role(&self) -> Role {
        self.session.operator.role
    }

    /// 403 unless the operator's role is at least `role`.
    pub fn require(&self, role: Role) -> Result<(), Error> {
        if self.role() >= role {
            Ok(())
        } else {
            Err(Error::Forbidden("role"))
        }
    }

    /// The fields of a posted form, once its CSRF token is this session's (403
    /// otherwise, before anything is read or changed).
    pub fn form(&self, body: &[u8]) -> Result<Form, Error> {
        self.checked(crate::http::pages::form_fields(body))
    }

    /// Form fields (however they were sent), once their CSRF token is this session's.
    pub fn checked(&self, fields: Vec<(String, String)>) -> Result<Form, Error> {
        let token = crate::http::pages::form_field(&fields, "csrf").unwrap_or_default();
        if token.is_empty() || !bool::from(token.as_bytes().ct_eq(self.session.csrf.as_bytes())) {
            return Err(Error::Forbidden("csrf"));
        }
        Ok(Form(fields))
    }

    /// The answer to a posted form: once its CSRF token is this session's and the
    /// operator's role is at least `role` (403 otherwise, before anything is read or
    /// changed), `work` with the form's fields, on behalf of the operator (see
    /// [`act`](Self::act)); its page, or its error as a page.
    pub async fn post<F>(&self, role: Role, body: &[u8], work: impl FnOnce(Form) -> F) -> HttpResponse
    where
        F: Future<Output = Result<HttpResponse, Error>>,
    {
        let result = match self.form(body).and_then(|form| self.require(role).map(|()| form)) {
            Ok(form) => self.act(work(form)).await,
            Err(e) => Err(e),
        };
        self.answer(result)
    }

    /// Runs a use case on behalf of this operator: its events say `console` and who.
    pub async fn act<F: Future>(&self, work: F) -> F::Output {
        crate::service::as_operator(self.session.operator.email.clone(), work).await
    }

    /// The answer of a handler: its page, or its error as a readable console page.
    pub fn answer(&self, result: Result<HttpResponse, Error>) -> HttpResponse {
        result.unwrap_or_else(|e| error_page(self.lang, Some(self), &e))
    }
}

/// A posted form whose CSRF token was checked.
pub struct Form(Vec<(String, String)>);

impl Form {
    /// A field, trimmed; `None` when absent or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        crate::http::pages::form_field(&self.0, name).map(str::trim).filter(|v| !v.is_empty())
    }

    /// A field that must be there (422 naming it otherwise).
    pub fn required(&self, name: &str) -> Result<&str, Error> {
        self.get(name).ok_or_else(|| Error::invalid(name, "is required"))
    }

    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// An error as a console page: the status tells machines, the words tell people; a
/// fault's cause stays in the log.
pub fn error_page(lang: Lang, signed: Option<&Signed>, error: &Error) -> HttpResponse {
    error.log();
    let w = lang.console();
    let (title, text) = match error {
        Error::Forbidden(_) => (w.forbidden_title, w.forbidden.to_owned()),
        Error::NotFound(_) => (w.error_title, w.not_found.to_owned()),
        Error::Unavailable(_) | Error::Internal(_) => (w.error_title, lang.words().try_again.to_owned()),
        // The request's own fault: what was wrong, in the service's words.
        other => (w.error_title, other.to_string()),
    };
    let layout = match signed {
        Some(signed) => signed.layout(title, ""),
        None => {
            Layout { lang: lang.code(), w, title: title.into(), section: "", who: None, path: String::new() }
        }
    };
    let status = actix_web::ResponseError::status_code(error);
    render(status, &Notice { layout, text, done: false, back: Some("/console/".into()) })
}

/// Any other path under `/console/`: the login page without a session, a 404 page with one.
async fn not_found(signed: Signed) -> HttpResponse {
    error_page(signed.lang, Some(&signed), &Error::not_found("no such console page"))
}
