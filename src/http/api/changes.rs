//! `/v1/changes` (scope `suppressions`): the change feed.

use actix_web::{web, HttpResponse};

use crate::error::Error;
use crate::http::auth::{Caller, Suppressions};
use crate::http::resource;
use crate::service::changes::{self, ChangePage, ChangesQuery};
use crate::service::Context;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/changes").route(web::get().to(list)));
}

/// Events after a sequence number, in order and without gaps.
#[utoipa::path(get, path = "/v1/changes", tag = "suppressions", operation_id = "listChanges", params(ChangesQuery),
    security(("api_key" = ["suppressions"])),
    responses((status = 200, body = ChangePage)))]
pub async fn list(
    _: Caller<Suppressions>,
    cx: web::Data<Context>,
    query: web::Query<ChangesQuery>,
) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::Ok().json(changes::list(&cx, query.into_inner()).await?))
}
