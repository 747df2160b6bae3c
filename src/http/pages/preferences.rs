//! The preference page (`/p/{token}`) and its JSON API (`/v1/preferences`, with the
//! page's token as the bearer — never a cookie, so there is nothing to forge across
//! sites). The page is a plain form that works without JavaScript; with it, the form
//! saves through the API without reloading.

use std::collections::BTreeMap;
use std::future::{ready, Ready};

use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};

use askama::Template;

use super::{page, verify, Layout, Notice};
use crate::domain::token::{Audience, Link};
use crate::domain::{Locale, TopicKey};
use crate::error::Error;
use crate::http::auth::bearer;
use crate::http::client::Client;
use crate::http::json::Json;
use crate::http::openapi::problems;
use crate::i18n::{Lang, Words};
use crate::service::recipients::{self, Preferences, PreferencesWrite};
use crate::service::Context;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/p")
            .service(
                crate::http::resource("/{token}").route(web::get().to(show)).route(web::post().to(save_form)),
            )
            .service(
                crate::http::resource("/{token}/delete")
                    .route(web::get().to(confirm_erase))
                    .route(web::post().to(erase_form)),
            ),
    )
    .service(
        crate::http::resource("/v1/preferences")
            .route(web::get().to(get))
            .route(web::put().to(put))
            .route(web::delete().to(erase)),
    )
    .service(crate::http::resource("/v1/preferences/export").route(web::get().to(export)));
}

/// A verified preference link from the `Authorization: Bearer` header (401 otherwise).
pub struct PreferenceLink(pub Link);

impl FromRequest for PreferenceLink {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let result = match (bearer(req), req.app_data::<web::Data<Context>>()) {
            (Some(token), Some(cx)) => {
                verify(cx, token, Audience::Preferences).map_err(|_| Error::Unauthorized)
            }
            _ => Err(Error::Unauthorized),
        };
        ready(result.map(PreferenceLink))
    }
}

/// The page's state.
#[utoipa::path(get, path = "/v1/preferences", tag = "recipients", operation_id = "getPreferences",
    security(("preference_token" = [])),
    responses((status = 200, body = Preferences)))]
pub async fn get(
    link: PreferenceLink,
    cx: web::Data<Context>,
    client: Client,
) -> Result<HttpResponse, Error> {
    let preferences = recipients::preferences(&cx, link.0, client.languages).await?;
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(preferences))
}

problems!(PutProblems: (422, "An unknown or transactional topic"));

/// Change some choices; topics not named keep their status.
#[utoipa::path(put, path = "/v1/preferences", tag = "recipients", operation_id = "putPreferences", request_body = PreferencesWrite,
    security(("preference_token" = [])),
    responses((status = 200, body = Preferences), PutProblems))]
pub async fn put(
    link: PreferenceLink,
    cx: web::Data<Context>,
    client: Client,
    body: Json<PreferencesWrite>,
) -> Result<HttpResponse, Error> {
    let evidence = client.evidence();
    let preferences = recipients::update_preferences(&cx, link.0, body.0, evidence, client.languages).await?;
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(preferences))
}

/// The preference page: the recipient's topics as a form, and their privacy links.
#[derive(Template)]
#[template(path = "pages/preferences.html")]
struct Page<'a> {
    layout: Layout,
    words: &'static Words,
    token: &'a str,
    preferences: &'a Preferences,
    /// The language the form shows as chosen (`en` or `fr`).
    locale: &'static str,
    saved: bool,
}

/// "Delete my data": the question, before anything is done.
#[derive(Template)]
#[template(path = "pages/erase.html")]
struct EraseQuestion<'a> {
    layout: Layout,
    words: &'static Words,
    token: &'a str,
}

fn render(token: &str, preferences: &Preferences, lang: Lang, saved: bool) -> HttpResponse {
    let words = lang.words();
    let current = preferences.locale.as_deref().map(|l| Lang::choose(Some(l), &[])).unwrap_or(lang);
    let page = Page {
        layout: Layout::new(lang, words.preferences_title).with_script(),
        words,
        token,
        preferences,
        locale: current.code(),
        saved,
    };
    super::page(StatusCode::OK, &page)
}

/// The preference page: every public topic with its status, a form that works without
/// JavaScript.
#[utoipa::path(get, path = "/p/{token}", tag = "recipients", operation_id = "getPreferencePage",
    params(("token" = String, Path, description = "The link's signed token")),
    responses((status = 200, description = "The preference page", content_type = "text/html", body = String), super::PageErrors))]
pub async fn show(cx: web::Data<Context>, token: web::Path<String>, client: Client) -> HttpResponse {
    let result = async {
        let link = verify(&cx, &token, Audience::Preferences)?;
        recipients::preferences(&cx, link, client.languages.clone()).await
    }
    .await;
    match result {
        Ok(preferences) => {
            let lang = Lang::choose(preferences.locale.as_deref(), &client.languages);
            render(&token, &preferences, lang, false)
        }
        Err(e) => super::error(Lang::choose(None, &client.languages), &e),
    }
}

