//! `/u/{token}`: the unsubscribe link of every promotional mail.
//!
//! `GET` and `HEAD` show a page and change nothing: mail security scanners (Safe
//! Links, Proofpoint, Mimecast) and previews fetch every URL in a message. The page
//! knows where the recipient stands: it asks to unsubscribe, or says they already are
//! and offers to resubscribe, or that the address was erased. `POST` unsubscribes —
//! RFC 8058 one-click from a mailbox provider (`List-Unsubscribe=One-Click`,
//! form-encoded or multipart, no cookies, no redirect) or the page's own button — and
//! answers 200 with a page offering to undo it and asking, optionally, why
//! (`POST /u/{token}/reason`).
//!
//! An unsubscribe link keeps unsubscribing after it expires, for as long as its
//! signing key is accepted: mail stays in mailboxes for years, and CAN-SPAM asks that
//! an unsubscribe work for at least 30 days after sending. What re-subscribes (undo,
//! resubscribe) and the preference link the page offers need a link within its
//! validity; an older one offers to mail a fresh link instead.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use askama::Template;

use super::{form_field, form_fields, is_fresh, page, Layout, Notice};
use crate::domain::token::{Audience, Link, TokenError};
use crate::domain::Source;
use crate::error::Error;
use crate::http::client::Client;
use crate::i18n::{Lang, Words};
use crate::service::recipients::{self, Landing, Standing};
use crate::service::{link_url, reasons, Context};

pub fn configure(cfg: &mut web::ServiceConfig) {
    // In a scope, so that only paths under /u/ try the token's pattern (see
    // `http::configure`).
    cfg.service(
        web::scope("/u")
            .service(
                crate::http::resource("/{token}")
                    .route(web::get().to(landing))
                    .route(web::head().to(landing))
                    .route(web::post().to(post)),
            )
            .service(crate::http::resource("/{token}/reason").route(web::post().to(reason))),
    );
}

/// What the page says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shown {
    /// "Unsubscribe from *Topic*?"
    Question,
    /// Just unsubscribed: undo, and why?
    Done,
    /// Unsubscribed before: resubscribe.
    Already,
    Resubscribed,
    /// Resubscribed to the topic, but still unsubscribed from all promotional mail.
    StillAll,
    Erased,
}

/// One answer to "why did you leave?".
struct Choice {
    value: &'static str,
    label: &'static str,
}

fn choices(words: &'static Words) -> [Choice; 4] {
    [
        Choice { value: "too_frequent", label: words.reason_too_frequent },
        Choice { value: "not_relevant", label: words.reason_not_relevant },
        Choice { value: "never_signed_up", label: words.reason_never_signed_up },
        Choice { value: "other", label: words.reason_other },
    ]
}

/// Every page of an unsubscribe link.
#[derive(Template)]
#[template(path = "pages/unsubscribe.html")]
struct UnsubscribePage<'a> {
    layout: Layout<'a>,
    words: &'static Words,
    shown: Shown,
    /// The topic's name; `None` for all promotional mail.
    topic: Option<&'a str>,
    /// The recipient is unsubscribed from all promotional mail.
    all: bool,
    token: &'a str,
    /// Within the link's validity: undo, resubscribe and the preference link are offered.
    fresh: bool,
    manage_url: Option<String>,
    choices: [Choice; 4],
    /// Why the answer to "why?" was refused.
    problem: Option<&'static str>,
}

impl<'a> UnsubscribePage<'a> {
    fn new(
        cx: &'a Context,
        lang: Lang,
        shown: Shown,
        link: &Link,
        landing: &'a Landing,
        token: &'a str,
    ) -> Self {
        let words = lang.words();
        let title = match shown {
            Shown::Question => words.unsubscribe_title,
            Shown::Done => words.unsubscribed_title,
            Shown::Already => words.already_title,
            Shown::Resubscribed | Shown::StillAll => words.resubscribed_title,
            Shown::Erased => words.erased_title,
        };
        let fresh = is_fresh(link);
        UnsubscribePage {
            layout: Layout::new(&cx.brand, lang, title),
            words,
            shown,
            topic: landing.topic.as_deref(),
            all: landing.standing == Standing::UnsubscribedAll,
            token,
            fresh,
            manage_url: (fresh && shown != Shown::Erased).then(|| manage_url(cx, link)),
            choices: choices(words),
            problem: None,
        }
    }

    /// The topic, when the recipient is unsubscribed from it alone (not from all).
    fn topic_alone(&self) -> Option<&str> {
        self.topic.filter(|_| !self.all)
    }

    /// Resubscribing is offered where it undoes what the link did: its topic, or all
    /// promotional mail from a link for all of it.
    fn can_resubscribe(&self) -> bool {
        self.fresh && (self.topic.is_none() || !self.all)
    }
}

/// The "choose what you receive" link: a preference link for the same recipient.
fn manage_url(cx: &Context, link: &Link) -> String {
    link_url(cx, Audience::Preferences, link.recipient, None, link.message_id.clone())
}

fn lang(landing: Option<&Landing>, client: &Client) -> Lang {
    Lang::choose(landing.and_then(|l| l.locale.as_deref()), &client.languages)
}

/// An unsubscribe link, however old (see the module's comment).
fn verify(cx: &Context, token: &str) -> Result<Link, Error> {
    cx.tokens.verify_signed(token, Audience::Unsubscribe).map_err(Error::Link)
}

