//! `/v1/feedback/{provider}` (scope `suppressions`): providers' bounce, complaint and
//! unsubscribe notifications. Each route reads its provider's format
//! (`domain::feedback`), checking the signature when its key is configured, and
//! applies the notices in one transaction.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::feedback::{self, generic::GenericNotice, sendgrid, ses};
use crate::domain::Provider;
use crate::error::Error;
use crate::http::auth::{Caller, Suppressions};
use crate::http::json::{Body, BodyLimit};
use crate::http::openapi::{Unreadable, Unverified};
use crate::http::resource;
use crate::service::feedback::{self as service, FeedbackReport, PendingConfirmation};
use crate::service::Context;
use crate::store;

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
#[utoipa::path(post, path = "/v1/feedback/generic", tag = "feedback", operation_id = "postGenericFeedback",
    request_body(content = inline(GenericBody), description = "One notice, or an array of up to 10,000; an array's entries that are not notices are reported in `errors`", content_type = "application/json",
        example = json!([{"email": "bounced@example.com", "type": "hard_bounce", "detail": "550 5.1.1", "id": "n-1"}])),
    security(("api_key" = ["suppressions"])),
    responses((status = 200, body = FeedbackReport), Unreadable))]
pub async fn generic(
    _: Caller<Suppressions>,
    cx: web::Data<Context>,
    body: Body,
) -> Result<HttpResponse, Error> {
    let entries = feedback::generic::read(&body.0, store::now())?;
    report(&cx, Provider::Generic, entries).await
}

/// An array of up to 10,000 entries of any kind: each is read on its own, and the ones
/// that cannot be used are reported in `errors`.
fn entries() -> utoipa::openapi::schema::ArrayBuilder {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType};
    ArrayBuilder::new()
        .items(ObjectBuilder::new().schema_type(SchemaType::AnyValue))
        .max_items(Some(feedback::MAX_ENTRIES))
}

/// The generic route's body: one notice, or an array of entries.
pub struct GenericBody;

impl utoipa::PartialSchema for GenericBody {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::OneOfBuilder::new()
            .item(utoipa::openapi::Ref::from_schema_name("GenericNotice"))
            .item(entries())
            .into()
    }
}

impl ToSchema for GenericBody {
    fn schemas(schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>) {
        schemas.push(("GenericNotice".into(), <GenericNotice as utoipa::PartialSchema>::schema()));
        <GenericNotice as ToSchema>::schemas(schemas);
    }
}

/// A provider's own webhook format (Postmark, Mailgun), which the route reads and names
/// what is missing with 400: the document does not restate it.
pub struct ProviderBody;

impl utoipa::PartialSchema for ProviderBody {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::SchemaType::AnyValue)
            .into()
    }
}

impl ToSchema for ProviderBody {}

/// SendGrid's Event Webhook body: an array of events.
pub struct SendgridBody;

impl utoipa::PartialSchema for SendgridBody {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        entries().into()
    }
}

impl ToSchema for SendgridBody {}

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
#[utoipa::path(post, path = "/v1/feedback/ses", tag = "feedback", operation_id = "postSesFeedback", request_body(content = String, content_type = "text/plain", description = "an SNS message (Notification, SubscriptionConfirmation or UnsubscribeConfirmation), or a raw SES message"),
    security(("api_key" = ["suppressions"])),
    responses((status = 200, body = SnsOutcome), Unverified))]
pub async fn ses(_: Caller<Suppressions>, cx: web::Data<Context>, body: Body) -> Result<HttpResponse, Error> {
    let delivery = ses::read(&body.0, cx.providers.sns_certificates.as_ref(), store::now())?;
    let outcome = match delivery {
        ses::Delivery::Confirmation { topic_arn, subscribe_url } => {
            service::ask_confirmation(&cx, topic_arn.clone(), subscribe_url).await?;
            SnsOutcome::Subscription { subscription: "pending_confirmation", topic_arn }
        }
        ses::Delivery::Unsubscribed { topic_arn } => {
            service::settle_confirmation(&cx, topic_arn.clone()).await?;
            SnsOutcome::Subscription { subscription: "unsubscribed", topic_arn }
        }
        ses::Delivery::Notification { topic_arn, entries } => {
            SnsOutcome::Report(service::ingest(&cx, Provider::Ses, entries, topic_arn).await?)
        }
    };
    Ok(HttpResponse::Ok().json(outcome))
}

