//! Mail providers' notifications about bounces, complaints and unsubscribes, read into
//! one form ([`Notice`]), and their signatures checked. Pure: reading and verifying
//! only; `service::feedback` applies what is read here.
//!
//! Each provider's module reads its own format into [`Entry`]s, one per address and
//! event: a [`Notice`] to apply, an event that changes nothing here (a delivery, an
//! open), or an entry that cannot be used and why.

pub mod generic;
pub mod mailgun;
pub mod postmark;
pub mod sendgrid;
pub mod ses;

use chrono::{DateTime, NaiveDateTime};
use serde::Deserialize;
use utoipa::ToSchema;

use super::TopicKey;

/// The most entries one delivery may hold.
pub const MAX_ENTRIES: usize = 10_000;

/// What a provider reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    HardBounce,
    SoftBounce,
    Complaint,
    Unsubscribe,
}

/// One notification about one address, whichever provider sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// An id for the notification, when the provider gives one: the key of idempotence.
    pub id: Option<String>,
    pub email: String,
    pub kind: Kind,
    /// For an unsubscribe: the topic it names.
    pub topic: Option<TopicKey>,
    /// For an unsubscribe: the provider's name for a group of mail (a SendGrid
    /// unsubscribe group, a Postmark message stream, a Mailgun tag), which settings may
    /// map to a topic.
    pub group: Option<String>,
    pub message_id: Option<String>,
    /// The provider's diagnostic text.
    pub detail: Option<String>,
    pub occurred_at: NaiveDateTime,
}

impl Notice {
    fn new(kind: Kind, email: &str, occurred_at: NaiveDateTime) -> Self {
        Notice {
            id: None,
            email: email.to_owned(),
            kind,
            topic: None,
            group: None,
            message_id: None,
            detail: None,
            occurred_at,
        }
    }
}

/// One entry of a delivery, read.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    Notice(Notice),
    /// An event that changes nothing here (a delivery, an open, a deferral…).
    Ignored,
    /// An entry that cannot be used, and why.
    Unusable(String),
}

/// Why a whole delivery is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not the provider's format at all.
    #[error("{0}")]
    Malformed(String),
    /// Verification is on, and the signature is missing or wrong.
    #[error("{0}")]
    Signature(String),
}

impl Refusal {
    fn malformed(what: impl std::fmt::Display) -> Self {
        Refusal::Malformed(what.to_string())
    }
}

/// Reads a body as `T`, naming the path of what is wrong.
fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Refusal> {
    crate::error::parse_json(body).map_err(|e| Refusal::Malformed(e.to_string()))
}

/// Reads a body holding one `T` or an array of them. A lone item that cannot be read
/// refuses the delivery; in an array, each item is read on its own, so that one bad
/// item does not hold back the others.
fn one_or_many<T: serde::de::DeserializeOwned>(
    body: &[u8],
    entry: impl Fn(T) -> Entry,
) -> Result<Vec<Entry>, Refusal> {
    match parse::<serde_json::Value>(body)? {
        serde_json::Value::Array(items) if items.len() > MAX_ENTRIES => {
            Err(Refusal::malformed(format!("at most {MAX_ENTRIES} entries a delivery")))
        }
        serde_json::Value::Array(items) => Ok(items
            .into_iter()
            .map(|item| crate::error::parse_value::<T>(item).map_or_else(Entry::Unusable, &entry))
            .collect()),
        serde_json::Value::Object(_) => Ok(vec![entry(parse::<T>(body)?)]),
        _ => Err(Refusal::malformed("expected an object or an array of objects")),
    }
}

/// Joins the diagnostic fragments a provider gives, skipping empty ones.
fn detail<'a>(parts: impl IntoIterator<Item = Option<&'a str>>) -> Option<String> {
    let parts: Vec<&str> = parts.into_iter().flatten().map(str::trim).filter(|p| !p.is_empty()).collect();
    (!parts.is_empty()).then(|| parts.join(": "))
}

fn from_unix(seconds: f64) -> Option<NaiveDateTime> {
    let whole = seconds.floor();
    let nanos = ((seconds - whole) * 1e9) as u32;
    DateTime::from_timestamp(whole as i64, nanos).map(|t| t.naive_utc())
}

fn from_rfc3339(text: &str) -> Option<NaiveDateTime> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.naive_utc())
}
