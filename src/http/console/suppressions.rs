//! `/console/suppressions`: search an address's suppression, list them, and (editors)
//! add one with its reason, scope, expiry and note, or lift one with a note — through
//! `service::suppressions`, as the API.

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use futures_util::StreamExt;
use serde::Deserialize;

use super::{render, see_other, Layout, Signed};
use crate::domain::{NormalizedAddress, Role};
use crate::error::Error;
use crate::service::import::{Format, ImportReport, LineImporter};
use crate::service::suppression_import::Importer;
use crate::service::suppressions::{self, ListQuery, SuppressionView, SuppressionWrite};
use crate::service::Context;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::http::resource("/suppressions").route(web::get().to(list)).route(web::post().to(add)))
        .service(crate::http::resource("/suppressions/lift").route(web::post().to(lift)))
        .service(crate::http::resource("/suppressions/export").route(web::get().to(export)))
        .service(crate::http::resource("/suppressions/import").route(web::post().to(import)));
}

#[derive(Deserialize)]
struct Query {
    q: Option<String>,
    saved: Option<String>,
}

#[derive(Template)]
#[template(path = "console/suppressions.html")]
struct Page {
    layout: Layout,
    q: String,
    searched: bool,
    found: Option<SuppressionView>,
    items: Vec<SuppressionView>,
    can_edit: bool,
    csrf: String,
    message: Option<&'static str>,
}

fn address(raw: &str) -> Result<NormalizedAddress, Error> {
    NormalizedAddress::parse(raw).map_err(|e| Error::invalid("email", e.to_string()))
}

async fn list(cx: web::Data<Context>, signed: Signed, query: web::Query<Query>) -> HttpResponse {
    let result = async {
        let q = query.q.as_deref().unwrap_or_default().trim().to_owned();
        let searched = !q.is_empty();
        let found = match NormalizedAddress::parse(&q) {
            Ok(a) if searched => match suppressions::get(&cx, a).await {
                Ok(view) => Some(view),
                Err(Error::NotFound(_)) => None,
                Err(e) => return Err(e),
            },
            _ => None,
        };
        let items =
            suppressions::list(&cx, ListQuery { reason: None, after: None, limit: Some(100) }).await?.items;
        let page = Page {
            layout: signed.layout(signed.words().suppressions, "suppressions"),
            q,
            searched,
            found,
            items,
            can_edit: signed.role() >= Role::Editor,
            csrf: signed.session.csrf.clone(),
            message: query.saved.is_some().then_some(signed.words().saved),
        };
        Ok(render(StatusCode::OK, &page))
    }
    .await;
    signed.answer(result)
}

async fn add(cx: web::Data<Context>, signed: Signed, body: web::Bytes) -> HttpResponse {
    let signed = &signed;
    signed
        .post(Role::Editor, &body, |form| async move {
            let email = address(form.required("email")?)?;
            let expires_at = match form.get("expires") {
                Some(day) => Some(
                    chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
                        .map_err(|_| Error::invalid("expires", "a day, YYYY-MM-DD"))?
                        .and_time(chrono::NaiveTime::MIN)
                        .and_utc(),
                ),
                None => None,
            };
            let write = SuppressionWrite {
                reason: form
                    .required("reason")?
                    .parse()
                    .map_err(|_| Error::invalid("reason", "not a reason"))?,
                scope: form
                    .get("scope")
                    .map(str::parse)
                    .transpose()
                    .map_err(|_| Error::invalid("scope", "all or promotional"))?,
                note: form.get("note").map(str::to_owned),
                expires_at,
            };
            let q = url::form_urlencoded::byte_serialize(email.as_str().as_bytes()).collect::<String>();
            suppressions::put(&cx, email, write).await?;
            Ok(see_other(&format!("/console/suppressions?q={q}&saved=1")))
        })
        .await
}

async fn lift(cx: web::Data<Context>, signed: Signed, body: web::Bytes) -> HttpResponse {
    let signed = &signed;
    signed
        .post(Role::Editor, &body, |form| async move {
            let email = address(form.required("email")?)?;
            let q = url::form_urlencoded::byte_serialize(email.as_str().as_bytes()).collect::<String>();
            suppressions::lift_with_note(&cx, email, form.get("note").map(str::to_owned)).await?;
            Ok(see_other(&format!("/console/suppressions?q={q}&saved=1")))
        })
        .await
}

/// Every suppression that holds an address, as CSV, streamed a page at a time (the same
/// document as `GET /v1/suppressions/export` with `Accept: text/csv`).
async fn export(cx: web::Data<Context>, _signed: Signed) -> HttpResponse {
    let pages = futures_util::stream::unfold(Some(Vec::new()), move |cursor| {
        let cx = cx.clone();
        async move {
            let after = cursor?;
            match suppressions::export_page(&cx, Format::Csv, after).await {
                Ok(page) => Some((Ok::<_, Error>(web::Bytes::from(page.bytes)), page.next)),
                Err(e) => Some((Err(e), None)),
            }
        }
    });
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((header::CONTENT_DISPOSITION, "attachment; filename=\"suppressions.csv\""))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .streaming(pages)
}

#[derive(Template)]
#[template(path = "console/imported.html")]
struct Imported {
    layout: Layout,
    report: ImportReport,
}

/// A file of suppressions (CSV or NDJSON), uploaded and applied as it arrives through
/// the API's import path; its report.
async fn import(
    cx: web::Data<Context>,
    signed: Signed,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let result = async {
        signed.require(Role::Editor)?;
        let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        let payload = payload.map(|chunk| chunk.map_err(Error::from));
        let (fields, file) = super::upload::open(content_type, payload).await?;
        // Nothing of the file is read before the form's token is this session's.
        let form = signed.checked(fields)?;
        let format = if form.get("format") == Some("ndjson") { Format::Ndjson } else { Format::Csv };
        let report = signed
            .act(async {
                let importer = Importer::new(&cx);
                crate::http::import::stream_from(cx.clone(), &req, file, format, importer).await
            })
            .await?
            .report();
        let layout = signed.layout(signed.words().imported, "suppressions");
        Ok(render(StatusCode::OK, &Imported { layout, report }))
    }
    .await;
    signed.answer(result)
}
