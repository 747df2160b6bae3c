//! `/u/{token}`: the unsubscribe link of every promotional mail.
//!
//! `GET` and `HEAD` show a page and change nothing: mail security scanners (Safe
//! Links, Proofpoint, Mimecast) and previews fetch every URL in a message. `POST`
//! unsubscribes — RFC 8058 one-click from a mailbox provider (`List-Unsubscribe=One-Click`,
//! form-encoded or multipart, no cookies, no redirect) or the page's own button — and
//! answers 200 with a page offering to undo it.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use askama::Template;

use super::{page, verify, Layout};
use crate::domain::token::{Audience, Link};
use crate::domain::Source;
use crate::http::client::Client;
use crate::i18n::{Lang, Words};
use crate::service::link_url;
use crate::service::recipients::{self, Landing};
use crate::service::Context;

pub fn configure(cfg: &mut web::ServiceConfig) {
    // In a scope, so that only paths under /u/ try the token's pattern (see
    // `http::configure`).
    cfg.service(
        web::scope("/u").service(
            crate::http::resource("/{token}")
                .route(web::get().to(landing))
                .route(web::head().to(landing))
                .route(web::post().to(post)),
        ),
    );
}

/// The landing page: "Unsubscribe from *Topic*?" (or from all promotional mail).
#[derive(Template)]
#[template(path = "pages/unsubscribe.html")]
struct Question<'a> {
    layout: Layout,
    words: &'static Words,
    topic: Option<&'a str>,
    token: &'a str,
    manage_url: String,
}

/// The page after a POST: unsubscribed (with an undo button), or `undone`.
#[derive(Template)]
#[template(path = "pages/unsubscribed.html")]
struct Answer<'a> {
    layout: Layout,
    words: &'static Words,
    undone: bool,
    topic: Option<&'a str>,
    token: &'a str,
    manage_url: String,
}

/// The "choose what you receive" link: a preference link for the same recipient.
fn manage_url(cx: &Context, link: &Link) -> String {
    link_url(cx, Audience::Preferences, link.recipient, None, link.message_id.clone())
}

fn lang(landing: Option<&Landing>, client: &Client) -> Lang {
    Lang::choose(landing.and_then(|l| l.locale.as_deref()), &client.languages)
}

/// The unsubscribe landing page: "Unsubscribe from *Topic*?" with one button. Changes
/// nothing (`HEAD` likewise).
#[utoipa::path(method(get, head), path = "/u/{token}", tag = "recipients", operation_id = "getUnsubscribePage",
    params(("token" = String, Path, description = "The link's signed token")),
    responses((status = 200, description = "The landing page", content_type = "text/html", body = String), super::PageErrors))]
pub async fn landing(cx: web::Data<Context>, token: web::Path<String>, client: Client) -> HttpResponse {
    let result = async {
        let link = verify(&cx, &token, Audience::Unsubscribe)?;
        let landing = recipients::landing(&cx, link.clone(), client.languages.clone()).await?;
        Ok((link, landing))
    }
    .await;
    match result {
        Ok((link, landing)) => {
            let lang = lang(Some(&landing), &client);
            let words = lang.words();
            let question = Question {
                layout: Layout::new(lang, words.unsubscribe_title),
                words,
                topic: landing.topic.as_deref(),
                token: &token,
                manage_url: manage_url(&cx, &link),
            };
            page(StatusCode::OK, &question)
        }
        Err(e) => super::error(lang(None, &client), &e),
    }
}

/// What a POST asks for.
#[derive(Debug, PartialEq, Eq)]
enum Asked {
    /// RFC 8058: a mailbox provider's one-click.
    OneClick,
    /// The landing page's button.
    Unsubscribe,
    Undo,
}

