//! What the contacts' routes take and give: the bodies of a write, a correction and
//! a status, with the checks serde cannot make, and the views of a contact and of its
//! events.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::text;
use crate::domain::{ContactId, EventType, Locale, Provider, Scope, Source, Status, TopicKey};
use crate::error::Error;
use crate::service::utc;
use crate::store::events::EventRow;

/// What the ledger records of the client behind a recipient's own change.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    pub client: Option<String>,
    pub user_agent: Option<&'static str>,
}

/// How consent was given again, for a write that reverses a recipient's unsubscribe
/// or an erasure.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resubscribe {
    /// How consent was given, e.g. "signed up again at checkout, form v3".
    #[serde(deserialize_with = "text::line")]
    #[schema(
        min_length = 1,
        max_length = 1000,
        pattern = "\\S",
        example = "signed up again at checkout, form v3"
    )]
    pub consent: String,
    /// The legal basis, when the operator records one (e.g. "consent").
    #[serde(default, deserialize_with = "text::optional_line")]
    pub legal_basis: Option<String>,
}

/// Deserializes a field that may be absent (keep), `null` (clear) or a value (set).
fn present<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Deserializes a time that may be absent (keep), `null` (clear) or a time (set).
pub(crate) fn present_time<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<DateTime<Utc>>>, D::Error> {
    crate::domain::time::optional(d).map(Some)
}

/// The body of `PUT /v1/contacts/{contact}`. Fields left out keep their values;
/// statuses not named keep theirs.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactWrite {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, pattern = "^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$", max_length = 35, example = "fr")]
    pub locale: Option<Option<Locale>>,
    #[serde(default, deserialize_with = "text::present_identifier")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 255, pattern = "\\S", example = "user-42")]
    pub external_id: Option<Option<String>>,
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, Status>)]
    pub subscriptions: BTreeMap<TopicKey, Status>,
    pub unsubscribed_all: Option<bool>,
    pub resubscribe: Option<Resubscribe>,
    /// Who made the change; `api` when left out.
    pub source: Option<Source>,
    #[serde(default, deserialize_with = "text::optional_identifier")]
    #[schema(min_length = 1, max_length = 256)]
    pub message_id: Option<String>,
    /// Pauses promotional mail until then (at most 365 days ahead); `null` resumes it
    /// now. Checks answer `paused` until that time, then mail resumes by itself.
    #[serde(default, deserialize_with = "present_time")]
    #[schema(value_type = Option<DateTime<Utc>>, example = "2027-03-01T00:00:00Z")]
    pub paused_until: Option<Option<DateTime<Utc>>>,
    /// Filled by the recipients' routes, never from a request body.
    #[serde(skip)]
    pub evidence: Evidence,
    /// Store the contact but leave an erasure suppression in place: a sign-up asks to
    /// be mailed again, only its confirmation may lift the erasure.
    #[serde(skip)]
    pub keep_erasure: bool,
    /// The mail provider that reported the change (`source` is then `feedback`): its
    /// events' source reads `feedback:<provider>`, with the provider's text as detail.
    #[serde(skip)]
    pub reported_by: Option<(Provider, Option<String>)>,
}

/// The body of `PATCH /v1/contacts/{contact}`: a correction.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactPatch {
    /// A new address; the contact keeps its id and history.
    #[schema(format = Email, max_length = 254)]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, pattern = "^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$", max_length = 35, example = "fr")]
    pub locale: Option<Option<Locale>>,
    #[serde(default, deserialize_with = "text::present_identifier")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 255, pattern = "\\S")]
    pub external_id: Option<Option<String>>,
}

