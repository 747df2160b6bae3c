//! `/v1/check`, `/v1/check/batch` and `/v1/links` (scope `check`): answered from the
//! in-memory index, on the async worker, without a database round trip.

use actix_web::{web, HttpResponse};

use crate::error::Error;
use crate::http::auth::{Caller, Check};
use crate::http::json::{BodyLimit, Json};
use crate::http::openapi::problems;
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

problems!(
    CheckProblems:
    (404, "Unknown topic"),
    (422, "Not an address"),
    (503, "The decision index is loading or stale; retry", retry_after),
);

/// May this message be sent to this address?
#[utoipa::path(post, path = "/v1/check", tag = "decisions", operation_id = "checkSend", request_body = CheckRequest,
    security(("api_key" = ["check"])),
    responses(
        (status = 200, body = CheckResult, example = json!({"email": "alice@example.com", "topic": "newsletter", "allowed": true,
            "reason": "default_subscribed", "headers": {"List-Unsubscribe": "<https://prefs.example.com/u/eyJ…>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}})),
        CheckProblems,
    ))]
pub async fn one(
    _: Caller<Check>,
    cx: web::Data<Context>,
    body: Json<CheckRequest>,
) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::Ok().json(check::check(&cx, body.0)?))
}

problems!(
    BatchProblems:
    (404, "Unknown topic"),
    (413, "Body over 4 MiB"),
    (422, "More than 10,000 addresses"),
);

/// Up to 10,000 decisions for one topic, in request order; an input that is not an
/// address is an error entry in its place.
#[utoipa::path(post, path = "/v1/check/batch", tag = "decisions", operation_id = "checkBatch", request_body = BatchRequest,
    security(("api_key" = ["check"])),
    responses(
        (status = 200, body = BatchResponse, example = json!({"results": [
            {"email": "a@example.com", "allowed": true, "reason": "default_subscribed", "headers": {"List-Unsubscribe": "<https://prefs.example.com/u/eyJ…>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}},
            {"input": "not-an-address", "error": "invalid_email"}]})),
        BatchProblems,
    ))]
pub async fn batch(
    _: Caller<Check>,
    cx: web::Data<Context>,
    body: Json<BatchRequest>,
) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::Ok().json(check::check_batch(&cx, body.0)?))
}

problems!(LinksProblems: (404, "Unknown topic"), (422, "Not an address, or a transactional topic"));

/// The unsubscribe and preference links for an address and a promotional topic.
#[utoipa::path(post, path = "/v1/links", tag = "decisions", operation_id = "createLinks", request_body = LinksRequest,
    security(("api_key" = ["check"])),
    responses(
        (status = 200, body = LinksResponse),
        LinksProblems,
    ))]
pub async fn links(
    _: Caller<Check>,
    cx: web::Data<Context>,
    body: Json<LinksRequest>,
) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::Ok().json(check::links(&cx, body.0)?))
}
