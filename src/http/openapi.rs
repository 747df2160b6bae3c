//! The OpenAPI document, generated from the handlers' annotations and served at
//! `/openapi.json`.

use actix_web::HttpResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{api, ops, pages};

#[derive(OpenApi)]
#[openapi(
    info(title = "prefcenter", description = "Email preference center and suppression-list service. Errors are RFC 9457 application/problem+json."),
    paths(
        ops::healthz, ops::readyz,
        api::check::one, api::check::batch, api::check::links,
        api::suppressions::put, api::suppressions::get, api::suppressions::delete, api::suppressions::list,
        api::suppressions::import, api::suppressions::export,
        api::changes::list,
        api::feedback::generic, api::feedback::ses, api::feedback::ses_confirmations, api::feedback::sendgrid,
        api::feedback::postmark, api::feedback::mailgun,
        pages::preferences::get, pages::preferences::put, pages::preferences::export, pages::preferences::erase,
        api::contacts::export, api::contacts::erase,
        pages::signup::request_link, pages::signup::subscribe,
        api::topics::create, api::topics::list, api::topics::get, api::topics::update, api::topics::delete,
        api::contacts::upsert, api::contacts::import, api::contacts::get, api::contacts::correct, api::contacts::set_status, api::contacts::events,
        api::api_keys::create, api::api_keys::list, api::api_keys::revoke,
    ),
    components(schemas(crate::error::Problem, crate::error::FieldError)),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key secret, pc_…; provider webhooks may send it as the password of basic credentials"))
                    .build(),
            ),
        );
    }
}

pub async fn serve() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
