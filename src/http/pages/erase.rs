//! "Delete my data", from the pages. A preference link may have been forwarded with a
//! newsletter, and an erasure stops every mail to the address — receipts and password
//! resets too — so a page never erases on its link alone: it warns, then mails a
//! short-lived link (`/d/{token}`, `PREFCENTER_ERASE_LINK_MINUTES`) to the address, and
//! only that link erases. `DELETE /v1/preferences` does the same for scripts: with the
//! preference token it mails the link (202); with the mailed link's token it erases.

use std::future::{ready, Ready};

use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};

use askama::Template;

use super::{page, verify, Layout, Notice};
use crate::domain::token::{Audience, Link};
use crate::error::Error;
use crate::http::auth::bearer;
use crate::http::client::Client;
use crate::http::openapi::problems;
use crate::i18n::{Lang, Words};
use crate::service::privacy::{self, ErasureAsked};
use crate::service::{recipients, Context};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::scope("/d").service(
        crate::http::resource("/{token}").route(web::get().to(confirmation)).route(web::post().to(erase)),
    ));
}

/// The warning, and the button that mails the link (`ask`) or erases (`confirmed`).
#[derive(Template)]
#[template(path = "pages/erase.html")]
struct Question<'a> {
    layout: Layout<'a>,
    words: &'static Words,
    /// Where the button posts.
    action: String,
    /// The mailed link's page, whose button deletes.
    confirm: bool,
    /// The masked address the link will be mailed to; `None` when none is held.
    to: Option<String>,
    back: Option<String>,
}

/// The page's language: the contact's, else the browser's; and the masked address.
async fn who(cx: &Context, link: &Link, client: &Client) -> Result<(Lang, Option<String>), Error> {
    let preferences = recipients::preferences(cx, link.clone(), client.languages.clone()).await?;
    Ok((Lang::choose(preferences.locale.as_deref(), &client.languages), preferences.email))
}

/// "Delete my data": the warning, before anything is done. Changes nothing.
#[utoipa::path(get, path = "/p/{token}/delete", tag = "recipients", operation_id = "getErasePage",
    params(("token" = String, Path, description = "The preference link's signed token")),
    responses((status = 200, description = "Warns, and offers to mail the link that confirms the deletion", content_type = "text/html", body = String), super::PageErrors))]
pub async fn question(cx: web::Data<Context>, token: web::Path<String>, client: Client) -> HttpResponse {
    let browser = Lang::choose(None, &client.languages);
    let result = async {
        let link = verify(&cx, &token, Audience::Preferences)?;
        who(&cx, &link, &client).await
    }
    .await;
    match result {
        Ok((lang, email)) => {
            let words = lang.words();
            let question = Question {
                layout: Layout::new(&cx.brand, lang, words.erase_title),
                words,
                action: format!("/p/{}/delete", token.as_str()),
                confirm: false,
                to: email,
                back: Some(format!("/p/{}", token.as_str())),
            };
            page(StatusCode::OK, &question)
        }
        Err(e) => super::error(&cx.brand, browser, Audience::Preferences, &e),
    }
}

/// Mails the link that confirms the deletion; deletes nothing.
#[utoipa::path(post, path = "/p/{token}/delete", tag = "recipients", operation_id = "askErasure",
    params(("token" = String, Path, description = "The preference link's signed token")),
    responses(
        (status = 200, description = "The link is mailed (or there is nowhere to mail it)", content_type = "text/html", body = String),
        (status = 429, description = "Too many mails asked for this address or from this network", content_type = "text/html", body = String),
        super::PageErrors,
    ))]
pub async fn ask(cx: web::Data<Context>, token: web::Path<String>, client: Client) -> HttpResponse {
    let browser = Lang::choose(None, &client.languages);
    let result = async {
        let link = verify(&cx, &token, Audience::Preferences)?;
        let (lang, _) = who(&cx, &link, &client).await?;
        let asked = privacy::ask_erasure(
            cx.clone().into_inner(),
            link,
            client.pseudonym.clone(),
            client.languages.clone(),
        )
        .await?;
        Ok((lang, asked))
    }
    .await;
    match result {
        Ok((lang, asked)) => {
            let words = lang.words();
            let (title, text) = match asked {
                ErasureAsked::Sent(to) => (words.erase_sent_title, words.erase_sent.with(&to)),
                ErasureAsked::NoAddress => (words.erase_title, words.erase_no_address.to_owned()),
                ErasureAsked::NothingHeld => (words.erase_title, words.erase_nothing.to_owned()),
            };
            let back = Some((words.erase_cancel, format!("/p/{}", token.as_str())));
            page(StatusCode::OK, &Notice { back, ..Notice::new(Layout::new(&cx.brand, lang, title), text) })
        }
        Err(e) => super::error(&cx.brand, browser, Audience::Preferences, &e),
    }
}

