//! The send decision for mailing systems: one address, a batch, or just the links.
//! Answered from the in-memory index alone; nothing here touches the database.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::decision::Why;
use crate::domain::mail_token;
use crate::domain::token::{Audience, Link, Recipient};
use crate::domain::{AddressHash, Category, NormalizedAddress, TopicKey};
use crate::error::Error;
use crate::index::Answer;
use crate::service::Context;
use crate::store;

/// The most addresses one batch may hold.
pub const MAX_BATCH: usize = 10_000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    #[schema(format = Email, max_length = 254, example = "alice@example.com")]
    pub email: String,
    #[schema(pattern = "^[a-z0-9][a-z0-9._-]{0,63}$", example = "newsletter")]
    pub topic: String,
    /// The sender's id for the message, carried into the unsubscribe link and the
    /// event it records.
    #[serde(default, deserialize_with = "crate::domain::text::optional_identifier")]
    #[schema(min_length = 1, max_length = 256, example = "m-123")]
    pub message_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckResult {
    /// The address, normalized.
    pub email: String,
    pub topic: String,
    pub allowed: bool,
    /// `subscribed`, `default_subscribed`, `transactional`, `unsubscribed_topic`,
    /// `unsubscribed_all`, `pending_confirmation`, `no_consent`, `paused` or
    /// `suppressed:<reason>`.
    #[schema(inline, example = "default_subscribed")]
    pub reason: Why,
    /// With `paused`: when the recipient's pause ends and this mail may go again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resumes_at: Option<DateTime<Utc>>,
    /// The headers the message must carry: `List-Unsubscribe` and
    /// `List-Unsubscribe-Post` for an allowed promotional message, else none.
    pub headers: Headers,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    #[schema(pattern = "^[a-z0-9][a-z0-9._-]{0,63}$", example = "newsletter")]
    pub topic: String,
    /// Up to 10,000 inputs; one that is not an address is an error entry in its place.
    #[schema(max_items = 10000, example = json!(["a@example.com", "not-an-address"]))]
    pub emails: Vec<String>,
    #[serde(default, deserialize_with = "crate::domain::text::optional_identifier")]
    #[schema(min_length = 1, max_length = 256, example = "m-123")]
    pub message_id: Option<String>,
}