/// The body of `PUT /v1/contacts/{contact}/subscriptions/{topic}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusWrite {
    pub status: Status,
    pub resubscribe: Option<Resubscribe>,
    pub source: Option<Source>,
    #[serde(default, deserialize_with = "text::optional_identifier")]
    #[schema(min_length = 1, max_length = 256)]
    pub message_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContactView {
    #[schema(value_type = String)]
    pub id: ContactId,
    /// `null` for a contact known only by its address hash (one who unsubscribed
    /// through a link before their address was stored here).
    pub email: Option<String>,
    pub locale: Option<String>,
    pub external_id: Option<String>,
    pub unsubscribed_all: bool,
    /// Promotional mail is paused until then; `null` when it is not paused.
    pub paused_until: Option<DateTime<Utc>>,
    /// Explicit statuses only; a topic not listed follows its default.
    #[schema(value_type = BTreeMap<String, Status>)]
    pub subscriptions: BTreeMap<String, Status>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One entry of the ledger, as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    pub seq: i64,
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    pub kind: EventType,
    pub occurred_at: DateTime<Utc>,
    #[schema(value_type = Option<String>)]
    pub contact_id: Option<ContactId>,
    pub topic: Option<String>,
    #[schema(value_type = Option<String>)]
    pub old_status: Option<Status>,
    #[schema(value_type = Option<String>)]
    pub status: Option<Status>,
    /// A suppression's reason; on an `unsubscribe_reason` event, the recipient's
    /// answer (its comment is `detail`).
    pub reason: Option<String>,
    #[schema(value_type = Option<String>)]
    pub scope: Option<Scope>,
    /// When a suppression expires; on a `pause_changed` event, when the pause ends.
    pub expires_at: Option<DateTime<Utc>>,
    pub source: String,
    pub message_id: Option<String>,
    /// The pseudonymized client address (never the address itself).
    pub client: Option<String>,
    /// The user agent's family, e.g. "Chrome".
    pub user_agent: Option<String>,
    pub consent: Option<String>,
    pub legal_basis: Option<String>,
    pub detail: Option<String>,
    /// The console operator's address, on a change made in the console.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
}

impl From<EventRow> for EventView {
    fn from(row: EventRow) -> Self {
        Self {
            seq: row.seq,
            kind: row.kind,
            occurred_at: utc(row.occurred_at),
            contact_id: row.contact_id,
            topic: row.topic_key,
            old_status: row.old_status,
            status: row.new_status,
            reason: row.reason.map(|r| r.to_string()).or(row.unsubscribe_reason.map(|r| r.to_string())),
            scope: row.scope,
            expires_at: row.expires_at.map(utc),
            source: row.source,
            message_id: row.message_id,
            client: row.client,
            user_agent: row.user_agent,
            consent: row.consent,
            legal_basis: row.legal_basis,
            detail: row.detail,
            operator: row.operator,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Only events after this sequence number.
    pub after: Option<i64>,
    /// At most this many (default 100, at most 1,000).
    #[param(minimum = 1, maximum = 1000, example = 100)]
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    pub events: Vec<EventView>,
    /// The `after` for the next page; `null` when this page was the last.
    pub next: Option<i64>,
}

pub(super) fn check_external_id(value: &Option<Option<String>>) -> Result<(), Error> {
    if let Some(Some(id)) = value {
        if id.trim().is_empty() || id.chars().count() > 255 {
            return Err(Error::invalid("external_id", "must be 1 to 255 characters"));
        }
    }
    Ok(())
}

fn check_resubscribe(resubscribe: &Option<Resubscribe>) -> Result<(), Error> {
    if let Some(r) = resubscribe {
        if r.consent.trim().is_empty() || r.consent.chars().count() > 1000 {
            return Err(Error::invalid(
                "resubscribe.consent",
                "must say how consent was given (1 to 1000 characters)",
            ));
        }
    }
    Ok(())
}

pub(crate) fn validate_write(write: &ContactWrite) -> Result<(), Error> {
    // Only the console's own requests write as the console: the ledger's audit of
    // operators must not be forged through the API.
    if write.source == Some(Source::Console) && crate::service::operator().is_none() {
        return Err(Error::invalid("source", "\"console\" is the operators' console's own source"));
    }
    check_external_id(&write.external_id)?;
    check_resubscribe(&write.resubscribe)?;
    crate::service::check_message_id(&write.message_id)
}
