//! Liveness, readiness, metrics and the OpenAPI document.

use std::time::Duration;

use actix_web::{web, HttpResponse};
use diesel::connection::SimpleConnection;
use serde_json::json;

use super::openapi;
use crate::service::Context;
use crate::store;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/healthz").route(web::get().to(healthz)))
        .service(super::resource("/readyz").route(web::get().to(readyz)))
        .service(super::resource("/openapi.json").route(web::get().to(openapi::serve)))
        .service(super::resource("/metrics").route(web::get().to(super::metrics::serve)));
}

/// 200 while the process runs.
#[utoipa::path(get, path = "/healthz", tag = "operations", operation_id = "getHealth",
    responses((status = 200, description = "The process runs", body = Object, example = json!({"status": "ok"}))))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// What `/readyz` says of each part.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // describes the answer for the OpenAPI document
pub struct Readiness {
    /// `ok` or `unreachable`.
    #[schema(pattern = "^(ok|unreachable)$")]
    database: String,
    /// `current`, `loading` or `stale`.
    #[schema(pattern = "^(current|loading|stale)$")]
    index: String,
    /// `ok`, or `failing` when the last write transaction failed (a full disk).
    #[schema(pattern = "^(ok|failing)$")]
    writes: String,
}

/// Prometheus metrics in the text exposition format: request counts and latencies by
/// route pattern, the writer's commits, purges. Served by `http::metrics::serve`; this
/// function only describes the route for the OpenAPI document.
#[utoipa::path(get, path = "/metrics", tag = "operations", operation_id = "getMetrics",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String)))]
pub fn metrics() {}

/// 200 when the database answers and the decision index is loaded and current, 503
/// otherwise, so a load balancer routes around a process that cannot decide.
#[utoipa::path(get, path = "/readyz", tag = "operations", operation_id = "getReadiness", responses(
    (status = 200, description = "Ready to serve", body = Readiness, example = json!({"database": "ok", "writes": "ok", "index": "current"})),
    (status = 503, description = "The database does not answer or cannot be written (a full disk), or the index is loading or stale", body = Readiness,
        headers(("Retry-After" = String, description = "Seconds to wait"))),
))]
pub async fn readyz(cx: web::Data<Context>) -> HttpResponse {
    let database = store::run(&cx.pool, |db| db.batch_execute("SELECT 1").map_err(Into::into)).await;
    let index = cx.index.ensure_fresh();
    // A database that answers reads may still refuse writes (a full disk). The last
    // write transaction says which.
    // A failure is believed for a second, a success for ten; then an empty write
    // finds out again (a failure must not keep the process out of the load balancer
    // forever once it has no traffic to succeed with).
    let health = &cx.writer.health;
    let writes = match health.fault() {
        Some(why) if health.tried_within(Duration::from_secs(1)) => Err(why),
        None if health.tried_within(Duration::from_secs(10)) => Ok(()),
        _ => cx.writer.write(|_| Ok(())).await.map_err(|e| e.to_string()),
    };
    let body = json!({
        "database": if database.is_ok() { "ok" } else { "unreachable" },
        "writes": if writes.is_ok() { "ok" } else { "failing" },
        "index": match (&index, cx.index.is_loaded()) {
            (Ok(()), _) => "current",
            (Err(_), false) => "loading",
            (Err(_), true) => "stale",
        },
    });
    if database.is_ok() && index.is_ok() && writes.is_ok() {
        HttpResponse::Ok().json(body)
    } else {
        tracing::warn!(%body, "not ready");
        HttpResponse::ServiceUnavailable().insert_header(("Retry-After", "1")).json(body)
    }
}