/// One result of a batch: a decision, or why the input was not an address.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum BatchEntry {
    Decided {
        email: String,
        allowed: bool,
        #[schema(inline)]
        reason: Why,
        /// With `paused`: when the pause ends.
        #[serde(skip_serializing_if = "Option::is_none")]
        resumes_at: Option<DateTime<Utc>>,
        headers: Headers,
    },
    Invalid {
        input: String,
        /// Always `invalid_email`.
        #[schema(value_type = String, pattern = "^invalid_email$")]
        error: &'static str,
    },
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResponse {
    /// One per input, in request order.
    pub results: Vec<BatchEntry>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinksRequest {
    #[schema(format = Email, max_length = 254, example = "alice@example.com")]
    pub email: String,
    #[schema(pattern = "^[a-z0-9][a-z0-9._-]{0,63}$", example = "newsletter")]
    pub topic: String,
    #[serde(default, deserialize_with = "crate::domain::text::optional_identifier")]
    #[schema(min_length = 1, max_length = 256, example = "m-123")]
    pub message_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LinksResponse {
    pub unsubscribe_url: String,
    pub preferences_url: String,
    pub headers: Headers,
}

fn address(email: &str) -> Result<NormalizedAddress, Error> {
    NormalizedAddress::parse(email).map_err(|e| Error::invalid("email", e.to_string()))
}

fn unknown_topic(topic: &str) -> Error {
    Error::not_found(format!("there is no topic {topic:?}"))
}

/// The headers a message must carry: `List-Unsubscribe` and `List-Unsubscribe-Post`
/// for allowed promotional mail, or none (`{}`). With an unsubscribe mailbox domain
/// set, `List-Unsubscribe` is `<mailto:u-TOKEN@DOMAIN?subject=unsubscribe>,
/// <https://…/u/TOKEN>`.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Headers {
    #[serde(rename = "List-Unsubscribe", skip_serializing_if = "Option::is_none")]
    pub list_unsubscribe: Option<String>,
    #[serde(rename = "List-Unsubscribe-Post", skip_serializing_if = "Option::is_none")]
    pub list_unsubscribe_post: Option<&'static str>,
}

/// Signs the links for one address after another: a request's unsubscribe link is
/// made once, and only its recipient changes from one address to the next.
struct Links<'a> {
    cx: &'a Context,
    unsubscribe: Link,
    /// The unsubscribe mailboxes' domain and the last day their tokens are accepted,
    /// when a domain is configured.
    mail: Option<(&'a str, u16)>,
}

impl<'a> Links<'a> {
    fn new(cx: &'a Context, topic: &str, message_id: Option<String>) -> Self {
        let mail = cx.config.unsubscribe_mail_domain.as_deref().map(|domain| {
            let now = chrono::Utc::now().timestamp();
            (domain, mail_token::last_day(now, cx.config.unsubscribe_link_days))
        });
        let nobody = Recipient::Address(AddressHash([0; 32]));
        let unsubscribe =
            super::new_link(cx, Audience::Unsubscribe, nobody, TopicKey::parse(topic).ok(), message_id);
        Self { cx, unsubscribe, mail }
    }

    fn preferences_url(&self, hash: AddressHash) -> String {
        let Link { topic, message_id, .. } = &self.unsubscribe;
        let recipient = Recipient::Address(hash);
        super::link_url(self.cx, Audience::Preferences, recipient, topic.clone(), message_id.clone())
    }

    fn unsubscribe_url(&mut self, hash: AddressHash) -> String {
        let mut url = String::new();
        self.push_unsubscribe_url(hash, &mut url);
        url
    }

    /// Appends the unsubscribe URL for `hash` to `out`.
    fn push_unsubscribe_url(&mut self, hash: AddressHash, out: &mut String) {
        self.unsubscribe.recipient = Recipient::Address(hash);
        super::push_link_url(self.cx, &self.unsubscribe, out);
    }

    /// RFC 8058: the URL in `List-Unsubscribe`, and the header that says a POST to it
    /// unsubscribes in one click.
    /// With an unsubscribe mailbox domain, the `mailto:` URI comes first (RFC 2369
    /// lists URIs in order of preference; clients that act only on `mailto:`, such as
    /// Apple Mail, find it, and RFC 8058 clients take the HTTPS one).
    fn headers(&mut self, hash: AddressHash) -> Headers {
        // A link is about 300 bytes, a mailto: URI about 100.
        let mut value = String::with_capacity(self.cx.config.base_url.len() + 448);
        if let Some((domain, last_day)) = self.mail {
            let local = self.cx.tokens.mail().local_part(&hash, self.unsubscribe.topic.as_ref(), last_day);
            value.push_str("<mailto:");
            value.push_str(&local);
            value.push('@');
            value.push_str(domain);
            value.push_str("?subject=unsubscribe>, ");
        }
        value.push('<');
        self.push_unsubscribe_url(hash, &mut value);
        value.push('>');
        Headers { list_unsubscribe: Some(value), list_unsubscribe_post: Some("List-Unsubscribe=One-Click") }
    }

    fn headers_for(&mut self, answer: &Answer, hash: AddressHash) -> Headers {
        if answer.decision.allowed && answer.category == Category::Promotional {
            self.headers(hash)
        } else {
            Headers::default()
        }
    }
}

pub fn check(cx: &Context, request: CheckRequest) -> Result<CheckResult, Error> {
    super::check_message_id(&request.message_id)?;
    let address = address(&request.email)?;
    cx.index.ensure_fresh()?;
    let hash = cx.hasher.hash(&address);
    let mut answer = None;
    cx.index
        .decide_all(std::iter::once(Some(&hash)), &request.topic, store::now(), |a| answer = a)
        .map_err(|_| unknown_topic(&request.topic))?;
    let answer = answer.ok_or_else(|| Error::bug("the index gave no answer"))?;
    let mut links = Links::new(cx, &request.topic, request.message_id);
    Ok(CheckResult {
        headers: links.headers_for(&answer, hash),
        email: address.to_string(),
        topic: request.topic,
        allowed: answer.decision.allowed,
        reason: answer.decision.why,
        resumes_at: answer.decision.resumes_at.map(super::utc),
    })
}

pub fn check_batch(cx: &Context, request: BatchRequest) -> Result<BatchResponse, Error> {
    super::check_message_id(&request.message_id)?;
    if request.emails.len() > MAX_BATCH {
        return Err(Error::invalid(
            "emails",
            format!("a batch holds at most {MAX_BATCH} addresses; this one has {}", request.emails.len()),
        ));
    }
    cx.index.ensure_fresh()?;
    let parsed: Vec<Option<(NormalizedAddress, AddressHash)>> = request
        .emails
        .iter()
        .map(|email| {
            NormalizedAddress::parse(email).ok().map(|a| {
                let hash = cx.hasher.hash(&a);
                (a, hash)
            })
        })
        .collect();
    let mut links = Links::new(cx, &request.topic, request.message_id);
    let mut results = Vec::with_capacity(parsed.len());
    let mut inputs = request.emails.into_iter();
    let mut addresses = parsed.iter();
    cx.index
        .decide_all(
            parsed.iter().map(|p| p.as_ref().map(|(_, hash)| hash)),
            &request.topic,
            store::now(),
            |answer| {
                let input = inputs.next().unwrap_or_default();
                let entry = match (answer, addresses.next()) {
                    (Some(answer), Some(Some((address, hash)))) => BatchEntry::Decided {
                        headers: links.headers_for(&answer, *hash),
                        email: address.to_string(),
                        allowed: answer.decision.allowed,
                        reason: answer.decision.why,
                        resumes_at: answer.decision.resumes_at.map(super::utc),
                    },
                    _ => BatchEntry::Invalid { input, error: "invalid_email" },
                };
                results.push(entry);
            },
        )
        .map_err(|_| unknown_topic(&request.topic))?;
    Ok(BatchResponse { results })
}

/// The links for one address and topic, without a decision. 422 for a transactional
/// topic: its mail carries no unsubscribe link.
pub fn links(cx: &Context, request: LinksRequest) -> Result<LinksResponse, Error> {
    super::check_message_id(&request.message_id)?;
    let address = address(&request.email)?;
    cx.index.ensure_fresh()?;
    match cx.index.category(&request.topic) {
        None => return Err(unknown_topic(&request.topic)),
        Some(Category::Transactional) => {
            return Err(Error::invalid("topic", "a transactional topic's mail carries no unsubscribe link"))
        }
        Some(Category::Promotional) => {}
    }
    let hash = cx.hasher.hash(&address);
    let mut links = Links::new(cx, &request.topic, request.message_id);
    Ok(LinksResponse {
        unsubscribe_url: links.unsubscribe_url(hash),
        preferences_url: links.preferences_url(hash),
        headers: links.headers(hash),
    })
}
