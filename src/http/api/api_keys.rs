//! `/v1/api-keys` (scope `admin`).

use actix_web::{web, HttpResponse};

use crate::error::Error;
use crate::http::auth::{Admin, Caller};
use crate::http::json::Json;
use crate::http::openapi::{Invalid, NotFound};
use crate::http::resource;
use crate::service::api_keys::{self, CreatedKey, KeyView, NewKey};
use crate::service::Context;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api-keys").route(web::get().to(list)).route(web::post().to(create)))
        .service(resource("/api-keys/{id}").route(web::delete().to(revoke)));
}

/// Create a key; the answer holds its secret, shown only this once.
#[utoipa::path(post, path = "/v1/api-keys", tag = "api-keys", operation_id = "createApiKey", request_body = NewKey,
    security(("api_key" = ["admin"])),
    responses((status = 201, body = CreatedKey), Invalid))]
pub async fn create(
    _: Caller<Admin>,
    cx: web::Data<Context>,
    body: Json<NewKey>,
) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::Created().json(api_keys::create(&cx, body.0).await?))
}

/// List keys, without their secrets.
#[utoipa::path(get, path = "/v1/api-keys", tag = "api-keys", operation_id = "listApiKeys",
    security(("api_key" = ["admin"])),
    responses((status = 200, body = [KeyView])))]
pub async fn list(_: Caller<Admin>, cx: web::Data<Context>) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::Ok().json(api_keys::list(&cx).await?))
}

/// Revoke a key. Other processes stop accepting it within 30 seconds.
#[utoipa::path(delete, path = "/v1/api-keys/{id}", tag = "api-keys", operation_id = "revokeApiKey",
    params(("id" = String, Path, description = "The key's id, as the list shows it")),
    security(("api_key" = ["admin"])),
    responses((status = 204, description = "Revoked"), NotFound))]
pub async fn revoke(
    _: Caller<Admin>,
    cx: web::Data<Context>,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    api_keys::revoke(&cx, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