/// The form posted without JavaScript: checked boxes are present, the `shown` fields
/// name every topic the page offered, so an unchecked box means "not this one".
fn choices(body: &[u8]) -> PreferencesWrite {
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
    let checked = |name: &str| fields.iter().any(|(k, _)| k == name);
    let mut topics = BTreeMap::new();
    for (_, key) in fields.iter().filter(|(k, _)| k == "shown") {
        if let Ok(key) = TopicKey::parse(key) {
            let on = checked(&format!("topic.{key}"));
            topics.insert(key, on);
        }
    }
    PreferencesWrite {
        topics,
        unsubscribed_all: Some(checked("unsubscribed_all")),
        locale: fields.iter().find(|(k, _)| k == "locale").and_then(|(_, v)| Locale::parse(v).ok()),
    }
}

/// The preference page's form, posted without JavaScript: `shown` names each topic
/// the page offered, `topic.<key>` each checked one; `unsubscribed_all`, `locale`.
#[utoipa::path(post, path = "/p/{token}", tag = "recipients", operation_id = "savePreferencePage",
    params(("token" = String, Path, description = "The link's signed token")),
    request_body(content = Object, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Saved; the page again", content_type = "text/html", body = String), super::PageErrors))]
pub async fn save_form(
    cx: web::Data<Context>,
    token: web::Path<String>,
    client: Client,
    body: web::Bytes,
) -> HttpResponse {
    let evidence = client.evidence();
    let result = async {
        let link = verify(&cx, &token, Audience::Preferences)?;
        recipients::update_preferences(&cx, link, choices(&body), evidence, client.languages.clone()).await
    }
    .await;
    match result {
        Ok(preferences) => {
            let lang = Lang::choose(preferences.locale.as_deref(), &client.languages);
            render(&token, &preferences, lang, true)
        }
        Err(e) => super::error(Lang::choose(None, &client.languages), &e),
    }
}

/// Everything held about the link's owner, as one JSON document.
#[utoipa::path(get, path = "/v1/preferences/export", tag = "recipients", operation_id = "exportPreferences",
    security(("preference_token" = [])),
    responses((status = 200, body = crate::service::privacy::Export)))]
pub async fn export(link: PreferenceLink, cx: web::Data<Context>) -> Result<HttpResponse, Error> {
    let document = crate::service::privacy::export(&cx, link.0.recipient.into()).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Content-Disposition", "attachment; filename=\"my-email-preferences.json\""))
        .json(document))
}

/// Erase the link's owner.
#[utoipa::path(delete, path = "/v1/preferences", tag = "recipients", operation_id = "erasePreferences",
    security(("preference_token" = [])),
    responses((status = 204, description = "Erased")))]
pub async fn erase(link: PreferenceLink, cx: web::Data<Context>) -> Result<HttpResponse, Error> {
    crate::service::privacy::erase(&cx, link.0.recipient.into(), crate::domain::Source::Page).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// "Delete my data" asks before it does anything: a page reached by GET changes
/// nothing.
#[utoipa::path(get, path = "/p/{token}/delete", tag = "recipients", operation_id = "getErasePage",
    params(("token" = String, Path, description = "The link's signed token")),
    responses((status = 200, description = "Asks whether to delete", content_type = "text/html", body = String), super::PageErrors))]
pub async fn confirm_erase(cx: web::Data<Context>, token: web::Path<String>, client: Client) -> HttpResponse {
    let lang = Lang::choose(None, &client.languages);
    if let Err(e) = verify(&cx, &token, Audience::Preferences) {
        return super::error(lang, &e);
    }
    let words = lang.words();
    let question = EraseQuestion { layout: Layout::new(lang, words.erase_title), words, token: &token };
    page(StatusCode::OK, &question)
}

/// "Delete my data", confirmed: erases the link's owner.
#[utoipa::path(post, path = "/p/{token}/delete", tag = "recipients", operation_id = "eraseFromPage",
    params(("token" = String, Path, description = "The link's signed token")),
    responses((status = 200, description = "Erased", content_type = "text/html", body = String), super::PageErrors))]
pub async fn erase_form(cx: web::Data<Context>, token: web::Path<String>, client: Client) -> HttpResponse {
    let lang = Lang::choose(None, &client.languages);
    let result = async {
        let link = verify(&cx, &token, Audience::Preferences)?;
        crate::service::privacy::erase(&cx, link.recipient.into(), crate::domain::Source::Page).await
    }
    .await;
    match result {
        Ok(()) => {
            let words = lang.words();
            let done =
                Notice { layout: Layout::new(lang, words.erase_title), text: words.erased_done, done: true };
            page(StatusCode::OK, &done)
        }
        Err(e) => super::error(lang, &e),
    }
}
