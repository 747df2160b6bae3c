//! `/v1/changes/consumers` (scope `suppressions`): pulling consumers of the change
//! feed say how far they have applied it.

use actix_web::{web, HttpResponse};

use crate::error::Error;
use crate::http::auth::{Caller, Suppressions};
use crate::http::json::Json;
use crate::http::openapi::NotFound;
use crate::http::resource;
use crate::service::feed_consumers::{self, Acknowledgement, ConsumerView};
use crate::service::Context;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/changes/consumers").route(web::get().to(list))).service(
        resource("/changes/consumers/{name}")
            .route(web::put().to(acknowledge))
            .route(web::delete().to(delete)),
    );
}

/// Record how far a consumer has applied the feed (naming it the first time).
#[utoipa::path(put, path = "/v1/changes/consumers/{name}", tag = "suppressions", operation_id = "acknowledgeChanges",
    request_body = Acknowledgement,
    params(("name" = String, Path, description = "The consumer's name", pattern = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")),
    security(("api_key" = ["suppressions"])),
    responses((status = 200, body = ConsumerView), (status = 201, body = ConsumerView, description = "A new consumer")))]
pub async fn acknowledge(
    _: Caller<Suppressions>,
    cx: web::Data<Context>,
    name: web::Path<String>,
    body: Json<Acknowledgement>,
) -> Result<HttpResponse, Error> {
    let (consumer, created) = feed_consumers::acknowledge(&cx, name.into_inner(), body.0).await?;
    Ok(if created { HttpResponse::Created() } else { HttpResponse::Ok() }.json(consumer))
}

/// Every consumer of the feed, with how far behind it is.
#[utoipa::path(get, path = "/v1/changes/consumers", tag = "suppressions", operation_id = "listChangeConsumers",
    security(("api_key" = ["suppressions"])),
    responses((status = 200, body = [ConsumerView])))]
pub async fn list(_: Caller<Suppressions>, cx: web::Data<Context>) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::Ok().json(feed_consumers::list(&cx).await?))
}

/// Stop tracking a consumer (a retired one, so that it is no longer late).
#[utoipa::path(delete, path = "/v1/changes/consumers/{name}", tag = "suppressions", operation_id = "deleteChangeConsumer",
    params(("name" = String, Path, description = "The consumer's name", pattern = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")),
    security(("api_key" = ["suppressions"])),
    responses((status = 204, description = "No longer tracked"), NotFound))]
pub async fn delete(
    _: Caller<Suppressions>,
    cx: web::Data<Context>,
    name: web::Path<String>,
) -> Result<HttpResponse, Error> {
    feed_consumers::delete(&cx, name.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
