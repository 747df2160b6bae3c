//! The closed sets of words the API speaks: categories, statuses, sources, suppression
//! reasons and scopes, API-key scopes, and topic keys. Each serializes as the
//! snake_case string of API.md and is stored as that same text.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Declares an enum whose variants map one-to-one onto snake_case strings.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = UnknownWord;
            fn from_str(s: &str) -> Result<Self, UnknownWord> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownWord { kind: stringify!($name), word: s.to_owned() }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// A string that names no member of a closed set.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown {kind} {word:?}")]
pub struct UnknownWord {
    pub kind: &'static str,
    pub word: String,
}

text_enum! {
    /// Whether an unsubscribe can stop a topic's mail.
    Category { Promotional = "promotional", Transactional = "transactional" }
}

text_enum! {
    /// A contact's explicit status on one topic; no status means the topic's default.
    Status { Subscribed = "subscribed", Unsubscribed = "unsubscribed", Pending = "pending" }
}

text_enum! {
    /// Who or what made a change; recorded on every event.
    Source {
        OneClick = "one_click",
        Page = "page",
        Api = "api",
        Import = "import",
        Feedback = "feedback",
        Admin = "admin",
        Confirmation = "confirmation",
        Retention = "retention",
        Mailto = "mailto",
        Console = "console",
    }
}

impl Source {
    /// Changes the recipient made themselves. An unsubscribe from one of these may only
    /// be reversed by the recipient, or by an operator who records how consent was
    /// given again.
    pub fn is_recipients_choice(self) -> bool {
        matches!(self, Source::OneClick | Source::Page | Source::Feedback | Source::Mailto)
    }
}

text_enum! {
    /// Why an address is suppressed.
    Reason {
        HardBounce = "hard_bounce",
        SoftBounce = "soft_bounce",
        Complaint = "complaint",
        Unsubscribe = "unsubscribe",
        Manual = "manual",
        Erasure = "erasure",
    }
}

impl Reason {
    /// The scope a suppression takes when its writer names none (DESIGN.md).
    pub fn default_scope(self) -> Scope {
        match self {
            Reason::Complaint | Reason::Unsubscribe => Scope::Promotional,
            Reason::HardBounce | Reason::SoftBounce | Reason::Manual | Reason::Erasure => Scope::All,
        }
    }
}

text_enum! {
    /// Which mail a suppression blocks.
    Scope { All = "all", Promotional = "promotional" }
}

text_enum! {
    /// What an API key may do. `admin` implies every other scope.
    KeyScope { Check = "check", Suppressions = "suppressions", Contacts = "contacts", Admin = "admin" }
}

text_enum! {
    /// What an event in the ledger records.
    EventType {
        ContactCreated = "contact_created",
        ContactUpdated = "contact_updated",
        ContactErased = "contact_erased",
        SubscriptionChanged = "subscription_changed",
        UnsubscribedAllChanged = "unsubscribed_all_changed",
        SuppressionAdded = "suppression_added",
        SuppressionRemoved = "suppression_removed",
        TopicChanged = "topic_changed",
        PauseChanged = "pause_changed",
        UnsubscribeReason = "unsubscribe_reason",
    }
}

text_enum! {
    /// What a console operator may do: `viewer` reads; `editor` also changes topics,
    /// contacts and suppressions; `admin` also API keys, webhooks, operators and erasure.
    Role { Viewer = "viewer", Editor = "editor", Admin = "admin" }
}

text_enum! {
    /// Why a recipient left, as they answered the question after an unsubscribe.
    UnsubscribeReason {
        TooFrequent = "too_frequent",
        NotRelevant = "not_relevant",
        NeverSignedUp = "never_signed_up",
        Other = "other",
    }
}

text_enum! {
    /// What a count of the daily rollup counts (`daily_counts.kind`); its label is the
    /// change's source or the suppression's or answer's reason.
    CountKind {
        Subscribe = "subscribe",
        Unsubscribe = "unsubscribe",
        Suppression = "suppression",
        SuppressionLifted = "suppression_lifted",
        UnsubscribeReason = "unsubscribe_reason",
        ContactCreated = "contact_created",
        ContactErased = "contact_erased",
    }
}

text_enum! {
    /// Whether a webhook is delivered to: `disabled` by an operator, or after its
    /// deliveries failed for the whole retry period.
    WebhookStatus { Enabled = "enabled", Disabled = "disabled" }
}

text_enum! {
    /// A mail provider whose bounce, complaint and unsubscribe notifications are read
    /// (`generic`: the provider-neutral form). Recorded as `feedback:<provider>`.
    Provider { Ses = "ses", Sendgrid = "sendgrid", Postmark = "postmark", Mailgun = "mailgun", Generic = "generic" }
}

impl Provider {
    /// Providers whose groups of mail can be mapped to topics (`PREFCENTER_FEEDBACK_TOPICS`).
    pub fn has_groups(self) -> bool {
        matches!(self, Provider::Sendgrid | Provider::Postmark | Provider::Mailgun)
    }
}

/// A contact's id: a UUID, shown and stored in its hyphenated form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContactId(uuid::Uuid);

impl ContactId {
    pub fn new() -> Self {
        Self(uuid::Uuid::new_v4())
    }

    pub fn from_uuid(id: uuid::Uuid) -> Self {
        Self(id)
    }

    pub fn uuid(self) -> uuid::Uuid {
        self.0
    }
}

impl Default for ContactId {
    fn default() -> Self {
        Self::new()
    }
}

impl FromStr for ContactId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, uuid::Error> {
        uuid::Uuid::parse_str(s).map(Self)
    }
}

impl fmt::Display for ContactId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl Serialize for ContactId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A topic's key: a slug `[a-z0-9][a-z0-9._-]{0,63}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, ToSchema)]
#[schema(value_type = String, pattern = "^[a-z0-9][a-z0-9._-]{0,63}$")]
pub struct TopicKey(String);

impl TopicKey {
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let mut chars = input.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let rest_ok =
            chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
        if first_ok && rest_ok && input.len() <= 64 {
            Ok(Self(input.to_owned()))
        } else {
            Err("a topic key is 1 to 64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit")
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// For reading back a key that was validated before it was stored.
    pub fn from_stored(stored: String) -> Self {
        Self(stored)
    }
}

impl fmt::Display for TopicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for TopicKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        TopicKey::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>().unwrap(), *s);
            assert_eq!(serde_json::to_string(s).unwrap(), format!("\"{}\"", s.as_str()));
        }
        for s in EventType::ALL {
            assert_eq!(s.as_str().parse::<EventType>().unwrap(), *s);
        }
        assert!("Subscribed".parse::<Status>().is_err());
    }

    #[test]
    fn topic_keys() {
        for good in ["newsletter", "0", "a.b_c-d", &"a".repeat(64)] {
            assert!(TopicKey::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "News", "-a", ".a", "a b", "é", &"a".repeat(65)] {
            assert!(TopicKey::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn default_scopes_follow_the_design() {
        assert_eq!(Reason::HardBounce.default_scope(), Scope::All);
        assert_eq!(Reason::Erasure.default_scope(), Scope::All);
        assert_eq!(Reason::Complaint.default_scope(), Scope::Promotional);
        assert_eq!(Reason::Manual.default_scope(), Scope::All);
    }
}
