//! Mailgun's webhooks: `{"signature": {"timestamp", "token", "signature"},
//! "event-data": {...}}`. The signature is the hex HMAC-SHA256 of timestamp and token
//! under the account's webhook signing key.

use chrono::NaiveDateTime;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use super::{detail, from_unix, Entry, Kind, Notice, Refusal};

/// The webhook signing key.
#[derive(Clone)]
pub struct MailgunKey(Vec<u8>);

impl MailgunKey {
    pub fn new(key: &str) -> Self {
        Self(key.trim().as_bytes().to_vec())
    }

    fn verify(&self, signature: Option<&Signature>) -> Result<(), Refusal> {
        let Some(s) = signature else {
            return Err(Refusal::Signature("the webhook is not signed (no \"signature\")".into()));
        };
        self.verify_fields(&s.timestamp, &s.token, &s.signature)
    }

    /// Checks Mailgun's signature as its routes send it too (`timestamp`, `token` and
    /// `signature` as form fields).
    pub fn verify_fields(&self, timestamp: &str, token: &str, signature: &str) -> Result<(), Refusal> {
        let refuse = |why: &str| Err(Refusal::Signature(why.to_owned()));
        let Ok(expected) = hex::decode(signature) else { return refuse("the signature is not hex") };
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(timestamp.as_bytes());
        mac.update(token.as_bytes());
        match mac.verify_slice(&expected) {
            Ok(()) => Ok(()),
            Err(_) => refuse("the signature does not match the configured Mailgun signing key"),
        }
    }
}

#[derive(Debug, Deserialize)]
struct Webhook {
    signature: Option<Signature>,
    #[serde(rename = "event-data")]
    event: Event,
}

#[derive(Debug, Deserialize)]
struct Signature {
    timestamp: String,
    token: String,
    signature: String,
}

#[derive(Debug, Deserialize)]
struct Event {
    event: String,
    id: Option<String>,
    timestamp: Option<f64>,
    recipient: Option<String>,
    severity: Option<String>,
    reason: Option<String>,
    #[serde(rename = "delivery-status")]
    delivery_status: Option<DeliveryStatus>,
    message: Option<Message>,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct DeliveryStatus {
    code: Option<serde_json::Value>,
    message: Option<String>,
    description: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Message {
    headers: Option<Headers>,
}

#[derive(Debug, Deserialize)]
struct Headers {
    #[serde(rename = "message-id")]
    message_id: Option<String>,
}

/// Reads one webhook, checking its signature when a key is configured.
pub fn read(body: &[u8], key: Option<&MailgunKey>, now: NaiveDateTime) -> Result<Vec<Entry>, Refusal> {
    let webhook: Webhook = super::parse(body)?;
    if let Some(key) = key {
        key.verify(webhook.signature.as_ref())?;
    }
    let event = webhook.event;
    let kind = match (event.event.as_str(), event.severity.as_deref()) {
        ("failed", Some("permanent")) => Kind::HardBounce,
        ("failed", _) => Kind::SoftBounce,
        ("complained", _) => Kind::Complaint,
        ("unsubscribed", _) => Kind::Unsubscribe,
        _ => return Ok(vec![Entry::Ignored]),
    };
    let Some(recipient) = event.recipient.as_deref() else {
        return Ok(vec![Entry::Unusable("event-data.recipient: missing".into())]);
    };
    let status = event.delivery_status.as_ref();
    let code = status.and_then(|s| s.code.as_ref()).map(|c| c.to_string());
    Ok(vec![Entry::Notice(Notice {
        id: event.id.clone(),
        group: (kind == Kind::Unsubscribe).then(|| event.tags.first().cloned()).flatten(),
        message_id: event.message.and_then(|m| m.headers).and_then(|h| h.message_id),
        detail: detail([
            event.reason.as_deref(),
            code.as_deref(),
            status.and_then(|s| s.description.as_deref()),
            status.and_then(|s| s.message.as_deref()),
        ]),
        ..Notice::new(kind, recipient, event.timestamp.and_then(from_unix).unwrap_or(now))
    })])
}
