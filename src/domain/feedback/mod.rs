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

use chrono::{DateTime, NaiveDateTime, TimeDelta};
use serde::Deserialize;
use utoipa::ToSchema;

use super::text::{self, Shape};
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

impl Notice {
    /// How far ahead of this server's clock a provider's may run.
    pub fn clock_skew() -> TimeDelta {
        TimeDelta::minutes(5)
    }

    /// The notice as it may be applied at `now`, or why it cannot be.
    ///
    /// - A soft bounce dated later than `now` (beyond [`Notice::clock_skew`]) is not
    ///   counted: soft bounces are counted by their time, and one from the future would
    ///   count towards the threshold before it happened (and push the suppression's
    ///   expiry as far). Within the skew, and for every other kind (they do not depend
    ///   on when), the time is `now` at the latest.
    /// - A provider's text is kept, cleaned of what no field may hold ([`text`]): a
    ///   bounce is never lost for its diagnostic. A message id that is not usable is
    ///   dropped, as a link's is.
    pub fn settle(self, now: NaiveDateTime) -> Entry {
        if self.kind == Kind::SoftBounce && self.occurred_at > now + Self::clock_skew() {
            return Entry::Unusable("occurred_at: a soft bounce dated in the future is not counted".into());
        }
        Entry::Notice(Notice {
            id: self.id.map(|id| text::clean(&id, Shape::Identifier)),
            group: self.group.map(|group| text::clean(&group, Shape::Identifier)),
            message_id: self.message_id.filter(|m| text::is_valid(m, Shape::Identifier)),
            detail: self.detail.map(|detail| text::clean(&detail, Shape::Paragraph)),
            occurred_at: super::time::reported(self.occurred_at, now),
            ..self
        })
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
pub(crate) fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Refusal> {
    crate::domain::json::parse(body).map_err(|e| Refusal::Malformed(e.to_string()))
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
            .map(|item| crate::domain::json::parse_value::<T>(item).map_or_else(Entry::Unusable, &entry))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        from_rfc3339(s).unwrap()
    }

    #[test]
    fn a_notice_is_settled_before_it_is_applied() {
        let now = at("2030-01-01T12:00:00Z");
        let future = at("9999-12-31T00:00:00Z");
        let mut soft = Notice::new(Kind::SoftBounce, "a@example.com", future);
        assert!(matches!(soft.clone().settle(now), Entry::Unusable(_)), "a soft bounce from the future");
        soft.occurred_at = now + TimeDelta::minutes(1);
        assert!(
            matches!(soft.settle(now), Entry::Notice(n) if n.occurred_at == now),
            "clock skew is forgiven"
        );
        let mut hard = Notice::new(Kind::HardBounce, "a@example.com", future);
        hard.detail = Some("550\u{0} user\r\nunknown".into());
        hard.message_id = Some("m\u{0}".into());
        hard.id = Some("id\u{0}".into());
        match hard.settle(now) {
            Entry::Notice(n) => {
                assert_eq!(n.occurred_at, now);
                assert_eq!(n.detail.as_deref(), Some("550\u{fffd} user\r\nunknown"));
                assert_eq!(n.message_id, None);
                assert_eq!(n.id.as_deref(), Some("id\u{fffd}"));
            }
            other => panic!("{other:?}"),
        }
    }
}
