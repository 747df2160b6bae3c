//! `/v1/check`, `/v1/check/batch` and `/v1/links` (scope `check`): answered from the
//! in-memory index, on the async worker, without a database round trip.

use actix_web::{web, HttpResponse};

use crate::error::{Error, Problem};
use crate::http::auth::{Caller, Check};
use crate::http::json::{BodyLimit, Json};
use crate::http::resource;
use crate::service::check::{
    self, BatchRequest, BatchResponse, CheckRequest, CheckResult, LinksRequest, LinksResponse,
};
use crate::service::Context;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/check").route(web::post().to(one)))
        // 10,000 addresses of up to 254 characters, quoted, fit in 4 MiB.
        .service(resource("/check/batch").app_data(BodyLimit(4 * 1024 * 1024)).route(web::post().to(batch)))
        .service(resource("/links").route(web::post().to(links)));
}

/// May this message be sent to this address?
#[utoipa::path(post, path = "/v1/check", tag = "decisions", operation_id = "checkSend", request_body = CheckRequest,
    security(("api_key" = ["check"])),
    responses(
        (status = 200, body = CheckResult, example = json!({"email": "alice@example.com", "topic": "newsletter", "allowed": true,
            "reason": "default_subscribed", "headers": {"List-Unsubscribe": "<https://prefs.example.com/u/eyJ…>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}})),
        (status = 404, description = "Unknown topic", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an address", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The decision index is loading or stale; retry", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = String, description = "Seconds to wait"))),
    ))]
pub async fn one(
    _: Caller<Check>,
    cx: web::Data<Context>,
    body: Json<CheckRequest>,
) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::Ok().json(check::check(&cx, body.0)?))
}

/// Up to 10,000 decisions for one topic, in request order; an input that is not an
/// address is an error entry in its place.
#[utoipa::path(post, path = "/v1/check/batch", tag = "decisions", operation_id = "checkBatch", request_body = BatchRequest,
    security(("api_key" = ["check"])),
    responses(
        (status = 200, body = BatchResponse, example = json!({"results": [
            {"email": "a@example.com", "allowed": true, "reason": "default_subscribed", "headers": {"List-Unsubscribe": "<https://prefs.example.com/u/eyJ…>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}},
            {"input": "not-an-address", "error": "invalid_email"}]})),
        (status = 404, description = "Unknown topic", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 4 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "More than 10,000 addresses", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn batch(
    _: Caller<Check>,
    cx: web::Data<Context>,
    body: Json<BatchRequest>,
) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::Ok().json(check::check_batch(&cx, body.0)?))
}

/// The unsubscribe and preference links for an address and a promotional topic.
#[utoipa::path(post, path = "/v1/links", tag = "decisions", operation_id = "createLinks", request_body = LinksRequest,
    security(("api_key" = ["check"])),
    responses(
        (status = 200, body = LinksResponse),
        (status = 404, description = "Unknown topic", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an address, or a transactional topic", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn links(
    _: Caller<Check>,
    cx: web::Data<Context>,
    body: Json<LinksRequest>,
) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::Ok().json(check::links(&cx, body.0)?))
}
