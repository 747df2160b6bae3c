//! `/console/contacts`: find a contact, read its statuses, suppression and consent
//! history, and act on it — change a status, correct its address, export it, erase it
//! (admins, after a confirmation that names the address).

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{render, see_other, Layout, Signed};
use crate::domain::{Category, ContactId, NormalizedAddress, Role, Source, Status};
use crate::error::Error;
use crate::i18n::console::ConsoleWords;
use crate::service::contacts::{
    self, ContactPatch, ContactRef, ContactView, EventView, EventsQuery, Resubscribe, StatusWrite,
};
use crate::service::suppressions::{self, SuppressionView};
use crate::service::{privacy, topics, Context};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::http::resource("/contacts").route(web::get().to(search)))
        .service(crate::http::resource("/contacts/{id}").route(web::get().to(show)))
        .service(crate::http::resource("/contacts/{id}/status").route(web::post().to(set_status)))
        .service(crate::http::resource("/contacts/{id}/address").route(web::post().to(correct)))
        .service(crate::http::resource("/contacts/{id}/export").route(web::get().to(export)))
        .service(
            crate::http::resource("/contacts/{id}/erase")
                .route(web::get().to(confirm))
                .route(web::post().to(erase)),
        );
}

#[derive(Deserialize)]
struct SearchQuery {
    q: Option<String>,
    erased: Option<String>,
}

#[derive(Template)]
#[template(path = "console/contacts.html")]
struct Search {
    layout: Layout,
    q: String,
    searched: bool,
    found: Option<ContactView>,
    /// The suppression of the address searched for, if it is one.
    suppression: Option<SuppressionView>,
    message: Option<&'static str>,
}

