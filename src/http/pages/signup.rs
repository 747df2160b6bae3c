//! Links by mail: `POST /v1/preferences/link` (a fresh preference link), `POST
//! /v1/subscribe` (double opt-in), and the confirmation page `/c/{token}`, whose `GET`
//! changes nothing (scanners fetch it) and whose button confirms.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use askama::Template;

use super::{page, verify, Layout};
use crate::domain::token::Audience;
use crate::error::Error;
use crate::http::client::Client;
use crate::http::json::Json;
use crate::http::openapi::problems;
use crate::i18n::{Lang, Words};
use crate::service::signup::{self, LinkRequest, SubscribeRequest};
use crate::service::Context;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::http::resource("/v1/preferences/link").route(web::post().to(request_link)))
        .service(crate::http::resource("/v1/subscribe").route(web::post().to(subscribe)))
        .service(
            web::scope("/c").service(
                crate::http::resource("/{token}")
                    .route(web::get().to(show))
                    .route(web::head().to(show))
                    .route(web::post().to(confirm)),
            ),
        );
}

problems!(RequestLinkProblems: (422, ""), (429, "Too many requests for this address or from this network"));

/// Mail a fresh preference link to an address. The answer is 202 whether or not the
/// address is known.
#[utoipa::path(post, path = "/v1/preferences/link", tag = "recipients", operation_id = "requestPreferenceLink", request_body = LinkRequest,
    responses((status = 202, description = "Accepted; a link is mailed if the address is known"), RequestLinkProblems))]
pub async fn request_link(
    cx: web::Data<Context>,
    client: Client,
    body: Json<LinkRequest>,
) -> Result<HttpResponse, Error> {
    signup::request_link(cx.into_inner(), body.0, client.pseudonym, client.languages).await?;
    Ok(HttpResponse::Accepted().json(serde_json::json!({"status": "accepted"})))
}

problems!(
    SubscribeProblems:
    (422, ""),
    (429, ""),
    (503, "The confirmation could not be mailed; nothing is lost, ask again"),
);

/// Sign up for topics: they stay `pending` until the link mailed to the address is
/// followed.
#[utoipa::path(post, path = "/v1/subscribe", tag = "recipients", operation_id = "subscribe", request_body = SubscribeRequest,
    responses((status = 202, description = "Accepted; a confirmation link is mailed"), SubscribeProblems))]
pub async fn subscribe(
    cx: web::Data<Context>,
    client: Client,
    body: Json<SubscribeRequest>,
) -> Result<HttpResponse, Error> {
    let evidence = client.evidence();
    signup::subscribe(cx.into_inner(), body.0, evidence, client.languages).await?;
    Ok(HttpResponse::Accepted().json(serde_json::json!({"status": "accepted"})))
}

/// The confirmation page: the topics waiting for it and a button, or what is left.
#[derive(Template)]
#[template(path = "pages/confirm.html")]
struct Confirmation<'a> {
    layout: Layout<'a>,
    words: &'static Words,
    token: &'a str,
    names: &'a [String],
    done: bool,
}

fn render(cx: &Context, lang: Lang, token: &str, names: &[String], done: bool) -> HttpResponse {
    let words = lang.words();
    let confirmation =
        Confirmation { layout: Layout::new(&cx.brand, lang, words.confirm_title), words, token, names, done };
    page(StatusCode::OK, &confirmation)
}

/// The confirmation page of a double opt-in: the topics waiting for confirmation and
/// a button. Changes nothing (`HEAD` likewise).
#[utoipa::path(method(get, head), path = "/c/{token}", tag = "recipients", operation_id = "getConfirmationPage",
    params(("token" = String, Path, description = "The link's signed token")),
    responses((status = 200, description = "The confirmation page", content_type = "text/html", body = String), super::PageErrors))]
pub async fn show(cx: web::Data<Context>, token: web::Path<String>, client: Client) -> HttpResponse {
    let result = async {
        signup::pending(&cx, verify(&cx, &token, Audience::Confirm)?, client.languages.clone()).await
    }
    .await;
    match result {
        Ok((names, locale)) => {
            render(&cx, Lang::choose(locale.as_deref(), &client.languages), &token, &names, false)
        }
        Err(e) => super::error(&cx.brand, Lang::choose(None, &client.languages), Audience::Confirm, &e),
    }
}

/// Confirms a double opt-in: pending statuses become subscribed.
#[utoipa::path(post, path = "/c/{token}", tag = "recipients", operation_id = "confirmSubscription",
    params(("token" = String, Path, description = "The link's signed token")),
    responses((status = 200, description = "Confirmed", content_type = "text/html", body = String), super::PageErrors))]
pub async fn confirm(cx: web::Data<Context>, token: web::Path<String>, client: Client) -> HttpResponse {
    let evidence = client.evidence();
    let result = async {
        let link = verify(&cx, &token, Audience::Confirm)?;
        signup::confirm(&cx, link, evidence, client.languages.clone()).await
    }
    .await;
    match result {
        Ok((names, locale)) => {
            render(&cx, Lang::choose(locale.as_deref(), &client.languages), &token, &names, true)
        }
        Err(e) => super::error(&cx.brand, Lang::choose(None, &client.languages), Audience::Confirm, &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_on_the_confirmation_page_are_text() {
        let names = ["<script>x</script> & it's".to_owned(), "Special offers".to_owned()];
        let words = Lang::Fr.words();
        let config = crate::Config::for_database("sqlite://unused.db").unwrap();
        let brand = crate::brand::Brand::load(&config.brand).unwrap();
        let page = Confirmation {
            layout: Layout::new(&brand, Lang::Fr, words.confirm_title),
            words,
            token: "T",
            names: &names,
            done: false,
        };
        let html = page.render().unwrap();
        assert!(
            html.contains(
                "<ul><li>&#60;script&#62;x&#60;/script&#62; &#38; it&#39;s</li><li>Special offers</li></ul>"
            ),
            "{html}"
        );
        assert!(
            html.contains(r#"<form method="post" action="/c/T">"#) && html.contains("Oui, je m’inscris"),
            "{html}"
        );
        assert!(
            html.starts_with("<!doctype html>\n<html lang=\"fr\">") && html.ends_with("</html>\n"),
            "{html}"
        );
    }
}
