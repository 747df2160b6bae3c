//! Links by mail: `POST /v1/preferences/link` (a fresh preference link), `POST
//! /v1/subscribe` (double opt-in), and the confirmation page `/c/{token}`, whose `GET`
//! changes nothing (scanners fetch it) and whose button confirms.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use super::{page, verify};
use crate::domain::token::Audience;
use crate::error::{Error, Problem};
use crate::html::escape;
use crate::http::client::Client;
use crate::http::json::Json;
use crate::i18n::Lang;
use crate::service::signup::{self, LinkRequest, SubscribeRequest};
use crate::App;

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

/// Mail a fresh preference link to an address. The answer is 202 whether or not the
/// address is known.
#[utoipa::path(post, path = "/v1/preferences/link", tag = "recipients", operation_id = "requestPreferenceLink", request_body = LinkRequest,
    responses((status = 202, description = "Accepted; a link is mailed if the address is known"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests for this address or from this network", body = Problem, content_type = "application/problem+json")))]
pub async fn request_link(
    app: web::Data<App>,
    client: Client,
    body: Json<LinkRequest>,
) -> Result<HttpResponse, Error> {
    signup::request_link(app, body.0, client.pseudonym, client.languages).await?;
    Ok(HttpResponse::Accepted().json(serde_json::json!({"status": "accepted"})))
}

/// Sign up for topics: they stay `pending` until the link mailed to the address is
/// followed.
#[utoipa::path(post, path = "/v1/subscribe", tag = "recipients", operation_id = "subscribe", request_body = SubscribeRequest,
    responses((status = 202, description = "Accepted; a confirmation link is mailed"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The confirmation could not be mailed; nothing is lost, ask again", body = Problem, content_type = "application/problem+json")))]
pub async fn subscribe(
    app: web::Data<App>,
    client: Client,
    body: Json<SubscribeRequest>,
) -> Result<HttpResponse, Error> {
    let evidence = client.evidence();
    signup::subscribe(app, body.0, evidence, client.languages).await?;
    Ok(HttpResponse::Accepted().json(serde_json::json!({"status": "accepted"})))
}

fn render(lang: Lang, token: &str, names: &[String], done: bool) -> HttpResponse {
    let words = lang.words();
    let body = if done {
        format!("<p class=\"done\">{}</p>", escape(words.confirmed))
    } else if names.is_empty() {
        format!("<p>{}</p>", escape(words.nothing_pending))
    } else {
        let list: String = names.iter().map(|n| format!("<li>{}</li>", escape(n))).collect();
        format!(
            r#"<p class="question">{}:</p><ul>{list}</ul>
<form method="post" action="/c/{}"><button type="submit" class="primary">{}</button></form>"#,
            escape(words.confirm_question),
            escape(token),
            escape(words.confirm_button)
        )
    };
    page(StatusCode::OK, lang, words.confirm_title, &body, false)
}

/// The confirmation page of a double opt-in: the topics waiting for confirmation and
/// a button. Changes nothing (`HEAD` likewise).
#[utoipa::path(method(get, head), path = "/c/{token}", tag = "recipients", operation_id = "getConfirmationPage",
    params(("token" = String, Path, description = "The link's signed token")),
    responses((status = 200, description = "The confirmation page", content_type = "text/html", body = String), super::PageErrors))]
pub async fn show(app: web::Data<App>, token: web::Path<String>, client: Client) -> HttpResponse {
    let result = async { signup::pending(&app, verify(&app, &token, Audience::Confirm)?).await }.await;
    match result {
        Ok((names, locale)) => {
            render(Lang::choose(locale.as_deref(), &client.languages), &token, &names, false)
        }
        Err(e) => super::error(Lang::choose(None, &client.languages), &e),
    }
}

/// Confirms a double opt-in: pending statuses become subscribed.
#[utoipa::path(post, path = "/c/{token}", tag = "recipients", operation_id = "confirmSubscription",
    params(("token" = String, Path, description = "The link's signed token")),
    responses((status = 200, description = "Confirmed", content_type = "text/html", body = String), super::PageErrors))]
pub async fn confirm(app: web::Data<App>, token: web::Path<String>, client: Client) -> HttpResponse {
    let evidence = client.evidence();
    let result =
        async { signup::confirm(&app, verify(&app, &token, Audience::Confirm)?, evidence).await }.await;
    match result {
        Ok((names, locale)) => {
            render(Lang::choose(locale.as_deref(), &client.languages), &token, &names, true)
        }
        Err(e) => super::error(Lang::choose(None, &client.languages), &e),
    }
}
