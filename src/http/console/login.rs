//! Logging in and out, and the operator's language. The login page says the same for
//! an unknown address, a disabled operator and a wrong password; repeated failures wait
//! longer and longer (per address and per client network), never for good.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::{render, see_other, set_cookie, Layout, Signed};
use crate::http::client::{login_network, Client};
use crate::http::pages::{form_field, form_fields};
use crate::i18n::Lang;
use crate::service::operators::{self, LoginError};
use crate::service::Context;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::http::resource("/login").route(web::get().to(show)).route(web::post().to(login)))
        .service(crate::http::resource("/logout").route(web::post().to(logout)))
        .service(crate::http::resource("/language").route(web::post().to(language)));
}

#[derive(Template)]
#[template(path = "console/login.html")]
struct Login {
    layout: Layout,
    problem: Option<&'static str>,
    email: String,
}

fn login_page(lang: Lang, status: StatusCode, problem: Option<&'static str>, email: String) -> HttpResponse {
    let w = lang.console();
    let layout = Layout {
        lang: lang.code(),
        w,
        title: w.login_title.into(),
        section: "",
        who: None,
        path: String::new(),
    };
    render(status, &Login { layout, problem, email })
}

async fn show(client: Client) -> HttpResponse {
    login_page(Lang::choose(None, &client.languages), StatusCode::OK, None, String::new())
}

async fn login(cx: web::Data<Context>, req: HttpRequest, client: Client, body: web::Bytes) -> HttpResponse {
    let lang = Lang::choose(None, &client.languages);
    let w = lang.console();
    let fields = form_fields(&body);
    let email = form_field(&fields, "email").unwrap_or_default().trim().to_owned();
    let password = form_field(&fields, "password").unwrap_or_default().to_owned();
    let network = login_network(&req, &cx);
    match operators::login(&cx, &email, password, network).await {
        Ok(opened) => {
            let mut response = see_other("/console/");
            if let Ok(value) = HeaderValue::from_str(&set_cookie(&cx, Some(&opened.cookie))) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        Err(LoginError::Refused) => login_page(lang, StatusCode::UNAUTHORIZED, Some(w.login_refused), email),
        Err(LoginError::Throttled { retry_after }) => {
            let mut response =
                login_page(lang, StatusCode::TOO_MANY_REQUESTS, Some(w.login_throttled), email);
            if let Ok(value) = HeaderValue::from_str(&retry_after.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        Err(LoginError::Fault(e)) => super::error_page(lang, None, &e),
    }
}

async fn logout(cx: web::Data<Context>, signed: Signed, body: web::Bytes) -> HttpResponse {
    let result = async {
        signed.form(&body)?;
        operators::logout(&cx, signed.session.id_hash.clone()).await?;
        let mut response = see_other("/console/login");
        if let Ok(value) = HeaderValue::from_str(&set_cookie(&cx, None)) {
            response.headers_mut().insert(header::SET_COOKIE, value);
        }
        Ok(response)
    }
    .await;
    signed.answer(result)
}

/// Switches the console's language, remembered on the operator's account.
async fn language(cx: web::Data<Context>, signed: Signed, body: web::Bytes) -> HttpResponse {
    let result = async {
        let form = signed.form(&body)?;
        let lang = Lang::choose(form.get("lang"), &[]);
        operators::set_locale(&cx, signed.session.operator.id.clone(), lang.code()).await?;
        // Back to the page the switch was on: only a console path, never elsewhere.
        let back = form
            .get("back")
            .filter(|p| p.starts_with("/console/") && !p.contains("//") && !p.contains('\\'))
            .unwrap_or("/console/");
        Ok(see_other(back))
    }
    .await;
    signed.answer(result)
}
