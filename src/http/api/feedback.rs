//! `/v1/feedback/{provider}` (scope `suppressions`): bounce and complaint
//! notifications. The generic form is here; providers' own formats come next.

use actix_web::{web, HttpResponse};

use crate::error::{Error, Problem};
use crate::http::auth::{Caller, Suppressions};
use crate::http::json::{BodyLimit, Json};
use crate::http::resource;
use crate::service::feedback::{self, FeedbackReport, GenericNotice};
use crate::App;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/feedback/generic").app_data(BodyLimit(8 * 1024 * 1024)).route(web::post().to(generic)),
    );
}

/// Bounces, complaints and unsubscribes in a provider-neutral form: one object or an
/// array. Entries that cannot be used are reported; the others are applied.
#[utoipa::path(post, path = "/v1/feedback/generic", tag = "feedback", request_body = Vec<GenericNotice>,
    security(("api_key" = ["suppressions"])),
    responses((status = 200, body = FeedbackReport), (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn generic(
    _: Caller<Suppressions>,
    app: web::Data<App>,
    body: Json<serde_json::Value>,
) -> Result<HttpResponse, Error> {
    let entries = feedback::generic(body.0)?;
    Ok(HttpResponse::Ok().json(feedback::ingest(&app, "generic", entries).await?))
}
