//! Postmark's webhooks: bounces (`RecordType` "Bounce", with a `Type` such as
//! "HardBounce" or "SoftBounce"), spam complaints ("SpamComplaint") and subscription
//! changes ("SubscriptionChange"). Postmark signs nothing; its webhook URL carries
//! the API key as basic-auth credentials.

use chrono::NaiveDateTime;
use serde::Deserialize;

use super::{detail, from_rfc3339, Entry, Kind, Notice, Refusal};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Record {
    record_type: String,
    #[serde(rename = "ID")]
    id: Option<serde_json::Value>,
    #[serde(rename = "Type")]
    bounce_type: Option<String>,
    email: Option<String>,
    /// A subscription change names the address here.
    recipient: Option<String>,
    #[serde(rename = "MessageID")]
    message_id: Option<String>,
    message_stream: Option<String>,
    description: Option<String>,
    details: Option<String>,
    bounced_at: Option<String>,
    changed_at: Option<String>,
    suppress_sending: Option<bool>,
    suppression_reason: Option<String>,
}

/// One webhook (Postmark sends one record a request), or an array of them.
pub fn read(body: &[u8], now: NaiveDateTime) -> Result<Vec<Entry>, Refusal> {
    super::one_or_many(body, |record| entry(record, now))
}

fn entry(record: Record, now: NaiveDateTime) -> Entry {
    let kind = match (record.record_type.as_str(), record.bounce_type.as_deref()) {
        ("Bounce", Some("HardBounce" | "BadEmailAddress")) => Kind::HardBounce,
        ("Bounce", Some("SoftBounce" | "Transient" | "DnsError" | "Blocked")) => Kind::SoftBounce,
        ("Bounce", Some("SpamComplaint")) | ("SpamComplaint", _) => Kind::Complaint,
        ("Bounce", Some("Unsubscribe")) => Kind::Unsubscribe,
        ("SubscriptionChange", _) => match (record.suppress_sending, record.suppression_reason.as_deref()) {
            (Some(true), Some("HardBounce")) => Kind::HardBounce,
            (Some(true), Some("SpamComplaint")) => Kind::Complaint,
            (Some(true), _) => Kind::Unsubscribe,
            // A reactivation: only the recipient, with evidence, resubscribes here.
            _ => return Entry::Ignored,
        },
        // Deliveries, opens, clicks, auto-responders, other bounce types.
        _ => return Entry::Ignored,
    };
    let Some(email) = record.email.as_deref().or(record.recipient.as_deref()) else {
        return Entry::Unusable("Email: missing".into());
    };
    let at = record.bounced_at.as_deref().or(record.changed_at.as_deref()).and_then(from_rfc3339);
    let id = match &record.id {
        Some(serde_json::Value::Number(n)) => Some(format!("{}/{n}", record.record_type)),
        Some(serde_json::Value::String(s)) => Some(format!("{}/{s}", record.record_type)),
        // A subscription change has no id: its message, address and time make one.
        _ => record
            .message_id
            .as_ref()
            .zip(record.changed_at.as_ref())
            .map(|(m, t)| format!("{m}/{email}/{t}")),
    };
    Entry::Notice(Notice {
        id,
        group: (kind == Kind::Unsubscribe).then(|| record.message_stream.clone()).flatten(),
        message_id: record.message_id.clone(),
        detail: detail([
            record.bounce_type.as_deref().or(Some(record.record_type.as_str())),
            record.suppression_reason.as_deref(),
            record.description.as_deref(),
            record.details.as_deref(),
        ]),
        ..Notice::new(kind, email, at.unwrap_or(now))
    })
}
