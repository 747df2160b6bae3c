//! The preference page (`/p/{token}`) and its JSON API (`/v1/preferences`, with the
//! page's token as the bearer — never a cookie, so there is nothing to forge across
//! sites). The page is a plain form that works without JavaScript (its POST answers
//! with a redirect, so a reload posts nothing again); with it, the form saves through
//! the API without reloading.

use std::collections::BTreeMap;
use std::future::{ready, Ready};

use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};

use askama::Template;

use super::{form_field, form_fields, see_other, verify, Layout};
use crate::domain::pause::Length;
use crate::domain::token::{Audience, Link};
use crate::domain::{Locale, TopicKey};
use crate::error::Error;
use crate::http::auth::bearer;
use crate::http::client::Client;
use crate::http::json::Json;
use crate::http::openapi::problems;
use crate::i18n::{Lang, Words};
use crate::service::recipients::{self, Preferences, PreferencesWrite, TopicChoice};
use crate::service::Context;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/p")
            .service(
                crate::http::resource("/{token}").route(web::get().to(show)).route(web::post().to(save_form)),
            )
            .service(
                crate::http::resource("/{token}/delete")
                    .route(web::get().to(super::erase::question))
                    .route(web::post().to(super::erase::ask)),
            ),
    )
    .service(
        crate::http::resource("/v1/preferences")
            .route(web::get().to(get))
            .route(web::put().to(put))
            .route(web::delete().to(super::erase::api)),
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

problems!(PutProblems: (422, "An unknown or transactional topic, or a pause that is not within the next 365 days"));

/// Change some choices; topics not named keep their status. `paused_until` pauses
/// promotional mail (at most 365 days ahead; `null` resumes it).
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

/// One way to pause, as the page offers it.
struct PauseChoice {
    value: &'static str,
    label: &'static str,
}

/// The preference page: the recipient's topics as a form, a pause, and their data.
#[derive(Template)]
#[template(path = "pages/preferences.html")]
struct Page<'a> {
    layout: Layout<'a>,
    words: &'static Words,
    token: &'a str,
    preferences: &'a Preferences,
    /// The language the form shows as chosen (`en` or `fr`).
    locale: &'static str,
    saved: bool,
    /// "Promotional email is paused until …", when it is.
    paused: Option<String>,
    pauses: [PauseChoice; 3],
}

impl Page<'_> {
    /// What describes a topic's checkbox to a screen reader: its description, whether
    /// it awaits confirmation, and why it cannot be changed now.
    fn described_by(&self, topic: &TopicChoice) -> String {
        let mut ids = Vec::new();
        if topic.frequency.is_some() {
            ids.push(format!("f-{}", topic.key));
        }
        if !topic.description.is_empty() {
            ids.push(format!("d-{}", topic.key));
        }
        if topic.pending {
            ids.push(format!("p-{}", topic.key));
        }
        if self.preferences.unsubscribed_all {
            ids.push("all-note".to_owned());
        }
        ids.join(" ")
    }
}

fn render(cx: &Context, token: &str, preferences: &Preferences, lang: Lang, saved: bool) -> HttpResponse {
    let words = lang.words();
    let current = preferences.locale.as_deref().map(|l| Lang::choose(Some(l), &[])).unwrap_or(lang);
    let page = Page {
        layout: Layout::new(&cx.brand, lang, words.preferences_title).with_script(),
        words,
        token,
        preferences,
        locale: current.code(),
        saved,
        paused: preferences.paused_until.map(|until| words.paused_until.with(&lang.date(until.naive_utc()))),
        pauses: [
            PauseChoice { value: Length::Week.as_str(), label: words.pause_week },
            PauseChoice { value: Length::Month.as_str(), label: words.pause_month },
            PauseChoice { value: Length::ThreeMonths.as_str(), label: words.pause_three_months },
        ],
    };
    super::page(StatusCode::OK, &page)
}

