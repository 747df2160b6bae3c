//! `/v1/contacts` (scope `contacts`). A contact is named in the path by its id or its
//! URL-encoded address.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::domain::Source;
use crate::error::Error;
use crate::http::auth::{Caller, Contacts};
use crate::http::json::Json;
use crate::http::openapi::{problems, BulkBody, NotFound};
use crate::http::resource;
use crate::service::contact_import::ContactImporter;
use crate::service::contacts::{
    self, ContactPatch, ContactRef, ContactView, ContactWrite, EventPage, EventsQuery, StatusWrite,
};
use crate::service::import::{Format, ImportReport, LineImporter};
use crate::service::privacy::{self, Export};
use crate::service::Context;

pub fn configure(cfg: &mut web::ServiceConfig) {
    // Before `/contacts/{contact}`, which would otherwise take "import" for a contact.
    cfg.service(resource("/contacts/import").route(web::post().to(import)));
    cfg.service(
        resource("/contacts/{contact}")
            .route(web::put().to(upsert))
            .route(web::get().to(get))
            .route(web::patch().to(correct))
            .route(web::delete().to(erase)),
    )
    .service(resource("/contacts/{contact}/export").route(web::get().to(export)))
    .service(resource("/contacts/{contact}/subscriptions/{topic}").route(web::put().to(set_status)))
    .service(resource("/contacts/{contact}/events").route(web::get().to(events)));
}

problems!(
    UpsertProblems:
    (404, "No contact has this id"),
    (409, "Re-subscribing without consent proof, an erased address, or a taken external_id"),
    (422, "Invalid values"),
);

/// Create or update a contact. Statuses not named are left as they are.
#[utoipa::path(put, path = "/v1/contacts/{contact}", tag = "contacts", operation_id = "putContact",
    request_body(content = ContactWrite, example = json!({"locale": "fr", "external_id": "user-42", "subscriptions": {"offers": "subscribed"}})),
    params(("contact" = inline(crate::http::openapi::ContactKey), Path, description = "The contact's id (a UUID) or its URL-encoded address", example = "alice@example.com")),
    security(("api_key" = ["contacts"])),
    responses(
        (status = 200, description = "Updated", body = ContactView, example = json!({"id": "0b6f8f0e-8d3c-4d7e-9a51-3f1f5a0c2b7d",
            "email": "alice@example.com", "locale": "fr", "external_id": "user-42", "unsubscribed_all": false,
            "subscriptions": {"offers": "subscribed"}, "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-02T00:00:00Z"})),
        (status = 201, description = "Created", body = ContactView),
        UpsertProblems,
    ))]
pub async fn upsert(
    _: Caller<Contacts>,
    cx: web::Data<Context>,
    contact: web::Path<String>,
    body: Json<ContactWrite>,
) -> Result<HttpResponse, Error> {
    let target = ContactRef::parse(&contact)?;
    let (view, created) = contacts::upsert(&cx, target, body.0).await?;
    Ok(if created { HttpResponse::Created().json(view) } else { HttpResponse::Ok().json(view) })
}

/// Read a contact.
#[utoipa::path(get, path = "/v1/contacts/{contact}", tag = "contacts", operation_id = "getContact",
    params(("contact" = inline(crate::http::openapi::ContactKey), Path, description = "The contact's id (a UUID) or its URL-encoded address", example = "alice@example.com")),
    security(("api_key" = ["contacts"])),
    responses((status = 200, body = ContactView), NotFound))]
pub async fn get(
    _: Caller<Contacts>,
    cx: web::Data<Context>,
    contact: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let target = ContactRef::parse(&contact)?;
    Ok(HttpResponse::Ok().json(contacts::get(&cx, target).await?))
}

problems!(CorrectProblems: (404, ""), (409, "The new address or external id belongs to another contact"));

/// Correct a contact's address, locale or external id; the history is kept.
#[utoipa::path(patch, path = "/v1/contacts/{contact}", tag = "contacts", operation_id = "patchContact", request_body = ContactPatch,
    params(("contact" = inline(crate::http::openapi::ContactKey), Path, description = "The contact's id (a UUID) or its URL-encoded address", example = "alice@example.com")),
    security(("api_key" = ["contacts"])),
    responses((status = 200, body = ContactView), CorrectProblems))]
pub async fn correct(
    _: Caller<Contacts>,
    cx: web::Data<Context>,
    contact: web::Path<String>,
    body: Json<ContactPatch>,
) -> Result<HttpResponse, Error> {
    let target = ContactRef::parse(&contact)?;
    Ok(HttpResponse::Ok().json(contacts::correct(&cx, target, body.0).await?))
}

