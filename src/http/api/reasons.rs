//! `/v1/unsubscribe-reasons` (scope `contacts`, whose keys read what recipients said):
//! the answers to "why did you leave?", counted per topic and reason.

use actix_web::{web, HttpResponse};

use crate::error::Error;
use crate::http::auth::{Caller, Contacts};
use crate::http::resource;
use crate::service::reasons::{self, CountsQuery, ReasonCounts};
use crate::service::Context;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/unsubscribe-reasons").route(web::get().to(counts)));
}

/// How many recipients gave each reason for leaving each topic (`topic: null`: all
/// promotional mail), since a time or ever. Comments are not counted here: they are
/// each contact's own, in its events and export.
#[utoipa::path(get, path = "/v1/unsubscribe-reasons", tag = "contacts", operation_id = "countUnsubscribeReasons",
    params(CountsQuery),
    security(("api_key" = ["contacts"])),
    responses((status = 200, body = ReasonCounts)))]
pub async fn counts(
    _: Caller<Contacts>,
    cx: web::Data<Context>,
    query: web::Query<CountsQuery>,
) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::Ok().json(reasons::counts(&cx, query.into_inner()).await?))
}
