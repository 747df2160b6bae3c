//! The brand's files, served by prefcenter itself so that no page loads anything from
//! a third party: the logo (`/brand/logo`) and the favicon (`/favicon.svg`, an envelope
//! in the accent's colours). An SVG can hold script: these answers forbid any (their
//! own Content-Security-Policy, `sandbox` too) and the pages show them only through
//! `<img>`, where a browser runs none anyway.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use crate::error::Error;
use crate::http::openapi::problems;
use crate::service::Context;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::scope("/brand").service(crate::http::resource("/logo").route(web::get().to(logo))))
        .service(crate::http::resource("/favicon.svg").route(web::get().to(favicon)));
}

/// What an image file is served with: no script, no sniffing, this origin only.
const IMAGE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; sandbox";

fn image(content_type: &'static str, body: impl actix_web::body::MessageBody + 'static) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CONTENT_SECURITY_POLICY, IMAGE_CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header(("cross-origin-resource-policy", "same-origin"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(body)
}

problems!(LogoProblems: (404, "No logo is set"));

/// The sender's logo (`PREFCENTER_BRAND_LOGO`), a PNG or an SVG.
#[utoipa::path(get, path = "/brand/logo", tag = "recipients", operation_id = "getLogo",
    responses((status = 200, description = "The logo", content(("image/png"), ("image/svg+xml"))), LogoProblems))]
pub async fn logo(cx: web::Data<Context>) -> Result<HttpResponse, Error> {
    let logo = cx.brand.logo.as_ref().ok_or_else(|| Error::not_found("no logo is set"))?;
    Ok(image(logo.content_type, logo.bytes.clone()))
}

/// The pages' favicon, in the brand's colour.
#[utoipa::path(get, path = "/favicon.svg", tag = "recipients", operation_id = "getFavicon",
    responses((status = 200, description = "The favicon", content_type = "image/svg+xml", body = String)))]
pub async fn favicon(cx: web::Data<Context>) -> HttpResponse {
    image("image/svg+xml", cx.brand.favicon())
}
