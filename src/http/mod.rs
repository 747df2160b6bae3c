//! actix-web: routes by audience, extractors, middleware, and the OpenAPI document.
//! Handlers are thin: extract, authorise, call one service function with the
//! [`crate::service::Context`] (the app data `lib.rs` installs), answer.

pub mod api;
pub mod auth;
pub mod chart;
pub mod client;
pub mod console;
pub mod deadline;
pub mod edge;
pub mod import;
pub mod json;
pub mod metrics;
pub mod observe;
pub mod openapi;
pub mod ops;
pub mod pages;

use actix_web::{web, HttpResponse};

use crate::error::Error;

/// Every route of the service.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::QueryConfig::default().error_handler(|e, _| Error::invalid("query", e.to_string()).into()),
    )
    .app_data(web::PathConfig::default().error_handler(|e, _| Error::Malformed(e.to_string()).into()))
    .configure(ops::configure)
    // The recipients' routes, the preference API among them, come before the /v1
    // scope, whose middleware wants an API key. Routes are tried in order and a
    // pattern with a `{segment}` costs a regular-expression match, so those sit in
    // scopes with a plain prefix (/u, /c, /p, /static) that other paths pass at the
    // cost of a string comparison.
    .configure(pages::configure)
    .configure(console::configure)
    .service(
        web::scope("/v1")
            .wrap(actix_web::middleware::from_fn(auth::require_api_key))
            .configure(api::configure)
            .default_service(web::to(no_route)),
    )
    .default_service(web::to(no_route));
}

/// Request counts and latencies per route pattern, served at `/metrics` with every
/// metric registered beside them (see [`metrics`]).
pub fn metrics() -> std::io::Result<metrics::Metrics> {
    metrics::Metrics::new().map_err(std::io::Error::other)
}

/// A resource. Its unsupported methods get actix's 405, which lists the resource's
/// methods in `Allow`; [`edge`] makes it a problem+json and answers HEAD where GET is.
pub(crate) fn resource(path: &str) -> actix_web::Resource {
    web::resource(path)
}

async fn no_route() -> Result<HttpResponse, Error> {
    Err(Error::not_found("no route matches this path"))
}