/// The unsubscribe landing page: what the link would do, or what it did before. Changes
/// nothing (`HEAD` likewise).
#[utoipa::path(method(get, head), path = "/u/{token}", tag = "recipients", operation_id = "getUnsubscribePage",
    params(("token" = String, Path, description = "The link's signed token")),
    responses((status = 200, description = "The landing page", content_type = "text/html", body = String), super::PageErrors))]
pub async fn landing(cx: web::Data<Context>, token: web::Path<String>, client: Client) -> HttpResponse {
    let result = async {
        let link = verify(&cx, &token)?;
        let landing = recipients::landing(&cx, link.clone(), client.languages.clone()).await?;
        Ok((link, landing))
    }
    .await;
    match result {
        Ok((link, landing)) => {
            let shown = match landing.standing {
                Standing::Receiving => Shown::Question,
                Standing::UnsubscribedTopic | Standing::UnsubscribedAll => Shown::Already,
                Standing::Erased => Shown::Erased,
            };
            let lang = lang(Some(&landing), &client);
            page(StatusCode::OK, &UnsubscribePage::new(&cx, lang, shown, &link, &landing, &token))
        }
        Err(e) => super::error(&cx.brand, lang(None, &client), Audience::Unsubscribe, &e),
    }
}

/// What a POST asks for.
#[derive(Debug, PartialEq, Eq)]
enum Asked {
    /// RFC 8058: a mailbox provider's one-click.
    OneClick,
    /// The landing page's button.
    Unsubscribe,
    /// Undo the unsubscribe just made, or resubscribe after an earlier one.
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
    if matches!(field("action").as_deref(), Some("undo" | "resubscribe")) {
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
    /// `unsubscribe` (the landing page's button), `undo` or `resubscribe` (which need
    /// a link within its validity).
    #[schema(example = "unsubscribe")]
    action: Option<String>,
}

/// Unsubscribes (RFC 8058 one-click, or the landing page's button), or undoes it
/// (`action=undo` or `resubscribe`). Idempotent; answers a page offering to undo.
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
        let link = verify(&cx, &token)?;
        let languages = client.languages.clone();
        let landing = match asked {
            // Re-subscribing is consent given again: an old link, perhaps forwarded,
            // may not do it.
            Asked::Undo if !is_fresh(&link) => return Err(Error::Link(TokenError::Expired)),
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
            let shown = match (&asked, landing.standing) {
                (Asked::Undo, Standing::UnsubscribedAll) => Shown::StillAll,
                (Asked::Undo, _) => Shown::Resubscribed,
                _ => Shown::Done,
            };
            let lang = lang(Some(&landing), &client);
            page(StatusCode::OK, &UnsubscribePage::new(&cx, lang, shown, &link, &landing, &token))
        }
        Err(e) => super::error(&cx.brand, lang(None, &client), Audience::Unsubscribe, &e),
    }
}

/// The answer to "why did you leave?".
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // describes the form for the OpenAPI document
pub struct ReasonForm {
    #[schema(value_type = String, example = "too_frequent")]
    reason: crate::domain::UnsubscribeReason,
    /// Optional; at most 500 characters, line breaks allowed, no other control
    /// characters.
    #[schema(max_length = 500)]
    comment: Option<String>,
}

/// Records why the recipient left, once per unsubscribe; changes no status. An old
/// link may answer too: it follows the unsubscribe it made.
#[utoipa::path(post, path = "/u/{token}/reason", tag = "recipients", operation_id = "explainUnsubscribe",
    params(("token" = String, Path, description = "The unsubscribe link's signed token")),
    request_body(content = ReasonForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Thanks (recorded, or already answered)", content_type = "text/html", body = String),
        (status = 422, description = "No known reason, or a comment too long or with control characters: the form again", content_type = "text/html", body = String),
        super::PageErrors,
    ))]
pub async fn reason(
    cx: web::Data<Context>,
    token: web::Path<String>,
    client: Client,
    body: web::Bytes,
) -> HttpResponse {
    let fields = form_fields(&body);
    let answer = reasons::Answer::from_form(form_field(&fields, "reason"), form_field(&fields, "comment"));
    let evidence = client.evidence();
    let result = async {
        let link = verify(&cx, &token)?;
        let landing = recipients::landing(&cx, link.clone(), client.languages.clone()).await?;
        let recorded = match answer {
            Ok(answer) => Some(reasons::record(&cx, link.clone(), answer, evidence).await?),
            Err(_) => None,
        };
        Ok((link, landing, recorded))
    }
    .await;
    match result {
        Ok((link, landing, Some(_))) => {
            let lang = lang(Some(&landing), &client);
            let words = lang.words();
            let layout = Layout::new(&cx.brand, lang, words.reason_thanks_title);
            let back = is_fresh(&link).then(|| (words.manage, manage_url(&cx, &link)));
            page(StatusCode::OK, &Notice { back, ..Notice::new(layout, words.reason_thanks).done() })
        }
        Ok((link, landing, None)) => {
            let lang = lang(Some(&landing), &client);
            let mut again = UnsubscribePage::new(&cx, lang, Shown::Done, &link, &landing, &token);
            again.problem = Some(lang.words().reason_invalid);
            page(StatusCode::UNPROCESSABLE_ENTITY, &again)
        }
        Err(e) => super::error(&cx.brand, lang(None, &client), Audience::Unsubscribe, &e),
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
        assert_eq!(asked(b"action=resubscribe"), Asked::Undo);
        assert_eq!(asked(b""), Asked::Unsubscribe);
    }
}
