//! `/v1/webhooks` (scope `admin`): receivers of the ledger's events, signed as
//! Standard Webhooks specifies.

use actix_web::{web, HttpResponse};

use crate::error::Error;
use crate::http::auth::{Admin, Caller};
use crate::http::json::Json;
use crate::http::openapi::{problems, NotFound};
use crate::http::resource;
use crate::service::webhooks::{
    self, CreatedWebhook, DeliveriesQuery, DeliveryPage, NewWebhook, Replay, Rotation, WebhookPatch,
    WebhookView,
};
use crate::service::Context;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/webhooks").route(web::get().to(list)).route(web::post().to(create)))
        .service(
            resource("/webhooks/{id}")
                .route(web::get().to(get))
                .route(web::patch().to(update))
                .route(web::delete().to(delete)),
        )
        .service(resource("/webhooks/{id}/deliveries").route(web::get().to(deliveries)))
        .service(resource("/webhooks/{id}/replay").route(web::post().to(replay)))
        .service(resource("/webhooks/{id}/rotate").route(web::post().to(rotate)));
}

problems!(Refused: (422, "Invalid values, or a receiver on a non-public address"));

/// Create a webhook; the answer holds its signing secret, shown only this once. It
/// receives the events that happen from now on (a replay sends earlier ones).
#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks", operation_id = "createWebhook", request_body = NewWebhook,
    security(("api_key" = ["admin"])),
    responses((status = 201, body = CreatedWebhook), Refused))]
pub async fn create(
    _: Caller<Admin>,
    cx: web::Data<Context>,
    body: Json<NewWebhook>,
) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::Created().json(webhooks::create(&cx, body.0).await?))
}

/// List webhooks, with their status and lag, without their secrets.
#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks", operation_id = "listWebhooks",
    security(("api_key" = ["admin"])),
    responses((status = 200, body = [WebhookView])))]
pub async fn list(_: Caller<Admin>, cx: web::Data<Context>) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::Ok().json(webhooks::list(&cx).await?))
}

/// Read a webhook.
#[utoipa::path(get, path = "/v1/webhooks/{id}", tag = "webhooks", operation_id = "getWebhook",
    params(("id" = String, Path, description = "The webhook's id", format = Uuid)),
    security(("api_key" = ["admin"])),
    responses((status = 200, body = WebhookView), NotFound))]
pub async fn get(
    _: Caller<Admin>,
    cx: web::Data<Context>,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::Ok().json(webhooks::get(&cx, id.into_inner()).await?))
}

/// Change a webhook: its URL, types or description; disable it, or enable it again to
/// resume from the first event it has not delivered.
#[utoipa::path(patch, path = "/v1/webhooks/{id}", tag = "webhooks", operation_id = "updateWebhook", request_body = WebhookPatch,
    params(("id" = String, Path, description = "The webhook's id", format = Uuid)),
    security(("api_key" = ["admin"])),
    responses((status = 200, body = WebhookView), NotFound, Refused))]
pub async fn update(
    _: Caller<Admin>,
    cx: web::Data<Context>,
    id: web::Path<String>,
    body: Json<WebhookPatch>,
) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::Ok().json(webhooks::update(&cx, id.into_inner(), body.0).await?))
}

/// Delete a webhook and its delivery log.
#[utoipa::path(delete, path = "/v1/webhooks/{id}", tag = "webhooks", operation_id = "deleteWebhook",
    params(("id" = String, Path, description = "The webhook's id", format = Uuid)),
    security(("api_key" = ["admin"])),
    responses((status = 204, description = "Deleted"), NotFound))]
pub async fn delete(
    _: Caller<Admin>,
    cx: web::Data<Context>,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    webhooks::delete(&cx, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A webhook's delivery attempts, oldest first: when, the receiver's status code, how
/// long it took, what went wrong.
#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", tag = "webhooks", operation_id = "listWebhookDeliveries",
    params(("id" = String, Path, description = "The webhook's id", format = Uuid), DeliveriesQuery),
    security(("api_key" = ["admin"])),
    responses((status = 200, body = DeliveryPage), NotFound))]
pub async fn deliveries(
    _: Caller<Admin>,
    cx: web::Data<Context>,
    id: web::Path<String>,
    query: web::Query<DeliveriesQuery>,
) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::Ok().json(webhooks::deliveries(&cx, id.into_inner(), query.into_inner()).await?))
}

/// Deliver again every event after a sequence number, at once, in order.
#[utoipa::path(post, path = "/v1/webhooks/{id}/replay", tag = "webhooks", operation_id = "replayWebhook", request_body = Replay,
    params(("id" = String, Path, description = "The webhook's id", format = Uuid)),
    security(("api_key" = ["admin"])),
    responses((status = 200, body = WebhookView), NotFound))]
pub async fn replay(
    _: Caller<Admin>,
    cx: web::Data<Context>,
    id: web::Path<String>,
    body: Json<Replay>,
) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::Ok().json(webhooks::replay(&cx, id.into_inner(), body.0).await?))
}

/// A new signing secret, shown only in this answer. The current one goes on signing
/// beside it for the hours asked, so deliveries meanwhile carry both signatures.
#[utoipa::path(post, path = "/v1/webhooks/{id}/rotate", tag = "webhooks", operation_id = "rotateWebhookSecret", request_body = Rotation,
    params(("id" = String, Path, description = "The webhook's id", format = Uuid)),
    security(("api_key" = ["admin"])),
    responses((status = 200, body = CreatedWebhook), NotFound))]
pub async fn rotate(
    _: Caller<Admin>,
    cx: web::Data<Context>,
    id: web::Path<String>,
    body: Json<Rotation>,
) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::Ok().json(webhooks::rotate(&cx, id.into_inner(), body.0).await?))
}