/// The mailed link's page: the warning again, and the button that deletes. Changes
/// nothing (scanners fetch every link in a mail).
#[utoipa::path(get, path = "/d/{token}", tag = "recipients", operation_id = "getErasureConfirmation",
    params(("token" = String, Path, description = "The mailed link's signed token")),
    responses((status = 200, description = "Asks to confirm the deletion", content_type = "text/html", body = String), super::PageErrors))]
pub async fn confirmation(cx: web::Data<Context>, token: web::Path<String>, client: Client) -> HttpResponse {
    let browser = Lang::choose(None, &client.languages);
    let result = async {
        let link = verify(&cx, &token, Audience::Erase)?;
        who(&cx, &link, &client).await
    }
    .await;
    match result {
        Ok((lang, _)) => {
            let words = lang.words();
            let question = Question {
                layout: Layout::new(&cx.brand, lang, words.erase_title),
                words,
                action: format!("/d/{}", token.as_str()),
                confirm: true,
                to: None,
                back: None,
            };
            page(StatusCode::OK, &question)
        }
        Err(e) => super::error(&cx.brand, browser, Audience::Erase, &e),
    }
}

/// Deletes the mailed link's owner.
#[utoipa::path(post, path = "/d/{token}", tag = "recipients", operation_id = "confirmErasure",
    params(("token" = String, Path, description = "The mailed link's signed token")),
    responses((status = 200, description = "Deleted", content_type = "text/html", body = String), super::PageErrors))]
pub async fn erase(cx: web::Data<Context>, token: web::Path<String>, client: Client) -> HttpResponse {
    let browser = Lang::choose(None, &client.languages);
    let result = async {
        let link = verify(&cx, &token, Audience::Erase)?;
        let (lang, _) = who(&cx, &link, &client).await?;
        privacy::erase(&cx, link.recipient.into(), crate::domain::Source::Page).await?;
        Ok(lang)
    }
    .await;
    match result {
        Ok(lang) => {
            let words = lang.words();
            let layout = Layout::new(&cx.brand, lang, words.erase_title);
            page(StatusCode::OK, &Notice::new(layout, words.erased_done).done())
        }
        Err(e) => super::error(&cx.brand, browser, Audience::Erase, &e),
    }
}

/// The bearer of `DELETE /v1/preferences`: a preference link asks, the mailed link
/// confirms.
pub enum ErasureBearer {
    Ask(Link),
    Confirmed(Link),
}

impl FromRequest for ErasureBearer {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let result = match (bearer(req), req.app_data::<web::Data<Context>>()) {
            (Some(token), Some(cx)) => verify(cx, token, Audience::Preferences)
                .map(ErasureBearer::Ask)
                .or_else(|_| verify(cx, token, Audience::Erase).map(ErasureBearer::Confirmed))
                .map_err(|_| Error::Unauthorized),
            _ => Err(Error::Unauthorized),
        };
        ready(result)
    }
}

/// What `DELETE /v1/preferences` with a preference token did.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErasureMailed {
    /// Always `confirmation_sent`.
    #[schema(example = "confirmation_sent")]
    pub status: &'static str,
    /// The address the link was mailed to, masked.
    #[schema(example = "a***@example.com")]
    pub to: String,
}

problems!(EraseProblems: (404, "Nothing is held, or no address to mail the confirmation to"));

/// Erasure, in two steps: with a preference token, mails the link that confirms it
/// (202); with that link's token (`/d/{token}`), erases (204).
#[utoipa::path(delete, path = "/v1/preferences", tag = "recipients", operation_id = "erasePreferences",
    security(("preference_token" = [])),
    responses(
        (status = 202, description = "The confirmation link is mailed; nothing is deleted yet", body = ErasureMailed),
        (status = 204, description = "Erased (the bearer was the mailed link's token)"),
        EraseProblems,
    ))]
pub async fn api(
    bearer: ErasureBearer,
    cx: web::Data<Context>,
    client: Client,
) -> Result<HttpResponse, Error> {
    match bearer {
        ErasureBearer::Ask(link) => {
            match privacy::ask_erasure(cx.into_inner(), link, client.pseudonym, client.languages).await? {
                ErasureAsked::Sent(to) => {
                    Ok(HttpResponse::Accepted().json(ErasureMailed { status: "confirmation_sent", to }))
                }
                ErasureAsked::NoAddress => {
                    Err(Error::not_found("no address is held to mail the confirmation to"))
                }
                ErasureAsked::NothingHeld => Err(Error::not_found("nothing is held about this link's owner")),
            }
        }
        ErasureBearer::Confirmed(link) => {
            privacy::erase(&cx, link.recipient.into(), crate::domain::Source::Page).await?;
            Ok(HttpResponse::NoContent().finish())
        }
    }
}