/// The suppression of `address`, if any.
async fn suppression_of(cx: &Context, address: Option<&str>) -> Result<Option<SuppressionView>, Error> {
    let Some(address) = address.and_then(|a| NormalizedAddress::parse(a).ok()) else { return Ok(None) };
    match suppressions::get(cx, address).await {
        Ok(view) => Ok(Some(view)),
        Err(Error::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn search(cx: web::Data<Context>, signed: Signed, query: web::Query<SearchQuery>) -> HttpResponse {
    let result = async {
        let q = query.q.as_deref().unwrap_or_default().trim().to_owned();
        let searched = !q.is_empty();
        let found = if searched { contacts::search(&cx, q.clone()).await? } else { None };
        let suppression = if searched { suppression_of(&cx, Some(&q)).await? } else { None };
        let message = query.erased.is_some().then_some(signed.words().erased_done);
        let layout = signed.layout(signed.words().contacts, "contacts");
        Ok(render(StatusCode::OK, &Search { layout, q, searched, found, suppression, message }))
    }
    .await;
    signed.answer(result)
}

/// One topic's status for the contact: explicit, or the topic's default.
struct TopicStatus {
    key: String,
    name: String,
    status: &'static str,
    explicit: bool,
}

/// One line of the consent history.
struct Line {
    time: String,
    what: String,
    source: String,
    operator: Option<String>,
    message_id: String,
    client: String,
    user_agent: String,
    consent: String,
}

/// An event's time as the console shows it.
pub(super) fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A status in the operator's words.
pub(super) fn status_word(w: &ConsoleWords, status: Status) -> &'static str {
    match status {
        Status::Subscribed => w.subscribed,
        Status::Unsubscribed => w.unsubscribed,
        Status::Pending => w.pending,
    }
}

/// What an event did, in the operator's words: its type, and the topic, statuses,
/// reason and particulars it concerns.
pub(super) fn what(
    w: &ConsoleWords,
    kind: &str,
    topic: Option<&str>,
    (old, new): (Option<Status>, Option<Status>),
    reason: Option<&str>,
    detail: Option<&str>,
) -> String {
    let mut s = w.term(kind).into_owned();
    if let Some(topic) = topic {
        s.push_str(&format!(" · {topic}"));
    }
    match (old, new) {
        (Some(old), Some(new)) => {
            s.push_str(&format!(" · {} → {}", w.term(old.as_str()), w.term(new.as_str())))
        }
        (None, Some(new)) => s.push_str(&format!(" · {}", w.term(new.as_str()))),
        _ => {}
    }
    if let Some(reason) = reason {
        s.push_str(&format!(" · {}", w.term(reason)));
    }
    if let Some(detail) = detail {
        s.push_str(&format!(" · {}", w.detail(detail)));
    }
    s
}

impl Line {
    fn new(w: &ConsoleWords, e: EventView) -> Self {
        Line {
            time: time(e.occurred_at),
            what: what(
                w,
                e.kind.as_str(),
                e.topic.as_deref(),
                (e.old_status, e.status),
                e.reason.as_deref(),
                e.detail.as_deref(),
            ),
            source: w.term(&e.source).into_owned(),
            operator: e.operator,
            message_id: e.message_id.unwrap_or_default(),
            client: e.client.unwrap_or_default(),
            user_agent: e.user_agent.unwrap_or_default(),
            consent: e.consent.unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "console/contact.html")]
struct ContactPage {
    layout: Layout,
    c: ContactView,
    email: String,
    topics: Vec<TopicStatus>,
    suppression: Option<SuppressionView>,
    events: Vec<Line>,
    can_edit: bool,
    can_erase: bool,
    csrf: String,
    message: Option<&'static str>,
}

fn contact_id(raw: &str) -> Result<ContactId, Error> {
    raw.parse().map_err(|_| Error::not_found("there is no such contact"))
}

#[derive(Deserialize)]
struct Saved {
    saved: Option<String>,
}

async fn show(
    cx: web::Data<Context>,
    signed: Signed,
    id: web::Path<String>,
    query: web::Query<Saved>,
) -> HttpResponse {
    let result = async {
        let id = contact_id(&id)?;
        let c = contacts::get(&cx, ContactRef::Id(id)).await?;
        let all = topics::list(&cx, false).await?;
        let w = signed.words();
        let topics = all
            .into_iter()
            .map(|t| {
                let explicit = c.subscriptions.get(&t.key).copied();
                let status = match (t.category, explicit) {
                    // Unsubscribes never stop transactional mail.
                    (Category::Transactional, _) => w.always_sent,
                    (_, Some(status)) => status_word(w, status),
                    (_, None) if t.default_subscribed => w.subscribed,
                    (_, None) => w.unsubscribed,
                };
                let explicit = explicit.is_some() || t.category == Category::Transactional;
                TopicStatus { key: t.key, name: t.name, status, explicit }
            })
            .collect();
        let suppression = suppression_of(&cx, c.email.as_deref()).await?;
        let page =
            contacts::events(&cx, ContactRef::Id(id), EventsQuery { after: None, limit: Some(1000) }).await?;
        let events = page.events.into_iter().rev().map(|e| Line::new(w, e)).collect();
        let email = c.email.clone().unwrap_or_else(|| c.id.to_string());
        let page = ContactPage {
            layout: signed.layout(format!("{} {}", signed.words().contact_title, email), "contacts"),
            email,
            c,
            topics,
            suppression,
            events,
            can_edit: signed.role() >= Role::Editor,
            can_erase: signed.role() >= Role::Admin,
            csrf: signed.session.csrf.clone(),
            message: query.saved.is_some().then_some(signed.words().saved),
        };
        Ok(render(StatusCode::OK, &page))
    }
    .await;
    signed.answer(result)
}

async fn set_status(
    cx: web::Data<Context>,
    signed: Signed,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let signed = &signed;
    signed
        .post(Role::Editor, &body, |form| async move {
            let id = contact_id(&id)?;
            let topic = form.required("topic")?.to_owned();
            let status: Status = form
                .required("status")?
                .parse()
                .map_err(|_| Error::invalid("status", "subscribed or unsubscribed"))?;
            let write = StatusWrite {
                status,
                resubscribe: form
                    .get("consent")
                    .map(|c| Resubscribe { consent: c.to_owned(), legal_basis: None }),
                source: Some(Source::Console),
                message_id: None,
            };
            contacts::set_status(&cx, ContactRef::Id(id), topic, write).await?;
            Ok(see_other(&format!("/console/contacts/{id}?saved=1")))
        })
        .await
}

async fn correct(
    cx: web::Data<Context>,
    signed: Signed,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let signed = &signed;
    signed
        .post(Role::Editor, &body, |form| async move {
            let id = contact_id(&id)?;
            let patch =
                ContactPatch { email: Some(form.required("email")?.to_owned()), ..ContactPatch::default() };
            contacts::correct(&cx, ContactRef::Id(id), patch).await?;
            Ok(see_other(&format!("/console/contacts/{id}?saved=1")))
        })
        .await
}

/// The same document as `GET /v1/contacts/{id}/export`, as a download.
async fn export(cx: web::Data<Context>, signed: Signed, id: web::Path<String>) -> HttpResponse {
    let result = async {
        let id = contact_id(&id)?;
        let export = privacy::export(&cx, ContactRef::Id(id)).await?;
        let body = serde_json::to_vec_pretty(&export).map_err(|e| Error::internal("writing an export", e))?;
        let disposition = format!("attachment; filename=\"contact-{id}.json\"");
        let mut response = HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .body(body);
        if let Ok(value) = HeaderValue::from_str(&disposition) {
            response.headers_mut().insert(header::CONTENT_DISPOSITION, value);
        }
        Ok(response)
    }
    .await;
    signed.answer(result)
}

#[derive(Template)]
#[template(path = "console/erase.html")]
struct Confirm {
    layout: Layout,
    id: ContactId,
    email: String,
    csrf: String,
}

/// The confirmation before an erasure, naming the address. Admins only.
async fn confirm(cx: web::Data<Context>, signed: Signed, id: web::Path<String>) -> HttpResponse {
    let result = async {
        signed.require(Role::Admin)?;
        let id = contact_id(&id)?;
        let c = contacts::get(&cx, ContactRef::Id(id)).await?;
        let email = c.email.unwrap_or_else(|| c.id.to_string());
        let layout = signed.layout(signed.words().erase_title, "contacts");
        Ok(render(StatusCode::OK, &Confirm { layout, id, email, csrf: signed.session.csrf.clone() }))
    }
    .await;
    signed.answer(result)
}

async fn erase(
    cx: web::Data<Context>,
    signed: Signed,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let signed = &signed;
    signed
        .post(Role::Admin, &body, |form| async move {
            if form.get("confirm") != Some("yes") {
                return Err(Error::invalid("confirm", "the erasure was not confirmed"));
            }
            let id = contact_id(&id)?;
            let email = contacts::get(&cx, ContactRef::Id(id)).await?.email;
            privacy::erase(&cx, ContactRef::Id(id), Source::Console).await?;
            // The address's search shows the erasure suppression at once.
            let q = email
                .map(|e| url::form_urlencoded::byte_serialize(e.as_bytes()).collect::<String>())
                .unwrap_or_default();
            Ok(see_other(&format!("/console/contacts?q={q}&erased=1")))
        })
        .await
}