/// The preference page: every public topic with its status, a pause, the recipient's
/// data; a form that works without JavaScript. `?saved=1` (where a save redirects)
/// says the choices are saved.
#[utoipa::path(get, path = "/p/{token}", tag = "recipients", operation_id = "getPreferencePage",
    params(("token" = String, Path, description = "The link's signed token"),
        ("saved" = Option<String>, Query, description = "`1` after a save: the page says so")),
    responses((status = 200, description = "The preference page", content_type = "text/html", body = String), super::PageErrors))]
pub async fn show(
    cx: web::Data<Context>,
    token: web::Path<String>,
    client: Client,
    req: HttpRequest,
) -> HttpResponse {
    let saved =
        url::form_urlencoded::parse(req.query_string().as_bytes()).any(|(k, v)| k == "saved" && v == "1");
    let result = async {
        let link = verify(&cx, &token, Audience::Preferences)?;
        recipients::preferences(&cx, link, client.languages.clone()).await
    }
    .await;
    match result {
        Ok(preferences) => {
            let lang = Lang::choose(preferences.locale.as_deref(), &client.languages);
            render(&cx, &token, &preferences, lang, saved)
        }
        Err(e) => super::error(&cx.brand, Lang::choose(None, &client.languages), Audience::Preferences, &e),
    }
}

/// The forms posted without JavaScript. The choices: checked boxes are present, the
/// `shown` fields name every topic the page offered, so an unchecked box means "not
/// this one". A pause: `pause` is `week`, `month`, `3months` or `resume`.
fn choices(body: &[u8], now: chrono::NaiveDateTime) -> PreferencesWrite {
    let fields = form_fields(body);
    if let Some(pause) = form_field(&fields, "pause") {
        // A word the page does not offer changes nothing.
        let paused_until = match pause {
            "resume" => Some(None),
            other => Length::parse(other).map(|length| Some(length.from(now).and_utc())),
        };
        return PreferencesWrite { paused_until, ..PreferencesWrite::default() };
    }
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
        locale: form_field(&fields, "locale").and_then(|v| Locale::parse(v).ok()),
        ..PreferencesWrite::default()
    }
}

/// The preference page's forms, posted without JavaScript: the choices (`shown` names
/// each topic the page offered, `topic.<key>` each checked one; `unsubscribed_all`,
/// `locale`), or a pause (`pause`: `week`, `month`, `3months`, `resume`). Answers with a
/// redirect to the page, which says the choices are saved.
#[utoipa::path(post, path = "/p/{token}", tag = "recipients", operation_id = "savePreferencePage",
    params(("token" = String, Path, description = "The link's signed token")),
    request_body(content = Object, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Saved; see the page again, at `?saved=1`", headers(("Location" = String, description = "The preference page"))),
        (status = 422, description = "A topic that cannot be chosen", content_type = "text/html", body = String),
        super::PageErrors,
    ))]
pub async fn save_form(
    cx: web::Data<Context>,
    token: web::Path<String>,
    client: Client,
    body: web::Bytes,
) -> HttpResponse {
    let evidence = client.evidence();
    let result = async {
        let link = verify(&cx, &token, Audience::Preferences)?;
        let choices = choices(&body, crate::store::now());
        recipients::update_preferences(&cx, link, choices, evidence, client.languages.clone()).await
    }
    .await;
    match result {
        Ok(_) => see_other(&format!("/p/{}?saved=1", token.as_str())),
        Err(e) => super::error(&cx.brand, Lang::choose(None, &client.languages), Audience::Preferences, &e),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forms_read_as_choices_or_a_pause() {
        let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap().naive_utc();
        let saved = choices(b"shown=news&shown=offers&topic.offers=on&locale=fr", now);
        let topics: Vec<(&str, bool)> = saved.topics.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(topics, [("news", false), ("offers", true)]);
        assert_eq!((saved.unsubscribed_all, saved.paused_until), (Some(false), None));
        let paused = choices(b"pause=week", now);
        assert_eq!(paused.paused_until, Some(Some(Length::Week.from(now).and_utc())));
        assert!(
            paused.topics.is_empty() && paused.unsubscribed_all.is_none(),
            "a pause changes nothing else"
        );
        assert_eq!(choices(b"pause=resume", now).paused_until, Some(None));
        assert_eq!(choices(b"pause=forever", now).paused_until, None);
    }
}
