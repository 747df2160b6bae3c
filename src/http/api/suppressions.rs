//! `/v1/suppressions` (scope `suppressions`).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::domain::NormalizedAddress;
use crate::error::Error;
use crate::http::auth::{Caller, Suppressions};
use crate::http::json::Json;
use crate::http::openapi::{problems, BulkBody, NotFound};
use crate::http::resource;
use crate::service::import::{Format, ImportReport, LineImporter};
use crate::service::suppression_import::Importer;
use crate::service::suppressions::{self, ListQuery, SuppressionPage, SuppressionView, SuppressionWrite};
use crate::service::Context;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/suppressions").route(web::get().to(list)))
        .service(resource("/suppressions/import").route(web::post().to(import)))
        .service(resource("/suppressions/export").route(web::get().to(export)))
        .service(
            resource("/suppressions/{email}")
                .route(web::put().to(put))
                .route(web::get().to(get))
                .route(web::delete().to(delete)),
        );
}

fn address(email: &str) -> Result<NormalizedAddress, Error> {
    NormalizedAddress::parse(email).map_err(|e| Error::invalid("email", e.to_string()))
}

problems!(PutProblems: (409, "The address was erased"), (422, ""));

/// Suppress an address, or replace its suppression.
#[utoipa::path(put, path = "/v1/suppressions/{email}", tag = "suppressions", operation_id = "putSuppression",
    request_body(content = SuppressionWrite, example = json!({"reason": "hard_bounce", "scope": "all", "note": "550 5.1.1", "expires_at": null})),
    params(("email" = String, Path, description = "The URL-encoded address", format = Email, max_length = 254, example = "alice@example.com")),
    security(("api_key" = ["suppressions"])),
    responses(
        (status = 200, description = "Replaced", body = SuppressionView, example = json!({"email": "alice@example.com", "reason": "hard_bounce",
            "scope": "all", "source": "api", "note": "550 5.1.1", "created_at": "2026-01-01T00:00:00Z", "expires_at": null})),
        (status = 201, description = "Created", body = SuppressionView),
        PutProblems,
    ))]
pub async fn put(
    _: Caller<Suppressions>,
    cx: web::Data<Context>,
    email: web::Path<String>,
    body: Json<SuppressionWrite>,
) -> Result<HttpResponse, Error> {
    let (view, created) = suppressions::put(&cx, address(&email)?, body.0).await?;
    Ok(if created { HttpResponse::Created().json(view) } else { HttpResponse::Ok().json(view) })
}

/// Read an address's suppression.
#[utoipa::path(get, path = "/v1/suppressions/{email}", tag = "suppressions", operation_id = "getSuppression",
    params(("email" = String, Path, description = "The URL-encoded address", format = Email, max_length = 254, example = "alice@example.com")),
    security(("api_key" = ["suppressions"])),
    responses((status = 200, body = SuppressionView), NotFound))]
pub async fn get(
    _: Caller<Suppressions>,
    cx: web::Data<Context>,
    email: web::Path<String>,
) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::Ok().json(suppressions::get(&cx, address(&email)?).await?))
}

problems!(LiftProblems: (404, ""), (409, "An erasure suppression"));

/// Lift an address's suppression (never an erasure's).
#[utoipa::path(delete, path = "/v1/suppressions/{email}", tag = "suppressions", operation_id = "deleteSuppression",
    params(("email" = String, Path, description = "The URL-encoded address", format = Email, max_length = 254, example = "alice@example.com")),
    security(("api_key" = ["suppressions"])),
    responses((status = 204, description = "Lifted"), LiftProblems))]
pub async fn delete(
    _: Caller<Suppressions>,
    cx: web::Data<Context>,
    email: web::Path<String>,
) -> Result<HttpResponse, Error> {
    suppressions::delete(&cx, address(&email)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// List suppressions, a page at a time.
#[utoipa::path(get, path = "/v1/suppressions", tag = "suppressions", operation_id = "listSuppressions", params(ListQuery),
    security(("api_key" = ["suppressions"])),
    responses((status = 200, body = SuppressionPage)))]
pub async fn list(
    _: Caller<Suppressions>,
    cx: web::Data<Context>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::Ok().json(suppressions::list(&cx, query.into_inner()).await?))
}

/// Import suppressions from NDJSON (`application/x-ndjson`) or CSV (`text/csv`,
/// `email,reason,scope,note[,expires_at]`, with or without a header), streamed and
/// applied 1,000 lines to a transaction. Bad lines are reported and skipped; an
/// existing suppression is never narrowed, an erased address never re-stored.
#[utoipa::path(post, path = "/v1/suppressions/import", tag = "suppressions", operation_id = "importSuppressions",
    request_body(description = "One suppression per line: NDJSON (the body of PUT /v1/suppressions/{email} with an `email`), or CSV `email,reason,scope,note[,expires_at]` with or without a header",
        content(
            (inline(crate::http::openapi::Lines) = "application/x-ndjson", example = json!("{\"email\": \"a@example.com\", \"reason\": \"hard_bounce\"}\n")),
            (inline(crate::http::openapi::Lines) = "text/csv", example = json!("email,reason,scope,note\na@example.com,hard_bounce,all,550 5.1.1\n")),
        )),
    security(("api_key" = ["suppressions"])),
    responses((status = 200, body = ImportReport), BulkBody))]
pub async fn import(
    _: Caller<Suppressions>,
    cx: web::Data<Context>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Error> {
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let format = crate::http::import::format_of(content_type)
        .ok_or_else(|| Error::UnsupportedMediaType("an import is application/x-ndjson or text/csv".into()))?;
    let importer = crate::http::import::stream(cx.clone(), &req, payload, format, Importer::new(&cx)).await?;
    Ok(HttpResponse::Ok().json(importer.report()))
}

/// Every suppression that holds an address, streamed as NDJSON, or as CSV when the
/// request accepts `text/csv`. Erasure suppressions hold no address and are left out.
#[utoipa::path(get, path = "/v1/suppressions/export", tag = "suppressions", operation_id = "exportSuppressions",
    security(("api_key" = ["suppressions"])),
    responses((status = 200, description = "One suppression a line: NDJSON, or CSV when the request accepts `text/csv`",
        content((String = "application/x-ndjson"), (String = "text/csv")))))]
pub async fn export(_: Caller<Suppressions>, cx: web::Data<Context>, req: HttpRequest) -> HttpResponse {
    let wants_csv = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/csv"));
    let (format, content_type) = if wants_csv {
        (Format::Csv, "text/csv; charset=utf-8")
    } else {
        (Format::Ndjson, "application/x-ndjson")
    };
    let pages = futures_util::stream::unfold(Some(Vec::new()), move |cursor| {
        let cx = cx.clone();
        async move {
            let after = cursor?;
            match suppressions::export_page(&cx, format, after).await {
                Ok(page) => Some((Ok::<_, Error>(web::Bytes::from(page.bytes)), page.next)),
                Err(e) => Some((Err(e), None)),
            }
        }
    });
    HttpResponse::Ok().content_type(content_type).streaming(pages)
}
