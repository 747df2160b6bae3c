//! Use cases, one module per capability. Each reads and writes through `store` inside
//! one transaction, with the event that records the change. Every use case takes the
//! [`Context`] as `cx`; none imports `http`.

pub mod api_keys;
pub mod changes;
pub mod check;
pub mod clicks;
pub mod contact_import;
pub mod contacts;
mod context;
pub mod feed_consumers;
pub mod feedback;
pub mod group_commit;
pub mod import;
pub mod lag;
pub mod mail;
pub mod mail_limits;
pub mod mailto;
pub mod operators;
pub mod privacy;
pub mod reasons;
pub mod recipients;
pub mod rollup;
pub mod signup;
pub mod stats;
pub mod suppression_import;
pub mod suppressions;
pub mod topics;
pub mod webhooks;

pub use context::Context;

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::domain::token::{Audience, Link, Recipient};
use crate::domain::TopicKey;
use crate::error::Error;
use crate::store::Tx;

tokio::task_local! {
    /// The console operator whose request the current task serves (see [`as_operator`]).
    static OPERATOR: String;
}

/// Runs `work` (a console request's call of a use case) on behalf of the operator
/// `email`: every event its writes append says source `console` and the operator.
pub async fn as_operator<F: std::future::Future>(email: String, work: F) -> F::Output {
    OPERATOR.scope(email, work).await
}

/// The console operator the current task acts for, if any.
pub(crate) fn operator() -> Option<String> {
    OPERATOR.try_with(Clone::clone).ok()
}

/// Runs `work` in a write transaction, answering once it is committed and this
/// process's decision index has it (see [`group_commit`]). Within [`as_operator`], its
/// events are recorded as the operator's.
pub(crate) async fn write<T, F>(cx: &Context, work: F) -> Result<T, Error>
where
    F: FnOnce(&mut Tx) -> Result<T, Error> + Send + 'static,
    T: Send + 'static,
{
    match operator() {
        Some(operator) => cx.writer.write(move |tx: &mut Tx| tx.as_operator(operator, work)).await,
        None => cx.writer.write(work).await,
    }
}

/// [`write`] for a caller on a blocking thread (an import's reader), never on an
/// async worker: it waits there for the commit.
pub(crate) fn write_blocking<T, F>(cx: &Context, work: F) -> Result<T, Error>
where
    F: FnOnce(&mut Tx) -> Result<T, Error> + Send + 'static,
    T: Send + 'static,
{
    cx.writer.write_blocking(work)
}

/// The URL of a freshly signed link: `/u/…`, `/p/…`, `/c/…` or `/d/…` by audience,
/// valid for that audience's configured time.
pub fn link_url(
    cx: &Context,
    audience: Audience,
    recipient: Recipient,
    topic: Option<TopicKey>,
    message_id: Option<String>,
) -> String {
    let mut url = String::new();
    push_link_url(cx, &new_link(cx, audience, recipient, topic, message_id), &mut url);
    url
}

/// A link signed now, valid for its audience's configured time.
pub(crate) fn new_link(
    cx: &Context,
    audience: Audience,
    recipient: Recipient,
    topic: Option<TopicKey>,
    message_id: Option<String>,
) -> Link {
    let seconds = match audience {
        Audience::Unsubscribe => cx.config.unsubscribe_link_days * 86_400,
        Audience::Preferences => cx.config.preference_link_days * 86_400,
        Audience::Confirm => cx.config.confirm_link_days * 86_400,
        Audience::Erase => cx.config.erase_link_minutes * 60,
    };
    let now = Utc::now().timestamp();
    Link { recipient, audience, topic, message_id, issued_at: now, expires_at: now + seconds }
}

/// Appends the URL of `link` to `out`, so that a header is built around it without
/// copying it again (a batch of checks signs thousands).
pub(crate) fn push_link_url(cx: &Context, link: &Link, out: &mut String) {
    let path = match link.audience {
        Audience::Unsubscribe => "/u/",
        Audience::Preferences => "/p/",
        Audience::Confirm => "/c/",
        Audience::Erase => "/d/",
    };
    out.push_str(&cx.config.base_url);
    out.push_str(path);
    cx.tokens.sign_into(link, out);
}

/// A sender's message id, as API writes and links carry it: it goes into signed URLs,
/// so it is kept short.
pub(crate) fn check_message_id(message_id: &Option<String>) -> Result<(), Error> {
    match message_id {
        // Characters, as the OpenAPI document's maxLength counts them.
        Some(id) if id.is_empty() || id.chars().count() > 256 => {
            Err(Error::invalid("message_id", "must be 1 to 256 characters"))
        }
        _ => Ok(()),
    }
}

/// Times leave the service as RFC 3339 UTC.
pub(crate) fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}
