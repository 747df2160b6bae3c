//! `/link`: "email me a new link", the way forward from every page whose link cannot
//! be used. A plain form (the JSON route `POST /v1/preferences/link` does the same for
//! scripts): the address, then a page that says the same whether or not it is known.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use super::{form_field, form_fields, page, Layout, Notice};
use crate::error::Error;
use crate::http::client::Client;
use crate::i18n::Lang;
use crate::service::signup::{self, LinkRequest};
use crate::service::Context;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::http::resource("/link").route(web::get().to(show)).route(web::post().to(send)));
}

/// The form that mails a fresh preference link.
#[utoipa::path(get, path = "/link", tag = "recipients", operation_id = "getLinkForm",
    responses((status = 200, description = "The form", content_type = "text/html", body = String)))]
pub async fn show(cx: web::Data<Context>, client: Client) -> HttpResponse {
    let lang = Lang::choose(None, &client.languages);
    let words = lang.words();
    let notice = Notice {
        link_form: true,
        ..Notice::new(Layout::new(&cx.brand, lang, words.new_link_title), words.new_link_intro)
    };
    page(StatusCode::OK, &notice)
}

/// What the form posts.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // describes the form for the OpenAPI document
pub struct LinkForm {
    #[schema(format = Email, max_length = 254, example = "alice@example.com")]
    email: String,
}

/// Mails a fresh preference link when the address is known; the page says the same
/// either way (as `POST /v1/preferences/link`, with the same limits).
#[utoipa::path(post, path = "/link", tag = "recipients", operation_id = "sendLinkForm",
    request_body(content = LinkForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Asked; a link is mailed if the address is known", content_type = "text/html", body = String),
        (status = 422, description = "Not an address: the form again", content_type = "text/html", body = String),
        (status = 429, description = "Too many requests for this address or from this network", content_type = "text/html", body = String),
    ))]
pub async fn send(cx: web::Data<Context>, client: Client, body: web::Bytes) -> HttpResponse {
    let lang = Lang::choose(None, &client.languages);
    let words = lang.words();
    let fields = form_fields(&body);
    let email = form_field(&fields, "email").unwrap_or_default().trim().to_owned();
    let request = LinkRequest { email: email.clone() };
    match signup::request_link(cx.clone().into_inner(), request, client.pseudonym, client.languages).await {
        Ok(()) => {
            let layout = Layout::new(&cx.brand, lang, words.new_link_sent_title);
            page(StatusCode::OK, &Notice::new(layout, words.new_link_sent.with(&email)).done())
        }
        Err(Error::Invalid { .. }) => {
            let layout = Layout::new(&cx.brand, lang, words.new_link_title);
            let notice = Notice { link_form: true, ..Notice::new(layout, words.not_an_address) };
            page(StatusCode::UNPROCESSABLE_ENTITY, &notice)
        }
        Err(e) => super::error(&cx.brand, lang, crate::domain::token::Audience::Preferences, &e),
    }
}
