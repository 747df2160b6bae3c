//! `/console/api-keys` and `/console/webhooks`: the keys mailing systems call with, and
//! the webhooks and feed consumers that follow the ledger. Anyone may read them; only
//! admins create, revoke, disable — through the same services as the API. A new key's
//! or webhook's secret is shown once, on the page that answers its creation.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

use super::{render, see_other, Layout, Signed};
use crate::domain::{EventType, KeyScope, Role, WebhookStatus};
use crate::error::Error;
use crate::service::api_keys::{self, NewKey};
use crate::service::feed_consumers::{self, ConsumerView};
use crate::service::webhooks::{self, NewWebhook, Rotation, WebhookPatch, WebhookSummary};
use crate::service::Context;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::http::resource("/api-keys").route(web::get().to(keys)).route(web::post().to(create_key)),
    )
    .service(crate::http::resource("/api-keys/{id}/revoke").route(web::post().to(revoke_key)))
    .service(
        crate::http::resource("/webhooks").route(web::get().to(hooks)).route(web::post().to(create_hook)),
    )
    .service(crate::http::resource("/webhooks/{id}/status").route(web::post().to(hook_status)))
    .service(crate::http::resource("/webhooks/{id}/rotate").route(web::post().to(rotate_hook)))
    .service(crate::http::resource("/webhooks/{id}/delete").route(web::post().to(delete_hook)))
    .service(crate::http::resource("/consumers/{name}/delete").route(web::post().to(delete_consumer)));
}

struct Key {
    id: String,
    name: String,
    prefix: String,
    scopes: String,
    created_at: String,
    revoked_at: Option<String>,
}

#[derive(Template)]
#[template(path = "console/api_keys.html")]
struct Keys {
    layout: Layout,
    keys: Vec<Key>,
    secret: Option<String>,
    can_edit: bool,
    csrf: String,
    all_scopes: Vec<&'static str>,
}

async fn keys_page(cx: &Context, signed: &Signed, secret: Option<String>) -> Result<HttpResponse, Error> {
    let keys = api_keys::list(cx)
        .await?
        .into_iter()
        .map(|k| Key {
            scopes: k.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
            created_at: super::contacts::time(k.created_at),
            revoked_at: k.revoked_at.map(super::contacts::time),
            id: k.id,
            name: k.name,
            prefix: k.prefix,
        })
        .collect();
    let page = Keys {
        layout: signed.layout(signed.words().api_keys, "api-keys"),
        keys,
        secret,
        can_edit: signed.role() >= Role::Admin,
        csrf: signed.session.csrf.clone(),
        all_scopes: KeyScope::ALL.iter().map(|s| s.as_str()).collect(),
    };
    Ok(render(StatusCode::OK, &page))
}

async fn keys(cx: web::Data<Context>, signed: Signed) -> HttpResponse {
    let result = keys_page(&cx, &signed, None).await;
    signed.answer(result)
}

async fn create_key(cx: web::Data<Context>, signed: Signed, body: web::Bytes) -> HttpResponse {
    let signed = &signed;
    let body = &body;
    signed
        .post(Role::Admin, body, |form| async move {
            let fields = crate::http::pages::form_fields(body);
            let scopes = fields
                .iter()
                .filter(|(k, _)| k == "scope")
                .map(|(_, v)| v.parse::<KeyScope>().map_err(|e| Error::invalid("scope", e.to_string())))
                .collect::<Result<Vec<_>, _>>()?;
            let name = form.required("name")?.to_owned();
            let created = api_keys::create(&cx, NewKey { name, scopes }).await?;
            keys_page(&cx, signed, Some(created.secret)).await
        })
        .await
}

async fn revoke_key(
    cx: web::Data<Context>,
    signed: Signed,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let signed = &signed;
    signed
        .post(Role::Admin, &body, |_| async move {
            api_keys::revoke(&cx, id.into_inner()).await?;
            Ok(see_other("/console/api-keys"))
        })
        .await
}

/// How many of each webhook's last attempts its page shows.
const LAST_DELIVERIES: i64 = 5;

#[derive(Template)]
#[template(path = "console/webhooks.html")]
struct Hooks {
    layout: Layout,
    hooks: Vec<WebhookSummary>,
    consumers: Vec<ConsumerView>,
    secret: Option<String>,
    can_edit: bool,
    csrf: String,
}

async fn hooks_page(cx: &Context, signed: &Signed, secret: Option<String>) -> Result<HttpResponse, Error> {
    let page = Hooks {
        layout: signed.layout(signed.words().webhooks, "webhooks"),
        hooks: webhooks::overview(cx, LAST_DELIVERIES).await?,
        consumers: feed_consumers::list(cx).await?,
        secret,
        can_edit: signed.role() >= Role::Admin,
        csrf: signed.session.csrf.clone(),
    };
    Ok(render(StatusCode::OK, &page))
}

async fn hooks(cx: web::Data<Context>, signed: Signed) -> HttpResponse {
    let result = hooks_page(&cx, &signed, None).await;
    signed.answer(result)
}

async fn create_hook(cx: web::Data<Context>, signed: Signed, body: web::Bytes) -> HttpResponse {
    let signed = &signed;
    signed
        .post(Role::Admin, &body, |form| async move {
            let types = match form.get("types") {
                Some(list) => Some(
                    list.split(',')
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .map(|t| t.parse::<EventType>().map_err(|e| Error::invalid("types", e.to_string())))
                        .collect::<Result<Vec<_>, _>>()?,
                ),
                None => None,
            };
            let hook = NewWebhook {
                url: form.required("url")?.to_owned(),
                types,
                description: form.get("description").unwrap_or_default().to_owned(),
            };
            let created = webhooks::create(&cx, hook).await?;
            hooks_page(&cx, signed, Some(created.secret)).await
        })
        .await
}

async fn hook_status(
    cx: web::Data<Context>,
    signed: Signed,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let signed = &signed;
    signed
        .post(Role::Admin, &body, |form| async move {
            let status: WebhookStatus = form
                .required("status")?
                .parse()
                .map_err(|_| Error::invalid("status", "enabled or disabled"))?;
            let patch = WebhookPatch { status: Some(status), ..WebhookPatch::default() };
            webhooks::update(&cx, id.into_inner(), patch).await?;
            Ok(see_other("/console/webhooks"))
        })
        .await
}

/// A new secret for a webhook, shown once; the current one signs beside it for 24 hours.
async fn rotate_hook(
    cx: web::Data<Context>,
    signed: Signed,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let signed = &signed;
    signed
        .post(Role::Admin, &body, |_| async move {
            let rotation = Rotation { previous_valid_hours: None };
            let rotated = webhooks::rotate(&cx, id.into_inner(), rotation).await?;
            hooks_page(&cx, signed, Some(rotated.secret)).await
        })
        .await
}

async fn delete_hook(
    cx: web::Data<Context>,
    signed: Signed,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let signed = &signed;
    signed
        .post(Role::Admin, &body, |_| async move {
            webhooks::delete(&cx, id.into_inner()).await?;
            Ok(see_other("/console/webhooks"))
        })
        .await
}

/// Stops tracking a feed consumer (one that was retired, so that it no longer shows late).
async fn delete_consumer(
    cx: web::Data<Context>,
    signed: Signed,
    name: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let signed = &signed;
    signed
        .post(Role::Admin, &body, |_| async move {
            feed_consumers::delete(&cx, name.into_inner()).await?;
            Ok(see_other("/console/webhooks"))
        })
        .await
}
