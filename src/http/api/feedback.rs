//! `/v1/feedback/{provider}` (scope `suppressions`): providers' bounce, complaint and
//! unsubscribe notifications. Each route reads its provider's format
//! (`domain::feedback`), checking the signature when its key is configured, and
//! applies the notices in one transaction.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::feedback::{self, generic::GenericNotice, sendgrid, ses};
use crate::error::{Error, Problem};
use crate::http::auth::{Caller, Suppressions};
use crate::http::json::{Body, BodyLimit};
use crate::http::resource;
use crate::service::feedback::{self as service, FeedbackReport, PendingConfirmation};
use crate::store;
use crate::App;

/// Providers send at most a few MiB at once; generic deliveries may hold 10,000 entries.
const LIMIT: BodyLimit = BodyLimit(8 * 1024 * 1024);

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/feedback/generic").app_data(LIMIT).route(web::post().to(generic)))
        .service(resource("/feedback/ses").app_data(LIMIT).route(web::post().to(ses)))
        .service(resource("/feedback/ses/confirmations").route(web::get().to(ses_confirmations)))
        .service(resource("/feedback/sendgrid").app_data(LIMIT).route(web::post().to(sendgrid)))
        .service(resource("/feedback/postmark").app_data(LIMIT).route(web::post().to(postmark)))
        .service(resource("/feedback/mailgun").app_data(LIMIT).route(web::post().to(mailgun)));
}

/// Bounces, complaints and unsubscribes in a provider-neutral form: one object or an
/// array. Entries that cannot be used are reported; the others are applied.
#[utoipa::path(post, path = "/v1/feedback/generic", tag = "feedback", request_body = Vec<GenericNotice>,
    security(("api_key" = ["suppressions"])),
    responses((status = 200, body = FeedbackReport), (status = 400, body = Problem, content_type = "application/problem+json")))]
pub async fn generic(
    _: Caller<Suppressions>,
    app: web::Data<App>,
    body: Body,
) -> Result<HttpResponse, Error> {
    let entries = feedback::generic::read(&body.0, store::now())?;
    report(&app, "generic", entries).await
}

/// What an SNS delivery did: a notification's report, or a subscription step.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum SnsOutcome {
    Report(FeedbackReport),
    Subscription {
        /// `pending_confirmation` (listed at `/v1/feedback/ses/confirmations`) or
        /// `unsubscribed`.
        subscription: &'static str,
        topic_arn: String,
    },
}

/// Amazon SES notifications through SNS (any content type: SNS sends `text/plain`).
/// With `PREFCENTER_SNS_CERTIFICATES` set, unsigned and mis-signed messages get 401.
#[utoipa::path(post, path = "/v1/feedback/ses", tag = "feedback", request_body(content = String, description = "an SNS message (Notification, SubscriptionConfirmation or UnsubscribeConfirmation), or a raw SES message"),
    security(("api_key" = ["suppressions"])),
    responses((status = 200, body = SnsOutcome), (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn ses(_: Caller<Suppressions>, app: web::Data<App>, body: Body) -> Result<HttpResponse, Error> {
    let delivery = ses::read(&body.0, app.providers.sns_certificates.as_ref(), store::now())?;
    let outcome = match delivery {
        ses::Delivery::Confirmation { topic_arn, subscribe_url } => {
            service::ask_confirmation(&app, topic_arn.clone(), subscribe_url).await?;
            SnsOutcome::Subscription { subscription: "pending_confirmation", topic_arn }
        }
        ses::Delivery::Unsubscribed { topic_arn } => {
            service::settle_confirmation(&app, topic_arn.clone()).await?;
            SnsOutcome::Subscription { subscription: "unsubscribed", topic_arn }
        }
        ses::Delivery::Notification { topic_arn, entries } => {
            SnsOutcome::Report(service::ingest(&app, "ses", entries, topic_arn).await?)
        }
    };
    Ok(HttpResponse::Ok().json(outcome))
}

/// SNS subscriptions waiting to be confirmed: visit each `subscribe_url`.
#[utoipa::path(get, path = "/v1/feedback/ses/confirmations", tag = "feedback",
    security(("api_key" = ["suppressions"])),
    responses((status = 200, body = Vec<PendingConfirmation>)))]
pub async fn ses_confirmations(_: Caller<Suppressions>, app: web::Data<App>) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::Ok()
        .json(serde_json::json!({ "confirmations": service::pending_confirmations(&app).await? })))
}

/// SendGrid's Event Webhook (an array of events). With
/// `PREFCENTER_SENDGRID_VERIFICATION_KEY` set, unsigned and mis-signed requests get 401.
#[utoipa::path(post, path = "/v1/feedback/sendgrid", tag = "feedback", request_body(content = Vec<Object>, description = "SendGrid events"),
    security(("api_key" = ["suppressions"])),
    responses((status = 200, body = FeedbackReport), (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn sendgrid(
    _: Caller<Suppressions>,
    app: web::Data<App>,
    req: HttpRequest,
    body: Body,
) -> Result<HttpResponse, Error> {
    if let Some(key) = &app.providers.sendgrid_key {
        let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
        key.verify(header(sendgrid::TIMESTAMP_HEADER), header(sendgrid::SIGNATURE_HEADER), &body.0)?;
    }
    let entries = sendgrid::read(&body.0, store::now())?;
    report(&app, "sendgrid", entries).await
}

/// Postmark's bounce, spam-complaint and subscription-change webhooks.
#[utoipa::path(post, path = "/v1/feedback/postmark", tag = "feedback", request_body(content = Object, description = "a Postmark webhook"),
    security(("api_key" = ["suppressions"])),
    responses((status = 200, body = FeedbackReport), (status = 400, body = Problem, content_type = "application/problem+json")))]
pub async fn postmark(
    _: Caller<Suppressions>,
    app: web::Data<App>,
    body: Body,
) -> Result<HttpResponse, Error> {
    let entries = feedback::postmark::read(&body.0, store::now())?;
    report(&app, "postmark", entries).await
}

/// Mailgun's webhooks. With `PREFCENTER_MAILGUN_SIGNING_KEY` set, unsigned and
/// mis-signed webhooks get 401.
#[utoipa::path(post, path = "/v1/feedback/mailgun", tag = "feedback", request_body(content = Object, description = "a Mailgun webhook"),
    security(("api_key" = ["suppressions"])),
    responses((status = 200, body = FeedbackReport), (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn mailgun(
    _: Caller<Suppressions>,
    app: web::Data<App>,
    body: Body,
) -> Result<HttpResponse, Error> {
    let entries = feedback::mailgun::read(&body.0, app.providers.mailgun_key.as_ref(), store::now())?;
    report(&app, "mailgun", entries).await
}

async fn report(
    app: &App,
    provider: &'static str,
    entries: Vec<feedback::Entry>,
) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::Ok().json(service::ingest(app, provider, entries, None).await?))
}