problems!(
    SetStatusProblems:
    (404, "Unknown topic or contact id"),
    (409, "Re-subscribing without consent proof"),
);

/// Set one status.
#[utoipa::path(put, path = "/v1/contacts/{contact}/subscriptions/{topic}", tag = "contacts", operation_id = "putSubscription", request_body = StatusWrite,
    params(("contact" = inline(crate::http::openapi::ContactKey), Path, description = "The contact's id (a UUID) or its URL-encoded address", example = "alice@example.com"), ("topic" = String, Path, pattern = "^[a-z0-9][a-z0-9._-]{0,63}$")),
    security(("api_key" = ["contacts"])),
    responses((status = 200, body = ContactView), SetStatusProblems))]
pub async fn set_status(
    _: Caller<Contacts>,
    cx: web::Data<Context>,
    path: web::Path<(String, String)>,
    body: Json<StatusWrite>,
) -> Result<HttpResponse, Error> {
    let (contact, topic) = path.into_inner();
    let target = ContactRef::parse(&contact)?;
    Ok(HttpResponse::Ok().json(contacts::set_status(&cx, target, topic, body.0).await?))
}

/// A contact's consent history, oldest first.
#[utoipa::path(get, path = "/v1/contacts/{contact}/events", tag = "contacts", operation_id = "listContactEvents",
    params(("contact" = inline(crate::http::openapi::ContactKey), Path, description = "The contact's id (a UUID) or its URL-encoded address", example = "alice@example.com"), EventsQuery),
    security(("api_key" = ["contacts"])),
    responses((status = 200, body = EventPage), NotFound))]
pub async fn events(
    _: Caller<Contacts>,
    cx: web::Data<Context>,
    contact: web::Path<String>,
    query: web::Query<EventsQuery>,
) -> Result<HttpResponse, Error> {
    let target = ContactRef::parse(&contact)?;
    Ok(HttpResponse::Ok().json(contacts::events(&cx, target, query.into_inner()).await?))
}

problems!(ExportProblems: (404, "Nothing is held"));

/// Everything held about a contact, as one document (access and portability).
#[utoipa::path(get, path = "/v1/contacts/{contact}/export", tag = "contacts", operation_id = "exportContact",
    params(("contact" = inline(crate::http::openapi::ContactKey), Path, description = "The contact's id (a UUID) or its URL-encoded address", example = "alice@example.com")),
    security(("api_key" = ["contacts"])),
    responses((status = 200, body = Export), ExportProblems))]
pub async fn export(
    _: Caller<Contacts>,
    cx: web::Data<Context>,
    contact: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let target = ContactRef::parse(&contact)?;
    Ok(HttpResponse::Ok().json(privacy::export(&cx, target).await?))
}

/// Erase a contact: its statuses and every personal field of its events go; an
/// `erasure` suppression, keyed by the address's hash alone, keeps it from being
/// mailed again.
#[utoipa::path(delete, path = "/v1/contacts/{contact}", tag = "contacts", operation_id = "eraseContact",
    params(("contact" = inline(crate::http::openapi::ContactKey), Path, description = "The contact's id (a UUID) or its URL-encoded address", example = "alice@example.com")),
    security(("api_key" = ["contacts"])),
    responses((status = 204, description = "Erased"), NotFound))]
pub async fn erase(
    _: Caller<Contacts>,
    cx: web::Data<Context>,
    contact: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let target = ContactRef::parse(&contact)?;
    privacy::erase(&cx, target, Source::Api).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Import contacts with their statuses: NDJSON (`application/x-ndjson`), one
/// `{"email", …the fields of PUT /v1/contacts/{email}}` a line, `source` `import`
/// unless named. Streamed, 1,000 lines a transaction, the same rules and events as one
/// `PUT` each; bad lines are reported and skipped.
#[utoipa::path(post, path = "/v1/contacts/import", tag = "contacts", operation_id = "importContacts",
    request_body(content = inline(crate::http::openapi::Lines), content_type = "application/x-ndjson", description = "One contact per line"),
    security(("api_key" = ["contacts"])),
    responses((status = 200, body = ImportReport), BulkBody))]
pub async fn import(
    _: Caller<Contacts>,
    cx: web::Data<Context>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Error> {
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    if crate::http::import::format_of(content_type) != Some(Format::Ndjson) {
        return Err(Error::UnsupportedMediaType("a contact import is application/x-ndjson".into()));
    }
    let importer =
        crate::http::import::stream(cx.clone(), &req, payload, Format::Ndjson, ContactImporter::new(&cx))
            .await?;
    Ok(HttpResponse::Ok().json(importer.report()))
}
