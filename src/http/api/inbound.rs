//! `/v1/inbound/{provider}` (scope `suppressions`): messages to the unsubscribe
//! mailboxes (`u-TOKEN@DOMAIN`) received by a mail provider whose inbound routing
//! posts them here — Amazon SES (a receipt rule's SNS action), SendGrid (Inbound
//! Parse), Mailgun (a route's `forward()`), Postmark (inbound webhook). Each route
//! reads its provider's format down to the envelope recipients (`domain::inbound`) and
//! unsubscribes as prefcenter's own SMTP receiver does.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::feedback::ses::Sns;
use crate::domain::inbound;
use crate::error::Error;
use crate::http::api::feedback::ProviderBody;
use crate::http::auth::{Caller, Suppressions};
use crate::http::json::{Body, BodyLimit};
use crate::http::openapi::{Unreadable, Unverified};
use crate::http::resource;
use crate::service::mailto::{self, InboundReport};
use crate::service::{feedback, Context};

/// An unsubscribe message is small; a provider posts the message whole, attachments
/// included (SES's SNS action takes at most 150 KB).
const LIMIT: BodyLimit = BodyLimit(8 * 1024 * 1024);

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/inbound/ses").app_data(LIMIT).route(web::post().to(ses)))
        .service(resource("/inbound/sendgrid").app_data(LIMIT).route(web::post().to(sendgrid)))
        .service(resource("/inbound/mailgun").app_data(LIMIT).route(web::post().to(mailgun)))
        .service(resource("/inbound/postmark").app_data(LIMIT).route(web::post().to(postmark)));
}

fn content_type(req: &HttpRequest) -> Option<&str> {
    req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok())
}

async fn report(cx: &Context, recipients: Vec<String>) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::Ok().json(mailto::inbound(cx, recipients).await?))
}

/// What an SNS delivery did: a received message's report, or a subscription step.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum InboundSnsOutcome {
    Report(InboundReport),
    Subscription {
        /// `pending_confirmation` (listed at `/v1/feedback/ses/confirmations`) or
        /// `unsubscribed`.
        subscription: &'static str,
        topic_arn: String,
    },
}

/// Messages Amazon SES received, from a receipt rule's SNS action (any content type:
/// SNS sends `text/plain`). With `PREFCENTER_SNS_CERTIFICATES` set, unsigned and
/// mis-signed messages get 401.
#[utoipa::path(post, path = "/v1/inbound/ses", tag = "inbound", operation_id = "postSesInbound",
    request_body(content = String, content_type = "text/plain", description = "an SNS message: a Notification carrying a Received notification, a SubscriptionConfirmation or an UnsubscribeConfirmation"),
    security(("api_key" = ["suppressions"])),
    responses((status = 200, body = InboundSnsOutcome), Unverified))]
pub async fn ses(_: Caller<Suppressions>, cx: web::Data<Context>, body: Body) -> Result<HttpResponse, Error> {
    let outcome = match inbound::ses::read(&body.0, cx.providers.sns_certificates.as_ref())? {
        Sns::Confirmation { topic_arn, subscribe_url } => {
            feedback::ask_confirmation(&cx, topic_arn.clone(), subscribe_url).await?;
            InboundSnsOutcome::Subscription { subscription: "pending_confirmation", topic_arn }
        }
        Sns::Unsubscribed { topic_arn } => {
            feedback::settle_confirmation(&cx, topic_arn.clone()).await?;
            InboundSnsOutcome::Subscription { subscription: "unsubscribed", topic_arn }
        }
        Sns::Notification { topic_arn, message } => {
            if let Some(topic_arn) = topic_arn {
                // A notification from the topic proves its subscription confirmed.
                feedback::settle_confirmation(&cx, topic_arn).await?;
            }
            InboundSnsOutcome::Report(mailto::inbound(&cx, message).await?)
        }
    };
    Ok(HttpResponse::Ok().json(outcome))
}

/// Messages SendGrid's Inbound Parse received (`multipart/form-data`, parsed or raw).
#[utoipa::path(post, path = "/v1/inbound/sendgrid", tag = "inbound", operation_id = "postSendgridInbound",
    request_body(content = inline(ProviderBody), content_type = "multipart/form-data", description = "SendGrid's Inbound Parse post; its `envelope` field is read"),
    security(("api_key" = ["suppressions"])),
    responses((status = 200, body = InboundReport), Unreadable))]
pub async fn sendgrid(
    _: Caller<Suppressions>,
    cx: web::Data<Context>,
    req: HttpRequest,
    body: Body,
) -> Result<HttpResponse, Error> {
    report(&cx, inbound::sendgrid::read(content_type(&req), &body.0)?).await
}

/// Messages a Mailgun route forwarded (form-encoded or multipart, parsed or MIME). With
/// `PREFCENTER_MAILGUN_SIGNING_KEY` set, unsigned and mis-signed posts get 401.
#[utoipa::path(post, path = "/v1/inbound/mailgun", tag = "inbound", operation_id = "postMailgunInbound",
    request_body(content(
        (ProviderBody = "application/x-www-form-urlencoded"),
        (ProviderBody = "multipart/form-data"),
    ), description = "a Mailgun route's forwarded message; its `recipient` field is read"),
    security(("api_key" = ["suppressions"])),
    responses((status = 200, body = InboundReport), Unverified))]
pub async fn mailgun(
    _: Caller<Suppressions>,
    cx: web::Data<Context>,
    req: HttpRequest,
    body: Body,
) -> Result<HttpResponse, Error> {
    let key = cx.providers.mailgun_key.as_ref();
    report(&cx, inbound::mailgun::read(content_type(&req), &body.0, key)?).await
}

/// Messages Postmark received (its inbound webhook's JSON).
#[utoipa::path(post, path = "/v1/inbound/postmark", tag = "inbound", operation_id = "postPostmarkInbound",
    request_body(content = inline(ProviderBody), content_type = "application/json", description = "Postmark's inbound webhook; `OriginalRecipient`, `ToFull`, `CcFull` and `BccFull` are read"),
    security(("api_key" = ["suppressions"])),
    responses((status = 200, body = InboundReport), Unreadable))]
pub async fn postmark(
    _: Caller<Suppressions>,
    cx: web::Data<Context>,
    body: Body,
) -> Result<HttpResponse, Error> {
    report(&cx, inbound::postmark::read(&body.0)?).await
}