/// The SNS subscriptions waiting to be confirmed.
#[derive(Debug, Serialize, ToSchema)]
pub struct PendingConfirmations {
    pub confirmations: Vec<PendingConfirmation>,
}

/// SNS subscriptions waiting to be confirmed: visit each `subscribe_url`.
#[utoipa::path(get, path = "/v1/feedback/ses/confirmations", tag = "feedback", operation_id = "listSesConfirmations",
    security(("api_key" = ["suppressions"])),
    responses((status = 200, body = PendingConfirmations)))]
pub async fn ses_confirmations(
    _: Caller<Suppressions>,
    cx: web::Data<Context>,
) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::Ok()
        .json(PendingConfirmations { confirmations: service::pending_confirmations(&cx).await? }))
}

/// SendGrid's Event Webhook (an array of events). With
/// `PREFCENTER_SENDGRID_VERIFICATION_KEY` set, unsigned and mis-signed requests get 401.
#[utoipa::path(post, path = "/v1/feedback/sendgrid", tag = "feedback", operation_id = "postSendgridFeedback", request_body(content = inline(SendgridBody), content_type = "application/json", description = "SendGrid events; entries that are not events are reported in `errors`"),
    security(("api_key" = ["suppressions"])),
    responses((status = 200, body = FeedbackReport), Unverified))]
pub async fn sendgrid(
    _: Caller<Suppressions>,
    cx: web::Data<Context>,
    req: HttpRequest,
    body: Body,
) -> Result<HttpResponse, Error> {
    if let Some(key) = &cx.providers.sendgrid_key {
        let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
        key.verify(header(sendgrid::TIMESTAMP_HEADER), header(sendgrid::SIGNATURE_HEADER), &body.0)?;
    }
    let entries = sendgrid::read(&body.0, store::now())?;
    report(&cx, Provider::Sendgrid, entries).await
}

/// Postmark's bounce, spam-complaint and subscription-change webhooks.
#[utoipa::path(post, path = "/v1/feedback/postmark", tag = "feedback", operation_id = "postPostmarkFeedback", request_body(content = inline(ProviderBody), content_type = "application/json", description = "a Postmark webhook"),
    security(("api_key" = ["suppressions"])),
    responses((status = 200, body = FeedbackReport), Unreadable))]
pub async fn postmark(
    _: Caller<Suppressions>,
    cx: web::Data<Context>,
    body: Body,
) -> Result<HttpResponse, Error> {
    let entries = feedback::postmark::read(&body.0, store::now())?;
    report(&cx, Provider::Postmark, entries).await
}

/// Mailgun's webhooks. With `PREFCENTER_MAILGUN_SIGNING_KEY` set, unsigned and
/// mis-signed webhooks get 401.
#[utoipa::path(post, path = "/v1/feedback/mailgun", tag = "feedback", operation_id = "postMailgunFeedback", request_body(content = inline(ProviderBody), content_type = "application/json", description = "a Mailgun webhook"),
    security(("api_key" = ["suppressions"])),
    responses((status = 200, body = FeedbackReport), Unverified))]
pub async fn mailgun(
    _: Caller<Suppressions>,
    cx: web::Data<Context>,
    body: Body,
) -> Result<HttpResponse, Error> {
    let entries = feedback::mailgun::read(&body.0, cx.providers.mailgun_key.as_ref(), store::now())?;
    report(&cx, Provider::Mailgun, entries).await
}

async fn report(
    cx: &Context,
    provider: Provider,
    entries: Vec<feedback::Entry>,
) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::Ok().json(service::ingest(cx, provider, entries, None).await?))
}