/// Reads the body as RFC 8058 allows it (form-encoded or multipart) and as the pages
/// send it. Anything else unsubscribes too: a recipient's POST to their own link
/// should never fail for a detail of encoding.
fn asked(body: &[u8]) -> Asked {
    let text = String::from_utf8_lossy(body);
    let urlencoded: Vec<(String, String)> =
        url::form_urlencoded::parse(text.as_bytes()).into_owned().collect();
    let field = |name: &str| -> Option<String> {
        urlencoded
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .or_else(|| multipart_field(&text, name))
    };
    if field("action").as_deref() == Some("undo") {
        Asked::Undo
    } else if field("List-Unsubscribe").as_deref() == Some("One-Click") {
        Asked::OneClick
    } else {
        Asked::Unsubscribe
    }
}

/// The value of a `multipart/form-data` field, found without the boundary: the part
/// whose `Content-Disposition` names it, up to the next boundary line.
fn multipart_field(body: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\"");
    let start = body.find(&marker)? + marker.len();
    let rest = &body[start..];
    let value_start = rest.find("\r\n\r\n").map(|i| i + 4).or_else(|| rest.find("\n\n").map(|i| i + 2))?;
    let value = &rest[value_start..];
    let end = value.find("\r\n--").or_else(|| value.find("\n--")).unwrap_or(value.len());
    Some(value[..end].trim().to_owned())
}

/// What a POST to an unsubscribe link may carry: RFC 8058's one-click field, or the
/// landing page's button. Any other body unsubscribes too.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // describes the form for the OpenAPI document
pub struct UnsubscribeForm {
    /// `One-Click`, from a mailbox provider (RFC 8058).
    #[schema(rename = "List-Unsubscribe", example = "One-Click")]
    list_unsubscribe: Option<String>,
    /// `unsubscribe` (the landing page's button) or `undo`.
    #[schema(example = "unsubscribe")]
    action: Option<String>,
}

/// Unsubscribes (RFC 8058 one-click, or the landing page's button), or undoes it
/// (`action=undo`). Idempotent; answers a page offering to undo.
#[utoipa::path(post, path = "/u/{token}", tag = "recipients", operation_id = "unsubscribe",
    params(("token" = String, Path, description = "The link's signed token")),
    request_body(content(
        (UnsubscribeForm = "application/x-www-form-urlencoded", example = json!({"List-Unsubscribe": "One-Click"})),
        (UnsubscribeForm = "multipart/form-data"),
    )),
    responses((status = 200, description = "Unsubscribed (or resubscribed by undo)", content_type = "text/html", body = String), super::PageErrors))]
pub async fn post(
    cx: web::Data<Context>,
    token: web::Path<String>,
    client: Client,
    body: web::Bytes,
) -> HttpResponse {
    let asked = asked(&body);
    let evidence = client.evidence();
    let result = async {
        let link = verify(&cx, &token, Audience::Unsubscribe)?;
        let languages = client.languages.clone();
        let landing = match asked {
            Asked::Undo => recipients::undo(&cx, link.clone(), evidence, languages).await?,
            Asked::OneClick => {
                recipients::unsubscribe(&cx, link.clone(), evidence, Source::OneClick, languages).await?
            }
            Asked::Unsubscribe => {
                recipients::unsubscribe(&cx, link.clone(), evidence, Source::Page, languages).await?
            }
        };
        Ok((link, landing))
    }
    .await;
    match result {
        Ok((link, landing)) => {
            let lang = lang(Some(&landing), &client);
            let words = lang.words();
            let answer = Answer {
                layout: Layout::new(lang, words.unsubscribed_title),
                words,
                undone: asked == Asked::Undo,
                topic: landing.topic.as_deref(),
                token: &token,
                manage_url: manage_url(&cx, &link),
            };
            page(StatusCode::OK, &answer)
        }
        Err(e) => super::error(lang(None, &client), &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_one_click_in_both_encodings_and_the_pages_forms() {
        assert_eq!(asked(b"List-Unsubscribe=One-Click"), Asked::OneClick);
        let multipart = b"--XyZ\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--XyZ--\r\n";
        assert_eq!(asked(multipart), Asked::OneClick);
        assert_eq!(asked(b"action=unsubscribe"), Asked::Unsubscribe);
        assert_eq!(asked(b"action=undo"), Asked::Undo);
        assert_eq!(asked(b""), Asked::Unsubscribe);
    }
}
