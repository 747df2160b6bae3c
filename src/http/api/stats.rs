//! `/v1/stats` (scope `admin`): the dashboard's data — daily series of the last days,
//! totals now, and the health of the readers of the ledger.

use actix_web::{web, HttpResponse};

use crate::error::Error;
use crate::http::auth::{Admin, Caller};
use crate::http::resource;
use crate::service::stats::{self, Stats, StatsQuery};
use crate::service::Context;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/stats").route(web::get().to(get)));
}

/// Subscribes and unsubscribes per topic by source, suppressions, complaints and
/// bounces by reason, and the answers to "why did you leave?", per day (UTC) for the
/// last `days` days; the contacts, statuses and suppressions held now; how far the
/// decision index, the daily counts and the feed's consumers are behind the ledger,
/// and how long writes take.
#[utoipa::path(get, path = "/v1/stats", tag = "stats", operation_id = "getStats", params(StatsQuery),
    security(("api_key" = ["admin"])),
    responses((status = 200, body = Stats)))]
pub async fn get(
    _: Caller<Admin>,
    cx: web::Data<Context>,
    query: web::Query<StatsQuery>,
) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::Ok().json(stats::get(&cx, query.into_inner()).await?))
}
